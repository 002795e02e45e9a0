#!/usr/bin/env bash
# Static checks of the whole repository. Every check runs even if an earlier one failed; exit 1 if any failed.
#
#   scripts/lint.sh
#
#   ruff                   Python style and bugs in plugins/ tests/ scripts/ (ruff.toml)
#   shell scripts          shellcheck over scripts/, tests/{lab,e2e,machines,fleet,netfilter,bench,persist,demo,campaign/*,wifi_vm}/*.sh, .ci/run
#   ansible-lint           playbooks, roles, task files, galaxy.yml, YAML style via its yamllint-based `yaml` rule
#                          (.ansible-lint); sees the collection through build/ so kvmnet.bridge.* modules resolve
#   role-specs             each role's defaults vs argument_specs, README variable tables generated from the specs
#   antsibull-changelog    changelog fragments and changelogs/changelog.yaml
#   ansible-doc            every module's documentation renders, without errors or warnings
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
[[ -x "$VENV/bin/ansible-lint" ]] || { echo "lint: $VENV missing: run scripts/bootstrap.sh" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"

failed=()
check() {
    local name="$1"
    shift
    printf '\n=== lint: %s\n' "$name"
    if "$@"; then
        echo "--- $name: ok"
    else
        echo "--- $name: FAILED"
        failed+=("$name")
    fi
}

check ruff ruff check --no-cache plugins tests scripts

shell_scripts=(scripts/*.sh tests/lab/*.sh tests/e2e/*.sh tests/machines/*.sh tests/fleet/*.sh tests/netfilter/*.sh tests/bench/*.sh
               tests/persist/*.sh tests/demo/*.sh tests/campaign/*/*.sh tests/wifi_vm/*.sh)
[[ -f .ci/run ]] && shell_scripts+=(.ci/run)
if command -v shellcheck >/dev/null; then
    check shellcheck shellcheck "${shell_scripts[@]}"
else
    echo "lint: shellcheck missing (scripts/bootstrap.sh installs it)" >&2
    failed+=(shellcheck)
fi

# ansible-lint resolves kvmnet.bridge.* through the collection copy (its own "install the current collection" step
# needs Galaxy, which is unreachable).
scripts/collection-tree.sh >/dev/null
lint_args=()
[[ -t 1 ]] || lint_args+=(--nocolor)
check ansible-lint env ANSIBLE_COLLECTIONS_PATH="$ROOT/build" ansible-lint "${lint_args[@]}"

# roles: defaults/main.yml equals meta/argument_specs.yml, no undeclared public variable, README tables not stale
check role-specs "$VENV/bin/python" scripts/check-role-specs.py

check antsibull-changelog sh -c 'antsibull-changelog lint && antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml'

# Every module's docs render (ansible-doc prints [ERROR]/[WARNING] but may still exit 0 for some problems).
ansible_doc_renders() {
    local module out rc=0
    for module in plugins/modules/*.py; do
        module="kvmnet.bridge.$(basename "$module" .py)"
        if ! out=$(ANSIBLE_COLLECTIONS_PATH="$ROOT/build" ansible-doc -t module "$module" 2>&1) ||
            grep -qE '^\[(ERROR|WARNING)\]' <<<"$out"; then
            echo "$out" | head -n 20
            echo "ansible-doc $module: FAILED"
            rc=1
        else
            echo "ansible-doc $module: $(wc -l <<<"$out") lines"
        fi
    done
    return "$rc"
}
check ansible-doc ansible_doc_renders

echo
if ((${#failed[@]})); then
    echo "lint: FAILED: ${failed[*]}"
    exit 1
fi
echo "lint: all checks passed"
