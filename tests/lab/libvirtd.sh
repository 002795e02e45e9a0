#!/usr/bin/env bash
# Run a private libvirtd (monolithic daemon, QEMU driver) inside the current namespace instance.
#
#   tests/lab/libvirtd.sh start STATE_DIR [CACHE_DIR]
#   tests/lab/libvirtd.sh stop STATE_DIR
#
# Must run inside scripts/netns-instance.sh (checked): libvirtd then lives in the instance's network namespace,
# mount namespace and PID namespace, and clients in the same instance reach it as plain `qemu:///system`.
#
# start:
#   - writes STATE_DIR/etc/{libvirtd,qemu,libvirt}.conf (QEMU as root, security_driver "none", no cgroups, no
#     per-VM mount namespaces, stdio to files instead of virtlogd) and bind-mounts, in this mount namespace only:
#         STATE_DIR/etc -> /etc/libvirt          STATE_DIR/run -> /run/libvirt      STATE_DIR/lib -> /var/lib/libvirt
#         CACHE_DIR     -> /var/cache/libvirt    STATE_DIR/log -> /var/log/libvirt
#     CACHE_DIR defaults to STATE_DIR/cache. Pass a directory kept between runs (e.g. build/lab/libvirt-cache) to keep
#     libvirt's QEMU capability cache: the probe (~8-9 s under TCG) then happens once, not per run. libvirt checks the
#     cache against the QEMU binary and the kernel itself. Only the empty mount points are created on the real
#     filesystem, where missing (Debian's libvirt-daemon-system would ship them).
#   - starts `libvirtd -d` with its PID file in STATE_DIR/libvirtd.pid, waits for the socket and a live PID (libvirtd
#     -d exits 0 before a startup failure: the log is printed if it dies), then makes a first API call to absorb the
#     QEMU capability probe.
#   - prints LIBVIRTD_PID=<pid> and LIBVIRT_URI=qemu:///system; timings go to stderr.
# stop (also safe when start failed half-way, or libvirtd already died):
#   - destroys every running domain (QEMU processes outlive libvirtd), kills remaining QEMU processes of this
#     libvirtd by the PIDs in its state dir, then libvirtd by its PID (TERM, KILL after 10 s), and unmounts what start
#     mounted.
# Domains must be type='qemu' (TCG): KVM does not run normal guests on this kind of machine.
# stop runs from the EXIT trap of a failed start, which shellcheck cannot follow (SC2317):
# shellcheck disable=SC2317
set -euo pipefail
export LAB_NAME=libvirtd
# shellcheck source=tests/lab/lib.sh disable=SC1091  # (followed when lib.sh is an input too, as in scripts/lint.sh)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { echo "usage: $0 start STATE_DIR [CACHE_DIR] | stop STATE_DIR" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
ACTION="$1"
mkdir -p "$2"
STATE="$(cd "$2" && pwd)"
URI=qemu:///system
export LIBVIRT_DEFAULT_URI="$URI"
PIDFILE="$STATE/libvirtd.pid"
MOUNTS="$STATE/mounts"   # "target" per line, in mount order

lab_require_instance

write_config() {
    mkdir -p "$STATE/etc"
    cat >"$STATE/etc/libvirtd.conf" <<'EOF'
# kvmnet lab: private libvirtd, reachable only inside its namespace instance
unix_sock_group = "root"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0770"
auth_unix_ro = "none"
auth_unix_rw = "none"
# warnings and errors
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
    cat >"$STATE/etc/qemu.conf" <<'EOF'
# kvmnet lab: QEMU as root, without the machine integration that a namespace instance lacks
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
# no cgroups (no systemd, no delegated hierarchy) and no per-VM mount namespace with a private /dev
cgroup_controllers = [ ]
namespaces = [ ]
# QEMU's stdout/stderr straight to /var/log/libvirt/qemu/DOMAIN.log (the default needs a running virtlogd)
stdio_handler = "file"
EOF
    # the client library reads /etc/libvirt/libvirt.conf too: default URI for virsh and the bindings
    printf 'uri_default = "%s"\n' "$URI" >"$STATE/etc/libvirt.conf"
}

# bind SRC TARGET: bind-mount SRC on TARGET in this (private) mount namespace and record it
bind() {
    local src="$1" target="$2"
    mkdir -p "$src"
    [[ -d "$target" ]] || mkdir -p "$target"  # empty mount point on the real filesystem
    mount --bind "$src" "$target"
    printf '%s\n' "$target" >>"$MOUNTS"
}

