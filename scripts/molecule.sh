#!/usr/bin/env bash
# Run the collection's molecule scenarios (full `molecule test` each, idempotence step included) on namespace
# machines, and prove afterwards that the root network namespace was not touched.
#
#   scripts/molecule.sh [SCENARIO_DIR...]     default: every roles/*/molecule/*/ and tests/molecule/*/ that has a
#                                             molecule.yml, e.g. scripts/molecule.sh roles/kvm_bridge_host/molecule/default
#                                             (those with a `# kvmnet-molecule: long` line first)
#   KVMNET_MOLECULE_JOBS=N                    scenarios run N at a time in parallel processes (default 2)
#
# Each scenario runs as `molecule -c tests/molecule/shared/base.yml test -s NAME` from the directory that holds its
# molecule/ directory (the role, or tests/), with:
#   MOLECULE_EPHEMERAL_DIRECTORY=build/molecule/<id>/   (instance config, inventory, the machines' state)
#   log                    build/logs/molecule-<id>.log (<id>: the scenario path with / replaced by -)
# The collection is copied once (scripts/collection-tree.sh) into build/molecule/collection/ before the first
# scenario: a copy of this run's own, which other tools cannot replace while a scenario runs. Whatever happens to
# molecule, the scenario's machines are destroyed afterwards (tests/machines/machine.sh destroy), also on
# INT/TERM. A scenario fails when molecule fails or when its verify step ran no test.
# Prints one line per scenario (result, wall time, verify counts, log; then the figures its tests measured) and a
# closing "N passed, N failed" line;
# exit 1 if no scenario was found, any failed, or the root namespace changed.
# The cleanup functions run from traps, which shellcheck cannot follow (SC2317: "unreachable"), for the whole file:
# shellcheck disable=SC2317
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="${KVMNET_MOLECULE_JOBS:-2}"
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || { echo "molecule: KVMNET_MOLECULE_JOBS must be a positive integer" >&2; exit 2; }
MACHINE="$ROOT/tests/machines/machine.sh"
BASE="$ROOT/tests/molecule/shared/base.yml"

log() { printf '[molecule] %s\n' "$*" >&2; }

[[ -x "$ROOT/.venv/bin/molecule" ]] || { log ".venv has no molecule: run scripts/bootstrap.sh"; exit 1; }
[[ -f build/collections/ansible_collections/community/docker/plugins/connection/nsenter.py ]] ||
    { log "community.docker missing in build/collections: run scripts/bootstrap.sh"; exit 1; }

