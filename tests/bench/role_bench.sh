#!/usr/bin/env bash
# `make bench`, the roles' part: the cost of an idempotent kvm_bridge_host run against the same number of
# ansible.builtin.ping tasks, and the fleet playbook's idempotent run on 10 machines with 10 forks and with 1.
#
#   tests/bench/role_bench.sh        (root; scripts/bench.sh runs it; BENCH_ROLE_ROUNDS=N, default 3)
#
# Namespace machines as in tests/fleet/lib.sh (10 hosts and the "lan" machine, connection community.docker.nsenter),
# converged once with playbooks/kvm_bridge.yml. Then:
#   - a counting run of kvm_bridge_host alone on h01 gives N, the number of its tasks that run (skipped ones do not
#     reach the host and cost milliseconds; they are counted apart), and must report changed=0;
#   - BENCH_ROLE_ROUNDS times, ONE ansible-playbook process runs two plays on h01: the role again (idempotent, every
#     phase enabled), then N ping tasks; each play is timed from its first task to its last (controller clock,
#     set_fact markers). role_noop_ratio is the median role time over the median ping time;
#   - fleet_10_forks10_s / fleet_10_forks1_s: wall time of the whole fleet playbook's idempotent run (serial [1, 25%],
#     so forks only help inside a batch), which must report changed=0 on every host.
# Prints the figures as name=value lines; the root network namespace is compared at the end and every machine is
# destroyed on every exit.
# The cleanup runs from a trap, which shellcheck cannot follow:
# shellcheck disable=SC2317
set -euo pipefail
export FLEET_NAME=role-bench
# shellcheck source=tests/fleet/lib.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/../fleet/lib.sh"

