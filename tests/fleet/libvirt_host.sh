#!/usr/bin/env bash
# Both roles through the fleet playbook on ONE fresh host that runs libvirt, with every phase enabled: the dry run
# shows the whole plan (bridge, port, sysctl.d file, libvirt network, guest NICs) and changes nothing; the real run
# converges; the second run changes nothing.
#
#   tests/fleet/libvirt_host.sh      (root; heavy: run it under `flock /tmp/kvmnet-heavy.lock`)
#   KVMNET_LAB_KEEP=1 keeps the state dir; the dry run's output is always copied to build/fleet/dry-run-fresh-host.log
#
# Outside (tests/lab/lib.sh lab_run): the lab guest (cached), a root-netns snapshot, a namespace instance. Inside the
# instance, which is the host (connection local): a private libvirtd (tests/lab/libvirtd.sh), wl0 (10.0.0.11/24,
# default route) and eth0 (wired) cabled to two child namespaces, guest g1 running without NICs, guest g2 defined and
# shut off. The play: kvm_bridge_host (uplink eth0, persist none, netfilter fix with the sysctl file in the state dir,
# libvirt network kvmbr0) and kvm_guest_nics (g1: one virtio NIC; g2: an e1000e NIC with its link down).
# Independent reads: the namespace's links/addresses/routes (scripts/root-netns-guard.sh show), `virsh net-info`,
# `virsh domiflist`, `ip -j link`. Last line: "libvirt-host: passed" or "libvirt-host: FAILED ...".
# shellcheck disable=SC2317  # cleanup functions run from traps
set -euo pipefail
export LAB_NAME=libvirt-host
# shellcheck source=tests/lab/lib.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/../lab/lib.sh"

STATE=""
cleanup() {
    virsh destroy g1 >/dev/null 2>&1 || true
    "$LAB_DIR/libvirtd.sh" stop "$STATE/libvirt" || true
    ip netns del kvmnet-air 2>/dev/null || true
    ip netns del kvmnet-lan 2>/dev/null || true
}

FAILED=""
fail() { lab_log "FAILED: $*"; FAILED="$FAILED [$*]"; }

# recap LOG FIELD: FIELD of host kvmhost in LOG's PLAY RECAP
recap() { awk -v field="$2" '/^PLAY RECAP/ {r = 1; next} r && $1 == "kvmhost" {for (i = 3; i <= NF; i++) {split($i, kv, "="); if (kv[1] == field) print kv[2]}}' "$1"; }

playbook() {
    local log="$1" rc=0
    shift
    ANSIBLE_COLLECTIONS_PATH="$LAB_ROOT/build" ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=false \
        "$LAB_ROOT/.venv/bin/ansible-playbook" -i "$STATE/inventory.yml" "$LAB_ROOT/playbooks/kvm_bridge.yml" "$@" \
        >"$log" 2>&1 || rc=$?
    lab_log "$(basename "$log" .log): rc=$rc changed=$(recap "$log" changed)"
    return "$rc"
}

# snapshot FILE: everything the play may change, read with tools independent of the collection
snapshot() {
    {
        "$LAB_ROOT/scripts/root-netns-guard.sh" show
        echo "--- libvirt networks"; virsh net-list --all --name
        echo "--- g1 NICs"; virsh domiflist g1
        echo "--- g2 NICs"; virsh domiflist g2 --inactive
        echo "--- sysctl file"; cat "$STATE/sysctl.d/90-kvmnet-bridge-netfilter.conf" 2>&1 || true
        echo "--- bridge-nf-call"; cat /proc/sys/net/bridge/bridge-nf-call-iptables /proc/sys/net/bridge/bridge-nf-call-ip6tables
    } >"$1"
}

