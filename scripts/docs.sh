#!/usr/bin/env bash
# `make docs`: the collection's documentation site, built the ecosystem's way (antsibull-docs renders every
# module, filter and role from its own documentation, Sphinx builds the HTML), into build/docs-site/build/html/.
#
#   scripts/docs.sh            build the site; any antsibull-docs error or Sphinx warning fails the build
#   scripts/docs.sh --check    build, then open one module page in a headless browser (Chromium) and check that the
#                              rendered options table lists every option ansible-doc knows (what `make test` runs)
#
# Needs .venv-docs (requirements/docs.txt) and chromium-headless-shell for --check: scripts/bootstrap.sh installs
# both. Offline: Sphinx's intersphinx inventories (docs.ansible.com, docs.python.org) are unreachable here, so the
# generated conf.py gets no intersphinx mapping, and the labels antsibull-docs points into the Ansible docs
# (common_return_values, ..., and the pages of modules of other collections our docs name, such as
# ansible.builtin.wait_for_connection) are provided by a small page of external links (rst/ansible-references.rst).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-docs"
SITE="$ROOT/build/docs-site"
CHECK_MODULE=linux_bridge  # the page --check opens

log() { printf '[docs] %s\n' "$*" >&2; }

check=false
case "${1:-}" in
    --check) check=true ;;
    '') ;;
    *) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
[[ -x "$VENV/bin/antsibull-docs" && -x "$VENV/bin/sphinx-build" ]] ||
    { log "$VENV has no antsibull-docs/sphinx-build: run scripts/bootstrap.sh"; exit 1; }

TREE="$(scripts/collection-tree.sh)"
COLLECTIONS="${TREE%/ansible_collections/*}"
export PATH="$VENV/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS" ANSIBLE_NOCOLOR=1

start=$SECONDS
rm -rf "$SITE"
mkdir -p "$SITE"
antsibull-docs sphinx-init --use-current --dest-dir "$SITE" kvmnet.bridge >"$SITE/init.log"
cat >>"$SITE/conf.py" <<'EOF'

# kvmnet.bridge (scripts/docs.sh): built offline, so no intersphinx inventories; rst/ansible-references.rst
# provides the labels antsibull-docs links into the Ansible documentation.
intersphinx_mapping = {}
EOF
mkdir -p "$SITE/rst"
chmod og-w "$SITE/rst"  # antsibull-docs wants the destination writable only by its owner
antsibull-docs --config-file "$SITE/antsibull-docs.cfg" collection --use-current --fail-on-error \
    --cleanup everything --dest-dir "$SITE/rst" kvmnet.bridge >"$SITE/antsibull.log" 2>&1 ||
    { cat "$SITE/antsibull.log" >&2; log "antsibull-docs failed"; exit 1; }
cat >"$SITE/rst/ansible-references.rst" <<'EOF'
:orphan:

References into the Ansible documentation
=========================================

.. _common_return_values:

Common return values
--------------------

The values every Ansible module returns: see
`Return Values <https://docs.ansible.com/ansible/latest/reference_appendices/common_return_values.html>`_.

.. _ansible_configuration_settings:

Ansible configuration settings
------------------------------

See `Ansible Configuration Settings
<https://docs.ansible.com/ansible/latest/reference_appendices/config.html>`_.
EOF
# modules of other collections that our docs link (M(ansible.builtin.wait_for_connection)): a label each, pointing to
# the module's page on docs.ansible.com
grep -rhoE 'ansible_collections\.[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+_module' "$SITE/rst" | sort -u |
    grep -v '^ansible_collections\.kvmnet\.bridge\.' | while read -r label; do
        fqcn="${label#ansible_collections.}"
        fqcn="${fqcn%_module}"
        namespace="${fqcn%%.*}" rest="${fqcn#*.}"
        collection="${rest%%.*}" module="${rest#*.}"
        # shellcheck disable=SC2016  # the backquotes are reStructuredText's link syntax
        printf '\n.. _%s:\n\n%s\n%s\n\nSee `%s <https://docs.ansible.com/ansible/latest/collections/%s/%s/%s_module.html>`_.\n' \
            "$label" "$fqcn" "$(printf '%*s' "${#fqcn}" '' | tr ' ' -)" "$fqcn" "$namespace" "$collection" "$module"
    done >>"$SITE/rst/ansible-references.rst"
if ! sphinx-build -M html "$SITE/rst" "$SITE/build" -c "$SITE" -W --keep-going -q >"$SITE/sphinx.log" 2>&1; then
    cat "$SITE/sphinx.log" >&2
    log "Sphinx reported warnings or errors (above): the site must build cleanly"
    exit 1
fi
html="$SITE/build/html"
pages="$(find "$html/collections/kvmnet/bridge" -name '*.html' | wc -l)"
log "site built in $((SECONDS - start)) s: $pages pages under $html/collections/kvmnet/bridge (index: $html/index.html)"

$check || exit 0

# --- the rendered page in a real browser ---------------------------------------------------------------------------
BROWSER="$(command -v chromium-headless-shell || command -v chromium || true)"
[[ -n "$BROWSER" ]] || { log "no headless Chromium (chromium-headless-shell): run scripts/bootstrap.sh"; exit 1; }
page="$html/collections/kvmnet/bridge/${CHECK_MODULE}_module.html"
[[ -f "$page" ]] || { log "$page was not built"; exit 1; }
dom="$SITE/${CHECK_MODULE}_module.dom.html"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
# --no-sandbox: root cannot use Chromium's sandbox; the page is our own file
timeout 60 "$BROWSER" --headless --no-sandbox --disable-gpu --user-data-dir="$profile" --dump-dom \
    "file://$page" >"$dom" 2>"$SITE/browser.log" || { cat "$SITE/browser.log" >&2; log "the browser failed"; exit 1; }
ansible-doc -t module --json "kvmnet.bridge.$CHECK_MODULE" >"$SITE/${CHECK_MODULE}.ansible-doc.json"
"$VENV/bin/python" - "$dom" "$SITE/${CHECK_MODULE}.ansible-doc.json" "kvmnet.bridge.$CHECK_MODULE" <<'PY'
import html.parser
import json
import sys

dom_path, doc_path, name = sys.argv[1:]
options = sorted(json.load(open(doc_path))[name]['doc']['options'])


class Table(html.parser.HTMLParser):
    """The options table antsibull-docs renders: its rows' option anchors (ansible-option-title ids)."""

    def __init__(self):
        super().__init__()
        self.tables = 0
        self.titles = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get('class') or '').split()
        if tag == 'table' and 'ansible-option-table' in classes:
            self.tables += 1
        if 'ansible-option-title' in classes and attrs.get('id'):
            self.titles.append(attrs['id'])


parser = Table()
parser.feed(open(dom_path, encoding='utf-8').read())
prefix = 'ansible-collections-%s-module-parameter-' % name.replace('.', '-').replace('_', '-')
found = sorted(option for option in options if prefix + option.replace('_', '-') in parser.titles)
missing = sorted(set(options) - set(found))
print('[docs] browser: %s page: %d options table(s), %d of %d options rendered%s'
      % (name, parser.tables, len(found), len(options), (' (missing: %s)' % ', '.join(missing)) if missing else ''),
      file=sys.stderr)
sys.exit(0 if parser.tables >= 1 and not missing else 1)
PY
