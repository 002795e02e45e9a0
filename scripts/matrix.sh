#!/usr/bin/env bash
# The version matrix (a stage of scripts/test.sh; `make matrix`): every supported ansible-core series, each in its own
# cached virtualenv with the Python it needs.
#
#   scripts/matrix.sh [CELL...]        default: every cell, i.e. every requirements/matrix/{sanity,smoke}-*.txt
#   scripts/matrix.sh venv NAME        build (or reuse) build/venvs/NAME from requirements/matrix/NAME.txt, print it
#
# Cells (one requirements file each; its `# python: X.Y` line names the interpreter):
#   smoke-<series>    the release tarball (scripts/build.sh) installed into an empty collections path, then
#                     tests/smoke/smoke.yml OF THAT INSTALLED COPY run by that series' ansible-playbook inside a
#                     throwaway network namespace (scripts/netns-instance.sh): a bridge and a port, 4 steps each
#                     (check mode with diff, apply, idempotent check, idempotent apply), then absent, each step
#                     compared with `ip -j -d link`. The venv holds only ansible-core and pyroute2.
#   sanity-<series>   scripts/sanity.sh with that series' ansible-test: every sanity test on the controller Python,
#                     then `--test compile` on every target Python that series supports (ansible-test's own list)
#                     and this machine has; a target Python missing here is a KVMNET-SKIP line, never a silent gap.
#                     scripts/sanity.sh runs ansible-test from .venv: a private mount namespace (unshare) puts the
#                     cell's venv over .venv for that process tree only, so there is one sanity runner, not two.
# Venvs: build/venvs/<name>, stamped with the sha256 of their requirements file and the interpreter, reused while
# both are unchanged, rebuilt from scratch when a pin changes (same rule as scripts/bootstrap.sh). Interpreters:
# pyenv's (PYENV_ROOT, default ~/.pyenv) python X.Y, else pythonX.Y on PATH.
#
# Each cell prints one line `matrix: <cell> series=... python=... pyroute2=... result=... <seconds>s`; the stage ends
# with the table of all cells (also in build/matrix/summary.txt) and exits 1 if any cell failed or if no cell ran.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REQ_DIR="$ROOT/requirements/matrix"
VENVS="$ROOT/build/venvs"
WORK="$ROOT/build/matrix"
PYENV_ROOT="${PYENV_ROOT:-$HOME/.pyenv}"

log() { printf '[matrix] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# find_python X.Y: path of a working python X.Y (pyenv's newest X.Y.*, else pythonX.Y on PATH), or nothing.
find_python() {
    local v="$1" c
    for c in $(printf '%s\n' "$PYENV_ROOT"/versions/"$v".*/bin/python"$v" | sort -V -r) "$(command -v "python$v" || true)"; do
        [[ -x "$c" ]] && "$c" -c 'import sys' >/dev/null 2>&1 && { printf '%s\n' "$c"; return 0; }
    done
    return 0
}

# req_python FILE: the X.Y of FILE's `# python: X.Y` line.
req_python() {
    local v
    v="$(sed -n 's/^# python: *\([0-9][0-9.]*\) *$/\1/p' "$1" | head -n 1)"
    [[ -n "$v" ]] || die "$1 has no '# python: X.Y' line: add one naming the interpreter of that venv"
    printf '%s\n' "$v"
}

# make_venv NAME: (re)build build/venvs/NAME from requirements/matrix/NAME.txt unless its stamp matches; print it.
make_venv() {
    local name="$1" req="$REQ_DIR/$1.txt" dir="$VENVS/$1" v py want have=""
    [[ -f "$req" ]] || die "no ${req#"$ROOT/"}: a venv NAME is a requirements/matrix/NAME.txt"
    v="$(req_python "$req")"
    py="$(find_python "$v")"
    [[ -n "$py" ]] || die "$name needs Python $v ($req): none in $PYENV_ROOT/versions or on PATH (pyenv install $v)"
    want="$(sha256sum "$req" | cut -d' ' -f1) $("$py" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    [[ -f "$dir/.kvmnet-stamp" ]] && have="$(cat "$dir/.kvmnet-stamp")"
    if [[ "$have" == "$want" && -x "$dir/bin/python" ]]; then
        log "$dir up to date"
    else
        log "building $dir from ${req#"$ROOT/"} with $py"
        local start=$SECONDS
        rm -rf "$dir"
        mkdir -p "$VENVS"
        "$py" -m venv "$dir"
        # (this machine's pip config lists local index directories that may not exist: drop those warnings)
        "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$req" \
            2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
        "$dir/bin/python" -m pip check >&2
        printf '%s\n' "$want" >"$dir/.kvmnet-stamp"
        log "$dir built in $((SECONDS - start)) s"
    fi
    printf '%s\n' "$dir"
}

