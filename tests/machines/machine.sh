#!/usr/bin/env bash
# Namespace machines: lightweight "hosts" for role scenarios (molecule), the fleet test and the lab.
#
#   tests/machines/machine.sh start   STATE_DIR NAME             start machine NAME; prints only its PID
#   tests/machines/machine.sh link    STATE_DIR NAME1 IF1 NAME2 IF2
#                                                               veth pair: IF1 in NAME1 <-> IF2 in NAME2, both up
#   tests/machines/machine.sh exec    STATE_DIR NAME -- CMD...   run CMD inside NAME (all its namespaces)
#   tests/machines/machine.sh pid     STATE_DIR NAME             print NAME's PID if it runs (exit 1 if not)
#   tests/machines/machine.sh stop    STATE_DIR NAME             stop NAME, keep its /etc and /var/lib layers
#   tests/machines/machine.sh reboot  STATE_DIR NAME             stop + start NAME, re-create its links; prints its PID
#   tests/machines/machine.sh destroy STATE_DIR                  stop every machine of STATE_DIR, delete their dirs
#   KVMNET_MACHINE_IMAGE=DIR machine.sh start ...               the machine runs on the image DIR (image.sh)
#
# STATE_DIR holds everything of one set of machines (one molecule scenario, one fleet run); each machine has
# STATE_DIR/NAME/ with:
#   pid, netns, starttime   PID of its init (= `ansible_nsenter_pid`), its network namespace, and the init's start
#                           time (/proc/PID/stat field 22): a PID is only trusted while start time AND network
#                           namespace still match, so a recycled PID is never signalled or entered
#   etc.*, var-lib.*, var-log.*   upper and work dirs of the copy-on-write overlays on /etc, /var/lib and /var/log
#                           (logs written inside, e.g. net_checkpoint's /var/log/kvmnet-checkpoint, stay inside)
#   usr.*, var-cache.*      the same for /usr and /var/cache (machines on an image only)
#   image                   the image the machine was first started on (absent: none); every later start and
#                           reboot uses it, and a start with another KVMNET_MACHINE_IMAGE is refused
#   links                   its links, one "IF PEER PEER_IF" a line (recorded by `link` on both machines): what
#                           `reboot` re-creates
#   log                     the init's stderr
# A machine is a process tree in fresh namespaces:
#   - network namespace kvmnet-m-NAME-<random> (unique per start, visible in `ip netns list` while it runs),
#     only `lo` (up) until `link` cables it to another machine; /sys is that namespace's sysfs, mounted read-only
#     (with a writable /sys networkd and NetworkManager wait for udev forever: LAB-NOTES);
#   - UTS (hostname NAME, also in its /etc/hostname), IPC, mount (private propagation) and PID namespaces;
#   - overlays on /etc, /var/lib and /var/log (writes land in STATE_DIR/NAME/, the host's files are never changed),
#     with an image (KVMNET_MACHINE_IMAGE=DIR, built by tests/machines/image.sh) also on /usr, /var/cache and
#     /var/log, each stacked on the image's layer: lowerdir=DIR/TAG.upper:/PATH (the image's packages, e.g.
#     NetworkManager, systemd-networkd, ifupdown, netplan, exist only inside the machine);
#     tmpfs on /run and /var/tmp (so the host's /run/netns, daemons' sockets and ifupdown2 state are not shared);
#   - like a scripts/netns-instance.sh instance: /run/netns is a private tmpfs (kvmnet-netns) that holds the
#     machine's own namespace under its name, so `ip netns identify` names it, namespaces made inside stay inside,
#     and `exec` sets KVMNET_NETNS: the lab scripts (tests/lab/, e.g. libvirtd.sh) run inside a machine;
#   - PID 1 is a tiny reaping init (daemons that die or are killed do not stay zombies); killing it makes the kernel
#     end every process of the machine.
# `start` of a stopped machine (its dir still there) reuses its /etc and /var/lib layers with a new network
# namespace, empty /run and no links. `reboot` is stop + start + the machine's links re-created with the same names
# on both ends (to peers that run; the old veth pairs died with the old namespace): the boot-replay check of the
# persistence backends. The peers' ends are new interfaces (no addresses): re-address them.
# `start` is detached (setsid, stdio redirected): callers such as Ansible tasks never wait on it. A start that fails
# half way undoes itself. `stop` and `destroy` are idempotent; `destroy` removes only directories that carry this
# script's marker. Needs root, iproute2, util-linux (unshare, nsenter, setsid) and python3.
# Never touches the root network namespace: links are created inside NAME1's namespace and their peer is created
# directly in NAME2's.
set -euo pipefail

