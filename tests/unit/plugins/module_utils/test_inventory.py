# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interface inventory: facts from netlink-shaped dicts, the Ansible connection, and the uplink decision
table (pure functions, no kernel)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import sysfs_entry
from ansible_collections.kvmnet.bridge.plugins.module_utils._inventory import (
    choose_uplink,
    find_connection,
    four_addr_states,
    interface_facts,
    inventory,
    main_default_routes,
    normalise_address,
)

# ---- the decision table ---------------------------------------------------------------------------------------

LINK_TYPES = dict(loopback='loopback', virtual='ether', other='infiniband')


def facts(name, index, kind='wired', master=None, bridge_port=None, carrier=True, up=True, addresses=(),
          connection=False, link_kind=None, link_type=None, physical='default', wireless_4addr=None):
    """A facts dict as interface_facts() returns it (only the keys the decision reads, plus a few)."""
    if link_kind is None and kind in ('bridge', 'veth', 'macvlan'):
        link_kind = kind
    if link_kind is None and kind == 'tap':
        link_kind = 'tun'
    return dict(name=name, index=index, kind=kind, link_kind=link_kind,
                link_type=link_type or LINK_TYPES.get(kind, 'ether'),
                physical=(kind in ('wired', 'wireless', 'other')) if physical == 'default' else physical,
                master=master, bridge_port=bool(master) if bridge_port is None else bridge_port,
                carrier=carrier if up else None, up=up, addresses=list(addresses), carries_connection=connection,
                wireless_4addr=wireless_4addr)


def host(*items):
    return dict((item['name'], item) for item in items)


LO = facts('lo', 1, 'loopback')
WLAN = facts('wlan0', 3, 'wireless', addresses=['192.168.1.20/24'], connection=True)
BRIDGE = facts('kvmbr0', 9, 'bridge', carrier=False)
OTHER_BRIDGE = facts('virbr0', 10, 'bridge')


def rejected(result):
    return dict((item['name'], item['reason']) for item in result['rejected'])


def auto(interfaces, bridge='kvmbr0'):
    return choose_uplink(interfaces, 'auto', bridge)


def test_the_classic_laptop_picks_the_wired_nic():
    result = auto(host(LO, facts('eth0', 2), WLAN))
    assert result['name'] == 'eth0'
    assert result['requested'] == 'auto'
    assert result['problems'] == []
    assert result['reason'] == ('eth0: a wired NIC (physical Ethernet), with carrier, no global address, does not'
                                ' carry the Ansible connection; the only wired candidate')
    assert rejected(result) == {
        'lo': 'loopback interface',
        'wlan0': 'a wireless (802.11) station: it cannot be a bridge port (the access point drops frames with'
                 ' the guests\' MACs)',
    }
    assert [item['name'] for item in result['rejected']] == ['lo', 'wlan0']  # by interface index
    assert result['carries_connection'] is False and result['addresses'] == [] and result['in_bridge'] is None


def test_only_wireless_means_no_uplink():
    result = auto(host(LO, WLAN))
    assert result['name'] is None
    assert result['reason'] == 'no wired NIC to bridge: every interface was rejected (see rejected)'
    assert len(result['problems']) == 1
    problem = result['problems'][0]
    assert problem.startswith('uplink auto found no wired Ethernet NIC to enslave to kvmbr0; rejected: lo'
                              ' (loopback interface), wlan0 (a wireless (802.11) station)')
    assert 'Connect a wired NIC, or name the uplink explicitly' in problem
    assert result['carries_connection'] is False and result['addresses'] == [] and result['in_bridge'] is None


def test_no_interfaces_at_all():
    result = auto({})
    assert result['name'] is None and 'rejected: no interfaces' in result['problems'][0]


def test_no_wired_candidate_names_the_namespace():
    result = choose_uplink(host(LO), 'auto', 'kvmbr0', netns='lab')
    assert "to enslave to kvmbr0 in network namespace 'lab'" in result['problems'][0]


