#!/usr/bin/env bash
# Run a command inside a throwaway network namespace ("instance") and always remove it afterwards.
#
#   scripts/netns-instance.sh NAME -- CMD [ARGS...]
#
# - Creates network namespace kvmnet-NAME-<random> (fails if that name exists), brings `lo` up in it.
# - Runs CMD through `ip netns exec` (own mount namespace, /sys of the instance), inside
#   `unshare --mount --propagation private --pid --fork --mount-proc`:
#     * a private tmpfs over /run/netns: namespaces CMD creates by name (`ip netns add`, pyroute2) are invisible to
#       the root namespace and to concurrent runs, cannot collide with their names, and vanish with the instance;
#       the instance itself stays reachable there under its own name;
#     * a PID namespace: when CMD ends (or is stopped) every process it left behind (daemons, pyroute2 netns proxies)
#       is killed by the kernel, so the instance and its child namespaces are really freed.
# - CMD sees KVMNET_NETNS=<instance name>. Exit code = CMD's (128+N if stopped by signal N).
# - INT/TERM/HUP: CMD gets SIGTERM, then SIGKILL after KVMNET_STOP_GRACE seconds (default 10); the namespace is
#   deleted on every exit path (EXIT trap).
# Never touches the root namespace's interfaces, addresses or routes.
#
# The cleanup functions run from traps, which shellcheck cannot follow (SC2317: "unreachable"), for the whole file:
# shellcheck disable=SC2317
set -euo pipefail

usage() { echo "usage: $0 NAME -- CMD [ARGS...]" >&2; exit 2; }
log() { printf '[netns-instance %s] %s\n' "${NS:-?}" "$*" >&2; }

[[ $# -ge 3 && "$2" == "--" ]] || usage
NAME="$1"
shift 2
[[ "$NAME" =~ ^[A-Za-z0-9_.-]{1,40}$ ]] || { echo "$0: NAME must match [A-Za-z0-9_.-]{1,40}" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "$0: needs root" >&2; exit 1; }
GRACE="${KVMNET_STOP_GRACE:-10}"

NS="kvmnet-$NAME-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
if ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF "$NS"; then
    log "namespace already exists"
    exit 1
fi
# names of kvmnet-* namespaces visible in the root namespace (for the leftover report at the end)
kvmnet_namespaces() { ip netns list 2>/dev/null | awk '$1 ~ /^kvmnet-/ {print $1}' | sort; }
BEFORE="$(kvmnet_namespaces)"

CREATED=0  # 1 once `ip netns add` succeeded: never delete a namespace this run did not create
RUNNER=""  # PID of `ip netns exec` (execs unshare); its only child is the instance's PID 1

# PID 1 of the instance's PID namespace (the child of unshare), empty when gone.
instance_init() {
    [[ -n "$RUNNER" ]] || return 0
    awk '{print $1}' "/proc/$RUNNER/task/$RUNNER/children" 2>/dev/null || true
}

# stop_runner SIGNAL: ask PID 1 to stop CMD, wait up to GRACE seconds, then SIGKILL PID 1 (the kernel then kills
# everything in the PID namespace).
stop_runner() {
    local init i
    [[ -n "$RUNNER" ]] && kill -0 "$RUNNER" 2>/dev/null || return 0
    init="$(instance_init)"
    if [[ -n "$init" ]]; then
        kill -"$1" "$init" 2>/dev/null || true
        for ((i = 0; i < GRACE * 10; i++)); do
            kill -0 "$RUNNER" 2>/dev/null || return 0
            sleep 0.1
        done
        log "CMD still running after ${GRACE}s: SIGKILL"
        kill -KILL "$init" 2>/dev/null || true
    else
        kill -KILL "$RUNNER" 2>/dev/null || true
    fi
    wait "$RUNNER" 2>/dev/null || true
}

cleanup() {
    local rc=$? pid after new
    trap - EXIT INT TERM HUP
    stop_runner TERM
    if ((CREATED)); then
        # processes still in the instance (only possible if something entered it from outside the PID namespace)
        for pid in $(ip netns pids "$NS" 2>/dev/null); do
            log "killing leftover PID $pid"
            kill -KILL "$pid" 2>/dev/null || true
        done
        ip netns delete "$NS" || { log "could not delete namespace"; rc=1; }
    fi
    # CMD's own namespaces live in its private /run/netns and die with it; report (never delete: a concurrent run
    # may own them) any kvmnet-* namespace that appeared in the root namespace meanwhile.
    after="$(kvmnet_namespaces)"
    new="$(comm -13 <(printf '%s\n' "$BEFORE") <(printf '%s\n' "$after") | grep -vxF "$NS" || true)"
    [[ -z "$new" ]] || log "note: kvmnet-* namespaces appeared in the root namespace during the run: ${new//$'\n'/ }"
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; stop_runner TERM; exit 130' INT
trap 'log "terminated"; stop_runner TERM; exit 143' TERM
trap 'log "hangup"; stop_runner TERM; exit 129' HUP

ip netns add "$NS"
CREATED=1
ip -n "$NS" link set lo up
export KVMNET_NETNS="$NS"

# PID 1 of the instance: private /run/netns, then CMD as its child; forwards TERM/INT/HUP to CMD, reaps, and exits
# with CMD's status (its exit kills whatever CMD left behind). Expanded by that inner bash, hence single quotes.
# shellcheck disable=SC2016
INIT='
set -euo pipefail
ns="$1"; shift
# drop this mount namespace'"'"'s copies of the host'"'"'s /run/netns/* mounts: hidden under the tmpfs they would still
# keep those namespaces alive (after `ip netns delete` elsewhere) until the instance ends
awk '"'"'$5 ~ "^/run/netns/." {print $5}'"'"' /proc/self/mountinfo | while read -r mp; do umount -l "$mp" 2>/dev/null || true; done
mount -t tmpfs -o mode=0755,size=1m kvmnet-netns /run/netns
touch "/run/netns/$ns"
mount --bind /proc/self/ns/net "/run/netns/$ns"
"$@" <&0 &
child=$!
trap "kill -TERM $child 2>/dev/null || true" TERM INT HUP
while :; do
    rc=0
    wait "$child" || rc=$?
    kill -0 "$child" 2>/dev/null || break
done
exit "$rc"
'
# `<&0`: without it bash gives background jobs /dev/null as stdin
ip netns exec "$NS" unshare --mount --propagation private --pid --fork --mount-proc --kill-child \
    bash -c "$INIT" kvmnet-init "$NS" "$@" <&0 &
RUNNER=$!

rc=0
wait "$RUNNER" || rc=$?
RUNNER=""
exit "$rc"
