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
    assert result['vx0']['managed'] is False  # its kind is vxlan
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


# ---- systemd-networkd: running, enabled, .network files ----------------------------------------------------------

def networkd_runs(root, pid='345'):
    """A fake /proc that lists systemd-networkd (as the kernel names it: 15 characters) among other processes."""
    write(root, '/proc/1/comm', 'init\n')
    write(root, '/proc/%s/comm' % pid, 'systemd-network\n')


def test_networkd_running_from_proc_or_enabled(tmp_path):
    assert _managers.networkd_state(str(tmp_path)) == (False, 'systemd-networkd neither runs nor is enabled')
    write(tmp_path, '/proc/1/comm', 'init\n')
    assert _managers.process_running(str(tmp_path), 'systemd-network') is False
    link = tmp_path / 'etc/systemd/system/multi-user.target.wants/systemd-networkd.service'
    link.parent.mkdir(parents=True)
    link.symlink_to('/lib/systemd/system/systemd-networkd.service')
    assert _managers.networkd_state(str(tmp_path)) == (True, 'systemd-networkd is enabled'
                                                       ' (/etc/systemd/system/multi-user.target.wants/'
                                                       'systemd-networkd.service), not running')
    networkd_runs(tmp_path)
    assert _managers.networkd_state(str(tmp_path)) == (True, 'systemd-networkd runs (pid 345)')


def test_a_matching_network_file_claims_when_networkd_runs(tmp_path):
    write(tmp_path, '/etc/systemd/network/20-wired.network', '[Match]\nName=eth*\n\n[Network]\nDHCP=yes\n')
    assert detect(tmp_path)['eth0']['name'] == 'none'  # networkd neither runs nor is enabled: the file is inert
    networkd_runs(tmp_path)
    result = detect(tmp_path)
    assert result['eth0'] == owner('networkd', 'systemd-networkd: /etc/systemd/network/20-wired.network: [Match]'
                                   ' Name=eth* (line 2) (systemd-networkd runs (pid 345))')
    assert result['eth1']['name'] == 'networkd'
    assert result['wlan0']['name'] == 'none'


def test_stale_link_state_is_ignored_when_proc_shows_networkd_stopped(tmp_path):
    write(tmp_path, '/run/systemd/netif/links/2', 'ADMIN_STATE=configured\n')
    write(tmp_path, '/proc/1/comm', 'init\n')
    assert detect(tmp_path)['eth0']['name'] == 'none'


def test_networkd_order_first_match_wins_and_masks(tmp_path):
    networkd_runs(tmp_path)
    # 10-eth0 in /usr/lib is hidden by the same name in /etc (which does not match eth0)
    write(tmp_path, '/usr/lib/systemd/network/10-eth0.network', '[Match]\nName=eth0\n')
    write(tmp_path, '/etc/systemd/network/10-eth0.network', '[Match]\nName=nothing\n')
    # 20-masked is masked by a link to /dev/null in /etc
    write(tmp_path, '/usr/lib/systemd/network/20-masked.network', '[Match]\nName=eth*\n')
    (tmp_path / 'etc/systemd/network/20-masked.network').symlink_to('/dev/null')
    # 30-unmanaged comes first for eth1 and leaves it alone; 40-all would match it but networkd stops at the first
    write(tmp_path, '/run/systemd/network/30-unmanaged.network', '[Match]\nName=eth1\n\n[Link]\nUnmanaged=yes\n')
    write(tmp_path, '/lib/systemd/network/40-all.network', '[Match]\nName=*\n')
    result = detect(tmp_path)
    assert result['eth0']['detail'].startswith('systemd-networkd: /lib/systemd/network/40-all.network: [Match]'
                                               ' Name=* (line 2)')
    assert result['eth1'] == _managers.manager(
        'networkd', False, 'systemd-networkd: /run/systemd/network/30-unmanaged.network: [Match] Name=eth1 (line 2)'
        ' (systemd-networkd runs (pid 345)), with [Link] Unmanaged=yes')


