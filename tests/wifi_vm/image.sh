#!/usr/bin/env bash
# The wireless-only laptop VM's disk image: Debian 12 built from Debian packages (debootstrap), no cloud image.
#
#   tests/wifi_vm/image.sh build    build the image unless the cache holds a complete one for the current key;
#                                   prints the cache directory (stderr: "reused ..." or "built ... in N s")
#   tests/wifi_vm/image.sh check    exit 0 (and print the directory) if the cache is complete for the current key
#   tests/wifi_vm/image.sh key      print the current cache key
#   tests/wifi_vm/image.sh clean    remove the image (the downloaded .debs in build/cache/wifi-vm-debs stay)
#
# Two variants of the laptop from one build (one debootstrap, one key), each its own disk: the network stack that
# owns the Wi-Fi station, and so the one the role must detect and persist through:
#   networkmanager  NetworkManager (keyfile profile for wlan0, WPA2); systemd-networkd masked
#   networkd        systemd-networkd (.network with DHCP for wlan0) + wpa_supplicant@wlan0; network-manager purged
# Cache: build/wifi-vm/ (KVMNET_WIFI_VM_CACHE overrides) holds disk-VARIANT.qcow2 (ext4 root file system,
# zstd-compressed qcow2: vm.sh boots a copy-on-write overlay of it, the image itself is never written) and
# packages-VARIANT (what is installed, with versions), vmlinuz and initrd.img (shared: direct kernel boot, no boot
# loader), id_ed25519(.pub) (the key pair root's authorized_keys holds), build.log, and `complete` = the key: sha256
# of this script (package list included) and of lib.sh's values that are baked into the guest (names, MACs,
# addresses, SSID). A differing key rebuilds; a build goes to DIR.new and replaces DIR only when complete;
# concurrent builds wait for each other (flock DIR.lock).
# Build: `debootstrap --foreign --variant=minbase --include=PACKAGES` downloads (the only step with network, in the
# root network namespace: the Debian mirror) and unpacks; the second stage (dpkg, maintainer scripts) and the guest
# configuration run chrooted in fresh mount, PID and network namespaces with a policy-rc.d that forbids starting
# services. The initramfs is built once with MODULES=list (virtio, ext4 only: ~6 s, ~7 MB instead of ~45 s, 36 MB).
# The guest (see common_config): net.ifnames=0 and MAC-matched names (eth0 wired, mgmt0 management), mgmt0 static
# 10.0.2.15/24 without gateway (a oneshot unit; no network stack manages it), mac80211_hwsim radios=4 at boot: wlan0
# the laptop's station, wlan1 the access point (a unit kvmnet-wifi-ap moves its phy into netns `ap` and runs
# hostapd, WPA2 on channel 6, and dnsmasq, DHCP with router = the AP's address, there), wlan2 and wlan3 spare for
# the kernel-feature cases (tests/wifi_vm/kernel.sh: no stack manages them). Then the variant's stack for wlan0
# (networkmanager_config, networkd_config), pinned to the AP's channel. Needs root, debootstrap, qemu-utils,
# e2fsprogs, openssh-client, util-linux.
set -euo pipefail

# shellcheck source=tests/wifi_vm/lib.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The guest's packages (part of the key). What the roles need on the target: python3, python3-pyroute2 (>= 0.7,
# Debian 12 has 0.7.2), iproute2, NetworkManager (the persistence backend of the networkmanager variant; purged
# from the networkd variant, whose stack systemd ships).
PACKAGES=(systemd systemd-sysv udev dbus libpam-systemd kmod linux-image-amd64 initramfs-tools
          network-manager wpasupplicant iw hostapd dnsmasq-base openssh-server python3 python3-pyroute2
          iproute2 iputils-ping procps)
INITRAMFS_MODULES=(virtio_pci virtio_blk virtio_net ext4)
DISK_SIZE=3G
VARIANTS=(networkmanager networkd)
HWSIM_RADIOS=4
# lib.sh's values that end up in the guest (part of the key; vm.sh's QEMU and LAN settings are not)
BAKED=(WIFI_VM_SUITE WIFI_VM_ETH0_MAC WIFI_VM_MGMT_IF WIFI_VM_MGMT_MAC WIFI_VM_MGMT_ADDR WIFI_VM_AP_NETNS
       WIFI_VM_SSID WIFI_VM_PSK WIFI_VM_CHANNEL WIFI_VM_AP_ADDR WIFI_VM_AP_PREFIX WIFI_VM_AP_RANGE)
