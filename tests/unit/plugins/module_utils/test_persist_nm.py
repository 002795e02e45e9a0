# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NetworkManager backend against a fake host: a temporary root and a small nmcli stand-in at the seam
(run_command) that records every argv and keeps device and profile states. NetworkManager itself parses the files
(libnm, tests/persist/validate_nm.py), takes them over and replays them at boot in the molecule scenario
roles/kvm_bridge_host/molecule/persist_networkmanager."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _persist_model, _persist_nm
from ansible_collections.kvmnet.bridge.plugins.module_utils._persist import MARKER, Host, PersistError

CONNECTIONS = '/etc/NetworkManager/system-connections'
BRIDGE_FILE = CONNECTIONS + '/kvmnet-kvmbr0.nmconnection'
PORT_FILE = CONNECTIONS + '/kvmnet-kvmbr0-port-eth0.nmconnection'
CONF_FILE = '/etc/NetworkManager/conf.d/90-kvmnet-kvmbr0.conf'
NMCLI = '/usr/bin/nmcli'
BRIDGE_UUID = _persist_nm.profile_uuid('kvmbr0')
PORT_UUID = _persist_nm.profile_uuid('kvmbr0', 'eth0')

FULL_BRIDGE = dict(name='kvmbr0', mac='52:54:00:AA:BB:CC', stp=True, forward_delay=4, hello_time=2, max_age=12,
                   ageing_time=100, priority=4096, mtu=9000, mcast_snooping=False, vlan_filtering=True,
                   group_fwd_mask=8)
FULL_PORT = dict(name='eth0', cost=7, priority=9, hairpin=True)


def model(bridge=None, port=None, addressing=None):
    return _persist_model.validate(dict(dict(name='kvmbr0', stp=False, forward_delay=0), **(bridge or {})),
                                   dict(dict(name='eth0'), **(port or {})), addressing or {})


def texts(backend, the_model):
    return dict((item.path, item.content) for item in backend.render(the_model))


def keys(content, section):
    """key -> value of one [section] of a rendered file."""
    found, current = {}, None
    for line in content.splitlines():
        if line.startswith('['):
            current = line.strip('[]')
        elif current == section and '=' in line:
            key, value = line.split('=', 1)
            found[key] = value
    return found


