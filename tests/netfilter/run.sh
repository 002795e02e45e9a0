#!/usr/bin/env bash
# The netfilter phase of kvmnet.bridge.kvm_bridge_host for real: br_netfilter with a FORWARD DROP policy drops
# bridged guest traffic, `report` says so and names the fix, `fix` restores the traffic and persists the setting.
#
#   tests/netfilter/run.sh          (root; heavy: run it under `flock /tmp/kvmnet-heavy.lock`)
#   KVMNET_NETFILTER_KEEP=1 keeps the state dir (logs) also on success; FLEET_VERBOSE=1 streams ansible's output
#
# Machines (tests/machines/machine.sh): "router" (r0 192.168.50.1/24), "host" (eth0 cabled to r0, tap0 cabled to
# the guest), "guest" (g0 192.168.50.20/24: the veth end stands in for a guest's tap). The role builds kvmbr0 on the
# host with eth0 as its port; tap0 joins it. Then, in order (each ping: guest -> router, across kvmbr0):
#   1. baseline: ping works; the kernel's default here is bridge-nf-call-iptables=1
#   2. `iptables -P FORWARD DROP` on the host (what Docker does): ping fails
#   3. role with netfilter report: rc 0, warns that IPv4 guest traffic is dropped and names the fix; still broken
#   4. role with netfilter fix in check mode: predicts the file and the runtime change, changes neither
#   5. role with netfilter fix: ping works again; bridge-nf-call-iptables and -ip6tables are 0; the sysctl.d file is
#      in the machine's /etc (its copy-on-write layer), not in this machine's /etc
#   6. role with netfilter fix again: changed=0
#   7. the nftables way: iptables policy back to ACCEPT, bridge-nf-call-iptables=1 again, an inet table whose forward
#      chain has policy drop: ping fails; report reads the chain with nft and warns; fix restores the traffic
# Needs the iptables and nft programs (apt: iptables nftables). The root network namespace is compared at the end;
# the machines are destroyed on every exit. Last line: "netfilter: passed ..." or "netfilter: FAILED ...".
# The cleanup runs from a trap, which shellcheck cannot follow:
# shellcheck disable=SC2317
set -euo pipefail
export FLEET_NAME=netfilter
# shellcheck source=tests/fleet/lib.sh disable=SC1091  # (followed when lib.sh is an input too, as in scripts/lint.sh)
source "$(dirname "${BASH_SOURCE[0]}")/../fleet/lib.sh"

[[ $(id -u) -eq 0 ]] || fleet_die "needs root"
if ! command -v iptables >/dev/null || ! command -v nft >/dev/null; then
    fleet_die "iptables and nft are needed (apt-get install --no-install-recommends iptables nftables)"
fi
cd "$FLEET_ROOT"
SYSCTL_FILE=/etc/sysctl.d/90-kvmnet-bridge-netfilter.conf
[[ ! -e "$SYSCTL_FILE" ]] || fleet_die "$SYSCTL_FILE exists on this machine: this test must not run where it is"

