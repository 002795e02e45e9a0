#!/usr/bin/env bash
# Build the lab's tiny guest (no image download): Debian's cloud kernel + a busybox initramfs that takes a DHCP lease
# on every NIC, including NICs hot-plugged later, and runs the QEMU guest agent when the domain has its channel.
#
#   tests/lab/guest.sh BUILD_DIR
#
# Prints two lines (paths are absolute):
#   KERNEL=BUILD_DIR/vmlinuz
#   INITRD=BUILD_DIR/initrd.img
#
# Runs outside any namespace instance (it needs Debian's archive: `apt-get download`); it touches no network config.
# Needs busybox-static and apt (scripts/bootstrap.sh installs busybox-static). The guest agent is Debian's
# qemu-guest-agent, downloaded like the kernel (never installed on the host); it is a dynamic binary, so it goes into
# the initramfs with the host's copies of the shared libraries it needs (ldd; the host is the same Debian release, and
# they come from qemu-system-x86's dependencies: glib, pcre2, numa, uring, udev, libc).
#
# Cache: BUILD_DIR/stamp holds the kernel package and version, busybox-static's version, qemu-guest-agent's version,
# the versions of the packages its libraries come from and this script's hash; a call with the same stamp does
# nothing (well under a second). Concurrent calls serialise on BUILD_DIR/.lock.
#
# The guest (boot it with `console=ttyS0`; its /init prints to the serial console, lines end in \r\n):
#   - insmods virtio_ring, virtio, virtio_pci_modern_dev, virtio_pci_legacy_dev, virtio_pci, failover,
#     net_failover, virtio_net, virtio_console (the order computed from the modules' depends=: the deb has no
#     modules.dep);
#   - when a virtio-serial port named org.qemu.guest_agent.0 appears (domain-xml.sh --agent), starts qemu-ga on it,
#     so libvirt's qemuAgentCommand (guest-network-get-interfaces) reads the guest's own NIC counters;
#   - every second: each ethN that has no live udhcpc gets `ip link set up` and one (retries every few seconds until
#     it gets a lease, then keeps renewing); NICs that disappear get their udhcpc stopped, so a NIC hot-plugged
#     later, or detached and attached again, gets its own lease;
#   - console lines, one event each, for the tests to wait on:
#       KVMNET-GUEST READY <kernel release>          /init is running, modules loaded
#       NIC <iface> <mac>                            a new NIC was seen, udhcpc started on it
#       LEASE <iface> <ip> <router> <mac>            udhcpc got a lease (address and default route configured)
#       RENEW <iface> <ip> <router> <mac>            a lease was renewed
#       NOLEASE <iface> <mac>                        udhcpc gave up a round without a lease (it tries again)
#       LINK <iface> up|down                         carrier seen first or changed (e.g. libvirt link down)
#       GONE <iface>                                 the NIC disappeared (detached)
#       AGENT <device>                               qemu-ga started on the guest agent port (e.g. /dev/vport1p1)
#       AGENT exited <rc>                            qemu-ga stopped (it is started again a second later)
#       STATS <iface> <rx_bytes> <rx_packets> <tx_bytes> <tx_packets>
#                                                    every N seconds if the kernel command line has kvmnet.stats=N
#   - the default route of ethN gets metric 100+N, so several NICs on one LAN coexist.
set -euo pipefail
export LAB_NAME=guest
# shellcheck source=tests/lab/lib.sh disable=SC1091  # (followed when lib.sh is an input too, as in scripts/lint.sh)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
mkdir -p "$1"
BUILD="$(cd "$1" && pwd)"
KERNEL="$BUILD/vmlinuz"
INITRD="$BUILD/initrd.img"
META_PKG=linux-image-cloud-amd64
AGENT_PKG=qemu-guest-agent
# the host packages the agent's shared libraries come from (checked at build time with dpkg -S; in the stamp)
AGENT_LIB_PKGS=(libc6 libglib2.0-0 libpcre2-8-0 libnuma1 liburing2 libudev1)
BUSYBOX=/bin/busybox
# The virtio NIC modules, and virtio_console for the guest agent's virtio-serial port. The deb has no modules.dep (so
# no modprobe in the guest): the load order is computed at build time from each module's own `depends=` (.modinfo),
# e.g. virtio needs virtio_ring first in 6.1.
MODULES=(virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net
    virtio_console)

