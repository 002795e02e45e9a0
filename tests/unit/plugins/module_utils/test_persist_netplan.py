# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netplan backend (_persist_netplan) against a temporary root (the Host seam) and a recording run_command.
netplan's own parser and the renderers load these files in roles/kvm_bridge_host/molecule/persist_netplan
(tests/persist/validate_netplan.sh); here the rendered YAML is read back with PyYAML to check its structure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.kvmnet.bridge.plugins.module_utils import _persist_apply, _persist_model, _persist_netplan
from ansible_collections.kvmnet.bridge.plugins.module_utils._persist import MARKER, Host, PersistError

FULL_BRIDGE = dict(name='kvmbr0', mac='52:54:00:AA:BB:CC', stp=True, forward_delay=4, hello_time=2.5, max_age=12,
                   ageing_time=300, priority=4096, mtu=1400)
FULL_PORT = dict(name='eth0', cost=100, priority=32)
CLOUD_INIT = '''network:
  version: 2
  ethernets:
    eth0:
      match:
        macaddress: "52:54:00:aa:bb:cc"
      set-name: eth0
      dhcp4: true
'''


def model(bridge=None, port=None, addressing=None):
    return _persist_model.validate(bridge or dict(name='kvmbr0'), port or dict(name='eth0'), addressing or {})


class Recorder(object):
    """run_command stand-in: records argv, answers from a table (first matching argv prefix)."""

    def __init__(self, answers=None):
        self.calls = []
        self.answers = answers or []

    def __call__(self, argv, data=None):
        self.calls.append(argv)
        for prefix, answer in self.answers:
            if argv[:len(prefix)] == prefix:
                return answer
        return 0, '', ''


@pytest.fixture
def root(tmp_path):
    return str(tmp_path)


def put(root, path, text='', mode=0o644):
    full = os.path.join(root, path.lstrip('/'))
    if not os.path.isdir(os.path.dirname(full)):
        os.makedirs(os.path.dirname(full))
    with open(full, 'w') as handle:
        handle.write(text)
    os.chmod(full, mode)
    return full


def installed(root, renderer='networkd'):
    """A host root with the programs preflight looks for."""
    put(root, '/usr/sbin/netplan', mode=0o755)
    if renderer == 'networkd':
        put(root, '/lib/systemd/systemd-networkd', mode=0o755)
    else:
        put(root, '/usr/sbin/NetworkManager', mode=0o755)
        put(root, '/usr/bin/nmcli', mode=0o755)


def backend(root='/', renderer='networkd', run=None):
    return _persist_netplan.BACKEND(Host(run or Recorder(), root), dict(netplan_renderer=renderer))


def rendered(the_model, renderer='networkd'):
    files = backend(renderer=renderer).render(the_model)
    assert len(files) == 1
    return files[0], yaml.safe_load(files[0].content)


# ---- render ----------------------------------------------------------------------------------------------------

def test_every_model_field_is_rendered_where_netplan_has_it():
    the_model = model(FULL_BRIDGE, FULL_PORT)
    persist_file, doc = rendered(the_model)
    assert persist_file.path == '/etc/netplan/60-kvmnet-kvmbr0.yaml'
    assert persist_file.mode == 0o600
    assert persist_file.content.startswith('# ' + MARKER + '\n')
    assert doc == {'network': {
        'version': 2,
        'ethernets': {'eth0': {'renderer': 'networkd', 'dhcp4': False, 'dhcp6': False, 'accept-ra': False,
                               'link-local': []}},
        'bridges': {'kvmbr0': {
            'renderer': 'networkd', 'interfaces': ['eth0'], 'macaddress': '52:54:00:aa:bb:cc', 'mtu': 1400,
            'dhcp4': False, 'dhcp6': False, 'accept-ra': False, 'link-local': [],
            'parameters': {'stp': True, 'forward-delay': '4', 'hello-time': '2.5', 'max-age': '12',
                           'ageing-time': '300', 'priority': 4096, 'port-priority': {'eth0': 32},
                           'path-cost': {'eth0': 100}}}}}}


def test_unset_fields_are_absent_and_stp_is_always_written():
    doc = rendered(model())[1]
    bridge = doc['network']['bridges']['kvmbr0']
    assert bridge['parameters'] == {'stp': False}
    assert not set(bridge) & {'macaddress', 'mtu', 'addresses', 'routes', 'networkmanager'}