@pytest.mark.parametrize('item, reason', [
    (facts('veth0', 4, 'veth'), 'a virtual interface (veth): auto only picks a physical wired NIC; name it in'
                                ' uplink to use it anyway'),
    (facts('tap0', 4, 'tap'), 'a virtual interface (tap): auto only picks a physical wired NIC; name it in uplink'
                              ' to use it anyway'),
    (facts('mv0', 4, 'macvlan'), 'a virtual interface (macvlan): auto only picks a physical wired NIC; name it in'
                                 ' uplink to use it anyway'),
    (facts('vx0', 4, 'virtual', link_kind='vxlan'), 'a virtual interface (vxlan): auto only picks a physical wired'
                                                    ' NIC; name it in uplink to use it anyway'),
    (facts('ib0', 4, 'other'), 'not an Ethernet device (link type infiniband)'),
    (facts('virbr0', 4, 'bridge'), 'a bridge: a bridge cannot be a port of another bridge'),
    (facts('kvmbr0', 4, 'bridge'), 'the bridge kvmbr0 itself'),
    (facts('eth3', 4, master='virbr0'), 'already a port of bridge virbr0'),
    (facts('eth4', 4, master='bond0', bridge_port=False), 'enslaved to bond0'),
    (facts('eth5', 4, physical=None), 'cannot tell whether it is a physical wired NIC (sysfs does not show it):'
                                      ' name it in uplink to use it'),
    (facts('veth1', 4, 'veth', master='kvmbr0'), 'a virtual interface (veth): auto only picks a physical wired'
                                                 ' NIC; name it in uplink to use it anyway'),
])
def test_auto_never_picks(item, reason):
    """On a real host auto never takes a virtual interface, a bridge, a non-Ethernet device or a foreign port,
    even when it is the only one left (and even a veth already in the target bridge)."""
    result = auto(host(LO, item, facts('bond0', 8, 'virtual', link_kind='bond')))
    assert result['name'] is None
    assert rejected(result)[item['name']] == reason


@pytest.mark.parametrize('candidates, chosen, loser_reason', [
    # carrier beats no carrier
    ([facts('eth0', 2, carrier=False), facts('eth1', 3)], 'eth1', 'it has no carrier'),
    # a down NIC: carrier unknown, ranked like no carrier
    ([facts('eth0', 2, up=False), facts('eth1', 3)], 'eth1', 'it is down (carrier unknown)'),
    # no addresses beats addresses
    ([facts('eth0', 2, addresses=['10.0.0.2/24']), facts('eth1', 3)], 'eth1',
     'it has global addresses (10.0.0.2/24)'),
    # not carrying the connection beats carrier: never bridge the management NIC when another is there
    ([facts('eth0', 2, addresses=['10.0.0.2/24'], connection=True), facts('eth1', 3, carrier=False)], 'eth1',
     'it carries the Ansible connection'),
    # all equal: the lower interface index
    ([facts('eth1', 3), facts('eth0', 2)], 'eth0', 'eth0 comes first (lower interface index)'),
    # a port of the target bridge wins over everything (idempotent re-runs), even without carrier
    ([facts('eth0', 2), facts('eth1', 3, master='kvmbr0', carrier=False)], 'eth1',
     'eth1 is already a port of kvmbr0'),
])
def test_auto_ranking(candidates, chosen, loser_reason):
    result = auto(host(LO, WLAN, BRIDGE, *candidates))
    assert result['name'] == chosen
    loser = [item['name'] for item in candidates if item['name'] != chosen][0]
    assert rejected(result)[loser] == 'a wired candidate, ranked below %s: %s' % (chosen, loser_reason)
    assert 'the best of 2 wired candidates' in result['reason'] or 'already a port' in result['reason']


def test_the_only_wired_nic_carries_the_connection():
    """A server with one NIC: auto still names it (no problem: it can be a bridge port); the role refuses it
    unless its addresses migrate, from carries_connection."""
    eth0 = facts('eth0', 2, addresses=['10.0.0.2/24'], connection=True)
    result = auto(host(LO, eth0))
    assert result['name'] == 'eth0'
    assert result['problems'] == []
    assert result['carries_connection'] is True
    assert result['addresses'] == ['10.0.0.2/24']
    assert 'carries the Ansible connection' in result['reason']


