#!/usr/bin/env bash
# Release notes with antsibull-changelog (`make release-notes`), from changelogs/fragments/ and
# changelogs/changelog.yaml, for the version in galaxy.yml.
#
#   scripts/release-notes.sh             preview: a scratch copy of the collection gets `antsibull-changelog release`;
#                                        CHANGELOG.md and CHANGELOG.rst land in build/release-notes/ (the checkout
#                                        is not touched, the fragments stay)
#   scripts/release-notes.sh --release   the release itself, in the checkout: the fragments are folded into
#                                        changelogs/changelog.yaml (and removed, keep_fragments: false), CHANGELOG.md
#                                        and CHANGELOG.rst are written; commit them with galaxy.yml's version
#
# Both first check that every fragment entry names something the collection has: an entry's `name - ` prefix and
# every kvmnet.bridge.NAME in it must be a module, role, filter, playbook or action group of the collection (no notes about roles
# that do not exist). antsibull-changelog and ansible-doc come from .venv (scripts/bootstrap.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
[[ -x "$VENV/bin/antsibull-changelog" ]] || { echo "release-notes: $VENV missing: run scripts/bootstrap.sh" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"

mode=preview
case "${1:-}" in
    "") ;;
    --release) mode=release ;;
    *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac

# every fragment entry names existing content
"$VENV/bin/python" - <<'PY'
import pathlib
import re
import sys

import yaml

root = pathlib.Path('.')
content = {p.stem for p in (root / 'plugins' / 'modules').glob('*.py')}
content |= {p.name for p in (root / 'roles').iterdir() if p.is_dir()}
content |= {p.stem for p in (root / 'playbooks').glob('*.yml')}
# action groups (group/kvmnet.bridge.NAME in module_defaults)
content |= set((yaml.safe_load((root / 'meta' / 'runtime.yml').read_text()).get('action_groups') or {}))
for path in (root / 'plugins' / 'filter').glob('*.py'):
    # filter names are the keys of FilterModule.filters(): the quoted names before ':' in that file
    content |= set(re.findall(r"['\"]([a-z_0-9]+)['\"]\s*:", path.read_text()))
problems = []
entries = 0
for fragment in sorted((root / 'changelogs' / 'fragments').glob('*.yml')):
    for section, items in (yaml.safe_load(fragment.read_text()) or {}).items():
        for entry in items if isinstance(items, list) else []:
            entries += 1
            prefix = re.match(r'([a-z_0-9]+) - ', entry)
            names = set(re.findall(r'kvmnet\.bridge\.([a-z_0-9]+)', entry))
            if prefix:
                names.add(prefix.group(1))
            for name in sorted(names - content):
                problems.append(f'{fragment}: {section}: "{name}" is no module, role, filter, playbook or action group of the '
                                f'collection: name existing content, or drop the entry')
for problem in problems:
    print(f'release-notes: {problem}', file=sys.stderr)
print(f'release-notes: {entries} fragment entries name existing content' if not problems else '', file=sys.stderr)
sys.exit(1 if problems else 0)
PY

version="$("$VENV/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' galaxy.yml)"
if [[ "$mode" == release ]]; then
    antsibull-changelog release --version "$version"
    antsibull-changelog generate
    echo "release-notes: $version released: changelogs/changelog.yaml, CHANGELOG.md, CHANGELOG.rst (commit them)"
    exit 0
fi

# preview: the same commands in a scratch copy of the collection's content
OUT="$ROOT/build/release-notes"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/kvmnet-release-notes.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
copy="$scratch/ansible_collections/kvmnet/bridge"
mkdir -p "$copy"
git ls-files -z -co --exclude-standard -- galaxy.yml README.md meta plugins roles playbooks changelogs |
    while IFS= read -r -d '' f; do [[ -e "$f" ]] && printf '%s\0' "$f"; done |
    tar --null --no-recursion -T - -cf - | tar -xf - -C "$copy"
(
    cd "$copy"
    antsibull-changelog release --version "$version" --date "$(date -u +%Y-%m-%d)" >&2
    antsibull-changelog generate >&2
)
mkdir -p "$OUT"
for f in CHANGELOG.md CHANGELOG.rst; do
    [[ -s "$copy/$f" ]] || { echo "release-notes: antsibull-changelog wrote no $f: see changelogs/config.yaml" >&2; exit 1; }
    grep -q "v$version" "$copy/$f" || { echo "release-notes: $f has no v$version section" >&2; exit 1; }
    cp "$copy/$f" "$OUT/$f"
done
echo "release-notes: preview of $version: ${OUT#"$ROOT/"}/CHANGELOG.md ($(wc -l <"$OUT/CHANGELOG.md") lines)," \
    "${OUT#"$ROOT/"}/CHANGELOG.rst ($(wc -l <"$OUT/CHANGELOG.rst") lines)"
