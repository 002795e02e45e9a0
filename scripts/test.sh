#!/usr/bin/env bash
# The whole pipeline (what `make test` and CI run): bootstrap, lint, sanity, unit, integration, e2e.
#
#   scripts/test.sh [STAGE...]      default: all stages, in that order
#
# A failed bootstrap stops the run (nothing else can work); the other stages all run even after a failure, so one
# run reports every problem. Prints a summary with each stage's result and wall time; exit 1 if any stage failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

stages=("$@")
((${#stages[@]})) || stages=(bootstrap lint sanity unit integration e2e)

declare -A SCRIPT=(
    [bootstrap]=scripts/bootstrap.sh
    [lint]=scripts/lint.sh
    [sanity]=scripts/sanity.sh
    [unit]=scripts/unit.sh
    [integration]=scripts/integration.sh
    [e2e]=tests/e2e/run.sh
)

summary=()
failed=0
total_start=$EPOCHREALTIME
for stage in "${stages[@]}"; do
    [[ -n "${SCRIPT[$stage]:-}" ]] || { echo "test: unknown stage $stage (known: ${!SCRIPT[*]})" >&2; exit 2; }
    printf '\n########## %s ##########\n' "$stage"
    start=$EPOCHREALTIME
    rc=0
    "${SCRIPT[$stage]}" || rc=$?
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    if ((rc == 0)); then
        summary+=("$(printf '%-12s passed  %8ss' "$stage" "$secs")")
    else
        summary+=("$(printf '%-12s FAILED  %8ss  (exit %d)' "$stage" "$secs" "$rc")")
        failed=1
        if [[ "$stage" == bootstrap ]]; then
            summary+=("(stopped: nothing else can run without the bootstrap)")
            break
        fi
    fi
done
total=$(awk -v a="$total_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

printf '\n########## summary ##########\n'
printf '%s\n' "${summary[@]}"
printf '%-12s %s  %8ss\n' total "$( ((failed)) && echo FAILED || echo passed)" "$total"
passed_count=$(printf '%s\n' "${summary[@]}" | grep -c ' passed ' || true)
failed_count=$(printf '%s\n' "${summary[@]}" | grep -c ' FAILED ' || true)
printf 'stages: %d passed, %d failed\n' "$passed_count" "$failed_count"
exit "$failed"