FORMAT=2
DEBS="$WIFI_VM_ROOT/build/cache/wifi-vm-debs"   # debootstrap's download cache: survives a key change

log() { printf '[wifi-vm image] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
usage() { sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

key() {
    {
        printf 'format %s\nsuite %s\npackages %s\ninitramfs %s\ndisk %s\nvariants %s\nradios %s\n' "$FORMAT" \
            "$WIFI_VM_SUITE" "${PACKAGES[*]}" "${INITRAMFS_MODULES[*]}" "$DISK_SIZE" "${VARIANTS[*]}" "$HWSIM_RADIOS"
        sha256sum "$WIFI_VM_HERE/image.sh" | cut -d' ' -f1
        declare -p "${BAKED[@]}"
    } | sha256sum | cut -d' ' -f1
}

complete() { [[ -f "$1/complete" && "$(cat "$1/complete")" == "$(key)" ]]; }

# in_chroot ROOTFS CMD...: CMD chrooted in ROOTFS, in fresh mount, PID and network namespaces (no network, no
# mount or daemon outlives it).
in_chroot() {
    local rootfs="$1"
    shift
    unshare --mount --propagation private --net --pid --fork --kill-child chroot "$rootfs" "$@"
}

# put ROOTFS PATH MODE: stdin into ROOTFS/PATH (parents created), with MODE.
put() {
    local file="$1$2"
    mkdir -p "$(dirname "$file")"
    cat >"$file"
    chmod "$3" "$file"
}

# Before the second stage: the initramfs configuration (the kernel's postinst builds it once, small) and a
# policy-rc.d (no service starts during the build).
# shellcheck disable=SC2016  # the hook's own variables, expanded when it runs
pre_config() {
    local r="$1" m
    put "$r" /etc/initramfs-tools/conf.d/kvmnet-wifi-vm 0644 <<<'MODULES=list'
    {
        printf '#!/bin/sh\n# kvmnet wifi VM: the only modules the initramfs needs (virtio disk, ext4 root)\n'
        printf 'PREREQ=""\nprereqs() { echo "$PREREQ"; }\ncase "$1" in prereqs) prereqs; exit 0 ;; esac\n'
        printf '. /usr/share/initramfs-tools/hook-functions\n'
        for m in "${INITRAMFS_MODULES[@]}"; do
            printf 'manual_add_modules %s\necho %s >>"${DESTDIR}/conf/modules"\n' "$m" "$m"
        done
    } | put "$r" /etc/initramfs-tools/hooks/kvmnet-wifi-vm 0755
    printf '#!/bin/sh\n# kvmnet wifi VM build: never start services\nexit 101\n' | put "$r" /usr/sbin/policy-rc.d 0755
}

# The guest's configuration both variants share (written into the root file system; units enabled offline in the
# chroot).
common_config() {
    local r="$1" pubkey="$2"
    echo wifi-laptop | put "$r" /etc/hostname 0644
    printf '127.0.0.1 localhost\n127.0.1.1 wifi-laptop\n' | put "$r" /etc/hosts 0644
    printf '/dev/vda / ext4 rw,noatime,errors=remount-ro 0 1\n' | put "$r" /etc/fstab 0644
    # NIC names by MAC (with net.ifnames=0 the kernel's ethN order is the PCI order; the .link files make it sure)
    printf '[Match]\nMACAddress=%s\n\n[Link]\nName=eth0\n' "$WIFI_VM_ETH0_MAC" |
        put "$r" /etc/systemd/network/10-kvmnet-eth0.link 0644
    printf '[Match]\nMACAddress=%s\n\n[Link]\nName=%s\n' "$WIFI_VM_MGMT_MAC" "$WIFI_VM_MGMT_IF" |
        put "$r" /etc/systemd/network/10-kvmnet-mgmt.link 0644
    # hwsim radios at boot: wlan0 (the laptop's station), wlan1 (the AP, moved into netns ap), wlan2 and wlan3
    # (spare: the kernel-feature cases move them into namespaces of their own)
    echo mac80211_hwsim | put "$r" /etc/modules-load.d/kvmnet-wifi.conf 0644
    echo "options mac80211_hwsim radios=$HWSIM_RADIOS" | put "$r" /etc/modprobe.d/kvmnet-wifi.conf 0644
    put "$r" /etc/kvmnet-laptop/hostapd.conf 0600 <<EOF
interface=wlan1
driver=nl80211
ctrl_interface=/run/kvmnet-laptop/hostapd
ssid=$WIFI_VM_SSID
hw_mode=g
channel=$WIFI_VM_CHANNEL
wpa=2
wpa_key_mgmt=WPA-PSK
rsn_pairwise=CCMP
wpa_passphrase=$WIFI_VM_PSK
EOF
    put "$r" /etc/kvmnet-laptop/dnsmasq.conf 0644 <<EOF
# DHCP of the Wi-Fi side (in netns $WIFI_VM_AP_NETNS): the laptop's default route comes from here
interface=wlan1
bind-interfaces
port=0
user=root
dhcp-authoritative
dhcp-range=$WIFI_VM_AP_RANGE,1h
dhcp-option=option:router,$WIFI_VM_AP_ADDR
dhcp-leasefile=/run/kvmnet-laptop/ap.leases
pid-file=/run/kvmnet-laptop/dnsmasq.pid
log-dhcp
log-facility=/run/kvmnet-laptop/dnsmasq.log
EOF
    put "$r" /usr/local/sbin/kvmnet-laptop 0755 <<EOF
#!/bin/sh
# kvmnet wifi laptop: mgmt (static management address, no gateway), ap-start, ap-stop (the access point side)
set -eu
wait_for() { i=0; while [ ! -e "\$1" ]; do i=\$((i + 1)); [ \$i -le 150 ] || { echo "no \$1" >&2; exit 1; }; sleep 0.2; done; }
case "\$1" in
mgmt)
    wait_for /sys/class/net/$WIFI_VM_MGMT_IF
    ip addr replace $WIFI_VM_MGMT_ADDR/24 dev $WIFI_VM_MGMT_IF
    ip link set $WIFI_VM_MGMT_IF up
    ;;
ap-start)
    mkdir -p /run/kvmnet-laptop
    wait_for /sys/class/net/wlan1/phy80211/name
    phy=\$(cat /sys/class/net/wlan1/phy80211/name)
    ip netns list | grep -qx '$WIFI_VM_AP_NETNS\( .*\)\?' || ip netns add $WIFI_VM_AP_NETNS
    iw phy "\$phy" set netns name $WIFI_VM_AP_NETNS
    ip -n $WIFI_VM_AP_NETNS link set lo up
    ip -n $WIFI_VM_AP_NETNS addr replace $WIFI_VM_AP_ADDR/$WIFI_VM_AP_PREFIX dev wlan1
    ip netns exec $WIFI_VM_AP_NETNS hostapd -B -P /run/kvmnet-laptop/hostapd.pid -f /run/kvmnet-laptop/hostapd.log /etc/kvmnet-laptop/hostapd.conf
    ip netns exec $WIFI_VM_AP_NETNS dnsmasq --conf-file=/etc/kvmnet-laptop/dnsmasq.conf
    ;;
ap-stop)
    for p in hostapd dnsmasq; do
        [ ! -f /run/kvmnet-laptop/\$p.pid ] || kill "\$(cat /run/kvmnet-laptop/\$p.pid)" 2>/dev/null || true
    done
    ;;