# --- scenarios ---------------------------------------------------------------------------------------------------
scenarios=()
if (($#)); then
    for dir in "$@"; do
        dir="${dir%/}"
        [[ -f "$dir/molecule.yml" && "$(basename "$(dirname "$dir")")" == molecule ]] ||
            { log "$dir is not a scenario (DIR/molecule/NAME/molecule.yml)"; exit 2; }
        scenarios+=("$(realpath --relative-to="$ROOT" "$dir")")
    done
else
    shopt -s nullglob
    # scenarios marked `# kvmnet-molecule: long` (a VM boot) start first, so the others share the second lane
    # instead of waiting behind them at the end
    long=()
    for file in roles/*/molecule/*/molecule.yml tests/molecule/*/molecule.yml; do
        if grep -qx '# kvmnet-molecule: long' "$file"; then
            long+=("$(dirname "$file")")
        else
            scenarios+=("$(dirname "$file")")
        fi
    done
    scenarios=("${long[@]}" "${scenarios[@]}")
    shopt -u nullglob
fi
if ((${#scenarios[@]} == 0)); then
    log "no scenario found (roles/*/molecule/*/molecule.yml, tests/molecule/*/molecule.yml): failing"
    exit 1
fi
log "${#scenarios[@]} scenarios, $JOBS at a time: ${scenarios[*]}"

# --- environment shared by all scenarios -------------------------------------------------------------------------
export KVMNET_ROOT="$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
export NO_COLOR=1 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 PYTHONDONTWRITEBYTECODE=1 COLUMNS=160
mkdir -p build/logs build/molecule
# A private copy of the collection for this run: the shared one (build/ansible_collections) is replaced whenever
# any other tool (lint, unit tests) runs, which would pull the role from under a running scenario.
COLLECTION_ROOT="$ROOT/build/molecule/collection"
scripts/collection-tree.sh "$COLLECTION_ROOT" >/dev/null
[[ -f "$COLLECTION_ROOT/ansible_collections/kvmnet/bridge/galaxy.yml" ]] ||
    { log "the collection copy in $COLLECTION_ROOT is incomplete"; exit 1; }
export KVMNET_COLLECTION_ROOT="$COLLECTION_ROOT"

id_of() { printf '%s\n' "${1//\//-}"; }

# Root namespace guard: snapshot now, check on every exit path.
GUARD_FILE="$ROOT/build/root-netns.molecule.before.json"
scripts/root-netns-guard.sh snapshot "$GUARD_FILE"

declare -A RUNNING=()  # job PID -> scenario
cleanup() {
    local rc=$? pid scenario
    trap - EXIT INT TERM HUP
    for pid in "${!RUNNING[@]}"; do
        scenario="${RUNNING[$pid]}"
        # molecule runs in its own session (setsid below): end its process group (ansible-playbook, pytest too)
        if [[ -f "build/molecule/$(id_of "$scenario").pgid" ]]; then
            kill -TERM -- "-$(cat "build/molecule/$(id_of "$scenario").pgid")" 2>/dev/null || true
        fi
    done
    for pid in "${!RUNNING[@]}"; do
        wait "$pid" 2>/dev/null || true
        "$MACHINE" destroy "build/molecule/$(id_of "${RUNNING[$pid]}")/machines" || rc=1
    done
    scripts/root-netns-guard.sh check "$GUARD_FILE" || rc=1
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM
trap 'log "hangup"; exit 129' HUP

# run_scenario DIR: one full `molecule test`; writes build/molecule/<id>.result ("rc seconds verify-summary").
run_scenario() {
    local dir="$1" id project name eph logfile start rc=0 secs verified
    id="$(id_of "$dir")"
    project="$(dirname "$(dirname "$dir")")"
    name="$(basename "$dir")"
    eph="$ROOT/build/molecule/$id"
    logfile="$ROOT/build/logs/molecule-$id.log"
    "$MACHINE" destroy "$eph/machines"  # leftovers of a killed run
    rm -rf "$eph" "$eph.result" "$eph.pgid"
    mkdir -p "$eph"
    start=$EPOCHREALTIME
    (
        cd "$project"
        export MOLECULE_EPHEMERAL_DIRECTORY="$eph"
        exec setsid molecule -c "$BASE" test -s "$name"
    ) </dev/null >"$logfile" 2>&1 &
    echo "$!" >"$eph.pgid"
    wait "$!" || rc=$?
    "$MACHINE" destroy "$eph/machines" >>"$logfile" 2>&1 || rc=1
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    # pytest's closing lines, e.g. "===== 9 passed in 0.88s =====" (a persistence scenario has two: the replay
    # harness's checks and its testinfra tests, joined with " + "): no such line means verify ran no test
    verified="$(grep -oE '=+ [0-9]+ (passed|failed).* in [0-9.]+s' "$logfile" | sed -E 's/^=+ //; s/ in [0-9.]+s$//' |
        paste -sd '+' | sed 's/+/ + /g')" || true
    if ((rc == 0)) && [[ -z "$verified" ]]; then
        echo "molecule: verify ran no testinfra test (tests/test_*.py)" >>"$logfile"
        rc=1
    fi
    printf '%s %s %s\n' "$rc" "$secs" "${verified:-no tests}" >"$eph.result"
    rm -f "$eph.pgid"
}

report() {
    local dir="$1" id rc secs verified
    id="$(id_of "$dir")"
    if ! read -r rc secs verified <"build/molecule/$id.result" 2>/dev/null; then
        rc=1 secs="?" verified="(no result: the run was killed)"
    fi
    printf '%-45s %-7s %7ss  verify: %-22s log: build/logs/molecule-%s.log\n' "$dir" \
        "$( ((rc == 0)) && echo passed || echo FAILED)" "$secs" "$verified" "$id"
    # figures the scenario measured: lines "kvmnet figure: TEXT" of kvmnet_testinfra's `figures` fixture, and the
    # same text inside a debug task's msg (the persistence harness: msg: 'kvmnet figure: replay ...')
    sed -n -e 's/^kvmnet figure: /    /p' -e "s/^ *msg: [\"']kvmnet figure: \([^\"']*\)[\"']\$/    \1/p" \
        "build/logs/molecule-$id.log" 2>/dev/null || true
    return "$rc"
}

total_start=$EPOCHREALTIME
next=0
while ((next < ${#scenarios[@]} || ${#RUNNING[@]})); do
    while ((next < ${#scenarios[@]} && ${#RUNNING[@]} < JOBS)); do
        dir="${scenarios[$next]}"
        log "start $dir"
        run_scenario "$dir" &
        RUNNING[$!]="$dir"
        next=$((next + 1))
    done
    finished=""
    wait -n -p finished "${!RUNNING[@]}" || true
    [[ -n "$finished" ]] || continue
    dir="${RUNNING[$finished]}"
    unset 'RUNNING[$finished]'
    report "$dir" >&2 || true
done
total=$(awk -v a="$total_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

passed=0
failed=0
printf '\n=== molecule summary (%s at a time, %ss wall)\n' "$JOBS" "$total"
for dir in "${scenarios[@]}"; do
    if report "$dir"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
printf 'molecule: %d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
