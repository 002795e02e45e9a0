# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bridge_port's manager against a recording Netlink stand-in (the collection's own seam): which reads a task
makes, that every step is one write and its undo one write, tolerant deletes, the result shape in every path."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    ApplyError,
    NetlinkOperationError,
    ValidationError,
    apply_plan,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._port import plan_port
from ansible_collections.kvmnet.bridge.plugins.modules.bridge_port import BridgePortManager

READS = ('get_link', 'get_link_by_index', 'addresses', 'routes', 'ports', 'port_vlans')
WRITES = ('set_link', 'set_master', 'set_port', 'add_address', 'delete_address', 'route_to', 'port_vlan')


def _link(index, name, kind='veth', address=None, master=None, up=True, bridge=None, port=None):
    return dict(index=index, name=name, kind=kind, link_type=1, address=address or '52:54:00:00:00:%02x' % index,
                master=master, up=up, bridge=bridge or {}, port=port, mtu=1500)


def _address(text, scope=0):
    address, prefixlen = text.split('/')
    return dict(family=6 if ':' in address else 4, address=address, prefixlen=int(prefixlen), scope=scope, flags=0)


def _route(dst, dst_len, gateway, oif, priority=None):
    return dict(family=4, oif=oif, dst=dst, dst_len=dst_len, gateway=gateway, prefsrc=None, priority=priority,
                table=254, protocol=3, scope=0, type=1)


PORT_ATTRS = dict(IFLA_BRPORT_COST=2, IFLA_BRPORT_PRIORITY=32, IFLA_BRPORT_STATE=3)


class RecordingNetlink(object):
    """Reads answer from a small host (links, addresses, routes); every call is recorded; a write listed in
    ``fail`` raises the kernel error given there. Writes change nothing (what they do is the kernel's, tested in
    the integration target)."""

    def __init__(self, links, addresses=None, routes=None, vlans=None, fail=None):
        self.links = dict((link['name'], link) for link in links)
        self.addr = addresses or {}
        self.route_table = routes or []
        self.vlan_table = vlans or {}
        self.fail = fail or {}
        self.calls = []

    def __call__(self, netns):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def _record(self, method, *args):
        self.calls.append((method,) + args)

    def get_link(self, name):
        self._record('get_link', name)
        return copy.deepcopy(self.links.get(name))

    def get_link_by_index(self, index):
        self._record('get_link_by_index', index)
        return next((copy.deepcopy(link) for link in self.links.values() if link['index'] == index), None)

    def addresses(self, index):
        self._record('addresses', index)
        return [_address(text) for text in self.addr.get(index, [])]

    def routes(self, index):
        self._record('routes', index)
        return [route for route in self.route_table if route['oif'] == index]

    def ports(self, index):
        self._record('ports', index)
        return [link for link in self.links.values() if link['master'] == index]

    def port_vlans(self, index):
        self._record('port_vlans', index)
        return self.vlan_table.get(index, [])

    def _write(self, method, *args, **kwargs):
        self._record(method, *args)
        error = self.fail.get(method)
        if error:
            raise NetlinkOperationError('Cannot %s: refused (%s).' % (method, error), errno=error)

    def set_link(self, name, index, **kwargs):
        self._write('set_link', name, kwargs)

    def set_master(self, name, index, master_index, master_name=None):
        self._write('set_master', name, master_index)

    def set_port(self, name, index, port_data):
        self._write('set_port', name, port_data)

    def add_address(self, name, index, address, nodad=False):
        self._write('add_address', name, address['address'], nodad)

    def delete_address(self, name, index, address):
        self._write('delete_address', name, address['address'])

    def route_to(self, route, oif, how='replace'):
        self._write('route_to', how, oif)

    def port_vlan(self, name, index, command, entry):
        self._write('port_vlan', name, command, entry['vid'])

    def count(self, methods):
        return len([call for call in self.calls if call[0] in methods])


class FakeModule(object):
    def __init__(self, check_mode=False, diff=True, **params):
        self.params = dict(name='eth0', bridge='kvmbr0', state='present', addresses='fail', move=False,
                           wireless_4addr=False, up=True, cost=None, priority=None, hairpin=None, learning=None,
                           unicast_flood=None, mcast_flood=None, bpdu_guard=None, root_block=None, isolated=None,
                           neigh_suppress=None, vlans=None, netns='kvmnet-unit')
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []

    def warn(self, msg):
        self.warnings.append(msg)

    def run_command(self, args):
        return 1, '', ''  # no `ip netns exec` here: the wireless check answers "cannot tell"


