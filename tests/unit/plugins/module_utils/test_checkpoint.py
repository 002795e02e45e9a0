# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_checkpoint: snapshot reading, differences, the restore plan's order (make-before-break, ports released last,
a new bridge deleted last) and the restore converging, against a small stateful stand-in of the kernel (the
collection's Netlink seam). The real kernel runs the same restores in the module_net_checkpoint target."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._checkpoint import (
    differences,
    plan_restore,
    read_current,
    read_snapshot,
    restore,
    summary,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import NetlinkOperationError

BRIDGE_NLA = dict(IFLA_BR_STP_STATE=0, IFLA_BR_FORWARD_DELAY=0, IFLA_BR_PRIORITY=32768, IFLA_BR_AGEING_TIME=30000)
PORT_NLA = dict(IFLA_BRPORT_COST=2, IFLA_BRPORT_PRIORITY=32, IFLA_BRPORT_LEARNING=1, IFLA_BRPORT_STATE=3)
KEYWORD_NLA = dict(br_stp_state='IFLA_BR_STP_STATE', br_forward_delay='IFLA_BR_FORWARD_DELAY',
                   br_priority='IFLA_BR_PRIORITY', br_ageing_time='IFLA_BR_AGEING_TIME', cost='IFLA_BRPORT_COST',
                   priority='IFLA_BRPORT_PRIORITY', learning='IFLA_BRPORT_LEARNING')


def _route(dst, dst_len, gateway, oif, family=4, priority=None, protocol=3):
    return dict(family=family, oif=oif, dst=dst, dst_len=dst_len, gateway=gateway, prefsrc=None, priority=priority,
                table=254, protocol=protocol, scope=0, type=1)


class Kernel(object):
    """Links, addresses and routes with the few rules the restore relies on: an enslaved port gets the join
    defaults as port attributes, a released one none; ``replace`` swaps the interface of the route with the same
    destination, metric and table; deleting a bridge releases its ports. ``fail`` maps an action name to an errno
    name: that write fails once."""

    def __init__(self, fail=None):
        self.ifaces = {}
        self.addr = {}
        self.route_table = []
        self.fail = dict(fail or {})
        self.writes = []
        self.next_index = 1

    # building
    def link(self, name, kind='veth', mac=None, master=None, up=True, bridge=None):
        index = self.next_index
        self.next_index += 1
        self.ifaces[index] = dict(index=index, name=name, kind=kind, link_type=1,
                                  address=mac or '52:54:00:00:00:%02x' % index, mtu=1500, up=up, master=None,
                                  bridge=dict(bridge or {}), port=None)
        if master:
            self._enslave(index, self.by_name(master)['index'])
        return index

    def by_name(self, name):
        return next((link for link in self.ifaces.values() if link['name'] == name), None)

    def _enslave(self, index, master):
        self.ifaces[index]['master'] = master or None
        self.ifaces[index]['port'] = dict(PORT_NLA) if master else None

    def _write(self, action, *args):
        self.writes.append((action,) + args)
        if action in self.fail:
            raise NetlinkOperationError('refused %s' % action, errno=self.fail.pop(action))

    # Netlink's reads
    def get_link(self, name):
        return copy.deepcopy(self.by_name(name))

    def get_link_by_index(self, index):
        return copy.deepcopy(self.ifaces.get(index))

    def links(self):
        return [copy.deepcopy(link) for link in self.ifaces.values()]

    def addresses(self, index):
        return [dict(family=6 if ':' in text else 4, address=text.split('/')[0], prefixlen=int(text.split('/')[1]),
                     scope=0, flags=0) for text in self.addr.get(index, [])]

    def routes(self, index):
        return [dict(route) for route in self.route_table if route['oif'] == index]

    def default_routes(self):
        return [dict(route) for route in self.route_table if route['dst_len'] == 0]

    def ports(self, index):
        return [copy.deepcopy(link) for link in self.ifaces.values() if link['master'] == index]

    # Netlink's writes
    def add_link(self, name, kind, address=None, mtu=None, kind_data=None):
        self._write('add_link', name)
        index = self.link(name, kind=kind, mac=address, up=False)
        self.ifaces[index]['mtu'] = mtu or 1500
        self.ifaces[index]['bridge'] = dict((KEYWORD_NLA[key], value) for key, value in (kind_data or {}).items())

    def set_link(self, name, index, kind=None, address=None, mtu=None, up=None, kind_data=None):
        self._write('set_link', name)
        link = self.ifaces[index]
        for key, value in (('address', address), ('mtu', mtu), ('up', up)):
            if value is not None:
                link[key] = value
        for key, value in (kind_data or {}).items():
            link['bridge'][KEYWORD_NLA[key]] = value

    def delete_link(self, name, index):
        self._write('delete_link', name)
        for link in self.ifaces.values():
            if link['master'] == index:
                self._enslave(link['index'], 0)
        del self.ifaces[index]
        self.addr.pop(index, None)
        self.route_table = [route for route in self.route_table if route['oif'] != index]

    def set_master(self, name, index, master_index, master_name=None):
        self._write('set_master', name, master_index)
        self._enslave(index, master_index)

    def set_port(self, name, index, port_data):
        self._write('set_port', name)
        for key, value in port_data.items():
            if key in KEYWORD_NLA:
                self.ifaces[index]['port'][KEYWORD_NLA[key]] = value

    def add_address(self, name, index, address, nodad=False):
        self._write('add_address', name, address['address'])
        self.addr.setdefault(index, []).append('%s/%s' % (address['address'], address['prefixlen']))

    def delete_address(self, name, index, address):
        self._write('delete_address', name, address['address'])
        text = '%s/%s' % (address['address'], address['prefixlen'])
        if text not in self.addr.get(index, []):
            raise NetlinkOperationError('no such address', errno='EADDRNOTAVAIL')
        self.addr[index].remove(text)

    def route_to(self, route, oif, how='replace'):
        self._write(how + '_route', route.get('dst'), oif)

        def same(other):
            return all(other.get(key) == route.get(key) for key in ('family', 'dst', 'dst_len', 'priority', 'table'))
        if how == 'delete':
            found = [other for other in self.route_table
                     if same(other) and other['oif'] == oif and other.get('gateway') == route.get('gateway')]
            if not found:
                raise NetlinkOperationError('no such route', errno='ESRCH')
            self.route_table.remove(found[0])
            return
        self.route_table = [other for other in self.route_table if not same(other)]
        new = dict((key, route.get(key)) for key in ('family', 'dst', 'dst_len', 'gateway', 'prefsrc', 'priority',
                                                     'table', 'protocol', 'scope', 'type'))
        new['oif'] = oif
        self.route_table.append(new)


def lan_host():
    """eth0 (index 1) carries 10.0.0.2/24, fd00::2/64, the default route and 10.8.0.0/24 via 10.0.0.254 metric 50;
    lo (2) has a default route of its own for the "other routes" case; no bridge."""
    kernel = Kernel()
    eth0 = kernel.link('eth0')
    kernel.addr[eth0] = ['10.0.0.2/24', 'fd00::2/64']
    kernel.route_table = [_route(None, 0, '10.0.0.1', eth0), _route('10.8.0.0', 24, '10.0.0.254', eth0, priority=50),
                          _route('10.0.0.0', 24, None, eth0, protocol=2)]
    return kernel


def migrate(kernel, down=False):
    """What bridge_port addresses=migrate does (kvmbr0 created with eth0's MAC, addresses and routes moved)."""
    eth0 = kernel.by_name('eth0')['index']
    bridge = kernel.link('kvmbr0', kind='bridge', mac=kernel.ifaces[eth0]['address'], bridge=BRIDGE_NLA, up=not down)
    kernel._enslave(eth0, bridge)
    kernel.addr[bridge] = kernel.addr.pop(eth0)
    for route in kernel.route_table:
        route['oif'] = bridge
    return bridge


def actions(steps):
    return [(step['action'], step['interface']) for step in steps]


def test_snapshot_reads_links_addresses_movable_routes_and_attributes():
    kernel = lan_host()
    migrate(kernel)
    snapshot = read_snapshot(kernel, ['eth0', 'kvmbr0', 'eth9'])
    eth0, bridge = snapshot['interfaces']['eth0'], snapshot['interfaces']['kvmbr0']
    assert eth0['master'] == 'kvmbr0' and eth0['addresses'] == []
    assert eth0['port'] == dict(cost=2, priority=32, learning=True)
    assert bridge['addresses'] == ['10.0.0.2/24', 'fd00::2/64']
    assert bridge['bridge'] == dict(stp=False, forward_delay=0, priority=32768, ageing_time=300)
    assert [route['dst'] for route in bridge['routes']] == [None, '10.8.0.0']  # not the connected route
    assert snapshot['interfaces']['eth9'] == dict(name='eth9', exists=False)
    shown = summary(snapshot)['interfaces']['kvmbr0']
    assert shown['routes'] == ['default via 10.0.0.1', '10.8.0.0/24 via 10.0.0.254 metric 50']
    assert 'index' not in shown


def test_default_routes_through_uncovered_interfaces_are_kept():
    kernel = lan_host()
    wlan = kernel.link('wlan0')
    kernel.route_table.append(_route(None, 0, '192.168.1.1', wlan, priority=600))
    snapshot = read_snapshot(kernel, ['eth0'])
    assert [(route['dev'], route['gateway']) for route in snapshot['other_routes']] == [('wlan0', '192.168.1.1')]
    kernel.route_table = [route for route in kernel.route_table if route['oif'] != wlan]
    assert 'route default via 192.168.1.1 metric 600 dev wlan0 is missing' in differences(
        snapshot, read_current(kernel, snapshot))


def test_the_way_back_from_a_migrate_is_make_before_break_port_released_last_new_bridge_deleted_last():
    kernel = lan_host()
    snapshot = read_snapshot(kernel, ['eth0', 'kvmbr0'])
    migrate(kernel, down=True)
    steps, notes = plan_restore(snapshot, read_current(kernel, snapshot))
    assert notes == []
    assert actions(steps) == [
        ('add_address', 'eth0'), ('add_address', 'eth0'),  # addresses back first (IPv6 without DAD)
        ('replace_route', 'eth0'), ('replace_route', 'eth0'),  # the routes onto eth0
        ('delete_route', 'kvmbr0'), ('delete_route', 'kvmbr0'),  # already moved: tolerated as gone
        ('delete_address', 'kvmbr0'), ('delete_address', 'kvmbr0'),
        ('release', 'eth0'),  # the port leaves last
        ('delete_bridge', 'kvmbr0'),  # the bridge the checkpoint did not have, last of all
    ]
    outcome = restore(kernel, snapshot, lambda line: None)
    assert outcome['remaining'] == [] and outcome['failed'] == 0
    assert differences(snapshot, read_current(kernel, snapshot)) == []
    assert kernel.by_name('kvmbr0') is None


def test_the_way_back_from_a_release_is_the_migrate_order():
    kernel = lan_host()
    migrate(kernel)
    snapshot = read_snapshot(kernel, ['eth0', 'kvmbr0'])
    eth0, bridge = kernel.by_name('eth0')['index'], kernel.by_name('kvmbr0')['index']
    kernel._enslave(eth0, 0)  # the change: eth0 released with its addresses back on it
    kernel.addr[eth0] = kernel.addr.pop(bridge)
    for route in kernel.route_table:
        route['oif'] = eth0
    steps, dummy = plan_restore(snapshot, read_current(kernel, snapshot))
    assert actions(steps) == [
        ('add_address', 'kvmbr0'), ('add_address', 'kvmbr0'),
        ('enslave', 'eth0'), ('set_port', 'eth0'),  # joining resets the port attributes: set back
        ('replace_route', 'kvmbr0'), ('replace_route', 'kvmbr0'),
        ('delete_address', 'eth0'), ('delete_address', 'eth0'),
        ('delete_route', 'eth0'), ('delete_route', 'eth0'),
    ]
    assert restore(kernel, snapshot, lambda line: None)['remaining'] == []


def test_a_deleted_bridge_is_created_again_with_its_mac_mtu_and_attributes():
    kernel = lan_host()
    migrate(kernel)
    snapshot = read_snapshot(kernel, ['eth0', 'kvmbr0'])
    kernel.delete_link('kvmbr0', kernel.by_name('kvmbr0')['index'])
    kernel.writes = []
    steps, dummy = plan_restore(snapshot, read_current(kernel, snapshot))
    assert actions(steps)[:2] == [('create_bridge', 'kvmbr0'), ('set_link', 'kvmbr0')]
    assert steps[0]['attributes']['mac'] == snapshot['interfaces']['kvmbr0']['mac']
    assert restore(kernel, snapshot, lambda line: None)['remaining'] == []


def test_mac_goes_back_after_the_addresses_leave_and_before_they_come_back():
    kernel = lan_host()
    migrate(kernel)
    snapshot = read_snapshot(kernel, ['eth0', 'kvmbr0'])
    bridge, eth0 = kernel.by_name('kvmbr0'), kernel.by_name('eth0')
    kernel.ifaces[bridge['index']]['address'] = '02:00:00:00:00:99'
    kernel.ifaces[eth0['index']]['address'] = '02:00:00:00:00:98'
    kernel.addr[eth0['index']] = ['10.9.9.9/24']
    steps, dummy = plan_restore(snapshot, read_current(kernel, snapshot))
    # kvmbr0 keeps its addresses: its MAC goes back at once; eth0 only loses one: its MAC after that
    assert actions(steps) == [('set_link', 'kvmbr0'), ('delete_address', 'eth0'), ('set_link', 'eth0')]


def test_stp_off_goes_in_its_own_request_first():
    kernel = lan_host()
    migrate(kernel)
    snapshot = read_snapshot(kernel, ['kvmbr0'])
    bridge = kernel.by_name('kvmbr0')['index']
    kernel.ifaces[bridge]['bridge'].update(IFLA_BR_STP_STATE=1, IFLA_BR_FORWARD_DELAY=1500)
    steps, dummy = plan_restore(snapshot, read_current(kernel, snapshot))
    assert [step['attributes'] for step in steps if step['action'] == 'set_bridge'] == [
        dict(stp=False), dict(forward_delay=0)]


def test_what_cannot_be_restored_is_named_and_left_alone():
    kernel = lan_host()
    veth = kernel.link('veth7')
    snapshot = read_snapshot(kernel, ['eth0', 'veth7', 'kvmbr0', 'tap9'])
    kernel.delete_link('veth7', veth)  # a veth cannot be created again
    migrate(kernel)
    kernel.link('vnet0', master='kvmbr0')  # a guest tap joined the new bridge
    kernel.link('tap9')  # a new interface that is not a bridge
    steps, notes = plan_restore(snapshot, read_current(kernel, snapshot))
    assert 'veth7 (kind veth) is gone and cannot be re-created: only a bridge can.' in notes
    assert 'kvmbr0 did not exist at the checkpoint but has ports the checkpoint does not cover (vnet0): left in' \
           ' place.' in notes
    assert 'tap9 (kind veth) did not exist at the checkpoint; only a bridge is deleted: left in place.' in notes
    assert ('delete_bridge', 'kvmbr0') not in actions(steps)
    assert ('release', 'eth0') in actions(steps)


def test_an_address_that_moved_to_an_uncovered_interface_is_taken_back():
    kernel = lan_host()
    snapshot = read_snapshot(kernel, ['eth0'])
    migrate(kernel)  # kvmbr0 is not covered
    current = read_current(kernel, snapshot)
    assert current['strays'] == {'kvmbr0': ['10.0.0.2/24', 'fd00::2/64']}
    assert 'kvmbr0 (not covered) holds 10.0.0.2/24, fd00::2/64 of the snapshot' in differences(snapshot, current)
    steps, dummy = plan_restore(snapshot, current)
    assert actions(steps)[-3:] == [('delete_address', 'kvmbr0'), ('delete_address', 'kvmbr0'), ('release', 'eth0')]
    assert restore(kernel, snapshot, lambda line: None)['remaining'] == []


def test_differences_in_words():
    kernel = lan_host()
    snapshot = read_snapshot(kernel, ['eth0', 'kvmbr0'])
    migrate(kernel)
    kernel.ifaces[kernel.by_name('eth0')['index']]['mtu'] = 9000
    assert differences(snapshot, read_current(kernel, snapshot)) == [
        'eth0: master is kvmbr0, was None',
        'eth0: mtu is 9000, was 1500',
        'eth0: address 10.0.0.2/24 is missing',
        'eth0: address fd00::2/64 is missing',
        'kvmbr0: exists (kind bridge), was absent',
        'route default via 10.0.0.1 dev eth0 is missing',
        'route 10.8.0.0/24 via 10.0.0.254 metric 50 dev eth0 is missing',
        'route default via 10.0.0.1 dev kvmbr0 was not there',
        'route 10.8.0.0/24 via 10.0.0.254 metric 50 dev kvmbr0 was not there',
    ]
    assert differences(snapshot, read_snapshot(lan_host(), ['eth0', 'kvmbr0'])) == []


@pytest.mark.parametrize('refused', ['add_address', 'replace_route', 'set_master'])
def test_restore_is_best_effort_and_reads_again(refused):
    """A refused request is logged, the next ones still run, and the next round plans what is left."""
    kernel = lan_host()
    snapshot = read_snapshot(kernel, ['eth0', 'kvmbr0'])
    migrate(kernel)
    kernel.fail = {refused: 'EBUSY'}
    lines = []
    outcome = restore(kernel, snapshot, lines.append)
    assert outcome['failed'] == 1
    assert outcome['remaining'] == []
    assert any(line.startswith('  FAILED ') and 'refused' in line for line in lines)
    assert [line for line in lines if line.startswith('round ')][:2] == [lines[0], 'round 2: 1 request(s)'] \
        or refused == 'set_master'


def test_nothing_to_do_sends_nothing():
    kernel = lan_host()
    snapshot = read_snapshot(kernel, ['eth0', 'kvmbr0'])
    outcome = restore(kernel, snapshot, lambda line: None)
    assert outcome == dict(applied=0, failed=0, notes=[], remaining=[])
    assert kernel.writes == []
