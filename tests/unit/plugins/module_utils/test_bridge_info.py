# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._bridge_info import (
    brctl_show,
    brctl_showmacs,
    brctl_showstp,
    brctl_text,
    brctl_timer,
    bridge_facts,
    bridge_id_text,
    fdb_facts,
    hundredths_to_seconds,
    port_facts,
    port_id_text,
    stp_state_name,
)

BR_ID = dict(priority=4096, address='52:54:00:aa:bb:cc')


def port_link(name='v0', index=4, number=1, **raw):
    port = dict(IFLA_BRPORT_STATE=3, IFLA_BRPORT_PRIORITY=32, IFLA_BRPORT_COST=2, IFLA_BRPORT_MODE=0,
                IFLA_BRPORT_GUARD=0, IFLA_BRPORT_PROTECT=0, IFLA_BRPORT_LEARNING=1, IFLA_BRPORT_UNICAST_FLOOD=1,
                IFLA_BRPORT_MCAST_FLOOD=1, IFLA_BRPORT_ISOLATED=0, IFLA_BRPORT_NEIGH_SUPPRESS=0,
                IFLA_BRPORT_ROOT_ID=BR_ID, IFLA_BRPORT_BRIDGE_ID=BR_ID, IFLA_BRPORT_DESIGNATED_PORT=0x8000 + number,
                IFLA_BRPORT_DESIGNATED_COST=0, IFLA_BRPORT_ID=0x8000 + number, IFLA_BRPORT_NO=number,
                IFLA_BRPORT_TOPOLOGY_CHANGE_ACK=0, IFLA_BRPORT_CONFIG_PENDING=0, IFLA_BRPORT_MESSAGE_AGE_TIMER=0,
                IFLA_BRPORT_FORWARD_DELAY_TIMER=0, IFLA_BRPORT_HOLD_TIMER=0)
    port.update(raw)
    return dict(index=index, name=name, kind='veth', mtu=1500, address='1e:6e:fd:77:bc:b3', up=True, master=2,
                bridge={}, port=port, stats=dict(rx_bytes=10, tx_bytes=20, rx_packets=1, tx_packets=2, rx_errors=0,
                                                 tx_errors=0, rx_dropped=0, tx_dropped=0))


def bridge_link(name='br0', index=2, **raw):
    info = dict(IFLA_BR_STP_STATE=0, IFLA_BR_FORWARD_DELAY=1500, IFLA_BR_HELLO_TIME=200, IFLA_BR_MAX_AGE=2000,
                IFLA_BR_AGEING_TIME=30000, IFLA_BR_PRIORITY=4096, IFLA_BR_MCAST_SNOOPING=1,
                IFLA_BR_VLAN_FILTERING=0, IFLA_BR_GROUP_FWD_MASK=0, IFLA_BR_BRIDGE_ID=BR_ID, IFLA_BR_ROOT_ID=BR_ID,
                IFLA_BR_ROOT_PORT=0, IFLA_BR_ROOT_PATH_COST=0, IFLA_BR_TOPOLOGY_CHANGE=0,
                IFLA_BR_TOPOLOGY_CHANGE_DETECTED=0, IFLA_BR_HELLO_TIMER=0, IFLA_BR_TCN_TIMER=0,
                IFLA_BR_TOPOLOGY_CHANGE_TIMER=0, IFLA_BR_GC_TIMER=4991)
    info.update(raw)
    return dict(index=index, name=name, kind='bridge', mtu=1500, address='52:54:00:aa:bb:cc', up=True,
                master=None, bridge=info, port=None, stats={})


def fdb_entry(mac, ifindex, state, updated=0, vlan=None):
    return dict(mac=mac, ifindex=ifindex, master=2, vlan=vlan, state=state, flags=0, updated=updated, used=updated)


# ---- units ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('raw, seconds', [(None, None), (0, 0), (1500, 15), (7, 0.07), (29993, 299.93), (250, 2.5)])
def test_hundredths_to_seconds(raw, seconds):
    assert hundredths_to_seconds(raw) == seconds


@pytest.mark.parametrize('bridge_id, text', [
    (dict(priority=32768, address='52:54:00:AA:BB:CC'), '8000.525400aabbcc'),
    (dict(priority=4096, address='02:00:00:00:00:01'), '1000.020000000001'),
    (dict(priority=0, address='00:00:00:00:00:00'), '0000.000000000000'),
    (dict(priority=65535, address='ff:ff:ff:ff:ff:fe'), 'ffff.fffffffffffe'),
    (None, None),
])
def test_bridge_id_text(bridge_id, text):
    assert bridge_id_text(bridge_id) == text