def test_networkd_sysfs_driver_for_driver_matches(tmp_path):
    networkd_runs(tmp_path)
    (tmp_path / 'sys/class/net/eth0/device').mkdir(parents=True)
    (tmp_path / 'sys/class/net/eth0/device/driver').symlink_to('../../../bus/pci/drivers/e1000e')
    write(tmp_path, '/etc/systemd/network/10-intel.network', '[Match]\nDriver=e1000*\n')
    result = detect(tmp_path)
    assert result['eth0']['name'] == 'networkd' and 'Driver=e1000* (line 2)' in result['eth0']['detail']
    assert result['eth1']['name'] == 'none'  # no driver (a fake tree without its sysfs): Driver= cannot match


def entries(text):
    return _managers._unit_sections(text)


@pytest.mark.parametrize('text, name, expected', [
    ('[Match]\nName=eth0\n', 'eth0', True),
    ('[Match]\nName=eth0\n', 'eth1', False),
    ('[Match]\nName=wlan0 eth?\n', 'eth1', True),
    ('[Match]\nName=!eth0\n', 'eth0', False),
    ('[Match]\nName=!eth0\n', 'eth1', True),
    ('[Match]\nName=!eth0 eth1\n', 'eth1', False),              # the ! inverts the whole list
    ('[Match]\nName=eth0\nName=\nName=eth1\n', 'eth0', False),  # an empty assignment resets the list
    ('[Match]\nName=eth0\nName=eth1\n', 'eth1', True),          # repeated lines add up
    ('[Match]\nMACAddress=52-54-00-00-00-02\n', 'eth0', True),
    ('[Match]\nMACAddress=52:54:00:00:00:03\n', 'eth1', True),
    ('[Match]\nMACAddress=52:54:00:00:00:33\n', 'eth1', False),  # that is its permanent MAC
    ('[Match]\nPermanentMACAddress=52:54:00:00:00:33\n', 'eth1', True),
    ('[Match]\nType=ether\n', 'eth0', True),
    ('[Match]\nType=ether\n', 'wlan0', False),
    ('[Match]\nType=wlan\n', 'wlan0', True),
    ('[Match]\nKind=bridge\n', 'kvmbr0', True),
    ('[Match]\nKind=bridge\n', 'eth0', False),
    ('[Match]\nName=eth0\nType=wlan\n', 'eth0', False),        # every condition must hold
    ('[Match]\n', 'eth0', True),                               # no condition: every interface
    ('[Network]\nDHCP=yes\n', 'eth0', True),
    ('[Match]\nName=eth0\nPath=pci-*\n', 'eth0', None),        # Path= is not read here: maybe
    ('[Match]\nName=eth1\nPath=pci-*\n', 'eth0', False),
    ('[Match]\nName=eth0 \\\n  eth1\n', 'eth1', True),         # a continuation line
    ('[Match]\nType=wlan\nWLANInterfaceType=ad-hoc\n', 'wlan0', None),   # systemd's 80-wifi-adhoc.network
    ('[Match]\nWLANInterfaceType=ad-hoc\n', 'eth0', False),   # only a wireless interface has one
    ('[Match]\nSSID=home\n', 'kvmbr0', False),
    ('[Match]\nName=vz-*\nDriver=bridge\n', 'kvmbr0', False),   # systemd's 80-container-vz.network
    ('[Match]\nName=kvm*\nDriver=bridge\n', 'kvmbr0', True),    # a software device's driver is its kind
])
def test_networkd_match(text, name, expected):
    assert _managers.networkd_match(entries(text), INTERFACES[name], None)[0] is expected


# ---- NetworkManager profiles ---------------------------------------------------------------------------------------

ETH0_PROFILE = ('[connection]\nid=Office\nuuid=aaaaaaaa-0000-0000-0000-000000000001\ntype=ethernet\n'
                'interface-name=eth0\n\n[ipv4]\nmethod=auto\n')


