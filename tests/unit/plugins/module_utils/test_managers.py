# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network stack detection against fake /etc, /run, /usr, /lib, /proc and /sys trees (the ``root`` seam), a fake
nmcli (the ``run_command`` seam) and PyYAML or none (the ``yaml_module`` seam). The real NetworkManager,
systemd-networkd, netplan and ifupdown run in the namespace machines of the persistence scenarios."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _managers


def iface(name, index, kind='wired', mac=None, perm_mac=None, link_kind=None):
    return dict(name=name, index=index, kind=kind, mac=mac, perm_mac=perm_mac, link_kind=link_kind)


INTERFACES = dict((item['name'], item) for item in [
    iface('lo', 1, 'loopback'),
    iface('eth0', 2, mac='52:54:00:00:00:02'),
    iface('eth1', 3, mac='52:54:00:00:00:03', perm_mac='52:54:00:00:00:33'),
    iface('wlan0', 4, 'wireless'),
    iface('kvmbr0', 5, 'bridge', link_kind='bridge'),
    iface('vx0', 6, 'virtual', link_kind='vxlan'),
])


def write(root, path, text):
    target = root / path.lstrip('/')
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def detect(root, run_command=None, nmcli=None, interfaces=None, **kwargs):
    return _managers.detect(interfaces or INTERFACES, str(root), run_command, nmcli, **kwargs)


def owner(name, detail):
    """The entry of an interface that one stack claims."""
    return _managers.manager(name, True, detail, [_managers.claim(name, detail)])


class FakeNmcli(object):
    def __init__(self, rc=0, out='', err=''):
        self.calls = []
        self.answer = (rc, out, err)

    def __call__(self, argv):
        self.calls.append(argv)
        return self.answer


NMCLI_OUT = ('lo:unmanaged:loopback\neth0:connected:ethernet\neth1:unmanaged:ethernet\n'
             'wlan0:connecting (getting IP configuration):wifi\nkvmbr0:connected (externally):bridge\n'
             'p2p-dev-wlan0:disconnected:wifi-p2p\nodd\\:name:disconnected:ethernet\n')


def test_nothing_installed_means_none(tmp_path):
    result = detect(tmp_path)
    assert set(result) == set(INTERFACES)
    assert all(item['name'] == 'none' and item['managed'] is None for item in result.values())


def test_nmcli_answers(tmp_path):
    (tmp_path / 'run' / 'NetworkManager').mkdir(parents=True)
    nmcli = FakeNmcli(out=NMCLI_OUT)
    result = detect(tmp_path, nmcli, '/usr/bin/nmcli')
    assert nmcli.calls == [['/usr/bin/nmcli', '-t', '-f', 'DEVICE,STATE,TYPE,CON-UUID', 'device']]
    assert result['eth0'] == owner('networkmanager', 'NetworkManager device, state connected (nmcli)')
    assert result['wlan0']['managed'] is True and 'connecting (getting IP configuration)' in result['wlan0']['detail']
    assert result['kvmbr0']['managed'] is True
    assert result['eth1'] == _managers.manager('networkmanager', False,
                                               'NetworkManager lists it as unmanaged (nmcli)')
    assert result['vx0']['name'] == 'none'  # NM does not list it (and nothing else owns it)


def test_nmcli_is_not_run_when_networkmanager_is_not_running(tmp_path):
    nmcli = FakeNmcli(out=NMCLI_OUT)
    detect(tmp_path, nmcli, '/usr/bin/nmcli')
    assert nmcli.calls == []  # no /run/NetworkManager: NM is not running, so nmcli is not even started


def test_nmcli_split_handles_escapes():
    assert _managers.nmcli_split('a\\:b:c\\\\d:e') == ['a:b', 'c\\d', 'e']
    assert _managers.parse_nmcli_devices(NMCLI_OUT)['odd:name'] == ('disconnected', 'ethernet', None)
    assert _managers.parse_nmcli_devices('eth0:connected:ethernet:1234\neth1:unavailable:ethernet:\n') == {
        'eth0': ('connected', 'ethernet', '1234'), 'eth1': ('unavailable', 'ethernet', None)}


def test_state_files_when_nmcli_does_not_answer(tmp_path):
    write(tmp_path, '/run/NetworkManager/devices/2', '[device]\nmanaged=true\nperm-hw-addr-fake=x\n')
    write(tmp_path, '/run/NetworkManager/devices/3', '# private\n[device]\nmanaged=false\n')
    write(tmp_path, '/usr/sbin/NetworkManager', '')
    nmcli = FakeNmcli(rc=8, err='Error: NetworkManager is not running.\n')
    result = detect(tmp_path, nmcli, '/usr/bin/nmcli')
    assert result['eth0']['name'] == 'networkmanager' and result['eth0']['managed'] is True
    assert 'rc 8: Error: NetworkManager is not running.' in result['eth0']['detail']
    assert result['eth1']['managed'] is False and '/run/NetworkManager/devices/3' in result['eth1']['detail']
    # installed, not answering, no state file, not excluded: NM would probably take it
    assert result['vx0'] == _managers.manager(
        'networkmanager', None, 'NetworkManager is installed but does not answer (nmcli did not answer (rc 8:'
        ' Error: NetworkManager is not running.)); its configuration does not exclude this interface')


