# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Classify interfaces: wireless or wired, bridgeable or not, which addresses count as "carrying an IP".

Pure functions plus one sysfs read with a seam (``sysfs_root``) so the wireless detection is testable on machines
without wireless hardware.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

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