class FakeNM(object):
    """A temporary root and an nmcli that answers from a few dicts, changing them as NetworkManager would."""

    def __init__(self, root):
        self.root = str(root)
        self.calls = []
        self.running = True
        self.version = '1.42.4'
        # profiles: uuid -> dict(name, type, autoconnect, readonly, filename, interface, mac)
        self.profiles = {}
        self.devices = {}  # name -> [state, uuid]
        self.active = {}  # uuid -> GENERAL.STATE
        self.fail = {}  # argv prefix (tuple) -> (rc, out, err)
        self.load_output = ''
        self.autoconnect_slaves = True  # con up of the bridge brings the port
        self.autoconnect_on_manage = False  # managed yes: the port profile autoconnects (and brings its bridge)
        self.host = Host(self.run_command, self.root)
        self.put('/usr/bin/nmcli', mode=0o755)
        self.put('/usr/sbin/NetworkManager', mode=0o755)
        os.makedirs(self.host.path('/run/NetworkManager'))

    def put(self, path, content='', mode=0o644):
        full = self.host.path(path)
        if not os.path.isdir(os.path.dirname(full)):
            os.makedirs(os.path.dirname(full))
        with open(full, 'w') as handle:
            handle.write(content)
        os.chmod(full, mode)

    def profile(self, uuid, name, kind='802-3-ethernet', autoconnect=True, readonly=False, interface='', mac=''):
        self.profiles[uuid] = dict(name=name, type=kind, autoconnect=autoconnect, readonly=readonly,
                                   filename='%s/%s.nmconnection' % (CONNECTIONS, name), interface=interface, mac=mac)

    def commands(self):
        """The argv lists that change something (reads left out)."""
        reads = (('-t',), ('-g',), ('--version',))
        return [argv for argv in self.calls if tuple(argv[1:2]) not in reads]

    def run_command(self, argv, data=None):
        self.calls.append(argv)
        for prefix, answer in self.fail.items():
            if tuple(argv[:len(prefix)]) == prefix:
                return answer
        args = argv[1:]
        if args == ['--version']:
            return 0, 'nmcli tool, version %s\n' % self.version, ''
        if args == ['-t', '-f', 'RUNNING', 'general']:
            return (0, 'running\n', '') if self.running else (8, '', 'Error: NetworkManager is not running.')
        if args[:3] == ['-t', '-f', 'NAME,UUID,TYPE,AUTOCONNECT,READONLY,FILENAME']:
            lines = ['%s:%s:%s:%s:%s:%s' % (p['name'], uuid, p['type'], 'yes' if p['autoconnect'] else 'no',
                                            'yes' if p['readonly'] else 'no', p['filename'])
                     for uuid, p in sorted(self.profiles.items())]
            return 0, '\n'.join(lines) + '\n', ''
        if args[0] == '-g' and args[2:4] == ['connection', 'show']:
            uuid = args[4]
            if args[1] == 'GENERAL.STATE':
                return (0, self.active[uuid] + '\n', '') if uuid in self.active else (10, '', 'no such')
            p = self.profiles[uuid]
            values = {'connection.interface-name': p['interface'],
                      '802-3-ethernet.mac-address': p['mac'].upper().replace(':', '\\:')}
            return 0, '\n'.join(values[key] for key in args[1].split(',')) + '\n', ''
        if args == ['-t', '-f', 'DEVICE,FILENAME', 'connection', 'show', '--active']:
            files = {BRIDGE_UUID: BRIDGE_FILE, PORT_UUID: PORT_FILE}
            return 0, ''.join('%s:%s\n' % (name, files.get(uuid, '/run/NetworkManager/system-connections/x'))
                              for name, (state, uuid) in sorted(self.devices.items()) if uuid), ''
        if args[:3] == ['-t', '-f', 'DEVICE,STATE,CON-UUID']:
            return 0, ''.join('%s:%s:%s\n' % (name, state, uuid)
                              for name, (state, uuid) in sorted(self.devices.items())), ''
        if args[:2] == ['connection', 'load']:
            return 0, self.load_output, ''
        if args[:2] == ['connection', 'up']:
            uuid = args[2]
            self.active[uuid] = 'activated'
            if uuid == BRIDGE_UUID:
                self.devices['kvmbr0'] = ['connected', BRIDGE_UUID]
                if self.autoconnect_slaves:
                    self.active[PORT_UUID] = 'activated'
                    self.devices['eth0'] = ['connected', PORT_UUID]
            if uuid == PORT_UUID:
                self.devices['eth0'] = ['connected', PORT_UUID]
            return 0, 'Connection successfully activated\n', ''
        if args[:3] == ['device', 'set', 'eth0'] and args[3:] == ['managed', 'no']:
            self.devices['eth0'] = ['unmanaged', '']
        elif args[:3] == ['device', 'set', 'eth0'] and args[3:] == ['managed', 'yes']:
            self.devices['eth0'] = ['disconnected', '']
            if self.autoconnect_on_manage:
                self.ours_active(files=False)
        return 0, '', ''

    def after_apply_phase(self, old_profile=None):
        """The state the role's apply phase leaves: kvmbr0 built over netlink (NM shows it "externally") and eth0
        in it, still running its old profile when it had one."""
        self.devices['kvmbr0'] = ['connected (externally)', 'f0000000-0000-4000-8000-00000000000b']
        self.devices['eth0'] = ['connected', old_profile] if old_profile else ['connected (externally)', 'f0e']

    def ours_active(self, files=True):
        """Our profiles run on bridge and port; ``files``: their keyfiles exist (else they were just removed)."""
        for path in (BRIDGE_FILE, PORT_FILE):
            if files and not os.path.exists(self.host.path(path)):
                self.put(path, '# %s\n' % MARKER, 0o600)
        self.active.update({BRIDGE_UUID: 'activated', PORT_UUID: 'activated'})
        self.devices.update(kvmbr0=['connected', BRIDGE_UUID], eth0=['connected', PORT_UUID])