def host(migrated=False, port_up=True, filtering=False):
    """kvmbr0 (1) and eth0 (2); ``migrated``: eth0 is in kvmbr0 and the bridge carries its addresses and routes,
    else eth0 carries them outside any bridge. vnet0 (3) is a guest tap in kvmbr0."""
    bridge = _link(1, 'kvmbr0', kind='bridge', address='52:54:00:00:00:02',
                   bridge=dict(IFLA_BR_VLAN_FILTERING=1 if filtering else 0))
    port = _link(2, 'eth0', master=1 if migrated else None, up=port_up, port=PORT_ATTRS if migrated else None)
    holder = 1 if migrated else 2
    return dict(links=[bridge, port], addresses={holder: ['10.0.0.2/24', 'fd00::2/64']},
                routes=[_route(None, 0, '10.0.0.1', holder), _route('10.8.0.0', 24, '10.0.0.254', holder, 50)])


def run(netlink, **kwargs):
    module = FakeModule(**kwargs)
    manager = BridgePortManager(module, netlink_factory=netlink)
    return manager, module, manager.run()


# ---- point 12: what a task reads ------------------------------------------------------------------------------

@pytest.mark.parametrize('kwargs, state, routes_read', [
    (dict(), dict(migrated=True), 0),                                       # a port already in: nothing to do
    (dict(state='absent', bridge='kvmbr1'), dict(migrated=True), 0),        # not in that bridge
    (dict(addresses='migrate'), dict(), 2),                                 # the port's and the bridge's
    (dict(addresses='flush'), dict(), 1),                                   # the port's
    (dict(state='absent', addresses='migrate'), dict(migrated=True), 2),
])
def test_routes_are_read_only_when_needed(kwargs, state, routes_read):
    netlink = RecordingNetlink(**host(**state))
    run(netlink, check_mode=True, **kwargs)
    assert netlink.count(['routes']) == routes_read


def test_a_refused_port_with_addresses_reads_no_route_nor_the_bridges_addresses():
    netlink = RecordingNetlink(**host())
    with pytest.raises(ValidationError):
        run(netlink)
    assert netlink.count(['routes']) == 0
    assert ('addresses', 1) not in netlink.calls


def test_a_release_with_fail_reads_the_other_ports_not_the_routes():
    netlink = RecordingNetlink(**host(migrated=True))
    manager = BridgePortManager(FakeModule(state='absent'), netlink_factory=netlink)
    with pytest.raises(ValidationError) as info:
        manager.run()
    assert netlink.count(['routes']) == 0 and netlink.count(['ports']) == 1
    assert info.value.details['addresses'] == ['10.0.0.2/24', 'fd00::2/64']
    assert manager.before['bridge'] == 'kvmbr0'  # point 19: a refusal returns what was there


def test_a_release_with_fail_goes_ahead_with_a_guest_tap_left():
    state = host(migrated=True)
    state['links'].append(_link(3, 'vnet0', kind='tun', master=1, port=PORT_ATTRS))
    netlink = RecordingNetlink(**state)
    dummy, dummy, result = run(netlink, state='absent', check_mode=True)
    assert [operation['action'] for operation in result['operations']] == ['release']


# ---- point 3: one write per step and per undo; tolerant deletes -------------------------------------------------

SCENARIOS = [
    (dict(addresses='migrate', cost=7), dict(port_up=False)),
    (dict(addresses='flush', priority=3), dict()),
    (dict(state='absent', addresses='migrate'), dict(migrated=True)),
    (dict(state='absent', addresses='flush'), dict(migrated=True)),
    (dict(priority=5, vlans=[dict(vid=10, pvid=True, untagged=True)]), dict(migrated=True, filtering=True)),
]


@pytest.mark.parametrize('kwargs, state', SCENARIOS)
def test_every_step_is_one_write_and_its_undo_one_write(kwargs, state):
    netlink = RecordingNetlink(**host(**state))
    manager = BridgePortManager(FakeModule(**kwargs), netlink_factory=netlink)
    facts = manager.facts(netlink)
    steps, dummy = plan_port(manager.params, facts)
    assert steps
    for step in steps:
        operation = manager.bind(netlink, step, facts)
        before = netlink.count(WRITES)
        operation.apply()
        assert netlink.count(WRITES) == before + 1, step
        if operation.revert is None:
            assert step['action'] == 'set_port' and any(other['action'] == 'enslave' for other in steps)
            continue
        operation.revert()
        assert netlink.count(WRITES) == before + 2, step


@pytest.mark.parametrize('method, errno', [('delete_address', 'EADDRNOTAVAIL'), ('route_to', 'ESRCH'),
                                           ('delete_address', 'ENODEV')])
