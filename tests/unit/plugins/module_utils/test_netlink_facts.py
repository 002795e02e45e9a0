# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The link and neighbour decoders of _netlink against messages encoded by pyroute2's own classes (so the
attribute numbers are checked against an independent table), and bridge IDs against wire bytes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _netlink

PORT_VALUES = dict(IFLA_BRPORT_STATE=3, IFLA_BRPORT_PRIORITY=17, IFLA_BRPORT_COST=1234, IFLA_BRPORT_MODE=1,
                   IFLA_BRPORT_GUARD=1, IFLA_BRPORT_PROTECT=1, IFLA_BRPORT_FAST_LEAVE=1, IFLA_BRPORT_LEARNING=0,
                   IFLA_BRPORT_UNICAST_FLOOD=0, IFLA_BRPORT_PROXYARP=1, IFLA_BRPORT_PROXYARP_WIFI=1,
                   IFLA_BRPORT_DESIGNATED_PORT=32770, IFLA_BRPORT_DESIGNATED_COST=5, IFLA_BRPORT_ID=32770,
                   IFLA_BRPORT_NO=2, IFLA_BRPORT_TOPOLOGY_CHANGE_ACK=1, IFLA_BRPORT_CONFIG_PENDING=1,
                   IFLA_BRPORT_MESSAGE_AGE_TIMER=11, IFLA_BRPORT_FORWARD_DELAY_TIMER=12, IFLA_BRPORT_HOLD_TIMER=13,
                   IFLA_BRPORT_MULTICAST_ROUTER=2, IFLA_BRPORT_MCAST_FLOOD=0, IFLA_BRPORT_MCAST_TO_UCAST=1,
                   IFLA_BRPORT_VLAN_TUNNEL=1, IFLA_BRPORT_BCAST_FLOOD=0, IFLA_BRPORT_GROUP_FWD_MASK=8,
                   IFLA_BRPORT_NEIGH_SUPPRESS=1, IFLA_BRPORT_ISOLATED=1)
BRIDGE_VALUES = dict(IFLA_BR_FORWARD_DELAY=250, IFLA_BR_HELLO_TIME=300, IFLA_BR_MAX_AGE=1200,
                     IFLA_BR_AGEING_TIME=12000, IFLA_BR_STP_STATE=1, IFLA_BR_PRIORITY=4096,
                     IFLA_BR_VLAN_FILTERING=1, IFLA_BR_GROUP_FWD_MASK=8, IFLA_BR_ROOT_PORT=3,
                     IFLA_BR_ROOT_PATH_COST=19, IFLA_BR_TOPOLOGY_CHANGE=1, IFLA_BR_TOPOLOGY_CHANGE_DETECTED=1,
                     IFLA_BR_HELLO_TIMER=101, IFLA_BR_TCN_TIMER=102, IFLA_BR_TOPOLOGY_CHANGE_TIMER=103,
                     IFLA_BR_GC_TIMER=104, IFLA_BR_GROUP_ADDR='01:80:c2:00:00:0e', IFLA_BR_MCAST_ROUTER=2,
                     IFLA_BR_MCAST_SNOOPING=0)


def encode(codec, fields, attrs):
    message = _netlink._codec(codec)()
    for key, value in fields.items():
        message[key] = value
    message['attrs'] = attrs
    message.encode()
    return message.data


def decode(function, data):
    return function(data, 0, len(data))


def test_port_link():
    data = encode('ifinfmsg', dict(index=5, flags=1, ifi_type=1), [
        ('IFLA_IFNAME', 'eth0'), ('IFLA_MTU', 9000), ('IFLA_ADDRESS', '52:54:00:AA:BB:CC'), ('IFLA_MASTER', 2),
        ('IFLA_OPERSTATE', 'UP'), ('IFLA_CARRIER', 1),
        ('IFLA_LINKINFO', {'attrs': [
            ('IFLA_INFO_KIND', 'veth'), ('IFLA_INFO_SLAVE_KIND', 'bridge'),
            ('IFLA_INFO_SLAVE_DATA', {'attrs': sorted(PORT_VALUES.items())}),
        ]}),
    ])
    link = decode(_netlink._decode_link, data)
    assert link == dict(index=5, name='eth0', kind='veth', link_type=1, mtu=9000, address='52:54:00:aa:bb:cc',
                        perm_address=None, up=True, operstate='UP', carrier=1, master=2, bridge={},
                        port=PORT_VALUES, stats={})


def test_bridge_link():
    data = encode('ifinfmsg', dict(index=2, flags=0, ifi_type=1), [
        ('IFLA_IFNAME', 'kvmbr0'),
        ('IFLA_LINKINFO', {'attrs': [('IFLA_INFO_KIND', 'bridge'),
                                     ('IFLA_INFO_DATA', {'attrs': sorted(BRIDGE_VALUES.items())})]}),
    ])
    link = decode(_netlink._decode_link, data)
    assert link['kind'] == 'bridge' and link['port'] is None and link['up'] is False
    assert link['bridge'] == BRIDGE_VALUES


def test_stats64():
    values = dict(rx_packets=1, tx_packets=2, rx_bytes=3, tx_bytes=4, rx_errors=5, tx_errors=6, rx_dropped=7,
                  tx_dropped=8)
    data = encode('ifinfmsg', dict(index=3), [('IFLA_IFNAME', 'vnet0'), ('IFLA_STATS64', values)])
    assert decode(_netlink._decode_link, data)['stats'] == values