@pytest.fixture
def nm(tmp_path):
    return FakeNM(tmp_path)


@pytest.fixture
def backend(nm):
    backend = _persist_nm.BACKEND(nm.host, {})
    clock = [0.0]
    backend.clock = lambda: clock[0]
    backend.sleep = lambda seconds: clock.__setitem__(0, clock[0] + seconds)
    return backend


# ---- render ----------------------------------------------------------------------------------------------------

def test_render_writes_three_files_with_modes_and_the_marker(backend):
    files = backend.render(model())
    assert [(item.path, item.mode) for item in files] == [
        (BRIDGE_FILE, 0o600), (PORT_FILE, 0o600), (CONF_FILE, 0o644)]
    for item in files:
        assert item.content.splitlines()[:2] == ['# ' + MARKER, '# kvmnet: bridge=kvmbr0 port=eth0']
        assert item.content.endswith('\n') and not item.content.endswith('\n\n')


def test_render_every_bridge_field(backend):
    content = texts(backend, model(bridge=FULL_BRIDGE))[BRIDGE_FILE]
    assert keys(content, 'connection') == {
        'id': 'kvmbr0', 'uuid': BRIDGE_UUID, 'type': 'bridge', 'interface-name': 'kvmbr0', 'autoconnect': 'true',
        'autoconnect-slaves': '1'}
    assert keys(content, 'ethernet') == {'cloned-mac-address': '52:54:00:aa:bb:cc', 'mtu': '9000'}
    assert keys(content, 'bridge') == {
        'stp': 'true', 'priority': '4096', 'forward-delay': '4', 'hello-time': '2', 'max-age': '12',
        'ageing-time': '100', 'multicast-snooping': 'false', 'vlan-filtering': 'true', 'group-forward-mask': '8'}
    assert keys(content, 'ipv4') == {'method': 'disabled'} and keys(content, 'ipv6') == {'method': 'disabled'}


def test_render_every_port_field_and_no_ip_settings_on_the_port(backend):
    content = texts(backend, model(port=FULL_PORT))[PORT_FILE]
    assert keys(content, 'connection') == {
        'id': 'kvmbr0-port-eth0', 'uuid': PORT_UUID, 'type': 'ethernet', 'interface-name': 'eth0',
        'master': BRIDGE_UUID, 'slave-type': 'bridge', 'autoconnect': 'true', 'autoconnect-priority': '10'}
    assert keys(content, 'bridge-port') == {'priority': '9', 'path-cost': '7', 'hairpin-mode': 'true'}
    assert '[ipv4]' not in content and '[ipv6]' not in content and '[ethernet]' not in content


def test_render_leaves_unset_fields_out(backend):
    files = texts(backend, model())
    bridge = files[BRIDGE_FILE]
    assert keys(bridge, 'bridge') == {'stp': 'false', 'forward-delay': '2'}
    assert '[ethernet]' not in bridge, 'no MAC and no MTU asked: no [ethernet] section'
    assert '[bridge-port]' not in files[PORT_FILE]


def test_render_conf_keeps_taps_unmanaged_and_no_auto_default_for_the_uplink(backend):
    content = texts(backend, model())[CONF_FILE]
    assert keys(content, 'keyfile') == {'unmanaged-devices+': 'interface-name:vnet*;interface-name:tap*'}
    assert keys(content, 'main') == {'no-auto-default+': 'interface-name:eth0'}


