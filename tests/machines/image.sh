#!/usr/bin/env bash
# Machine image: the network stacks for namespace machines, installed without touching the host.
#
#   tests/machines/image.sh build [DIR]   build the image in DIR (default build/machine-image) unless DIR already
#                                         holds a complete one for the current key; prints DIR (absolute)
#   tests/machines/image.sh check [DIR]   exit 0 (and print DIR) if DIR holds a complete image for the current key
#   tests/machines/image.sh key           print the current cache key
#   tests/machines/image.sh clean [DIR]   remove the image
#
# An image is a set of overlay upper layers, DIR/{usr,etc,var-lib,var-cache,var-log}.upper, holding what
# `apt-get install --no-install-recommends $PACKAGES` changes in /usr /etc /var/lib /var/cache /var/log on top of
# this host. `KVMNET_MACHINE_IMAGE=DIR tests/machines/machine.sh start ...` stacks them under a machine's own
# layers (lowerdir=DIR/x.upper:/x), so the machine has NetworkManager, systemd-networkd, ifupdown and netplan while
# the host has none of them.
# The install runs in a private mount namespace (`unshare --mount --propagation private`) where those five paths are
# overlays whose upper layers are the image's, /run /tmp /var/tmp are private tmpfs, everything else (the host's
# root file system, /sys, /proc/sys) is read-only, and a policy-rc.d forbids starting services: a write outside the
# overlays fails instead of reaching the host. Packages are downloaded first (root network namespace: the Debian
# mirror); dpkg and the maintainer scripts then run in a fresh network namespace as well. apt's package cache
# (.debs, pkgcache.bin) lives on the private tmpfs and is not part of the image. Afterwards the script checks that
# the host's dpkg status and network configuration are byte-for-byte what they were before, and fails otherwise.
# Cache: DIR/complete holds the key (sha256 of the package list, the layer list, this format's version and the
# host's /var/lib/dpkg/status): an image whose key differs (the host's packages changed, or PACKAGES did) is
# rebuilt; a build goes to DIR.new and replaces DIR only when it is complete, so a half build is never used.
# Concurrent builds of the same DIR wait for each other (flock DIR.lock). Needs root, apt, util-linux.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Everything the persistence backends need inside machines (one list: it is part of the cache key).
PACKAGES=(ifupdown bridge-utils network-manager netplan.io systemd dbus gir1.2-nm-1.0 python3-gi iproute2)
# tag:path of every overlaid tree (machine.sh uses the same tags for a machine's own layers)
LAYERS=(usr:/usr etc:/etc var-lib:/var/lib var-cache:/var/cache var-log:/var/log)
FORMAT=1
# Host files the build must not change (checked before/after: sha256 of every file below them, and their list).
GUARDED=(/var/lib/dpkg/status /etc/network /etc/NetworkManager /etc/netplan /etc/systemd/network /etc/passwd
         /etc/group /etc/shadow /usr/sbin /usr/lib/systemd/system)

