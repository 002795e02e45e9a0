#!/usr/bin/env bash
# End to end, the seed scenario with the collection's modules: a libvirt/QEMU guest gets its DHCP lease from the
# LAN's router through kvmbr0, its NICs attached, changed and detached by kvmnet.bridge.kvm_guest_nic.
#
#   tests/e2e/run.sh          (root, after scripts/bootstrap.sh; run by `make e2e` and `make test`)
#
# Outside: builds (or reuses) the tiny guest (tests/lab/guest.sh), the collection copy, and snapshots the root network
# namespace. Inside a namespace instance (scripts/netns-instance.sh): the LAN router with dnsmasq
# (tests/lab/router.sh, veth eth0 <-> router), a private libvirtd (tests/lab/libvirtd.sh), a guest defined and started
# WITHOUT any NIC, then the playbook tests/e2e/guest_nic.yml does the rest with the collection's modules
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
        --append kvmnet.stats=1 >"$state/domain.xml"
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
    local out kernel initrd state guard rc=0
    [[ $(id -u) -eq 0 ]] || lab_die "needs root"
    out="$("$LAB_DIR/guest.sh" "$LAB_ROOT/build/lab/guest")"
    kernel="$(sed -n 's/^KERNEL=//p' <<<"$out")"
    initrd="$(sed -n 's/^INITRD=//p' <<<"$out")"
    "$LAB_ROOT/scripts/collection-tree.sh" >/dev/null
    mkdir -p "$LAB_ROOT/build/lab"
    state="$(mktemp -d "$LAB_ROOT/build/lab/e2e.XXXXXX")"
    guard="$state/root-netns.json"
    "$LAB_ROOT/scripts/root-netns-guard.sh" snapshot "$guard"
    "$LAB_ROOT/scripts/netns-instance.sh" e2e -- "$0" --inside "$state" "$kernel" "$initrd" || rc=$?
    "$LAB_ROOT/scripts/root-netns-guard.sh" check "$guard" || { lab_log "root network namespace changed"; rc=1; }
    if ((rc == 0)) && [[ -z "${KVMNET_LAB_KEEP:-}" ]]; then
        rm -rf "$state"
        echo "e2e: passed"
    else
        echo "e2e: $( ((rc == 0)) && echo passed || echo "FAILED rc=$rc"); state kept in $state (console.log, libvirt/log)"
    fi
    return "$rc"
}

if [[ "${1:-}" == --inside ]]; then
    inside "$2" "$3" "$4"
else
    outside
fi
