#!/usr/bin/env bash
# The modules' real-kernel cases that the CI kernel cannot run (issue 12), run INSIDE the Wi-Fi laptop VM, whose
# Debian kernel has bridge VLAN filtering, 802.1Q, bonding, dummy devices and Wi-Fi (mac80211_hwsim).
#
#   tests/wifi_vm/kernel.sh [STATE_DIR]     (root, from anywhere; default STATE_DIR build/wifi-vm-kernel)
#
# 1. A private copy of the collection (scripts/collection-tree.sh build/wifi-vm-kernel-collection: the shared copy
#    is replaced whenever lint or the integration tests run).
# 2. tests/wifi_vm/vm.sh start STATE_DIR (the networkmanager variant: image built or reused, LAN, QEMU TCG, SSH),
#    then vm.sh wifi: wlan0 associated with the default route via the access point (timed).
# 3. The copy's tests/wifi_vm/kernel_cases.yml (.venv/bin/ansible-playbook; host wifi-laptop over
#    ssh -F STATE_DIR/ssh_config; the guest's /usr/bin/python3 with Debian's pyroute2; the integration targets as
#    roles, so the cases reuse their task files): linux_bridge vlan_filtering, bridge_port VLANs, a bond member
#    refused, a Wi-Fi station refused (sysfs, namespace by name, namespace by path: EOPNOTSUPP), wireless_4addr
#    against a wds_sta=1 access point with real traffic, an 802.1Q and a dummy device as ports, host_interfaces_info
#    on all of them. Everything in guest namespaces (kvmnet-kc-*), except the station refusal in the guest's root
#    namespace, which changes nothing there. Two ansible-playbook lanes at once (the radio groups in the same
#    one): under TCG a task costs ~2 s of guest CPU, and the guest has two vCPUs.
# 4. vm.sh stop (also on failure or a signal), then the root network namespace guard (scripts/root-netns-guard.sh:
#    nothing here may touch this machine's).
# Log: build/logs/wifi-vm-kernel.log (both lanes' output, one after the other). Prints a summary: each case that passed in the VM
# (the playbook's `KVMNET-CASE: <name>` lines), each failure (`KVMNET-CASE-FAILED: ...`), the skips
# (`KVMNET-SKIP: ...`, scripts/skips.sh), the cases that skip by design on this kernel (`KVMNET-BY-DESIGN: ...`),
# timings (the stage, boot to SSH, to Wi-Fi, the cases, each group).
# Exit status: 0 if the playbook passed, at least one case ran and none failed; 1 otherwise.
set -euo pipefail

