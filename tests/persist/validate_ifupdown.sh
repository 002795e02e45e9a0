#!/usr/bin/env bash
# Validate the ifupdown configuration of a bridge with ifupdown's own parser, inside the machine that runs it.
#
#   tests/persist/validate_ifupdown.sh [-i INTERFACES_FILE] BRIDGE PORT
#
# ifupdown 0.8 is lenient: `ifquery` prints "FILE:LINE: misplaced option" (or "unknown method", "option with empty
# value") and still exits 0, and it accepts any option name, typos included (LAB-NOTES). So this script fails on:
#   1. anything `ifquery --list -a` prints on stderr, or its rc (the whole tree: the main file and every file it
#      sources, so a broken neighbour file that would stop `ifup -a` at boot counts too);
#   2. `ifquery BRIDGE`: rc, stderr, or no `bridge_ports: PORT` (the stanza is not the bridge it should be);
#   3. an option of BRIDGE's or PORT's stanzas that nothing reads: not an ifupdown option of the methods used here
#      and not an IF_<NAME> variable that a hook script of /etc/network/if-*.d (bridge-utils) reads;
#   4. `ifup --no-act --force BRIDGE`: rc (e.g. "missing required variable: address") or an "ifup:" error line.
# -i reads another interfaces file (ifupdown's own -i), e.g. a deliberately broken copy (selftest_ifupdown.sh).
# Prints one line per check; exit 0 when every check passed, 1 otherwise.
set -euo pipefail

usage() { sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2; exit 2; }
FILE=/etc/network/interfaces
if [[ "${1:-}" == -i ]]; then
    [[ $# -ge 2 ]] || usage
    FILE="$2"
    shift 2
fi
[[ $# -eq 2 ]] || usage
BRIDGE="$1" PORT="$2"
IFQUERY="$(command -v ifquery || true)"
IFUP="$(command -v ifup || true)"
[[ -n "$IFQUERY" && -n "$IFUP" ]] || { echo "validate_ifupdown: ifquery/ifup not installed" >&2; exit 1; }

failed=0
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok: $*"; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. the whole tree parses without a complaint
if "$IFQUERY" -i "$FILE" --list -a >"$work/list" 2>"$work/list.err" && [[ ! -s "$work/list.err" ]]; then
    ok "ifquery -i $FILE --list -a: $(tr '\n' ' ' <"$work/list")"
else
    fail "ifquery -i $FILE --list -a: $(tr '\n' ' ' <"$work/list.err")"
fi

# 2. the bridge's stanza
if "$IFQUERY" -i "$FILE" "$BRIDGE" >"$work/bridge" 2>"$work/bridge.err" && [[ ! -s "$work/bridge.err" ]] &&
    grep -qx "bridge_ports: $PORT" "$work/bridge"; then
    ok "ifquery $BRIDGE: bridge_ports: $PORT"
else
    fail "ifquery $BRIDGE: rc/stderr/bridge_ports: $(tr '\n' ' ' <"$work/bridge.err") $(grep '^bridge_ports' "$work/bridge" || echo 'no bridge_ports')"
fi
"$IFQUERY" -i "$FILE" "$PORT" >"$work/port" 2>>"$work/bridge.err" || true

# 3. every option is read by ifupdown itself or by a hook script
# ifupdown 0.8's own options of the methods this backend writes (interfaces(5): inet manual/static/dhcp,
# inet6 manual/static) and the command options every stanza takes
OWN='address netmask broadcast metric gateway pointopoint hwaddress mtu scope media hostname leasehours leasetime
vendor client accept_ra autoconf privext dad-attempts dad-interval preferred-lifetime
pre-up up post-up down pre-down post-down'
hooks=()
for dir in /etc/network/if-pre-up.d /etc/network/if-up.d /etc/network/if-down.d /etc/network/if-post-down.d; do
    for script in "$dir"/*; do
        [[ -f "$script" ]] && hooks+=("$(readlink -f "$script")")
    done
done
[[ -f /lib/bridge-utils/bridge-utils.sh ]] && hooks+=(/lib/bridge-utils/bridge-utils.sh)
unknown=()
while IFS= read -r line; do
    key="${line%%:*}"
    [[ -n "$key" ]] || continue
    if [[ " ${OWN//$'\n'/ } " == *" $key "* ]]; then
        continue
    fi
    var="IF_$(tr 'a-z-' 'A-Z_' <<<"$key")"
    if ((${#hooks[@]})) && grep -qsw -- "$var" "${hooks[@]}"; then
        continue
    fi
    unknown+=("$key")
done < <(cat "$work/bridge" "$work/port")
if ((${#unknown[@]})); then
    fail "options that neither ifupdown nor a hook script reads (typos?): ${unknown[*]}"
else
    ok "every option of $BRIDGE and $PORT is read by ifupdown or a hook (${#hooks[@]} hook scripts)"
fi

# 4. ifup would run the stanza (required options present, method known), without doing anything
if "$IFUP" -i "$FILE" --no-act --force "$BRIDGE" >"$work/noact" 2>"$work/noact.err" &&
    ! grep -q '^ifup: ' "$work/noact.err"; then
    ok "ifup --no-act --force $BRIDGE: $(cat "$work/noact" "$work/noact.err" | grep -c .) lines of commands"
else
    fail "ifup --no-act --force $BRIDGE: $(tr '\n' ' ' <"$work/noact.err")"
fi
exit "$failed"
