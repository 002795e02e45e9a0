# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._port import (
    plan_port,
    port_kernel_request,
    validate_port_static,
    vlan_plan,
)

PORT_OPTIONS = ('cost', 'priority', 'hairpin', 'learning', 'unicast_flood', 'mcast_flood', 'bpdu_guard',
                'root_block', 'isolated', 'neigh_suppress')


def params(**kwargs):
    result = dict((option, None) for option in PORT_OPTIONS)
    result.update(name='eth0', bridge='kvmbr0', state='present', addresses='fail', move=False, wireless_4addr=False,
                  vlans=None, netns=None)
    result.update(kwargs)
    return result


def link(name, index, kind='veth', master=None, address='52:54:00:00:00:0%d', link_type=1, port=None):
    return dict(name=name, index=index, kind=kind, master=master, address=address % index if '%' in address
                else address, link_type=link_type, port=port, bridge={}, mtu=1500, up=True)


DEFAULT_PORT = dict(IFLA_BRPORT_COST=2, IFLA_BRPORT_PRIORITY=32, IFLA_BRPORT_MODE=0, IFLA_BRPORT_LEARNING=1,
                    IFLA_BRPORT_UNICAST_FLOOD=1, IFLA_BRPORT_MCAST_FLOOD=1, IFLA_BRPORT_GUARD=0,
                    IFLA_BRPORT_PROTECT=0, IFLA_BRPORT_ISOLATED=0, IFLA_BRPORT_NEIGH_SUPPRESS=0,
                    IFLA_BRPORT_STATE=3)
BRIDGE = link('kvmbr0', 1, kind='bridge', address='02:00:00:00:00:01')
OTHER_BRIDGE = link('kvmbr1', 9, kind='bridge', address='02:00:00:00:00:09')
V4 = dict(family=4, address='10.0.0.2', prefixlen=24, scope=0, flags=0)
V6 = dict(family=6, address='fd00::2', prefixlen=64, scope=0, flags=0)
LL = dict(family=6, address='fe80::2', prefixlen=64, scope=253, flags=0)
DEFAULT_ROUTE = dict(family=4, dst=None, dst_len=0, gateway='10.0.0.1', protocol=3, scope=0, type=1, table=254,
                     priority=None, prefsrc=None)
CONNECTED = dict(family=4, dst='10.0.0.0', dst_len=24, gateway=None, protocol=2, scope=253, type=1, table=254,
                 priority=None, prefsrc='10.0.0.2')


def facts(port=None, bridge='kvmbr0', master=None, port_addresses=(), bridge_addresses=(), routes=(), wireless=False,
          vlans=None):
    """Facts for plan_port; ``bridge`` is 'kvmbr0' (the default bridge), None (missing) or a link dict."""
    bridge = dict(BRIDGE) if bridge == 'kvmbr0' else bridge
    return dict(port=port if port is not None else link('eth0', 2), bridge=bridge, master=master,
                port_addresses=list(port_addresses), bridge_addresses=list(bridge_addresses), routes=list(routes),
                wireless=wireless, vlans=vlans)


def actions(steps):
    return [(step['action'], step['interface'], step['attributes']) for step in steps]


# ---- static validation -----------------------------------------------------------------------------------------

@pytest.mark.parametrize('kwargs, words', [
    (dict(name='eth0', bridge='eth0'), 'cannot be a port of itself'),
    (dict(bridge=None), 'bridge is required with state: present'),
    (dict(cost=0), 'cost=0 is out of range: the kernel accepts 1..65535'),
    (dict(cost=65536), 'accepts 1..65535'),
    (dict(priority=64), 'priority=64 is out of range: the kernel accepts 0..63'),
    (dict(priority=-1), 'accepts 0..63'),
    (dict(vlans=[dict(vid=0)]), 'vid=0 is out of range: VLAN ids are 1..4094'),
    (dict(vlans=[dict(vid=4095)]), 'VLAN ids are 1..4094'),
    (dict(vlans=[dict(vid=10), dict(vid=10)]), 'vid=10 is listed twice'),
    (dict(vlans=[dict(vid=10, pvid=True), dict(vid=20, pvid=True)]), 'only one VLAN can be the PVID, got 10, 20'),
    (dict(name='eth0/1'), "contains '/'"),
    (dict(bridge='kvm br'), "Invalid interface name 'kvm br' for bridge"),
])
def test_static_refusals(kwargs, words):
    with pytest.raises(ValidationError) as info:
        validate_port_static(params(**kwargs))
    assert words in info.value.msg