def test_render_is_deterministic_and_reads_nothing_from_the_host():
    run = Recorder()
    one = _persist_netplan.BACKEND(Host(run, '/nonexistent-root'), {}).render(model(FULL_BRIDGE, FULL_PORT))
    two = _persist_netplan.BACKEND(Host(run, '/nonexistent-root'), {}).render(model(FULL_BRIDGE, FULL_PORT))
    assert one == two and run.calls == []


def test_static_addressing_with_default_routes():
    the_model = model(addressing=dict(mode='static', addresses=['192.0.2.10/24', '2001:db8::10/64'],
                                      gateway4='192.0.2.1', gateway6='2001:db8::1'))
    bridge = rendered(the_model)[1]['network']['bridges']['kvmbr0']
    assert bridge['addresses'] == ['192.0.2.10/24', '2001:db8::10/64']
    assert bridge['routes'] == [{'to': 'default', 'via': '192.0.2.1'}, {'to': 'default', 'via': '2001:db8::1'}]
    assert (bridge['dhcp4'], bridge['dhcp6'], bridge['link-local']) == (False, False, ['ipv6'])


def test_static_without_gateways_has_no_routes():
    the_model = model(addressing=dict(mode='static', addresses=['192.0.2.10/24']))
    assert 'routes' not in rendered(the_model)[1]['network']['bridges']['kvmbr0']


def test_dhcp_addressing():
    bridge = rendered(model(addressing=dict(mode='dhcp')))[1]['network']['bridges']['kvmbr0']
    assert (bridge['dhcp4'], bridge['dhcp6'], bridge['accept-ra']) == (True, True, True)
    assert 'addresses' not in bridge


def test_the_port_never_gets_addressing_whatever_the_bridge_mode():
    for addressing in (dict(mode='dhcp'), dict(mode='static', addresses=['192.0.2.10/24']), dict(mode='none')):
        port = rendered(model(addressing=addressing))[1]['network']['ethernets']['eth0']
        assert port == {'renderer': 'networkd', 'dhcp4': False, 'dhcp6': False, 'accept-ra': False,
                        'link-local': []}


def test_networkmanager_renderer_on_each_definition_fixed_uuids_and_ip_methods_disabled_for_none():
    doc = rendered(model(FULL_BRIDGE, FULL_PORT), renderer='NetworkManager')[1]
    assert 'renderer' not in doc['network'], 'a top-level renderer would switch every other file too'
    port = doc['network']['ethernets']['eth0']
    assert port['renderer'] == 'NetworkManager'
    assert port['networkmanager'] == {'uuid': _persist_netplan.profile_uuid('kvmbr0', 'eth0')}
    bridge = doc['network']['bridges']['kvmbr0']
    assert bridge['renderer'] == 'NetworkManager'
    assert bridge['networkmanager'] == {'uuid': _persist_netplan.profile_uuid('kvmbr0'),
                                        'passthrough': {'ipv4.method': 'disabled', 'ipv6.method': 'disabled'}}
    # whole seconds for NetworkManager: 2.5 s -> 3 s
    assert bridge['parameters']['hello-time'] == '3'
    dhcp = rendered(model(addressing=dict(mode='dhcp')), renderer='NetworkManager')[1]
    assert dhcp['network']['bridges']['kvmbr0']['networkmanager'] == {'uuid': _persist_netplan.profile_uuid('kvmbr0')}


def test_profile_uuids_are_fixed_per_name_and_not_the_networkmanager_backends():
    from ansible_collections.kvmnet.bridge.plugins.module_utils import _persist_nm
    assert _persist_netplan.profile_uuid('kvmbr0') == _persist_netplan.profile_uuid('kvmbr0')
    assert len(set([_persist_netplan.profile_uuid('kvmbr0'), _persist_netplan.profile_uuid('kvmbr1'),
                    _persist_netplan.profile_uuid('kvmbr0', 'eth0'), _persist_nm.profile_uuid('kvmbr0'),
                    _persist_nm.profile_uuid('kvmbr0', 'eth0')])) == 5


