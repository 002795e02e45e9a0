#!/usr/bin/env bash
# NetworkManager's boot path in a namespace machine (no systemd): a private system D-Bus, then NetworkManager.
#
#   tests/persist/nm_boot.sh        run inside the machine (molecule platform key kvmnet_boot); returns when
#                                   NetworkManager answers on D-Bus and its startup (autoconnect) is complete
#
# The harness configuration goes to /run/NetworkManager/conf.d/00-kvmnet-harness.conf (rewritten at every boot,
# never part of the machine's /etc): no-auto-default=* (no "Wired connection N" on the machine's other veths),
# dns=none and rc-manager=unmanaged (resolv.conf is the host's), hostname-mode=none (the UTS name stays),
# auth-polkit=false (no polkit in the machine). NetworkManager runs in the foreground (--debug: log to stderr)
# with its log in /run/kvmnet-nm.log, detached from the caller (setsid, stdio redirected) so Ansible does not wait
# on it. /sys is read-only in machines (tests/machines/machine.sh): without that NetworkManager waits for udev and
# keeps every device unmanaged (LAB-NOTES); the price is that its sysfs writes (bridge-port options) fail (EROFS).
set -euo pipefail

TIMEOUT="${KVMNET_NM_TIMEOUT:-20}"

mkdir -p /run/dbus /run/NetworkManager/conf.d
cat >/run/NetworkManager/conf.d/00-kvmnet-harness.conf <<'CONF'
# kvmnet test harness (tests/persist/nm_boot.sh): NetworkManager in a namespace machine
[main]
no-auto-default=*
dns=none
rc-manager=unmanaged
hostname-mode=none
auth-polkit=false
CONF
if [[ ! -S /run/dbus/system_bus_socket ]]; then
    rm -f /run/dbus/pid
    dbus-daemon --system --fork
fi
if ! nmcli -t -f RUNNING general 2>/dev/null | grep -qx running; then
    setsid /usr/sbin/NetworkManager --debug </dev/null >>/run/kvmnet-nm.log 2>&1 &
fi
deadline=$((SECONDS + TIMEOUT))
until nmcli -t -f RUNNING general 2>/dev/null | grep -qx running; do
    if ((SECONDS >= deadline)); then
        echo "nm_boot: NetworkManager did not answer within ${TIMEOUT}s; its log:" >&2
        tail -n 30 /run/kvmnet-nm.log >&2 || true
        exit 1
    fi
    sleep 0.05
done
# startup complete: the autoconnect profiles have been tried (the port may still be activating; the caller waits)
nm-online -s -q -t "$TIMEOUT" || { echo "nm_boot: NetworkManager startup did not complete in ${TIMEOUT}s" >&2; exit 1; }