def test_absent_needs_no_bridge():
    validate_port_static(params(state='absent', bridge=None))


# ---- refusals that need the current state ------------------------------------------------------------------------

@pytest.mark.parametrize('kwargs, fact_kwargs, words', [
    ({}, dict(bridge=None), "Bridge 'kvmbr0' does not exist"),
    ({}, dict(bridge=link('kvmbr0', 1)), "Interface 'kvmbr0' is not a bridge (kind: veth)"),
    ({}, dict(port=link('eth0', 2, kind='bridge')), "is itself a bridge"),
    ({}, dict(port=link('eth0', 2, link_type=772)), 'has link type loopback, not Ethernet'),
    ({}, dict(wireless=True), 'is a wireless (802.11) station'),
    ({}, dict(master=OTHER_BRIDGE, port=link('eth0', 2, master=9, port=DEFAULT_PORT)),
     "is a port of another bridge, 'kvmbr1'. Set move: true"),
    ({}, dict(master=link('bond0', 7, kind='bond'), port=link('eth0', 2, master=7)),
     "is enslaved to 'bond0' (kind: bond)"),
    (dict(vlans=[dict(vid=10)]), {}, "vlans needs VLAN filtering on bridge 'kvmbr0'"),
    ({}, dict(port_addresses=[V4, V6, LL]), "carries IP addresses (10.0.0.2/24, fd00::2/64)"),
])
def test_refusals(kwargs, fact_kwargs, words):
    with pytest.raises(ValidationError) as info:
        plan_port(params(**kwargs), facts(**fact_kwargs))
    assert words in info.value.msg


def test_missing_port_is_refused_naming_the_namespace():
    current = facts()
    current['port'] = None
    with pytest.raises(ValidationError) as info:
        plan_port(params(netns='lab'), current)
    assert "Interface 'eth0' does not exist in network namespace 'lab'" in info.value.msg


def test_wireless_with_4addr_opt_in_is_attempted():
    steps, dummy = plan_port(params(wireless_4addr=True), facts(wireless=True))
    assert actions(steps) == [('enslave', 'eth0', dict(bridge='kvmbr0'))]


def test_link_local_only_is_not_carrying_an_ip():
    steps, dummy = plan_port(params(), facts(port_addresses=[LL]))
    assert actions(steps) == [('enslave', 'eth0', dict(bridge='kvmbr0'))]


# ---- plans ---------------------------------------------------------------------------------------------------------

def test_enslave_with_attributes():
    steps, after = plan_port(params(cost=10, bpdu_guard=True), facts())
    assert actions(steps) == [('enslave', 'eth0', dict(bridge='kvmbr0')),
                              ('set_port', 'eth0', dict(cost=10, bpdu_guard=True))]
    assert steps[0]['data'] == dict(master_index=1, previous_master_index=0)
    assert after['state'] == 'present' and after['bridge'] == 'kvmbr0' and after['cost'] == 10


def test_existing_port_only_changes_what_differs():
    port = link('eth0', 2, master=1, port=DEFAULT_PORT)
    steps, dummy = plan_port(params(cost=2, priority=10, learning=True), facts(port=port, master=BRIDGE))
    assert actions(steps) == [('set_port', 'eth0', dict(priority=10))]
    assert steps[0]['revert'] == dict(priority=32)


def test_existing_port_no_change():
    port = link('eth0', 2, master=1, port=DEFAULT_PORT)
    steps, after = plan_port(params(cost=2, hairpin=False), facts(port=port, master=BRIDGE))
    assert steps == []
    assert after['stp_state'] == 'forwarding'


def test_move_from_another_bridge():
    port = link('eth0', 2, master=9, port=DEFAULT_PORT)
    steps, dummy = plan_port(params(move=True), facts(port=port, master=OTHER_BRIDGE))
    assert actions(steps) == [('enslave', 'eth0', dict(bridge='kvmbr0'))]
    assert steps[0]['data']['previous_master_index'] == 9