# --- what would be built --------------------------------------------------------------------------------------------
# resolve: sets pkg and pkg_version (the versioned kernel package the meta package depends on, e.g.
# linux-image-6.1.0-56-cloud-amd64 6.1.192-2: its Depends pins the exact version) and qga_version (the candidate
# version of qemu-guest-agent, what apt-get download fetches). One apt-cache call (~0.5 s) for both.
resolve() {
    local show
    show=$(apt-cache show --no-all-versions "$META_PKG" "$AGENT_PKG" 2>/dev/null) || true
    read -r pkg pkg_version < <(awk -v meta="$META_PKG" '/^Package: / {p = $2} p == meta && /^Depends:/' <<<"$show" |
        sed -n 's/^Depends:.*\(linux-image-[^ ,]*\) (= \([^)]*\)).*/\1 \2/p' | head -n 1) || true
    qga_version=$(awk -v agent="$AGENT_PKG" '/^Package: / {p = $2} p == agent && /^Version: / {print $2; exit}' \
        <<<"$show")
}
resolve
if [[ -z "${pkg:-}" || -z "$qga_version" ]]; then
    # a fresh machine may have no package lists yet
    lab_log "apt knows no $META_PKG or $AGENT_PKG: apt-get update"
    apt-get update -qq
    resolve
    [[ -n "${pkg:-}" && -n "${pkg_version:-}" ]] || lab_die "cannot resolve $META_PKG to a kernel package"
    [[ -n "$qga_version" ]] || lab_die "apt knows no $AGENT_PKG"
fi
[[ -x "$BUSYBOX" ]] || lab_die "busybox-static is not installed: run scripts/bootstrap.sh"
bb_version=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null) ||
    lab_die "busybox-static is not installed (only another busybox?): run scripts/bootstrap.sh"
lib_versions=$(dpkg-query -W -f='${Package}=${Version} ' "${AGENT_LIB_PKGS[@]}" 2>/dev/null) ||
    lab_die "the guest agent's libraries are not all installed (${AGENT_LIB_PKGS[*]}): run scripts/bootstrap.sh"
stamp="$pkg=$pkg_version busybox-static=$bb_version $AGENT_PKG=$qga_version ${lib_versions}script=$(
    sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"

print_paths() { printf 'KERNEL=%s\nINITRD=%s\n' "$KERNEL" "$INITRD"; }

exec 9>"$BUILD/.lock"
flock 9
if [[ -f "$BUILD/stamp" && "$(cat "$BUILD/stamp")" == "$stamp" && -s "$KERNEL" && -s "$INITRD" ]]; then
    print_paths
    exit 0
fi

# --- build ----------------------------------------------------------------------------------------------------------
start=$(lab_now)
lab_log "building guest: $pkg $pkg_version, busybox-static $bb_version, $AGENT_PKG $qga_version"
rm -f "$BUILD/stamp"
work="$BUILD/work"
rm -rf "$work"
mkdir -p "$work/deb" "$work/root"
trap 'rm -rf "$work"' EXIT