def test_a_profile_claims_when_networkmanager_is_installed_but_not_running(tmp_path):
    write(tmp_path, '/etc/NetworkManager/system-connections/office.nmconnection', ETH0_PROFILE)
    write(tmp_path, '/etc/NetworkManager/system-connections/by-mac.nmconnection',
          '[connection]\nid=ByMac\ntype=ethernet\n[ethernet]\nmac-address=52:54:00:00:00:33\n')
    write(tmp_path, '/etc/NetworkManager/system-connections/off.nmconnection',
          '[connection]\nid=Off\ntype=ethernet\nautoconnect=false\ninterface-name=kvmbr0\n')
    assert detect(tmp_path)['eth0']['name'] == 'none'  # NetworkManager is not installed: nothing reads them
    write(tmp_path, '/usr/sbin/NetworkManager', '')
    result = detect(tmp_path)
    assert result['eth0'] == owner(
        'networkmanager', "profile 'Office' (/etc/NetworkManager/system-connections/office.nmconnection:5,"
        " interface-name=eth0) binds it (NetworkManager is installed but does not answer: nmcli not asked)")
    assert "profile 'ByMac'" in result['eth1']['detail'] and 'mac-address=52:54:00:00:00:33' in result['eth1']['detail']
    assert result['kvmbr0']['managed'] is None  # autoconnect=false: NetworkManager does not bring it up by itself


def test_nmcli_names_the_active_profile(tmp_path):
    write(tmp_path, '/etc/NetworkManager/system-connections/office.nmconnection', ETH0_PROFILE)
    (tmp_path / 'run/NetworkManager').mkdir(parents=True, exist_ok=True)
    nmcli = FakeNmcli(out='eth0:connected:ethernet:aaaaaaaa-0000-0000-0000-000000000001\n'
                          'eth1:connected:ethernet:bbbbbbbb-0000-0000-0000-000000000002\n')
    result = detect(tmp_path, nmcli, '/usr/bin/nmcli')
    assert result['eth0'] == owner(
        'networkmanager', "NetworkManager device, state connected (nmcli), active profile 'Office'"
        " (/etc/NetworkManager/system-connections/office.nmconnection:5, interface-name=eth0)")
    assert result['eth1']['detail'] == ('NetworkManager device, state connected (nmcli), active profile'
                                        ' bbbbbbbb-0000-0000-0000-000000000002 (in memory or not a keyfile)')


def test_unmanaged_by_networkmanager_profiles_do_not_claim(tmp_path):
    """nmcli says unmanaged, or (not running) Debian's ifupdown plugin leaves an interface with a stanza alone:
    a profile for it claims nothing."""
    write(tmp_path, '/etc/NetworkManager/system-connections/office.nmconnection', ETH0_PROFILE)
    write(tmp_path, '/etc/NetworkManager/NetworkManager.conf', '[main]\nplugins=ifupdown,keyfile\n\n[ifupdown]\n'
          'managed=false\n')
    write(tmp_path, '/etc/network/interfaces', 'auto eth0\niface eth0 inet dhcp\n')
    assert detect(tmp_path)['eth0'] == owner('ifupdown', 'ifupdown stanza: iface eth0 inet dhcp'
                                             ' (/etc/network/interfaces:2)')
    write(tmp_path, '/etc/NetworkManager/conf.d/managed.conf', '[ifupdown]\nmanaged=true\n')
    assert detect(tmp_path)['eth0']['name'] == 'conflict'  # managed=true: NetworkManager takes it as well
    (tmp_path / 'run/NetworkManager').mkdir(parents=True, exist_ok=True)
    result = detect(tmp_path, FakeNmcli(out='eth0:unmanaged:ethernet:\n'), '/usr/bin/nmcli')
    assert result['eth0']['name'] == 'ifupdown'


# ---- netplan -------------------------------------------------------------------------------------------------------

def yaml_module():
    return pytest.importorskip('yaml')


CLOUD_INIT = """# written by cloud-init
network:
  version: 2
  ethernets:
    eth0:
      dhcp4: true
"""


def test_netplan_by_name_default_renderer(tmp_path):
    write(tmp_path, '/etc/netplan/50-cloud-init.yaml', CLOUD_INIT)
    result = detect(tmp_path, yaml_module=yaml_module())
    assert result['eth0'] == _managers.manager('netplan', True, (
        "netplan: ethernets.eth0 at /etc/netplan/50-cloud-init.yaml:5 (by name), renderer networkd (netplan's"
        " default)"), [_managers.claim('netplan', "netplan: ethernets.eth0 at /etc/netplan/50-cloud-init.yaml:5"
                                                  " (by name), renderer networkd (netplan's default)")], 'networkd')
    assert result['eth1']['name'] == 'none' and result['eth1']['renderer'] is None


