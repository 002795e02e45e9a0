# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_nlcodec against pyroute2's own message classes, an independent table of the kernel's numbers: replies
encoded by pyroute2 decode to the expected dicts, our requests are byte for byte what pyroute2 encodes; and the
length checks on hand-made broken bytes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import struct
import subprocess
import sys

import pytest
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.ndmsg import ndmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from ansible_collections.kvmnet.bridge.plugins.module_utils import _nlcodec as nl

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
TUN_VALUES = dict(IFLA_TUN_OWNER=1000, IFLA_TUN_GROUP=104, IFLA_TUN_TYPE=2, IFLA_TUN_PI=0, IFLA_TUN_VNET_HDR=1,
                  IFLA_TUN_PERSIST=1, IFLA_TUN_MULTI_QUEUE=0, IFLA_TUN_NUM_QUEUES=1, IFLA_TUN_NUM_DISABLED_QUEUES=0)


def encode(cls, fields, attrs, header=None):
    """Bytes of one message encoded by pyroute2's class ``cls``."""
    message = cls()
    for key, value in fields.items():
        message[key] = value
    message['attrs'] = attrs
    for key, value in (header or {}).items():
        message['header'][key] = value
    message.encode()
    return message.data


def decode(function, data):
    return function(data, 0, len(data))


# ---- links ----------------------------------------------------------------------------------------------

def test_port_link():
    data = encode(ifinfmsg, dict(index=5, flags=1, ifi_type=1), [
        ('IFLA_IFNAME', 'eth0'), ('IFLA_MTU', 9000), ('IFLA_ADDRESS', '52:54:00:AA:BB:CC'), ('IFLA_MASTER', 2),
        ('IFLA_OPERSTATE', 'UP'), ('IFLA_CARRIER', 1),
        ('IFLA_LINKINFO', {'attrs': [
            ('IFLA_INFO_KIND', 'veth'), ('IFLA_INFO_SLAVE_KIND', 'bridge'),
            ('IFLA_INFO_SLAVE_DATA', {'attrs': sorted(PORT_VALUES.items())}),
        ]}),
    ])
    link = decode(nl.decode_link, data)
    assert link == dict(index=5, name='eth0', kind='veth', link_type=1, mtu=9000, address='52:54:00:aa:bb:cc',
                        perm_address=None, up=True, operstate='UP', carrier=1, master=2, bridge={},
                        port=PORT_VALUES, stats={})
    assert nl.link_index(data, 0, len(data)) == 5


def test_bridge_link():
    data = encode(ifinfmsg, dict(index=2, flags=0, ifi_type=1), [
        ('IFLA_IFNAME', 'kvmbr0'),
        ('IFLA_LINKINFO', {'attrs': [('IFLA_INFO_KIND', 'bridge'),
                                     ('IFLA_INFO_DATA', {'attrs': sorted(BRIDGE_VALUES.items())})]}),
    ])
    link = decode(nl.decode_link, data)
    assert link['kind'] == 'bridge' and link['port'] is None and link['up'] is False
    assert link['bridge'] == BRIDGE_VALUES


def test_stats64():
    values = dict(rx_packets=1, tx_packets=2, rx_bytes=3, tx_bytes=4, rx_errors=5, tx_errors=6, rx_dropped=7,
                  tx_dropped=8)
    data = encode(ifinfmsg, dict(index=3), [('IFLA_IFNAME', 'vnet0'), ('IFLA_STATS64', values)])
    assert decode(nl.decode_link, data)['stats'] == values


@pytest.mark.parametrize('wire, priority', [(b'\x80\x00', 0x8000), (b'\x10\x00', 0x1000), (b'\x00\x01', 1),
                                            (b'\xff\xfe', 0xfffe)])
def test_bridge_id_priority_is_big_endian_on_the_wire(wire, priority):
    data = wire + b'\x52\x54\x00\xaa\xbb\xcc'
    assert nl.read(nl.BRIDGE_ID, data, 0, len(data)) == dict(priority=priority, address='52:54:00:aa:bb:cc')