@pytest.mark.parametrize('value, text', [(0x8001, '8001'), (1, '0001'), (0xffff, 'ffff'), (None, None)])
def test_port_id_text(value, text):
    assert port_id_text(value) == text


@pytest.mark.parametrize('value, name', [(0, 'disabled'), (1, 'listening'), (2, 'learning'), (3, 'forwarding'),
                                         (4, 'blocking'), (7, '7'), (None, None)])
def test_stp_state_name(value, name):
    assert stp_state_name(value) == name


@pytest.mark.parametrize('seconds, text', [(0, '   0.00'), (None, '   0.00'), (20, '  20.00'), (0.07, '   0.07'),
                                           (299.93, ' 299.93'), (1000000, '1000000.00'), (2.5, '   2.50')])
def test_brctl_timer(seconds, text):
    assert brctl_timer(seconds) == text


# ---- facts ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('raw, expected', [
    ({}, dict(cost=2, priority=32, hairpin=False, learning=True, unicast_flood=True, mcast_flood=True,
              bpdu_guard=False, root_block=False, isolated=False, neigh_suppress=False, stp_state='forwarding')),
    (dict(IFLA_BRPORT_COST=100, IFLA_BRPORT_PRIORITY=7, IFLA_BRPORT_MODE=1, IFLA_BRPORT_LEARNING=0,
          IFLA_BRPORT_UNICAST_FLOOD=0, IFLA_BRPORT_MCAST_FLOOD=0, IFLA_BRPORT_GUARD=1, IFLA_BRPORT_PROTECT=1,
          IFLA_BRPORT_ISOLATED=1, IFLA_BRPORT_NEIGH_SUPPRESS=1, IFLA_BRPORT_STATE=4),
     dict(cost=100, priority=7, hairpin=True, learning=False, unicast_flood=False, mcast_flood=False,
          bpdu_guard=True, root_block=True, isolated=True, neigh_suppress=True, stp_state='blocking')),
])
def test_port_facts_use_bridge_port_option_names(raw, expected):
    facts = port_facts(port_link(**raw), 'br0')
    assert dict((key, facts[key]) for key in expected) == expected
    assert facts['bridge'] == 'br0'
    assert facts['port_id'] == '8001' and facts['designated_root'] == '1000.525400aabbcc'
    assert facts['stats']['tx_bytes'] == 20


@pytest.mark.parametrize('state, updated, local, static, ageing', [
    (0x80, 5000, True, False, 0),     # local (permanent): never ages, brctl shows 0.00
    (0x40, 5000, False, True, 0),     # static
    (0x02, 307, False, False, 3.07),  # learned, reachable
    (0x04, 29000, False, False, 290),  # learned, stale
])
def test_fdb_facts_flags_and_ageing(state, updated, local, static, ageing):
    fact = fdb_facts([fdb_entry('02:00:00:00:00:01', 4, state, updated)], {4: 'v0'})[0]
    assert fact == dict(mac='02:00:00:00:00:01', port='v0', vlan=None, local=local, static=static,
                        ageing_timer=ageing)


def test_fdb_facts_sorted_by_mac_then_port():
    entries = [fdb_entry('ae:00:00:00:00:01', 5, 2), fdb_entry('1e:00:00:00:00:01', 4, 0x80),
               fdb_entry('1e:00:00:00:00:01', 2, 0x80)]
    facts = fdb_facts(entries, {2: 'br0', 4: 'v0', 5: 'v1'})
    assert [(fact['mac'], fact['port']) for fact in facts] == [
        ('1e:00:00:00:00:01', 'br0'), ('1e:00:00:00:00:01', 'v0'), ('ae:00:00:00:00:01', 'v1')]


def test_bridge_facts_reuse_linux_bridge_names_and_units():
    facts = bridge_facts(bridge_link(), [port_link('v1', 5, 2), port_link('v0', 4, 1)], [])
    assert dict((key, facts[key]) for key in ('name', 'state', 'stp', 'forward_delay', 'hello_time', 'max_age',
                                              'ageing_time', 'priority', 'mac', 'mtu', 'up')) == dict(
        name='br0', state='present', stp=False, forward_delay=15, hello_time=2, max_age=20, ageing_time=300,
        priority=4096, mac='52:54:00:aa:bb:cc', mtu=1500, up=True)
    assert facts['bridge_id'] == facts['designated_root'] == '1000.525400aabbcc'
    assert [port['name'] for port in facts['ports']] == ['v0', 'v1']
    assert facts['timers'] == dict(hello_timer=0, tcn_timer=0, topology_change_timer=0, gc_timer=49.91)


# ---- brctl layouts -------------------------------------------------------------------------------------------

HEADER = 'bridge name\tbridge id\t\tSTP enabled\tinterfaces\n'


