#!/usr/bin/env bash
# kvmnet.bridge.libvirt_network against a REAL libvirtd (no guest needed): create, update (bridge, autostart,
# active), takeover, delete, each in four steps (check mode, apply, idempotent check, idempotent apply), and the
# refusals, which must leave every network as it was. libvirt's own view (`virsh net-dumpxml`, `net-info`,
# `net-list --all`) is the independent source the playbook compares with.
#
#   tests/e2e/libvirt_network.sh      (root, after scripts/bootstrap.sh; heavy: run under flock /tmp/kvmnet-heavy.lock)
#
# Outside: the collection copy (scripts/collection-tree.sh), a snapshot of the root network namespace, a state dir
# build/lab/libvirt-network.XXXXXX (removed on success, kept on failure or with KVMNET_LAB_KEEP=1). Inside a namespace
# instance (scripts/netns-instance.sh): a private libvirtd (tests/lab/libvirtd.sh, QEMU capability cache in
# build/lab/libvirt-cache), then tests/e2e/libvirt_network.yml. Afterwards the root namespace must be unchanged.
# Prints "libvirt-network: passed" and the timings (libvirtd start, playbook).
# shellcheck disable=SC2317  # cleanup functions run from traps
set -euo pipefail
export LAB_NAME=libvirt-network
# shellcheck source=tests/lab/lib.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/../lab/lib.sh"

STATE=""
cleanup() {
    "$LAB_DIR/libvirtd.sh" stop "$STATE/libvirt" || true
}

inside() {
    local state="$1" t0 rc=0
    STATE="$state"
    lab_require_instance
    trap cleanup EXIT
    t0=$(lab_now)
    "$LAB_DIR/libvirtd.sh" start "$state/libvirt" "$LAB_ROOT/build/lab/libvirt-cache" >/dev/null
    echo "libvirtd_start_s=$(lab_since "$t0")" >>"$state/timings"
    t0=$(lab_now)
    ANSIBLE_COLLECTIONS_PATH="$LAB_ROOT/build" ANSIBLE_PYTHON_INTERPRETER="$LAB_ROOT/.venv/bin/python" \
        ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
        "$LAB_ROOT/.venv/bin/ansible-playbook" "$LAB_ROOT/tests/e2e/libvirt_network.yml" -e "e2e_state=$state" || rc=$?
    echo "playbook_s=$(lab_since "$t0")" >>"$state/timings"
    return "$rc"
}

outside() {
    local state guard t0 rc=0
    [[ $(id -u) -eq 0 ]] || lab_die "needs root"
    t0=$(lab_now)
    "$LAB_ROOT/scripts/collection-tree.sh" >/dev/null
    mkdir -p "$LAB_ROOT/build/lab"
    state="$(mktemp -d "$LAB_ROOT/build/lab/libvirt-network.XXXXXX")"
    guard="$state/root-netns.json"
    "$LAB_ROOT/scripts/root-netns-guard.sh" snapshot "$guard"
    "$LAB_ROOT/scripts/netns-instance.sh" lab-libvirt-network -- "$LAB_ROOT/tests/e2e/libvirt_network.sh" \
        --inside "$state" || rc=$?
    "$LAB_ROOT/scripts/root-netns-guard.sh" check "$guard" || { lab_log "root network namespace changed"; rc=1; }
    echo "libvirt-network timings: $(tr '\n' ' ' <"$state/timings" 2>/dev/null)total_s=$(lab_since "$t0")"
    if ((rc == 0)) && [[ -z "${KVMNET_LAB_KEEP:-}" ]]; then
        rm -rf "$state"
        echo "libvirt-network: passed"
    else
        echo "libvirt-network: $( ((rc == 0)) && echo passed || echo "FAILED rc=$rc"); state kept in $state"
    fi
    return "$rc"
}

if [[ "${1:-}" == --inside ]]; then
    inside "$2"
else
    outside
fi