def test_idempotent_rerun_keeps_the_port_of_the_target_bridge():
    eth0 = facts('eth0', 2, master='kvmbr0')
    result = auto(host(LO, eth0, facts('eth1', 3), BRIDGE, WLAN))
    assert result['name'] == 'eth0'
    assert result['in_bridge'] == 'kvmbr0'
    assert result['reason'].startswith('eth0 is already a port of kvmbr0 (')
    assert result['reason'].endswith('): kept, so a re-run changes nothing')
    assert rejected(result)['kvmbr0'] == 'the bridge kvmbr0 itself'


def test_a_port_of_another_bridge_is_not_a_candidate_but_a_port_of_the_target_is():
    result = auto(host(LO, facts('eth0', 2, master='virbr0'), OTHER_BRIDGE), bridge='kvmbr0')
    assert result['name'] is None
    result = auto(host(LO, facts('eth0', 2, master='virbr0'), OTHER_BRIDGE), bridge='virbr0')
    assert result['name'] == 'eth0' and result['in_bridge'] == 'virbr0'


def test_every_interface_is_either_chosen_or_rejected():
    interfaces = host(LO, facts('eth0', 2), facts('eth1', 4, carrier=False), WLAN, BRIDGE, OTHER_BRIDGE,
                      facts('vnet0', 11, 'tap', master='virbr0'), facts('veth0', 12, 'veth'))
    result = auto(interfaces)
    assert sorted([result['name']] + [item['name'] for item in result['rejected']]) == sorted(interfaces)
    assert [item['name'] for item in result['rejected']] == ['lo', 'wlan0', 'eth1', 'kvmbr0', 'virbr0', 'vnet0',
                                                             'veth0']


# ---- explicit uplinks ------------------------------------------------------------------------------------------

def explicit(name, *items, **kwargs):
    return choose_uplink(host(LO, WLAN, BRIDGE, OTHER_BRIDGE, facts('eth0', 2), *items), name,
                         kwargs.get('bridge', 'kvmbr0'), kwargs.get('netns'))


def test_explicit_wired_nic():
    result = explicit('eth0')
    assert result['name'] == 'eth0' and result['requested'] == 'eth0'
    assert result['problems'] == [] and result['rejected'] == []
    assert result['reason'].startswith('named explicitly in uplink: a wired NIC (physical Ethernet), with carrier')


@pytest.mark.parametrize('item', [
    facts('veth0', 20, 'veth'),
    facts('tap0', 20, 'tap'),
    facts('mv0', 20, 'macvlan'),
    facts('vx0', 20, 'virtual', link_kind='vxlan'),
])
def test_explicit_virtual_interfaces_are_accepted(item):
    """Namespace machines have only veths: a named veth (tap, macvlan...) is a fine uplink."""
    result = explicit(item['name'], item)
    assert result['name'] == item['name'] and result['problems'] == []
    assert result['reason'] == 'named explicitly in uplink: a %s interface' % item['kind']


def test_explicit_port_of_the_target_bridge_is_fine():
    result = explicit('veth0', facts('veth0', 20, 'veth', master='kvmbr0'))
    assert result['problems'] == [] and result['in_bridge'] == 'kvmbr0'
    assert result['reason'] == 'named explicitly in uplink: a veth interface, already a port of kvmbr0'


def test_explicit_interface_carrying_the_connection_is_reported_not_refused():
    result = explicit('eth9', facts('eth9', 20, addresses=['10.0.0.2/24'], connection=True))
    assert result['problems'] == []
    assert result['carries_connection'] is True and result['addresses'] == ['10.0.0.2/24']


