#!/usr/bin/env bash
# `make demo`: the main job on the built-in lab. Until the full lab exists (router, DHCP, guest), it converges a
# KVM-host bridge with kvmnet.bridge.linux_bridge inside a throwaway network namespace, shows the bridge and the
# module's operations, runs the same playbook again to show changed=0, and removes the namespace (also on failure).
# Never touches the root network namespace.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/bootstrap.sh
scripts/collection-tree.sh >/dev/null

# Runs inside the instance (scripts/netns-instance.sh exports KVMNET_NETNS).
# shellcheck disable=SC2016
INSIDE='
set -euo pipefail
export ANSIBLE_COLLECTIONS_PATH="$PWD/build" ANSIBLE_PYTHON_INTERPRETER="$PWD/.venv/bin/python"
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"
for run in first second; do
    echo
    echo "===== ${run} run of kvmnet.bridge.bridge_demo in network namespace ${KVMNET_NETNS} ====="
    .venv/bin/ansible-playbook kvmnet.bridge.bridge_demo -e "bridge_demo_netns=${KVMNET_NETNS}" | tee "/tmp/${KVMNET_NETNS}.${run}.log"
done
first=$(grep -Eo "changed=[0-9]+" "/tmp/${KVMNET_NETNS}.first.log" | head -n1)
second=$(grep -Eo "changed=[0-9]+" "/tmp/${KVMNET_NETNS}.second.log" | head -n1)
rm -f "/tmp/${KVMNET_NETNS}".*.log
echo
echo "demo: first run ${first}, second run ${second} (idempotent: nothing left to do)"
[[ "$first" == "changed=1" && "$second" == "changed=0" ]]
'
scripts/netns-instance.sh demo -- bash -c "$INSIDE"
