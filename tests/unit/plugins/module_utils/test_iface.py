# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import (
    SYSFS_SCRIPT,
    classify,
    global_addresses,
    movable_routes,
    parse_iw_dev,
    parse_sysfs_report,
    read_sysfs,
    route_text,
    sysfs_command,
    sysfs_entry,
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


# ---- the inventory's sysfs readers ------------------------------------------------------------------------------

def fake_interface(root, name, ifindex, device=False, phy=None, devtype=None, phy_without_name=False):
    """A /sys/class/net/NAME entry as the kernel lays it out (device and phy80211 are symlinks there)."""
    base = root / 'class' / 'net' / name
    base.mkdir(parents=True)
    (base / 'ifindex').write_text('%d\n' % ifindex)
    (base / 'uevent').write_text('INTERFACE=%s\nIFINDEX=%d\n%s' % (
        name, ifindex, 'DEVTYPE=%s\n' % devtype if devtype else ''))
    if device:
        target = root / 'devices' / 'pci0000:00' / name
        target.mkdir(parents=True)
        (base / 'device').symlink_to(target)
    if phy or phy_without_name:
        target = root / 'ieee80211' / (phy or 'phyX')
        target.mkdir(parents=True)
        if phy:
            (target / 'name').write_text(phy + '\n')
        (base / 'phy80211').symlink_to(target)


@pytest.fixture
def sysfs_tree(tmp_path):
    fake_interface(tmp_path, 'lo', 1)
    fake_interface(tmp_path, 'eth0', 2, device=True)
    fake_interface(tmp_path, 'wlan0', 3, device=True, phy='phy0', devtype='wlan')
    fake_interface(tmp_path, 'wlan1', 4, device=True, devtype='wlan')           # no phy80211 link
    fake_interface(tmp_path, 'wlan2', 5, device=True, phy_without_name=True)    # phy80211 without a name file
    fake_interface(tmp_path, 'br0', 6, devtype='bridge')
    (tmp_path / 'class' / 'net' / 'bonding_masters').write_text('\n')         # a file, not an interface
    return tmp_path


EXPECTED_TREE = {
    'lo': sysfs_entry(1, False, None, None),
    'eth0': sysfs_entry(2, True, None, None),
    'wlan0': sysfs_entry(3, True, 'phy0', 'wlan'),
    'wlan1': sysfs_entry(4, True, None, 'wlan'),
    'wlan2': sysfs_entry(5, True, '?', None),
    'br0': sysfs_entry(6, False, None, 'bridge'),
}


def test_read_sysfs_through_a_root(sysfs_tree):
    assert read_sysfs(str(sysfs_tree)) == EXPECTED_TREE
    assert [name for name, entry in EXPECTED_TREE.items() if entry['wireless']] == ['wlan0', 'wlan1', 'wlan2']


def test_read_sysfs_without_a_tree_is_empty(tmp_path):
    assert read_sysfs(str(tmp_path)) == {}


def run_script(root, path=None):
    env = dict(os.environ)
    if path is not None:
        env['PATH'] = path
    return subprocess.run(['sh', '-c', SYSFS_SCRIPT, 'sh', str(root)], capture_output=True, text=True, env=env,
                          check=True).stdout


def test_the_shell_script_reads_what_python_reads(sysfs_tree, tmp_path_factory):
    bin_dir = tmp_path_factory.mktemp('bin')
    (bin_dir / 'iw').write_text('#!/bin/sh\necho "phy#0"; echo "\tInterface wlan0"; echo "\t\t4addr: on"\n')
    (bin_dir / 'iw').chmod(0o755)
    entries, iw_text, iw_problem = parse_sysfs_report(run_script(sysfs_tree, '%s:/usr/bin:/bin' % bin_dir))
    assert entries == EXPECTED_TREE
    assert iw_problem is None
    assert parse_iw_dev(iw_text) == {'wlan0': True}


def test_the_shell_script_says_when_iw_is_missing_or_fails(sysfs_tree, tmp_path_factory):
    empty = tmp_path_factory.mktemp('nobin')
    for tool in ('sh', 'cat'):
        (empty / tool).symlink_to('/bin/' + tool)
    out = subprocess.run(['/bin/sh', '-c', SYSFS_SCRIPT, 'sh', str(sysfs_tree)], capture_output=True, text=True,
                         env=dict(PATH=str(empty)), check=True).stdout
    assert parse_sysfs_report(out)[1:] == (None, 'missing')
    failing = tmp_path_factory.mktemp('failbin')
    (failing / 'iw').write_text('#!/bin/sh\necho "nl80211 not found." >&2; exit 1\n')
    (failing / 'iw').chmod(0o755)
    out = run_script(sysfs_tree, '%s:/usr/bin:/bin' % failing)
    assert parse_sysfs_report(out)[1:] == (None, 'failed')


