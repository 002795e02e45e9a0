#!/usr/bin/env bash
# Validate systemd-networkd files with networkd's own parser (there is no offline validator: `systemd-analyze
# verify` rejects .netdev files), inside a namespace machine:
#
#   tests/persist/validate_networkd.sh [DIR]        DIR: default /etc/systemd/network
#   tests/persist/validate_networkd.sh --self-test  prove it: DIR's kvmnet files pass, a copy with a broken
#                                                   key, a broken value, a broken section each fail
#
# A scratch systemd-networkd runs on DIR's files in a throwaway network + mount namespace (private /run, that
# namespace's own /sys, no D-Bus), so the machine's running networkd and its links are not touched:
# - every port that a kvmnet .network file names ([Match] Name= of a file with Bridge=) is created there as a
#   veth (its peer up, for a carrier), then networkd must create each kvmnet bridge (.netdev) and enslave its port
#   (systemd-networkd-wait-online -i BRIDGE:carrier -i PORT:enslaved, 10 s);
# - its log must have no line of the parser's warnings about DIR's files ("FILE:LINE: ...", "FILE: ...
#   ignoring", unknown sections): networkd skips a bad key, a bad value or a whole file with such a warning and
#   goes on, so a typo would otherwise pass silently.
# Prints "validate_networkd: OK (N files, M bridges, T s)" or the offending log lines, rc 1.
set -euo pipefail

NETWORKD=/lib/systemd/systemd-networkd
WAIT_ONLINE=/lib/systemd/systemd-networkd-wait-online
die() { printf 'validate_networkd: %s\n' "$*" >&2; exit 1; }
[[ -x "$NETWORKD" ]] || die "$NETWORKD is not installed"
[[ $(id -u) -eq 0 ]] || die "needs root (a scratch network namespace)"

self_test() {
    local dir work broken case rc
    dir=/etc/systemd/network
    compgen -G "$dir/*kvmnet*.netdev" >/dev/null || die "self-test: no kvmnet .netdev in $dir to start from"
    "$0" "$dir" || die "self-test: the files of $dir do not pass, nothing to break"
    work="$(mktemp -d /tmp/kvmnet-validate-networkd.XXXXXX)"
    trap 'rm -rf "$work"' RETURN
    for case in key value section; do
        broken="$work/$case"
        mkdir -p "$broken"
        cp -p "$dir"/*kvmnet* "$broken/"
        local netdev
        netdev="$(compgen -G "$broken/*kvmnet*.netdev" | head -n 1)"
        case "$case" in
            key) printf 'ForwardDelay=0\n' >>"$netdev" ;;              # the [Bridge] key is ForwardDelaySec=
            value) sed -i 's/^STP=.*/STP=maybe/' "$netdev" ;;
            section) printf '\n[Brigde]\nPriority=4096\n' >>"$netdev" ;;
        esac
        rc=0
        "$0" "$broken" >"$work/$case.out" 2>&1 || rc=$?
        if [[ $rc -eq 0 ]]; then
            cat "$work/$case.out" >&2
            die "self-test: a broken $case in $(basename "$netdev") passed"
        fi
        printf 'validate_networkd: self-test: broken %s refused: %s\n' "$case" \
            "$(grep -m 1 -F "$(basename "$netdev")" "$work/$case.out" || head -n 1 "$work/$case.out")"
    done
    echo "validate_networkd: self-test OK"
}

if [[ "${1:-}" == "--self-test" ]]; then
    self_test
    exit 0
fi
DIR="$(realpath "${1:-/etc/systemd/network}")"
[[ -d "$DIR" ]] || die "$DIR is not a directory"

# The scratch run, in new network and mount namespaces (the machine keeps its own).
# shellcheck disable=SC2016
SCRATCH='
set -euo pipefail
dir="$1" networkd="$2" wait_online="$3"
mount -t tmpfs -o mode=0755 kvmnet-validate-run /run
mount -t sysfs -o ro sysfs /sys
[[ "$dir" == /etc/systemd/network ]] || mount --bind "$dir" /etc/systemd/network
ip link set lo up
waits=()
for file in /etc/systemd/network/*kvmnet*.network; do
    [[ -e "$file" ]] || continue
    bridge="$(sed -n "s/^Bridge=//p" "$file" | head -n 1)"
    [[ -n "$bridge" ]] || continue
    port="$(sed -n "s/^Name=//p" "$file" | head -n 1)"
    peers=$((${peers:-0} + 1))
    ip link add "$port" type veth peer name "kvmnet-peer$peers"  # no dummy driver in every kernel
    ip link set "kvmnet-peer$peers" up
    waits+=(-i "$bridge:carrier" -i "$port:enslaved")
done
install -d -m 0755 -o systemd-network -g systemd-network /run/systemd/netif /run/systemd/netif/links \
    /run/systemd/netif/leases /run/systemd/netif/lldp
SYSTEMD_LOG_TARGET=console "$networkd" </dev/null >/run/networkd.log 2>&1 &
pid=$!
rc=0
if [[ ${#waits[@]} -gt 0 ]]; then
    "$wait_online" --timeout=10 "${waits[@]}" || rc=$?
else
    for _ in $(seq 100); do [[ ! -s /run/systemd/netif/state ]] || break; sleep 0.1; done
fi
kill "$pid"
wait "$pid" || true
cat /run/networkd.log
if [[ $rc -ne 0 ]]; then
    echo "KVMNET-WAIT-FAILED ${waits[*]}"
fi
ip -br link | sed "s/^/KVMNET-LINK /"
'
start="$(date +%s.%N)"
log="$(unshare --net --mount --propagation private -- bash -c "$SCRATCH" scratch "$DIR" "$NETWORKD" "$WAIT_ONLINE" 2>&1)" \
    || { printf '%s\n' "$log" >&2; die "the scratch networkd run failed"; }
end="$(date +%s.%N)"

files=0
for file in "$DIR"/*.netdev "$DIR"/*.network; do
    [[ -e "$file" ]] && files=$((files + 1))
done
# the parser's warnings: "/etc/systemd/network/F:LINE: ...", "/etc/systemd/network/F: ... ignoring", and the
# unknown-section note, which networkd prints with the file name too
problems="$(grep -E '^/etc/systemd/network/[^ :]+(:[0-9]+)?: ' <<<"$log" || true)"
problems+="$(grep -iE 'ignoring|unknown section' <<<"$log" | grep -F /etc/systemd/network/ | grep -vxF "$problems" || true)"
waited="$(grep '^KVMNET-WAIT-FAILED' <<<"$log" || true)"
if [[ -n "$problems" || -n "$waited" ]]; then
    printf '%s\n' "$log" | sed 's/^/  networkd: /' >&2
    [[ -z "$problems" ]] || printf 'validate_networkd: networkd warned about the files of %s:\n%s\n' "$DIR" \
        "$problems" >&2
    [[ -z "$waited" ]] || printf 'validate_networkd: bridge or port did not come up (%s)\n' "${waited#* }" >&2
    exit 1
fi
bridges="$(grep -lx 'Kind=bridge' "$DIR"/*kvmnet*.netdev 2>/dev/null | wc -l)"
printf 'validate_networkd: OK (%d files, %d bridges, %.2f s)\n' "$files" "$bridges" \
    "$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')"
