#!/usr/bin/env bash
# Build the release artifact: `ansible-galaxy collection build` of the working tree into build/dist/, print its path.
#
#   scripts/build.sh                   build/dist/kvmnet-bridge-<version>.tar.gz (replaced if it exists)
#   scripts/build.sh --install DIR     ... then install it into DIR, emptied first (DIR/ansible_collections/kvmnet/
#                                      bridge), offline: the collection has no dependencies, Galaxy is never asked
#
# What goes in is galaxy.yml's business (build_ignore): this script adds nothing and filters nothing, so the tarball is
# exactly what a user building from a clone gets. ansible-galaxy from .venv (scripts/bootstrap.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
GALAXY="$ROOT/.venv/bin/ansible-galaxy"
[[ -x "$GALAXY" ]] || { echo "build: $GALAXY missing: run scripts/bootstrap.sh" >&2; exit 1; }

install_dir=""
case "${1:-}" in
    "") ;;
    --install)
        [[ -n "${2:-}" ]] || { echo "usage: $0 [--install DIR]" >&2; exit 2; }
        install_dir="$2" ;;
    *) echo "usage: $0 [--install DIR]" >&2; exit 2 ;;
esac

DIST="$ROOT/build/dist"
mkdir -p "$DIST"
version="$("$ROOT/.venv/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' galaxy.yml)"
tarball="$DIST/kvmnet-bridge-$version.tar.gz"
# build into a private directory, then move: a concurrent reader never sees a half-written tarball
stage="$(mktemp -d "$DIST/.build.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
"$GALAXY" collection build --force --output-path "$stage" . >&2
mv -f "$stage/kvmnet-bridge-$version.tar.gz" "$tarball"

if [[ -n "$install_dir" ]]; then
    rm -rf "$install_dir"
    mkdir -p "$install_dir"
    "$GALAXY" collection install --offline --no-deps -p "$install_dir" "$tarball" >&2
    [[ -f "$install_dir/ansible_collections/kvmnet/bridge/MANIFEST.json" ]] || {
        echo "build: $tarball did not install into $install_dir/ansible_collections/kvmnet/bridge" >&2
        exit 1
    }
fi
printf '%s\n' "$tarball"