log() { printf '[image] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
usage() { sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

key() {
    {
        printf 'format %s\npackages %s\nlayers %s\n' "$FORMAT" "${PACKAGES[*]}" "${LAYERS[*]}"
        sha256sum /var/lib/dpkg/status
    } | sha256sum | cut -d' ' -f1
}

complete() { [[ -f "$1/complete" && "$(cat "$1/complete")" == "$(key)" ]]; }

# host_snapshot: one line per guarded file (path, mode, owner, sha256), sorted.
host_snapshot() {
    local path
    for path in "${GUARDED[@]}"; do
        if [[ -e "$path" ]]; then
            find "$path" -xdev \( -type f -o -type l \) -printf '%p %m %u:%g %l\n' | sort
            find "$path" -xdev -type f -print0 | sort -z | xargs -0 -r sha256sum
        else
            printf '%s absent\n' "$path"
        fi
    done
}

# The build, run by `unshare --mount --propagation private` (expanded by that bash, hence single quotes).
# shellcheck disable=SC2016
BUILD='
set -euo pipefail
new="$1"
shift
layers=() packages=()
while [[ "$1" != -- ]]; do layers+=("$1"); shift; done
shift
packages=("$@")
for spec in "${layers[@]}"; do
    tag="${spec%%:*}" target="${spec#*:}"
    mount -t overlay "kvmnet-image-$tag" \
        -o "lowerdir=$target,upperdir=$new/$tag.upper,workdir=$new/$tag.work" "$target"
done
for target in /run /tmp /var/tmp; do
    mount -t tmpfs -o mode=1777,nosuid,nodev,size=1g "kvmnet-image-tmp" "$target"
done
chmod 0755 /run
mkdir -m 1777 /run/lock
scratch=/run/kvmnet-image
mkdir -p "$scratch/archives/partial"
chown -R _apt:root "$scratch/archives" 2>/dev/null || true
printf "#!/bin/sh\n# kvmnet machine image build: never start services\nexit 101\n" >"$scratch/policy-rc.d"
chmod 0755 "$scratch/policy-rc.d"
if [[ -e /usr/sbin/policy-rc.d ]]; then
    mount --bind "$scratch/policy-rc.d" /usr/sbin/policy-rc.d  # over the host'"'"'s (not copied into the image)
else
    cp "$scratch/policy-rc.d" /usr/sbin/policy-rc.d
    trap "rm -f /usr/sbin/policy-rc.d" EXIT
fi
# from here on nothing but the overlays and the tmpfs can be written
mount -o remount,bind,ro /
mount --bind /sys /sys
mount -o remount,bind,ro /sys
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
apt=(apt-get -q -y --no-install-recommends
     -o "Dir::Cache::Archives=$scratch/archives" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
     -o Dpkg::Use-Pty=0 -o APT::Color=0)
export DEBIAN_FRONTEND=noninteractive
if ! "${apt[@]}" install --download-only "${packages[@]}"; then
    # the host'"'"'s package lists may be outdated: fresh ones on the tmpfs, not in the image
    mkdir -p "$scratch/lists.upper" "$scratch/lists.work"
    mount -t overlay kvmnet-image-lists -o \
        "lowerdir=/var/lib/apt/lists,upperdir=$scratch/lists.upper,workdir=$scratch/lists.work" /var/lib/apt/lists
    "${apt[@]}" update
    "${apt[@]}" install --download-only "${packages[@]}"
fi
# dpkg and the maintainer scripts: no network at all (a fresh network namespace), no downloads left to do
unshare --net "${apt[@]}" install "${packages[@]}"
'

cmd_build() {
    local dir="$1" new before after start spec tag
    mkdir -p "$(dirname "$dir")"
    exec 9>"$dir.lock"
    flock 9
    if complete "$dir"; then
        log "$dir is up to date (key $(key | cut -c1-12))"
        printf '%s\n' "$dir"
        return 0
    fi
    start=$EPOCHREALTIME
    log "building $dir: ${PACKAGES[*]}"
    new="$dir.new"
    rm -rf -- "$new"
    mkdir -p "$new"
    for spec in "${LAYERS[@]}"; do
        tag="${spec%%:*}"
        mkdir -p "$new/$tag.upper" "$new/$tag.work"
    done
    local want
    want="$(key)"
    before="$(host_snapshot)"
    if ! unshare --mount --propagation private bash -c "$BUILD" kvmnet-image "$new" "${LAYERS[@]}" -- \
        "${PACKAGES[@]}" >"$new.log" 2>&1; then
        tail -n 30 "$new.log" >&2
        rm -rf -- "$new"
        die "apt-get install failed (log above, full log $new.log)"
    fi
    after="$(host_snapshot)"
    if [[ "$before" != "$after" ]]; then
        diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") >&2 || true
        rm -rf -- "$new"
        die "THE HOST CHANGED during the build (diff above): the image was discarded"
    fi
    [[ "$(key)" == "$want" ]] || { rm -rf -- "$new"; die "the host's dpkg status changed during the build: run again"; }
    for spec in "${LAYERS[@]}"; do
        rm -rf -- "${new:?}/${spec%%:*}.work"
    done
    # what it installed, for humans
    dpkg-query --admindir="$new/var-lib.upper/dpkg" -W -f '${Package} ${Version}\n' "${PACKAGES[@]}" \
        >"$new/packages" 2>/dev/null || true
    mv "$new.log" "$new/build.log"
    printf '%s\n' "$want" >"$new/complete"
    rm -rf -- "$dir"
    mv -- "$new" "$dir"
    log "built $dir in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s ($(du -sh "$dir" | cut -f1))"
    printf '%s\n' "$dir"
}

[[ $# -ge 1 ]] || usage
VERB="$1"
DIR="$(realpath -m "${2:-$ROOT/build/machine-image}")"
[[ "$DIR" != *[:,]* ]] || die "image directory $DIR must not contain ':' or ',' (overlay mount options)"
case "$VERB" in
    build)
        [[ $# -le 2 ]] || usage
        [[ $(id -u) -eq 0 ]] || die "needs root"
        cmd_build "$DIR"
        ;;
    check)
        [[ $# -le 2 ]] || usage
        complete "$DIR" || exit 1
        printf '%s\n' "$DIR"
        ;;
    key)
        [[ $# -eq 1 ]] || usage
        key
        ;;
    clean)
        [[ $# -le 2 ]] || usage
        rm -rf -- "$DIR" "$DIR.new" "$DIR.new.log" "$DIR.lock"
        ;;
    *) usage ;;
esac