def test_render_is_deterministic_and_pure(backend, nm):
    first = backend.render(model(bridge=FULL_BRIDGE, port=FULL_PORT))
    assert backend.render(model(bridge=FULL_BRIDGE, port=FULL_PORT)) == first
    assert nm.calls == [], 'render reads nothing and runs nothing'
    other = texts(backend, model(bridge=dict(name='br1'), port=dict(name='eth1')))
    assert _persist_nm.profile_uuid('br1') != BRIDGE_UUID
    assert 'master=%s' % _persist_nm.profile_uuid('br1') in other[CONNECTIONS + '/kvmnet-br1-port-eth1.nmconnection']


@pytest.mark.parametrize('addressing, ipv4, ipv6', [
    (dict(mode='dhcp'), {'method': 'auto'}, {'method': 'auto'}),
    (dict(mode='static', addresses=['192.0.2.10/24'], gateway4='192.0.2.1'),
     {'method': 'manual', 'address1': '192.0.2.10/24', 'gateway': '192.0.2.1'}, {'method': 'disabled'}),
    (dict(mode='static', addresses=['192.0.2.10/24', '2001:db8::10/64', '198.51.100.7/25'],
          gateway6='2001:db8::1'),
     {'method': 'manual', 'address1': '192.0.2.10/24', 'address2': '198.51.100.7/25'},
     {'method': 'manual', 'address1': '2001:db8::10/64', 'gateway': '2001:db8::1'}),
])
def test_render_addressing(backend, addressing, ipv4, ipv6):
    content = texts(backend, model(addressing=addressing))[BRIDGE_FILE]
    assert (keys(content, 'ipv4'), keys(content, 'ipv6')) == (ipv4, ipv6)


# ---- limits ----------------------------------------------------------------------------------------------------

def limits(backend, the_model):
    return dict((limit.attribute, (limit.wanted, limit.kernel, limit.why)) for limit in backend.limits(the_model))


def test_limits_none_for_values_networkmanager_holds(backend):
    assert limits(backend, model(bridge=FULL_BRIDGE, port=FULL_PORT)) == {}


def test_limit_forward_delay_zero_is_written_as_two_seconds(backend):
    found = limits(backend, model())
    assert list(found) == ['bridge.forward_delay']
    wanted, kernel, why = found['bridge.forward_delay']
    assert (wanted, kernel) == (0, 200)
    assert 'forward-delay=0 means unset' in why and '15 s' in why


@pytest.mark.parametrize('bridge, attribute, wanted, kernel, needle', [
    (dict(forward_delay=1), 'bridge.forward_delay', 100, 200, 'below 2 s'),
    (dict(stp=True, forward_delay=2.5), 'bridge.forward_delay', 250, 300, 'whole seconds: 2.5 s is written as 3 s'),
    (dict(hello_time=1.2), 'bridge.hello_time', 120, 100, 'whole seconds'),
    (dict(ageing_time=12.5), 'bridge.ageing_time', 1250, 1300, 'whole seconds'),
])
def test_limits_of_the_bridge_timers(backend, bridge, attribute, wanted, kernel, needle):
    found = limits(backend, model(bridge=bridge))
    assert found[attribute][:2] == (wanted, kernel)
    assert needle in found[attribute][2]


def test_rendered_timer_is_the_limit_kernel_value(backend):
    content = texts(backend, model(bridge=dict(hello_time=1.2, ageing_time=12.5)))[BRIDGE_FILE]
    assert keys(content, 'bridge')['hello-time'] == '1' and keys(content, 'bridge')['ageing-time'] == '13'