def test_tun_attributes_encoded_by_pyroute2():
    data = encode(ifinfmsg, dict(index=7, ifi_type=1), [
        ('IFLA_IFNAME', 'tap0'),
        ('IFLA_LINKINFO', {'attrs': [('IFLA_INFO_KIND', 'tun'),
                                     ('IFLA_INFO_DATA', {'attrs': sorted(TUN_VALUES.items())})]}),
    ])
    link = decode(nl.decode_link, data)
    assert link['name'] == 'tap0' and link['kind'] == 'tun' and link['index'] == 7
    assert link['tun'] == TUN_VALUES


def test_tun_without_owner_and_unset_owner():
    # the kernel leaves OWNER/GROUP out when none is set; (uid_t) -1 is the "unset" value
    attrs = [('IFLA_TUN_OWNER', 0xFFFFFFFF), ('IFLA_TUN_TYPE', 1), ('IFLA_TUN_PERSIST', 0)]
    data = encode(ifinfmsg, dict(index=7), [
        ('IFLA_IFNAME', 'tun0'), ('IFLA_LINKINFO', {'attrs': [('IFLA_INFO_KIND', 'tun'),
                                                              ('IFLA_INFO_DATA', {'attrs': attrs})]})])
    assert decode(nl.decode_link, data)['tun'] == dict(IFLA_TUN_OWNER=0xFFFFFFFF, IFLA_TUN_TYPE=1,
                                                       IFLA_TUN_PERSIST=0)


def test_tun_key_only_for_tun_links_with_info_data():
    assert 'tun' not in decode(nl.decode_link, encode(ifinfmsg, dict(index=3), [('IFLA_IFNAME', 'eth0')]))
    bare = encode(ifinfmsg, dict(index=3), [('IFLA_IFNAME', 'tun0'),
                                            ('IFLA_LINKINFO', {'attrs': [('IFLA_INFO_KIND', 'tun')]})])
    assert 'tun' not in decode(nl.decode_link, bare)


def test_bridge_vlans_of_a_port():
    data = encode(ifinfmsg, dict(family=socket.AF_BRIDGE if hasattr(socket, 'AF_BRIDGE') else 7, index=4), [
        ('IFLA_IFNAME', 'eth0'), ('IFLA_MASTER', 2),
        ('IFLA_AF_SPEC', {'attrs': [('IFLA_BRIDGE_VLAN_INFO', {'flags': 6, 'vid': 1}),
                                    ('IFLA_BRIDGE_VLAN_INFO', {'flags': 0, 'vid': 10}),
                                    ('IFLA_BRIDGE_VLAN_INFO', {'flags': 4, 'vid': 20})]}),
    ])
    assert decode(nl.decode_bridge_vlans, data) == dict(index=4, vlans=[
        dict(vid=1, pvid=True, untagged=True), dict(vid=10, pvid=False, untagged=False),
        dict(vid=20, pvid=False, untagged=True)])


def test_bridge_vlan_ranges_are_expanded():
    data = encode(ifinfmsg, dict(family=7, index=4), [
        ('IFLA_AF_SPEC', {'attrs': [('IFLA_BRIDGE_VLAN_INFO', {'flags': nl.BRIDGE_VLAN_INFO_RANGE_BEGIN, 'vid': 5}),
                                    ('IFLA_BRIDGE_VLAN_INFO', {'flags': nl.BRIDGE_VLAN_INFO_RANGE_END, 'vid': 7})]}),
    ])
    assert [entry['vid'] for entry in decode(nl.decode_bridge_vlans, data)['vlans']] == [5, 6, 7]


# ---- FDB, addresses, routes -----------------------------------------------------------------------------

def test_fdb_entry():
    data = encode(ndmsg, dict(family=7, ifindex=4, state=0x80, flags=0x02), [
        ('NDA_LLADDR', '52:54:00:12:34:56'), ('NDA_MASTER', 2), ('NDA_VLAN', 10),
        ('NDA_CACHEINFO', dict(ndm_confirmed=1, ndm_used=250, ndm_updated=300, ndm_refcnt=0)),
    ])
    assert decode(nl.decode_neigh, data) == dict(mac='52:54:00:12:34:56', ifindex=4, master=2, vlan=10,
                                                 state=0x80, flags=0x02, updated=300, used=250)


