# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The systemd-networkd backend against a fake host (a temporary root and a recording run_command). networkd
itself parses these files in the molecule scenario roles/kvm_bridge_host/molecule/persist_networkd (its own
warnings, tests/persist/validate_networkd.sh) and replays them at boot."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _persist_model, _persist_networkd
from ansible_collections.kvmnet.bridge.plugins.module_utils._persist import MARKER, Host, PersistError

DIR = '/etc/systemd/network'
NETDEV = DIR + '/05-kvmnet-kvmbr0.netdev'
NETWORK = DIR + '/05-kvmnet-kvmbr0.network'
PORT_FILE = DIR + '/05-kvmnet-kvmbr0-port-eth0.network'
TAPS = DIR + '/05-kvmnet-kvmbr0-taps.network'

FULL_BRIDGE = dict(name='kvmbr0', mac='52:54:00:AA:BB:CC', stp=True, forward_delay=4, hello_time=2.5, max_age=12,
                   ageing_time=100, priority=4096, mtu=9000, mcast_snooping=False, vlan_filtering=True,
                   group_fwd_mask=8)
FULL_PORT = dict(name='eth0', cost=7, priority=9, hairpin=True, learning=False, unicast_flood=False,
                 mcast_flood=False, bpdu_guard=True, root_block=True, isolated=True, neigh_suppress=True)


def model(bridge=None, port=None, addressing=None):
    return _persist_model.validate(dict(dict(name='kvmbr0', stp=False, forward_delay=0), **(bridge or {})),
                                   dict(dict(name='eth0'), **(port or {})), addressing or {})


class FakeHost(object):
    """A temporary root with helpers to put files in it, and a run_command that records every argv."""

    def __init__(self, root, answers=None):
        self.root = str(root)
        self.calls = []
        self.answers = answers or {}
        self.host = Host(self.run_command, self.root)

    def run_command(self, argv, data=None):
        self.calls.append(argv)
        return self.answers.get(tuple(argv), (0, '', ''))

    def put(self, path, content='', mode=0o644):
        full = self.host.path(path)
        if not os.path.isdir(os.path.dirname(full)):
            os.makedirs(os.path.dirname(full))
        with open(full, 'w') as handle:
            handle.write(content)
        os.chmod(full, mode)

    def install(self):
        """systemd-networkd and networkctl as a Debian 12 host has them."""
        self.put('/lib/systemd/systemd-networkd', mode=0o755)
        self.put('/usr/bin/networkctl', mode=0o755)
        return self

    def daemon(self, pid=321, bus=True):
        self.put('/proc/%d/cmdline' % pid, '/lib/systemd/systemd-networkd\0')
        self.put('/proc/1/cmdline', 'init\0')
        if bus:
            self.put('/run/dbus/system_bus_socket')
        return self

    def link(self, name, index, network_file, state='configured'):
        self.put('/sys/class/net/%s/ifindex' % name, '%d\n' % index)
        self.put('/run/systemd/netif/links/%d' % index, '# This is private data. Do not parse.\nADMIN_STATE=%s\n'
                 'NETWORK_FILE=%s\n' % (state, network_file))


@pytest.fixture
def fake(tmp_path, monkeypatch):
    monkeypatch.delenv('DBUS_SYSTEM_BUS_ADDRESS', raising=False)
    return FakeHost(tmp_path)


def backend(fake):
    return _persist_networkd.BACKEND(fake.host, {})


def rendered(fake, the_model):
    return dict((item.path, item) for item in backend(fake).render(the_model))


def lines(text):
    return [line for line in text.splitlines() if line and not line.startswith('#')]


# ---- render --------------------------------------------------------------------------------------------------

def test_backend_is_exported_with_its_name(fake):
    assert _persist_networkd.BACKEND.name == 'networkd'
    assert isinstance(backend(fake), _persist_networkd.NetworkdBackend)


