#!/usr/bin/env bash
# The bad-input campaign (issue 11): every module's options fed wrong types, out-of-range values, odd names
# (unicode, `../`, spaces, newlines, shell metacharacters, `%`), malformed and multicast MACs, and unknown
# namespaces, bridges, ports and domains, table-driven plus property-based (hypothesis, seeded) for names, MACs and
# timers. Each case runs the real module (its main(), in-process) against the REAL kernel and asserts a refusal
# that names the value and the way out, `changed` false, and no change: the scratch namespace's links, addresses,
# routes and VLANs and the scratch directories of bridge_persist and net_checkpoint are snapshotted before and
# after every case. Valid odd values must be accepted in check mode, again without any change.
#
#   tests/campaign/bad_input/run.sh [EXTRA pytest ARGS...]      (root; ~1 min)
#
# - Runs inside a throwaway network namespace (scripts/netns-instance.sh, removed on every exit path); the tests
#   build their scratch namespace inside it, with a real bridge, a veth port and a free veth. libvirt cases use
#   the in-process test driver (test:///default, no daemon) and one unreachable URI.
# - The collection is imported from the working tree through a private ansible_collections link (build/ is not
#   touched, so this can run next to other stages).
# - Proves the root namespace unchanged at the end (scripts/root-netns-guard.sh).
# - Prints one line per module with its case count, then
#   `bad-input: N cases (T table, H hypothesis examples), 0 kernel changes`; fails when a case failed, when the
#   host changed, or when no case ran.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
VENV="${KVMNET_UNIT_VENV:-$ROOT/.venv}"
[[ -x "$VENV/bin/python" ]] || { echo "bad-input: $VENV missing: run scripts/bootstrap.sh" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "bad-input: needs root (network namespaces)" >&2; exit 1; }

WORK="$(mktemp -d /tmp/kvmnet-bad-input.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/tree/ansible_collections/kvmnet"
ln -s "$ROOT" "$WORK/tree/ansible_collections/kvmnet/bridge"
export PYTHONPATH="$WORK/tree:$HERE${PYTHONPATH:+:$PYTHONPATH}"
export KVMNET_BAD_INPUT_REPORT="$WORK/report.json"

"$ROOT/scripts/root-netns-guard.sh" snapshot "$WORK/root-netns.json"
start=$SECONDS
rc=0
cd "$WORK"  # pytest and hypothesis leave nothing in the caller's directory
"$ROOT/scripts/netns-instance.sh" bad-input -- \
    "$VENV/bin/python" -m pytest -p no:cacheprovider --import-mode=importlib --rootdir="$HERE" \
    --basetemp="$WORK/pytest" -q -rfEs "$HERE" "$@" || rc=$?
secs=$((SECONDS - start))
"$ROOT/scripts/root-netns-guard.sh" check "$WORK/root-netns.json" || { echo "bad-input: the root namespace changed" >&2; rc=1; }

[[ -s "$KVMNET_BAD_INPUT_REPORT" ]] || { echo "bad-input: no report: no case ran" >&2; exit $((rc ? rc : 1)); }
summary_rc=0
"$VENV/bin/python" - "$KVMNET_BAD_INPUT_REPORT" "$secs" <<'EOF' || summary_rc=$?
import collections
import json
import sys

report = json.load(open(sys.argv[1]))
per_module = collections.OrderedDict()
kinds = collections.Counter()
for row in report['rows']:
    module = per_module.setdefault(row['module'], collections.Counter())
    module[row['family']] += row['cases']
    kinds[row['kind']] += row['cases']
for name, families in per_module.items():
    print('bad-input: %-20s %4d cases (%s)' % (name, sum(families.values()), ', '.join(
        '%s %d' % item for item in sorted(families.items()))))
total = sum(kinds.values())
changes = len(report['changes'])
print('bad-input: %d cases (%d table, %d hypothesis examples), %d kernel changes, %s s'
      % (total, kinds['table'], kinds['hypothesis'], changes, sys.argv[2]))
for change in report['changes']:
    print('bad-input: CHANGE by %s (%s): %s' % tuple(change))
if total == 0:
    print('bad-input: no case ran: failing (a stage that ran nothing proves nothing)', file=sys.stderr)
    sys.exit(1)
sys.exit(1 if changes else 0)
EOF
((summary_rc == 0)) || rc=1
exit "$rc"