def test_state_files_without_nmcli(tmp_path):
    write(tmp_path, '/run/NetworkManager/devices/2', '[device]\nmanaged=true\n')
    result = detect(tmp_path)
    assert result['eth0']['managed'] is True and 'nmcli is not installed' in result['eth0']['detail']


def test_unmanaged_devices_from_the_configuration(tmp_path):
    write(tmp_path, '/etc/NetworkManager/NetworkManager.conf',
          '[main]\nplugins=ifupdown,keyfile\n\n[keyfile]\nunmanaged-devices=interface-name:eth0\n')
    # Ubuntu-style default in /usr/lib, hidden by a file of the same name in /etc
    write(tmp_path, '/usr/lib/NetworkManager/conf.d/10-globally-managed-devices.conf',
          '[keyfile]\nunmanaged-devices=*,except:type:wifi\n')
    write(tmp_path, '/etc/NetworkManager/conf.d/10-globally-managed-devices.conf', '')
    write(tmp_path, '/etc/NetworkManager/conf.d/20-more.conf',
          '[keyfile]\nunmanaged-devices+=mac:52:54:00:00:00:33;type:vxlan\n')
    result = detect(tmp_path)
    assert result['eth0']['managed'] is False and 'unmanaged-devices' in result['eth0']['detail']
    assert result['eth1']['managed'] is False  # by its permanent MAC
    assert result['eth1']['detail'].endswith('/etc/NetworkManager/conf.d/20-more.conf excludes it')
    assert result['vx0']['managed'] is False  # type:vxlan
    assert result['wlan0'] == _managers.manager(
        'networkmanager', None, 'NetworkManager is installed but does not answer (not running); its'
        ' configuration does not exclude this interface')


def test_the_usr_lib_default_applies_when_not_hidden(tmp_path):
    write(tmp_path, '/etc/NetworkManager/NetworkManager.conf', '[main]\n')
    write(tmp_path, '/usr/lib/NetworkManager/conf.d/10-globally-managed-devices.conf',
          '[keyfile]\nunmanaged-devices=*,except:type:wifi,except:type:gsm\n')
    result = detect(tmp_path)
    assert result['eth0']['managed'] is False
    assert result['wlan0']['managed'] is None  # excepted: NM would manage it


def test_unmanaged_devices_removal(tmp_path):
    write(tmp_path, '/etc/NetworkManager/NetworkManager.conf',
          '[keyfile]\nunmanaged-devices=interface-name:eth0,interface-name:eth1\n')
    write(tmp_path, '/etc/NetworkManager/conf.d/50-x.conf', '[keyfile]\nunmanaged-devices-=interface-name:eth1\n')
    assert _managers.nm_unmanaged_specs(str(tmp_path))[0] == ['interface-name:eth0']


@pytest.mark.parametrize('specs, name, expected', [
    (['*'], 'eth0', True),
    (['interface-name:eth*'], 'eth0', True),
    (['interface-name:~eth?'], 'eth0', True),
    (['interface-name:=eth*'], 'eth0', False),
    (['interface-name:=eth0'], 'eth0', True),
    (['interface-name:wlan*'], 'eth0', False),
    (['mac:52:54:00:00:00:02'], 'eth0', True),
    (['mac:52:54:00:00:00:02'], 'eth1', False),
    (['MAC:52:54:00:00:00:02'], 'eth0', None),   # not a form read here (NM is case-sensitive about prefixes)
    (['type:ethernet'], 'eth0', True),
    (['type:ethernet'], 'kvmbr0', False),
    (['except:interface-name:eth0'], 'eth0', False),
    (['except:interface-name:eth0'], 'eth1', True),
    (['*', 'except:type:wifi'], 'wlan0', False),
    (['driver:e1000e'], 'eth0', None),           # not read here: unknown, not a match
    (['driver:e1000e', 'interface-name:eth0'], 'eth0', True),
])
def test_spec_matching(specs, name, expected):
    assert _managers.nm_spec_match(specs, INTERFACES[name]) is expected