def test_every_model_field_is_rendered():
    files = rendered(FakeHost('/nonexistent'), model(FULL_BRIDGE, FULL_PORT))
    assert sorted(files) == sorted([NETDEV, NETWORK, PORT_FILE, TAPS])
    assert lines(files[NETDEV].content) == [
        '[NetDev]', 'Name=kvmbr0', 'Kind=bridge', 'MACAddress=52:54:00:aa:bb:cc',
        '[Bridge]', 'STP=yes', 'ForwardDelaySec=4', 'HelloTimeSec=2.5', 'MaxAgeSec=12', 'AgeingTimeSec=100',
        'Priority=4096', 'VLANFiltering=yes', 'MulticastSnooping=no', 'GroupForwardMask=8']
    assert lines(files[NETWORK].content) == [
        '[Match]', 'Name=kvmbr0', '[Link]', 'MTUBytes=9000', 'RequiredForOnline=carrier',
        '[Network]', 'DHCP=no', 'LinkLocalAddressing=no', 'IPv6AcceptRA=no']
    assert lines(files[PORT_FILE].content) == [
        '[Match]', 'Name=eth0', '[Link]', 'RequiredForOnline=enslaved',
        '[Network]', 'Bridge=kvmbr0', 'DHCP=no', 'LinkLocalAddressing=no', 'IPv6AcceptRA=no',
        '[Bridge]', 'Cost=7', 'Priority=9', 'HairPin=yes', 'Learning=no', 'UnicastFlood=no', 'MulticastFlood=no',
        'UseBPDU=no', 'AllowPortToBeRoot=no', 'Isolated=yes', 'NeighborSuppression=yes']
    assert lines(files[TAPS].content) == ['[Match]', 'Name=vnet* tap*', '[Link]', 'Unmanaged=yes']


def test_unset_fields_are_absent():
    files = rendered(FakeHost('/nonexistent'), model())
    assert lines(files[NETDEV].content) == ['[NetDev]', 'Name=kvmbr0', 'Kind=bridge', '[Bridge]', 'STP=no',
                                            'ForwardDelaySec=0']
    assert lines(files[PORT_FILE].content) == [
        '[Match]', 'Name=eth0', '[Link]', 'RequiredForOnline=enslaved',
        '[Network]', 'Bridge=kvmbr0', 'DHCP=no', 'LinkLocalAddressing=no', 'IPv6AcceptRA=no']
    assert 'MTUBytes' not in files[NETWORK].content


@pytest.mark.parametrize('option, value, line', [
    ('bpdu_guard', False, 'UseBPDU=yes'),
    ('root_block', False, 'AllowPortToBeRoot=yes'),
    ('hairpin', False, 'HairPin=no'),
    ('learning', True, 'Learning=yes'),
])
def test_port_flags_and_the_two_inverted_ones(option, value, line):
    files = rendered(FakeHost('/nonexistent'), model(port={option: value}))
    assert lines(files[PORT_FILE].content)[-1] == line


def test_bridge_priority_zero_is_not_written_and_is_a_limit(fake):
    the_model = model(dict(priority=0))
    assert 'Priority' not in rendered(fake, the_model)[NETDEV].content
    [limit] = backend(fake).limits(the_model)
    assert limit.as_dict() == dict(attribute='bridge.priority', wanted=0, kernel=32768, why=limit.why)
    assert 'Priority=0 as unset' in limit.why
    assert backend(fake).limits(model(dict(priority=1))) == []
    assert backend(fake).limits(model(FULL_BRIDGE, FULL_PORT)) == []


def test_the_mtu_goes_to_the_link_section_not_the_netdev():
    files = rendered(FakeHost('/nonexistent'), model(dict(mtu=1400)))
    assert 'MTUBytes' not in files[NETDEV].content  # a created MTU follows the port's when it joins
    assert 'MTUBytes=1400' in lines(files[NETWORK].content)


def test_dhcp_addressing():
    files = rendered(FakeHost('/nonexistent'), model(addressing=dict(mode='dhcp')))
    network = lines(files[NETWORK].content)
    assert network[network.index('[Network]'):] == ['[Network]', 'DHCP=yes']
    assert 'RequiredForOnline=carrier' not in network
    assert 'DHCP=no' in lines(files[PORT_FILE].content)  # the port never gets an address


