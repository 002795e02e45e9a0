#!/usr/bin/env bash
# Smoke test of the lab harness: a libvirt/QEMU guest gets a DHCP lease through a Linux bridge, all inside a
# throwaway namespace instance; then a second NIC attached live gets a second lease.
#
#   tests/lab/smoke.sh          (root, after scripts/bootstrap.sh; ~20-40 s warm)
#   KVMNET_LAB_KEEP=1 tests/lab/smoke.sh   keep the state dir (logs, console, leases) even on success
#
# Outside the instance: builds (or reuses) the guest (tests/lab/guest.sh build/lab/guest), snapshots the root network
# namespace (scripts/root-netns-guard.sh), then runs the rest inside scripts/netns-instance.sh:
#   router.sh up (dnsmasq in a router namespace, veth eth0 <-> lan0) -> bridge kvmbr0 with eth0 enslaved (plain `ip`)
#   -> libvirtd.sh start -> virsh define + start the guest (domain-xml.sh, one NIC on kvmbr0)
#   -> wait for its lease in dnsmasq's lease file AND as a LEASE line on the guest's serial console
#   -> the tap (vnetN, from the live XML's <target dev>) is on kvmbr0 with MAC fe: + the guest MAC's last 5 bytes
#   -> attach a second NIC live, wait for its lease the same way, check its tap
#   -> link down/up of that NIC shows as LINK lines on the console; STATS lines (kvmnet.stats=2) appear
#   -> detach it live: GONE on the console, no tap left in the live XML
#   -> destroy the guest, stop libvirtd, remove the router and the bridge.
# Afterwards the root namespace must be unchanged (guard check). Prints a timing summary; exit 0 = all passed.
# shellcheck disable=SC2317  # cleanup functions run from traps
set -euo pipefail
export LAB_NAME=smoke
# shellcheck source=tests/lab/lib.sh disable=SC1091  # (followed when lib.sh is an input too, as in scripts/lint.sh)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BRIDGE=kvmbr0
DOMAIN=kvmnet-smoke
MAC1=52:54:00:77:00:10
MAC2=52:54:00:77:00:11
LEASE_TIMEOUT=90  # seconds; 5-12 s expected under TCG, more when the two cores are busy

# ------------------------------------------------------------------------------------------------------------------
# inside the instance: smoke.sh --inside STATE_DIR KERNEL INITRD
# ------------------------------------------------------------------------------------------------------------------
# tap_of MAC: the tap name of the guest NIC with MAC, from the live domain XML (<target dev='vnetN'/>)
tap_of() {
    virsh -q dumpxml "$DOMAIN" | python3 -c '
import sys, xml.etree.ElementTree as ET
mac = sys.argv[1]
for iface in ET.parse(sys.stdin).getroot().iter("interface"):
    m, t = iface.find("mac"), iface.find("target")
    if m is not None and m.get("address", "").lower() == mac and t is not None:
        print(t.get("dev"))
' "$1"
}

