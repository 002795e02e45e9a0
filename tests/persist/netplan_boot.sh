#!/usr/bin/env bash
# The boot path of a netplan host inside a namespace machine (no systemd as PID 1), what the persist_netplan
# scenario runs at create and after each reboot (platform key kvmnet_boot):
#
#   tests/persist/netplan_boot.sh networkd          netplan generate, then systemd-networkd
#
# 1. `netplan generate`: what systemd's netplan generator does early at boot on a real host (netplan's YAML ->
#    /run/systemd/network/10-netplan-*), timed;
# 2. tests/persist/networkd_boot.sh lo:carrier: a private D-Bus, networkd started on the rendered files, waiting
#    only until networkd answers (the harness itself waits for the bridge and its port and measures the replay;
#    an uplink still asking for DHCP would keep wait-online from reporting the link online).
# Prints "netplan generate in N.NN s" and networkd_boot.sh's line. Runs inside the machine only (it writes /run).
# The NetworkManager renderer is not covered here (NetworkManager's boot path inside machines belongs to the
# persist_networkmanager scenario's helpers).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { printf 'netplan_boot: %s\n' "$*" >&2; exit 1; }
[[ $# -eq 1 ]] || die "usage: $0 networkd"
[[ "$1" == networkd ]] || die "renderer $1: only networkd has a boot path here"
command -v netplan >/dev/null || die "netplan is not installed (netplan.io)"

start="$(date +%s.%N)"
netplan generate
end="$(date +%s.%N)"
printf 'netplan generate in %.2f s\n' "$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')"
exec "$HERE/networkd_boot.sh" lo:carrier
