#!/usr/bin/env bash
# Validate the netplan configuration of a namespace machine with netplan's own parser, then the files it renders
# with the renderer's own parser. Runs inside the machine (it starts a throwaway networkd in private namespaces).
#
#   tests/persist/validate_netplan.sh [ROOT]     ROOT: where {lib,etc,run}/netplan are read (default /)
#   tests/persist/validate_netplan.sh --self-test [FILE]
#                                               the validator must refuse broken copies of FILE (default: the
#                                               /etc/netplan/60-kvmnet-*.yaml there is): an unknown key (netplan's
#                                               parser), a time only the renderer rejects (networkd's log, or libnm),
#                                               mode 0644 (netplan's warning); exit 0 when all three are refused
#
# exit 0: clean; 1: a problem (printed, with the offending output); 2: usage or a missing program.
# 1. netplan's strict offline parser: the *.yaml of ROOT/lib/netplan, ROOT/etc/netplan and ROOT/run/netplan (modes
#    kept) copied into a scratch root, `netplan generate --root-dir SCRATCH`. Any non-zero exit AND any output on
#    stderr fail (netplan 0.106 warns on stderr but exits 0: files readable by others, deprecated keys).
# 2. The rendered files, by the renderer that will load them at boot:
#    - networkd (SCRATCH/run/systemd/network/*): a throwaway systemd-networkd in a new network and mount namespace
#      (its own /run: no D-Bus, so it cannot take the machine's networkd's bus name) loads them once; every
#      `FILE:LINE: ... ignoring` or `Failed to ...` line in its log fails (networkd drops bad values silently
#      otherwise);
#    - NetworkManager (SCRATCH/run/NetworkManager/system-connections/*): tests/persist/validate_nm.py (libnm's
#      strict keyfile parsing).
#    Neither rendered set is allowed to be empty: the configuration must render for some renderer.
# Prints one line per stage and "netplan valid (N files, M rendered) in S s".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ "${1:-}" == --self-test ]]; then
    file="${2:-}"
    if [[ -z "$file" ]]; then
        for file in /etc/netplan/60-kvmnet-*.yaml; do break; done
    fi
    [[ -f "$file" ]] || { echo "validate_netplan --self-test: no file to break (${file:-none})" >&2; exit 2; }
    if ! grep -q '^ *stp: ' "$file" || ! grep -q '^ *hello-time: ' "$file"; then
        echo "validate_netplan --self-test: $file has no stp and hello-time to break" >&2
        exit 2
    fi
    # what the renderer's parser says about a time netplan passes through (networkd's log; libnm's warning)
    bad_time='ignoring: 3x'
    grep -q 'renderer: NetworkManager' "$file" && bad_time='hello-time: invalid setting'
    work="$(mktemp -d /tmp/kvmnet-netplan-selftest.XXXXXX)"
    trap 'rm -rf "$work"' EXIT
    broken=0
    # name, sed expression, mode, the refusal it must print
    while IFS='|' read -r what expr mode needle; do
        [[ "$needle" != BAD_TIME ]] || needle="$bad_time"
        rm -rf "$work/root"
        mkdir -p "$work/root/etc/netplan"
        sed -E "$expr" "$file" >"$work/root/etc/netplan/${file##*/}"
        chmod "$mode" "$work/root/etc/netplan/${file##*/}"
        if "$0" "$work/root" >"$work/out" 2>&1; then
            echo "self-test: $what: ACCEPTED (must be refused):"; cat "$work/out"; broken=1
        elif ! grep -q -- "$needle" "$work/out"; then
            echo "self-test: $what: refused without \"$needle\":"; cat "$work/out"; broken=1
        else
            echo "self-test: $what: refused ($needle)"
        fi
    done <<'CASES'
unknown key|s/^( *)stp: /\1stpp: /|0600|unknown key 'stpp'
time the renderer cannot parse|s/^( *)hello-time: .*/\1hello-time: "3x"/|0600|BAD_TIME
readable by others|s/^x//|0644|are too open
CASES
    exit "$broken"
