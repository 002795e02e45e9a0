#!/usr/bin/env bash
# `make bench`: per-task cost of a no-op kvmnet.bridge.linux_bridge task against ansible.builtin.ping, measured
# in one ansible-playbook process inside a throwaway network namespace (scripts/bench.py says how). Runs against
# Debian 12's pyroute2 (0.7.2) first, then the current one; the last line is noop_ratio=<x> for the current one.
#   BENCH_ROUNDS=N (default 20, at least 10)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/bootstrap.sh
scripts/collection-tree.sh >/dev/null

for venv in .venv-pyroute2-0.7 .venv; do
    version=$("$venv/bin/python" -c "from importlib.metadata import version; print(version('pyroute2'))")
    echo "== pyroute2 ${version} (${venv})"
    scripts/netns-instance.sh bench -- "$venv/bin/python" scripts/bench.py --collections "$ROOT/build"
done