# shellcheck source=tests/wifi_vm/lib.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT="$WIFI_VM_ROOT"
STATE="$(realpath -m "${1:-$ROOT/build/wifi-vm-kernel}")"
COLLECTION_ROOT="$ROOT/build/wifi-vm-kernel-collection"
LOG="$ROOT/build/logs/wifi-vm-kernel.log"
PLAYBOOK_BIN="$ROOT/.venv/bin/ansible-playbook"
GUARD_FILE="$ROOT/build/root-netns.wifi-vm-kernel.before.json"
log() { printf '[wifi-vm kernel] %s\n' "$*" >&2; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
usage() { sed -n '5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

(($# <= 1)) || usage
[[ $(id -u) -eq 0 ]] || { log "needs root"; exit 1; }
[[ -x "$PLAYBOOK_BIN" ]] || { log ".venv has no ansible-playbook: run scripts/bootstrap.sh"; exit 1; }
cd "$ROOT"
mkdir -p build/logs "$STATE"
stage_start=$EPOCHREALTIME

# --- 1. the collection copy -------------------------------------------------------------------------------------
scripts/collection-tree.sh "$COLLECTION_ROOT" >/dev/null
COPY="$COLLECTION_ROOT/ansible_collections/kvmnet/bridge"
[[ -f "$COPY/galaxy.yml" && -f "$COPY/tests/wifi_vm/kernel_cases.yml" ]] ||
    { log "the collection copy in $COLLECTION_ROOT is incomplete"; exit 1; }

# --- 2. the VM ----------------------------------------------------------------------------------------------------
scripts/root-netns-guard.sh snapshot "$GUARD_FILE"
pids=()  # the lanes' ansible-playbook processes (step 3)
# runs from the EXIT trap, which shellcheck cannot follow (SC2317: "unreachable")
# shellcheck disable=SC2317
finish() {
    local rc=$? pid
    trap - EXIT INT TERM HUP
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    "$WIFI_VM_HERE/vm.sh" stop "$STATE" || rc=1
    scripts/root-netns-guard.sh check "$GUARD_FILE" || rc=1
    exit "$rc"
}
trap finish EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM
trap 'log "hangup"; exit 129' HUP

start=$EPOCHREALTIME
KVMNET_WIFI_VM_VARIANT=networkmanager "$WIFI_VM_HERE/vm.sh" start "$STATE"
boot_to_ssh="$(elapsed "$start")"
"$WIFI_VM_HERE/vm.sh" wifi "$STATE" 300 >/dev/null
boot_to_wifi="$(elapsed "$start")"
log "VM up: SSH after $boot_to_ssh s, wlan0's default route after $boot_to_wifi s"

# --- 3. the cases -------------------------------------------------------------------------------------------------
cat >"$STATE/inventory.yml" <<EOF
# tests/wifi_vm/kernel.sh: the Wi-Fi laptop VM of $STATE
all:
  hosts:
    wifi-laptop:
      ansible_ssh_common_args: -F $STATE/ssh_config
      ansible_python_interpreter: /usr/bin/python3
EOF
# Two lanes at once, one ansible-playbook each: a task costs ~2 s of the guest's CPU under TCG (Python compiles
# ansible's module_utils from the AnsiballZ zip every time), so the guest's two vCPUs halve the wall time. The
# groups that use the spare radios share them, so they run in one lane, in order; the others balance the lanes
# (measured in a two-lane run: vlan_filtering 79 s, bond_member 16 s; wireless_station 59 s, wireless_4addr
# 88 s, vlan_dummy 58 s; port_vlans alone 79 s).
LANES=('["vlan_filtering", "port_vlans", "bond_member"]' '["wireless_station", "wireless_4addr", "vlan_dummy"]')
run_lane() {  # run_lane N: the playbook with lane N's groups, into $LOG.laneN
    env ANSIBLE_COLLECTIONS_PATH="$COLLECTION_ROOT" ANSIBLE_ROLES_PATH="$COPY/tests/integration/targets" \
        ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_HOST_KEY_CHECKING=0 ANSIBLE_RETRY_FILES_ENABLED=0 \
        ANSIBLE_PIPELINING=1 PYTHONDONTWRITEBYTECODE=1 \
        "$PLAYBOOK_BIN" -i "$STATE/inventory.yml" -e "{\"kernel_case_groups\": ${LANES[$1]}}" \
        "$COPY/tests/wifi_vm/kernel_cases.yml" >"$LOG.lane$1" 2>&1
}
start=$EPOCHREALTIME
for lane in "${!LANES[@]}"; do
    run_lane "$lane" &
    pids+=("$!")
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
pids=()
playbook="$(elapsed "$start")"
for lane in "${!LANES[@]}"; do
    printf '=== lane %s: %s\n' "$lane" "${LANES[$lane]}"
    cat "$LOG.lane$lane"
    rm -f "$LOG.lane$lane"
done >"$LOG"

# --- summary ------------------------------------------------------------------------------------------------------
# marked lines of debug tasks (`"msg": "MARKER: text"`), not the task headers (ansible prints the name of a task
# before `when:` skips it); scripts/skips.sh applies the same rule to KVMNET-SKIP
marked() {
    sed -n -e '/^TASK \[/d' -e "s/.*\"$1: \(.*\)\"[,]\{0,1\}[[:space:]]*\$/\1/p" "$LOG" | sed 's/\\"/"/g'
}
mapfile -t cases < <(marked KVMNET-CASE)
mapfile -t failures < <(marked KVMNET-CASE-FAILED)
mapfile -t by_design < <(marked KVMNET-BY-DESIGN)
mapfile -t times < <(marked KVMNET-TIME)
mapfile -t skips < <(scripts/skips.sh "$LOG")
printf '\n=== wifi-vm-kernel: the modules on the VM'"'"'s Debian kernel (%s) ===\n' \
    "$(grep -o 'KVMNET-KERNEL: [^"]*' "$LOG" | head -n 1 | cut -d' ' -f2-)"
printf 'cases run in the VM (%d passed):\n' "${#cases[@]}"
printf '    %s\n' "${cases[@]}"
if ((${#failures[@]})); then printf 'FAILED (%d):\n' "${#failures[@]}"; printf '    %.320s\n' "${failures[@]}"; fi
printf 'skipped (KVMNET-SKIP, %d):\n' "${#skips[@]}"
((${#skips[@]} == 0)) || printf '    %s\n' "${skips[@]}"
if ((${#by_design[@]})); then printf 'skipped by design on this kernel:\n'; printf '    %s\n' "${by_design[@]}"; fi
# the stage so far (the collection copy, the VM's start, the cases; not the VM's stop)
printf 'timings (s): stage %s, boot to SSH %s, to Wi-Fi %s, cases %s (two lanes at once), per group:\n' \
    "$(elapsed "$stage_start")" "$boot_to_ssh" "$boot_to_wifi" "$playbook"
((${#times[@]} == 0)) || printf '    %s\n' "${times[@]}"
printf 'log: %s\n' "${LOG#"$ROOT/"}"
if ((rc != 0)); then
    log "the playbook failed (rc $rc); its last lines:"
    tail -n 25 "$LOG" >&2
fi
if ((${#cases[@]} == 0)); then log "no case ran"; rc=1; fi
if ((${#failures[@]})); then rc=1; fi
if ((rc == 0)); then log "OK: ${#cases[@]} cases passed in the VM"; else log "FAILED"; rc=1; fi
exit "$rc"