*) echo "usage: \$0 mgmt|ap-start|ap-stop" >&2; exit 2 ;;
esac
EOF
    put "$r" /etc/systemd/system/kvmnet-mgmt.service 0644 <<'EOF'
[Unit]
Description=kvmnet: management NIC address (no gateway: the default route comes from Wi-Fi)
Before=ssh.service
After=systemd-udevd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/kvmnet-laptop mgmt

[Install]
WantedBy=multi-user.target
EOF
    put "$r" /etc/systemd/system/kvmnet-wifi-ap.service 0644 <<'EOF'
[Unit]
Description=kvmnet: Wi-Fi access point (hwsim radio in netns ap, hostapd WPA2 + dnsmasq DHCP)
After=systemd-modules-load.service systemd-udevd.service
Before=NetworkManager.service wpa_supplicant@wlan0.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/kvmnet-laptop ap-start
ExecStop=/usr/local/sbin/kvmnet-laptop ap-stop

[Install]
WantedBy=multi-user.target
EOF
    printf 'UseDNS no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n' |
        put "$r" /etc/ssh/sshd_config.d/kvmnet.conf 0644
    put "$r" /root/.ssh/authorized_keys 0600 <"$pubkey"
    chmod 0700 "$r/root/.ssh"
    printf '[Journal]\nStorage=volatile\n' | put "$r" /etc/systemd/journald.conf.d/kvmnet.conf 0644
    in_chroot "$r" systemctl enable kvmnet-mgmt.service kvmnet-wifi-ap.service ssh.service
    # nothing a 2-core TCG boot does not need
    in_chroot "$r" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
        getty@tty1.service systemd-networkd-wait-online.service hostapd.service
}