def test_limits_of_port_attributes_networkmanager_lacks(backend):
    found = limits(backend, model(port=dict(learning=False, unicast_flood=False, mcast_flood=True, bpdu_guard=True,
                                            root_block=False, isolated=True, neigh_suppress=True)))
    assert dict((key, value[:2]) for key, value in found.items() if key != 'bridge.forward_delay') == {
        'port.learning': (False, True), 'port.unicast_flood': (False, True), 'port.bpdu_guard': (True, False),
        'port.isolated': (True, False), 'port.neigh_suppress': (True, False)}
    assert 'no bridge-port setting for learning' in found['port.learning'][2]


def test_limits_of_sysfs_port_options_on_a_read_only_sys(backend, nm):
    nm.put('/proc/self/mountinfo', '22 1 0:21 / /proc rw,nosuid - proc proc rw\n'
                                   '23 1 0:22 / /sys ro,nosuid,nodev - sysfs sysfs ro\n')
    found = limits(backend, model(port=dict(cost=7, priority=32, hairpin=True)))
    assert found['port.cost'][:2] == (7, None) and found['port.hairpin'][:2] == (True, False)
    assert 'port.priority' not in found, 'the kernel default is what was asked'
    assert 'EROFS' in found['port.cost'][2]
    nm.put('/proc/self/mountinfo', '23 1 0:22 / /sys rw,nosuid,nodev - sysfs sysfs rw\n')
    assert 'port.cost' not in limits(backend, model(port=dict(cost=7)))


# ---- stale -----------------------------------------------------------------------------------------------------

def test_stale_finds_our_old_files_of_this_bridge_or_port_only(backend, nm):
    old = '# %s\n# kvmnet: bridge=%s port=%s\n'
    nm.put(CONNECTIONS + '/kvmnet-kvmbr0-port-eth1.nmconnection', old % (MARKER, 'kvmbr0', 'eth1'), 0o600)
    nm.put(CONNECTIONS + '/kvmnet-br-old.nmconnection', old % (MARKER, 'br-old', 'eth0'), 0o600)
    nm.put('/etc/NetworkManager/conf.d/90-kvmnet-br-old.conf', old % (MARKER, 'br-old', 'eth0'))
    nm.put(CONNECTIONS + '/kvmnet-br2.nmconnection', old % (MARKER, 'br2', 'eth2'), 0o600)
    nm.put(CONNECTIONS + '/kvmnet-hand.nmconnection', '# kvmnet: bridge=kvmbr0 port=eth0\n', 0o600)
    nm.put(BRIDGE_FILE, old % (MARKER, 'kvmbr0', 'eth0'), 0o600)
    assert backend.stale(model()) == [
        '/etc/NetworkManager/conf.d/90-kvmnet-br-old.conf', CONNECTIONS + '/kvmnet-br-old.nmconnection',
        CONNECTIONS + '/kvmnet-kvmbr0-port-eth1.nmconnection']


# ---- preflight -------------------------------------------------------------------------------------------------

def test_preflight_passes_on_a_plain_networkmanager_host(backend, nm):
    nm.put('/etc/NetworkManager/NetworkManager.conf', '[main]\nplugins=ifupdown,keyfile\n\n[ifupdown]\n'
                                                      'managed=false\n')
    nm.put('/etc/network/interfaces', 'auto lo\niface lo inet loopback\n')
    backend.preflight(model())
    assert nm.commands() == [], 'preflight changes nothing'


@pytest.mark.parametrize('missing', ['/usr/bin/nmcli', '/usr/sbin/NetworkManager'])
def test_preflight_refuses_without_networkmanager(backend, nm, missing):
    os.unlink(nm.host.path(missing))
    with pytest.raises(PersistError, match='NetworkManager is not installed.*install network-manager'):
        backend.preflight(model())


def test_preflight_refuses_an_old_networkmanager(backend, nm):
    nm.version = '1.18.8'
    with pytest.raises(PersistError, match='NetworkManager 1.18.8 is too old'):
        backend.preflight(model())
    nm.version = '1.22.10'
    backend.preflight(model())
    with pytest.raises(PersistError, match='no bridge.group-forward-mask'):
        backend.preflight(model(bridge=dict(group_fwd_mask=8)))