[[ $(id -u) -eq 0 ]] || fleet_die "needs root"
ROUNDS="${BENCH_ROLE_ROUNDS:-3}"
((ROUNDS >= 1)) || fleet_die "BENCH_ROLE_ROUNDS must be at least 1"
SIZE=10
cd "$FLEET_ROOT"
mkdir -p build/fleet
STATE="$(mktemp -d "$FLEET_ROOT/build/fleet/bench.XXXXXX")"
GUARD="$STATE/root-netns.json"
cleanup() {
    local rc=$?
    "$FLEET_MACHINE" destroy "$STATE/machines" || rc=1
    if [[ -f "$GUARD" ]] && ! scripts/root-netns-guard.sh check "$GUARD"; then rc=1; fi
    if ((rc == 0)); then rm -rf "$STATE"; else echo "role-bench: state kept in $STATE" >&2; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

scripts/collection-tree.sh >/dev/null
scripts/root-netns-guard.sh snapshot "$GUARD"
fleet_machines "$STATE/machines" "$SIZE"
HOSTS=()
for ((i = 1; i <= SIZE; i++)); do HOSTS+=("$(fleet_host_name "$i")"); done
fleet_inventory "$STATE/machines" "$STATE/inventory.yml" "${HOSTS[@]}"
INV=(-i "$STATE/inventory.yml")

# all_unchanged LOG: every host in LOG's recap has changed=0 and failed=0
all_unchanged() {
    local host
    for host in "${HOSTS[@]}"; do
        [[ "$(fleet_recap "$1" "$host" changed)" == 0 && "$(fleet_recap "$1" "$host" failed)" == 0 ]] || return 1
    done
}

ANSIBLE_FORKS=$SIZE fleet_playbook "$STATE/converge.log" "${INV[@]}" playbooks/kvm_bridge.yml ||
    fleet_die "converge failed ($STATE/converge.log)"

# the counting run: kvm_bridge_host alone on h01
cat >"$STATE/role.yml" <<'EOF'
- name: kvm_bridge_host alone (idempotent)
  hosts: h01
  gather_facts: false
  roles:
    - role: kvmnet.bridge.kvm_bridge_host
EOF
fleet_playbook "$STATE/count.log" "${INV[@]}" "$STATE/role.yml" || fleet_die "counting run failed ($STATE/count.log)"
[[ "$(fleet_recap "$STATE/count.log" h01 changed)" == 0 ]] || fleet_die "the role's re-run is not idempotent"
TASKS="$(fleet_recap "$STATE/count.log" h01 ok)"
SKIPPED="$(fleet_recap "$STATE/count.log" h01 skipped)"

# the measured runs: the role, then as many pings, in one process
{
    cat <<'EOF'
- name: kvm_bridge_host again (idempotent, timed)
  hosts: h01
  gather_facts: false
  pre_tasks:
    - name: Start of the role
      ansible.builtin.set_fact:
        bench_role_start: "{{ now().timestamp() }}"
  roles:
    - role: kvmnet.bridge.kvm_bridge_host
  post_tasks:
    - name: End of the role
      ansible.builtin.set_fact:
        bench_role_end: "{{ now().timestamp() }}"
- name: The same number of pings (timed)
  hosts: h01
  gather_facts: false
  tasks:
    - name: Start of the pings
      ansible.builtin.set_fact:
        bench_ping_start: "{{ now().timestamp() }}"
EOF
    for ((i = 1; i <= TASKS; i++)); do
        printf '    - name: ping %d\n      ansible.builtin.ping:\n' "$i"
    done
    cat <<'EOF'
    - name: Times
      ansible.builtin.debug:
        msg: "BENCH role_s={{ '%.3f' | format(bench_role_end | float - bench_role_start | float) }} ping_s={{ '%.3f' | format(now().timestamp() - bench_ping_start | float) }}"
EOF
} >"$STATE/measure.yml"
ROLE_TIMES=()
PING_TIMES=()
for ((round = 1; round <= ROUNDS; round++)); do
    fleet_playbook "$STATE/measure-$round.log" "${INV[@]}" "$STATE/measure.yml" ||
        fleet_die "measured run $round failed ($STATE/measure-$round.log)"
    [[ "$(fleet_recap "$STATE/measure-$round.log" h01 changed)" == 0 ]] || fleet_die "round $round changed something"
    line="$(grep -o 'BENCH role_s=[0-9.]* ping_s=[0-9.]*' "$STATE/measure-$round.log")"
    line="${line#BENCH role_s=}"   # "<role> ping_s=<ping>"
    ROLE_TIMES+=("${line%% *}")
    PING_TIMES+=("${line##*ping_s=}")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ROLE_S="$(median "${ROLE_TIMES[@]}")"
PING_S="$(median "${PING_TIMES[@]}")"

# the fleet's idempotent run, 10 forks and 1
fleet_timed() {
    local forks="$1" t0
    t0=$(fleet_now)
    ANSIBLE_FORKS=$forks fleet_playbook "$STATE/fleet-forks$forks.log" "${INV[@]}" playbooks/kvm_bridge.yml ||
        fleet_die "fleet run with $forks forks failed ($STATE/fleet-forks$forks.log)"
    all_unchanged "$STATE/fleet-forks$forks.log" || fleet_die "fleet run with $forks forks was not idempotent"
    fleet_since "$t0"
}
FORKS10="$(fleet_timed 10)"
FORKS1="$(fleet_timed 1)"

echo "role_bench: idempotent kvm_bridge_host on one namespace machine: $TASKS tasks run ($SKIPPED skipped)," \
    "then $TASKS ansible.builtin.ping tasks, one ansible-playbook process, median of $ROUNDS round(s):" \
    "role ${ROLE_TIMES[*]} s, pings ${PING_TIMES[*]} s"
echo "role_noop_s=$ROLE_S"
echo "role_ping_s=$PING_S"
echo "role_noop_ratio=$(awk -v a="$ROLE_S" -v b="$PING_S" 'BEGIN {printf "%.3f", a / b}')"
echo "role_bench: fleet playbook, idempotent re-run on $SIZE namespace machines (serial [1, \"25%\"])"
echo "fleet_10_forks10_s=$FORKS10"
echo "fleet_10_forks1_s=$FORKS1"
