#!/usr/bin/env bash
# Boot the wireless-only laptop VM and assert its "Before" state over SSH (issue 12), with timings.
#
#   tests/wifi_vm/check.sh [STATE_DIR]      (root; default STATE_DIR build/wifi-vm-check)
#
# 1. tests/wifi_vm/image.sh build, twice: the first call builds (cold) or reuses the cached image, the second must
#    reuse it (warm); both timed.
# 2. tests/wifi_vm/vm.sh start: LAN, router, QEMU (TCG), wait for SSH (timed: boot to SSH).
# 3. tests/wifi_vm/test_before.py (testinfra over ssh -F STATE_DIR/ssh_config): wlan0 a Wi-Fi station associated
#    with the AP's SSID and holding the default route via the AP, its address leased by the AP's dnsmasq; eth0 with
#    carrier and no IP configuration; no bridge; the management NIC without gateway; Wi-Fi timings from the guest's
#    journal (activation, association, lease).
# 4. vm.sh stop (also on failure). Prints the figures; exit 1 if any step or test failed, or no test ran.
set -euo pipefail

# shellcheck source=tests/wifi_vm/lib.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATE="$(realpath -m "${1:-$WIFI_VM_ROOT/build/wifi-vm-check}")"
PYTEST="$WIFI_VM_ROOT/.venv/bin/pytest"
log() { printf '[wifi-vm check] %s\n' "$*" >&2; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

[[ $(id -u) -eq 0 ]] || { log "needs root"; exit 1; }
[[ -x "$PYTEST" ]] || { log ".venv has no pytest: run scripts/bootstrap.sh"; exit 1; }
mkdir -p "$STATE"
timings="$STATE/check-timings"
: >"$timings"

image_build() {  # image_build LABEL: one timed image.sh build; records LABEL built|reused SECONDS
    local start=$EPOCHREALTIME out
    out="$("$WIFI_VM_HERE/image.sh" build 2>&1 >/dev/null)" || { printf '%s\n' "$out" >&2; return 1; }
    printf '%s\n' "$out" >&2
    local how=built
    [[ "$out" != *"reused "* ]] || how=reused
    printf 'image_%s %s %s\n' "$1" "$how" "$(elapsed "$start")" >>"$timings"
}
image_build first
image_build second
grep -q '^image_second reused ' "$timings" || { log "the second image build did not reuse the cache"; exit 1; }

trap '"$WIFI_VM_HERE/vm.sh" stop "$STATE"' EXIT
"$WIFI_VM_HERE/vm.sh" start "$STATE"
cat "$STATE/timings" >>"$timings"

export WIFI_VM_SSID WIFI_VM_AP_ADDR WIFI_VM_ETH0_MAC WIFI_VM_MGMT_IF WIFI_VM_MGMT_ADDR WIFI_VM_AP_NETNS
rc=0
KVMNET_WIFI_VM_TIMINGS="$timings" "$PYTEST" -p no:cacheprovider -q -rA --hosts=ssh://wifi-laptop \
    --ssh-config="$STATE/ssh_config" "$WIFI_VM_HERE/test_before.py" >"$STATE/pytest.log" 2>&1 || rc=$?
cat "$STATE/pytest.log" >&2
passed="$(grep -Eo '[0-9]+ passed' "$STATE/pytest.log" | tail -n 1 | cut -d' ' -f1)"
[[ -n "$passed" && "$passed" -gt 0 ]] || { log "no test passed (rc $rc)"; rc=1; }
log "figures (seconds; wifi_* read from the guest's journal, *_at since the guest kernel started):"
sed 's/^/    /' "$timings" >&2
if ((rc == 0)); then log "OK: $passed tests passed"; else log "FAILED (rc $rc)"; fi
exit "$rc"
