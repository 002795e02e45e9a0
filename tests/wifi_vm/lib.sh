# shellcheck shell=bash
# The wireless-only laptop VM's constants, shared by image.sh (baked into the guest), vm.sh (QEMU, the LAN) and
# before.sh (the "Before" assertions): one place for every name, MAC and address.
# shellcheck disable=SC2034  # used by the scripts that source this file

WIFI_VM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WIFI_VM_HERE="$WIFI_VM_ROOT/tests/wifi_vm"
WIFI_VM_CACHE="${KVMNET_WIFI_VM_CACHE:-$WIFI_VM_ROOT/build/wifi-vm}"   # image.sh's cache (one image per key)
WIFI_VM_SUITE=bookworm
WIFI_VM_MIRROR="${KVMNET_WIFI_VM_MIRROR:-http://deb.debian.org/debian}"

# Baked into the image (image.sh's cache key covers exactly these): the guest's NICs: MAC-matched names (.link files in the image), fixed PCI slots (vm.sh)
WIFI_VM_ETH0_MAC=52:54:00:6b:01:10   # the wired NIC, a tap on the LAN inside the VM's namespace
WIFI_VM_ETH0_PCI=0x3
WIFI_VM_MGMT_IF=mgmt0                # management NIC: QEMU user-mode network, SSH forwarded, no gateway
WIFI_VM_MGMT_MAC=52:54:00:6b:01:20
WIFI_VM_MGMT_PCI=0x4
WIFI_VM_MGMT_ADDR=10.0.2.15          # QEMU user-mode network's guest address (static in the guest, /24)
WIFI_VM_SSH_PORT=2222                # hostfwd on 127.0.0.1 inside the VM's namespace only

# Wi-Fi inside the guest: two mac80211_hwsim radios; the AP's radio lives in the guest's netns "ap"
WIFI_VM_AP_NETNS=ap
WIFI_VM_SSID=kvmnet-laptop
WIFI_VM_PSK=kvmnet-wpa2-passphrase
WIFI_VM_CHANNEL=6                    # 2437 MHz, pinned on both sides (association in ~2 s instead of ~10 s)
WIFI_VM_FREQ=2437
WIFI_VM_AP_ADDR=192.168.77.1         # the AP side's address: router option of its DHCP, the guest's gateway
WIFI_VM_AP_PREFIX=24
WIFI_VM_AP_RANGE=192.168.77.100,192.168.77.149

# the wired LAN inside the VM's namespace: a bridge with the tap and a veth to the router's namespace (dnsmasq)
# (tests/lab/router.sh: NET.1/24 on the router, DHCP range NET.100-NET.199, router option NET.1)
WIFI_VM_LAN_NET=192.168.60

# QEMU
WIFI_VM_MEMORY=1024
WIFI_VM_CPUS=2
WIFI_VM_CMDLINE="console=ttyS0,115200 root=/dev/vda rootfstype=ext4 rw net.ifnames=0 loglevel=4 systemd.show_status=0"