def test_static_addressing():
    files = rendered(FakeHost('/nonexistent'), model(addressing=dict(
        mode='static', addresses=['192.0.2.10/24', '2001:db8::10/64'], gateway4='192.0.2.1',
        gateway6='2001:db8::1')))
    network = lines(files[NETWORK].content)
    assert network[network.index('[Network]'):] == [
        '[Network]', 'Address=192.0.2.10/24', 'Address=2001:db8::10/64', 'Gateway=192.0.2.1', 'Gateway=2001:db8::1',
        'DHCP=no', 'LinkLocalAddressing=ipv6', 'IPv6AcceptRA=no']


def test_render_is_pure_and_deterministic(fake):
    the_model = model(FULL_BRIDGE, FULL_PORT)
    first = backend(fake).render(the_model)
    fake.put(NETDEV, 'something else')  # what the host has does not matter
    fake.put('/proc/9/cmdline', '/lib/systemd/systemd-networkd\0')
    assert backend(fake).render(the_model) == first
    assert fake.calls == []


def test_files_are_marked_world_readable_and_not_writable():
    for item in backend(FakeHost('/nonexistent')).render(model(FULL_BRIDGE, FULL_PORT)):
        assert item.mode == 0o644, item.path  # networkd reads them as systemd-network: 0600 would hide them
        assert item.content.splitlines()[0] == '# ' + MARKER
        assert item.content.splitlines()[1] == '# kvmnet: bridge=kvmbr0 port=eth0'
        assert item.content.endswith('\n') and not item.content.endswith('\n\n')
        assert os.path.basename(item.path).startswith('05-kvmnet-kvmbr0')


def test_file_names_sort_before_the_usual_generated_and_catch_all_files():
    names = [os.path.basename(item.path) for item in backend(FakeHost('/nonexistent')).render(model())]
    for other in ('10-netplan-eth0.network', '10-cloud-init-eth0.network', '50-wired.network',
                  '80-container-ve.network', '99-default.network'):
        assert all(name < other for name in names)


# ---- stale ---------------------------------------------------------------------------------------------------

def ours(bridge, port):
    return '# %s\n# kvmnet: bridge=%s port=%s\n\n[Match]\nName=%s\n' % (MARKER, bridge, port, port)


def test_stale_finds_the_old_uplink_and_the_old_bridge_name(fake):
    fake.put(PORT_FILE, ours('kvmbr0', 'eth0'))
    fake.put(DIR + '/05-kvmnet-kvmbr0-port-eth1.network', ours('kvmbr0', 'eth1'))  # the old uplink
    fake.put(DIR + '/05-kvmnet-oldbr.netdev', ours('oldbr', 'eth0'))  # the old name, same uplink
    fake.put(DIR + '/05-kvmnet-oldbr.network', ours('oldbr', 'eth0'))
    fake.put(DIR + '/05-kvmnet-other.netdev', ours('other', 'eth7'))  # another bridge, another uplink: kept
    fake.put(DIR + '/05-kvmnet-hand.network', '# kvmnet: bridge=kvmbr0 port=eth0\n')  # no marker: not ours
    fake.put(DIR + '/05-kvmnet-kvmbr0.conf', ours('kvmbr0', 'eth0'))  # not a networkd file
    assert backend(fake).stale(model()) == [
        DIR + '/05-kvmnet-kvmbr0-port-eth1.network', DIR + '/05-kvmnet-oldbr.netdev', DIR + '/05-kvmnet-oldbr.network']


def test_stale_is_empty_on_a_fresh_host(fake):
    assert backend(fake).stale(model()) == []


# ---- preflight -----------------------------------------------------------------------------------------------

def test_preflight_passes_on_a_networkd_host(fake):
    fake.install().daemon()
    fake.put(DIR + '/50-wired.network', '[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n')
    fake.put('/lib/systemd/network/80-container-ve.network', '[Match]\nName=ve-*\n')
    fake.put('/run/systemd/network/10-netplan-eth0.network', '[Match]\nName=eth0\n')
    assert backend(fake).preflight(model()) is None
    assert fake.calls == []  # read-only: no command