@pytest.mark.parametrize('text, name, expected', [
    ('network:\n  ethernets:\n    lan:\n      match:\n        name: "eth*"\n', 'eth1', 'match: name eth*'),
    ('network:\n  ethernets:\n    lan:\n      match:\n        name: "en*"\n', 'eth1', None),
    # an unquoted MAC stays the string libyaml gives netplan (PyYAML's resolver would read 00:11:... as base 60)
    ('network:\n  ethernets:\n    lan:\n      match:\n        macaddress: 52:54:00:00:00:33\n', 'eth1',
     'match: macaddress 52:54:00:00:00:33'),
    ('network:\n  ethernets:\n    lan:\n      match: {macaddress: "52:54:00:00:00:03"}\n', 'eth1',
     'match: macaddress 52:54:00:00:00:03'),
    ('network:\n  ethernets:\n    lan:\n      match: {macaddress: "52:54:00:00:00:04"}\n', 'eth1', None),
    # renamed: the device now carries the set-name (the MAC of the match no longer needed)
    ('network:\n  ethernets:\n    lan:\n      match: {name: enp3s0}\n      set-name: eth1\n', 'eth1',
     'set-name: eth1'),
    ('network:\n  ethernets:\n    lan:\n      match: {name: enp3s0}\n      set-name: eth1\n', 'eth0', None),
    ('network:\n  ethernets:\n    lan:\n      match: {}\n', 'eth0', 'match: no condition (every device)'),
    ('network:\n  ethernets:\n    lan:\n      match: {driver: [e1000e, "virtio*"]}\n', 'eth0', None),
    ('network:\n  bridges:\n    kvmbr0:\n      interfaces: [eth0]\n', 'kvmbr0', 'by name'),
    ('network:\n  ethernets:\n    eth0: {}\n', 'eth0', 'by name'),
    ('network:\n  ethernets:\n    eth0:\n', 'eth0', 'by name'),
    ('network:\n  wifis:\n    wlan0:\n      access-points: {}\n', 'wlan0', 'by name'),
])
def test_netplan_matches(tmp_path, text, name, expected):
    write(tmp_path, '/etc/netplan/10-x.yaml', text)
    config = _managers.netplan_config(str(tmp_path), yaml_module())
    matched = [_managers.netplan_definition_matches(item, INTERFACES[name], None) for item in config['definitions']]
    assert [how for found, how in matched if found] == ([expected] if expected else [])


def test_netplan_driver_from_sysfs(tmp_path):
    (tmp_path / 'sys/class/net/eth0/device').mkdir(parents=True)
    (tmp_path / 'sys/class/net/eth0/device/driver').symlink_to('../../../bus/pci/drivers/virtio_net')
    write(tmp_path, '/etc/netplan/10-x.yaml', 'network:\n  ethernets:\n    lan:\n      match:\n'
          '        driver: ["e1000e", "virtio*"]\n')
    result = detect(tmp_path, yaml_module=yaml_module())
    assert result['eth0']['name'] == 'netplan' and 'match: driver virtio_net' in result['eth0']['detail']
    assert result['eth1']['name'] == 'none'


@pytest.mark.parametrize('files, renderer, source', [
    ({}, 'networkd', "netplan's default"),
    ({'/etc/netplan/01-nm.yaml': 'network:\n  renderer: NetworkManager\n'}, 'NetworkManager',
     'network.renderer at /etc/netplan/01-nm.yaml:2'),
    # a later file wins (99 after 50), at every level
    ({'/etc/netplan/01-nm.yaml': 'network:\n  renderer: NetworkManager\n',
      '/etc/netplan/99-back.yaml': 'network:\n  renderer: networkd\n'}, 'networkd',
     'network.renderer at /etc/netplan/99-back.yaml:2'),
    ({'/etc/netplan/60-type.yaml': 'network:\n  renderer: networkd\n  ethernets:\n    renderer: NetworkManager\n'},
     'NetworkManager', 'ethernets.renderer at /etc/netplan/60-type.yaml:4'),
    ({'/etc/netplan/60-dev.yaml': 'network:\n  ethernets:\n    renderer: networkd\n    eth0:\n'
      '      renderer: NetworkManager\n'}, 'NetworkManager', 'ethernets.eth0'),
    # a file of the same name in /run hides the one in /etc, which hides the one in /lib
    ({'/lib/netplan/50-cloud-init.yaml': 'network:\n  renderer: NetworkManager\n'}, 'networkd', "netplan's default"),
    ({'/run/netplan/50-cloud-init.yaml': CLOUD_INIT.replace('  version: 2\n', '  renderer: NetworkManager\n')},
     'NetworkManager', 'network.renderer at /run/netplan/50-cloud-init.yaml:3'),
])
def test_netplan_renderer(tmp_path, files, renderer, source):
    write(tmp_path, '/etc/netplan/50-cloud-init.yaml', CLOUD_INIT)
    for path, text in files.items():
        write(tmp_path, path, text)
    result = detect(tmp_path, yaml_module=yaml_module())['eth0']
    assert result['name'] == 'netplan' and result['renderer'] == renderer
    assert result['detail'].endswith('renderer %s (%s)' % (renderer, source))


