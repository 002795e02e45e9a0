# shellcheck shell=bash
# Helpers shared by the lab scripts in tests/lab/ (sourced, not run).
#
# Safety rule of the whole lab: everything that creates links, mounts or daemons runs inside a namespace instance
# (scripts/netns-instance.sh): its own network namespace, a private mount namespace (with a private tmpfs on
# /run/netns) and a PID namespace. lab_require_instance refuses to go on anywhere else, so that a script called by
# mistake from the root namespace cannot touch the machine's interfaces or its /etc/libvirt, /run/libvirt, ...

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_ROOT="$(cd "$LAB_DIR/../.." && pwd)"
export LAB_DIR LAB_ROOT

lab_log() { printf '[lab %s] %s\n' "${LAB_NAME:-?}" "$*" >&2; }
lab_die() { lab_log "ERROR: $*"; exit 1; }

# lab_require_instance: fail unless running inside a scripts/netns-instance.sh instance:
#   - KVMNET_NETNS is set and the current network namespace is that instance (`ip netns identify`), and
#   - /run/netns is the instance's private tmpfs, which only exists in the instance's private mount namespace.
lab_require_instance() {
    local here src
    [[ -n "${KVMNET_NETNS:-}" ]] ||
        lab_die "must run inside a namespace instance: scripts/netns-instance.sh NAME -- $0 ..."
    here="$(ip netns identify 2>/dev/null || true)"
    [[ " ${here//$'\n'/ } " == *" $KVMNET_NETNS "* ]] ||
        lab_die "current network namespace is not the instance $KVMNET_NETNS (ip netns identify: '${here}')"
    src="$(findmnt -n -o SOURCE --mountpoint /run/netns 2>/dev/null | tail -n 1 || true)"
    [[ "$src" == kvmnet-netns ]] ||
        lab_die "no private mount namespace of a namespace instance (/run/netns is '${src:-not a mount}')"
}

# lab_pid_is PID COMM: true if PID is alive and its command name is COMM (guards kills against PID reuse).
lab_pid_is() {
    local pid="$1" comm="$2" actual
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    actual="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
    [[ "$actual" == "$comm" ]]
}

# lab_kill PID COMM [GRACE_S]: SIGTERM PID if it is still COMM, wait up to GRACE_S (default 5) seconds, then SIGKILL.
lab_kill() {
    local pid="$1" comm="$2" grace="${3:-5}" i
    lab_pid_is "$pid" "$comm" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        lab_pid_is "$pid" "$comm" || return 0
        # a zombie keeps its comm until its parent reaps it: it is dead for our purposes
        [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && return 0
        sleep 0.1
    done
    lab_log "$comm (PID $pid) still alive after ${grace}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

# lab_now: monotonic-enough seconds with milliseconds (for the timing lines)
lab_now() { date +%s.%N; }
# lab_since START: seconds elapsed since START (from lab_now), one decimal
lab_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }

# lab_run SCRIPT LABEL [REPORT_FN]: the outside half of a lab test. Builds (or reuses) the guest, makes a state dir
# build/lab/LABEL.XXXXXX, snapshots the root network namespace, runs `SCRIPT --inside STATE KERNEL INITRD` in a
# namespace instance (scripts/netns-instance.sh), checks the root namespace is unchanged, calls `REPORT_FN STATE` if
# given (LAB_T_GUEST: guest build seconds, LAB_T_START: when the instance started), then removes the state dir on
# success or keeps it (on failure, or with KVMNET_LAB_KEEP=1). Returns the test's status, 1 if the root namespace
# changed.
lab_run() {
    local script="$1" label="$2" report="${3:-}" out kernel initrd state guard t0 rc=0
    [[ $(id -u) -eq 0 ]] || lab_die "needs root"
    t0=$(lab_now)
    out="$("$LAB_DIR/guest.sh" "$LAB_ROOT/build/lab/guest")"
    LAB_T_GUEST=$(lab_since "$t0")
    kernel="$(sed -n 's/^KERNEL=//p' <<<"$out")"
    initrd="$(sed -n 's/^INITRD=//p' <<<"$out")"
    mkdir -p "$LAB_ROOT/build/lab"
    state="$(mktemp -d "$LAB_ROOT/build/lab/$label.XXXXXX")"
    guard="$state/root-netns.json"
    "$LAB_ROOT/scripts/root-netns-guard.sh" snapshot "$guard"
    LAB_T_START=$(lab_now)
    "$LAB_ROOT/scripts/netns-instance.sh" "lab-$label" -- "$script" --inside "$state" "$kernel" "$initrd" || rc=$?
    "$LAB_ROOT/scripts/root-netns-guard.sh" check "$guard" || { lab_log "root network namespace changed"; rc=1; }
    export LAB_T_GUEST LAB_T_START
    [[ -z "$report" ]] || "$report" "$state"
    if ((rc == 0)) && [[ -z "${KVMNET_LAB_KEEP:-}" ]]; then
        rm -rf "$state"
        echo "$label: passed"
    else
        echo "$label: $( ((rc == 0)) && echo passed || echo "FAILED rc=$rc"); state kept in $state"
    fi
    return "$rc"
}
