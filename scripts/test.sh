#!/usr/bin/env bash
# The whole pipeline (what `make test` and CI run): bootstrap, lint, sanity, unit, bad-input, faults, integration,
# matrix, release, molecule, fleet, role-vars, netfilter, e2e, libvirt-network, libvirt-host, demo, docs
# (DEFAULT_STAGES below).
#
#   scripts/test.sh [STAGE...]      default: all stages, in that order
#
# A failed bootstrap stops the run (nothing else can work); the other stages all run even after a failure, so one
# run reports every problem. Each stage's output (stdout and stderr) is shown and kept in build/logs/<stage>.log.
# Prints a summary with each stage's result, skipped cases and wall time, then every skip reason; exit 1 if any
# stage failed.
#
# Skipped cases: every line with the marker `KVMNET-SKIP: <reason>` in a stage's output counts once (the rule is in
# scripts/skips.sh: unit.sh prints one per skipped pytest case, integration targets print it with a debug task).
# pytest summary lines ("N passed, M skipped in ...") are counted too, so a pytest-based stage whose skips print no
# marker is still counted, and named as such. Whether a stage ran any case at all is the stage's own check
# (unit.sh and integration.sh fail when they ran none).
#
# A new stage: one SCRIPT entry (name -> script, run from the repository root) and its place in DEFAULT_STAGES.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DEFAULT_STAGES=(bootstrap lint sanity unit bad-input faults integration matrix release molecule fleet role-vars netfilter e2e
                libvirt-network libvirt-host demo docs)
declare -A SCRIPT=(
    [bootstrap]=scripts/bootstrap.sh
    [lint]=scripts/lint.sh
    [sanity]=scripts/sanity.sh
    [unit]=scripts/unit.sh
    [bad-input]=tests/campaign/bad_input/run.sh
    [faults]=tests/campaign/faults/run.sh
    [matrix]=scripts/matrix.sh
    [release]=scripts/release-check.sh
    [role-vars]=tests/campaign/role_vars/run.sh
    [integration]=scripts/integration.sh
    [molecule]=scripts/molecule.sh
    [e2e]=tests/e2e/run.sh
    [libvirt-network]=tests/e2e/libvirt_network.sh
    [fleet]=tests/fleet/run.sh
    [netfilter]=tests/netfilter/run.sh
    [libvirt-host]=tests/fleet/libvirt_host.sh
    [demo]=tests/demo/run.sh
    [docs]=scripts/docs-check.sh
)

stages=("$@")
((${#stages[@]})) || stages=("${DEFAULT_STAGES[@]}")
for stage in "${stages[@]}"; do
    [[ -n "${SCRIPT[$stage]:-}" ]] || { echo "test: unknown stage $stage (known: ${!SCRIPT[*]})" >&2; exit 2; }
done
LOGS="$ROOT/build/logs"
mkdir -p "$LOGS"

# pytest_skipped LOG: the skipped cases pytest's summary lines in LOG report (summed; 0 without any)
pytest_skipped() {
    { grep -E '^(=+ )?[0-9]+ [a-z]+(, [0-9]+ [a-z]+)* in [0-9.]+s' "$1" || true; } |
        { grep -oE '[0-9]+ skipped' || true; } | awk '{n += $1} END {print n + 0}'
}

summary=()
reasons=()
failed=0
total_skipped=0
total_start=$EPOCHREALTIME
for stage in "${stages[@]}"; do
    printf '\n########## %s ##########\n' "$stage"
    log="$LOGS/$stage.log"
    start=$EPOCHREALTIME
    rc=0
    "${SCRIPT[$stage]}" 2>&1 | tee "$log" || rc=$?
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

    marked=0
    while IFS= read -r reason; do
        reasons+=("$stage: $reason")
        marked=$((marked + 1))
    done < <(scripts/skips.sh "$log")
    skipped=$marked
    unmarked=$(($(pytest_skipped "$log") - marked))
    if ((unmarked > 0)); then
        reasons+=("$stage: $unmarked skipped pytest case(s) printed no KVMNET-SKIP line: see $log")
        skipped=$((skipped + unmarked))
    fi
    total_skipped=$((total_skipped + skipped))
    skips=""
    ((skipped == 0)) || skips=" ($skipped skipped)"

    if ((rc == 0)); then
        summary+=("$(printf '%-12s %-24s %8ss' "$stage" "passed$skips" "$secs")")
    else
        summary+=("$(printf '%-12s %-24s %8ss  (exit %d)' "$stage" "FAILED$skips" "$secs" "$rc")")
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
printf '%-12s %-24s %8ss\n' total "$( ((failed)) && echo FAILED || echo passed)" "$total"
if ((${#reasons[@]})); then
    printf 'skipped cases: %d, why:\n' "$total_skipped"
    printf '  %s\n' "${reasons[@]}"
else
    printf 'skipped cases: 0\n'
fi
printf 'logs: %s/<stage>.log\n' "${LOGS#"$ROOT/"}"
passed_count=$(printf '%s\n' "${summary[@]}" | grep -c ' passed' || true)
failed_count=$(printf '%s\n' "${summary[@]}" | grep -c ' FAILED' || true)
printf 'stages: %d passed, %d failed\n' "$passed_count" "$failed_count"
exit "$failed"