def test_preflight_passes_when_networkd_does_not_run(fake):
    fake.install()  # no daemon and no bus: the files take effect at boot
    assert backend(fake).preflight(model()) is None


@pytest.mark.parametrize('missing, needle', [
    ('/lib/systemd/systemd-networkd', 'systemd-networkd is not installed'),
    ('/usr/bin/networkctl', 'networkctl is not installed'),
])
def test_preflight_needs_the_daemon_and_its_client(fake, missing, needle):
    fake.install()
    os.unlink(fake.host.path(missing))
    with pytest.raises(PersistError, match=needle):
        backend(fake).preflight(model())


def test_preflight_refuses_a_running_networkd_without_dbus(fake):
    fake.install().daemon(pid=4242, bus=False)
    with pytest.raises(PersistError) as caught:
        backend(fake).preflight(model())
    assert 'runs (PID 4242) but the D-Bus system bus is not there' in caught.value.msg
    assert 'Start D-Bus' in caught.value.msg


def test_preflight_accepts_a_bus_named_by_the_environment(fake, monkeypatch):
    fake.install().daemon(bus=False)
    monkeypatch.setenv('DBUS_SYSTEM_BUS_ADDRESS', 'unix:path=/elsewhere')
    assert backend(fake).preflight(model()) is None


@pytest.mark.parametrize('path, content, link', [
    (DIR + '/01-early.network', '[Match]\nName=e*\n\n[Network]\nDHCP=yes\n', 'eth0'),
    (DIR + '/00-all.network', '[Network]\nDHCP=yes\n', 'eth0'),  # no [Match]: every link
    ('/run/systemd/network/04-br.network', '[Match]\nName=br* kvmbr0\n', 'kvmbr0'),
    ('/lib/systemd/network/05-kvmnet-a.network', '[Match]\nName=!lo\n', 'eth0'),  # inverted: all but lo
])
def test_preflight_refuses_an_earlier_file_that_takes_our_link(fake, path, content, link):
    fake.install()
    fake.put(path, content)
    with pytest.raises(PersistError) as caught:
        backend(fake).preflight(model())
    assert caught.value.msg.startswith('backend networkd: %s sorts before' % path)
    assert 'matches %s' % link in caught.value.msg and 'Rename it' in caught.value.msg


@pytest.mark.parametrize('path, content', [
    (DIR + '/01-other.network', '[Match]\nName=eth1\n'),  # another link
    (DIR + '/01-inverted.network', '[Match]\nName=!eth0 kvmbr0\n'),  # all but ours
    (DIR + '/01-reset.network', '[Match]\nName=eth0\nName=\nName=wlan0\n'),  # an empty Name= resets the list
    (DIR + '/01-typed.network', '[Match]\nType=wlan\n'),  # not decided by name: not refused
    (DIR + '/60-late.network', '[Match]\nName=eth0\n'),  # sorts after ours
])
def test_preflight_accepts_files_that_do_not_take_our_links(fake, path, content):
    fake.install()
    fake.put(path, content)
    assert backend(fake).preflight(model()) is None


def test_preflight_ignores_an_etc_file_hidden_name_in_other_dirs(fake):
    fake.install()
    fake.put(DIR + '/01-x.network', '[Match]\nName=eth9\n')
    fake.put('/lib/systemd/network/01-x.network', '[Match]\nName=eth0\n')  # hidden by /etc's file of that name
    assert backend(fake).preflight(model()) is None


def test_preflight_refuses_a_file_of_someone_else_at_our_path(fake):
    fake.install()
    fake.put(NETDEV, '[NetDev]\nName=kvmbr0\nKind=bridge\n')
    with pytest.raises(PersistError, match='05-kvmnet-kvmbr0.netdev exists and was not written by kvmnet'):
        backend(fake).preflight(model())


def test_preflight_refuses_another_netdev_of_the_bridge(fake):
    fake.install()
    fake.put(DIR + '/30-br.netdev', '[NetDev]\nName=kvmbr0\nKind=bridge\n')
    with pytest.raises(PersistError, match='30-br.netdev also defines the netdev kvmbr0'):
        backend(fake).preflight(model())