def test_netplan_and_the_networkd_files_it_generated_are_one_claim(tmp_path):
    write(tmp_path, '/etc/netplan/50-cloud-init.yaml', CLOUD_INIT)
    networkd_runs(tmp_path)
    write(tmp_path, '/run/systemd/network/10-netplan-eth0.network', '[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n')
    write(tmp_path, '/run/systemd/netif/links/2', 'ADMIN_STATE=configured\n'
          'NETWORK_FILE=/run/systemd/network/10-netplan-eth0.network\n')
    result = detect(tmp_path, yaml_module=yaml_module())['eth0']
    assert result['name'] == 'netplan' and [item['name'] for item in result['claims']] == ['netplan']
    assert result['renderer'] == 'networkd'
    assert result['detail'].endswith('; systemd-networkd: ADMIN_STATE=configured,'
                                     ' NETWORK_FILE=/run/systemd/network/10-netplan-eth0.network'
                                     ' (/run/systemd/netif/links/2)')


def test_netplan_and_the_networkmanager_profile_it_generated_are_one_claim(tmp_path):
    write(tmp_path, '/etc/netplan/01-nm.yaml', 'network:\n  renderer: NetworkManager\n  ethernets:\n    eth0:\n'
          '      dhcp4: true\n')
    write(tmp_path, '/run/NetworkManager/system-connections/netplan-eth0.nmconnection',
          '[connection]\nid=netplan-eth0\nuuid=cccccccc-0000-0000-0000-000000000003\ntype=ethernet\n'
          'interface-name=eth0\n')
    nmcli = FakeNmcli(out='eth0:connected:ethernet:cccccccc-0000-0000-0000-000000000003\n'
                          'eth1:disconnected:ethernet:\n')
    result = detect(tmp_path, nmcli, '/usr/bin/nmcli', yaml_module=yaml_module())
    assert result['eth0']['name'] == 'netplan' and result['eth0']['renderer'] == 'NetworkManager'
    assert result['eth0']['detail'].endswith(
        "; NetworkManager runs its generated profile 'netplan-eth0' (/run/NetworkManager/system-connections/"
        "netplan-eth0.nmconnection:5, interface-name=eth0) (state connected)")
    # NM manages eth1 without any profile and netplan does not name it: NetworkManager's
    assert result['eth1'] == owner('networkmanager', 'NetworkManager device, state disconnected (nmcli)')


def test_netplan_generated_profile_without_uuid_is_still_netplans(tmp_path):
    """netplan writes its NetworkManager profiles without uuid= (a real Ubuntu host: cloud-init's netplan-eth0 is
    connected); NetworkManager derives the uuid, so nmcli's CON-UUID matches no keyfile: still one claim, netplan's."""
    write(tmp_path, '/etc/netplan/50-cloud-init.yaml', 'network:\n  renderer: NetworkManager\n  ethernets:\n'
          '    eth0:\n      dhcp4: true\n')
    write(tmp_path, '/run/NetworkManager/system-connections/netplan-eth0.nmconnection',
          '[connection]\nid=netplan-eth0\ntype=ethernet\ninterface-name=eth0\n')
    nmcli = FakeNmcli(out='eth0:connected:ethernet:626dd384-8b3d-3690-9511-192b2c79b3fd\n')
    result = detect(tmp_path, nmcli, '/usr/bin/nmcli', yaml_module=yaml_module())
    assert result['eth0']['name'] == 'netplan' and result['eth0']['renderer'] == 'NetworkManager'
    assert "NetworkManager runs its generated profile 'netplan-eth0'" in result['eth0']['detail']


