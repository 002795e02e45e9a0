#!/usr/bin/env bash
# The wireless-only laptop VM (issue 12): Debian 12 under QEMU TCG, its wired eth0 cabled to a LAN with a DHCP router,
# Wi-Fi (two mac80211_hwsim radios, the AP inside the guest) carrying its default route.
#
#   tests/wifi_vm/vm.sh start STATE_DIR            build/reuse the image, start the LAN and the VM, wait for SSH;
#                                                  KVMNET_WIFI_VM_VARIANT picks the laptop's network stack:
#                                                  networkmanager (default) or networkd (image.sh's variants)
#   tests/wifi_vm/vm.sh wait  STATE_DIR [SECONDS]  wait until SSH answers (default KVMNET_WIFI_VM_TIMEOUT or 600)
#   tests/wifi_vm/vm.sh wifi  STATE_DIR [SECONDS]  wait until wlan0 is associated with the default route via the
#                                                  AP (either variant's stack); prints the seconds it waited
#   tests/wifi_vm/vm.sh ssh   STATE_DIR [CMD...]   ssh into the guest as root (ssh -F STATE_DIR/ssh_config)
#   tests/wifi_vm/vm.sh reboot STATE_DIR           `systemctl reboot` in the guest (QEMU keeps running: the overlay
#                                                  stays), wait for SSH from a new boot (boot_id), then for wlan0
#                                                  associated with the default route; prints reboot_to_ssh and
#                                                  reboot_to_wifi (seconds), also appended to STATE_DIR/timings
#   tests/wifi_vm/vm.sh proxy STATE_DIR            stdin/stdout <-> the guest's SSH port: an ssh ProxyCommand, so
#                                                  ssh/Ansible on the host reach the guest without any port or
#                                                  interface in the root network namespace
#   tests/wifi_vm/vm.sh stop  STATE_DIR            stop QEMU (its own PID only), delete the namespaces; idempotent
#
# Where things run: one namespace machine (tests/machines/machine.sh, name `wifi`: network namespace
# kvmnet-m-wifi-<random>, private mount, PID and /run/netns; its reaping init dies with `stop`) holds the LAN:
#   - the router (tests/lab/router.sh: namespace kvmnet-router-<random> in the machine's private /run/netns,
#     dnsmasq DHCP on $WIFI_VM_LAN_NET.0/24, router option .1), its veth end lan-r on bridge lan0;
#   - tap-eth0 on lan0: the guest's wired eth0 (virtio, MAC $WIFI_VM_ETH0_MAC, PCI slot fixed);
#   - QEMU (-machine q35,accel=tcg -cpu max, direct kernel boot of the image's kernel and initramfs, a qcow2 overlay
#     of the cached image in STATE_DIR: the image is never written), whose management NIC (virtio, mgmt0 in the
#     guest) is QEMU user-mode networking with `restrict=on`, `ipv6=off` (its router advertisements would give
#     mgmt0 an IPv6 default route) and hostfwd 127.0.0.1:$WIFI_VM_SSH_PORT -> 22 on the
#     machine's own loopback.
# Nothing is created in the root network namespace. STATE_DIR keeps: machines/ (machine.sh state), lan/ (router
# state, DHCP leases), disk.qcow2, console.log (the guest's serial console), qemu.pid (QEMU's PID as seen from
# here) + qemu.starttime (guarding against a recycled PID), variant, timings, ssh_config: host `wifi-laptop` for
# `ssh -F STATE_DIR/ssh_config wifi-laptop` (also testinfra, Ansible), through `vm.sh proxy` (ProxyCommand), with
# a connection master (ControlPersist 120 s, ended by stop).
# A start that fails half way stops what it started.
set -euo pipefail

# shellcheck source=tests/wifi_vm/lib.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MACHINE="$WIFI_VM_ROOT/tests/machines/machine.sh"
ROUTER="$WIFI_VM_ROOT/tests/lab/router.sh"
NAME=wifi
TIMEOUT="${KVMNET_WIFI_VM_TIMEOUT:-600}"