def test_preflight_refuses_to_overwrite_a_file_made_by_hand(backend, nm):
    nm.put(BRIDGE_FILE, '[connection]\nid=mine\n', 0o600)
    with pytest.raises(PersistError, match='was not written by kvmnet.bridge'):
        backend.preflight(model())


@pytest.mark.parametrize('spec, name', [('interface-name:eth0', 'eth0'), ('mac:02:00:00:00:00:01', 'eth0'),
                                        ('interface-name:kvm*', 'kvmbr0'), ('type:bridge', 'kvmbr0')])
def test_preflight_refuses_an_unmanaged_uplink_or_bridge(backend, nm, spec, name):
    nm.put('/sys/class/net/eth0/address', '02:00:00:00:00:01\n')
    nm.put('/etc/NetworkManager/conf.d/50-site.conf', '[keyfile]\nunmanaged-devices=%s\n' % spec)
    with pytest.raises(PersistError, match='leaves %s unmanaged.*50-site.conf' % name):
        backend.preflight(model())


def test_preflight_refuses_an_uplink_named_like_a_tap(backend, nm):
    nm.put(CONF_FILE, texts(backend, model(port=dict(name='tap3')))[
        '/etc/NetworkManager/conf.d/90-kvmnet-kvmbr0.conf'])
    with pytest.raises(PersistError, match='leaves tap3 unmanaged.*kept unmanaged for guest taps'):
        backend.preflight(model(port=dict(name='tap3')))


def test_preflight_refuses_an_ifupdown_stanza_under_the_ifupdown_plugin(backend, nm):
    nm.put('/etc/NetworkManager/NetworkManager.conf', '[main]\nplugins=ifupdown,keyfile\n\n[ifupdown]\n'
                                                      'managed=false\n')
    nm.put('/etc/network/interfaces', 'source /etc/network/interfaces.d/*\n')
    nm.put('/etc/network/interfaces.d/eth0', 'allow-hotplug eth0\niface eth0 inet dhcp\n')
    with pytest.raises(PersistError, match=r'eth0 has an ifupdown stanza \(iface eth0 inet dhcp'):
        backend.preflight(model())
    nm.put('/etc/NetworkManager/conf.d/60-managed.conf', '[ifupdown]\nmanaged=true\n')
    backend.preflight(model())


# ---- running and prepare ---------------------------------------------------------------------------------------

def test_running_asks_nmcli_only_when_networkmanager_left_its_run_dir(backend, nm):
    assert backend.running()
    nm.running = False
    assert not backend.running()
    os.rmdir(nm.host.path('/run/NetworkManager'))
    nm.calls[:] = []
    assert not backend.running() and nm.calls == []


def test_prepare_turns_autoconnect_off_for_profiles_that_would_take_the_uplink(backend, nm):
    nm.put('/sys/class/net/eth0/address', '02:00:00:00:00:01\n')
    nm.profile('u-name', 'Wired eth0', interface='eth0')
    nm.profile('u-mac', 'Office', mac='02:00:00:00:00:01')
    nm.profile('u-any', 'Wired connection 1')
    nm.profile('u-bridge', 'old kvmbr0', kind='bridge', interface='kvmbr0')
    nm.profile('u-off', 'Manual eth0', interface='eth0', autoconnect=False)
    nm.profile('u-other', 'eth1 DHCP', interface='eth1')
    nm.profile('u-othermac', 'Laptop dock', mac='02:00:00:00:00:99')
    nm.profile(PORT_UUID, 'kvmbr0-port-eth0', interface='eth0')
    nm.profile(BRIDGE_UUID, 'kvmbr0', kind='bridge', interface='kvmbr0')
    commands = backend.prepare(model())
    assert [command.argv[3] for command in commands] == ['u-any', 'u-bridge', 'u-mac', 'u-name']
    name = [command for command in commands if command.argv[3] == 'u-name'][0]
    assert name.argv == [NMCLI, 'connection', 'modify', 'u-name', 'connection.autoconnect', 'no']
    assert name.undo == [NMCLI, 'connection', 'modify', 'u-name', 'connection.autoconnect', 'yes']
    assert "'Wired eth0' (u-name) is bound to eth0 by name" in name.why
    assert 'by its MAC 02:00:00:00:00:01' in [c.why for c in commands if c.argv[3] == 'u-mac'][0]
    assert nm.commands() == [], 'prepare only reads; the core runs the commands'


