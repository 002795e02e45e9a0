# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import (
    global_addresses,
    movable_routes,
    route_text,
    wireless_from_sysfs,
    wireless_from_uevent,
    wireless_in_netns,
    wireless_refusal,
)


def make_sysfs(tmp_path, name, uevent, phy80211=False):
    base = tmp_path / 'class' / 'net' / name
    base.mkdir(parents=True)
    (base / 'uevent').write_text(uevent)
    if phy80211:
        (base / 'phy80211').symlink_to(tmp_path)
    return str(tmp_path)


@pytest.mark.parametrize('uevent, phy80211, expected', [
    ('INTERFACE=wlan0\nIFINDEX=3\nDEVTYPE=wlan\n', False, True),    # DEVTYPE only (phy80211 link missing)
    ('INTERFACE=wlp2s0\nIFINDEX=3\n', True, True),                  # phy80211 only
    ('INTERFACE=eth0\nIFINDEX=2\n', False, False),                  # wired NIC
    ('INTERFACE=br0\nIFINDEX=4\nDEVTYPE=bridge\n', False, False),   # a bridge
    ('INTERFACE=x\nDEVTYPE=wlan0\n', False, False),                 # no partial matches
])
def test_wireless_detection_through_a_sysfs_root(tmp_path, uevent, phy80211, expected):
    root = make_sysfs(tmp_path, 'if0', uevent, phy80211)
    assert wireless_from_sysfs('if0', sysfs_root=root) is expected


def test_missing_interface_is_not_wireless(tmp_path):
    assert wireless_from_sysfs('nope0', sysfs_root=str(tmp_path)) is False


def test_wireless_in_netns_reads_sysfs_through_ip_netns_exec():
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, 'phy80211=yes\nINTERFACE=wlan0\nDEVTYPE=wlan\n', ''
    assert wireless_in_netns(run, 'lab', 'wlan0') is True
    assert calls[0][:4] == ['ip', 'netns', 'exec', 'lab']
    assert calls[0][-1] == 'wlan0'  # passed as an argument, never formatted into the script


def test_wireless_in_netns_by_path_is_unknown():
    assert wireless_in_netns(lambda argv: (0, '', ''), '/proc/1/ns/net', 'wlan0') is None


def test_uevent_parsing():
    assert wireless_from_uevent('DEVTYPE=wlan') is True
    assert wireless_from_uevent('', phy80211=True) is True
    assert wireless_from_uevent('DEVTYPE=vlan') is False


def test_refusal_explains_why_and_what_to_do():
    text = wireless_refusal('wlan0', 'kvmbr0')
    assert "'wlan0' is a wireless (802.11) station" in text
    assert 'EOPNOTSUPP' in text
    assert 'wired NIC' in text
    assert 'iw dev wlan0 set 4addr on' in text and 'wireless_4addr: true' in text


def test_only_global_addresses_count():
    addresses = [dict(address='10.0.0.2', prefixlen=24, scope=0, family=4),
                 dict(address='fe80::1', prefixlen=64, scope=253, family=6),
                 dict(address='127.0.0.1', prefixlen=8, scope=254, family=4)]
    assert global_addresses(addresses) == addresses[:1]


def test_movable_routes_skip_connected_and_link_local():
    routes = [dict(family=4, dst=None, dst_len=0, gateway='10.0.0.1', protocol=3),
              dict(family=4, dst='10.0.0.0', dst_len=24, gateway=None, protocol=2),
              dict(family=6, dst='fe80::', dst_len=64, gateway=None, protocol=3),
              dict(family=6, dst='fd00:1::', dst_len=64, gateway='fd00::1', protocol=16)]
    assert movable_routes(routes) == [routes[0], routes[3]]


@pytest.mark.parametrize('route, text', [
    (dict(dst=None, dst_len=0, gateway='10.0.0.1'), 'default via 10.0.0.1'),
    (dict(dst='10.8.0.0', dst_len=24, gateway='10.0.0.254'), '10.8.0.0/24 via 10.0.0.254'),
    (dict(dst='10.9.0.0', dst_len=24, gateway=None), '10.9.0.0/24'),
])
def test_route_text(route, text):
    assert route_text(route) == text
