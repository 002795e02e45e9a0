#!/usr/bin/env bash
# The release artifact as users get it (a stage of scripts/test.sh): every check runs even after a failure; exit 1 if
# any failed.
#
#   scripts/release-check.sh
#
#   tarball          scripts/build.sh (ansible-galaxy collection build), installed into an EMPTY collections path
#                    (build/release/collections); its size and a file-list summary per top-level directory; nothing
#                    from the checkout's tools leaks in (venvs, build/, caches, tests/output, tarballs); every
#                    tracked file of plugins/ roles/ playbooks/ meta/ is in it; no sanity ignore files
#   verify           ansible-galaxy collection verify --offline: the installed files match the tarball's checksums
#   installed-docs   from an empty directory with only the installed copy on ANSIBLE_COLLECTIONS_PATH: ansible-doc
#                    lists every module and renders each one (and each role) from the installed path, and the fleet
#                    playbook kvmnet.bridge.kvm_bridge passes --syntax-check
#   ee               execution environment (no container engine here, so no image is built): ansible-builder
#                    introspect of the installed copy finds the Python and system packages of
#                    meta/execution-environment.yml, bindep parses bindep.txt, and `ansible-builder create` of
#                    tests/smoke/ee/ writes a build context (Containerfile, requirements, the tarball, the scripts)
#   release-notes    scripts/release-notes.sh (preview: CHANGELOG.md/.rst rendered from the fragments)
#   pre-commit       pre-commit validate-config .pre-commit-config.yaml
# The smoke playbook itself runs from an installed tarball in scripts/matrix.sh (every ansible-core series).
# Tools: .venv (ansible-galaxy, ansible-doc), build/venvs/release (requirements/matrix/release.txt: ansible-builder,
# bindep, pre-commit) via scripts/matrix.sh venv release.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
[[ -x "$VENV/bin/ansible-doc" ]] || { echo "release-check: $VENV missing: run scripts/bootstrap.sh" >&2; exit 1; }
WORK="$ROOT/build/release"
INSTALLED="$WORK/collections"
COLL="$INSTALLED/ansible_collections/kvmnet/bridge"
mkdir -p "$WORK"

failed=()
check() {
    local name="$1"
    shift
    printf '\n=== release-check: %s\n' "$name"
    if "$@"; then
        echo "--- $name: ok"
    else
        echo "--- $name: FAILED"
        failed+=("$name")
    fi
}

# ansible with nothing but the installed copy: empty working directory, no config, no user collections
installed_env() {
    local cwd rc=0
    cwd="$(mktemp -d "$WORK/cwd.XXXXXX")"
    (cd "$cwd" && env -u ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH="$INSTALLED" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
        ANSIBLE_HOME="$cwd/.ansible" ANSIBLE_NOCOLOR=1 PATH="$VENV/bin:$PATH" "$@") || rc=$?
    rm -rf "$cwd"
    return "$rc"
}

tarball=""
tarball_check() {
    tarball="$(scripts/build.sh --install "$INSTALLED")" || return 1
    local list bad missing
    list="$(tar -tzf "$tarball" | sed 's|/$||')"
    echo "tarball: ${tarball#"$ROOT/"}, $(stat -c %s "$tarball") bytes, $(wc -l <<<"$list") entries"
    # files (not directories) and bytes per top-level directory
    tar -tvzf "$tarball" | awk '$1 !~ /^d/ {n = split($6, p, "/"); top = (n > 1 ? p[1] "/" : p[1]);
        files[top]++; bytes[top] += $3} END {for (t in files) printf "  %-22s %4d files %9d bytes\n", t, files[t], bytes[t]}' |
        sort
    bad="$(grep -E '(^|/)(\.venv[^/]*|build|tests/output|__pycache__|\.ruff_cache|\.pytest_cache|\.ansible|\.molecule|\.git)(/|$)|\.pyc$|\.tar\.gz$' <<<"$list" || true)"
    if [[ -n "$bad" ]]; then
        echo "tarball: files from the checkout's tools leaked in (add them to build_ignore in galaxy.yml):"
        head -n 20 <<<"$bad"
        return 1
    fi
    missing="$(git ls-files -- plugins roles playbooks meta | grep -vxFf <(printf '%s\n' "$list") || true)"
    if [[ -n "$missing" ]]; then
        echo "tarball: tracked collection files missing (build_ignore too wide?):"
        head -n 20 <<<"$missing"
        return 1
    fi
    if grep -E '^tests/sanity/ignore-' <<<"$list"; then
        echo "tarball: sanity ignore files: fix the code instead"
        return 1
    fi
    for f in MANIFEST.json FILES.json meta/runtime.yml meta/execution-environment.yml meta/ee-requirements.txt \
        bindep.txt LICENSE tests/smoke/smoke.yml; do
        grep -qxF "$f" <<<"$list" || { echo "tarball: no $f"; return 1; }
    done
    [[ -f "$COLL/MANIFEST.json" ]] || { echo "tarball: not installed into $COLL"; return 1; }
}

verify_check() {
    [[ -n "$tarball" ]] || { echo "verify: no tarball (see above)"; return 1; }
    installed_env ansible-galaxy collection verify --offline -p "$INSTALLED" kvmnet.bridge
}