mkdir -p build/fleet
STATE="$(mktemp -d "$FLEET_ROOT/build/fleet/netfilter.XXXXXX")"
M="$STATE/machines"
GUARD="$STATE/root-netns.json"
FAILED=""
cleanup() {
    local rc=$?
    "$FLEET_MACHINE" destroy "$M" || { fleet_log "machine destroy failed"; rc=1; }
    if [[ -f "$GUARD" ]] && ! scripts/root-netns-guard.sh check "$GUARD"; then rc=1; fi
    if [[ -e "$SYSCTL_FILE" ]]; then fleet_log "$SYSCTL_FILE appeared on this machine"; rc=1; fi
    if ((rc == 0)) && [[ -z "${KVMNET_NETFILTER_KEEP:-}" ]]; then rm -rf "$STATE"; else echo "netfilter: state in $STATE"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
fail() { fleet_log "FAILED: $*"; FAILED="$FAILED [$*]"; }

scripts/collection-tree.sh >/dev/null
scripts/root-netns-guard.sh snapshot "$GUARD"
T0=$(fleet_now)
for name in router host guest; do "$FLEET_MACHINE" start "$M" "$name" >/dev/null; done
"$FLEET_MACHINE" link "$M" host eth0 router r0
"$FLEET_MACHINE" link "$M" host tap0 guest g0
"$FLEET_MACHINE" exec "$M" router -- ip addr add 192.168.50.1/24 dev r0
"$FLEET_MACHINE" exec "$M" guest -- ip addr add 192.168.50.20/24 dev g0
fleet_inventory "$M" "$STATE/inventory.yml" host
on_host() { "$FLEET_MACHINE" exec "$M" host -- "$@"; }
guest_reaches_router() { "$FLEET_MACHINE" exec "$M" guest -- ping -n -q -c 2 -w 3 192.168.50.1 >/dev/null 2>&1; }
sysctl_value() { on_host cat "/proc/sys/net/bridge/bridge-nf-call-$1"; }

# role CASE ARGS...: the fleet playbook on the host; sets RC
role() {
    local name="$1"
    shift
    RC=0
    fleet_playbook "$STATE/$name.log" -i "$STATE/inventory.yml" playbooks/kvm_bridge.yml "$@" || RC=$?
    fleet_log "$name: rc=$RC changed=$(fleet_recap "$STATE/$name.log" host changed) ($STATE/$name.log)"
}

# 1. baseline
role converge
((RC == 0)) || fail "converge rc=$RC"
on_host ip link set tap0 master kvmbr0
guest_reaches_router || fail "1: no traffic across kvmbr0 before any firewall"
[[ "$(sysctl_value iptables)" == 1 ]] || fail "1: bridge-nf-call-iptables is not 1 (the kernel default) here"
echo "netfilter: 1 baseline: guest reaches the router across kvmbr0, bridge-nf-call-iptables=1"

# 2. Docker-like FORWARD DROP breaks it
on_host iptables -P FORWARD DROP
if guest_reaches_router; then fail "2: iptables -P FORWARD DROP did not break bridged traffic"; fi
echo "netfilter: 2 iptables -P FORWARD DROP: bridged traffic dropped"

# 3. report warns, names the fix, changes nothing
role report
((RC == 0)) || fail "3: report rc=$RC"
grep -q 'WARNING: bridged guest traffic on kvmbr0 is dropped: IPv4' "$STATE/report.log" || fail "3: no warning"
grep -q 'set kvm_bridge_host_netfilter: fix' "$STATE/report.log" || fail "3: the warning does not name the fix"
grep -q 'FORWARD policy: iptables DROP' "$STATE/report.log" || fail "3: the report does not show the policy"
if guest_reaches_router; then fail "3: report changed something"; fi
echo "netfilter: 3 report: warns (IPv4 dropped, FORWARD policy DROP) and names the fix; nothing changed"

# 4. fix in check mode predicts and changes nothing
role fix-check --check --diff -e kvm_bridge_host_netfilter=fix
((RC == 0)) || fail "4: check rc=$RC"
grep -q -- '-> 0 (fix, would apply)' "$STATE/fix-check.log" || fail "4: check mode does not show the runtime change"
grep -q "+net.bridge.bridge-nf-call-iptables = 0" "$STATE/fix-check.log" || fail "4: check mode shows no file diff"
[[ "$(sysctl_value iptables)" == 1 ]] || fail "4: check mode changed bridge-nf-call-iptables"
if on_host test -e "$SYSCTL_FILE"; then fail "4: check mode wrote $SYSCTL_FILE"; fi
echo "netfilter: 4 fix --check --diff: shows the file and the runtime change, changes neither"

# 5. fix restores the traffic and persists the values in the machine's /etc
role fix -e kvm_bridge_host_netfilter=fix
((RC == 0)) || fail "5: fix rc=$RC"
guest_reaches_router || fail "5: fix did not restore bridged traffic"
[[ "$(sysctl_value iptables) $(sysctl_value ip6tables)" == "0 0" ]] || fail "5: values not 0"
on_host grep -qx 'net.bridge.bridge-nf-call-iptables = 0' "$SYSCTL_FILE" || fail "5: $SYSCTL_FILE not in the machine"
[[ -f "$M/host/etc.upper/sysctl.d/90-kvmnet-bridge-netfilter.conf" ]] || fail "5: file not in the machine's layer"
echo "netfilter: 5 fix: traffic restored, bridge-nf-call-iptables=0 ip6tables=0, $SYSCTL_FILE in the machine's /etc"

# 6. fix again: nothing to do
role fix-again -e kvm_bridge_host_netfilter=fix
((RC == 0)) || fail "6: rc=$RC"
[[ "$(fleet_recap "$STATE/fix-again.log" host changed)" == 0 ]] || fail "6: fix is not idempotent"
echo "netfilter: 6 fix again: changed=0"

# 7. the nftables way
on_host iptables -P FORWARD ACCEPT
on_host sysctl -q -w net.bridge.bridge-nf-call-iptables=1
on_host nft add table inet kvmnettest
on_host nft add chain inet kvmnettest guard '{ type filter hook forward priority 0; policy drop; }'
if guest_reaches_router; then fail "7: an nftables forward chain with policy drop did not break bridged traffic"; fi
role nft-report
((RC == 0)) || fail "7: report rc=$RC"
grep -q 'nftables forward chains .*inet kvmnettest guard drop' "$STATE/nft-report.log" || fail "7: chain not reported"
grep -q 'WARNING: bridged guest traffic on kvmbr0 is dropped: IPv4' "$STATE/nft-report.log" || fail "7: no warning"
role nft-fix -e kvm_bridge_host_netfilter=fix
((RC == 0)) || fail "7: fix rc=$RC"
guest_reaches_router || fail "7: fix did not restore bridged traffic under the nftables drop chain"
echo "netfilter: 7 nftables inet forward chain with policy drop: dropped, reported (read with nft -j), fixed"

if [[ -n "$FAILED" ]]; then
    echo "netfilter: FAILED:$FAILED"
    exit 1
fi
echo "netfilter: passed (7 steps, $(fleet_since "$T0") s)"