if [[ "${1:-}" == venv ]]; then
    [[ $# -eq 2 ]] || { echo "usage: $0 venv NAME" >&2; exit 2; }
    make_venv "$2"
    exit 0
fi

# version of a distribution installed in venv $1 (package metadata: Debian-style pyroute2 builds report 'unknown')
dist_version() {
    "$1/bin/python" -c 'import sys
from importlib.metadata import PackageNotFoundError, version
try:
    print(version(sys.argv[1]))
except PackageNotFoundError:
    print("-")' "$2"
}

# --- cells -----------------------------------------------------------------------------------------------------
INSTALLED="$WORK/collections"   # the tarball, installed once per run; every smoke cell runs from it
installed=0
install_tarball() {
    ((installed)) && return 0
    log "building the release tarball and installing it into ${INSTALLED#"$ROOT/"} (empty)"
    "$ROOT/scripts/build.sh" --install "$INSTALLED" >&2
    installed=1
}

# smoke_cell VENV: the installed copy's smoke playbook, run by the venv's ansible-playbook in a throwaway namespace,
# from an empty working directory (no ansible.cfg, no playbook-adjacent collections of the checkout).
smoke_cell() {
    local venv="$1" playbook cwd rc=0
    install_tarball || return 1
    playbook="$INSTALLED/ansible_collections/kvmnet/bridge/tests/smoke/smoke.yml"
    [[ -f "$playbook" ]] || { log "the installed collection has no tests/smoke/smoke.yml (build_ignore?)"; return 1; }
    cwd="$(mktemp -d "$WORK/smoke.XXXXXX")"
    (
        cd "$cwd"
        env -u ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH="$INSTALLED" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
            ANSIBLE_HOME="$cwd/.ansible" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 \
            "$ROOT/scripts/netns-instance.sh" smoke -- \
            "$venv/bin/ansible-playbook" -i localhost, "$playbook"
    ) || rc=$?
    rm -rf "$cwd"
    return "$rc"
}

# sanity_run VENV ARGS...: scripts/sanity.sh with VENV in place of .venv (private mount namespace), target
# interpreters on PATH.
sanity_run() {
    local venv="$1"
    shift
    [[ -d "$ROOT/.venv" ]] || { log "$ROOT/.venv missing: run scripts/bootstrap.sh"; return 1; }
    # shellcheck disable=SC2016 # $1.. belong to the inner bash
    PATH="$PYBIN:$PATH" unshare --mount --propagation private -- \
        bash -c 'mount --bind "$1" "$2/.venv" && shift 2 && exec "$@"' bash "$venv" "$ROOT" \
        "$ROOT/scripts/sanity.sh" "$@"
}

# sanity_cell VENV PYTHON: all sanity tests on the controller PYTHON, then compile on each other target Python.
sanity_cell() {
    local venv="$1" controller="$2" targets v py rc=0 ran=()
    targets="$("$venv/bin/python" -c 'from ansible_test._internal.constants import SUPPORTED_PYTHON_VERSIONS as v
print(" ".join(v))')"
    log "$(basename "$venv"): ansible-test target Pythons: $targets (controller $controller)"
    # one directory with pythonX.Y links for ansible-test --venv (pyenv's shims only run the selected version)
    PYBIN="$WORK/pythons-$(basename "$venv")"
    rm -rf "$PYBIN"
    mkdir -p "$PYBIN"
    for v in $targets; do
        py="$(find_python "$v")"
        [[ -n "$py" ]] && ln -s "$py" "$PYBIN/python$v"
    done
    sanity_run "$venv" --python "$controller" || rc=1
    ran+=("$controller")
    for v in $targets; do
        [[ "$v" == "$controller" ]] && continue
        if [[ ! -e "$PYBIN/python$v" ]]; then
            echo "KVMNET-SKIP: $(basename "$venv"): compile on target Python $v: no python$v on this machine"
            continue
        fi
        sanity_run "$venv" --test compile --python "$v" || rc=1
        ran+=("$v")
    done
    log "$(basename "$venv"): compile ran on Python ${ran[*]}"
    return "$rc"
}

# --- main --------------------------------------------------------------------------------------------------------
cells=("$@")
if ((${#cells[@]} == 0)); then
    for f in "$REQ_DIR"/sanity-*.txt "$REQ_DIR"/smoke-*.txt; do
        [[ -f "$f" ]] && cells+=("$(basename "$f" .txt)")
    done
fi
((${#cells[@]})) || die "no cells: requirements/matrix/ has no sanity-*.txt or smoke-*.txt"
for cell in "${cells[@]}"; do
    [[ "$cell" =~ ^(sanity|smoke)-[0-9.]+$ && -f "$REQ_DIR/$cell.txt" ]] ||
        die "unknown cell $cell: a cell is sanity-<series> or smoke-<series> with requirements/matrix/<cell>.txt"
done
mkdir -p "$WORK"

rows=()
failed=0
for cell in "${cells[@]}"; do
    printf '\n=== matrix: %s\n' "$cell"
    start=$EPOCHREALTIME
    rc=0
    series="${cell#*-}" python="-" core="-" pyroute2="-"
    if venv="$(make_venv "$cell")"; then
        python="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        core="$(dist_version "$venv" ansible-core)"
        pyroute2="$(dist_version "$venv" pyroute2)"
        if [[ "$core" != "$series".* ]]; then
            log "$cell: the venv has ansible-core $core, not a $series release: fix requirements/matrix/$cell.txt"
            rc=1
        elif [[ "$cell" == smoke-* ]]; then
            smoke_cell "$venv" || rc=$?
        else
            sanity_cell "$venv" "$python" || rc=$?
        fi
    else
        rc=1
    fi
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    result=passed
    ((rc == 0)) || { result=FAILED; failed=1; }
    row="$(printf '%-11s %-7s %-13s %-9s %-7s %8ss' "$cell" "$python" "$core" "$pyroute2" "$result" "$secs")"
    rows+=("$row")
    printf 'matrix: %s series=%s python=%s ansible-core=%s pyroute2=%s result=%s %ss\n' \
        "$cell" "$series" "$python" "$core" "$pyroute2" "$result" "$secs"
done

{
    printf '\n%-11s %-7s %-13s %-9s %-7s %9s\n' cell python ansible-core pyroute2 result time
    printf '%s\n' "${rows[@]}"
    printf 'cells: %d passed, %d failed\n' "$(printf '%s\n' "${rows[@]}" | grep -c ' passed ' || true)" \
        "$(printf '%s\n' "${rows[@]}" | grep -c ' FAILED ' || true)"
} | tee "$WORK/summary.txt"
exit "$failed"