# Download only the kernel and agent debs (no dependencies, no install). Sandbox user root: _apt cannot write into
# BUILD_DIR.
(cd "$work/deb" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$pkg_version" "$AGENT_PKG=$qga_version" \
    >/dev/null)
deb=$(find "$work/deb" -name 'linux-image-*.deb' | head -n 1)
[[ -n "$deb" ]] || lab_die "apt-get download $pkg gave no .deb"
agent_deb=$(find "$work/deb" -name "${AGENT_PKG}_*.deb" | head -n 1)
[[ -n "$agent_deb" ]] || lab_die "apt-get download $AGENT_PKG gave no .deb"
# Extract only the kernel image and the modules we load (the whole deb is ~100 MB of modules).
patterns=('./boot/vmlinuz-*')
for m in "${MODULES[@]}"; do patterns+=("*/$m.ko"); done
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/deb" --wildcards "${patterns[@]}"
vmlinuz=$(find "$work/deb/boot" -name 'vmlinuz-*' | head -n 1)
kernel_release=${vmlinuz##*/vmlinuz-}

r="$work/root"
mkdir -p "$r"/{bin,sbin,etc,proc,sys,dev,run,tmp,lib/modules}
cp "$BUSYBOX" "$r/bin/busybox"
for m in "${MODULES[@]}"; do
    ko=$(find "$work/deb/lib/modules" -name "$m.ko" | head -n 1)
    [[ -n "$ko" ]] || lab_die "module $m.ko not found in $pkg"
    cp "$ko" "$r/lib/modules/$m.ko"
done
# load order: dependencies first (depth-first over the modules' depends= lists)
declare -A visited=()
order=()
visit() {
    local m="$1" d deps
    [[ -z "${visited[$m]:-}" ]] || return 0
    visited[$m]=1
    [[ -f "$r/lib/modules/$m.ko" ]] || lab_die "module $m is needed (a dependency) but not in MODULES"
    deps=$(tr '\0' '\n' <"$r/lib/modules/$m.ko" | sed -n 's/^depends=//p' | head -n 1)
    for d in ${deps//,/ }; do visit "${d//-/_}"; done
    order+=("$m")
}
for m in "${MODULES[@]}"; do visit "$m"; done
printf '%s\n' "${order[@]}" >"$r/lib/modules/order"
lab_log "module load order: ${order[*]}"
printf '%s\n' "$kernel_release" >"$r/etc/kernel-release"

# The guest agent: the binary from its deb, its shared libraries (and the dynamic loader) from the host, at the paths
# ldd names. Each library must belong to one of AGENT_LIB_PKGS, whose versions are in the stamp.
mkdir -p "$work/agent"
dpkg-deb --fsys-tarfile "$agent_deb" | tar -x -C "$work/agent" ./usr/sbin/qemu-ga
install -D -m 0755 "$work/agent/usr/sbin/qemu-ga" "$r/bin/qemu-ga"
libs=$(ldd "$r/bin/qemu-ga") || lab_die "ldd qemu-ga failed"
! grep -q 'not found' <<<"$libs" || lab_die "the host lacks libraries of qemu-ga: $(grep 'not found' <<<"$libs")"
while read -r lib; do
    owner=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null) ||
        lab_die "no package owns $lib (needed by qemu-ga)"
    owner=${owner%%:*}
    [[ " ${AGENT_LIB_PKGS[*]} " == *" $owner "* ]] ||
        lab_die "$lib (needed by qemu-ga) comes from $owner, which is not in AGENT_LIB_PKGS: add it there"
    install -D -m 0755 "$(readlink -f "$lib")" "$r$lib"
done < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$libs")

# /init and the udhcpc hook run under busybox sh in the guest: they are written verbatim (quoted heredocs).
cat >"$r/init" <<'EOF'
#!/bin/busybox sh
# kvmnet lab guest: DHCP on every NIC, forever. Output goes to the serial console.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
for m in $(cat /lib/modules/order); do
    insmod "/lib/modules/$m.ko" || echo "KVMNET-GUEST insmod $m failed"
done
ip link set lo up
stats=$(sed -n 's/.*kvmnet\.stats=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
echo "KVMNET-GUEST READY $(cat /etc/kernel-release)"
tick=0
while :; do
    # the guest agent, once its port exists (the port's name arrives from the host a moment after insmod)
    if ! { [ -f /run/qemu-ga.pid ] && kill -0 "$(cat /run/qemu-ga.pid)" 2>/dev/null; }; then
        for n in /sys/class/virtio-ports/*/name; do
            [ -e "$n" ] && [ "$(cat "$n")" = org.qemu.guest_agent.0 ] || continue
            p=${n%/name}
            p=/dev/${p##*/}
            (qemu-ga -m virtio-serial -p "$p" -t /run -f /run/qemu-ga.own.pid 2>>/run/qemu-ga.log; echo "AGENT exited $?") &
            echo $! >/run/qemu-ga.pid
            echo "AGENT $p"
        done
    fi
    # NICs that went away: stop their udhcpc (a NIC attached again later gets a new one)
    for f in /run/udhcpc.*.pid; do
        [ -e "$f" ] || continue
        i=${f#/run/udhcpc.}; i=${i%.pid}
        if [ ! -e "/sys/class/net/$i" ]; then
            kill "$(cat "$f")" 2>/dev/null
            rm -f "$f" "/run/carrier.$i"
            echo "GONE $i"
        fi
    done
    for d in /sys/class/net/eth*; do
        [ -e "$d" ] || continue
        i=${d##*/}
        f=/run/udhcpc.$i.pid
        if ! { [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }; then
            ip link set "$i" up
            echo "NIC $i $(cat "$d/address")"
            # -f: stay in the foreground of this background job and keep renewing; -t/-T/-A: 3 discovers 1 s
            # apart, then 2 s pause, again and again until a lease comes (default pause 20 s)
            udhcpc -f -i "$i" -s /etc/udhcpc.script -t 3 -T 1 -A 2 >/dev/null 2>&1 &
            echo $! >"$f"
        fi
        c=$(cat "$d/carrier" 2>/dev/null)
        if [ -n "$c" ] && [ "$c" != "$(cat "/run/carrier.$i" 2>/dev/null)" ]; then
            if [ "$c" = 1 ]; then echo "LINK $i up"; else echo "LINK $i down"; fi
            echo "$c" >"/run/carrier.$i"
        fi
        if [ -n "$stats" ] && [ "$stats" -gt 0 ] && [ $((tick % stats)) -eq 0 ]; then
            s=$d/statistics
            echo "STATS $i $(cat $s/rx_bytes) $(cat $s/rx_packets) $(cat $s/tx_bytes) $(cat $s/tx_packets)"
        fi
    done
    tick=$((tick + 1))
    sleep 1
done
EOF

cat >"$r/etc/udhcpc.script" <<'EOF'
#!/bin/busybox sh
# udhcpc hook: $1 = event; udhcpc exports interface, ip, mask (prefix length), router, ...
mac=$(cat "/sys/class/net/$interface/address" 2>/dev/null)
gw=${router%% *}
case "$1" in
    deconfig)
        ip -4 addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound|renew)
        [ "$1" = bound ] && ip -4 addr flush dev "$interface"
        ip addr replace "$ip/${mask:-24}" dev "$interface"
        n=${interface#eth}
        case "$n" in ''|*[!0-9]*) n=50 ;; esac
        [ -n "$gw" ] && ip route replace default via "$gw" dev "$interface" metric $((100 + n))
        if [ "$1" = bound ]; then ev=LEASE; else ev=RENEW; fi
        echo "$ev $interface $ip ${gw:--} $mac" >/dev/console
        ;;
    leasefail|nak)
        echo "NOLEASE $interface $mac" >/dev/console
        ;;
esac
exit 0
EOF
chmod 0755 "$r/init" "$r/etc/udhcpc.script"

# newc cpio (what the kernel reads), gzip: both from busybox (no cpio package needed)
(cd "$r" && find . | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -9n >"$work/initrd.img"
mv -f "$vmlinuz" "$KERNEL"
mv -f "$work/initrd.img" "$INITRD"
printf '%s\n' "$stamp" >"$BUILD/stamp"
lab_log "guest built in $(lab_since "$start")s: kernel $kernel_release, initrd $(du -k "$INITRD" | cut -f1) KiB"
print_paths
