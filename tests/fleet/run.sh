#!/usr/bin/env bash
# The fleet playbook (playbooks/kvm_bridge.yml) against namespace machines, in single ansible-playbook runs.
#
#   tests/fleet/run.sh          (root; heavy: run it under `flock /tmp/kvmnet-heavy.lock`)
#
#   KVMNET_FLEET_SIZE=N   hosts (default 10)          FLEET_VERBOSE=1   stream ansible's output to stderr
#   KVMNET_FLEET_KEEP=1   keep the state dir (logs, inventories) also on success
#
# The picture is tests/fleet/lib.sh's: a "lan" machine and N hosts, each with its own connection on wl0 (default
# route) and a wired eth0 on the LAN. Cases, in order, each one ansible-playbook run over all hosts (forks = N):
#   dry-run     --check --diff on fresh hosts: succeeds, every host predicts changes (bridge and port), and no
#               host's network state changed (links, addresses, routes: before == after)
#   converge    every host: kvmbr0 (STP off, forward delay 0, eth0's MAC), eth0 its port without an address, the
#               default route still on wl0 (read with `ip -j` in the machine); then a veth standing in for a guest's
#               tap joins kvmbr0 and pings the LAN's router across it
#   idempotent  the same run again: changed=0 on every host, with every phase enabled
#   refusals    all hosts in one batch, failures tolerated; hosts 1-8 each hit another refusal (auto without a wired
#               NIC, static and dhcp without a stack to address the bridge, a backend whose stack is not installed,
#               a port of another bridge, an uplink with an address, a bridge name taken by a veth, loopback as
#               uplink): each message is
#               checked and each host is unchanged; hosts 9-10 report changed=0
#   canary      a second bridge on eth1, but the canary (the first host) names its connection interface wl0 as the
#               uplink: the canary fails in preflight, the play stops, no other host is touched (not in the recap,
#               no kvmbr1 anywhere), the canary is unchanged
#   batch       a third bridge on eth1 with the third host's uplink missing: the canary and the second host
#               converge, the batch of hosts 2 and 3 exceeds max_fail_percentage (0), hosts 4..N are not touched
# A snapshot of the root network namespace is compared at the end; every machine is destroyed on every exit.
# Prints one line per case and, last, "fleet: passed (N hosts) ..." with the timings, or "fleet: FAILED".
# The cleanup runs from a trap, which shellcheck cannot follow:
# shellcheck disable=SC2317
set -euo pipefail
export FLEET_NAME=fleet
# shellcheck source=tests/fleet/lib.sh disable=SC1091  # (followed when lib.sh is an input too, as in scripts/lint.sh)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) -eq 0 ]] || fleet_die "needs root"
SIZE="${KVMNET_FLEET_SIZE:-10}"
((SIZE >= 4)) || fleet_die "KVMNET_FLEET_SIZE must be at least 4 (canary, a batch of two, the rest)"
cd "$FLEET_ROOT"
PLAYBOOK="$FLEET_ROOT/playbooks/kvm_bridge.yml"

