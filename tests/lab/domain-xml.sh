#!/usr/bin/env bash
# Print the libvirt domain XML of a lab guest (tests/lab/guest.sh): TCG, direct kernel boot, serial console to a file.
#
#   tests/lab/domain-xml.sh --name NAME --kernel PATH --initrd PATH --console FILE
#                           [--nic BRIDGE,MAC]... [--memory MIB] [--append 'KERNEL ARGS'] [--agent]
#
#   --nic BRIDGE,MAC   one <interface type='bridge'> with a virtio model per --nic (none: a guest without NICs, to
#                      attach them live); MAC like 52:54:00:xx:xx:xx
#   --memory MIB       default 256
#   --append ARGS      added to the kernel command line (e.g. kvmnet.stats=5: the guest prints its NIC counters
#                      every 5 s)
#   --agent            a virtio-serial channel org.qemu.guest_agent.0 (libvirt adds the controller and the host
#                      socket): the guest's /init runs qemu-ga on it, and libvirt's qemuAgentCommand reaches it
#
# type='qemu' (TCG), never 'kvm': /dev/kvm on this kind of machine does not run normal guests. Machine type 'pc'
# (i440fx) with ACPI: NICs hot-plug on the root PCI bus, no PCIe root ports needed. No disk, no graphics, no balloon.
set -euo pipefail

usage() {
    echo "usage: $0 --name NAME --kernel PATH --initrd PATH --console FILE [--nic BRIDGE,MAC]... [--memory MIB]" \
        "[--append ARGS] [--agent]" >&2
    exit 2
}

# xml TEXT: TEXT escaped for an XML attribute or element
xml() {
    local s="$1"
    s="${s//&/&amp;}"
    s="${s//</&lt;}"
    s="${s//>/&gt;}"
    s="${s//\'/&apos;}"
    s="${s//\"/&quot;}"
    printf '%s' "$s"
}

name="" kernel="" initrd="" console="" memory=256 append="" agent=""
nics=()
while (($#)); do
    if [[ "$1" == --agent ]]; then
        agent=1
        shift
        continue
    fi
    [[ $# -ge 2 ]] || usage
    case "$1" in
        --name) name="$2" ;;
        --kernel) kernel="$2" ;;
        --initrd) initrd="$2" ;;
        --console) console="$2" ;;
        --nic) nics+=("$2") ;;
        --memory) memory="$2" ;;
        --append) append="$2" ;;
        *) usage ;;
    esac
    shift 2
done
[[ -n "$name" && -n "$kernel" && -n "$initrd" && -n "$console" ]] || usage
[[ "$memory" =~ ^[0-9]+$ ]] || usage

cat <<EOF
<domain type='qemu'>
  <name>$(xml "$name")</name>
  <memory unit='MiB'>$memory</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$(xml "$kernel")</kernel>
    <initrd>$(xml "$initrd")</initrd>
    <cmdline>$(xml "console=ttyS0 quiet panic=-1${append:+ $append}")</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
EOF
for nic in "${nics[@]}"; do
    [[ "$nic" == *,* ]] || usage
    cat <<EOF
    <interface type='bridge'>
      <source bridge='$(xml "${nic%%,*}")'/>
      <mac address='$(xml "${nic#*,}")'/>
      <model type='virtio'/>
    </interface>
EOF
done
if [[ -n "$agent" ]]; then
    cat <<EOF
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
EOF
fi
cat <<EOF
    <serial type='file'>
      <source path='$(xml "$console")'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