# The networkmanager variant: NetworkManager owns wlan0 (a WPA2 keyfile profile), leaves the management NIC and
# the other radios alone, and invents no "Wired connection" for eth0 (no-auto-default); networkd is masked.
networkmanager_config() {
    local r="$1"
    put "$r" /etc/NetworkManager/conf.d/90-kvmnet-laptop.conf 0644 <<EOF
[main]
no-auto-default=*

[keyfile]
unmanaged-devices=interface-name:$WIFI_VM_MGMT_IF;interface-name:wlan1;interface-name:wlan2;interface-name:wlan3;interface-name:hwsim*
EOF
    put "$r" /etc/NetworkManager/system-connections/kvmnet-wifi.nmconnection 0600 <<EOF
[connection]
id=kvmnet-wifi
uuid=6b6b6e65-7477-6966-6900-000000000001
type=wifi
interface-name=wlan0
autoconnect=true

[wifi]
mode=infrastructure
ssid=$WIFI_VM_SSID
band=bg
channel=$WIFI_VM_CHANNEL

[wifi-security]
key-mgmt=wpa-psk
psk=$WIFI_VM_PSK

[ipv4]
method=auto

[ipv6]
method=disabled
EOF
    in_chroot "$r" systemctl enable NetworkManager.service
    in_chroot "$r" systemctl mask systemd-networkd.service NetworkManager-wait-online.service
}

