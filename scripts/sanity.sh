#!/usr/bin/env bash
# Run ansible-test sanity for the collection, from a fresh copy of the working tree.
#
#   scripts/sanity.sh [EXTRA ansible-test sanity ARGS...]     e.g. scripts/sanity.sh --test validate-modules
#
# Uses ansible-test from .venv (scripts/bootstrap.sh) with --venv: each sanity test gets its own virtualenv under
# ~/.ansible/test/venv (built on the first run, ~minutes; reused afterwards). Exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
[[ -x "$VENV/bin/ansible-test" ]] || { echo "sanity: $VENV missing: run scripts/bootstrap.sh" >&2; exit 1; }

# ansible-test bootstraps pip in each new virtualenv with a get-pip.py it downloads from a host this machine cannot
# reach, unless ~/.ansible/test/cache/get_pip_<pip version with dots as underscores>.py exists
# (ansible_test/_util/target/setup/requirements.py: bootstrap()). The pip version is ansible-test's own pin
# (python_requirements.get_venv_packages). Our stand-in gets pip from the interpreter's ensurepip, then installs the
# requested pip release from the package index.
PIP_VERSION="$("$VENV/bin/python" -c '
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="3.11"))["pip"])')"
GET_PIP="$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py"
mkdir -p "$(dirname "$GET_PIP")"
cat >"$GET_PIP.tmp" <<'PY'
# Stand-in for get-pip.py, written by kvmnet.bridge scripts/sanity.sh (the real one cannot be downloaded here).
# ansible-test runs it inside a virtualenv created with --without-pip, with arguments such as
#   --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel
import importlib.util
import subprocess
import sys

GET_PIP_ONLY = ('--no-setuptools', '--no-wheel')  # get-pip.py options that pip itself does not know
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
had_setuptools = importlib.util.find_spec('setuptools') is not None

subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--quiet'] + args)
# ensurepip of Python < 3.12 also installs setuptools: remove it again when it was not wanted
if '--no-setuptools' in sys.argv and not had_setuptools:
    subprocess.check_call([sys.executable, '-m', 'pip', 'uninstall', '--quiet', '--yes', 'setuptools'])
PY
mv "$GET_PIP.tmp" "$GET_PIP"

TREE="$("$ROOT/scripts/collection-tree.sh")"
cd "$TREE"
export PATH="$VENV/bin:$PATH"
# The copy lives inside this git repository, under the ignored build/: left alone, ansible-test would find the
# repository's .git by walking up, list files with git and see none. Pinning the content root makes it treat the copy
# as unversioned content (every file in it counts).
export ANSIBLE_TEST_CONTENT_ROOT="$TREE"
exec ansible-test sanity --venv --python 3.11 --color no "$@"