def test_ipv4_address_is_the_local_one():
    data = encode(ifaddrmsg, dict(family=socket.AF_INET, prefixlen=24, flags=0x80, scope=0, index=3), [
        ('IFA_ADDRESS', '10.0.0.9'), ('IFA_LOCAL', '10.0.0.1'), ('IFA_LABEL', 'eth0'), ('IFA_FLAGS', 0x180)])
    assert decode(nl.decode_address, data) == dict(index=3, family=4, address='10.0.0.1', prefixlen=24, scope=0,
                                                   flags=0x180)


def test_ipv6_address_without_ifa_flags():
    data = encode(ifaddrmsg, dict(family=socket.AF_INET6, prefixlen=64, flags=0x02, scope=253, index=5), [
        ('IFA_ADDRESS', 'fe80::5054:ff:fe12:3456')])
    assert decode(nl.decode_address, data) == dict(index=5, family=6, address='fe80::5054:ff:fe12:3456',
                                                   prefixlen=64, scope=253, flags=0x02)


def test_route():
    data = encode(rtmsg, dict(family=socket.AF_INET, dst_len=24, table=252, proto=4, scope=0, type=1,
                              flags=0), [
        ('RTA_DST', '10.9.0.0'), ('RTA_OIF', 5), ('RTA_GATEWAY', '10.0.0.254'), ('RTA_PRIORITY', 50),
        ('RTA_PREFSRC', '10.0.0.1'), ('RTA_TABLE', 1000)])
    assert decode(nl.decode_route, data) == dict(family=4, oif=5, dst='10.9.0.0', dst_len=24, gateway='10.0.0.254',
                                                 prefsrc='10.0.0.1', priority=50, table=1000, protocol=4, scope=0,
                                                 type=1, multipath=False, cloned=False)


def test_ipv6_default_multipath_and_cloned_routes():
    data = encode(rtmsg, dict(family=socket.AF_INET6, dst_len=0, table=254, proto=9, type=1,
                              flags=nl.RTM_F_CLONED), [
        ('RTA_TABLE', 254), ('RTA_MULTIPATH', [{'oif': 5, 'attrs': [('RTA_GATEWAY', 'fe80::1')]}])])
    route = decode(nl.decode_route, data)
    assert route['family'] == 6 and route['dst'] is None and route['oif'] is None
    assert route['multipath'] is True and route['cloned'] is True
    assert nl.route_header(data, 0, len(data))['dst_len'] == 0


# ---- requests: byte for byte what pyroute2 encodes --------------------------------------------------------

def request_header(msg_type, sequence, dump):
    return dict(type=msg_type, flags=nl.NLM_F_REQUEST | (nl.NLM_F_DUMP if dump else 0), sequence_number=sequence)


