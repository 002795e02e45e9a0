#!/usr/bin/env bash
# The fault campaign (issue 11): kills, vanishing objects and racing plays against the real kernel.
#
#   tests/campaign/faults/run.sh     (root; heavy: run it under `flock /tmp/kvmnet-heavy.lock`)
#
#   KVMNET_FAULTS_ROUNDS=N   race rounds (default 5)     KVMNET_FAULTS_KEEP=1   keep the work dir (logs) on success
#
# 1. pytest (tests/campaign/faults/test_*.py) inside a throwaway scripts/netns-instance.sh instance, each case in
#    its own network namespace made there: every step of real multi-step plans SIGKILLed before and after its
#    kernel request, then re-run (converges, says so); bridge_persist killed between its file writes; a bridge and
#    a namespace deleted mid-run, libvirtd unavailable, a domain vanishing (clear error, nothing half applied).
# 2. Race rounds: one namespace machine (tests/machines/machine.sh, its own /etc, /run); two ansible-playbook
#    processes start at the same instant with playbooks/race.yml (bridge, port, networkd files), from scratch
#    each round. Both must succeed, the kernel state and the persisted files must be exactly a solo run's, no
#    temporary file, lock or run record may stay behind; after the rounds a further run reports changed=0.
# The collection is used from the working tree (a symlinked ansible_collections/kvmnet/bridge in the work dir;
# community.docker, for the nsenter connection, from build/collections). The root network namespace is
# snapshotted and compared at the end; the machine and the instance are removed on every exit path.
# Prints the kill points per plan and, last, `faults: K kill points over P plans, all converged; E error cases;
# R race rounds`; fails when any case fails or when a part ran no case.
# The cleanup runs from a trap, which shellcheck cannot follow:
# shellcheck disable=SC2317
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
MACHINE="$ROOT/tests/machines/machine.sh"
ROUNDS="${KVMNET_FAULTS_ROUNDS:-5}"
PYTHON="$ROOT/.venv/bin/python"