# The networkd variant: network-manager purged; wpa_supplicant@wlan0 (WPA2) associates wlan0 and systemd-networkd
# leases its address (DHCP, the default route via the AP); no .network file matches eth0, mgmt0 or the other radios
# (networkd leaves them unmanaged). wpa_supplicant's D-Bus service (NetworkManager's helper) is masked.
networkd_config() {
    local r="$1"
    in_chroot "$r" dpkg --purge network-manager
    put "$r" /etc/wpa_supplicant/wpa_supplicant-wlan0.conf 0600 <<EOF
ctrl_interface=DIR=/run/wpa_supplicant GROUP=root
update_config=0
network={
    ssid="$WIFI_VM_SSID"
    key_mgmt=WPA-PSK
    psk="$WIFI_VM_PSK"
    scan_freq=$WIFI_VM_FREQ
    freq_list=$WIFI_VM_FREQ
}
EOF
    put "$r" /etc/systemd/network/40-kvmnet-wlan0.network 0644 <<EOF
# the laptop's Wi-Fi station (wpa_supplicant@wlan0 associates it): its address and default route from the AP
[Match]
Name=wlan0

[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF
    in_chroot "$r" systemctl enable systemd-networkd.service wpa_supplicant@wlan0.service
    in_chroot "$r" systemctl mask wpa_supplicant.service
}

# finish_disk ROOTFS DIR VARIANT: the package list, the build's leftovers out, ROOTFS into DIR/disk-VARIANT.qcow2
# (ROOTFS removed afterwards).
finish_disk() {
    local rootfs="$1" dir="$2" variant="$3"
    # shellcheck disable=SC2016  # dpkg-query's format
    in_chroot "$rootfs" dpkg-query -W -f '${Package} ${Version}\n' >"$dir/packages-$variant"
    rm -f "$rootfs/usr/sbin/policy-rc.d"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
        "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    truncate -s "$DISK_SIZE" "$dir/disk-$variant.raw"
    mkfs.ext4 -q -L kvmnet-root -d "$rootfs" "$dir/disk-$variant.raw"
    rm -rf -- "$rootfs"
    qemu-img convert -c -O qcow2 -o compression_type=zstd "$dir/disk-$variant.raw" "$dir/disk-$variant.qcow2"
    rm -f "$dir/disk-$variant.raw"
}

cmd_build() {
    local dir="$1" new start rootfs want
    mkdir -p "$(dirname "$dir")" "$DEBS"
    exec 9>"$dir.lock"
    flock 9
    want="$(key)"
    if complete "$dir"; then
        log "reused $dir (key ${want:0:12})"
        printf '%s\n' "$dir"
        return 0
    fi
    start=$EPOCHREALTIME
    new="$dir.new"
    rm -rf -- "$new"
    mkdir -p "$new"
    rootfs="$new/rootfs"
    log "building $dir (key ${want:0:12}): debootstrap $WIFI_VM_SUITE minbase + ${PACKAGES[*]}"
    trap 'rm -rf -- "$new"' EXIT
    ssh-keygen -q -t ed25519 -N '' -C kvmnet-wifi-vm -f "$new/id_ed25519"
    local inc
    inc="$(IFS=,; printf '%s' "${PACKAGES[*]}")"
    if ! unshare --mount --propagation private debootstrap --foreign --variant=minbase --components=main \
        --include="$inc" --cache-dir="$DEBS" "$WIFI_VM_SUITE" "$rootfs" "$WIFI_VM_MIRROR" >"$new/build.log" 2>&1; then
        tail -n 30 "$new/build.log" >&2
        die "debootstrap (first stage) failed"
    fi
    log "downloaded and unpacked in $(elapsed "$start") s"
    pre_config "$rootfs"
    if ! in_chroot "$rootfs" /debootstrap/debootstrap --second-stage >>"$new/build.log" 2>&1; then
        tail -n 30 "$new/build.log" >&2
        die "debootstrap (second stage) failed"
    fi
    log "installed in $(elapsed "$start") s"
    common_config "$rootfs" "$new/id_ed25519.pub" >>"$new/build.log" 2>&1
    cp "$(realpath "$rootfs/vmlinuz")" "$new/vmlinuz"
    cp "$(realpath "$rootfs/initrd.img")" "$new/initrd.img"
    # each variant from a copy of the common tree (the last one from the tree itself)
    local variant variant_rootfs
    for variant in "${VARIANTS[@]}"; do
        variant_rootfs="$rootfs"
        if [[ "$variant" != "${VARIANTS[-1]}" ]]; then
            variant_rootfs="$new/rootfs-$variant"
            cp -a -- "$rootfs" "$variant_rootfs"
        fi
        "${variant}_config" "$variant_rootfs" >>"$new/build.log" 2>&1
        finish_disk "$variant_rootfs" "$new" "$variant"
        log "$variant disk in $(elapsed "$start") s"
    done
    printf '%s\n' "$want" >"$new/complete"
    trap - EXIT
    rm -rf -- "$dir"
    mv -- "$new" "$dir"
    log "built $dir in $(elapsed "$start") s (disks $(du -ch "$dir"/disk-*.qcow2 | tail -n 1 | cut -f1), initrd $(du -h "$dir/initrd.img" | cut -f1))"
    printf '%s\n' "$dir"
}

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

[[ $# -eq 1 ]] || usage
case "$1" in
    build)
        [[ $(id -u) -eq 0 ]] || die "needs root"
        { command -v debootstrap && command -v qemu-img; } >/dev/null ||
            die "needs debootstrap and qemu-img: apt-get install --no-install-recommends debootstrap qemu-utils"
        cmd_build "$WIFI_VM_CACHE"
        ;;
    check) complete "$WIFI_VM_CACHE" || exit 1; printf '%s\n' "$WIFI_VM_CACHE" ;;
    key) key ;;
    clean) rm -rf -- "$WIFI_VM_CACHE" "$WIFI_VM_CACHE.new" "$WIFI_VM_CACHE.lock" ;;
    *) usage ;;
esac