inside() {
    STATE="$1"
    local kernel="$2" initrd="$3" rc=0
    lab_require_instance
    trap cleanup EXIT
    export LIBVIRT_DEFAULT_URI=qemu:///system
    "$LAB_DIR/libvirtd.sh" start "$STATE/libvirt" "$LAB_ROOT/build/lab/libvirt-cache" >/dev/null
    # the host's own connection (wl0) and its wired NIC (eth0), cabled to two child namespaces
    ip netns add kvmnet-air
    ip netns add kvmnet-lan
    ip link add wl0 type veth peer name a0 netns kvmnet-air
    ip link add eth0 type veth peer name w0 netns kvmnet-lan
    ip -n kvmnet-air addr add 10.0.0.1/24 dev a0
    ip -n kvmnet-air link set a0 up
    ip -n kvmnet-lan addr add 192.168.50.1/24 dev w0
    ip -n kvmnet-lan link set w0 up
    ip addr add 10.0.0.11/24 dev wl0
    ip link set wl0 up
    ip link set eth0 up
    ip route add default via 10.0.0.1
    # guests: g1 runs (no NIC yet), g2 is defined and shut off
    for guest in g1 g2; do
        "$LAB_DIR/domain-xml.sh" --name "$guest" --kernel "$kernel" --initrd "$initrd" \
            --console "$STATE/$guest.console" >"$STATE/$guest.xml"
        virsh define "$STATE/$guest.xml" >/dev/null
    done
    virsh start g1 >/dev/null
    mkdir -p "$STATE/sysctl.d"
    cat >"$STATE/inventory.yml" <<EOF
kvm_hosts:
  hosts:
    kvmhost:
      ansible_connection: local
      ansible_python_interpreter: $LAB_ROOT/.venv/bin/python
      kvm_bridge_become: false
      kvm_bridge_host_uplink: eth0
      kvm_bridge_host_persist: none
      kvm_bridge_host_netfilter: fix
      kvm_bridge_host_netfilter_sysctl_file: $STATE/sysctl.d/90-kvmnet-bridge-netfilter.conf
      kvm_guest_nics_list:
        - {domain: g1, mac: "52:54:00:7e:00:01"}
        - {domain: g2, mac: "52:54:00:7e:00:02", model: e1000e, link_state: down}
EOF

    # 1. dry run on the fresh host (once the new links have their IPv6 link-local addresses and carrier)
    local try
    # IPv6 duplicate address detection of the new links' link-local addresses adds their local routes when it ends
    # (seconds under load): wait until no address is tentative, then until two snapshots agree
    for ((try = 0; try < 150; try++)); do
        [[ -z "$(ip -6 address show tentative)" ]] && break
        sleep 0.2
    done
    snapshot "$STATE/before.txt"
    for ((try = 0; try < 20; try++)); do
        sleep 0.5
        snapshot "$STATE/settled.txt"
        if cmp -s "$STATE/before.txt" "$STATE/settled.txt"; then break; fi
        mv "$STATE/settled.txt" "$STATE/before.txt"
    done
    playbook "$STATE/dry-run.log" --check --diff || fail "dry run rc=$?"
    snapshot "$STATE/after-check.txt"
    diff -u "$STATE/before.txt" "$STATE/after-check.txt" >&2 || fail "the dry run changed the host"
    local pattern
    for pattern in 'kvmbr0: would change: create' 'eth0: would change: enslave eth0' \
        '+net.bridge.bridge-nf-call-iptables = 0' "<bridge name=\"kvmbr0\"" 'libvirt network kvmbr0 (qemu:///system): would change' \
        '52:54:00:7e:00:01: would be attached to kvmbr0 once it exists' '-> 0 (fix, would apply)'; do
        grep -qF -- "$pattern" "$STATE/dry-run.log" || fail "the dry run does not show: $pattern"
    done
    [[ "$(recap "$STATE/dry-run.log" failed)" == 0 ]] || fail "dry run: failed tasks"

    # 2. converge
    playbook "$STATE/converge.log" || fail "converge rc=$?"
    virsh net-info kvmbr0 >"$STATE/net-info.txt" 2>&1 || fail "no libvirt network kvmbr0"
    grep -Eq '^Active: +yes' "$STATE/net-info.txt" || fail "libvirt network kvmbr0 not active"
    grep -Eq '^Autostart: +yes' "$STATE/net-info.txt" || fail "libvirt network kvmbr0 not autostarted"
    grep -Eq '^Bridge: +kvmbr0' "$STATE/net-info.txt" || fail "libvirt network not on kvmbr0"
    # (outputs are read whole before grep: `grep -q` in a pipe can end it early, and pipefail then fails the pipe)
    local tap ports g2_nics
    tap="$(virsh domiflist g1 | awk '$5 == "52:54:00:7e:00:01" && $3 == "kvmbr0" {print $1}')"
    ports="$(ip -j link show master kvmbr0)"
    g2_nics="$(virsh domiflist g2 --inactive)"
    [[ -n "$tap" ]] || fail "g1's NIC is not on kvmbr0 (virsh domiflist g1)"
    [[ -z "$tap" ]] || grep -qF "\"$tap\"" <<<"$ports" || fail "tap $tap not a port of kvmbr0"
    grep -qF '"eth0"' <<<"$ports" || fail "eth0 not a port of kvmbr0"
    grep -qF '52:54:00:7e:00:02' <<<"$g2_nics" || fail "g2's configuration has no NIC"
    grep -qF "52:54:00:7e:00:01: on kvmbr0, tap $tap" "$STATE/converge.log" || fail "the summary does not name $tap"
    [[ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables)" == 0 ]] || fail "bridge-nf-call-iptables not 0"
    grep -qF 'ok: libvirt network kvmbr0 active on kvmbr0' "$STATE/converge.log" ||
        fail "the verify phase did not read the libvirt network back"

    # 3. idempotent, every phase enabled
    playbook "$STATE/idempotent.log" || fail "idempotent rc=$?"
    [[ "$(recap "$STATE/idempotent.log" changed)" == 0 ]] || fail "second run changed something"
    grep -q 'libvirt network kvmbr0 (qemu:///system): unchanged' "$STATE/idempotent.log" ||
        fail "the second run did not check the libvirt network"

    mkdir -p "$LAB_ROOT/build/fleet"
    cp "$STATE/dry-run.log" "$LAB_ROOT/build/fleet/dry-run-fresh-host.log"
    if [[ -n "$FAILED" ]]; then
        echo "libvirt-host: FAILED:$FAILED"
        rc=1
    fi
    return "$rc"
}

if [[ "${1:-}" == --inside ]]; then
    shift
    inside "$@"
    exit $?
fi
"$LAB_ROOT/scripts/collection-tree.sh" >/dev/null
lab_run "$(realpath "${BASH_SOURCE[0]}")" libvirt-host
