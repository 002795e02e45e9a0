#!/usr/bin/env bash
# Materialise the collection at COLLECTIONS_DIR/ansible_collections/kvmnet/bridge and print that path.
#
#   scripts/collection-tree.sh [COLLECTIONS_DIR]     default COLLECTIONS_DIR: build (the shared copy)
#
# A tool that runs for long on the collection (molecule, the Wi-Fi VM's kernel cases) takes a private
# COLLECTIONS_DIR: the shared copy is replaced whenever lint, the unit or the integration tests run.
#
# ansible-test needs the collection under a real ansible_collections/NAMESPACE/NAME directory (it rejects symlinks),
# so this makes a plain copy of the working tree: every tracked or untracked-but-not-ignored file
# (`git ls-files -co --exclude-standard`), minus tracked files deleted in the working tree. Any previous copy is
# replaced, so files removed from the working tree disappear from the copy too.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
(($# <= 1)) || { sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
COLLECTIONS_DIR="$(realpath -m "${1:-$ROOT/build}")"
cd "$ROOT"

NAMESPACE=kvmnet
NAME=bridge
DEST="$COLLECTIONS_DIR/ansible_collections/$NAMESPACE/$NAME"

# Build the new copy next to the old one, then swap, so an interrupted run never leaves a half tree in place.
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST".new.*  # leftovers of a killed run
STAGE="$(mktemp -d "$DEST.new.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT

git ls-files -z -co --exclude-standard |
    while IFS= read -r -d '' f; do
        # skip tracked files that were deleted in the working tree
        if [[ -e "$f" || -L "$f" ]]; then printf '%s\0' "$f"; fi
    done |
    tar --null --no-recursion -T - -cf - |
    tar -xf - -C "$STAGE"

# mktemp -d makes the directory 0700: give it the usual mode
chmod 755 "$STAGE"
rm -rf "$DEST"
mv "$STAGE" "$DEST"
trap - EXIT

printf '%s\n' "$DEST"