def test_prepare_is_empty_when_done_or_when_networkmanager_does_not_run(backend, nm):
    nm.profile('u-name', 'Wired eth0', interface='eth0', autoconnect=False)
    assert backend.prepare(model()) == []
    nm.profile('u-name', 'Wired eth0', interface='eth0')
    nm.running = False
    assert backend.prepare(model()) == []


def test_prepare_refuses_a_read_only_profile(backend, nm):
    nm.profile('u-ro', 'eth0 (ifupdown)', interface='eth0', readonly=True)
    with pytest.raises(PersistError, match="'eth0 \\(ifupdown\\)' .* is read-only"):
        backend.prepare(model())


# ---- activate --------------------------------------------------------------------------------------------------

ALL = [BRIDGE_FILE, PORT_FILE, CONF_FILE]


def test_activate_takes_over_the_apply_phase_bridge_and_hands_the_uplink_over(backend, nm):
    nm.after_apply_phase(old_profile='u-name')
    ran = backend.activate(model(), ALL)
    assert ran == [
        [NMCLI, 'general', 'reload', 'conf'],
        [NMCLI, 'connection', 'load', BRIDGE_FILE, PORT_FILE],
        [NMCLI, 'device', 'set', 'eth0', 'managed', 'no'],
        [NMCLI, 'device', 'set', 'eth0', 'managed', 'yes'],
        [NMCLI, 'connection', 'up', BRIDGE_UUID],
    ]
    assert nm.commands() == ran, 'no con up of the port: the bridge brought it (a second up would detach it)'


def test_activate_does_not_re_activate_what_autoconnect_brought_after_the_hand_over(backend, nm):
    nm.after_apply_phase(old_profile='u-name')
    nm.autoconnect_on_manage = True
    ran = backend.activate(model(), ALL)
    assert ran[-1] == [NMCLI, 'device', 'set', 'eth0', 'managed', 'yes']
    assert [NMCLI, 'connection', 'up', BRIDGE_UUID] not in nm.calls


def test_activate_without_an_old_profile_needs_no_hand_over(backend, nm):
    nm.after_apply_phase()
    ran = backend.activate(model(), ALL)
    assert [NMCLI, 'device', 'set', 'eth0', 'managed', 'no'] not in ran
    assert ran[-1] == [NMCLI, 'connection', 'up', BRIDGE_UUID]


def test_activate_brings_the_port_up_when_the_bridge_did_not(backend, nm):
    nm.after_apply_phase()
    nm.autoconnect_slaves = False
    ran = backend.activate(model(), ALL)
    assert ran[-2:] == [[NMCLI, 'connection', 'up', BRIDGE_UUID], [NMCLI, 'connection', 'up', PORT_UUID]]


def test_activate_reapplies_a_changed_bridge_in_place(backend, nm):
    nm.ours_active()
    assert backend.activate(model(), [BRIDGE_FILE]) == [
        [NMCLI, 'connection', 'load', BRIDGE_FILE], [NMCLI, 'device', 'reapply', 'kvmbr0']]


def test_activate_leaves_a_changed_port_alone_when_the_kernel_has_its_values(backend, nm):
    nm.ours_active()
    for name, value in (('path_cost', '7'), ('priority', '9'), ('hairpin_mode', '1')):
        nm.put('/sys/class/net/eth0/brport/' + name, value + '\n')
    assert backend.activate(model(port=FULL_PORT), [PORT_FILE]) == [[NMCLI, 'connection', 'load', PORT_FILE]]


