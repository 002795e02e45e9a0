#!/usr/bin/env bash
# End to end, the seed scenario with the collection's modules: a libvirt/QEMU guest gets its DHCP lease from the
# LAN's router through kvmbr0, its NICs attached, changed and detached by kvmnet.bridge.kvm_guest_nic.
#
#   tests/e2e/run.sh          (root, after scripts/bootstrap.sh; run by `make e2e` and `make test`)
#
# Outside: builds (or reuses) the tiny guest (tests/lab/guest.sh), the collection copy, and snapshots the root network
# namespace. Inside a namespace instance (scripts/netns-instance.sh): the LAN router with dnsmasq
# (tests/lab/router.sh, veth eth0 <-> router), a private libvirtd (tests/lab/libvirtd.sh), a guest defined and started
# WITHOUT any NIC but with the QEMU guest agent's channel (the guest runs qemu-ga), then the playbook tests/e2e/guest_nic.yml does the rest with the collection's modules
# (linux_bridge, bridge_port, kvm_guest_nic, kvm_guest_nic_info) and asserts what the kernel, libvirt, dnsmasq and
# the guest's own console say. Afterwards the root namespace must be unchanged.
# shellcheck disable=SC2317  # cleanup functions run from traps
set -euo pipefail
export LAB_NAME=e2e
# shellcheck source=tests/lab/lib.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/../lab/lib.sh"

DOMAIN=kvmnet-e2e

STATE=""
cleanup() {
    virsh -q destroy "$DOMAIN" >/dev/null 2>&1 || true
    "$LAB_DIR/libvirtd.sh" stop "$STATE/libvirt" || true
    "$LAB_DIR/router.sh" down "$STATE" || true
}

inside() {
    local state="$1" kernel="$2" initrd="$3" rc=0
    STATE="$state"
    lab_require_instance
    trap cleanup EXIT
    # IPv6 off in the lab: the links' own IPv6 chatter (router solicitations, MLD) is multicast that the bridge
    # floods to the taps and QEMU's virtio-net filter then drops, so it counts on the tap but never in the guest,
    # and the counter comparison below needs a quiet LAN.
    sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    "$LAB_DIR/router.sh" up "$state" eth0 >/dev/null
    # shellcheck disable=SC1091
    source "$state/router.env"
    ip netns exec "$ROUTER_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    "$LAB_DIR/libvirtd.sh" start "$state/libvirt" "$LAB_ROOT/build/lab/libvirt-cache" >/dev/null
    "$LAB_DIR/domain-xml.sh" --name "$DOMAIN" --kernel "$kernel" --initrd "$initrd" --console "$state/console.log" \
        --append kvmnet.stats=1 --agent >"$state/domain.xml"
    virsh -q define "$state/domain.xml" >/dev/null
    virsh -q start "$DOMAIN" >/dev/null
    ANSIBLE_COLLECTIONS_PATH="$LAB_ROOT/build" ANSIBLE_PYTHON_INTERPRETER="$LAB_ROOT/.venv/bin/python" \
        ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
        "$LAB_ROOT/.venv/bin/ansible-playbook" "$LAB_ROOT/tests/e2e/guest_nic.yml" \
        -e "e2e_domain=$DOMAIN e2e_state=$state e2e_console=$state/console.log e2e_router_ip=$ROUTER_IP" \
        -e "e2e_lab=$LAB_DIR e2e_router_ns=$ROUTER_NS" || rc=$?
    return "$rc"
}

outside() {
    "$LAB_ROOT/scripts/collection-tree.sh" >/dev/null
    lab_run "$LAB_ROOT/tests/e2e/run.sh" e2e
}

if [[ "${1:-}" == --inside ]]; then
    inside "$2" "$3" "$4"
else
    outside
fi