@pytest.mark.parametrize('name, extra, needles', [
    ('nope0', [], ['Interface nope0 does not exist: name an existing interface, or use uplink: auto (wired'
                   ' candidates here: eth0).']),
    ('wlan0', [], ["'wlan0' is a wireless (802.11) station and cannot be a bridge port", 'EOPNOTSUPP',
                   'iw dev wlan0 set 4addr on']),
    ('kvmbr0', [], ['kvmbr0 is the bridge kvmbr0 itself: uplink names the interface to enslave to it']),
    ('virbr0', [], ['virbr0 is a bridge: a bridge cannot be a port of bridge kvmbr0',
                    'use virbr0 itself as the bridge']),
    ('lo', [], ['lo is the loopback interface: it cannot be a bridge port.']),
    ('tun0', [facts('tun0', 20, 'virtual', link_kind='tun', link_type='none')],
     ['tun0 is not an Ethernet interface (link type none)', 'use a tap instead']),
    ('eth3', [facts('eth3', 20, master='virbr0')],
     ['eth3 is already a port of bridge virbr0: release it first (kvmnet.bridge.bridge_port name=eth3'
      ' bridge=virbr0 state=absent)']),
    ('eth4', [facts('eth4', 20, master='bond0', bridge_port=False), facts('bond0', 21, 'virtual', link_kind='bond')],
     ['eth4 is enslaved to bond0 (bond): bridge bond0 instead']),
])
def test_explicit_problems(name, extra, needles):
    result = explicit(name, *extra)
    assert len(result['problems']) == 1
    for needle in needles:
        assert needle in result['problems'][0]
    assert result['rejected'] == []
    if name == 'nope0':
        assert result['name'] is None
        assert result['reason'] == 'named explicitly in uplink, but it does not exist'
    else:
        assert result['name'] == name
        assert result['reason'] == 'named explicitly in uplink, but it cannot be a port of kvmbr0'


def test_explicit_missing_in_a_namespace():
    result = explicit('nope0', netns='lab')
    assert "Interface nope0 does not exist in network namespace 'lab'" in result['problems'][0]


def test_explicit_wireless_with_4addr_says_so():
    result = choose_uplink(host(facts('wlan1', 4, 'wireless', wireless_4addr=True)), 'wlan1', 'kvmbr0')
    assert '4addr is on for wlan1' in result['problems'][0]


# ---- facts from netlink-shaped dicts ---------------------------------------------------------------------------

def link(name, index, kind=None, link_type=1, master=None, up=True, carrier=1, address=None, perm=None,
         operstate='UP', tun=None):
    result = dict(index=index, name=name, kind=kind, link_type=link_type, mtu=1500,
                  address=address or '02:00:00:00:00:%02x' % index, perm_address=perm, up=up, operstate=operstate,
                  carrier=carrier, master=master, bridge={}, port=None, stats={})
    if tun is not None:
        result['tun'] = tun
    return result


def address(text, scope=0):
    ip, prefix = text.split('/')
    return dict(family=6 if ':' in ip else 4, address=ip, prefixlen=int(prefix), scope=scope, flags=0)


def route(oif, family=4, table=254, priority=None):
    return dict(family=family, oif=oif, dst=None, dst_len=0, gateway='10.0.0.1' if family == 4 else 'fe80::1',
                prefsrc=None, priority=priority, table=table, protocol=3, scope=0, type=1)


LINKS = [
    link('lo', 1, link_type=772, address='00:00:00:00:00:00', operstate='UNKNOWN'),
    link('eth0', 2, perm='52:54:00:00:00:02', master=5),
    link('wlan0', 3),
    link('tap0', 4, kind='tun', up=False, carrier=0, operstate='DOWN', tun={'IFLA_TUN_TYPE': 2}),
    link('kvmbr0', 5, kind='bridge'),
    link('eth1', 6, perm='52:54:00:00:00:06'),
]
ADDRESSES = {
    1: [address('127.0.0.1/8', 254), address('::1/128', 254)],
    3: [address('192.168.1.20/24'), address('2001:db8::20/64'), address('fe80::20/64', 253)],
    5: [address('fe80::5/64', 253)],
    6: [address('10.9.0.6/24')],
}
ROUTES = [route(3, 4, priority=600), route(6, 4, priority=100), route(3, 6), route(6, 4, table=100)]
SYSFS = {
    'lo': sysfs_entry(1, False, None, None),
    'eth0': sysfs_entry(2, True, None, None),
    'wlan0': sysfs_entry(3, True, 'phy0', 'wlan'),
    'tap0': sysfs_entry(4, False, None, None),
    'kvmbr0': sysfs_entry(5, False, None, 'bridge'),
    'eth1': sysfs_entry(99, True, None, None),  # another namespace's eth1 (ifindex differs): ignored
}


