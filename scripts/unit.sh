#!/usr/bin/env bash
# Run the unit tests (tests/unit) with pytest from .venv, from the collection copy in build/.
#
#   scripts/unit.sh [EXTRA pytest ARGS...]
#
# build/ is put on sys.path, so `from ansible_collections.kvmnet.bridge.plugins.module_utils._bridge import ...`
# imports the copy (ansible_collections, kvmnet, bridge, plugins, ... are namespace packages).
#
# A run that executed no case fails: pytest's exit code 5 ("no tests collected"), and also a run where every
# collected case was skipped (the project must always run unit tests). Each skipped case is printed after pytest's
# own summary as `KVMNET-SKIP: <test id>: <reason>` (one line per case, from pytest's JUnit XML report), the
# marker scripts/test.sh counts (scripts/skips.sh); the last line says `unit: N cases run, M skipped`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${KVMNET_UNIT_VENV:-$ROOT/.venv}"
[[ -x "$VENV/bin/pytest" ]] || { echo "unit: $VENV missing: run scripts/bootstrap.sh" >&2; exit 1; }

REPORT_DIR="$(mktemp -d)"
trap 'rm -rf "$REPORT_DIR"' EXIT
TREE="$("$ROOT/scripts/collection-tree.sh")"
cd "$TREE"
export PYTHONPATH="$ROOT/build${PYTHONPATH:+:$PYTHONPATH}"
# the modules' host locks and run records (default /run/kvmnet) go to the run's own temporary directory
export KVMNET_RUN_DIR="$REPORT_DIR/run"
rc=0
# importlib import mode: test files in different directories may share a base name (no __init__.py needed)
"$VENV/bin/python" -m pytest -p no:cacheprovider --import-mode=importlib -rfEs --junitxml="$REPORT_DIR/junit.xml" \
    tests/unit "$@" || rc=$?
if ((rc == 5)); then
    echo "unit: pytest collected no tests under tests/unit: failing (there must be unit tests)" >&2
    exit "$rc"
fi
[[ -s "$REPORT_DIR/junit.xml" ]] || { echo "unit: pytest wrote no report" >&2; exit $((rc ? rc : 1)); }

# The skipped cases, one line each (stdout); "RAN SKIPPED" counts into REPORT_DIR/counts.
"$VENV/bin/python" - "$REPORT_DIR/junit.xml" "$REPORT_DIR/counts" <<'EOF'
import sys
import xml.etree.ElementTree as ET

ran = skipped = 0
for case in ET.parse(sys.argv[1]).getroot().iter('testcase'):
    skip = case.find('skipped')
    if skip is None:
        ran += 1
        continue
    skipped += 1
    where = '::'.join(part for part in (case.get('classname'), case.get('name')) if part)
    # a module-level skip (pytest.importorskip) says only "collection skipped"; its text holds the reason
    message = skip.get('message')
    reason = skip.text if message in (None, '', 'collection skipped') and skip.text else message
    reason = ' '.join((reason or 'no reason given').split())
    print('KVMNET-SKIP: %s: %s' % (where, reason))
with open(sys.argv[2], 'w') as handle:
    handle.write('%d %d\n' % (ran, skipped))
EOF
read -r ran skipped <"$REPORT_DIR/counts"
echo "unit: $ran cases run, $skipped skipped"
if ((rc == 0 && ran == 0)); then
    echo "unit: every collected case was skipped: failing (a stage that runs no case proves nothing)" >&2
    exit 1
fi
exit "$rc"
