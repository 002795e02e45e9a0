# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._port import (
    PORT_JOIN_DEFAULTS,
    bridge_state,
    missing_bridge_warning,
    normalise_port,
    plan_port,
    port_kernel_request,
    port_state,
    predict_bridge,
    reads_needed,
    validate_port_static,
    vlan_plan,
)

PORT_OPTIONS = ('cost', 'priority', 'hairpin', 'learning', 'unicast_flood', 'mcast_flood', 'bpdu_guard',
                'root_block', 'isolated', 'neigh_suppress')


def params(**kwargs):
    result = dict((option, None) for option in PORT_OPTIONS)
    result.update(name='eth0', bridge='kvmbr0', state='present', addresses='fail', move=False, wireless_4addr=False,
                  up=True, vlans=None, netns=None)
    result.update(kwargs)
    return result


def link(name, index, kind='veth', master=None, address='52:54:00:00:00:0%d', link_type=1, port=None, up=True):
    return dict(name=name, index=index, kind=kind, master=master, address=address % index if '%' in address
                else address, link_type=link_type, port=port, bridge={}, mtu=1500, up=up)


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
          vlans=None, bridge_routes=(), bridge_ports=(), check_mode=False):
    """Facts for plan_port; ``bridge`` is 'kvmbr0' (the default bridge), None (missing) or a link dict."""
    bridge = dict(BRIDGE) if bridge == 'kvmbr0' else bridge
    return dict(port=port if port is not None else link('eth0', 2), bridge=bridge, master=master,
                port_addresses=list(port_addresses), bridge_addresses=list(bridge_addresses), routes=list(routes),
                wireless=wireless, vlans=vlans, bridge_routes=list(bridge_routes), bridge_ports=list(bridge_ports),
                check_mode=check_mode)


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


def test_flush_is_one_request_per_route_and_address_each_with_its_undo():
    steps, after = plan_port(params(addresses='flush'),
                             facts(port_addresses=[V4, V6], routes=[DEFAULT_ROUTE, CONNECTED]))
    assert actions(steps) == [('delete_route', 'eth0', dict(route='default via 10.0.0.1')),
                              ('delete_address', 'eth0', dict(address='10.0.0.2/24')),
                              ('delete_address', 'eth0', dict(address='fd00::2/64')),
                              ('enslave', 'eth0', dict(bridge='kvmbr0'))]
    assert [step['revert'] for step in steps[:3]] == [
        dict(route='default via 10.0.0.1'), dict(address='10.0.0.2/24'), dict(address='fd00::2/64')]
    assert steps[0]['data'] == dict(route=DEFAULT_ROUTE) and steps[1]['data'] == dict(address=V4)
    assert after['addresses'] == [] and after['routes'] == []


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


def test_vlan_flag_change_is_undone_by_setting_the_old_flags_back():
    port = link('eth0', 2, master=1, port=DEFAULT_PORT)
    steps, after = plan_port(params(vlans=[dict(vid=1, untagged=True), dict(vid=10, pvid=True)]),
                             facts(port=port, master=BRIDGE, vlans=[dict(vid=1, pvid=True, untagged=True)]))
    assert actions(steps) == [('vlan_add', 'eth0', dict(vid=1, pvid=False, untagged=True)),
                              ('vlan_add', 'eth0', dict(vid=10, pvid=True, untagged=False))]
    assert steps[0]['revert'] == dict(previous=dict(vid=1, pvid=True, untagged=True))  # not "delete VLAN 1"
    assert steps[1]['revert'] == dict(previous=None)
    assert after['vlans'] == [dict(vid=1, pvid=False, untagged=True), dict(vid=10, pvid=True, untagged=False)]


# ---- point 3: one request per step, each with its undo data -------------------------------------------------------

BRIDGE_V4 = dict(V4)
MIGRATED_BRIDGE = link('kvmbr0', 1, kind='bridge', address='52:54:00:00:00:02')
BRIDGE_DEFAULT_ROUTE = dict(DEFAULT_ROUTE)
BRIDGE_METRIC_ROUTE = dict(DEFAULT_ROUTE, dst='10.8.0.0', dst_len=24, gateway='10.0.0.254', priority=50)
IN_BRIDGE = link('eth0', 2, master=1, port=DEFAULT_PORT)