def test_networkmanager_renderer_writes_forward_delay_zero_as_its_minimum():
    bridge = rendered(model(dict(name='kvmbr0', forward_delay=0)), renderer='NetworkManager')[1]
    assert bridge['network']['bridges']['kvmbr0']['parameters']['forward-delay'] == '2'


def test_unknown_renderer_is_refused_naming_it():
    with pytest.raises(PersistError, match="netplan_renderer: 'sysv' is not"):
        backend(renderer='sysv').render(model())


# ---- limits ------------------------------------------------------------------------------------------------

def test_limits_of_netplan_itself_with_the_kernel_default():
    the_model = model(dict(name='kvmbr0', mcast_snooping=False, vlan_filtering=True, group_fwd_mask=8),
                      dict(name='eth0', hairpin=True, learning=False, unicast_flood=False, mcast_flood=False,
                           bpdu_guard=True, root_block=True, isolated=True, neigh_suppress=True))
    limits = dict((limit.attribute, limit) for limit in backend().limits(the_model))
    assert sorted(limits) == sorted([
        'bridge.mcast_snooping', 'bridge.vlan_filtering', 'bridge.group_fwd_mask', 'port.hairpin', 'port.learning',
        'port.unicast_flood', 'port.mcast_flood', 'port.bpdu_guard', 'port.root_block', 'port.isolated',
        'port.neigh_suppress'])
    assert (limits['bridge.vlan_filtering'].wanted, limits['bridge.vlan_filtering'].kernel) == (True, False)
    assert (limits['port.learning'].wanted, limits['port.learning'].kernel) == (False, True)
    assert 'netplan 0.106 has no key for VLAN filtering' in limits['bridge.vlan_filtering'].why


def test_values_equal_to_the_kernel_default_or_unset_are_no_limit():
    the_model = model(dict(name='kvmbr0', mcast_snooping=True, vlan_filtering=False, forward_delay=0),
                      dict(name='eth0', learning=True, hairpin=False))
    assert backend().limits(the_model) == []
    assert backend().limits(model()) == []


def test_networkmanager_renderer_limits_forward_delay_zero_and_fractions():
    the_model = model(dict(name='kvmbr0', forward_delay=0, hello_time=2.5, max_age=20))
    limits = dict((limit.attribute, limit) for limit in backend(renderer='NetworkManager').limits(the_model))
    assert sorted(limits) == ['bridge.forward_delay', 'bridge.hello_time']
    assert (limits['bridge.forward_delay'].wanted, limits['bridge.forward_delay'].kernel) == (0, 200)
    assert 'applied as 15 s' in limits['bridge.forward_delay'].why
    assert (limits['bridge.hello_time'].wanted, limits['bridge.hello_time'].kernel) == (250, 300)
    assert backend(renderer='networkd').limits(the_model) == []


# ---- stale -------------------------------------------------------------------------------------------------

def test_stale_lists_only_our_marked_files_of_other_bridges(root):
    put(root, '/etc/netplan/60-kvmnet-oldbr.yaml', '# %s\nnetwork: {version: 2}\n' % MARKER)
    put(root, '/etc/netplan/60-kvmnet-kvmbr0.yaml', '# %s\n' % MARKER)
    put(root, '/etc/netplan/60-kvmnet-users.yaml', 'network: {version: 2}\n')  # not ours: no marker
    put(root, '/etc/netplan/50-cloud-init.yaml', CLOUD_INIT)
    assert backend(root).stale(model()) == ['/etc/netplan/60-kvmnet-oldbr.yaml']


# ---- preflight ---------------------------------------------------------------------------------------------

def test_preflight_passes_on_a_clean_host_and_runs_nothing(root):
    installed(root)
    run = Recorder()
    backend(root, run=run).preflight(model())
    assert run.calls == []


@pytest.mark.parametrize('renderer, missing, needle', [
    ('networkd', '/usr/sbin/netplan', 'netplan is not installed'),
    ('networkd', '/lib/systemd/systemd-networkd', 'systemd-networkd is not installed'),
    ('NetworkManager', '/usr/bin/nmcli', 'NetworkManager or nmcli is not installed'),
])
def test_preflight_names_a_missing_program(root, renderer, missing, needle):
    installed(root, renderer)
    os.remove(os.path.join(root, missing.lstrip('/')))
    with pytest.raises(PersistError, match=needle):
        backend(root, renderer).preflight(model())