installed_docs_check() {
    [[ -f "$COLL/MANIFEST.json" ]] || { echo "installed-docs: nothing installed (see above)"; return 1; }
    local want have module out rc=0 role
    want="$(find "$ROOT/plugins/modules" -name '*.py' ! -name '__init__.py' -printf 'kvmnet.bridge.%f\n' | sed 's/\.py$//' | sort)"
    have="$(installed_env ansible-doc -t module -l kvmnet.bridge | awk '{print $1}' | sort)"
    if [[ "$want" != "$have" ]]; then
        echo "installed-docs: ansible-doc -l lists other modules than plugins/modules/:"
        diff <(echo "$want") <(echo "$have") || true
        return 1
    fi
    for module in $want; do
        # the page must come from the installed copy, not from the checkout or another path
        if ! out="$(installed_env ansible-doc -t module "$module" 2>&1)" || grep -qE '^\[(ERROR|WARNING)\]' <<<"$out" ||
            ! grep -qF "$COLL/plugins/modules/" <<<"$out"; then
            head -n 20 <<<"$out"
            echo "installed-docs: $module: FAILED (no clean page from $COLL)"
            rc=1
        else
            echo "installed-docs: $module: $(wc -l <<<"$out") lines from the installed copy"
        fi
    done
    for role in "$COLL"/roles/*/; do
        role="kvmnet.bridge.$(basename "$role")"
        if ! out="$(installed_env ansible-doc -t role "$role" 2>&1)" || grep -qE '^\[(ERROR|WARNING)\]' <<<"$out"; then
            head -n 20 <<<"$out"
            echo "installed-docs: role $role: FAILED"
            rc=1
        else
            echo "installed-docs: role $role: $(wc -l <<<"$out") lines"
        fi
    done
    installed_env ansible-playbook -i localhost, --syntax-check kvmnet.bridge.kvm_bridge || rc=1
    return "$rc"
}

RELEASE_VENV=""
ee_check() {
    [[ -f "$COLL/MANIFEST.json" ]] || { echo "ee: nothing installed (see above)"; return 1; }
    RELEASE_VENV="$(scripts/matrix.sh venv release)" || return 1
    local builder="$RELEASE_VENV/bin/ansible-builder" intro ctx dir pkg
    # 1. introspection, as ansible-builder runs it in the image after installing the collections
    intro="$("$builder" introspect --sanitize "$INSTALLED")" || return 1
    echo "$intro"
    for pkg in pyroute2 libvirt-python libvirt-devel pkgconf-pkg-config gcc; do
        grep -qE "^- '?${pkg}([<>=! ][^#]*)?# from collection kvmnet\.bridge'?$" <<<"$intro" ||
            { echo "ee: introspection lacks $pkg from kvmnet.bridge (meta/execution-environment.yml)"; return 1; }
    done
    # 2. bindep.txt parses, and names this machine's profile
    "$RELEASE_VENV/bin/bindep" -f bindep.txt --profiles | tail -n 2 || return 1
    # 3. the build context of the example EE definition, with this tarball
    dir="$(mktemp -d "$WORK/ee.XXXXXX")"
    cp tests/smoke/ee/execution-environment.yml tests/smoke/ee/requirements.yml "$dir/"
    cp "$tarball" "$dir/kvmnet-bridge.tar.gz"
    ctx="$WORK/ee-context"
    rm -rf "$ctx"
    (cd "$dir" && "$builder" create -f execution-environment.yml -c "$ctx" --output-filename Containerfile) || return 1
    rm -rf "$dir"
    echo "ee: context ${ctx#"$ROOT/"}:"
    (cd "$ctx" && find . -type f | sort | sed 's/^/  /')
    local f
    for f in Containerfile _build/requirements.yml _build/collections/kvmnet-bridge.tar.gz _build/scripts/assemble \
        _build/scripts/introspect.py _build/scripts/install-from-bindep; do
        [[ -f "$ctx/$f" ]] || { echo "ee: the context has no $f"; return 1; }
    done
    cmp -s "$tarball" "$ctx/_build/collections/kvmnet-bridge.tar.gz" || { echo "ee: the context's tarball differs"; return 1; }
    grep -qF /build/collections/kvmnet-bridge.tar.gz "$ctx/_build/requirements.yml" ||
        { echo "ee: _build/requirements.yml does not install the tarball"; return 1; }
    # shellcheck disable=SC2016 # literal Containerfile text
    for pkg in 'ARG EE_BASE_IMAGE="registry.fedoraproject.org/fedora:41"' 'COPY _build /build' \
        'ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml' \
        'introspect.py introspect' 'install-from-bindep'; do
        grep -qF -- "$pkg" "$ctx/Containerfile" || { echo "ee: Containerfile lacks '$pkg'"; return 1; }
    done
    echo "ee: Containerfile $(wc -l <"$ctx/Containerfile") lines; no image built (no container engine here)"
}

pre_commit_check() {
    [[ -n "$RELEASE_VENV" ]] || RELEASE_VENV="$(scripts/matrix.sh venv release)" || return 1
    "$RELEASE_VENV/bin/pre-commit" validate-config .pre-commit-config.yaml
}

check tarball tarball_check
check verify verify_check
check installed-docs installed_docs_check
check ee ee_check
check release-notes scripts/release-notes.sh
check pre-commit pre_commit_check

echo
if ((${#failed[@]})); then
    echo "release-check: FAILED: ${failed[*]}"
    exit 1
fi
echo "release-check: all checks passed"