# wait_lease IFACE MAC: wait until dnsmasq leased an IP to MAC and the console shows "LEASE IFACE IP ROUTER MAC";
# prints the IP
wait_lease() {
    local iface="$1" mac="$2" ip="" deadline=$((SECONDS + LEASE_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ip="$("$LAB_DIR/router.sh" lease "$STATE" "$mac" 2>/dev/null)" &&
            tr -d '\r' <"$CONSOLE" | grep -qxF "LEASE $iface $ip 192.168.77.1 $mac"; then
            printf '%s\n' "$ip"
            return 0
        fi
        sleep 0.2
    done
    lab_log "no lease for $iface $mac after ${LEASE_TIMEOUT}s (lease file: '${ip}'); console:"
    tr -d '\r' <"$CONSOLE" | tail -n 30 >&2
    return 1
}

# wait_console PREFIX: wait until a console line starts with PREFIX
wait_console() {
    local prefix="$1" deadline=$((SECONDS + LEASE_TIMEOUT))
    while ((SECONDS < deadline)); do
        tr -d '\r' <"$CONSOLE" | grep -q "^${prefix}" && return 0
        sleep 0.2
    done
    lab_log "no console line '$prefix...' after ${LEASE_TIMEOUT}s; console:"
    tr -d '\r' <"$CONSOLE" | tail -n 30 >&2
    return 1
}

# check_tap MAC: the guest NIC's tap exists, is a port of the bridge and carries fe: + the guest MAC's last 5 bytes
check_tap() {
    local mac="$1" tap line
    tap="$(tap_of "$mac")"
    [[ "$tap" == vnet* ]] || lab_die "no tap in the live XML for $mac (got '$tap')"
    line="$(ip -o link show dev "$tap")"
    [[ "$line" == *" master $BRIDGE "* ]] || lab_die "$tap is not on $BRIDGE: $line"
    [[ "$line" == *"link/ether fe:${mac#*:} "* ]] || lab_die "$tap MAC is not fe:${mac#*:}: $line"
    lab_log "ok: $mac -> tap $tap on $BRIDGE with MAC fe:${mac#*:}"
}

inside() {
    STATE="$1" KERNEL="$2" INITRD="$3"
    CONSOLE="$STATE/console.log"
    lab_require_instance
    local t0 t_libvirtd t_lease t_hotplug ip1 ip2 tap2 timings="$STATE/timings"
    cleanup_inside() {
        local rc=$?
        trap - EXIT
        "$LAB_DIR/libvirtd.sh" stop "$STATE/libvirt" || rc=1
        "$LAB_DIR/router.sh" down "$STATE" || rc=1
        ip link del "$BRIDGE" 2>/dev/null || true
        exit "$rc"
    }
    trap cleanup_inside EXIT
    trap 'exit 143' TERM  # (netns-instance stops CMD with TERM): run the cleanup too
    trap 'exit 130' INT

    "$LAB_DIR/router.sh" up "$STATE" eth0 192.168.77 >/dev/null
    # the classic host: bridge kvmbr0, the wired NIC eth0 (no IP) as its port; STP off, forward delay 0 so the
    # ports forward at once
    ip link add "$BRIDGE" type bridge stp_state 0 forward_delay 0
    ip link set eth0 master "$BRIDGE"
    ip link set "$BRIDGE" up

    t0=$(lab_now)
    "$LAB_DIR/libvirtd.sh" start "$STATE/libvirt" "$LAB_ROOT/build/lab/libvirt-cache" >/dev/null
    t_libvirtd=$(lab_since "$t0")
    export LIBVIRT_DEFAULT_URI=qemu:///system

    "$LAB_DIR/domain-xml.sh" --name "$DOMAIN" --kernel "$KERNEL" --initrd "$INITRD" --console "$CONSOLE" \
        --nic "$BRIDGE,$MAC1" --append kvmnet.stats=2 >"$STATE/domain.xml"
    virsh -q define "$STATE/domain.xml" >/dev/null
    t0=$(lab_now)
    virsh -q start "$DOMAIN" >/dev/null
    ip1="$(wait_lease eth0 "$MAC1")"
    t_lease=$(lab_since "$t0")
    lab_log "ok: guest eth0 $MAC1 leased $ip1 in ${t_lease}s (lease file and console)"
    check_tap "$MAC1"

    # the tests attach NICs live: the guest must take a lease on a hot-plugged NIC too
    cat >"$STATE/nic2.xml" <<EOF
<interface type='bridge'>
  <source bridge='$BRIDGE'/>
  <mac address='$MAC2'/>
  <model type='virtio'/>
</interface>
EOF
    t0=$(lab_now)
    virsh -q attach-device "$DOMAIN" "$STATE/nic2.xml" --live >/dev/null
    ip2="$(wait_lease eth1 "$MAC2")"
    t_hotplug=$(lab_since "$t0")
    lab_log "ok: hot-plugged eth1 $MAC2 leased $ip2 in ${t_hotplug}s"
    check_tap "$MAC2"
    [[ "$ip1" != "$ip2" ]] || lab_die "both NICs got $ip1"

    # link state and counters as the guest sees them (what the kvm_guest_nic tests check): LINK and STATS lines
    t0=$(lab_now)
    virsh -q domif-setlink "$DOMAIN" "$MAC2" down >/dev/null
    wait_console "LINK eth1 down"
    virsh -q domif-setlink "$DOMAIN" "$MAC2" up >/dev/null
    wait_console "LINK eth1 up"
    wait_console "STATS eth0 "
    lab_log "ok: link down/up seen by the guest, guest counters printed ($(lab_since "$t0")s)"

    # live detach: the tap goes away and the guest reports the NIC gone
    t0=$(lab_now)
    virsh -q detach-device "$DOMAIN" "$STATE/nic2.xml" --live >/dev/null
    wait_console "GONE eth1"
    tap2="$(tap_of "$MAC2")"
    [[ -z "$tap2" ]] || lab_die "tap $tap2 of $MAC2 still in the live XML after detach"
    lab_log "ok: detached $MAC2 ($(lab_since "$t0")s)"

    virsh -q destroy "$DOMAIN" >/dev/null
    virsh -q undefine "$DOMAIN" >/dev/null
    printf 'libvirtd start + first API call: %ss\nguest start -> lease: %ss\nlive attach -> second lease: %ss\n' \
        "$t_libvirtd" "$t_lease" "$t_hotplug" >"$timings"
}

# ------------------------------------------------------------------------------------------------------------------
# outside: build the guest, guard the root namespace, run the rest in an instance
# ------------------------------------------------------------------------------------------------------------------
# report STATE: the timing summary, after the instance ended (called by lab_run)
report() {
    echo "=== lab smoke timings"
    echo "guest build (tests/lab/guest.sh): ${LAB_T_GUEST}s"
    cat "$1/timings" 2>/dev/null || true
    echo "instance total: $(lab_since "$LAB_T_START")s"
}

outside() {
    local cmd
    for cmd in libvirtd virsh qemu-system-x86_64 dnsmasq python3; do
        command -v "$cmd" >/dev/null || lab_die "$cmd missing: run scripts/bootstrap.sh"
    done
    lab_run "$LAB_DIR/smoke.sh" smoke report
}

if [[ "${1:-}" == --inside ]]; then
    [[ $# -eq 4 ]] || lab_die "usage: $0 --inside STATE_DIR KERNEL INITRD (run by $0 itself)"
    inside "$2" "$3" "$4"
else
    [[ $# -eq 0 ]] || { echo "usage: $0" >&2; exit 2; }
    outside
fi