log() { printf '[wifi-vm] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
usage() { sed -n '4,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

inside() { "$MACHINE" exec "$STATE/machines" "$NAME" -- "$@"; }

start_time() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
    stat="${stat##*) }"
    awk '{print $20}' <<<"$stat"
}

# qemu_pid: QEMU's PID if it still is the process we started (start time matches), else fail.
qemu_pid() {
    local pid
    [[ -f "$STATE/qemu.pid" && -f "$STATE/qemu.starttime" ]] || return 1
    pid="$(cat "$STATE/qemu.pid")"
    [[ "$pid" =~ ^[0-9]+$ && "$(start_time "$pid")" == "$(cat "$STATE/qemu.starttime")" ]] || return 1
    printf '%s\n' "$pid"
}

write_ssh_config() {
    local image="$1"
    cat >"$STATE/ssh_config" <<EOF
# the wifi laptop VM of $STATE (tests/wifi_vm/vm.sh): ssh -F $STATE/ssh_config wifi-laptop
Host wifi-laptop
    HostName 127.0.0.1
    Port $WIFI_VM_SSH_PORT
    User root
    IdentityFile $image/id_ed25519
    IdentitiesOnly yes
    BatchMode yes
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    LogLevel ERROR
    ConnectTimeout 10
    ServerAliveInterval 15
    ProxyCommand $WIFI_VM_HERE/vm.sh proxy $STATE
    ControlMaster auto
    ControlPath /tmp/kvmnet-wifi-ssh-$(sha256sum <<<"$STATE" | cut -c1-16)
    ControlPersist 120
EOF
}

cmd_stop() {
    local pid i
    # the ssh connection master (ControlPersist) of ssh_config, if one runs
    [[ ! -f "$STATE/ssh_config" ]] || "${SSH[@]}" -O exit >/dev/null 2>&1 || true
    if pid="$(qemu_pid)"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            [[ "$(start_time "$pid")" == "$(cat "$STATE/qemu.starttime")" ]] || break
            sleep 0.1
        done
        if [[ "$(start_time "$pid")" == "$(cat "$STATE/qemu.starttime")" ]]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "QEMU (PID $pid) stopped"
    fi
    rm -f "$STATE/qemu.pid" "$STATE/qemu.starttime"
    # the machine's init, the router's dnsmasq and both namespaces (the router's lives in the machine's /run/netns)
    [[ ! -d "$STATE/machines" ]] || "$MACHINE" destroy "$STATE/machines"
    rm -rf -- "$STATE/lan" "$STATE/disk.qcow2" "$STATE/monitor.sock"
}

cmd_wait() {
    local limit="${1:-$TIMEOUT}" start=$EPOCHREALTIME
    [[ "$limit" =~ ^[0-9]+$ ]] || die "wait: SECONDS must be a whole number, not '$limit'"
    qemu_pid >/dev/null || die "no VM runs for $STATE (vm.sh start first)"
    until "${SSH[@]}" -o ControlMaster=no true 2>/dev/null; do
        qemu_pid >/dev/null || { tail -n 20 "$STATE/console.log" >&2; die "QEMU exited (console above)"; }
        (( $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print int(b - a) }') < limit )) ||
            { tail -n 20 "$STATE/console.log" >&2; die "no SSH after ${limit}s (console above: $STATE/console.log)"; }
        sleep 1
    done
}

# guest CMD...: CMD's output over a fresh SSH connection (no master: the old one may be from before a reboot)
guest() { "${SSH[@]}" -o ControlMaster=no -o ControlPath=none "$@" 2>/dev/null; }

# until_guest LIMIT START WHAT PREDICATE: run the shell function PREDICATE every second until it succeeds; die after
# LIMIT seconds since START (EPOCHREALTIME) or when QEMU is gone
until_guest() {
    local limit="$1" start="$2" what="$3" predicate="$4"
    until "$predicate"; do
        qemu_pid >/dev/null || { tail -n 20 "$STATE/console.log" >&2; die "QEMU exited (console above)"; }
        (( $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print int(b - a) }') < limit )) ||
            { tail -n 20 "$STATE/console.log" >&2; die "$what not reached after ${limit}s ($STATE/console.log)"; }
        sleep 1
    done
}

# wifi_up: wlan0 associated (iw) and the DHCP lease's default route via the AP installed (both variants' stacks)
wifi_up() {
    [[ "$(guest iw dev wlan0 link)" == "Connected to "* &&
       "$(guest ip -4 -o route show default dev wlan0)" == *"via $WIFI_VM_AP_ADDR "* ]]
}

cmd_wifi() {
    local limit="${1:-$TIMEOUT}" start=$EPOCHREALTIME
    [[ "$limit" =~ ^[0-9]+$ ]] || die "wifi: SECONDS must be a whole number, not '$limit'"
    qemu_pid >/dev/null || die "no VM runs for $STATE (vm.sh start first)"
    until_guest "$limit" "$start" "wlan0 associated with the default route" wifi_up
    elapsed "$start"
    echo
}

cmd_reboot() {
    local old start to_ssh to_wifi
    qemu_pid >/dev/null || die "no VM runs for $STATE (vm.sh start first)"
    old="$(guest cat /proc/sys/kernel/random/boot_id)" || die "no SSH to the guest before the reboot"
    start=$EPOCHREALTIME
    guest systemctl reboot || true  # the connection may close before ssh sees the exit status
    "${SSH[@]}" -O exit >/dev/null 2>&1 || true  # the connection master (ControlPersist) of the old boot
    new_boot() { local id; id="$(guest cat /proc/sys/kernel/random/boot_id)" && [[ -n "$id" && "$id" != "$old" ]]; }
    until_guest "$TIMEOUT" "$start" "SSH from a new boot" new_boot
    to_ssh="$(elapsed "$start")"
    until_guest "$TIMEOUT" "$start" "wlan0 associated with the default route" wifi_up
    to_wifi="$(elapsed "$start")"
    printf 'reboot_to_ssh %s\nreboot_to_wifi %s\n' "$to_ssh" "$to_wifi" | tee -a "$STATE/timings"
    log "rebooted: SSH after $to_ssh s, Wi-Fi (wlan0 associated, default route) after $to_wifi s"
}

cmd_start() {
    local image start pid p variant="${KVMNET_WIFI_VM_VARIANT:-networkmanager}"
    ! qemu_pid >/dev/null || die "a VM already runs for $STATE (PID $(cat "$STATE/qemu.pid")): vm.sh stop first"
    [[ "$variant" == networkmanager || "$variant" == networkd ]] ||
        die "KVMNET_WIFI_VM_VARIANT must be networkmanager or networkd, not '$variant'"
    image="$("$WIFI_VM_HERE/image.sh" build)"
    cmd_stop 2>/dev/null  # leftovers of a VM that died
    # any failure from here on (a failed command, die, a signal) stops what was started
    trap 'rc=$?; if ((rc)); then log "start failed: stopping what was started"; cmd_stop; fi' EXIT
    trap 'exit 1' ERR INT TERM HUP
    start=$EPOCHREALTIME
    "$MACHINE" start "$STATE/machines" "$NAME" >/dev/null
    mkdir -p "$STATE/lan"
    inside "$ROUTER" up "$STATE/lan" lan-r "$WIFI_VM_LAN_NET" >/dev/null
    inside sh -ec '
        ip link add lan0 type bridge stp_state 0 forward_delay 0
        ip link set lan-r master lan0
        ip tuntap add dev tap-eth0 mode tap
        ip link set tap-eth0 master lan0
        ip link set tap-eth0 up
        ip link set lan0 up'
    qemu-img create -q -f qcow2 -F qcow2 -b "$image/disk-$variant.qcow2" "$STATE/disk.qcow2"
    printf '%s\n' "$variant" >"$STATE/variant"
    write_ssh_config "$image"
    : >"$STATE/console.log"
    inside qemu-system-x86_64 -name kvmnet-wifi-laptop -nodefaults -no-user-config -display none \
        -machine q35,accel=tcg -cpu max -smp "$WIFI_VM_CPUS" -m "$WIFI_VM_MEMORY" \
        -kernel "$image/vmlinuz" -initrd "$image/initrd.img" -append "$WIFI_VM_CMDLINE" \
        -drive "file=$STATE/disk.qcow2,if=none,id=root,format=qcow2,discard=unmap" \
        -device virtio-blk-pci,drive=root,addr=0x5 \
        -netdev tap,id=lan,ifname=tap-eth0,script=no,downscript=no \
        -device "virtio-net-pci,netdev=lan,mac=$WIFI_VM_ETH0_MAC,addr=$WIFI_VM_ETH0_PCI" \
        -netdev "user,id=mgmt,restrict=on,ipv6=off,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:$WIFI_VM_SSH_PORT-:22" \
        -device "virtio-net-pci,netdev=mgmt,mac=$WIFI_VM_MGMT_MAC,addr=$WIFI_VM_MGMT_PCI" \
        -device virtio-rng-pci,addr=0x6 \
        -serial "file:$STATE/console.log" -monitor "unix:$STATE/monitor.sock,server,nowait" \
        -daemonize -pidfile "$STATE/qemu.inner.pid"
    # QEMU's PID as seen here: the one process of the machine's network namespace running QEMU
    pid=""
    for p in $(ip netns pids "$(cat "$STATE/machines/$NAME/netns")"); do
        [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == qemu-system-x86 ]] && pid="$p"
    done
    [[ -n "$pid" ]] || { log "QEMU is not running"; false; }
    start_time "$pid" >"$STATE/qemu.starttime"
    printf '%s\n' "$pid" >"$STATE/qemu.pid"
    log "QEMU PID $pid started ($variant variant, $(elapsed "$start") s after the start of the LAN), waiting for SSH"
    cmd_wait "$TIMEOUT"
    trap - EXIT ERR INT TERM HUP
    printf 'boot_to_ssh %s\n' "$(elapsed "$start")" >"$STATE/timings"
    log "SSH up $(elapsed "$start") s after the start (ssh -F $STATE/ssh_config wifi-laptop)"
}

[[ $# -ge 2 ]] || usage
VERB="$1"
[[ $(id -u) -eq 0 ]] || die "needs root"
mkdir -p "$2"
STATE="$(realpath "$2")"
[[ "$STATE" != *[:,\ ]* ]] || die "STATE_DIR $STATE must not contain ':', ',' or spaces (QEMU option syntax)"
SSH=(ssh -F "$STATE/ssh_config" wifi-laptop)
shift 2
case "$VERB" in
    start) [[ $# -eq 0 ]] || usage; cmd_start ;;
    stop) [[ $# -eq 0 ]] || usage; cmd_stop ;;
    reboot) [[ $# -eq 0 ]] || usage; cmd_reboot ;;
    wait) [[ $# -le 1 ]] || usage; cmd_wait "${1:-$TIMEOUT}" ;;
    wifi) [[ $# -le 1 ]] || usage; cmd_wifi "${1:-$TIMEOUT}" ;;
    ssh) exec "${SSH[@]}" "$@" ;;
    proxy)
        [[ $# -eq 0 ]] || usage
        exec "$MACHINE" exec "$STATE/machines" "$NAME" -- \
            python3 "$WIFI_VM_HERE/relay.py" 127.0.0.1 "$WIFI_VM_SSH_PORT" ;;
    *) usage ;;
esac
