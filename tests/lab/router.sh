#!/usr/bin/env bash
# The lab's LAN router: a network namespace running dnsmasq as DHCP server, wired by a veth pair to the current
# namespace instance, whose end (default name eth0, "the wired NIC of a classic KVM host") is left up, without any
# address, ready to be enslaved to a bridge.
#
#   tests/lab/router.sh up STATE_DIR [LAN_IFACE [NET]]    LAN_IFACE default eth0, NET (first three octets of a /24)
#                                                         default 192.168.77
#   tests/lab/router.sh down STATE_DIR
#   tests/lab/router.sh lease STATE_DIR MAC               prints the IP dnsmasq leased to MAC; exit 1 if none (yet)
#
# Must run inside scripts/netns-instance.sh (checked): the router namespace is created by name in the instance's
# private /run/netns, so its name (kvmnet-router-<random>) is invisible outside and dies with the instance anyway.
#
# up:  router namespace with lan0 = NET.1/24 (the veth peer of LAN_IFACE); dnsmasq there, DHCP only (no DNS: port 0),
#      range NET.100-NET.199, lease time 2 min, router option NET.1; lease file, log, PID file in STATE_DIR.
#      Prints (also written to STATE_DIR/router.env, which down/lease read):
#        ROUTER_NS=kvmnet-router-<random>  ROUTER_IP=NET.1  LAN_IFACE=eth0  LEASE_FILE=...  DNSMASQ_PID=...
#      A failed up removes what it created.
# down: kills dnsmasq by its PID, deletes the router namespace (which removes the veth pair, LAN_IFACE included).
set -euo pipefail
export LAB_NAME=router
# shellcheck source=tests/lab/lib.sh disable=SC1091  # (followed when lib.sh is an input too, as in scripts/lint.sh)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { echo "usage: $0 up STATE_DIR [LAN_IFACE [NET]] | down STATE_DIR | lease STATE_DIR MAC" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
ACTION="$1"
mkdir -p "$2"
STATE="$(cd "$2" && pwd)"
ENV_FILE="$STATE/router.env"

lab_require_instance

# load_env: read STATE_DIR/router.env (KEY=VALUE lines written by up) into shell variables
load_env() {
    local key value
    [[ -f "$ENV_FILE" ]] || return 1
    while IFS='=' read -r key value; do
        case "$key" in
            ROUTER_NS | ROUTER_IP | LAN_IFACE | LEASE_FILE | DNSMASQ_PID) printf -v "$key" '%s' "$value" ;;
        esac
    done <"$ENV_FILE"
}

down() {
    local ROUTER_NS="" DNSMASQ_PID="" pid
    load_env || { lab_log "no $ENV_FILE: nothing to remove"; return 0; }
    # the PID file is the truth once dnsmasq has daemonised; router.env has it too
    pid="$(cat "$STATE/dnsmasq.pid" 2>/dev/null || true)"
    lab_kill "${pid:-$DNSMASQ_PID}" dnsmasq 5
    if [[ -n "$ROUTER_NS" ]] && ip netns list | awk '{print $1}' | grep -qxF "$ROUTER_NS"; then
        ip netns delete "$ROUTER_NS"
    fi
    rm -f "$ENV_FILE" "$STATE/dnsmasq.pid"
    lab_log "router $ROUTER_NS removed"
}

up() {
    local lan_iface="${1:-eth0}" net="${2:-192.168.77}" ns pid i
    [[ "$net" =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || lab_die "NET must be the first three octets, e.g. 192.168.77"
    [[ ! -f "$ENV_FILE" ]] || lab_die "$ENV_FILE exists: a router is up for this state dir (router.sh down first)"
    command -v dnsmasq >/dev/null || lab_die "dnsmasq missing: run scripts/bootstrap.sh"
    ! ip link show dev "$lan_iface" >/dev/null 2>&1 || lab_die "$lan_iface already exists in this namespace"
    ns="kvmnet-router-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    printf 'ROUTER_NS=%s\nROUTER_IP=%s\nLAN_IFACE=%s\nLEASE_FILE=%s\n' \
        "$ns" "$net.1" "$lan_iface" "$STATE/dnsmasq.leases" >"$ENV_FILE"
    trap 'down || true' EXIT  # undo a half-done up

    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # created here, the router end moved straight into the router namespace
    ip link add "$lan_iface" type veth peer name lan0 netns "$ns"
    ip -n "$ns" addr add "$net.1/24" dev lan0
    ip -n "$ns" link set lan0 up
    ip link set "$lan_iface" up

    rm -f "$STATE/dnsmasq.pid"
    : >"$STATE/dnsmasq.leases"
    # --port=0: no DNS; --bind-interfaces + --interface: only lan0; --user/--group root: no account switch (the
    # lease file is in STATE_DIR); --conf-file=/dev/null: none of the machine's dnsmasq configuration; --no-ping:
    # offer at once (the default ICMP probe of a new address delays every first offer by ~3 s, longer than a udhcpc
    # round).
    ip netns exec "$ns" dnsmasq \
        --conf-file=/dev/null --port=0 --bind-interfaces --interface=lan0 --except-interface=lo \
        --dhcp-range="$net.100,$net.199,255.255.255.0,2m" --dhcp-option=option:router,"$net.1" \
        --dhcp-authoritative --no-ping --dhcp-leasefile="$STATE/dnsmasq.leases" \
        --pid-file="$STATE/dnsmasq.pid" --log-facility="$STATE/dnsmasq.log" --log-dhcp \
        --user=root --group=root </dev/null
    # dnsmasq forks and writes its PID file before the parent exits; wait a little in case it is late
    pid=""
    for ((i = 0; i < 50; i++)); do
        pid="$(cat "$STATE/dnsmasq.pid" 2>/dev/null || true)"
        lab_pid_is "$pid" dnsmasq && break
        sleep 0.1
    done
    lab_pid_is "$pid" dnsmasq || { tail -n 20 "$STATE/dnsmasq.log" >&2 || true; lab_die "dnsmasq did not start"; }
    printf 'DNSMASQ_PID=%s\n' "$pid" >>"$ENV_FILE"
    trap - EXIT
    lab_log "router $ns up: lan0 $net.1/24 <-> $lan_iface, dnsmasq PID $pid"
    cat "$ENV_FILE"
}

# lease MAC: dnsmasq's lease file lines are "<expiry> <mac> <ip> <hostname> <client-id>"
lease() {
    local LEASE_FILE="" mac="${1,,}"
    load_env || lab_die "no router is up for $STATE"
    awk -v mac="$mac" '$2 == mac {ip = $3} END {if (ip == "") exit 1; print ip}' "$LEASE_FILE"
}

case "$ACTION" in
    up) [[ $# -le 4 ]] || usage; up "${3:-}" "${4:-}" ;;
    down) [[ $# -eq 2 ]] || usage; down ;;
    lease) [[ $# -eq 3 ]] || usage; lease "$3" ;;
    *) usage ;;
esac