def every_plan():
    """The plans of this file's scenarios, for the undo-data check."""
    yield plan_port(params(addresses='migrate', cost=7), facts(port_addresses=[V4, V6], routes=[DEFAULT_ROUTE]))[0]
    yield plan_port(params(addresses='flush'), facts(port_addresses=[V4], routes=[DEFAULT_ROUTE]))[0]
    yield plan_port(params(move=True, priority=5), facts(port=link('eth0', 2, master=9, port=DEFAULT_PORT, up=False),
                                                         master=OTHER_BRIDGE))[0]
    yield plan_port(params(priority=5, vlans=[dict(vid=10)]),
                    facts(port=IN_BRIDGE, master=BRIDGE, vlans=[dict(vid=1, pvid=True, untagged=True)]))[0]
    yield plan_port(params(state='absent', addresses='migrate'),
                    facts(port=IN_BRIDGE, master=BRIDGE, bridge_addresses=[V4, V6],
                          bridge_routes=[BRIDGE_DEFAULT_ROUTE]))[0]
    yield plan_port(params(state='absent', addresses='flush'),
                    facts(port=IN_BRIDGE, master=BRIDGE, bridge_addresses=[V4],
                          bridge_routes=[BRIDGE_DEFAULT_ROUTE]))[0]


def test_every_step_carries_its_undo_data():
    seen = set()
    for steps in every_plan():
        joined = False
        for step in steps:
            seen.add(step['action'])
            joined = joined or step['action'] == 'enslave'
            if step['action'] == 'set_port' and joined:
                assert step['revert'] is None  # undone by the release that undoes the join
            else:
                assert step['revert'] is not None, step
    assert seen == set(['set_mac', 'set_up', 'add_address', 'delete_address', 'delete_route', 'move_route',
                        'enslave', 'release', 'set_port', 'vlan_add', 'vlan_delete'])


def test_no_step_sends_several_requests():
    """The old flush_addresses sent one request per address in one step; nothing like it is left."""
    for steps in every_plan():
        for step in steps:
            assert 'addresses' not in step['attributes'] and 'routes' not in step['attributes'], step


# ---- point 2: release, the way back from migrate -------------------------------------------------------------------

def test_release_with_migrate_moves_addresses_and_routes_back_make_before_break():
    steps, after = plan_port(
        params(state='absent', addresses='migrate'),
        facts(port=IN_BRIDGE, master=MIGRATED_BRIDGE, bridge=MIGRATED_BRIDGE, bridge_addresses=[V4, V6, LL],
              bridge_routes=[BRIDGE_DEFAULT_ROUTE, BRIDGE_METRIC_ROUTE, CONNECTED], routes=[]))
    assert actions(steps) == [
        ('add_address', 'eth0', dict(address='10.0.0.2/24')),
        ('add_address', 'eth0', dict(address='fd00::2/64')),
        ('move_route', 'kvmbr0', dict(route='default via 10.0.0.1', to='eth0')),
        ('move_route', 'kvmbr0', dict(route='10.8.0.0/24 via 10.0.0.254', to='eth0')),
        ('delete_address', 'kvmbr0', dict(address='10.0.0.2/24')),
        ('delete_address', 'kvmbr0', dict(address='fd00::2/64')),
        ('release', 'eth0', dict(bridge='kvmbr0')),   # last: its undo is never needed
    ]
    assert steps[-1]['data'] == dict(master_index=0, previous_master_index=1)
    assert after['state'] == 'absent' and after['bridge'] is None
    assert after['addresses'] == ['10.0.0.2/24', 'fd00::2/64']
    assert after['routes'] == ['10.8.0.0/24 via 10.0.0.254 metric 50', 'default via 10.0.0.1']
    assert 'cost' not in after and 'stp_state' not in after


def test_release_with_migrate_gives_the_port_the_mac_the_lan_knows():
    bridge = link('kvmbr0', 1, kind='bridge', address='02:00:00:00:00:01')
    steps, after = plan_port(params(state='absent', addresses='migrate'),
                             facts(port=IN_BRIDGE, master=bridge, bridge=bridge, bridge_addresses=[V4]))
    assert actions(steps)[0] == ('set_mac', 'eth0', dict(mac='02:00:00:00:00:01'))
    assert steps[0]['revert'] == dict(mac='52:54:00:00:00:02')
    assert after['mac'] == '02:00:00:00:00:01'


def test_release_with_migrate_diff_shows_the_bridge_losing_what_the_port_gains():
    current = facts(port=IN_BRIDGE, master=MIGRATED_BRIDGE, bridge=MIGRATED_BRIDGE, bridge_addresses=[V4],
                    bridge_routes=[BRIDGE_DEFAULT_ROUTE], routes=[])
    p = params(state='absent', addresses='migrate')
    steps, dummy = plan_port(p, current)
    assert bridge_state(p, current) == dict(name='kvmbr0', exists=True, mac='52:54:00:00:00:02',
                                            addresses=['10.0.0.2/24'], routes=['default via 10.0.0.1'])
    assert predict_bridge(p, current, steps) == dict(name='kvmbr0', exists=True, mac='52:54:00:00:00:02',
                                                     addresses=[], routes=[])