def test_interface_facts():
    result = interface_facts(LINKS, ADDRESSES, ROUTES, SYSFS, {'wlan0': (False, None)})
    assert list(result) == ['lo', 'eth0', 'wlan0', 'tap0', 'kvmbr0', 'eth1']
    eth0 = result['eth0']
    assert eth0 == dict(name='eth0', index=2, kind='wired', link_kind=None, link_type='ether', physical=True,
                        mac='02:00:00:00:00:02', perm_mac='52:54:00:00:00:02', carrier=True, operstate='up',
                        up=True, mtu=1500, master='kvmbr0', bridge_port=True, addresses=[],
                        default_route=dict(ipv4=False, ipv6=False), carries_connection=False, phy=None,
                        wireless_4addr=None, manager=None, notes=[])
    wlan0 = result['wlan0']
    assert (wlan0['kind'], wlan0['phy'], wlan0['wireless_4addr']) == ('wireless', 'phy0', False)
    assert wlan0['addresses'] == ['192.168.1.20/24', '2001:db8::20/64']  # global only
    assert wlan0['default_route'] == dict(ipv4=True, ipv6=True)
    assert result['lo']['addresses'] == [] and result['lo']['kind'] == 'loopback'
    tap0 = result['tap0']
    assert (tap0['kind'], tap0['link_kind'], tap0['carrier'], tap0['up'], tap0['operstate']) == (
        'tap', 'tun', None, False, 'down')
    assert tap0['notes'] == ['carrier unknown: the interface is down']
    assert result['kvmbr0']['kind'] == 'bridge' and result['kvmbr0']['addresses'] == []
    eth1 = result['eth1']
    assert (eth1['kind'], eth1['physical']) == ('wired', None)
    assert eth1['notes'][0].startswith('sysfs does not show this interface')
    assert eth1['default_route'] == dict(ipv4=True, ipv6=False)  # table 100 counts per interface


def test_main_default_routes_take_the_lowest_metric_of_the_main_table():
    assert main_default_routes(LINKS, ROUTES) == dict(ipv4='eth1', ipv6='wlan0')
    assert main_default_routes(LINKS, [route(6, 4, table=100)]) == dict(ipv4=None, ipv6=None)
    assert main_default_routes(LINKS, [dict(route(42), oif=None)]) == dict(ipv4=None, ipv6=None)


def test_four_addr_states():
    sysfs = dict(SYSFS, wlan1=sysfs_entry(7, True, 'phy1', 'wlan'))
    listed = four_addr_states(sysfs, '\tInterface wlan0\n\t\t4addr: on\n', None)
    assert listed == {'wlan0': (True, None),
                      'wlan1': (None, '4addr unknown: nl80211 (`iw dev`) did not list this interface')}
    assert four_addr_states(sysfs, None, 'missing')['wlan0'] == (
        None, '4addr unknown: iw is not installed, so nl80211 was not asked')
    assert four_addr_states(sysfs, None, 'failed')['wlan0'][1] == (
        '4addr unknown: `iw dev` failed (nl80211 did not answer)')


# ---- the Ansible connection ------------------------------------------------------------------------------------

@pytest.mark.parametrize('given, expected', [
    ('192.168.1.20', ('192.168.1.20', None)),
    (' 192.168.1.20 ', ('192.168.1.20', None)),
    ('::ffff:192.168.1.20', ('192.168.1.20', None)),
    ('[2001:DB8::20]', ('2001:db8::20', None)),
    ('fe80::20%wlan0', ('fe80::20', 'wlan0')),
])
def test_normalise_address(given, expected):
    address, zone = normalise_address(given)
    assert (str(address), zone) == expected


@pytest.mark.parametrize('empty', [None, '', '   '])
def test_empty_connection_address_is_none(empty):
    assert normalise_address(empty) is None


def test_bad_connection_address_is_refused_naming_it():
    with pytest.raises(ValidationError) as caught:
        normalise_address('myhost.example.com')
    assert "connection_address 'myhost.example.com' is not an IP address" in caught.value.msg
    assert 'SSH_CONNECTION' in caught.value.msg
    assert caught.value.details == dict(connection_address='myhost.example.com')


DEFAULTS = dict(ipv4='eth1', ipv6='wlan0')