usage() {
    sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
log() { printf '[machine %s] %s\n' "${NAME:-?}" "$*" >&2; }
die() { log "$*"; exit 1; }

TIMEOUT="${KVMNET_MACHINE_TIMEOUT:-20}"  # seconds for a machine to come up or to go away
MARKER=.kvmnet-machine

valid_name() { [[ "$1" =~ ^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$ ]]; }
valid_ifname() { [[ "$1" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$ ]]; }

# state_dir DIR: the absolute path; refuses places that a machine overlays (its writes there would be invisible
# to the host, and the host's copy would be shadowed).
state_dir() {
    local dir
    dir="$(realpath -m "$1")"
    case "$dir/" in
        / | /etc/* | /var/lib/* | /run/* | /var/tmp/* | /proc/* | /sys/*)
            die "STATE_DIR $dir is inside a path that machines overlay or mount over: use another directory" ;;
    esac
    mkdir -p "$dir"
    printf '%s\n' "$dir"
}

# start_time PID: field 22 of /proc/PID/stat (clock ticks since boot), empty when PID is gone.
start_time() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
    stat="${stat##*) }"  # drop "pid (comm) ": comm may contain spaces and parentheses
    awk '{print $20}' <<<"$stat"
}

# netns_id NAME: inode of the named network namespace, empty if it does not exist.
netns_id() { stat -L -c %i "/run/netns/$1" 2>/dev/null || true; }

# proc_netns_id PID: inode of PID's network namespace, empty when PID is gone.
proc_netns_id() { stat -L -c %i "/proc/$1/ns/net" 2>/dev/null || true; }

# live_pid DIR: the machine's init PID if it still is that process (start time and netns match), else fail.
live_pid() {
    local dir="$1" pid ns want
    [[ -f "$dir/pid" && -f "$dir/netns" && -f "$dir/starttime" ]] || return 1
    pid="$(cat "$dir/pid")"
    ns="$(cat "$dir/netns")"
    want="$(cat "$dir/starttime")"
    [[ "$pid" =~ ^[0-9]+$ && -n "$want" ]] || return 1
    [[ "$(start_time "$pid")" == "$want" ]] || return 1
    local id
    id="$(netns_id "$ns")"
    [[ -n "$id" && "$(proc_netns_id "$pid")" == "$id" ]] || return 1
    printf '%s\n' "$pid"
}

# find_init NETNS: the PID (in our PID namespace) of the process that is PID 1 of a child PID namespace and lives
# in NETNS. The netns was created by this start, so nothing else can be in it.
find_init() {
    local p nspid
    for p in $(ip netns pids "$1" 2>/dev/null); do
        nspid="$(awk '/^NSpid:/ {print NF, $NF}' "/proc/$p/status" 2>/dev/null || true)"
        if [[ "$nspid" == "3 1" ]]; then
            printf '%s\n' "$p"
            return 0
        fi
    done
    return 1
}

# The machine's PID 1 (run by unshare in the new namespaces; expanded by that bash, hence single quotes):
# prepare the mounts, tell the starter it is ready, then become a reaping init.
# shellcheck disable=SC2016
INIT='
set -euo pipefail
name="$1" dir="$2" python="$3" ns="$4" image="$5"
echo "$name" >/proc/sys/kernel/hostname
ip link set lo up
specs=(etc:/etc var-lib:/var/lib var-log:/var/log)
[[ -z "$image" ]] || specs=(usr:/usr etc:/etc var-lib:/var/lib var-cache:/var/cache var-log:/var/log)
for spec in "${specs[@]}"; do
    tag="${spec%%:*}" target="${spec#*:}" lower="${spec#*:}"
    [[ -z "$image" ]] || lower="$image/$tag.upper:$target"
    mkdir -p "$dir/$tag.upper" "$dir/$tag.work"
    mount -t overlay "kvmnet-$tag" -o "lowerdir=$lower,upperdir=$dir/$tag.upper,workdir=$dir/$tag.work" "$target"
done
echo "$name" >/etc/hostname
# the copies of the host'"'"'s /run/netns/* mounts would keep other namespaces alive after the host deletes them
for target in $(awk '"'"'$5 ~ "^/run/netns(/|$)" {print $5}'"'"' /proc/self/mountinfo | sort -r); do
    umount --lazy "$target" 2>/dev/null || true
done
mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m kvmnet-run /run
mkdir -m 1777 /run/lock
mkdir /run/netns
mount -t tmpfs -o mode=0755,size=1m kvmnet-netns /run/netns
touch "/run/netns/$ns"
mount --bind /proc/self/ns/net "/run/netns/$ns"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=256m kvmnet-vartmp /var/tmp
mount -o remount,bind,ro /sys
echo ready >"$dir/ready"
exec "$python" -c "$REAPER"
'
# A PID 1 that reaps every child (orphans are re-parented to it) and exits on TERM/INT (the kernel then ends the
# whole machine). SIGCHLD stays blocked and is consumed by sigtimedwait, so no wake-up is lost between reaps.
REAPER='
import os
import signal
import sys

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
signal.signal(signal.SIGCHLD, lambda *_: None)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
os.closerange(3, 256)
while True:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    signal.sigtimedwait({signal.SIGCHLD}, 60)
'

# stop_dir DIR: end the machine of DIR (if it runs), remove its netns and runtime files; keep its layers.
stop_dir() {
    local dir="$1" pid="" ns="" i p
    [[ -f "$dir/netns" ]] && ns="$(cat "$dir/netns")"
    if pid="$(live_pid "$dir")"; then
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < TIMEOUT * 20; i++)); do
            [[ "$(start_time "$pid")" == "$(cat "$dir/starttime")" ]] || break
            # a zombie init (parent not reaping yet) has no namespaces left: good enough
            [[ -e "/proc/$pid/ns/net" ]] || break
            sleep 0.05
        done
    fi
    if [[ -n "$ns" && -n "$(netns_id "$ns")" ]]; then
        # processes that entered only the network namespace (e.g. `ip netns exec` from outside): they are in a
        # namespace of this machine, so they are its own
        for ((i = 0; i < TIMEOUT * 20; i++)); do
            p="$(ip netns pids "$ns" 2>/dev/null || true)"
            [[ -n "$p" ]] || break
            ((i == 0)) && log "ending processes left in $ns: ${p//$'\n'/ }"
            # shellcheck disable=SC2086
            kill -KILL $p 2>/dev/null || true
            sleep 0.05
        done
        ip netns delete "$ns" 2>/dev/null || [[ -z "$(netns_id "$ns")" ]] || die "could not delete netns $ns"
    fi
    rm -f "$dir/pid" "$dir/netns" "$dir/starttime" "$dir/ready"
}

# machine_image DIR: the image the machine of DIR runs on (absolute path; empty: none): the recorded one, else
# KVMNET_MACHINE_IMAGE; refuses a KVMNET_MACHINE_IMAGE that differs from what the machine's layers were made on,
# and an image that is incomplete.
machine_image() {
    local dir="$1" want="" have="" tag
    [[ -z "${KVMNET_MACHINE_IMAGE:-}" ]] || want="$(realpath -m "$KVMNET_MACHINE_IMAGE")"
    if [[ -f "$dir/image" ]]; then
        have="$(cat "$dir/image")"
        [[ -z "$want" || "$want" == "$have" ]] ||
            die "its layers were made on the image $have, not KVMNET_MACHINE_IMAGE=$want: destroy it first"
    elif [[ -f "$dir/pid" || -f "$dir/etc.upper/hostname" ]] && [[ -n "$want" ]]; then
        die "it was started without an image, not on KVMNET_MACHINE_IMAGE=$want: destroy it first"
    else
        have="$want"
    fi
    [[ -n "$have" ]] || return 0
    [[ "$have" != *[:,]* ]] || die "image directory $have must not contain ':' or ',' (overlay mount options)"
    [[ -f "$have/complete" ]] ||
        die "$have is not a complete machine image: build it with tests/machines/image.sh build $have"
    for tag in usr etc var-lib var-cache var-log; do
        [[ -d "$have/$tag.upper" ]] || die "image $have lacks its $tag.upper layer: rebuild it (image.sh clean, build)"
    done
    printf '%s\n' "$have"
}

# start_machine STATE: start NAME (its state dir STATE/NAME), set PID.
start_machine() {
    local state="$1" dir ns launcher pid i image
    dir="$state/$NAME"
    if [[ -d "$dir" ]]; then
        [[ -f "$dir/$MARKER" ]] || die "$dir exists and is not a machine directory"
        ! live_pid "$dir" >/dev/null || die "already running (PID $(cat "$dir/pid"))"
        stop_dir "$dir"  # leftovers of a machine that died
    fi
    image="$(machine_image "$dir")"
    mkdir -p "$dir"
    : >"$dir/$MARKER"
    [[ -z "$image" ]] || printf '%s\n' "$image" >"$dir/image"
    ns="kvmnet-m-$NAME-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    [[ -z "$(netns_id "$ns")" ]] || die "netns $ns already exists"
    ip netns add "$ns"
    printf '%s\n' "$ns" >"$dir/netns"
    # from here on a failure undoes the start
    trap 'stop_dir "$dir"; exit 1' ERR INT TERM HUP
    local python
    python="$(command -v python3)"
    : >"$dir/log"
    REAPER="$REAPER" setsid ip netns exec "$ns" \
        unshare --uts --ipc --mount --propagation private --pid --fork --mount-proc \
        bash -c "$INIT" kvmnet-init "$NAME" "$dir" "$python" "$ns" "$image" </dev/null >>"$dir/log" 2>&1 &
    launcher=$!
    for ((i = 0; i < TIMEOUT * 20; i++)); do
        [[ -f "$dir/ready" ]] && pid="$(find_init "$ns")" && break
        if ! kill -0 "$launcher" 2>/dev/null; then
            log "the machine's init failed: $(tail -n 5 "$dir/log" | tr '\n' ' ')"
            false
        fi
        sleep 0.05
    done
    if [[ -z "${pid:-}" ]]; then
        log "not ready after ${TIMEOUT}s: $(tail -n 5 "$dir/log" | tr '\n' ' ')"
        false
    fi
    start_time "$pid" >"$dir/starttime"
    printf '%s\n' "$pid" >"$dir/pid"
    live_pid "$dir" >/dev/null || { log "init PID $pid vanished during start"; false; }
    trap - ERR INT TERM HUP
    PID="$pid"
}

cmd_start() {
    start_machine "$1"
    printf '%s\n' "$PID"
}

# cmd_reboot STATE: stop NAME, start it again on its layers (and image), re-create its recorded links to machines
# that run (same interface names on both ends), print the new PID.
cmd_reboot() {
    local state="$1" dir ifname peer peer_if pns i
    dir="$state/$NAME"
    [[ -f "$dir/$MARKER" ]] || die "no machine $NAME in $state"
    machine_image "$dir" >/dev/null  # refuse a wrong image before stopping anything
    stop_dir "$dir"
    start_machine "$state"
    [[ -f "$dir/links" ]] || { printf '%s\n' "$PID"; return 0; }
    while read -r ifname peer peer_if; do
        [[ -n "$ifname" ]] || continue
        if ! pns="$(NAME="$peer" live_pid "$state/$peer" >/dev/null && cat "$state/$peer/netns")"; then
            log "link $ifname <-> $peer:$peer_if not re-created: $peer does not run (its reboot will)"
            continue
        fi
        # the old pair dies with the old namespace, asynchronously in the kernel: wait for the peer's end to go
        for ((i = 0; i < TIMEOUT * 20; i++)); do
            ip -n "$pns" link show dev "$peer_if" >/dev/null 2>&1 || break
            sleep 0.05
        done
        ip -n "$pns" link show dev "$peer_if" >/dev/null 2>&1 &&
            die "$peer still has an interface $peer_if after ${TIMEOUT}s: cannot re-create the link"
        make_link "$(cat "$dir/netns")" "$NAME" "$ifname" "$pns" "$peer" "$peer_if"
    done <"$dir/links"
    printf '%s\n' "$PID"
}

# require DIR: the live PID of DIR's machine, or fail naming the machine.
require() {
    local pid
    pid="$(live_pid "$1")" || die "not running (no live machine in $1)"
    printf '%s\n' "$pid"
}

cmd_link() {
    local state="$1" m1="$2" if1="$3" m2="$4" if2="$5" ns1 ns2
    valid_name "$m2" || die "machine name '$m2' must match [a-z0-9-] (1-32 chars)"
    valid_ifname "$if1" || die "interface name '$if1' is not a valid Linux interface name (1-15 chars)"
    valid_ifname "$if2" || die "interface name '$if2' is not a valid Linux interface name (1-15 chars)"
    require "$state/$m1" >/dev/null
    NAME="$m2" require "$state/$m2" >/dev/null
    make_link "$(cat "$state/$m1/netns")" "$m1" "$if1" "$(cat "$state/$m2/netns")" "$m2" "$if2"
    # recorded on both sides, for `reboot` of either
    printf '%s %s %s\n' "$if1" "$m2" "$if2" >>"$state/$m1/links"
    printf '%s %s %s\n' "$if2" "$m1" "$if1" >>"$state/$m2/links"
}

# make_link NS1 M1 IF1 NS2 M2 IF2: the veth pair, both ends up.
make_link() {
    local ns1="$1" m1="$2" if1="$3" ns2="$4" m2="$5" if2="$6"
    # created inside ns1, the peer directly in ns2: nothing ever exists in the root namespace
    ip -n "$ns1" link add "$if1" type veth peer name "$if2" netns "$ns2"
    if ! { ip -n "$ns1" link set "$if1" up && ip -n "$ns2" link set "$if2" up; }; then
        ip -n "$ns1" link delete "$if1" 2>/dev/null || true
        die "could not bring $m1:$if1 <-> $m2:$if2 up"
    fi
}

cmd_exec() {
    local state="$1" pid
    shift
    pid="$(require "$state/$NAME")"
    KVMNET_NETNS="$(cat "$state/$NAME/netns")"
    export KVMNET_NETNS
    exec nsenter --all --target "$pid" -- "$@"
}

cmd_destroy() {
    local state="$1" dir
    shopt -s nullglob
    for dir in "$state"/*/; do
        dir="${dir%/}"
        [[ -f "$dir/$MARKER" ]] || continue
        NAME="$(basename "$dir")" stop_dir "$dir"
        rm -rf -- "$dir"
    done
    rmdir -- "$state" 2>/dev/null || true
}

[[ $# -ge 2 ]] || usage
VERB="$1"
[[ $(id -u) -eq 0 ]] || die "needs root"
case "$VERB" in
    start | pid | stop | reboot)
        [[ $# -eq 3 ]] || usage
        NAME="$3"
        valid_name "$NAME" || die "machine name '$NAME' must match [a-z0-9-] (1-32 chars, no leading/trailing -)"
        STATE="$(state_dir "$2")"
        case "$VERB" in
            start) cmd_start "$STATE" ;;
            pid) require "$STATE/$NAME" ;;
            stop) [[ ! -d "$STATE/$NAME" ]] || stop_dir "$STATE/$NAME" ;;
            reboot) cmd_reboot "$STATE" ;;
        esac
        ;;
    link)
        [[ $# -eq 6 ]] || usage
        NAME="$3"
        valid_name "$NAME" || die "machine name '$NAME' must match [a-z0-9-] (1-32 chars)"
        cmd_link "$(state_dir "$2")" "$3" "$4" "$5" "$6"
        ;;
    exec)
        [[ $# -ge 5 && "$4" == "--" ]] || usage
        NAME="$3"
        valid_name "$NAME" || die "machine name '$NAME' must match [a-z0-9-] (1-32 chars)"
        STATE="$(state_dir "$2")"
        shift 4
        cmd_exec "$STATE" "$@"
        ;;
    destroy)
        [[ $# -eq 2 ]] || usage
        [[ -d "$2" ]] || exit 0
        cmd_destroy "$(state_dir "$2")"
        ;;
    *) usage ;;
esac
