# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Classify interfaces: wireless or wired, bridgeable or not, which addresses count as "carrying an IP".

Pure functions plus one sysfs read with a seam (``sysfs_root``) so the wireless detection is testable on machines
without wireless hardware.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.kvmnet.bridge.plugins.module_utils._netns import netns_path

ARPHRD_ETHER = 1
ARPHRD_NAMES = {1: 'ether', 772: 'loopback', 776: 'sit', 778: 'gre', 65534: 'none (tun)', 768: 'ipip', 769: 'tunnel6',
                801: 'ieee80211', 803: 'ieee80211_radiotap'}
SCOPE_UNIVERSE = 0


def wireless_from_sysfs(name, sysfs_root='/sys'):
    """True if ``name`` is an 802.11 interface: ``phy80211`` exists, or ``DEVTYPE=wlan`` is in its uevent.

    (``wireless/`` is missing on some kernels; the two checks here are the reliable ones.)
    """
    base = os.path.join(sysfs_root, 'class', 'net', name)
    if os.path.exists(os.path.join(base, 'phy80211')):
        return True
    try:
        with open(os.path.join(base, 'uevent')) as handle:
            return wireless_from_uevent(handle.read())
    except OSError:
        return False


def wireless_from_uevent(text, phy80211=False):
    """The same decision from the uevent text (and whether ``phy80211`` exists)."""
    if phy80211:
        return True
    return any(line.strip() == 'DEVTYPE=wlan' for line in text.splitlines())


def wireless_refusal(name, bridge):
    return (
        'Interface %r is a wireless (802.11) station and cannot be a bridge port: a station may only send frames'
        ' with its own MAC as source, so the access point drops the frames of guests behind %r (the kernel refuses'
        ' with EOPNOTSUPP). Bridge a wired NIC instead (the classic KVM host: the wired NIC in %r without an IP,'
        ' the host keeps using %r for its own traffic). Only if your access point accepts 4-address frames (WDS,'
        ' e.g. hostapd wds_sta=1): run `iw dev %s set 4addr on` and set wireless_4addr: true.'
        % (name, bridge, bridge, name, name)
    )


def global_addresses(addresses):
    """Addresses that count as "the interface carries an IP": scope global (not link-local fe80::, not host)."""
    return [address for address in addresses if address['scope'] == SCOPE_UNIVERSE]


def address_text(address):
    return '%s/%s' % (address['address'], address['prefixlen'])


def movable_routes(routes):
    """Routes that must follow the addresses to the bridge: not the kernel's connected routes (they follow the
    addresses by themselves), not IPv6 link-local or multicast ones."""
    result = []
    for route in routes:
        if route['protocol'] == 2:  # RTPROT_KERNEL
            continue
        if route['family'] == 6 and route.get('dst') and route['dst'].lower().startswith(('fe80:', 'ff00:')):
            continue
        result.append(route)
    return result


def route_text(route):
    """``default via 10.0.0.1`` / ``10.8.0.0/24 via 10.0.0.254`` / ``10.9.0.0/24``."""
    if route.get('dst') is None and route['dst_len'] == 0:
        text = 'default'
    else:
        text = '%s/%s' % (route['dst'], route['dst_len'])
    return text + (' via %s' % route['gateway'] if route.get('gateway') else '')


def wireless_in_netns(run_command, netns, name):
    """Wireless detection for an interface in another network namespace.

    This process's /sys shows its own namespace, so sysfs is read through ``ip netns exec`` (which mounts a /sys
    of the target namespace). Returns None when that is not possible (a namespace given as a path): the kernel's
    EOPNOTSUPP at enslave time is then translated into the same explanation.
    """
    if netns.startswith('/'):
        return None
    script = ('test -e "/sys/class/net/$1/phy80211" && echo phy80211=yes;'
              ' cat "/sys/class/net/$1/uevent" 2>/dev/null; true')
    rc, out, dummy = run_command(['ip', 'netns', 'exec', netns, 'sh', '-c', script, 'sh', name])
    if rc != 0:
        return None
    return wireless_from_uevent(out, phy80211='phy80211=yes' in out.split())


