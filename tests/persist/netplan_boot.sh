#!/usr/bin/env bash
# The boot path of a netplan host inside a namespace machine (no systemd as PID 1), what the persist_netplan
# scenario runs at create and after each reboot (platform key kvmnet_boot):
#
#   tests/persist/netplan_boot.sh networkd          netplan generate, then systemd-networkd
#   tests/persist/netplan_boot.sh NetworkManager    netplan generate, then NetworkManager
#
# 1. `netplan generate`: what systemd's netplan generator does early at boot on a real host (netplan's YAML ->
#    /run/systemd/network/10-netplan-*), timed;
# 2. the renderer's own boot path, on the rendered files:
#    - tests/persist/networkd_boot.sh lo:carrier: a private D-Bus and networkd, waiting only until networkd answers
#      (the harness itself waits for the bridge and its port and measures the replay; an uplink still asking for
#      DHCP would keep wait-online from reporting the link online);
#    - tests/persist/nm_boot.sh: a private D-Bus and NetworkManager with the harness conf.d.
# Prints "netplan generate in N.NN s" and the boot script's output. Runs inside the machine only (it writes /run).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { printf 'netplan_boot: %s\n' "$*" >&2; exit 1; }
[[ $# -eq 1 && ( "$1" == networkd || "$1" == NetworkManager ) ]] || die "usage: $0 networkd|NetworkManager"
command -v netplan >/dev/null || die "netplan is not installed (netplan.io)"

start="$(date +%s.%N)"
netplan generate
end="$(date +%s.%N)"
printf 'netplan generate in %.2f s\n' "$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')"
if [[ "$1" == networkd ]]; then
    exec "$HERE/networkd_boot.sh" lo:carrier
fi
exec "$HERE/nm_boot.sh"