def test_cloud_init_dhcp_on_the_uplink_is_overridden_not_refused(root):
    installed(root)
    put(root, '/etc/netplan/50-cloud-init.yaml', CLOUD_INIT, 0o600)
    put(root, '/etc/netplan/00-installer-config.yaml', 'network:\n  version: 2\n  wifis:\n    wlan0: {dhcp4: true}\n')
    backend(root).preflight(model())


@pytest.mark.parametrize('text, needle', [
    ('network:\n  ethernets:\n    eth0:\n      dhcp4: true\n      addresses: [10.0.0.5/24]\n',
     r'50-other.yaml:3 defines ethernets.eth0 with addresses: netplan would merge these into the port'),
    ('network:\n  ethernets:\n    eth0:\n      nameservers: {addresses: [10.0.0.1]}\n      routes: []\n',
     r'with nameservers, routes:'),
    ('network:\n  ethernets:\n    uplink:\n      match: {name: "eth*"}\n      dhcp4: true\n',
     r'50-other.yaml:3 defines ethernets.uplink, which configures the uplink eth0 too \(match: name eth\*\)'),
    ('network:\n  ethernets:\n    nic:\n      match: {macaddress: "02:00:00:00:00:01"}\n',
     r'too \(match: macaddress 02:00:00:00:00:01\)'),
    # an unquoted all-digit MAC stays a string (YAML 1.1 would read 02:00:00:00:00:01 as a base-60 number)
    ('network:\n  ethernets:\n    nic:\n      match: {macaddress: 02:00:00:00:00:01}\n',
     r'too \(match: macaddress 02:00:00:00:00:01\)'),
    ('network:\n  ethernets:\n    enp1s0:\n      set-name: eth0\n', r'too \(set-name: eth0\)'),
    ('network:\n  bonds:\n    bond0:\n      interfaces: [eth0]\n', r'defines bonds.bond0 with eth0 as a member'),
    ('network:\n  bridges:\n    kvmbr0:\n      interfaces: [eth1]\n', r'defines bridges.kvmbr0, the bridge this'),
    ('network: [unclosed\n', r'50-other.yaml is not valid YAML'),
])
def test_preflight_refuses_what_a_later_file_cannot_override_naming_the_file(root, text, needle):
    installed(root)
    put(root, '/sys/class/net/eth0/address', '02:00:00:00:00:01\n')
    put(root, '/etc/netplan/50-other.yaml', text, 0o600)
    with pytest.raises(PersistError, match=needle) as caught:
        backend(root).preflight(model())
    assert caught.value.details['file'] == '/etc/netplan/50-other.yaml'


def test_preflight_refuses_a_later_sorting_file_that_touches_the_uplink(root):
    installed(root)
    put(root, '/etc/netplan/90-NM-1234.yaml', 'network:\n  ethernets:\n    eth0:\n      dhcp4: true\n', 0o600)
    with pytest.raises(PersistError, match='90-NM-1234.yaml:3 defines ethernets.eth0: 90-NM-1234.yaml sorts after'
                                           ' 60-kvmnet-kvmbr0.yaml'):
        backend(root).preflight(model())


def test_preflight_refuses_a_run_file_shadowing_ours(root):
    installed(root)
    put(root, '/run/netplan/60-kvmnet-kvmbr0.yaml', 'network: {version: 2}\n', 0o600)
    with pytest.raises(PersistError, match='/run/netplan/60-kvmnet-kvmbr0.yaml shadows'):
        backend(root).preflight(model())


def test_preflight_ignores_our_own_files(root):
    installed(root)
    text = backend().render(model())[0].content
    put(root, '/etc/netplan/60-kvmnet-kvmbr0.yaml', text, 0o600)
    put(root, '/etc/netplan/60-kvmnet-oldbr.yaml', text, 0o600)  # stale, removed in the same run
    backend(root).preflight(model())


def test_preflight_without_pyyaml_says_what_to_install(root, monkeypatch):
    installed(root)
    put(root, '/etc/netplan/50-cloud-init.yaml', CLOUD_INIT, 0o600)
    monkeypatch.setattr(_persist_netplan, 'yaml', None)
    with pytest.raises(PersistError, match='needs PyYAML .* install python3-yaml'):
        backend(root).preflight(model())


