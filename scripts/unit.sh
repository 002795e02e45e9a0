#!/usr/bin/env bash
# Run the unit tests (tests/unit) with pytest from .venv, from the collection copy in build/.
#
#   scripts/unit.sh [EXTRA pytest ARGS...]
#
# build/ is put on sys.path, so `from ansible_collections.kvmnet.bridge.plugins.module_utils._bridge import ...`
# imports the copy (ansible_collections, kvmnet, bridge, plugins, ... are namespace packages).
# pytest's exit code 5 ("no tests collected") counts as a failure: the project must always have unit tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${KVMNET_UNIT_VENV:-$ROOT/.venv}"
[[ -x "$VENV/bin/pytest" ]] || { echo "unit: $VENV missing: run scripts/bootstrap.sh" >&2; exit 1; }

TREE="$("$ROOT/scripts/collection-tree.sh")"
cd "$TREE"
export PYTHONPATH="$ROOT/build${PYTHONPATH:+:$PYTHONPATH}"
rc=0
# importlib import mode: test files in different directories may share a base name (no __init__.py needed)
"$VENV/bin/python" -m pytest -p no:cacheprovider --import-mode=importlib tests/unit "$@" || rc=$?
if ((rc == 5)); then
    echo "unit: pytest collected no tests under tests/unit: failing (there must be unit tests)" >&2
fi
exit "$rc"
