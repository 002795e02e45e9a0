#!/usr/bin/env bash
# Assert the wireless-only laptop VM's "Before" state (issue 12, step 1) over SSH, with timings: what the role starts
# from, checked live before it ever runs (the wifi_laptop scenarios' prepare step calls this).
#
#   tests/wifi_vm/before.sh STATE_DIR TIMINGS_FILE      (a VM of tests/wifi_vm/vm.sh runs for STATE_DIR)
#
# tests/wifi_vm/test_before.py (testinfra over ssh -F STATE_DIR/ssh_config), for the variant STATE_DIR/variant names
# (networkmanager or networkd): wlan0 a Wi-Fi station associated with the AP's SSID and holding the default route
# via the AP, its address leased by the AP's dnsmasq; eth0 without IP configuration (and, under NetworkManager, with
# carrier); no bridge; the management NIC without gateway; the Wi-Fi timings from the guest's journal (activation,
# association, lease), appended to TIMINGS_FILE. Prints pytest's report and the figures; exit 1 if a test failed or
# none passed.
set -euo pipefail

# shellcheck source=tests/wifi_vm/lib.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PYTEST="$WIFI_VM_ROOT/.venv/bin/pytest"
log() { printf '[wifi-vm before] %s\n' "$*" >&2; }

(($# == 2)) || { sed -n '5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
STATE="$(realpath "$1")"
TIMINGS="$2"
[[ -x "$PYTEST" ]] || { log ".venv has no pytest: run scripts/bootstrap.sh"; exit 1; }
[[ -f "$STATE/ssh_config" && -f "$STATE/variant" ]] || { log "no VM state in $STATE (tests/wifi_vm/vm.sh start)"; exit 1; }

export WIFI_VM_SSID WIFI_VM_AP_ADDR WIFI_VM_ETH0_MAC WIFI_VM_MGMT_IF WIFI_VM_MGMT_ADDR WIFI_VM_AP_NETNS
rc=0
KVMNET_WIFI_VM_VARIANT="$(cat "$STATE/variant")" KVMNET_WIFI_VM_TIMINGS="$TIMINGS" "$PYTEST" -p no:cacheprovider \
    -q -rA --hosts=ssh://wifi-laptop --ssh-config="$STATE/ssh_config" "$WIFI_VM_HERE/test_before.py" \
    >"$STATE/before.log" 2>&1 || rc=$?
cat "$STATE/before.log"
passed="$(grep -Eo '[0-9]+ passed' "$STATE/before.log" | tail -n 1 | cut -d' ' -f1)"
[[ -n "$passed" && "$passed" -gt 0 ]] || { log "no test passed (rc $rc)"; rc=1; }
if ((rc == 0)); then log "OK: $passed tests passed ($(cat "$STATE/variant"))"; else log "FAILED (rc $rc)"; fi
exit "$rc"