# ---- the interface inventory (host_interfaces_info): what sysfs says about every interface --------------------
# Netlink tells the kind of a software device (IFLA_INFO_KIND) but not whether a device without a kind is a
# physical NIC or a wireless station: sysfs does (``device`` exists for a NIC on a bus, ``phy80211`` and
# ``DEVTYPE=wlan`` for an 802.11 interface). Each entry: ifindex (to check that this sysfs shows the namespace
# the netlink socket reads), physical, phy (name, '?' when the link exists but has no name, None), devtype.

ARPHRD_LOOPBACK = 772
TUN_TYPE_TAP = 2  # IFLA_TUN_TYPE: 1 = IFF_TUN, 2 = IFF_TAP
VIRTUAL_KINDS = ('veth', 'tap', 'macvlan', 'virtual')  # software devices; a bridge and loopback have their own kind

# For every interface, one line "iface IFINDEX DEVICE(0|1) PHY DEVTYPE NAME" ('-' for none), shell builtins only
# (no fork per interface), then the output of `iw dev` when a wireless interface exists and iw is installed.
# Its first argument is the sysfs root (default /sys; tests point it at a fake tree).
SYSFS_SCRIPT = r'''
cd "${1:-/sys}/class/net" 2>/dev/null || exit 3
w=0
for n in *; do
  [ -r "$n/ifindex" ] || continue
  read -r i < "$n/ifindex" || continue
  d=0; [ -e "$n/device" ] && d=1
  p=-
  if [ -e "$n/phy80211" ]; then p='?'; [ -r "$n/phy80211/name" ] && read -r p < "$n/phy80211/name"; w=1; fi
  t=-
  if [ -r "$n/uevent" ]; then
    while IFS= read -r l; do case "$l" in DEVTYPE=*) t=${l#DEVTYPE=};; esac; done < "$n/uevent"
  fi
  [ "$t" = wlan ] && w=1
  echo "iface $i $d $p $t $n"
done
if [ "$w" = 1 ]; then
  if command -v iw >/dev/null 2>&1; then echo "iw-dev"; iw dev 2>&1 || echo "iw-failed"; else echo "iw-missing"; fi
fi
'''


def sysfs_entry(ifindex, physical, phy, devtype):
    return dict(ifindex=ifindex, physical=physical, phy=phy, devtype=devtype,
                wireless=phy is not None or devtype == 'wlan')


def read_sysfs(sysfs_root='/sys'):
    """Every interface ``/sys/class/net`` of this process shows, as name -> :func:`sysfs_entry` (in-process reads,
    for the namespace the module runs in)."""
    base = os.path.join(sysfs_root, 'class', 'net')
    result = {}
    try:
        names = os.listdir(base)
    except OSError:
        return result
    for name in names:
        path = os.path.join(base, name)
        try:
            with open(os.path.join(path, 'ifindex')) as handle:
                ifindex = int(handle.read().strip())
        except (OSError, ValueError):
            continue  # bonding_masters and the like
        phy = None
        if os.path.exists(os.path.join(path, 'phy80211')):
            phy = _read_text(os.path.join(path, 'phy80211', 'name')) or '?'
        devtype = None
        for line in (_read_text(os.path.join(path, 'uevent')) or '').splitlines():
            if line.startswith('DEVTYPE='):
                devtype = line[len('DEVTYPE='):].strip() or None
        result[name] = sysfs_entry(ifindex, os.path.exists(os.path.join(path, 'device')), phy, devtype)
    return result