@pytest.mark.parametrize('given, interface, how, detail', [
    ('192.168.1.20', 'wlan0', 'connection_address', '192.168.1.20 is an address of wlan0'),
    ('2001:db8::20', 'wlan0', 'connection_address', '2001:db8::20 is an address of wlan0'),
    ('fe80::20%wlan0', 'wlan0', 'connection_address', 'fe80::20 is an address of wlan0'),
    ('fe80::20%eth0', 'wlan0', 'default_route',
     'fe80::20 is not an address of any interface here (a NAT address?); the interface of the IPv6 default route'),
    ('10.9.0.6', 'eth1', 'connection_address', '10.9.0.6 is an address of eth1'),
    ('203.0.113.7', 'eth1', 'default_route', '203.0.113.7 is not an address of any interface here (a NAT'
                                             ' address?); the interface of the IPv4 default route'),
    ('2001:db8::99', 'wlan0', 'default_route', '2001:db8::99 is not an address of any interface here (a NAT'
                                               ' address?); the interface of the IPv6 default route'),
    ('127.0.0.1', 'eth1', 'default_route', '127.0.0.1 is a loopback address (a local or port-forwarded'
                                           ' connection): it says nothing about the NICs; the interface of the'
                                           ' IPv4 default route'),
    (None, 'eth1', 'default_route', 'the interface of the IPv4 default route'),
])
def test_find_connection(given, interface, how, detail):
    result = find_connection(LINKS, ADDRESSES, DEFAULTS, given)
    assert result == dict(interface=interface, address=None if how == 'default_route' else given.split('%')[0],
                          how=how, detail=detail)


def test_find_connection_falls_back_to_ipv6_and_then_to_nothing():
    assert find_connection(LINKS, ADDRESSES, dict(ipv4=None, ipv6='wlan0'), None)['interface'] == 'wlan0'
    assert find_connection(LINKS, ADDRESSES, dict(ipv4=None, ipv6=None), '203.0.113.7') == dict(
        interface=None, address=None, how=None,
        detail='203.0.113.7 is not an address of any interface here (a NAT address?); no default route either:'
               ' no interface carries it')


def test_an_address_on_two_interfaces_takes_the_first_and_says_so():
    addresses = dict(ADDRESSES)
    addresses[2] = [address('192.168.1.20/24')]
    result = find_connection(LINKS, addresses, DEFAULTS, '192.168.1.20')
    assert result['interface'] == 'eth0'
    assert result['detail'] == '192.168.1.20 is an address of eth0 (also of wlan0)'


# ---- everything together --------------------------------------------------------------------------------------

def test_inventory_marks_the_connection_and_decides():
    seen = []

    def detect(interfaces):
        seen.append(sorted(interfaces))
        return dict((name, dict(name='none', managed=None, detail='x')) for name in interfaces)

    result = inventory(LINKS, ADDRESSES, ROUTES, SYSFS, detect, '192.168.1.20', 'auto', 'kvmbr0')
    assert seen == [sorted(SYSFS)]
    assert set(result) == {'interfaces', 'connection', 'default_route', 'uplink'}
    assert result['connection']['interface'] == 'wlan0'
    assert [name for name, item in result['interfaces'].items() if item['carries_connection']] == ['wlan0']
    assert result['default_route'] == dict(ipv4='eth1', ipv6='wlan0')
    # eth0 is already in kvmbr0: kept; eth1 has no sysfs view here: not a candidate
    assert result['uplink']['name'] == 'eth0' and result['uplink']['in_bridge'] == 'kvmbr0'
    assert result['interfaces']['eth0']['manager'] == dict(name='none', managed=None, detail='x')


def test_inventory_with_a_namespace_does_not_check_managers():
    result = inventory(LINKS, ADDRESSES, ROUTES, SYSFS, None, None, 'eth1', 'kvmbr0', netns='lab')
    manager = result['interfaces']['eth0']['manager']
    assert manager['name'] == 'none' and manager['managed'] is None
    assert manager['claims'] == [] and manager['renderer'] is None
    assert manager['detail'] == ("not checked: the network managers of this host configure its own network"
                                 " namespace, not 'lab'")
    assert result['connection']['how'] == 'default_route'
    assert result['uplink']['name'] == 'eth1'
    assert result['uplink']['carries_connection'] is True  # the default route's interface
