#!/usr/bin/env bash
# `make bench`: per-task cost of no-op kvmnet.bridge tasks against ansible.builtin.ping (linux_bridge; bridge_port
# with and without 10,000 routes in the table), the read of a 1000-port bridge, and the decode baseline of
# docs/decisions.md decision 6 (our decoder vs pyroute2's on the same bytes); scripts/bench.py says how. Each run
# is inside a throwaway network namespace. Runs against Debian 12's pyroute2 (0.7.2) first, then the current one;
# the pyroute2 part ends with noop_ratio=<x> for the current one; then the roles' figures (tests/bench/role_bench.sh):
# role_noop_ratio=, fleet_10_forks10_s=, fleet_10_forks1_s=.
#   BENCH_ROUNDS=N (default 20, at least 10)
# Heavy (a minute or two of CPU): on the shared machine run it as `flock /tmp/kvmnet-heavy.lock make bench`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/bootstrap.sh
tree="$(scripts/collection-tree.sh)"
# A private copy of the collection for the whole run: build/ is replaced by every test run of the tree.
COPY="$(mktemp -d /tmp/kvmnet-bench-tree.XXXXXX)"
trap 'rm -rf "$COPY"' EXIT
mkdir -p "$COPY/ansible_collections/kvmnet"
cp -a "$tree" "$COPY/ansible_collections/kvmnet/bridge"

for venv in .venv-pyroute2-0.7 .venv; do
    version=$("$venv/bin/python" -c "from importlib.metadata import version; print(version('pyroute2'))")
    echo "== pyroute2 ${version} (${venv})"
    scripts/netns-instance.sh bench -- "$venv/bin/python" scripts/bench.py --collections "$COPY"
done
# the roles: role_noop_ratio, fleet_10_forks10_s, fleet_10_forks1_s (tests/bench/role_bench.sh says how)
echo "== roles (kvm_bridge_host, fleet playbook)"
tests/bench/role_bench.sh