log() { printf '[faults] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[[ $(id -u) -eq 0 ]] || die "needs root"
[[ -x "$PYTHON" ]] || die "$PYTHON missing: run scripts/bootstrap.sh"
[[ -d "$ROOT/build/collections/ansible_collections/community/docker" ]] ||
    die "community.docker missing in build/collections: run scripts/bootstrap.sh"
((ROUNDS > 0)) || die "KVMNET_FAULTS_ROUNDS must be at least 1"

WORK="$(mktemp -d /tmp/kvmnet-faults.XXXXXX)"
STATE="$WORK/machines"
GUARD="$WORK/root-netns.json"
ok=0
cleanup() {
    local rc=$?
    "$MACHINE" destroy "$STATE" >/dev/null 2>&1 || log "machine cleanup failed (state dir $STATE)"
    if ! "$ROOT/scripts/root-netns-guard.sh" check "$GUARD"; then
        log "ERROR: the root network namespace changed"
        rc=1
    fi
    if ((rc == 0 && ok)) && [[ -z "${KVMNET_FAULTS_KEEP:-}" ]]; then
        rm -rf "$WORK"
    else
        log "work dir kept: $WORK"
    fi
    exit "$rc"
}
"$ROOT/scripts/root-netns-guard.sh" snapshot "$GUARD"
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$WORK/collections/ansible_collections/kvmnet"
ln -s "$ROOT" "$WORK/collections/ansible_collections/kvmnet/bridge"
export ANSIBLE_COLLECTIONS_PATH="$WORK/collections:$ROOT/build/collections" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export ANSIBLE_LOCAL_TEMP="$WORK/ansible-local" ANSIBLE_PYTHON_INTERPRETER="$PYTHON"
COUNTS="$WORK/counts.jsonl"
: >"$COUNTS"

# ---- 1. kills and vanishing objects (pytest, in a throwaway instance) ------------------------------------------
start=$EPOCHREALTIME
log "kills and errors: pytest in a netns instance"
rc=0
"$ROOT/scripts/netns-instance.sh" faults -- env PYTHONPATH="$WORK/collections" KVMNET_FAULTS_COUNTS="$COUNTS" \
    KVMNET_RUN_DIR="$WORK/run" "$PYTHON" -m pytest -p no:cacheprovider -q -s -rfE "$HERE" || rc=$?
pytest_secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
((rc == 0)) || die "pytest failed (rc $rc)"

# ---- 2. two plays racing on one host ---------------------------------------------------------------------------
start=$EPOCHREALTIME
"$MACHINE" start "$STATE" race >/dev/null
"$MACHINE" exec "$STATE" race -- sh -ec '
    ip link add eth0 address 52:54:00:bb:00:01 type veth peer name peer0 address 52:54:00:bb:00:02
    ip link set peer0 up
    mkdir -p /etc/systemd/network'
INVENTORY="$WORK/inventory.yml"
cat >"$INVENTORY" <<EOF
race:
  hosts:
    race: {ansible_nsenter_pid: $("$MACHINE" pid "$STATE" race)}
  vars:
    ansible_connection: community.docker.nsenter
    ansible_python_interpreter: $PYTHON
EOF

playbook() {  # playbook LOG: one run of race.yml, its exit code
    "$ROOT/.venv/bin/ansible-playbook" -i "$INVENTORY" "$HERE/playbooks/race.yml" >"$1" 2>&1
}
recap() {  # recap LOG FIELD
    awk -v field="$2" '/^PLAY RECAP/ { r = 1; next }
        r && $1 == "race" { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == field) print kv[2] } }' "$1"
}
in_machine() { "$MACHINE" exec "$STATE" race -- "$@"; }
# what a converged host shows: the bridge, the port, the files (content), and nothing else of ours
host_state() {
    # shellcheck disable=SC2016  # the script is expanded inside the machine
    in_machine sh -ec '
        ip -j -d link show kvmbr0 | python3 -c "import json,sys; l=json.load(sys.stdin)[0]; d=l[\"linkinfo\"][\"info_data\"]
print(\"kvmbr0\", l[\"address\"], \"UP\" in l[\"flags\"], d[\"stp_state\"], d[\"forward_delay\"])"
        ip -j -d link show eth0 | python3 -c "import json,sys; l=json.load(sys.stdin)[0]
print(\"eth0\", l.get(\"master\"), l[\"linkinfo\"][\"info_slave_data\"][\"cost\"])"
        cd /etc/systemd/network && for f in $(ls -A); do echo "== $f"; cat "$f"; done
        ls -A /run/kvmnet 2>/dev/null | sed "s/^/run: /"'
}
reset_host() {
    in_machine sh -ec 'ip link del kvmbr0 2>/dev/null || true; rm -f /etc/systemd/network/*'
}

log "race: a solo run for the reference state"
playbook "$WORK/solo.log" || die "the solo run failed: $WORK/solo.log"
reference="$(host_state)"
grep -q '^== .*kvmbr0.netdev$' <<<"$reference" || die "the solo run wrote no .netdev: $reference"
rounds=0
for ((round = 1; round <= ROUNDS; round++)); do
    reset_host
    playbook "$WORK/round$round-a.log" & a=$!
    playbook "$WORK/round$round-b.log" & b=$!
    rc_a=0 rc_b=0
    wait "$a" || rc_a=$?
    wait "$b" || rc_b=$?
    ((rc_a == 0 && rc_b == 0)) || die "round $round: ansible-playbook rc $rc_a / $rc_b: $WORK/round$round-{a,b}.log"
    state="$(host_state)"
    [[ "$state" == "$reference" ]] ||
        die "round $round: the host differs from the solo run's:$(diff <(echo "$reference") <(echo "$state") || true)"
    changed_a="$(recap "$WORK/round$round-a.log" changed)" changed_b="$(recap "$WORK/round$round-b.log" changed)"
    failed="$(($(recap "$WORK/round$round-a.log" failed) + $(recap "$WORK/round$round-b.log" failed)))"
    ((failed == 0)) || die "round $round: $failed failed task(s)"
    # the three tasks change the host once in all: whoever ran a task first changed it, the other found it done
    ((changed_a + changed_b == 3)) ||
        die "round $round: changed=$changed_a + changed=$changed_b, expected 3 in all (each task once)"
    log "race round $round: both converged (changed $changed_a + $changed_b)"
    rounds=$((rounds + 1))
done
playbook "$WORK/again.log" || die "the run after the rounds failed: $WORK/again.log"
[[ "$(recap "$WORK/again.log" changed)" == 0 ]] || die "the run after the rounds changed something: $WORK/again.log"
race_secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

# ---- summary ---------------------------------------------------------------------------------------------------
read -r kills plans errors < <("$PYTHON" - "$COUNTS" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
kills = [row for row in rows if row['kind'] == 'kill']
print(sum(row['n'] for row in kills), len(kills), sum(row['n'] for row in rows if row['kind'] == 'error'))
EOF
)
((kills > 0 && errors > 0 && rounds > 0)) || die "a part ran no case: $kills kill points, $errors error cases, $rounds rounds"
ok=1
log "timings: pytest ${pytest_secs}s, race ${race_secs}s"
echo "faults: $kills kill points over $plans plans, all converged; $errors error cases; $rounds race rounds"