def _read_text(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def parse_sysfs_report(text):
    """The output of :data:`SYSFS_SCRIPT` -> ``(entries, iw_text, iw_problem)``: name -> :func:`sysfs_entry`; the
    text of `iw dev` (None when not read); why it was not read: 'missing' (iw not installed), 'failed' (nl80211
    did not answer), None (read, or no interface is wireless)."""
    entries = {}
    lines = text.splitlines()
    for position, line in enumerate(lines):
        if line == 'iw-missing':
            return entries, None, 'missing'
        if line == 'iw-dev':
            rest = lines[position + 1:]
            if rest[-1:] == ['iw-failed']:
                return entries, None, 'failed'
            return entries, '\n'.join(rest), None
        fields = line.split(' ', 5)
        if len(fields) != 6 or fields[0] != 'iface' or not fields[1].isdigit():
            continue
        dummy, ifindex, device, phy, devtype, name = fields
        entries[name] = sysfs_entry(int(ifindex), device == '1', None if phy == '-' else phy,
                                    None if devtype == '-' else devtype)
    return entries, None, None


def sysfs_command(netns):
    """argv that runs :data:`SYSFS_SCRIPT` against the sysfs of network namespace ``netns`` (a name in /run/netns
    or a path): this process's /sys shows its own namespace, so a fresh sysfs is mounted in a private mount
    namespace entered with the target network namespace (what `ip netns exec` does, for a path too)."""
    path = netns_path(netns)
    script = 'mount -t sysfs sysfs /sys || exit 4\n' + SYSFS_SCRIPT
    return ['nsenter', '--net=%s' % path, '--', 'unshare', '--mount', '--propagation', 'private', '--',
            'sh', '-c', script]


def parse_iw_dev(text):
    """`iw dev` output -> ifname -> use_4addr. iw prints ``4addr: on`` only when it is on (the kernel always
    sends NL80211_ATTR_4ADDR), so an interface listed without it has 4addr off."""
    result = {}
    current = None
    for raw in (text or '').splitlines():
        line = raw.strip()
        if line.startswith('Interface '):
            current = line.split(None, 1)[1]
            result[current] = False
        elif line.startswith('phy#'):
            current = None
        elif current is not None and line == '4addr: on':
            result[current] = True
    return result


def classify(link, sysfs):
    """Kind of a netlink link dict (``_netlink`` shape) with its :func:`sysfs_entry` (None when this sysfs does
    not show it): ``(kind, physical)``.

    kind: loopback, bridge, veth, tap, macvlan, wireless (802.11 station), wired (physical Ethernet NIC), other (a
    physical device that is not Ethernet: InfiniBand, WWAN, CAN...), virtual (any other software device: tun,
    vxlan, dummy, vlan, bond...). physical: True (sysfs ``device`` exists), False, None (no sysfs view).
    """
    physical = None if sysfs is None else sysfs['physical']
    link_kind = link.get('kind')
    if link.get('link_type') == ARPHRD_LOOPBACK:
        return 'loopback', False
    if sysfs is not None and sysfs['wireless']:
        return 'wireless', physical
    if link_kind == 'bridge':
        return 'bridge', False
    if link_kind == 'veth':
        return 'veth', False
    if link_kind == 'tun':
        return ('tap' if (link.get('tun') or {}).get('IFLA_TUN_TYPE') == TUN_TYPE_TAP else 'virtual'), False
    if link_kind == 'macvlan':
        return 'macvlan', False
    if physical is False or (link_kind is not None and physical is not True):
        return 'virtual', physical
    # no kind: a physical device (or, without a sysfs view, most likely one)
    return ('wired' if link.get('link_type') == ARPHRD_ETHER else 'other'), physical


# link-layer types by the names iproute2 prints (`ip -j link` "link_type"); others as their ARPHRD number
LINK_TYPE_NAMES = {1: 'ether', 32: 'infiniband', 280: 'can', 512: 'ppp', 519: 'rawip', 768: 'ipip',
                   769: 'tunnel6', 772: 'loopback', 776: 'sit', 778: 'gre', 801: 'ieee802.11',
                   803: 'ieee802.11/radiotap', 823: 'gre6', 65534: 'none', 65535: 'void'}


def link_type_name(link_type):
    """``ip link``'s name of a link-layer type (ARPHRD_*)."""
    return LINK_TYPE_NAMES.get(link_type, str(link_type))