mkdir -p build/fleet
STATE="$(mktemp -d "$FLEET_ROOT/build/fleet/run.XXXXXX")"
GUARD="$STATE/root-netns.json"
FAILED=""
cleanup() {
    local rc=$?
    "$FLEET_MACHINE" destroy "$STATE/machines" || { fleet_log "machine destroy failed"; rc=1; }
    if [[ -f "$GUARD" ]] && ! scripts/root-netns-guard.sh check "$GUARD"; then
        rc=1
    fi
    if ((rc == 0)) && [[ -z "${KVMNET_FLEET_KEEP:-}" ]]; then
        rm -rf "$STATE"
    else
        echo "fleet: state kept in $STATE"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() { fleet_log "FAILED: $*"; FAILED="$FAILED $1"; }

scripts/collection-tree.sh >/dev/null
scripts/root-netns-guard.sh snapshot "$GUARD"
T0=$(fleet_now)
fleet_machines "$STATE/machines" "$SIZE"
HOSTS=()
for ((i = 1; i <= SIZE; i++)); do HOSTS+=("$(fleet_host_name "$i")"); done
fleet_inventory "$STATE/machines" "$STATE/inventory.yml" "${HOSTS[@]}"
export ANSIBLE_FORKS="$SIZE"
TIMINGS="machines_s=$(fleet_since "$T0")"

# run CASE ARGS...: one ansible-playbook run (on $INVENTORY, default the base inventory), its wall time in TIMINGS;
# sets RC.
run() {
    local name="$1" t0
    shift
    t0=$(fleet_now)
    RC=0
    fleet_playbook "$STATE/$name.log" -i "${INVENTORY:-$STATE/inventory.yml}" "$PLAYBOOK" "$@" || RC=$?
    TIMINGS="$TIMINGS ${name}_s=$(fleet_since "$t0")"
    fleet_log "$name: ansible-playbook rc=$RC ($STATE/$name.log)"
}

# expect_recap CASE HOST FIELD OP VALUE: the recap field of HOST compares as asked (OP: -eq, -ge, absent).
expect_recap() {
    local name="$1" host="$2" field="$3" op="$4" want="${5:-}" got
    got="$(fleet_recap "$STATE/$name.log" "$host" "$field")"
    if [[ "$op" == absent ]]; then
        [[ -z "$got" ]] || fail "$name: $host is in the recap ($field=$got), it must not have run"
        return 0
    fi
    [[ -n "$got" ]] || { fail "$name: $host missing from the recap"; return 0; }
    test "$got" "$op" "$want" || fail "$name: $host $field=$got, expected $op $want"
}

# variant OUT GROUP_VARS_JSON HOST_VARS_JSON: the inventory with group vars and per-host vars added (JSON objects)
variant() {
    "$FLEET_ROOT/.venv/bin/python" - "$STATE/inventory.yml" "$1" "$2" "$3" <<'PY'
import json
import sys

import yaml

source, out, group_vars, host_vars = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
with open(source) as handle:
    inventory = yaml.safe_load(handle)
inventory['kvm_hosts']['vars'].update(group_vars)
for host, values in host_vars.items():
    inventory['kvm_hosts']['hosts'][host].update(values)
with open(out, 'w') as handle:
    yaml.safe_dump(inventory, handle, sort_keys=False)
PY
}

# ---- dry-run: --check --diff on fresh hosts changes nothing and shows the plan
fleet_settle "$STATE/machines" "${HOSTS[@]}"
for host in "${HOSTS[@]}"; do fleet_state "$STATE/machines" "$host" >"$STATE/$host.before.json"; done
run dry-run --check --diff
((RC == 0)) || fail "dry-run: rc=$RC"
for host in "${HOSTS[@]}"; do
    expect_recap dry-run "$host" failed -eq 0
    expect_recap dry-run "$host" changed -ge 2
    fleet_state "$STATE/machines" "$host" >"$STATE/$host.after.json"
    diff -u "$STATE/$host.before.json" "$STATE/$host.after.json" >&2 || fail "dry-run: $host's network state changed"
done
grep -q 'kvmbr0: would change: create' "$STATE/dry-run.log" || fail "dry-run: the plan does not show the bridge"
grep -q 'eth0: would change: enslave eth0' "$STATE/dry-run.log" || fail "dry-run: the plan does not show the port"
echo "fleet: dry-run checked (rc=$RC, every host predicts changes, no host changed)"

# ---- converge
run converge
((RC == 0)) || fail "converge: rc=$RC"
for ((i = 1; i <= SIZE; i++)); do
    host="${HOSTS[i - 1]}"
    expect_recap converge "$host" failed -eq 0
    expect_recap converge "$host" changed -ge 2
    python3 - "$host" "$(fleet_ip "$STATE/machines" "$host" -d link show)" \
        "$(fleet_ip "$STATE/machines" "$host" addr show dev eth0)" \
        "$(fleet_ip "$STATE/machines" "$host" route show default)" <<'PY' || fail "converge: $host's kernel state"
import json
import sys

host, links, eth0_addresses, default_routes = sys.argv[1], *(json.loads(arg) for arg in sys.argv[2:])
by_name = {link['ifname']: link for link in links}
problems = []
bridge = by_name.get('kvmbr0')
if not bridge or bridge.get('linkinfo', {}).get('info_kind') != 'bridge':
    problems.append('kvmbr0 is missing or not a bridge')
else:
    data = bridge['linkinfo']['info_data']
    if data.get('stp_state') != 0 or data.get('forward_delay') != 0:
        problems.append('kvmbr0 stp_state=%s forward_delay=%s' % (data.get('stp_state'), data.get('forward_delay')))
    if bridge['address'] != by_name['eth0']['address']:
        problems.append('kvmbr0 MAC %s is not eth0 %s' % (bridge['address'], by_name['eth0']['address']))
if by_name['eth0'].get('master') != 'kvmbr0':
    problems.append('eth0 master is %s' % by_name['eth0'].get('master'))
global_addresses = [a['local'] for a in eth0_addresses[0]['addr_info'] if a.get('scope') == 'global']
if global_addresses:
    problems.append('eth0 carries %s' % global_addresses)
if [route.get('dev') for route in default_routes] != ['wl0']:
    problems.append('default route: %s' % default_routes)
if problems:
    sys.exit('%s: %s' % (host, '; '.join(problems)))
PY
    # a veth standing in for a guest's tap joins kvmbr0; the "guest" end pings the LAN's router across the bridge
    "$FLEET_MACHINE" exec "$STATE/machines" "$host" -- sh -ec "
        ip link add g0 type veth peer name g0p && ip link set g0p master kvmbr0 && ip link set g0p up
        ip addr add 192.168.50.$((100 + i))/24 dev g0 && ip link set g0 up" ||
        fail "converge: $host: guest stand-in"
    "$FLEET_MACHINE" exec "$STATE/machines" "$host" -- ping -n -q -c 2 -w 5 -I g0 192.168.50.1 >/dev/null ||
        fail "converge: $host: no traffic across kvmbr0 to the LAN's router"
done
echo "fleet: converge checked (bridge, port without IP, default route on wl0, traffic across kvmbr0 on $SIZE hosts)"

# ---- idempotent: every phase enabled, no change
run idempotent
((RC == 0)) || fail "idempotent: rc=$RC"
for host in "${HOSTS[@]}"; do
    expect_recap idempotent "$host" failed -eq 0
    expect_recap idempotent "$host" changed -eq 0
done
echo "fleet: idempotent checked (changed=0 on $SIZE hosts)"

# ---- refusals: one batch of all hosts (-e kvm_bridge_serial=N, failures tolerated), each of the first 8 with
# another refusal; each names what it saw and leaves its host unchanged, the last two converge as before (changed=0)
"$FLEET_MACHINE" exec "$STATE/machines" "${HOSTS[5]}" -- ip addr add 192.0.2.6/24 dev eth1
variant "$STATE/inventory-refusals.yml" '{}' '{
    "'"${HOSTS[0]}"'": {"kvm_bridge_host_uplink": "auto"},
    "'"${HOSTS[1]}"'": {"kvm_bridge_host_uplink": "eth1", "kvm_bridge_host_addressing": "static"},
    "'"${HOSTS[2]}"'": {"kvm_bridge_host_uplink": "eth1", "kvm_bridge_host_addressing": "dhcp"},
    "'"${HOSTS[3]}"'": {"kvm_bridge_host_uplink": "eth1", "kvm_bridge_host_persist": "networkmanager"},
    "'"${HOSTS[4]}"'": {"kvm_bridge_host_bridge": "kvmbr5"},
    "'"${HOSTS[5]}"'": {"kvm_bridge_host_uplink": "eth1", "kvm_bridge_host_bridge": "kvmbr6"},
    "'"${HOSTS[6]}"'": {"kvm_bridge_host_uplink": "eth1", "kvm_bridge_host_bridge": "wl0"},
    "'"${HOSTS[7]}"'": {"kvm_bridge_host_uplink": "lo", "kvm_bridge_host_bridge": "kvmbr8"}}'