@pytest.mark.parametrize('wire, priority', [(b'\x80\x00', 0x8000), (b'\x10\x00', 0x1000), (b'\x00\x01', 1),
                                            (b'\xff\xfe', 0xfffe)])
def test_bridge_id_priority_is_big_endian_on_the_wire(wire, priority):
    data = wire + b'\x52\x54\x00\xaa\xbb\xcc'
    assert _netlink._bridge_id(data, 0, len(data)) == dict(priority=priority, address='52:54:00:aa:bb:cc')


def test_fdb_entry():
    data = encode('ndmsg', dict(family=7, ifindex=4, state=0x80, flags=0x02), [
        ('NDA_LLADDR', '52:54:00:12:34:56'), ('NDA_MASTER', 2), ('NDA_VLAN', 10),
        ('NDA_CACHEINFO', dict(ndm_confirmed=1, ndm_used=250, ndm_updated=300, ndm_refcnt=0)),
    ])
    assert decode(_netlink._decode_neigh, data) == dict(mac='52:54:00:12:34:56', ifindex=4, master=2, vlan=10,
                                                        state=0x80, flags=0x02, updated=300, used=250)


def test_unknown_and_truncated_attributes_are_skipped():
    data = encode('ifinfmsg', dict(index=9), [('IFLA_IFNAME', 'x0')])
    # a trailing attribute of an unknown type, then a bogus length 0 header: decoding stops there
    data += struct.pack('=HH', 8, 999) + b'\x00' * 4 + struct.pack('=HH', 0, 1)
    assert decode(_netlink._decode_link, data)['name'] == 'x0'


def _attr(kind, payload):
    """One netlink attribute from raw bytes (header, payload, padding to 4 bytes)."""
    data = struct.pack('=HH', 4 + len(payload), kind) + payload
    return data + b'\0' * (-len(data) % 4)


def _tun_message(info_data):
    """An RTM_NEWLINK for tap 'tap0' (ifindex 7) built with raw struct bytes, IFLA_INFO_DATA = ``info_data``."""
    linkinfo = _attr(1, b'tun\0') + _attr(2, info_data)  # IFLA_INFO_KIND, IFLA_INFO_DATA
    body = struct.pack('=BxHiII', 0, 1, 7, 0, 0) + _attr(3, b'tap0\0') + _attr(18, linkinfo)  # IFNAME, LINKINFO
    return struct.pack('=LHHLL', 16 + len(body), 16, 0, 0, 0) + body


def test_tun_info_data_from_raw_bytes():
    info = (_attr(1, struct.pack('=I', 1000)) + _attr(2, struct.pack('=I', 104)) + _attr(3, struct.pack('=B', 2))
            + _attr(4, struct.pack('=B', 0)) + _attr(5, struct.pack('=B', 1)) + _attr(6, struct.pack('=B', 1))
            + _attr(7, struct.pack('=B', 0)) + _attr(8, struct.pack('=I', 1)) + _attr(9, struct.pack('=I', 0))
            + _attr(10, struct.pack('=I', 99)))  # a newer attribute this decoder does not know: skipped
    link = decode(_netlink._decode_link, _tun_message(info))
    assert link['name'] == 'tap0' and link['kind'] == 'tun' and link['index'] == 7
    assert link['tun'] == dict(IFLA_TUN_OWNER=1000, IFLA_TUN_GROUP=104, IFLA_TUN_TYPE=2, IFLA_TUN_PI=0,
                               IFLA_TUN_VNET_HDR=1, IFLA_TUN_PERSIST=1, IFLA_TUN_MULTI_QUEUE=0,
                               IFLA_TUN_NUM_QUEUES=1, IFLA_TUN_NUM_DISABLED_QUEUES=0)


def test_tun_without_owner_and_unset_owner():
    # the kernel leaves OWNER/GROUP out when none is set; (uid_t) -1 is the "unset" value
    info = _attr(1, struct.pack('=I', 0xFFFFFFFF)) + _attr(3, struct.pack('=B', 1)) + _attr(6, struct.pack('=B', 0))
    link = decode(_netlink._decode_link, _tun_message(info))
    assert link['tun'] == dict(IFLA_TUN_OWNER=0xFFFFFFFF, IFLA_TUN_TYPE=1, IFLA_TUN_PERSIST=0)


def test_tun_key_only_for_tun_links():
    data = encode('ifinfmsg', dict(index=3), [('IFLA_IFNAME', 'eth0')])
    assert 'tun' not in decode(_netlink._decode_link, data)


def test_tap_flags_keep_those_of_an_existing_tap():
    assert _netlink.tap_flags() == _netlink.IFF_TAP | _netlink.IFF_NO_PI
    assert _netlink.tap_flags(dict(IFLA_TUN_PI=1, IFLA_TUN_VNET_HDR=1)) == _netlink.IFF_TAP | _netlink.IFF_VNET_HDR
    assert _netlink.tap_flags(dict(IFLA_TUN_PI=0, IFLA_TUN_MULTI_QUEUE=1)) == (
        _netlink.IFF_TAP | _netlink.IFF_NO_PI | _netlink.IFF_MULTI_QUEUE)