fi
ROOT="${1:-/}"
NETWORKD=/lib/systemd/systemd-networkd
fail() { printf 'validate_netplan: %s\n' "$*"; exit 1; }
need() { command -v "$1" >/dev/null || { printf 'validate_netplan: %s is not installed\n' "$1" >&2; exit 2; }; }
need netplan
[[ -d "$ROOT" ]] || { echo "validate_netplan: ROOT $ROOT is not a directory" >&2; exit 2; }
start="$(date +%s.%N)"

SCRATCH="$(mktemp -d /tmp/kvmnet-netplan-validate.XXXXXX)"
trap 'rm -rf "$SCRATCH"' EXIT
count=0
for dir in lib/netplan etc/netplan run/netplan; do
    mkdir -p "$SCRATCH/$dir"
    for file in "$ROOT/$dir"/*.yaml; do
        [[ -e "$file" ]] || continue
        cp -p "$file" "$SCRATCH/$dir/"
        count=$((count + 1))
    done
done
[[ $count -gt 0 ]] || fail "no netplan file below $ROOT (lib/netplan, etc/netplan, run/netplan)"

# 1. netplan's parser
if ! netplan generate --root-dir "$SCRATCH" >"$SCRATCH/generate.out" 2>"$SCRATCH/generate.err"; then
    cat "$SCRATCH/generate.err"
    fail "netplan generate --root-dir refused the configuration"
fi
if [[ -s "$SCRATCH/generate.err" ]]; then
    cat "$SCRATCH/generate.err"
    fail "netplan generate warned (above): a warning is a failure here"
fi
echo "netplan generate: $count file(s) parsed, no warning"

# 2. the renderers' parsers
shopt -s nullglob
networkd_files=("$SCRATCH"/run/systemd/network/*)
nm_files=("$SCRATCH"/run/NetworkManager/system-connections/*.nmconnection)
[[ ${#networkd_files[@]} -gt 0 || ${#nm_files[@]} -gt 0 ]] || fail "netplan rendered nothing for networkd or NetworkManager"

if [[ ${#networkd_files[@]} -gt 0 ]]; then
    [[ -x "$NETWORKD" ]] || { echo "validate_netplan: $NETWORKD is not installed" >&2; exit 2; }
    # shellcheck disable=SC2016  # expanded by the inner bash
    unshare --net --mount --propagation private --fork bash -euc '
        scratch="$1" networkd="$2"
        mount -t tmpfs -o mode=0755 kvmnet-validate-run /run
        install -d -m 0755 /run/systemd /run/systemd/network
        install -d -m 0755 -o systemd-network -g systemd-network /run/systemd/netif /run/systemd/netif/links \
            /run/systemd/netif/leases /run/systemd/netif/lldp
        cp -p "$scratch"/run/systemd/network/* /run/systemd/network/
        ip link set lo up
        SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=info "$networkd" >"$scratch/networkd.log" 2>&1 &
        pid=$!
        for _ in $(seq 1 100); do
            grep -q "Enumeration completed" "$scratch/networkd.log" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    ' validate "$SCRATCH" "$NETWORKD"
    grep -q "Enumeration completed" "$SCRATCH/networkd.log" || {
        cat "$SCRATCH/networkd.log"
        fail "the throwaway systemd-networkd did not finish loading the rendered files (log above)"
    }
    if grep -E 'ignoring|Failed to|[Ii]nvalid|[Uu]nknown (key|section)' "$SCRATCH/networkd.log"; then
        fail "systemd-networkd rejected parts of the files netplan rendered (lines above)"
    fi
    echo "systemd-networkd: ${#networkd_files[@]} rendered file(s) loaded without a warning"
fi
if [[ ${#nm_files[@]} -gt 0 ]]; then
    /usr/bin/python3 "$HERE/validate_nm.py" "${nm_files[@]}" || fail "libnm rejected the keyfiles netplan rendered (above)"
    echo "NetworkManager (libnm): ${#nm_files[@]} rendered keyfile(s) clean"
fi
end="$(date +%s.%N)"
printf 'netplan valid (%d files, %d rendered) in %.2f s\n' "$count" "$(( ${#networkd_files[@]} + ${#nm_files[@]} ))" \
    "$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')"
