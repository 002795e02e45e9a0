#!/usr/bin/env bash
# Prepare a machine (Debian 12, root) for building and testing the collection.
#
#   scripts/bootstrap.sh
#
# Idempotent and fast when already done:
#   - apt packages are installed only when one of their commands is missing;
#   - each virtualenv carries a stamp with the hash of its requirement file and the interpreter it was built with,
#     and is rebuilt from scratch only when that changes.
# Virtualenvs (at the repo root, built with the python3 on PATH):
#   .venv                 requirements/test.txt         (ansible-core, pyroute2 0.9, pytest, ruff, ansible-lint, ...)
#   .venv-pyroute2-0.7    requirements/pyroute2-0.7.txt (ansible-core, pytest, pyroute2 0.7.2 as in Debian 12)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# --- system packages -------------------------------------------------------------------------------------------
# command -> Debian package providing it
declare -A PKG_FOR=(
    [ip]=iproute2        # ip netns, ip -j link/addr/route
    [git]=git            # git ls-files for the collection tree
    [make]=make          # Makefile entry points
    [unshare]=util-linux # private mount namespaces
    [tar]=tar            # copying the collection tree
    [diff]=diffutils     # root-netns guard
    [shellcheck]=shellcheck  # ansible-test sanity "shellcheck" (skipped with a warning when missing)
    [ping]=iputils-ping  # bridge_port migration test: pings every 10 ms across the move
    [brctl]=bridge-utils # linux_bridge_info test: our brctl layouts against the real brctl
)
missing=()
for cmd in "${!PKG_FOR[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${PKG_FOR[$cmd]}")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        log "missing packages ${missing[*]} and not root: install them first"
        exit 1
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- virtualenvs -------------------------------------------------------------------------------------------------
PYTHON="$(command -v python3)"
PY_ID="$("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')"

# make_venv DIR REQUIREMENTS: (re)create DIR unless its stamp matches REQUIREMENTS' hash and the interpreter.
make_venv() {
    local dir="$1" req="$2" want have=""
    want="$(sha256sum "$req" | cut -d' ' -f1) $PY_ID"
    [[ -f "$dir/.kvmnet-stamp" ]] && have="$(cat "$dir/.kvmnet-stamp")"
    if [[ "$have" == "$want" && -x "$dir/bin/python" ]]; then
        log "$dir up to date"
        return 0
    fi
    log "building $dir from $req"
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    # (this machine's pip config lists local index directories that may not exist: drop those warnings)
    "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$req" \
        2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
    "$dir/bin/python" -m pip check >&2
    printf '%s\n' "$want" >"$dir/.kvmnet-stamp"
}

make_venv .venv requirements/test.txt
make_venv .venv-pyroute2-0.7 requirements/pyroute2-0.7.txt
log "done"