def test_an_active_profile_that_is_no_keyfile_is_networkmanagers_own(tmp_path):
    """Without a netplan-generated profile for the device, an unknown active uuid stays NetworkManager's claim."""
    (tmp_path / 'run/NetworkManager').mkdir(parents=True)  # NetworkManager runs: nmcli is asked
    nmcli = FakeNmcli(out='eth0:connected:ethernet:626dd384-8b3d-3690-9511-192b2c79b3fd\n')
    result = detect(tmp_path, nmcli, '/usr/bin/nmcli', yaml_module=yaml_module())
    assert result['eth0']['name'] == 'networkmanager'
    assert 'in memory or not a keyfile' in result['eth0']['detail']


def test_netplan_with_networkmanager_managing_the_device_before_generate(tmp_path):
    """netplan names eth0 for NetworkManager, NM manages eth0 but has no profile for it yet (netplan generate has
    not run): one claim, netplan's."""
    write(tmp_path, '/etc/netplan/01-nm.yaml', 'network:\n  renderer: NetworkManager\n  ethernets:\n    eth0: {}\n')
    (tmp_path / 'run/NetworkManager').mkdir(parents=True)
    result = detect(tmp_path, FakeNmcli(out='eth0:disconnected:ethernet:\n'), '/usr/bin/nmcli',
                    yaml_module=yaml_module())['eth0']
    assert result['name'] == 'netplan'
    assert result['detail'].endswith('; NetworkManager device, state disconnected (nmcli), the renderer netplan'
                                     ' generates for')


def test_conflict_netplan_and_a_hand_written_networkmanager_profile(tmp_path):
    write(tmp_path, '/etc/netplan/50-cloud-init.yaml', CLOUD_INIT)
    write(tmp_path, '/etc/NetworkManager/system-connections/office.nmconnection', ETH0_PROFILE)
    write(tmp_path, '/usr/sbin/NetworkManager', '')
    result = detect(tmp_path, yaml_module=yaml_module())['eth0']
    assert result['name'] == 'conflict' and result['managed'] is True and result['renderer'] == 'networkd'
    assert [item['name'] for item in result['claims']] == ['netplan', 'networkmanager']
    assert result['detail'] == (
        "2 network stacks claim it and would fight over it: netplan (netplan: ethernets.eth0 at"
        " /etc/netplan/50-cloud-init.yaml:5 (by name), renderer networkd (netplan's default)) and networkmanager"
        " (profile 'Office' (/etc/NetworkManager/system-connections/office.nmconnection:5, interface-name=eth0)"
        " binds it (NetworkManager is installed but does not answer: nmcli not asked)). Leave it to one of them"
        " (remove the configuration of the other)")


def test_netplan_for_networkd_makes_networkmanager_leave_the_device_alone(tmp_path):
    """netplan generate writes unmanaged-devices for the devices it renders for networkd: a hand-written NM
    profile for eth0 then claims nothing."""
    write(tmp_path, '/etc/netplan/50-cloud-init.yaml', CLOUD_INIT)
    write(tmp_path, '/etc/NetworkManager/system-connections/office.nmconnection', ETH0_PROFILE)
    write(tmp_path, '/usr/sbin/NetworkManager', '')
    write(tmp_path, '/run/NetworkManager/conf.d/netplan.conf', '[keyfile]\nunmanaged-devices+=interface-name:eth0,\n')
    result = detect(tmp_path, yaml_module=yaml_module())['eth0']
    assert result['name'] == 'netplan'


@pytest.mark.parametrize('name, conflict', [('05-eth0.network', True), ('50-eth0.network', False)])
def test_netplan_and_a_hand_written_network_file(tmp_path, name, conflict):
    """networkd takes the first matching file: a hand-written one sorting before netplan's 10-netplan-eth0.network
    (generated or still to be) overrides netplan (a conflict); one sorting after is never used."""
    write(tmp_path, '/etc/netplan/50-cloud-init.yaml', CLOUD_INIT)
    networkd_runs(tmp_path)
    write(tmp_path, '/etc/systemd/network/' + name, '[Match]\nName=eth0\n')
    result = detect(tmp_path, yaml_module=yaml_module())['eth0']
    assert result['name'] == ('conflict' if conflict else 'netplan')
    if conflict:
        assert [item['name'] for item in result['claims']] == ['netplan', 'networkd']
        assert '/etc/systemd/network/05-eth0.network: [Match] Name=eth0 (line 2)' in result['detail']