def test_release_skips_addresses_the_port_already_has():
    steps, dummy = plan_port(params(state='absent', addresses='migrate'),
                             facts(port=IN_BRIDGE, master=MIGRATED_BRIDGE, bridge=MIGRATED_BRIDGE,
                                   port_addresses=[V4], bridge_addresses=[V4]))
    assert [step['action'] for step in steps] == ['delete_address', 'release']


def test_release_with_fail_refuses_to_strand_the_bridges_addresses():
    with pytest.raises(ValidationError) as info:
        plan_port(params(state='absent', netns='lab'),
                  facts(port=IN_BRIDGE, master=BRIDGE, bridge_addresses=[V4, V6, LL]))
    assert ("Releasing 'eth0' would leave bridge 'kvmbr0' in network namespace 'lab' with IP addresses (10.0.0.2/24,"
            " fd00::2/64) but no port") in info.value.msg
    assert 'addresses: migrate' in info.value.msg and 'addresses: flush' in info.value.msg
    assert info.value.details == dict(bridge='kvmbr0', addresses=['10.0.0.2/24', 'fd00::2/64'])


def test_release_with_fail_goes_ahead_when_other_ports_are_left():
    steps, dummy = plan_port(params(state='absent'),
                             facts(port=IN_BRIDGE, master=BRIDGE, bridge_addresses=[V4], bridge_ports=['vnet0']))
    assert actions(steps) == [('release', 'eth0', dict(bridge='kvmbr0'))]


def test_release_with_flush_removes_the_bridges_routes_and_addresses_then_releases():
    steps, after = plan_port(params(state='absent', addresses='flush'),
                             facts(port=IN_BRIDGE, master=BRIDGE, bridge_addresses=[V4],
                                   bridge_routes=[BRIDGE_DEFAULT_ROUTE, CONNECTED]))
    assert actions(steps) == [('delete_route', 'kvmbr0', dict(route='default via 10.0.0.1')),
                              ('delete_address', 'kvmbr0', dict(address='10.0.0.2/24')),
                              ('release', 'eth0', dict(bridge='kvmbr0'))]
    assert after['addresses'] == []


def test_release_from_a_bridge_without_addresses_needs_no_mode():
    for mode in ('fail', 'flush', 'migrate'):
        steps, dummy = plan_port(params(state='absent', addresses=mode), facts(port=IN_BRIDGE, master=BRIDGE))
        assert actions(steps) == [('release', 'eth0', dict(bridge='kvmbr0'))]


# ---- point 12: reads only what the plan needs ------------------------------------------------------------------

def known(**kwargs):
    """Facts as the module has them before the optional reads (no bridge_addresses, routes, ...)."""
    result = facts(**kwargs)
    for key in ('bridge_addresses', 'routes', 'bridge_routes', 'bridge_ports'):
        result.pop(key)
    return result


@pytest.mark.parametrize('kwargs, fact_kwargs, expected', [
    ({}, {}, ()),
    ({}, dict(port_addresses=[V4]), ()),                                 # fail: refused, no routes needed
    (dict(addresses='flush'), {}, ()),
    (dict(addresses='flush'), dict(port_addresses=[V4]), ('routes',)),
    (dict(addresses='migrate'), dict(port_addresses=[LL]), ()),
    (dict(addresses='migrate'), dict(port_addresses=[V4]), ('bridge_addresses', 'routes', 'bridge_routes')),
    (dict(addresses='migrate'), dict(port_addresses=[V4], bridge=None, check_mode=True),
     ('bridge_addresses', 'routes', 'bridge_routes')),
    (dict(state='absent'), {}, ()),                                      # not a port: nothing to release
    (dict(state='absent', addresses='migrate'), dict(port=IN_BRIDGE, master=OTHER_BRIDGE), ()),
    (dict(state='absent'), dict(port=IN_BRIDGE, master=BRIDGE), ('bridge_addresses',)),
])
def test_reads_needed(kwargs, fact_kwargs, expected):
    assert reads_needed(params(**kwargs), known(**fact_kwargs)) == expected