unmount_all() {
    local target targets=()
    [[ -f "$MOUNTS" ]] || return 0
    mapfile -t targets <"$MOUNTS"
    for ((i = ${#targets[@]} - 1; i >= 0; i--)); do
        target="${targets[i]}"
        # (the mounts file outlives the mount namespace of the instance that made it)
        mountpoint -q "$target" || continue
        umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || lab_log "could not unmount $target"
    done
    rm -f "$MOUNTS"
}

libvirtd_pid() {
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    lab_pid_is "$pid" libvirtd && printf '%s\n' "$pid"
}

show_log() {
    local f
    for f in "$STATE/log/libvirtd.log" "$STATE/libvirtd.out"; do
        [[ -s "$f" ]] || continue
        lab_log "--- last lines of $f"
        tail -n 30 "$f" >&2
    done
}

start() {
    local cache="${1:-$STATE/cache}" t0 pid="" i
    [[ -z "$(libvirtd_pid)" ]] || lab_die "a libvirtd already runs for $STATE (PID $(libvirtd_pid))"
    # a mounts file left by an instance that is gone means nothing; a live mount of this namespace does
    if [[ -s "$MOUNTS" ]] && mountpoint -q /etc/libvirt; then
        lab_die "/etc/libvirt is still mounted (a previous start was not stopped): stop it first"
    fi
    command -v libvirtd >/dev/null || lab_die "libvirtd missing: run scripts/bootstrap.sh"
    mkdir -p "$cache"
    cache="$(cd "$cache" && pwd)"
    rm -f "$PIDFILE" "$STATE/libvirtd.out"
    # a failed start leaves nothing running or mounted
    trap 'stop || true' EXIT
    write_config
    : >"$MOUNTS"
    bind "$STATE/etc" /etc/libvirt
    bind "$STATE/run" /run/libvirt
    bind "$STATE/lib" /var/lib/libvirt
    bind "$cache" /var/cache/libvirt
    bind "$STATE/log" /var/log/libvirt

    t0=$(lab_now)
    # -d: forks, the parent exits 0 at once; failures come later. Its early stderr goes to libvirtd.out.
    libvirtd -d -f /etc/libvirt/libvirtd.conf -p "$PIDFILE" </dev/null >>"$STATE/libvirtd.out" 2>&1 ||
        { show_log; lab_die "libvirtd -d failed"; }
    for ((i = 0; i < 300; i++)); do  # up to 30 s
        pid="$(libvirtd_pid || true)"
        if [[ -n "$pid" && -S /run/libvirt/libvirt-sock ]]; then
            break
        fi
        if [[ -f "$PIDFILE" && -z "$pid" ]]; then
            show_log
            lab_die "libvirtd died during startup"
        fi
        sleep 0.1
    done
    [[ -n "$pid" && -S /run/libvirt/libvirt-sock ]] || { show_log; lab_die "no libvirtd socket after 30 s"; }
    lab_log "libvirtd PID $pid up in $(lab_since "$t0")s"

    # The first QEMU-driver call probes the QEMU binary's capabilities (~8-9 s under TCG, unless CACHE_DIR has them).
    t0=$(lab_now)
    if ! virsh -q -c "$URI" domcapabilities --virttype qemu --arch x86_64 >/dev/null 2>"$STATE/first-call.err"; then
        cat "$STATE/first-call.err" >&2
        show_log
        [[ -n "$(libvirtd_pid || true)" ]] || lab_die "libvirtd died during startup"
        lab_die "first API call failed"
    fi
    lab_log "first API call (QEMU capabilities) in $(lab_since "$t0")s"
    trap - EXIT
    printf 'LIBVIRTD_PID=%s\nLIBVIRT_URI=%s\n' "$pid" "$URI"
}

stop() {
    local pid dom qpid f rc=0
    pid="$(libvirtd_pid || true)"
    if [[ -n "$pid" ]]; then
        # guests outlive libvirtd: destroy them while it still runs
        while read -r dom; do
            [[ -n "$dom" ]] || continue
            virsh -q -c "$URI" destroy "$dom" >/dev/null 2>&1 || lab_log "could not destroy domain $dom"
        done < <(virsh -q -c "$URI" list --name 2>/dev/null || true)
    fi
    # QEMU processes left (libvirtd dead or destroy failed): by the PID files libvirt keeps in its state dir
    for f in "$STATE"/run/qemu/*.pid; do
        [[ -f "$f" ]] || continue
        qpid="$(cat "$f" 2>/dev/null || true)"
        if lab_pid_is "$qpid" qemu-system-x86 || lab_pid_is "$qpid" qemu-system-x86_64; then
            lab_log "killing leftover QEMU PID $qpid ($f)"
            lab_kill "$qpid" "$(cat "/proc/$qpid/comm")" 5
        fi
    done
    if [[ -n "$pid" ]]; then
        lab_kill "$pid" libvirtd 10
        lab_log "libvirtd PID $pid stopped"
    fi
    rm -f "$PIDFILE"
    unmount_all || rc=1
    return "$rc"
}

case "$ACTION" in
    start) [[ $# -le 3 ]] || usage; start "${3:-}" ;;
    stop) [[ $# -eq 2 ]] || usage; stop ;;
    *) usage ;;
esac