def test_networkd_link_state(tmp_path):
    write(tmp_path, '/run/systemd/netif/links/2',
          '# This is private data.\nADMIN_STATE=configured\nOPER_STATE=routable\n'
          'NETWORK_FILE=/etc/systemd/network/10-eth0.network\n')
    write(tmp_path, '/run/systemd/netif/links/3', 'ADMIN_STATE=unmanaged\nOPER_STATE=off\n')
    write(tmp_path, '/run/systemd/netif/links/5', 'ADMIN_STATE=configuring\n')
    write(tmp_path, '/run/systemd/netif/links/6', 'ADMIN_STATE=pending\n')
    result = detect(tmp_path)
    assert result['eth0'] == owner(
        'networkd', 'systemd-networkd: ADMIN_STATE=configured,'
        ' NETWORK_FILE=/etc/systemd/network/10-eth0.network (/run/systemd/netif/links/2)')
    assert result['eth1'] == _managers.manager(
        'networkd', False, 'systemd-networkd: ADMIN_STATE=unmanaged (/run/systemd/netif/links/3)')
    assert result['kvmbr0']['name'] == 'networkd' and result['kvmbr0']['managed'] is True
    assert result['vx0']['name'] == 'none'  # pending: networkd has not decided


INTERFACES_FILE = """# The loopback network interface
auto lo
iface lo inet loopback

source interfaces.d/*
source-directory /etc/network/more.d
source /etc/network/missing/*
allow-hotplug eth9
"""


def test_ifupdown_stanzas_and_includes(tmp_path):
    write(tmp_path, '/etc/network/interfaces', INTERFACES_FILE)
    write(tmp_path, '/etc/network/interfaces.d/eth0', 'auto eth0\niface eth0 inet \\\n    dhcp\n')
    write(tmp_path, '/etc/network/interfaces.d/loop', 'source ../interfaces\n')  # a cycle: read once
    write(tmp_path, '/etc/network/more.d/kvmbr0', 'iface kvmbr0 inet static\n  address 10.0.0.2/24\n'
          '  bridge_ports eth1\n')
    write(tmp_path, '/etc/network/more.d/skip.conf', 'iface vx0 inet manual\n')  # run-parts skips names with dots
    stanzas = _managers.ifupdown_stanzas(str(tmp_path))
    assert stanzas == {
        'lo': 'iface lo inet loopback (/etc/network/interfaces:3)',
        'eth0': 'iface eth0 inet dhcp (/etc/network/interfaces.d/eth0:2)',
        'kvmbr0': 'iface kvmbr0 inet static (/etc/network/more.d/kvmbr0:1)',
    }
    result = detect(tmp_path)
    assert result['eth0'] == owner(
        'ifupdown', 'ifupdown stanza: iface eth0 inet dhcp (/etc/network/interfaces.d/eth0:2)')
    # ifupdown (the bridge-utils hook) brings up and enslaves the ports it names: the port is ifupdown's too
    assert result['eth1'] == owner(
        'ifupdown', 'ifupdown bridge_ports eth1 of iface kvmbr0 (/etc/network/more.d/kvmbr0:3)')
    assert result['vx0']['name'] == 'none'


def test_independent_claims_are_a_conflict(tmp_path):
    """networkd managing eth0 and an ifupdown stanza for it: both would configure it, so neither owns it; a stanza
    with NetworkManager's "unmanaged" is ifupdown's (Debian's NM leaves ifupdown interfaces alone); NetworkManager
    managing wlan0 while a stanza names it is a conflict too."""
    write(tmp_path, '/etc/network/interfaces', 'iface eth0 inet dhcp\niface eth1 inet dhcp\niface wlan0 inet dhcp\n')
    write(tmp_path, '/run/systemd/netif/links/2', 'ADMIN_STATE=configured\n')
    (tmp_path / 'run' / 'NetworkManager').mkdir(parents=True, exist_ok=True)
    nmcli = FakeNmcli(out='eth1:unmanaged:ethernet:\nwlan0:connected:wifi:\n')
    result = detect(tmp_path, nmcli, '/usr/bin/nmcli')
    assert result['eth0']['name'] == 'conflict' and result['eth0']['managed'] is True
    assert [item['name'] for item in result['eth0']['claims']] == ['networkd', 'ifupdown']
    assert result['eth0']['detail'] == (
        '2 network stacks claim it and would fight over it: networkd (systemd-networkd: ADMIN_STATE=configured'
        ' (/run/systemd/netif/links/2)) and ifupdown (ifupdown stanza: iface eth0 inet dhcp'
        ' (/etc/network/interfaces:1)). Leave it to one of them (remove the configuration of the other)')
    assert result['eth1'] == owner('ifupdown', 'ifupdown stanza: iface eth1 inet dhcp (/etc/network/interfaces:2)')
    assert result['wlan0']['name'] == 'conflict'
    assert [item['name'] for item in result['wlan0']['claims']] == ['networkmanager', 'ifupdown']