def test_preflight_accepts_our_own_files(fake):
    fake.install().daemon()
    for item in backend(fake).render(model()):
        fake.put(item.path, item.content)
    assert backend(fake).preflight(model()) is None


# ---- prepare, running --------------------------------------------------------------------------------------

def test_prepare_has_nothing_to_change(fake):
    fake.install().daemon()
    fake.put(DIR + '/50-wired.network', '[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n')
    assert backend(fake).prepare(model()) == []  # our earlier file wins; the old one stays for a switch back


def test_running_reads_the_process_table(fake):
    assert backend(fake).running() is False
    fake.put('/proc/77/cmdline', '/lib/systemd/systemd-networkd-wait-online\0-i\0eth0\0')
    assert backend(fake).running() is False
    fake.put('/proc/78/cmdline', '/usr/lib/systemd/systemd-networkd\0')
    assert backend(fake).running() is True


# ---- activate ------------------------------------------------------------------------------------------------

def test_activate_without_changes_runs_nothing(fake):
    fake.install().daemon()
    assert backend(fake).activate(model(), []) == []
    assert fake.calls == []


def test_activate_reloads_and_waits_for_our_files(fake):
    fake.install().daemon()
    fake.link('kvmbr0', 5, NETWORK)
    fake.link('eth0', 2, PORT_FILE)
    assert backend(fake).activate(model(), [NETDEV, PORT_FILE]) == [['/usr/bin/networkctl', 'reload']]
    assert fake.calls == [['/usr/bin/networkctl', 'reload']]


def test_activate_polls_until_networkd_took_the_files(fake):
    fake.install().daemon()
    fake.link('kvmbr0', 5, NETWORK)
    fake.link('eth0', 2, DIR + '/50-wired.network')  # still the old file
    the_backend = backend(fake)
    naps = []

    def sleep(seconds):
        naps.append(seconds)
        fake.link('eth0', 2, PORT_FILE)  # networkd reconfigures it meanwhile

    the_backend.sleep = sleep
    assert the_backend.activate(model(), [PORT_FILE]) == [['/usr/bin/networkctl', 'reload']]
    assert naps == [0.1]


def test_activate_fails_when_networkd_keeps_another_file(fake):
    fake.install().daemon()
    fake.link('kvmbr0', 5, NETWORK)
    fake.link('eth0', 2, DIR + '/01-early.network')
    the_backend = backend(fake)
    now = [1000.0]
    the_backend.clock = lambda: now[0]
    the_backend.sleep = lambda seconds: now.__setitem__(0, now[0] + seconds)
    with pytest.raises(PersistError) as caught:
        the_backend.activate(model(), [PORT_FILE])
    assert 'did not take the files within 10 s' in caught.value.msg
    assert 'eth0: ADMIN_STATE=configured NETWORK_FILE=/etc/systemd/network/01-early.network' in caught.value.msg
    assert caught.value.details['links'] == ['eth0']


def test_activate_reports_a_failed_reload(fake):
    fake.install().daemon()
    fake.answers[('/usr/bin/networkctl', 'reload')] = (1, '', 'Failed to reload network settings: Access denied')
    with pytest.raises(PersistError, match=r'networkctl reload failed \(rc 1\): Failed to reload'):
        backend(fake).activate(model(), [NETDEV])


def test_activate_of_restored_files_only_reloads(fake):
    fake.install().daemon()  # no link state at all: a restore does not wait for our files
    assert backend(fake).activate(None, [NETDEV]) == [['/usr/bin/networkctl', 'reload']]


def test_activate_does_not_wait_for_a_link_that_is_not_there(fake):
    fake.install().daemon()
    fake.link('kvmbr0', 5, NETWORK)  # the uplink is unplugged: no /sys/class/net/eth0
    the_backend = backend(fake)
    the_backend.sleep = lambda seconds: pytest.fail('waited for a missing link')
    assert the_backend.activate(model(), [PORT_FILE]) == [['/usr/bin/networkctl', 'reload']]