@pytest.mark.parametrize('ours, cls, fields, attrs, msg_type, dump', [
    (nl.request(nl.RTM_GETLINK, 1, nl.ifinfomsg(), [nl.string_attr(nl.IFLA_IFNAME, 'kvmbr0')]),
     ifinfmsg, {}, [('IFLA_IFNAME', 'kvmbr0')], nl.RTM_GETLINK, False),
    (nl.request(nl.RTM_GETLINK, 2, nl.ifinfomsg(index=42)), ifinfmsg, dict(index=42), [], nl.RTM_GETLINK, False),
    (nl.request(nl.RTM_GETLINK, 3, nl.ifinfomsg(), [nl.u32_attr(nl.IFLA_MASTER, 7)], dump=True),
     ifinfmsg, {}, [('IFLA_MASTER', 7)], nl.RTM_GETLINK, True),
    (nl.request(nl.RTM_GETLINK, 4, nl.ifinfomsg(),
                [nl.nested_attr(nl.IFLA_LINKINFO, nl.string_attr(nl.IFLA_INFO_KIND, 'bridge'))], dump=True),
     ifinfmsg, {}, [('IFLA_LINKINFO', {'attrs': [('IFLA_INFO_KIND', 'bridge')]})], nl.RTM_GETLINK, True),
    (nl.request(nl.RTM_GETLINK, 5, nl.ifinfomsg(7), [nl.u32_attr(nl.IFLA_EXT_MASK, nl.RTEXT_FILTER_BRVLAN)],
                dump=True),
     ifinfmsg, dict(family=7), [('IFLA_EXT_MASK', 2)], nl.RTM_GETLINK, True),
    (nl.request(nl.RTM_GETADDR, 6, nl.ifaddrmsg(index=9), dump=True), ifaddrmsg, dict(index=9), [],
     nl.RTM_GETADDR, True),
    (nl.request(nl.RTM_GETROUTE, 7, nl.rtmsg(socket.AF_INET6), [nl.u32_attr(nl.RTA_OIF, 9)], dump=True),
     rtmsg, dict(family=socket.AF_INET6), [('RTA_OIF', 9)], nl.RTM_GETROUTE, True),
    (nl.request(nl.RTM_GETNEIGH, 8, nl.ndmsg(7), [nl.u32_attr(nl.NDA_MASTER, 3)], dump=True),
     ndmsg, dict(family=7), [('NDA_MASTER', 3)], nl.RTM_GETNEIGH, True),
])
def test_requests_match_pyroute2(ours, cls, fields, attrs, msg_type, dump):
    sequence = struct.unpack_from('=I', ours, 8)[0]
    assert ours == encode(cls, fields, attrs, request_header(msg_type, sequence, dump))


# ---- framing and length checks ----------------------------------------------------------------------------

def test_messages_splits_a_buffer():
    one = encode(ifinfmsg, dict(index=1), [('IFLA_IFNAME', 'a')], dict(sequence_number=5, flags=nl.NLM_F_MULTI))
    two = encode(ifinfmsg, dict(index=2), [('IFLA_IFNAME', 'bb')], dict(sequence_number=5, flags=nl.NLM_F_MULTI))
    found = list(nl.messages(one + two))
    assert [(offset, length, sequence) for offset, length, dummy, dummy, sequence in found] == [
        (0, len(one), 5), (len(one), len(two), 5)]


@pytest.mark.parametrize('data', [
    b'\x10\x00\x00',  # shorter than a header
    struct.pack('=LHHLL', 64, 16, 0, 1, 0) + b'\0' * 16,  # claims more than the buffer holds
    struct.pack('=LHHLL', 8, 16, 0, 1, 0) + b'\0' * 8,  # claims less than its own header
])
def test_truncated_messages_raise_decode_error(data):
    with pytest.raises(nl.DecodeError):
        list(nl.messages(data))


@pytest.mark.parametrize('function', [nl.decode_link, nl.decode_neigh, nl.decode_address, nl.decode_route,
                                      nl.decode_bridge_vlans])
def test_message_shorter_than_its_fixed_header(function):
    data = struct.pack('=LHHLL', 20, 16, 0, 1, 0) + b'\0' * 4
    with pytest.raises(nl.DecodeError, match='shorter than its header'):
        decode(function, data)


def _with_trailing(data, extra):
    """``data`` (one message) with ``extra`` bytes appended and its length field grown to match."""
    data = data + extra
    return struct.pack('=L', len(data)) + data[4:]


def test_unknown_attributes_are_skipped():
    data = _with_trailing(encode(ifinfmsg, dict(index=9), [('IFLA_IFNAME', 'x0')]),
                          struct.pack('=HH', 8, 999) + b'\0' * 4 + b'\0\0')  # unknown type, then 2 padding bytes
    assert decode(nl.decode_link, data)['name'] == 'x0'


@pytest.mark.parametrize('bad', [struct.pack('=HH', 0, 3) + b'\0' * 4,  # length below the attribute header
                                 struct.pack('=HH', 40, 3) + b'x0\0\0'])  # runs past the end of the message
