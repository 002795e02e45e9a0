#!/usr/bin/env bash
# The boot path of systemd-networkd inside a namespace machine (no systemd as PID 1, no journal), what a
# persist_networkd scenario runs at create and after each reboot (platform key kvmnet_boot):
#
#   tests/persist/networkd_boot.sh [IF:STATE ...]     e.g. kvmbr0:carrier eth0:enslaved
#
# 1. a private D-Bus system bus (dbus-daemon --system) unless one runs: networkctl needs it (networkd itself
#    does not), and the backend activates through `networkctl reload`;
# 2. /run/systemd/netif/{links,leases,lldp} owned by systemd-network (networkd drops to that user and cannot
#    create them itself without systemd's RuntimeDirectory=);
# 3. /lib/systemd/systemd-networkd, detached, logging to the console (SYSTEMD_LOG_TARGET=console: without a
#    journal socket its default target is the kernel log, which a namespace shares with the host) appended to
#    /run/kvmnet-networkd.log; its PID in /run/kvmnet-networkd.pid;
# 4. systemd-networkd-wait-online -i IF:STATE, 20 s at most, for each argument whose interface a kvmnet file
#    names ([Match] Name=IF in /etc/systemd/network/*kvmnet*.network); without one (before the role ran: the
#    uplink may sit in "configuring" for ever under a DHCP=yes file without a DHCP server) only until networkd
#    has written its manager state (/run/systemd/netif/state).
# Prints one line: "networkd up in N.NN s (pid P)". Idempotent: a running networkd (its PID file, same program)
# is left alone. Runs inside the machine only (it writes /run, which machines make private).
set -euo pipefail

LOG=/run/kvmnet-networkd.log
PIDFILE=/run/kvmnet-networkd.pid
NETWORKD=/lib/systemd/systemd-networkd
WAIT_ONLINE=/lib/systemd/systemd-networkd-wait-online

die() { printf 'networkd_boot: %s\n' "$*" >&2; exit 1; }
[[ -x "$NETWORKD" ]] || die "$NETWORKD is not installed (Debian: systemd package)"
start="$(date +%s.%N)"

if [[ ! -S /run/dbus/system_bus_socket ]]; then
    install -d -m 0755 /run/dbus
    dbus-daemon --system --fork
fi

running() {
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
    [[ "$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | head -n 1)" == "$NETWORKD" ]]
}
if ! running; then
    install -d -m 0755 -o systemd-network -g systemd-network /run/systemd/netif /run/systemd/netif/links \
        /run/systemd/netif/leases /run/systemd/netif/lldp
    SYSTEMD_LOG_TARGET=console setsid "$NETWORKD" </dev/null >>"$LOG" 2>&1 &
    echo "$!" >"$PIDFILE"
fi

args=()
for spec in "$@"; do
    if grep -qsx "Name=${spec%%:*}" /etc/systemd/network/*kvmnet*.network; then
        args+=(-i "$spec")
    fi
done
if [[ ${#args[@]} -eq 0 ]]; then
    for _ in $(seq 200); do
        [[ ! -s /run/systemd/netif/state ]] || break
        sleep 0.1
    done
    [[ -s /run/systemd/netif/state ]] || { cat "$LOG" >&2; die "networkd wrote no /run/systemd/netif/state in 20 s"; }
elif ! "$WAIT_ONLINE" --timeout=20 "${args[@]}"; then
    cat "$LOG" >&2
    die "systemd-networkd-wait-online ${args[*]} did not succeed within 20 s (log above)"
fi
end="$(date +%s.%N)"
printf 'networkd up in %.2f s (pid %s)\n' "$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')" "$(cat "$PIDFILE")"