def test_migrate_is_make_before_break():
    steps, after = plan_port(params(addresses='migrate'),
                             facts(port_addresses=[V4, V6, LL], routes=[DEFAULT_ROUTE, CONNECTED]))
    assert actions(steps) == [
        ('set_mac', 'kvmbr0', dict(mac='52:54:00:00:00:02')),
        ('add_address', 'kvmbr0', dict(address='10.0.0.2/24')),
        ('add_address', 'kvmbr0', dict(address='fd00::2/64')),
        ('enslave', 'eth0', dict(bridge='kvmbr0')),
        ('move_route', 'eth0', dict(route='default via 10.0.0.1', to='kvmbr0')),
        ('delete_address', 'eth0', dict(address='10.0.0.2/24')),
        ('delete_address', 'eth0', dict(address='fd00::2/64')),
    ]
    assert steps[0]['revert'] == dict(mac='02:00:00:00:00:01')
    assert after['addresses'] == []


def test_migrate_skips_what_the_bridge_already_has():
    bridge = link('kvmbr0', 1, kind='bridge', address='52:54:00:00:00:02')
    steps, dummy = plan_port(params(addresses='migrate'),
                             facts(bridge=bridge, port_addresses=[V4], bridge_addresses=[V4]))
    assert [step['action'] for step in steps] == ['enslave', 'delete_address']


def test_flush_removes_addresses_first_and_keeps_what_to_restore():
    steps, dummy = plan_port(params(addresses='flush'), facts(port_addresses=[V4], routes=[DEFAULT_ROUTE, CONNECTED]))
    assert actions(steps) == [('flush_addresses', 'eth0', dict(addresses=['10.0.0.2/24'])),
                              ('enslave', 'eth0', dict(bridge='kvmbr0'))]
    assert steps[0]['data'] == dict(addresses=[V4], routes=[DEFAULT_ROUTE])


@pytest.mark.parametrize('kwargs, master, expected', [
    (dict(state='absent'), BRIDGE, [('release', 'eth0', dict(bridge='kvmbr0'))]),
    (dict(state='absent', bridge=None), OTHER_BRIDGE, [('release', 'eth0', dict(bridge='kvmbr1'))]),
    (dict(state='absent'), OTHER_BRIDGE, []),   # a port of another bridge: not ours to release
    (dict(state='absent'), None, []),
])
def test_release(kwargs, master, expected):
    port = link('eth0', 2, master=master['index'] if master else None, port=DEFAULT_PORT if master else None)
    steps, after = plan_port(params(**kwargs), facts(port=port, master=master))
    assert actions(steps) == expected
    if expected:
        assert after['bridge'] is None and after['state'] == 'absent'


def test_release_of_a_missing_interface_is_a_no_op():
    current = facts()
    current['port'] = None
    assert plan_port(params(state='absent'), current)[0] == []


def test_vlans_on_a_filtering_bridge():
    port = link('eth0', 2, master=1, port=DEFAULT_PORT)
    steps, dummy = plan_port(params(vlans=[dict(vid=10, pvid=True, untagged=True), dict(vid=20)]),
                             facts(port=port, master=BRIDGE, vlans=[dict(vid=1, pvid=True, untagged=True)]))
    assert actions(steps) == [('vlan_add', 'eth0', dict(vid=10, pvid=True, untagged=True)),
                              ('vlan_add', 'eth0', dict(vid=20, pvid=False, untagged=False)),
                              ('vlan_delete', 'eth0', dict(vid=1, pvid=True, untagged=True))]


def test_vlan_plan_changes_flags_in_place():
    add, delete = vlan_plan([dict(vid=10, untagged=True)], [dict(vid=10, pvid=False, untagged=False)])
    assert add == [dict(vid=10, pvid=False, untagged=True)] and delete == []


def test_port_kernel_request_keywords():
    assert port_kernel_request(dict(cost=5, hairpin=True, bpdu_guard=True, root_block=False, priority=3)) == dict(
        cost=5, mode=1, guard=1, protect=0, priority=3)