# ---- prepare, running, activate ---------------------------------------------------------------------------

def test_prepare_needs_nothing_outside_the_file(root):
    put(root, '/etc/netplan/50-cloud-init.yaml', CLOUD_INIT, 0o600)
    assert backend(root).prepare(model()) == []


def test_running_networkd_needs_its_state_file_and_the_system_bus(root):
    assert backend(root).running() is False
    put(root, '/run/systemd/netif/state', 'OPER_STATE=routable\n')
    assert backend(root).running() is False
    put(root, '/run/dbus/system_bus_socket')
    assert backend(root).running() is True


def test_running_networkmanager_asks_nmcli(root):
    run = Recorder([(['nmcli'], (0, 'running\n', ''))])
    assert backend(root, 'NetworkManager', run).running() is True
    assert run.calls == [['nmcli', '-t', '-f', 'RUNNING', 'general']]
    assert backend(root, 'NetworkManager', Recorder([(['nmcli'], (8, '', 'not running'))])).running() is False


def test_activate_does_nothing_without_changes(root):
    run = Recorder()
    assert backend(root, run=run).activate(model(), []) == []
    assert run.calls == []


def test_activate_networkd_generates_then_reloads_without_a_restart(root):
    run = Recorder()
    ran = backend(root, run=run).activate(model(), ['/etc/netplan/60-kvmnet-kvmbr0.yaml'])
    assert ran == run.calls == [['netplan', 'generate'], ['networkctl', 'reload']]


def test_activate_reports_netplans_refusal_with_its_output(root):
    run = Recorder([(['netplan'], (1, '', "60-kvmnet-kvmbr0.yaml:3:5: Error in network definition: unknown key"))])
    with pytest.raises(PersistError, match='netplan generate .* rc 1.*unknown key') as caught:
        backend(root, run=run).activate(model(), ['/etc/netplan/60-kvmnet-kvmbr0.yaml'])
    assert caught.value.details['argv'] == ['netplan', 'generate']
    assert run.calls == [['netplan', 'generate']], 'nothing is reloaded after a refusal'


def test_activate_networkmanager_reapplies_devices_already_on_our_profiles(root):
    run = Recorder([(['nmcli', '-g', 'GENERAL.CONNECTION', 'device', 'show', 'kvmbr0'], (0, 'netplan-kvmbr0\n', '')),
                    (['nmcli', '-g', 'GENERAL.CONNECTION', 'device', 'show', 'eth0'], (0, 'Wired connection 1\n', ''))])
    ran = backend(root, 'NetworkManager', run).activate(model(), ['/etc/netplan/60-kvmnet-kvmbr0.yaml'])
    assert ran == [['netplan', 'generate'], ['nmcli', 'connection', 'reload'], ['nmcli', 'device', 'reapply', 'kvmbr0'],
                   ['nmcli', 'connection', 'up', 'netplan-eth0']]


def test_activate_after_a_rollback_to_nothing_regenerates_and_reloads_only(root):
    run = Recorder()
    ran = backend(root, 'NetworkManager', run).activate(None, ['/etc/netplan/60-kvmnet-kvmbr0.yaml'])
    assert ran == [['netplan', 'generate'], ['nmcli', 'connection', 'reload']]


# ---- through the engine ----------------------------------------------------------------------------------

def test_engine_writes_the_file_0600_and_a_second_plan_is_unchanged(root):
    installed(root)
    put(root, '/run/systemd/netif/state')
    put(root, '/run/dbus/system_bus_socket')
    run = Recorder()
    the_backend = backend(root, run=run)
    the_model = model(FULL_BRIDGE, FULL_PORT)
    plan = _persist_apply.plan(the_backend, the_model)
    assert plan.changed
    _persist_apply.apply(the_backend, the_model, plan, activate=True)
    path = os.path.join(root, 'etc/netplan/60-kvmnet-kvmbr0.yaml')
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o600)
    assert ['netplan', 'generate'] in run.calls and ['networkctl', 'reload'] in run.calls
    assert not _persist_apply.plan(the_backend, the_model).changed
