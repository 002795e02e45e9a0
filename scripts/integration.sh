#!/usr/bin/env bash
# Run the ansible-test integration targets against each supported pyroute2, each run inside a fresh network
# namespace instance, and prove afterwards that the root network namespace was not touched.
#
#   scripts/integration.sh [EXTRA ansible-test integration ARGS...]   e.g. scripts/integration.sh module_linux_bridge
#   KVMNET_VENVS=".venv" scripts/integration.sh                       only one of the virtualenvs
#   KVMNET_INTEGRATION_TARGETS=DIR scripts/integration.sh             look for targets in DIR instead of
#                                                                      tests/integration/targets (to test this script)
#
# For each virtualenv (default: .venv = pyroute2 0.9.x, .venv-pyroute2-0.7 = Debian 12's 0.7.2):
#   copy the collection to build/ansible_collections/kvmnet/bridge (scripts/collection-tree.sh), then run
#   `ansible-test integration --local` from there with that virtualenv's ansible-test and Python first on PATH,
#   inside scripts/netns-instance.sh (targets may create and delete links and namespaces freely there).
# --allow-destructive: "destructive" targets are confined to the throwaway namespace instance.
# All virtualenvs run even if one fails; exit status is non-zero if any run failed or the root namespace changed.
#
# A run that tests nothing fails: no target directory at all, and an ansible-test run that ran no target (its own
# "All targets skipped." exits 0, e.g. when --exclude or aliases filter everything out; counted from its "Running
# TARGET integration test role" lines). Each run's output is also kept in build/logs/integration-<pyroute2>.log.
# Skipped cases: a target says why it skips a case with a debug task whose msg starts with `KVMNET-SKIP: ` (see
# scripts/skips.sh); the summary counts them per run and lists the reasons.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
read -r -a VENVS <<<"${KVMNET_VENVS:-.venv .venv-pyroute2-0.7}"

log() { printf '[integration] %s\n' "$*" >&2; }

# Targets are the directories under tests/integration/targets (ansible-test's own rule).
TARGETS_DIR="${KVMNET_INTEGRATION_TARGETS:-tests/integration/targets}"
shopt -s nullglob
targets=("$TARGETS_DIR"/*/)
shopt -u nullglob
if ((${#targets[@]} == 0)); then
    log "FAILED: no integration targets under $TARGETS_DIR: a stage that runs no test proves nothing"
    exit 1
fi

for venv in "${VENVS[@]}"; do
    [[ -x "$ROOT/$venv/bin/ansible-test" ]] || { log "$venv missing: run scripts/bootstrap.sh"; exit 1; }
done

# Root namespace guard: snapshot now, check on every exit path.
mkdir -p build
GUARD_FILE="$ROOT/build/root-netns.before.json"
scripts/root-netns-guard.sh snapshot "$GUARD_FILE"
# shellcheck disable=SC2317  # runs from the EXIT trap
guard_check() {
    local rc=$?
    trap - EXIT
    scripts/root-netns-guard.sh check "$GUARD_FILE" || rc=1
    exit "$rc"
}
trap guard_check EXIT

LOGS="$ROOT/build/logs"
mkdir -p "$LOGS"
results=()
failed=0
for venv in "${VENVS[@]}"; do
    py="$ROOT/$venv/bin/python"
    # Debian's 0.7.2 says pyroute2.__version__ == 'unknown': the package metadata is reliable
    pyroute2="$("$py" -c 'from importlib.metadata import version; print(version("pyroute2"))')"
    label="pyroute2-${pyroute2//[^0-9A-Za-z]/_}"
    log "=== $venv: pyroute2 $pyroute2, ansible-core $("$py" -c 'from importlib.metadata import version; print(version("ansible-core"))')"

    tree="$(scripts/collection-tree.sh)"
    start=$SECONDS
    run_log="$LOGS/integration-$label.log"
    rc=0
    (
        cd "$tree"
        export PATH="$ROOT/$venv/bin:$PATH"
        # the copy is inside this git repo under ignored build/: make ansible-test treat it as unversioned content
        export ANSIBLE_TEST_CONTENT_ROOT="$tree"
        exec "$ROOT/scripts/netns-instance.sh" "it-$label" -- \
            ansible-test integration --local --python 3.11 --python-interpreter "$py" --allow-destructive \
            --continue-on-error --color no "$@"
    ) 2>&1 | tee "$run_log" || rc=$?
    ran=$(grep -c '^Running .* integration test role$' "$run_log" || true)
    skips=$(scripts/skips.sh "$run_log")
    skipped=$(grep -c . <<<"$skips" || true)
    if ((rc == 0 && ran == 0)); then
        log "$venv: ansible-test ran no target ($(grep -m1 -o 'All targets skipped.*' "$run_log" || echo 'none ran')):" \
            "failing, a run that tests nothing proves nothing"
        rc=1
    fi
    status=$( ((rc == 0)) && echo passed || echo "FAILED rc=$rc")
    results+=("$venv (pyroute2 $pyroute2): $status, $ran targets, $skipped skipped cases, in $((SECONDS - start))s")
    while IFS= read -r reason; do
        [[ -z "$reason" ]] || results+=("    skipped: $reason")
    done <<<"$skips"
    ((rc == 0)) || failed=1
done

# (the reasons are listed without the KVMNET-SKIP marker: scripts/test.sh counts each marker line once)
log "=== summary"
for line in "${results[@]}"; do log "$line"; done
exit "$failed"