@pytest.mark.parametrize('bridges, expected', [
    ([], ''),
    ([bridge_facts(bridge_link(), [], [])], HEADER + 'br0\t\t1000.525400aabbcc\tno\t\t\n'),
    ([bridge_facts(bridge_link(IFLA_BR_STP_STATE=1), [port_link('v1', 5, 2), port_link('v0', 4, 1)], [])],
     HEADER + 'br0\t\t1000.525400aabbcc\tyes\t\tv0\n\t\t\t\t\t\t\tv1\n'),
    ([bridge_facts(bridge_link('kvmbr1', 3), [], []), bridge_facts(bridge_link('br0'), [port_link()], [])],
     HEADER + 'br0\t\t1000.525400aabbcc\tno\t\tv0\nkvmbr1\t\t1000.525400aabbcc\tno\t\t\n'),
])
def test_brctl_show(bridges, expected):
    assert brctl_show(bridges) == expected


def test_brctl_showmacs_lists_port_entries_sorted_by_mac():
    bridge = bridge_facts(bridge_link(), [port_link()], [
        fdb_entry('ae:f5:a0:a0:b8:32', 4, 2, 7), fdb_entry('52:54:00:aa:bb:cc', 2, 0x80, 100),
        fdb_entry('1e:6e:fd:77:bc:b3', 4, 0x80, 100)])
    assert brctl_showmacs(bridge) == (
        'port no\tmac addr\t\tis local?\tageing timer\n'
        '  1\t1e:6e:fd:77:bc:b3\tyes\t\t   0.00\n'
        '  1\tae:f5:a0:a0:b8:32\tno\t\t   0.07\n')


# Captured from `brctl showstp br0` (bridge-utils 1.7.1) on the bridge the fixtures describe.
SHOWSTP = (
    'br0\n bridge id\t\t1000.525400aabbcc\n designated root\t1000.525400aabbcc\n'
    ' root port\t\t   0\t\t\tpath cost\t\t   0\n max age\t\t  20.00\t\t\tbridge max age\t\t  20.00\n'
    ' hello time\t\t   2.00\t\t\tbridge hello time\t   2.00\n'
    ' forward delay\t\t  15.00\t\t\tbridge forward delay\t  15.00\n ageing time\t\t 300.00\n'
    ' hello timer\t\t   0.00\t\t\ttcn timer\t\t   0.00\n'
    ' topology change timer\t   0.00\t\t\tgc timer\t\t  49.91\n flags\t\t\t\n\n\n'
    'v0 (1)\n port id\t\t8001\t\t\tstate\t\t     forwarding\n'
    ' designated root\t1000.525400aabbcc\tpath cost\t\t   2\n'
    ' designated bridge\t1000.525400aabbcc\tmessage age timer\t   0.00\n'
    ' designated port\t8001\t\t\tforward delay timer\t   0.00\n'
    ' designated cost\t   0\t\t\thold timer\t\t   0.00\n flags\t\t\t\n hairpin mode\t\t   1\n\n'
)


def test_brctl_showstp_matches_captured_brctl_output():
    bridge = bridge_facts(bridge_link(), [port_link(IFLA_BRPORT_MODE=1)], [])
    assert brctl_showstp(bridge) == SHOWSTP


@pytest.mark.parametrize('bridge_raw, port_raw, bridge_flags, port_flags', [
    ({}, {}, '', ''),
    (dict(IFLA_BR_TOPOLOGY_CHANGE=1), {}, 'TOPOLOGY_CHANGE ', ''),
    (dict(IFLA_BR_TOPOLOGY_CHANGE=1, IFLA_BR_TOPOLOGY_CHANGE_DETECTED=1), {},
     'TOPOLOGY_CHANGE TOPOLOGY_CHANGE_DETECTED ', ''),
    ({}, dict(IFLA_BRPORT_CONFIG_PENDING=1, IFLA_BRPORT_TOPOLOGY_CHANGE_ACK=1), '',
     'CONFIG_PENDING TOPOLOGY_CHANGE_ACK '),
])
def test_brctl_showstp_flags(bridge_raw, port_raw, bridge_flags, port_flags):
    text = brctl_showstp(bridge_facts(bridge_link(**bridge_raw), [port_link(**port_raw)], []))
    assert ' flags\t\t\t%s\n\n\n' % bridge_flags in text
    assert text.endswith(' flags\t\t\t%s\n\n' % port_flags)


def test_brctl_text_structure():
    bridges = [bridge_facts(bridge_link(), [port_link()], [])]
    text = brctl_text(bridges)
    assert sorted(text) == ['show', 'showmacs', 'showstp']
    assert list(text['showmacs']) == list(text['showstp']) == ['br0']