def test_conflict_ifupdown_stanza_and_network_file(tmp_path):
    write(tmp_path, '/etc/network/interfaces', 'auto eth0\niface eth0 inet dhcp\n')
    networkd_runs(tmp_path)
    write(tmp_path, '/etc/systemd/network/10-eth0.network', '[Match]\nName=eth0\n')
    result = detect(tmp_path)['eth0']
    assert result['name'] == 'conflict'
    assert result['claims'] == [
        _managers.claim('networkd', 'systemd-networkd: /etc/systemd/network/10-eth0.network: [Match] Name=eth0'
                                    ' (line 2) (systemd-networkd runs (pid 345))'),
        _managers.claim('ifupdown', 'ifupdown stanza: iface eth0 inet dhcp (/etc/network/interfaces:2)')]


def test_netplan_without_pyyaml_searches_the_text(tmp_path):
    write(tmp_path, '/etc/netplan/50-cloud-init.yaml', CLOUD_INIT)
    write(tmp_path, '/etc/netplan/60-glob.yaml', 'network:\n  ethernets:\n    wan:\n      match:\n'
          '        name: "wlan*"\n')
    result = detect(tmp_path, yaml_module=None)
    reason = 'PyYAML is not installed for the Python that runs the module'
    assert result['eth0'] == owner('netplan', 'netplan: /etc/netplan/50-cloud-init.yaml:5 mentions eth0, but the file'
                                   ' was not parsed (%s), so the renderer is unknown' % reason)
    assert result['eth0']['renderer'] is None
    assert result['wlan0']['name'] == 'netplan' and '60-glob.yaml:5 mentions wlan0' in result['wlan0']['detail']
    # not mentioned: not claimed, but the answer says the files were not read
    assert result['eth1']['name'] == 'none'
    assert result['eth1']['detail'].endswith(
        '; netplan file /etc/netplan/50-cloud-init.yaml was not read: %s; netplan file /etc/netplan/60-glob.yaml'
        ' was not read: %s' % (reason, reason))


def test_netplan_invalid_yaml_is_searched_as_text(tmp_path):
    write(tmp_path, '/etc/netplan/50-broken.yaml', 'network:\n  ethernets:\n    eth0: [\n')
    result = detect(tmp_path, yaml_module=yaml_module())
    assert result['eth0']['name'] == 'netplan'
    assert '50-broken.yaml:3 mentions eth0, but the file was not parsed (it is not valid YAML (' in \
        result['eth0']['detail']


def test_netplan_files_merge_in_order(tmp_path):
    write(tmp_path, '/lib/netplan/10-base.yaml', 'network:\n  ethernets:\n    lan:\n      match: {name: "eth*"}\n')
    write(tmp_path, '/etc/netplan/20-narrow.yaml', 'network:\n  ethernets:\n    lan:\n      match: {name: eth1}\n')
    write(tmp_path, '/etc/netplan/30-other.yaml', 'network: [not, a, mapping]\n')
    write(tmp_path, '/etc/netplan/README', 'network: {ethernets: {eth0: {}}}\n')  # not *.yaml
    config = _managers.netplan_config(str(tmp_path), yaml_module())
    assert config['files'] == ['/lib/netplan/10-base.yaml', '/etc/netplan/20-narrow.yaml',
                               '/etc/netplan/30-other.yaml']
    assert [(item['id'], item['match'], item['where']) for item in config['definitions']] == [
        ('lan', {'name': 'eth1'}, ['/lib/netplan/10-base.yaml:3', '/etc/netplan/20-narrow.yaml:3'])]
    result = detect(tmp_path, yaml_module=yaml_module())
    assert result['eth0']['name'] == 'none' and result['eth1']['name'] == 'netplan'


def test_every_interface_gets_the_same_keys(tmp_path):
    write(tmp_path, '/etc/netplan/50-cloud-init.yaml', CLOUD_INIT)
    for item in detect(tmp_path, yaml_module=yaml_module()).values():
        assert set(item) == {'name', 'managed', 'detail', 'claims', 'renderer'}
