#!/usr/bin/env bash
# Prepare a machine (Debian 12, root) for building and testing the collection.
#
#   scripts/bootstrap.sh
#
# Idempotent and fast when already done:
#   - apt packages are installed only when one of their commands (or, for packages without a command, the package
#     itself) is missing, always with --no-install-recommends;
#   - the lab's libvirt/QEMU packages (tests/lab, docs/testing.md "The lab harness"): never libvirt-daemon-system,
#     which would start libvirtd and a NAT network in the root namespace; the `libvirt-qemu` account that package
#     would create is created here, because libvirtd's QEMU driver refuses to start without it (even with
#     user = "root" in qemu.conf);
#   - each virtualenv carries a stamp with the hash of its requirement file and the interpreter it was built with,
#     and is rebuilt from scratch only when that changes.
# Virtualenvs (at the repo root, built with the python3 on PATH):
#   .venv                 requirements/test.txt         (ansible-core, pyroute2 0.9, pytest, ruff, ansible-lint,
#                                                         libvirt-python, ...)
#   .venv-pyroute2-0.7    requirements/pyroute2-0.7.txt (ansible-core, pytest, pyroute2 0.7.2 as in Debian 12,
#                                                         libvirt-python)
#   .venv-docs            requirements/docs.txt         (antsibull-docs, Sphinx: the documentation site, make docs)
# Collections the tests need besides this one (Galaxy is unreachable here, PyPI is not):
#   build/collections/ansible_collections/community/docker   its `nsenter` connection reaches the namespace machines
#     of the molecule scenarios (tests/machines/machine.sh). Taken from the `ansible` package on PyPI: the pinned
#     wheel is downloaded once into build/cache/ (`pip download --no-deps`, sha256-checked) and only that one
#     collection is extracted; a stamp with the wheel's hash makes later runs a no-op.
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
    [nsenter]=util-linux # molecule: community.docker.nsenter and the testinfra backend enter namespace machines
    [iptables]=iptables  # the role's netfilter case: a Docker-like FORWARD DROP inside a namespace machine
    [nft]=nftables       # the same policy through nftables
    # the lab (tests/lab): libvirt + QEMU guests on a bridge, DHCP from a router namespace
    [qemu-system-x86_64]=qemu-system-x86
    [libvirtd]=libvirt-daemon
    # the Wi-Fi laptop VM (tests/wifi_vm): a Debian 12 image built from packages, a qcow2 overlay per run
    [debootstrap]=debootstrap
    [qemu-img]=qemu-utils
    [virsh]=libvirt-clients
    [dnsmasq]=dnsmasq-base
    [pkg-config]=pkg-config  # building libvirt-python (PyPI) against libvirt-dev
    [gcc]=gcc
    [dot]=graphviz       # topology pictures (make demo, linux_bridge_info's DOT output)
    [chromium-headless-shell]=chromium-headless-shell  # make docs --check: the built module page in a real browser
)
# packages without a command of their own: checked by their dpkg status
PKGS_BY_STATUS=(
    libvirt-daemon-driver-qemu # the QEMU driver module of libvirtd
    libvirt-dev                # headers and libvirt.pc for libvirt-python
    busybox-static             # the lab guest's initramfs (a dynamic busybox would not run there)
)
missing=()
for cmd in "${!PKG_FOR[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${PKG_FOR[$cmd]}")
done
for pkg in "${PKGS_BY_STATUS[@]}"; do
    [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)" == ii* ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        log "missing packages ${missing[*]} and not root: install them first"
        exit 1
    fi
    log "installing ${missing[*]}"
    apt_start=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
    log "apt: $((SECONDS - apt_start)) s"
fi

# libvirtd's QEMU driver looks up its compiled-in default account before it reads qemu.conf, and fails without it.
# The lab runs QEMU as root; this system account (no home, no login) only has to exist.
if ! getent group libvirt-qemu >/dev/null; then
    log "creating system group libvirt-qemu"
    groupadd --system libvirt-qemu
fi
if ! getent passwd libvirt-qemu >/dev/null; then
    log "creating system user libvirt-qemu"
    useradd --system --gid libvirt-qemu --no-create-home --home-dir /var/lib/libvirt \
        --shell /usr/sbin/nologin --comment "Libvirt Qemu" libvirt-qemu
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
    local start=$SECONDS
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    # (this machine's pip config lists local index directories that may not exist: drop those warnings)
    "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$req" \
        2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
    "$dir/bin/python" -m pip check >&2
    printf '%s\n' "$want" >"$dir/.kvmnet-stamp"
    log "$dir built in $((SECONDS - start)) s"
}

make_venv .venv requirements/test.txt
make_venv .venv-pyroute2-0.7 requirements/pyroute2-0.7.txt
make_venv .venv-docs requirements/docs.txt

# --- collections from PyPI ---------------------------------------------------------------------------------------
# ansible 12.x is the community package for ansible-core 2.19 (the version pinned in requirements/); 12.3.0 carries
# community.docker 4.8.5. Bump both lines together.
ANSIBLE_WHEEL=ansible-12.3.0-py3-none-any.whl
ANSIBLE_WHEEL_SHA256=cd156f82fa87f7a899212b0efa9f7ca3a24d609212de9f78428a572eb01e5414
COLLECTIONS=build/collections
WANT_COLLECTIONS=(community/docker)

collections_from_wheel() {
    local wheel="build/cache/$ANSIBLE_WHEEL" stamp="$COLLECTIONS/.kvmnet-stamp" want
    want="$ANSIBLE_WHEEL_SHA256 ${WANT_COLLECTIONS[*]}"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        log "$COLLECTIONS up to date (${WANT_COLLECTIONS[*]} from $ANSIBLE_WHEEL)"
        return 0
    fi
    local start=$SECONDS
    if [[ ! -f "$wheel" ]] || ! sha256sum --status -c <<<"$ANSIBLE_WHEEL_SHA256  $wheel"; then
        log "downloading $ANSIBLE_WHEEL into build/cache/"
        mkdir -p build/cache
        rm -f "$wheel"
        local version="${ANSIBLE_WHEEL#ansible-}"
        version="${version%%-*}"
        .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
            -d build/cache "ansible==$version" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
        sha256sum --status -c <<<"$ANSIBLE_WHEEL_SHA256  $wheel" || {
            log "$wheel: sha256 differs from the pinned $ANSIBLE_WHEEL_SHA256"
            exit 1
        }
    fi
    # extract next to the old tree, then swap, so an interrupted run never leaves a half tree in place
    rm -rf "$COLLECTIONS".new.*
    local stage
    stage="$(mktemp -d "$COLLECTIONS.new.XXXXXX")"
    .venv/bin/python - "$wheel" "$stage" "${WANT_COLLECTIONS[@]}" <<'PY'
import sys
import zipfile

wheel, dest, *wanted = sys.argv[1:]
prefixes = tuple(f'ansible_collections/{name}/' for name in wanted)
with zipfile.ZipFile(wheel) as archive:
    members = [m for m in archive.namelist() if m.startswith(prefixes)]
    for name in wanted:
        if not any(m.startswith(f'ansible_collections/{name}/') for m in members):
            sys.exit(f'{wheel} has no ansible_collections/{name}')
    archive.extractall(dest, members)
PY
    printf '%s\n' "$want" >"$stage/.kvmnet-stamp"
    chmod 755 "$stage"
    rm -rf "$COLLECTIONS"
    mv "$stage" "$COLLECTIONS"
    log "$COLLECTIONS: ${WANT_COLLECTIONS[*]} extracted from $ANSIBLE_WHEEL in $((SECONDS - start)) s"
}
collections_from_wheel
log "done"