def test_malformed_attribute_raises_decode_error(bad):
    data = _with_trailing(encode(ifinfmsg, dict(index=9), [('IFLA_MTU', 1500)]), bad)
    with pytest.raises(nl.DecodeError, match='claims'):
        decode(nl.decode_link, data)


def test_attribute_too_short_for_its_type_is_left_out():
    # IFLA_MTU (u32) with 2 bytes, IFLA_MASTER (u32) with none, IFLA_OPERSTATE (u8) empty: no struct.error
    data = _with_trailing(encode(ifinfmsg, dict(index=9), [('IFLA_IFNAME', 'x0')]),
                          struct.pack('=HH', 6, nl.IFLA_MTU) + b'\x05\xdc\0\0' + struct.pack('=HH', 4, nl.IFLA_MASTER)
                          + struct.pack('=HH', 4, nl.IFLA_OPERSTATE))
    link = decode(nl.decode_link, data)
    assert link['name'] == 'x0' and link['mtu'] is None and link['master'] is None and link['operstate'] is None


def test_short_bridge_id_and_address_are_left_out():
    nested = struct.pack('=HH', 8, 10) + b'\x80\x00\x52\x54'  # IFLA_BR_ROOT_ID: 4 of its 8 bytes
    linkinfo = nl.string_attr(nl.IFLA_INFO_KIND, 'bridge') + nl.attr(nl.IFLA_INFO_DATA, nested)
    data = _with_trailing(encode(ifinfmsg, dict(index=2), []), nl.attr(nl.IFLA_LINKINFO, linkinfo))
    assert decode(nl.decode_link, data)['bridge'] == {}
    short = _with_trailing(encode(ifaddrmsg, dict(family=socket.AF_INET, index=3), []),
                           nl.attr(nl.IFA_LOCAL, b'\x0a\x00'))
    assert decode(nl.decode_address, short)['address'] is None


def test_error_and_done_codes():
    ack = struct.pack('=LHHLL', 36, nl.NLMSG_ERROR, 0, 1, 0) + struct.pack('=i', 0) + b'\0' * 16
    failure = struct.pack('=LHHLL', 36, nl.NLMSG_ERROR, 0, 1, 0) + struct.pack('=i', -19) + b'\0' * 16
    done = struct.pack('=LHHLL', 20, nl.NLMSG_DONE, nl.NLM_F_MULTI, 1, 0) + struct.pack('=i', 0)
    done_failed = struct.pack('=LHHLL', 20, nl.NLMSG_DONE, nl.NLM_F_MULTI, 1, 0) + struct.pack('=i', -105)
    empty_done = struct.pack('=LHHLL', 16, nl.NLMSG_DONE, nl.NLM_F_MULTI, 1, 0)
    assert [nl.error_code(data, 0, len(data)) for data in (ack, failure, done, done_failed, empty_done)] == [
        0, 19, 0, 105, 0]
    with pytest.raises(nl.DecodeError):
        nl.error_code(empty_done[:4] + struct.pack('=H', nl.NLMSG_ERROR) + empty_done[6:], 0, 16)


def test_importable_and_usable_without_pyroute2():
    """The decoder's promise: a Python where pyroute2 cannot be imported still loads and runs it."""
    code = '\n'.join([
        'import sys',
        'class Block(object):',
        '    def find_spec(self, name, path=None, target=None):',
        '        if name == "pyroute2" or name.startswith("pyroute2."):',
        '            raise ImportError("blocked for the test: " + name)',
        'sys.meta_path.insert(0, Block())',
        'from ansible_collections.kvmnet.bridge.plugins.module_utils import _nlcodec as nl',
        'data = nl.request(nl.RTM_GETLINK, 1, nl.ifinfomsg(), [nl.string_attr(nl.IFLA_IFNAME, "eth0")])',
        'print(nl.decode_link(data, 0, len(data))["name"], sorted(m for m in sys.modules if "pyroute2" in m))',
    ])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ['eth0', '[]']
