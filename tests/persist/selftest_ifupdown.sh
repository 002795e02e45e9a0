#!/usr/bin/env bash
# Prove that validate_ifupdown.sh can fail: run it on copies of the machine's ifupdown configuration, each broken in
# one way, and require a rejection of every copy and an acceptance of the unbroken one.
#
#   tests/persist/selftest_ifupdown.sh BRIDGE PORT
#
# The copies live in a temporary directory (the main file's `source`/`source-directory` lines are pointed there);
# the machine's own files are only read. Breakages: an option outside any stanza ("misplaced option", which ifquery
# reports with rc 0), a typo in a bridge-utils key, a static stanza without its address, a stanza for another bridge
# port, and an unknown method.
set -euo pipefail

[[ $# -eq 2 ]] || { sed -n '5p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2; exit 2; }
BRIDGE="$1" PORT="$2"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STANZA="/etc/network/interfaces.d/kvmnet-$BRIDGE"
[[ -f "$STANZA" ]] || { echo "selftest_ifupdown: $STANZA does not exist" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# copy BREAK_SED: the main file and our stanza into $work/CASE/, our stanza edited by sed BREAK_SED
copy() {
    local dir="$work/$1"
    mkdir -p "$dir/interfaces.d"
    sed -e "s|/etc/network/interfaces.d|$dir/interfaces.d|g" /etc/network/interfaces >"$dir/interfaces"
    sed -e "$2" "$STANZA" >"$dir/interfaces.d/kvmnet-$BRIDGE"
    printf '%s\n' "$dir/interfaces"
}

failed=0
if "$HERE/validate_ifupdown.sh" -i "$(copy unbroken '')" "$BRIDGE" "$PORT" >"$work/out" 2>&1; then
    echo "ok: the unbroken copy is accepted"
else
    echo "FAIL: the unbroken copy is rejected:"; cat "$work/out"; failed=1
fi
while IFS='|' read -r name edit; do
    if "$HERE/validate_ifupdown.sh" -i "$(copy "$name" "$edit")" "$BRIDGE" "$PORT" >"$work/out" 2>&1; then
        echo "FAIL: $name: accepted although broken"; cat "$work/out"; failed=1
    else
        echo "ok: $name: rejected ($(grep -m1 '^FAIL' "$work/out"))"
    fi
done <<EDITS
misplaced-option|1i bridge_stp off
typo-in-a-key|s/bridge_stp /bridge_stpp /
static-without-address|s/inet manual$/inet static/
another-port|s/bridge_ports $PORT/bridge_ports $PORT-x/
unknown-method|s/^iface $BRIDGE inet manual/iface $BRIDGE inet bogus/
EDITS
exit "$failed"