def test_no_iw_without_wireless(tmp_path):
    fake_interface(tmp_path, 'eth0', 2, device=True)
    out = run_script(tmp_path)
    assert 'iw' not in out
    assert parse_sysfs_report(out) == ({'eth0': sysfs_entry(2, True, None, None)}, None, None)


def test_the_real_sysfs_of_this_namespace_agrees_with_the_script():
    """Both readers against the kernel's own /sys (this process's namespace): same interfaces, same facts."""
    python = read_sysfs()
    assert 'lo' in python and python['lo']['ifindex'] == 1
    assert parse_sysfs_report(run_script('/sys'))[0] == python


def test_sysfs_script_exits_when_there_is_no_tree(tmp_path):
    assert subprocess.run(['sh', '-c', SYSFS_SCRIPT, 'sh', str(tmp_path)], check=False).returncode == 3


@pytest.mark.parametrize('netns, path', [('lab', '/run/netns/lab'), ('/proc/42/ns/net', '/proc/42/ns/net')])
def test_sysfs_command_enters_the_namespace_and_mounts_its_sysfs(netns, path):
    argv = sysfs_command(netns)
    assert argv[:2] == ['nsenter', '--net=%s' % path]
    assert argv[argv.index('unshare'):argv.index('sh')] == ['unshare', '--mount', '--propagation', 'private', '--']
    assert argv[-1].startswith('mount -t sysfs sysfs /sys || exit 4\n')
    assert argv[-1].endswith(SYSFS_SCRIPT)


def test_parse_sysfs_report_skips_noise():
    text = 'iface 2 1 - - eth0\ngarbage\niface x 0 - - bad\niface 3 0 - - odd-name.with.dots\n'
    entries, iw_text, iw_problem = parse_sysfs_report(text)
    assert sorted(entries) == ['eth0', 'odd-name.with.dots']
    assert (iw_text, iw_problem) == (None, None)


IW_DEV = """phy#1
\tInterface wlan1
\t\tifindex 5
\t\ttype managed
\t\t4addr: on
phy#0
\tUnnamed/non-netdev interface
\t\twdev 0x2
\t\ttype P2P-device
\tInterface wlan0
\t\tifindex 4
\t\ttype managed
\t\ttxpower 20.00 dBm
"""


def test_parse_iw_dev():
    assert parse_iw_dev(IW_DEV) == {'wlan1': True, 'wlan0': False}
    assert parse_iw_dev('') == {}
    assert parse_iw_dev(None) == {}


def link(name='x0', kind=None, link_type=1, tun=None):
    result = dict(name=name, kind=kind, link_type=link_type)
    if tun is not None:
        result['tun'] = tun
    return result


PHYSICAL = sysfs_entry(2, True, None, None)
VIRTUAL = sysfs_entry(2, False, None, None)


@pytest.mark.parametrize('the_link, entry, expected', [
    (link('lo', link_type=772), sysfs_entry(1, False, None, None), ('loopback', False)),
    (link(), PHYSICAL, ('wired', True)),
    (link(), sysfs_entry(2, True, 'phy0', 'wlan'), ('wireless', True)),
    (link(), sysfs_entry(2, True, None, 'wlan'), ('wireless', True)),
    (link(link_type=32), PHYSICAL, ('other', True)),                      # InfiniBand
    (link(kind='bridge'), VIRTUAL, ('bridge', False)),
    (link(kind='veth'), VIRTUAL, ('veth', False)),
    (link(kind='tun', tun={'IFLA_TUN_TYPE': 2}), VIRTUAL, ('tap', False)),
    (link(kind='tun', link_type=65534, tun={'IFLA_TUN_TYPE': 1}), VIRTUAL, ('virtual', False)),
    (link(kind='macvlan'), VIRTUAL, ('macvlan', False)),
    (link(kind='macvtap'), VIRTUAL, ('virtual', False)),
    (link(kind='vxlan'), VIRTUAL, ('virtual', False)),
    (link(kind='vlan'), VIRTUAL, ('virtual', False)),
    (link(kind='ipoib', link_type=32), PHYSICAL, ('other', True)),      # a kind on a device on a bus
    (link(link_type=512), VIRTUAL, ('virtual', False)),                 # ppp: no kind, no device
    (link(), None, ('wired', None)),                                    # no sysfs view: a guess, physical None
    (link(kind='veth'), None, ('veth', False)),
])
def test_classify(the_link, entry, expected):
    assert classify(the_link, entry) == expected