def test_activate_reactivates_a_changed_port_when_reapply_cannot(backend, nm):
    nm.ours_active()
    nm.put('/sys/class/net/eth0/brport/priority', '32\n')
    nm.fail[(NMCLI, 'device', 'reapply', 'eth0')] = (
        6, '', "Error: Reapplying connection to device 'eth0' failed: Can't reapply any changes to 'bridge-port'")
    assert backend.activate(model(port=dict(priority=9)), [PORT_FILE])[1:] == [
        [NMCLI, 'device', 'reapply', 'eth0'], [NMCLI, 'connection', 'up', PORT_UUID]]


def test_activate_does_not_touch_a_port_that_just_came_up_with_the_new_file(backend, nm):
    nm.after_apply_phase()
    nm.put('/sys/class/net/eth0/brport/priority', '32\n')  # read-only /sys: NetworkManager could not write 9
    ran = backend.activate(model(port=dict(priority=9)), ALL)
    assert ran[-1] == [NMCLI, 'connection', 'up', BRIDGE_UUID]


def test_activate_with_nothing_changed_and_all_active_runs_nothing(backend, nm):
    nm.ours_active()
    assert backend.activate(model(), []) == []


def test_activate_fails_when_networkmanager_could_not_load_a_file(backend, nm):
    nm.load_output = "Could not load file '%s'\n" % BRIDGE_FILE
    with pytest.raises(PersistError, match="NetworkManager refused a profile: Could not load file.*validate_nm.py"):
        backend.activate(model(), ALL)


def test_activate_names_a_profile_that_does_not_come_up(backend, nm):
    nm.after_apply_phase()
    nm.autoconnect_slaves = False
    nm.fail[(NMCLI, '-g', 'GENERAL.STATE', 'connection', 'show', PORT_UUID)] = (0, 'activating\n', '')
    with pytest.raises(PersistError, match='did not activate profile %s on eth0 within 15 s' % PORT_UUID):
        backend.activate(model(), ALL)


def test_activate_fails_on_a_refused_command(backend, nm):
    nm.after_apply_phase()
    nm.fail[(NMCLI, 'connection', 'up', BRIDGE_UUID)] = (4, '', 'Error: Connection activation failed')
    with pytest.raises(PersistError, match='connection up %s failed \\(rc 4\\)' % BRIDGE_UUID):
        backend.activate(model(), ALL)


def test_activate_of_restored_files_only_reloads(backend, nm):
    nm.after_apply_phase()
    assert backend.activate(None, ALL) == [[NMCLI, 'general', 'reload', 'conf'],
                                           [NMCLI, 'connection', 'load', BRIDGE_FILE, PORT_FILE]]


def test_activate_keeps_the_kernel_state_when_an_active_profile_file_is_removed(backend, nm):
    nm.ours_active(files=False)  # a restore removed the files this run had created
    assert backend.activate(None, [BRIDGE_FILE, PORT_FILE]) == [
        [NMCLI, 'device', 'set', 'eth0', 'managed', 'no'], [NMCLI, 'device', 'set', 'kvmbr0', 'managed', 'no'],
        [NMCLI, 'connection', 'load', BRIDGE_FILE, PORT_FILE],
        [NMCLI, 'device', 'set', 'eth0', 'managed', 'yes'], [NMCLI, 'device', 'set', 'kvmbr0', 'managed', 'yes']]


def test_version_parsing():
    assert _persist_nm.parse_version('nmcli tool, version 1.42.4\n') == (1, 42, 4)
    assert _persist_nm.parse_version('nmcli tool, version 1.46.0-2.fc40') == (1, 46, 0)
    assert _persist_nm.parse_version('garbage') is None