REFUSALS=(
    "kvm_bridge_host_uplink: auto found no wired NIC to bridge. Every interface, with the reason it was rejected:"
    "kvm_bridge_host_addressing: static needs a network stack that addresses kvmbr0"
    "kvm_bridge_host_addressing: dhcp needs a network stack that addresses kvmbr0"
    "NetworkManager is not installed (nmcli missing): install network-manager, or choose the backend"
    "Interface eth0 is already a port of bridge kvmbr0"
    "Interface eth1 carries 192.0.2.6/24"
    "kvm_bridge_host_bridge: wl0 exists and is a veth interface, not a bridge"
    "Interface lo cannot be the uplink of kvmbr8"
)
for ((i = 0; i < ${#REFUSALS[@]}; i++)); do fleet_state "$STATE/machines" "${HOSTS[i]}" >"$STATE/refusal-$i.before.json"; done
INVENTORY="$STATE/inventory-refusals.yml" run refusals -e "kvm_bridge_serial=$SIZE" -e kvm_bridge_max_fail_percentage=100
((RC != 0)) || fail "refusals: the play succeeded"
for ((i = 0; i < ${#REFUSALS[@]}; i++)); do
    host="${HOSTS[i]}"
    expect_recap refusals "$host" failed -eq 1
    fatal="$(grep -F "fatal: [$host]" "$STATE/refusals.log" || true)"
    grep -qF -- "${REFUSALS[i]}" <<<"$fatal" || fail "refusals: $host does not say: ${REFUSALS[i]}"
    fleet_state "$STATE/machines" "$host" >"$STATE/refusal-$i.after.json"
    diff -u "$STATE/refusal-$i.before.json" "$STATE/refusal-$i.after.json" >&2 || fail "refusals: $host changed"
done
for host in "${HOSTS[@]:${#REFUSALS[@]}}"; do
    expect_recap refusals "$host" failed -eq 0
    expect_recap refusals "$host" changed -eq 0
done
"$FLEET_MACHINE" exec "$STATE/machines" "${HOSTS[5]}" -- ip addr del 192.0.2.6/24 dev eth1
echo "fleet: refusals checked (${#REFUSALS[@]} refusals in one batch, each named and each host unchanged)"

# ---- canary: the first host refuses (its connection interface as uplink), nothing else runs
CANARY="${HOSTS[0]}"
variant "$STATE/inventory-canary.yml" '{"kvm_bridge_host_uplink": "eth1", "kvm_bridge_host_bridge": "kvmbr1"}' \
    '{"'"$CANARY"'": {"kvm_bridge_host_uplink": "wl0"}}'
fleet_state "$STATE/machines" "$CANARY" >"$STATE/canary.before.json"
T_CASE=$(fleet_now)
RC=0
fleet_playbook "$STATE/canary.log" -i "$STATE/inventory-canary.yml" "$PLAYBOOK" || RC=$?
TIMINGS="$TIMINGS canary_s=$(fleet_since "$T_CASE")"
((RC != 0)) || fail "canary: the play succeeded"
expect_recap canary "$CANARY" failed -eq 1
for host in "${HOSTS[@]:1}"; do
    expect_recap canary "$host" ok absent
    if fleet_ip "$STATE/machines" "$host" link show kvmbr1 >/dev/null 2>&1; then fail "canary: $host has kvmbr1"; fi
done
grep -q 'carries the Ansible connection' "$STATE/canary.log" || fail "canary: the refusal does not say why"
fleet_state "$STATE/machines" "$CANARY" >"$STATE/canary.after.json"
diff -u "$STATE/canary.before.json" "$STATE/canary.after.json" >&2 || fail "canary: $CANARY changed"
echo "fleet: canary checked (rc=$RC: the canary refused, the other $((SIZE - 1)) hosts never ran)"

# ---- batch: the second batch (hosts 2 and 3) has a failure: 50% > max_fail_percentage, the rest never runs
BAD="${HOSTS[2]}"
variant "$STATE/inventory-batch.yml" '{"kvm_bridge_host_uplink": "eth1", "kvm_bridge_host_bridge": "kvmbr2"}' \
    '{"'"$BAD"'": {"kvm_bridge_host_uplink": "eth9"}}'
T_CASE=$(fleet_now)
RC=0
fleet_playbook "$STATE/batch.log" -i "$STATE/inventory-batch.yml" "$PLAYBOOK" || RC=$?
TIMINGS="$TIMINGS batch_s=$(fleet_since "$T_CASE")"
((RC != 0)) || fail "batch: the play succeeded"
expect_recap batch "${HOSTS[0]}" failed -eq 0
expect_recap batch "${HOSTS[1]}" failed -eq 0
expect_recap batch "$BAD" failed -eq 1
grep -q 'kvm_bridge_host_uplink: eth9 does not exist' "$STATE/batch.log" || fail "batch: the refusal does not say why"
for host in "${HOSTS[@]:3}"; do
    expect_recap batch "$host" ok absent
    if fleet_ip "$STATE/machines" "$host" link show kvmbr2 >/dev/null 2>&1; then fail "batch: $host has kvmbr2"; fi
done
echo "fleet: batch checked (rc=$RC: hosts 1-2 converged, host 3 refused, hosts 4-$SIZE never ran)"

if [[ -n "$FAILED" ]]; then
    echo "fleet: FAILED ($SIZE hosts):$FAILED; $TIMINGS"
    exit 1
fi
echo "fleet: passed ($SIZE hosts, forks $SIZE) $TIMINGS"