def test_deleting_what_is_already_gone_counts_as_done(method, errno):
    netlink = RecordingNetlink(fail={method: errno}, **host())
    manager = BridgePortManager(FakeModule(addresses='flush'), netlink_factory=netlink)
    facts = manager.facts(netlink)
    steps, dummy = plan_port(manager.params, facts)
    deletes = [manager.bind(netlink, step, facts) for step in steps
               if step['action'] in ('delete_address', 'delete_route')]
    for operation in deletes:
        operation.apply()  # no error
    assert netlink.count([method]) >= 1


def test_a_delete_that_fails_otherwise_is_reverted_with_what_ran_before():
    netlink = RecordingNetlink(fail={'delete_address': 'EPERM'}, **host())
    manager = BridgePortManager(FakeModule(addresses='flush'), netlink_factory=netlink)
    facts = manager.facts(netlink)
    steps, dummy = plan_port(manager.params, facts)
    with pytest.raises(ApplyError) as info:
        apply_plan([manager.bind(netlink, step, facts) for step in steps], False)
    assert info.value.details['failed_operation']['action'] == 'delete_address'
    assert [done['action'] for done in info.value.details['reverted_operations']] == ['delete_route', 'delete_route']
    assert netlink.calls[-2:] == [('route_to', 'add', 2), ('route_to', 'add', 2)]


# ---- points 5, 6, 19: check mode and the result shape --------------------------------------------------------------

def test_check_mode_with_a_bridge_an_earlier_task_creates():
    state = host()
    state['links'] = [link for link in state['links'] if link['name'] != 'kvmbr0']
    netlink = RecordingNetlink(**state)
    dummy, module, result = run(netlink, check_mode=True, addresses='migrate')
    assert module.warnings == ['bridge kvmbr0 does not exist yet; assuming an earlier task creates it (check mode)']
    assert result['changed'] is True
    assert [operation['action'] for operation in result['operations']] == [
        'set_mac', 'add_address', 'add_address', 'enslave', 'move_route', 'move_route', 'delete_address',
        'delete_address']
    assert result['bridge_before'] == dict(name='kvmbr0', exists=False, mac=None, addresses=[], routes=[])
    assert result['bridge_after']['exists'] is True
    assert result['bridge_after']['addresses'] == ['10.0.0.2/24', 'fd00::2/64']
    assert result['after']['stp_state'] is None and result['after']['priority'] == 32


def test_outside_check_mode_a_missing_bridge_is_refused():
    state = host()
    state['links'] = [link for link in state['links'] if link['name'] != 'kvmbr0']
    netlink = RecordingNetlink(**state)
    with pytest.raises(ValidationError) as info:
        run(netlink, addresses='migrate')
    assert "Bridge 'kvmbr0' does not exist in network namespace 'kvmnet-unit'" in info.value.msg
    assert netlink.count(WRITES) == 0


def test_migrate_diff_shows_the_port_and_the_bridge():
    netlink = RecordingNetlink(**host())
    dummy, dummy, result = run(netlink, check_mode=True, addresses='migrate')
    diff = result['diff']
    assert diff['before']['port']['addresses'] == ['10.0.0.2/24', 'fd00::2/64']
    assert diff['after']['port']['addresses'] == [] and diff['after']['port']['routes'] == []
    assert diff['before']['bridge'] == dict(name='kvmbr0', exists=True, mac='52:54:00:00:00:02', addresses=[],
                                            routes=[])
    assert diff['after']['bridge']['addresses'] == ['10.0.0.2/24', 'fd00::2/64']
    assert diff['after']['bridge']['routes'] == ['10.8.0.0/24 via 10.0.0.254 metric 50', 'default via 10.0.0.1']
    assert result['before'] == diff['before']['port'] and result['bridge_after'] == diff['after']['bridge']


def test_release_with_migrate_diff_is_the_reverse():
    netlink = RecordingNetlink(**host(migrated=True))
    dummy, dummy, result = run(netlink, check_mode=True, state='absent', addresses='migrate')
    diff = result['diff']
    assert diff['before']['bridge']['addresses'] == ['10.0.0.2/24', 'fd00::2/64']
    assert diff['after']['bridge']['addresses'] == [] and diff['after']['bridge']['routes'] == []
    assert diff['after']['port']['addresses'] == ['10.0.0.2/24', 'fd00::2/64']
    assert diff['after']['port']['routes'] == ['10.8.0.0/24 via 10.0.0.254 metric 50', 'default via 10.0.0.1']
    assert diff['after']['port']['state'] == 'absent'