@pytest.mark.parametrize('mode, expected', [
    ('fail', ('bridge_addresses', 'bridge_ports')),
    ('flush', ('bridge_addresses', 'bridge_routes')),
    ('migrate', ('bridge_addresses', 'routes', 'bridge_routes')),
])
def test_reads_needed_by_a_release_depend_on_the_bridges_addresses(mode, expected):
    current = known(port=IN_BRIDGE, master=BRIDGE)
    current['bridge_addresses'] = [LL]
    assert reads_needed(params(state='absent', addresses=mode), current) == ('bridge_addresses',)
    current['bridge_addresses'] = [V4]
    assert reads_needed(params(state='absent', addresses=mode), current) == expected


# ---- point 5: check mode with a bridge an earlier task creates -----------------------------------------------------

def test_check_mode_predicts_a_join_into_a_bridge_that_does_not_exist_yet():
    current = facts(bridge=None, check_mode=True, port_addresses=[V4], routes=[DEFAULT_ROUTE], bridge_routes=[])
    p = params(addresses='migrate', cost=5)
    assert missing_bridge_warning(p, current) == (
        'bridge kvmbr0 does not exist yet; assuming an earlier task creates it (check mode)')
    steps, after = plan_port(p, current)
    assert [step['action'] for step in steps] == ['set_mac', 'add_address', 'enslave', 'set_port', 'move_route',
                                                  'delete_address']
    assert after['state'] == 'present' and after['bridge'] == 'kvmbr0' and after['cost'] == 5
    assert predict_bridge(p, current, steps) == dict(name='kvmbr0', exists=True, mac='52:54:00:00:00:02',
                                                     addresses=['10.0.0.2/24'], routes=['default via 10.0.0.1'])


def test_check_mode_with_a_missing_bridge_still_checks_the_port():
    with pytest.raises(ValidationError) as info:
        plan_port(params(), facts(bridge=None, check_mode=True, wireless=True))
    assert 'wireless' in info.value.msg


def test_outside_check_mode_a_missing_bridge_is_refused():
    assert missing_bridge_warning(params(), facts(bridge=None)) is None
    with pytest.raises(ValidationError) as info:
        plan_port(params(), facts(bridge=None))
    assert "Bridge 'kvmbr0' does not exist" in info.value.msg


# ---- point 17: the port is brought up ---------------------------------------------------------------------------

def test_a_down_port_is_brought_up_after_it_joins():
    steps, after = plan_port(params(), facts(port=link('eth0', 2, up=False)))
    assert actions(steps) == [('enslave', 'eth0', dict(bridge='kvmbr0')), ('set_up', 'eth0', dict(up=True))]
    assert steps[1]['revert'] == dict(up=False)
    assert after['up'] is True


def test_a_down_port_already_in_is_brought_up():
    port = link('eth0', 2, master=1, port=DEFAULT_PORT, up=False)
    steps, dummy = plan_port(params(), facts(port=port, master=BRIDGE))
    assert actions(steps) == [('set_up', 'eth0', dict(up=True))]


def test_up_false_leaves_the_admin_state_alone():
    steps, after = plan_port(params(up=False), facts(port=link('eth0', 2, up=False)))
    assert actions(steps) == [('enslave', 'eth0', dict(bridge='kvmbr0'))]
    assert after['up'] is False


# ---- point 19: one shape: the predicted after has the keys of the real one -----------------------------------------

def test_predicted_after_of_a_joining_port_has_every_key_the_kernel_read_has():
    steps, predicted = plan_port(params(), known())
    real = normalise_port('eth0', link('eth0', 2, master=1, port=DEFAULT_PORT), BRIDGE, [], 'kvmbr0')
    assert sorted(predicted) == sorted(real)
    unknowable = [key for key, value in predicted.items() if value is None]
    assert sorted(unknowable) == ['cost', 'stp_state']
    assert dict((key, predicted[key]) for key in PORT_JOIN_DEFAULTS if key not in unknowable) == dict(
        (key, real[key]) for key in PORT_JOIN_DEFAULTS if key not in unknowable)


def test_predicted_after_of_a_moved_port_has_the_kernels_defaults_not_the_old_bridges():
    port = link('eth0', 2, master=9, port=dict(DEFAULT_PORT, IFLA_BRPORT_PRIORITY=7, IFLA_BRPORT_COST=50))
    dummy, after = plan_port(params(move=True), facts(port=port, master=OTHER_BRIDGE))
    assert after['priority'] == 32 and after['cost'] is None


def test_before_is_known_before_a_refusal():
    current = facts(port_addresses=[V4])
    before = port_state(params(), current)
    assert before['addresses'] == ['10.0.0.2/24'] and before['exists'] is True
    with pytest.raises(ValidationError):
        plan_port(params(), current)
