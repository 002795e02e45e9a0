# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rtnetlink wire format of the collection's reads: request bytes out, plain dicts in. Pure: no I/O, no
pyroute2 (importable and testable without it).

- :func:`request` and the header builders encode the few read requests :mod:`_netlink` sends (RTM_GETLINK,
  RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH, with the filter attributes the kernel honours);
- :func:`messages` splits one ``recv`` buffer into netlink messages;
- ``decode_*`` turn one message into the plain dict the collection uses, reading only the attributes it needs
  (raw kernel units: timers in hundredths of a second, addresses as text).

Lengths are checked everywhere: a message or attribute whose length does not fit its container (truncated,
or a length below its header) raises :class:`DecodeError`; an attribute too short for its type is left out
(as if the kernel had not sent it); unknown attributes are skipped. Numbers are the kernel's
(include/uapi/linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h, neighbour.h, if_bridge.h); the unit tests
check encoder and decoders against pyroute2's own message classes, an independent table of the same numbers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct


class DecodeError(ValueError):
    """A reply that cannot be read: truncated or malformed framing."""


# ---- netlink framing ---------------------------------------------------------------------------------------
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_DUMP_INTR, NLM_F_DUMP_FILTERED = 0x1, 0x2, 0x10, 0x20
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER
RTM_NEWLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR = 16, 18, 20, 22
RTM_NEWROUTE, RTM_GETROUTE, RTM_NEWNEIGH, RTM_GETNEIGH = 24, 26, 28, 30

HEADER = struct.Struct('=LHHLL')  # nlmsghdr: length, type, flags, sequence, port id
_NLA = struct.Struct('=HH')
_ERRNO = struct.Struct('=i')
IFINFOMSG = struct.Struct('=BxHiII')  # family, (pad), type, index, flags, change
IFADDRMSG = struct.Struct('=BBBBI')  # family, prefixlen, flags, scope, index
RTMSG = struct.Struct('=BBBBBBBBI')  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
NDMSG = struct.Struct('=BxxxiHBB')  # family, (3 pad bytes), ifindex, state, flags, type


def _align(length):
    return (length + 3) & ~3


# ---- requests ----------------------------------------------------------------------------------------------

def attr(kind, payload):
    """One attribute: header, ``payload`` (bytes), padding to 4 bytes (the length excludes the padding)."""
    data = _NLA.pack(_NLA.size + len(payload), kind) + payload
    return data + b'\0' * (_align(len(data)) - len(data))


def u32_attr(kind, value):
    return attr(kind, struct.pack('=I', value))


def string_attr(kind, text):
    return attr(kind, text.encode('utf-8') + b'\0')


def nested_attr(kind, *attrs):
    return attr(kind, b''.join(attrs))


def ifinfomsg(family=0, index=0):
    return IFINFOMSG.pack(family, 0, index, 0, 0)


def ifaddrmsg(family=0, index=0):
    return IFADDRMSG.pack(family, 0, 0, 0, index)


def rtmsg(family=0, table=0):
    return RTMSG.pack(family, 0, 0, 0, table, 0, 0, 0, 0)


def ndmsg(family=0, ifindex=0):
    return NDMSG.pack(family, ifindex, 0, 0, 0)


def request(msg_type, sequence, header, attrs=(), dump=False):
    """A complete request message: nlmsghdr, the fixed ``header`` (bytes of one of the builders above), the
    attributes (bytes of :func:`attr` and friends). Port id 0: the kernel addresses the reply to this socket."""
    body = header + b''.join(attrs)
    flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else 0)
    return HEADER.pack(HEADER.size + len(body), msg_type, flags, sequence, 0) + body


# ---- framing of replies ------------------------------------------------------------------------------------

def messages(data):
    """(offset, length, type, flags, sequence) of each netlink message in one ``recv`` buffer ``data``."""
    offset, end = 0, len(data)
    while offset < end:
        if end - offset < HEADER.size:
            raise DecodeError('truncated netlink message header (%d bytes at offset %d)' % (end - offset, offset))
        length, kind, flags, sequence, dummy = HEADER.unpack_from(data, offset)
        if length < HEADER.size or length > end - offset:
            raise DecodeError('netlink message at offset %d claims %d bytes, %d are there'
                              % (offset, length, end - offset))
        yield offset, length, kind, flags, sequence
        offset += _align(length)


def error_code(data, offset, length):
    """The errno (positive; 0 for none) of an NLMSG_ERROR message (0 = an acknowledgement) or of an NLMSG_DONE
    message (where the kernel puts the failure of a dump; an NLMSG_DONE without payload means success)."""
    if length >= HEADER.size + _ERRNO.size:
        return -_ERRNO.unpack_from(data, offset + HEADER.size)[0]
    if HEADER.unpack_from(data, offset)[1] == NLMSG_DONE:
        return 0
    raise DecodeError('NLMSG_ERROR message of %d bytes has no error code' % length)


def _fixed(data, offset, length, header, what):
    """The fixed header of a message, unpacked; DecodeError when the message is too short to hold it."""
    if length < HEADER.size + header.size:
        raise DecodeError('%s message of %d bytes is shorter than its header (%d bytes)'
                          % (what, length, HEADER.size + header.size))
    return header.unpack_from(data, offset + HEADER.size)


def attributes(data, start, end):
    """(type, payload start, payload end) of each attribute in ``data[start:end]``, flag bits masked off.

    Fewer than 4 bytes left are padding. An attribute whose length is below its header or runs past ``end``
    raises :class:`DecodeError`: the rest of the message cannot be trusted.
    """
    while end - start >= _NLA.size:
        length, kind = _NLA.unpack_from(data, start)
        if length < _NLA.size or length > end - start:
            raise DecodeError('netlink attribute %d at offset %d claims %d bytes, %d are there'
                              % (kind & NLA_TYPE_MASK, start, length, end - start))
        yield kind & NLA_TYPE_MASK, start + _NLA.size, start + length
        start += _align(length)


# ---- attribute readers: (function(data, start, end), minimum payload size) --------------------------------

def _unpacker(fmt):
    unpack = struct.Struct(fmt)
    return (lambda data, start, end: unpack.unpack_from(data, start)[0]), unpack.size


U8, U16, U32, U64 = _unpacker('=B'), _unpacker('=H'), _unpacker('=I'), _unpacker('=Q')
STRING = (lambda data, start, end: data[start:end].split(b'\0', 1)[0].decode('utf-8', 'replace')), 0
MAC = (lambda data, start, end: ':'.join('%02x' % byte for byte in bytearray(data[start:end]))), 0
# struct ifla_bridge_id: priority (2 bytes, network byte order) and MAC
BRIDGE_ID = (lambda data, start, end: dict(priority=struct.unpack_from('>H', data, start)[0],
                                           address=MAC[0](data, start + 2, start + 8))), 8


def _ip(family):
    def read(data, start, end):
        return socket.inet_ntop(family, bytes(data[start:end]))
    return read, 4 if family == socket.AF_INET else 16


_IP_READERS = {socket.AF_INET: _ip(socket.AF_INET), socket.AF_INET6: _ip(socket.AF_INET6)}
SPAN = (lambda data, start, end: (start, end)), 0  # a nested attribute, decoded by its own table


def read(reader, data, start, end):
    """``reader`` applied to one attribute payload, or None when the payload is too short for it."""
    function, size = reader
    if end - start < size:
        return None
    return function(data, start, end)


def table(data, start, end, names):
    """The attributes of ``data[start:end]`` listed in ``names`` (number -> (name, reader)), by name."""
    result = {}
    for kind, begin, stop in attributes(data, start, end):
        entry = names.get(kind)
        if entry is not None:
            value = read(entry[1], data, begin, stop)
            if value is not None:
                result[entry[0]] = value
    return result


# ---- links (RTM_NEWLINK) -----------------------------------------------------------------------------------
IFF_UP = 0x1
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_OPERSTATE, IFLA_LINKINFO = 1, 3, 4, 10, 16, 18
IFLA_STATS64, IFLA_AF_SPEC, IFLA_EXT_MASK, IFLA_CARRIER, IFLA_PERM_ADDRESS = 23, 26, 29, 33, 54
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
IFLA_BRIDGE_VLAN_INFO = 2  # in IFLA_AF_SPEC of an AF_BRIDGE link message
RTEXT_FILTER_BRVLAN = 2
BRIDGE_VLAN_INFO_PVID, BRIDGE_VLAN_INFO_UNTAGGED = 0x2, 0x4
BRIDGE_VLAN_INFO_RANGE_BEGIN, BRIDGE_VLAN_INFO_RANGE_END = 0x8, 0x10
_BRIDGE_VLAN_INFO = struct.Struct('=HH')  # flags, vid
_STATS64 = struct.Struct('=8Q')  # the first 8 counters of struct rtnl_link_stats64
_STATS_KEYS = ('rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes', 'rx_errors', 'tx_errors', 'rx_dropped',
               'tx_dropped')
_OPERSTATES = ('UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP')

BRIDGE_ATTRS = {  # IFLA_BR_*
    1: ('IFLA_BR_FORWARD_DELAY', U32), 2: ('IFLA_BR_HELLO_TIME', U32), 3: ('IFLA_BR_MAX_AGE', U32),
    4: ('IFLA_BR_AGEING_TIME', U32), 5: ('IFLA_BR_STP_STATE', U32), 6: ('IFLA_BR_PRIORITY', U16),
    7: ('IFLA_BR_VLAN_FILTERING', U8), 9: ('IFLA_BR_GROUP_FWD_MASK', U16), 10: ('IFLA_BR_ROOT_ID', BRIDGE_ID),
    11: ('IFLA_BR_BRIDGE_ID', BRIDGE_ID), 12: ('IFLA_BR_ROOT_PORT', U16), 13: ('IFLA_BR_ROOT_PATH_COST', U32),
    14: ('IFLA_BR_TOPOLOGY_CHANGE', U8), 15: ('IFLA_BR_TOPOLOGY_CHANGE_DETECTED', U8),
    16: ('IFLA_BR_HELLO_TIMER', U64), 17: ('IFLA_BR_TCN_TIMER', U64), 18: ('IFLA_BR_TOPOLOGY_CHANGE_TIMER', U64),
    19: ('IFLA_BR_GC_TIMER', U64), 20: ('IFLA_BR_GROUP_ADDR', MAC), 22: ('IFLA_BR_MCAST_ROUTER', U8),
    23: ('IFLA_BR_MCAST_SNOOPING', U8),
}
PORT_ATTRS = {  # IFLA_BRPORT_*
    1: ('IFLA_BRPORT_STATE', U8), 2: ('IFLA_BRPORT_PRIORITY', U16), 3: ('IFLA_BRPORT_COST', U32),
    4: ('IFLA_BRPORT_MODE', U8), 5: ('IFLA_BRPORT_GUARD', U8), 6: ('IFLA_BRPORT_PROTECT', U8),
    7: ('IFLA_BRPORT_FAST_LEAVE', U8), 8: ('IFLA_BRPORT_LEARNING', U8), 9: ('IFLA_BRPORT_UNICAST_FLOOD', U8),
    10: ('IFLA_BRPORT_PROXYARP', U8), 12: ('IFLA_BRPORT_PROXYARP_WIFI', U8),
    13: ('IFLA_BRPORT_ROOT_ID', BRIDGE_ID), 14: ('IFLA_BRPORT_BRIDGE_ID', BRIDGE_ID),
    15: ('IFLA_BRPORT_DESIGNATED_PORT', U16), 16: ('IFLA_BRPORT_DESIGNATED_COST', U16),
    17: ('IFLA_BRPORT_ID', U16), 18: ('IFLA_BRPORT_NO', U16), 19: ('IFLA_BRPORT_TOPOLOGY_CHANGE_ACK', U8),
    20: ('IFLA_BRPORT_CONFIG_PENDING', U8), 21: ('IFLA_BRPORT_MESSAGE_AGE_TIMER', U64),
    22: ('IFLA_BRPORT_FORWARD_DELAY_TIMER', U64), 23: ('IFLA_BRPORT_HOLD_TIMER', U64),
    25: ('IFLA_BRPORT_MULTICAST_ROUTER', U8), 27: ('IFLA_BRPORT_MCAST_FLOOD', U8),
    28: ('IFLA_BRPORT_MCAST_TO_UCAST', U8), 29: ('IFLA_BRPORT_VLAN_TUNNEL', U8),
    30: ('IFLA_BRPORT_BCAST_FLOOD', U8), 31: ('IFLA_BRPORT_GROUP_FWD_MASK', U16),
    32: ('IFLA_BRPORT_NEIGH_SUPPRESS', U8), 33: ('IFLA_BRPORT_ISOLATED', U8),
}
TUN_ATTRS = {  # IFLA_TUN_* (tun and tap devices; the kernel omits OWNER/GROUP when none is set)
    1: ('IFLA_TUN_OWNER', U32), 2: ('IFLA_TUN_GROUP', U32), 3: ('IFLA_TUN_TYPE', U8), 4: ('IFLA_TUN_PI', U8),
    5: ('IFLA_TUN_VNET_HDR', U8), 6: ('IFLA_TUN_PERSIST', U8), 7: ('IFLA_TUN_MULTI_QUEUE', U8),
    8: ('IFLA_TUN_NUM_QUEUES', U32), 9: ('IFLA_TUN_NUM_DISABLED_QUEUES', U32),
}


def link_index(data, offset, length):
    """The interface index of an RTM_NEWLINK message, read from its fixed header only."""
    return _fixed(data, offset, length, IFINFOMSG, 'link')[2]


_LINK_FIELDS = {
    IFLA_IFNAME: ('name', STRING), IFLA_MTU: ('mtu', U32), IFLA_ADDRESS: ('address', MAC),
    IFLA_PERM_ADDRESS: ('perm_address', MAC), IFLA_MASTER: ('master', U32),
    IFLA_OPERSTATE: ('operstate', ((lambda data, start, end: _OPERSTATES[data[start]] if data[start] < len(
        _OPERSTATES) else data[start]), 1)),
    IFLA_CARRIER: ('carrier', U8),
    IFLA_STATS64: ('stats', ((lambda data, start, end: dict(zip(_STATS_KEYS, _STATS64.unpack_from(data, start)))),
                             _STATS64.size)),
    IFLA_LINKINFO: ('linkinfo', SPAN),
}


def decode_link(data, offset, length):
    """An RTM_NEWLINK message as the plain dict the collection uses (raw kernel units).

    ``bridge``: IFLA_BR_* of a bridge (bridge IDs as {priority, address}); ``port``: IFLA_BRPORT_* of a bridge
    port (None when not a bridge port); ``stats``: the IFLA_STATS64 counters; ``tun``: IFLA_TUN_* of a tun or
    tap device (the key exists only for kind ``tun``; owner/group 0xffffffff or missing = none set).
    """
    dummy, link_type, index, flags, dummy = _fixed(data, offset, length, IFINFOMSG, 'link')
    link = dict(index=index, name=None, kind=None, link_type=link_type, mtu=None, address=None, perm_address=None,
                up=bool(flags & IFF_UP), operstate=None, carrier=None, master=None, bridge={}, port=None, stats={})
    link.update(table(data, offset + HEADER.size + IFINFOMSG.size, offset + length, _LINK_FIELDS))
    linkinfo = link.pop('linkinfo', None)
    if linkinfo is not None:
        _decode_linkinfo(data, linkinfo[0], linkinfo[1], link)
    return link


def _decode_linkinfo(data, start, end, link):
    parts = dict((kind, (begin, stop)) for kind, begin, stop in attributes(data, start, end))
    if IFLA_INFO_KIND in parts:
        link['kind'] = read(STRING, data, *parts[IFLA_INFO_KIND])
    if link['kind'] == 'bridge' and IFLA_INFO_DATA in parts:
        link['bridge'] = table(data, parts[IFLA_INFO_DATA][0], parts[IFLA_INFO_DATA][1], BRIDGE_ATTRS)
    if link['kind'] == 'tun' and IFLA_INFO_DATA in parts:
        link['tun'] = table(data, parts[IFLA_INFO_DATA][0], parts[IFLA_INFO_DATA][1], TUN_ATTRS)
    if IFLA_INFO_SLAVE_KIND in parts and read(STRING, data, *parts[IFLA_INFO_SLAVE_KIND]) == 'bridge':
        begin, stop = parts.get(IFLA_INFO_SLAVE_DATA, (0, 0))
        link['port'] = table(data, begin, stop, PORT_ATTRS)


def decode_bridge_vlans(data, offset, length):
    """The VLANs of a bridge port from an AF_BRIDGE RTM_NEWLINK message (a dump asked with IFLA_EXT_MASK
    RTEXT_FILTER_BRVLAN): dict(index, vlans=[dict(vid, pvid, untagged)]). Ranges (kernels that compress) are
    expanded."""
    index = link_index(data, offset, length)
    vlans, begin_vid = [], None
    for kind, begin, stop in attributes(data, offset + HEADER.size + IFINFOMSG.size, offset + length):
        if kind != IFLA_AF_SPEC:
            continue
        for item, item_begin, item_stop in attributes(data, begin, stop):
            if item != IFLA_BRIDGE_VLAN_INFO or item_stop - item_begin < _BRIDGE_VLAN_INFO.size:
                continue
            flags, vid = _BRIDGE_VLAN_INFO.unpack_from(data, item_begin)
            if flags & BRIDGE_VLAN_INFO_RANGE_BEGIN:
                begin_vid = vid
                continue
            first = begin_vid if flags & BRIDGE_VLAN_INFO_RANGE_END and begin_vid is not None else vid
            begin_vid = None
            for number in range(first, vid + 1):
                vlans.append(dict(vid=number, pvid=bool(flags & BRIDGE_VLAN_INFO_PVID),
                                  untagged=bool(flags & BRIDGE_VLAN_INFO_UNTAGGED)))
    return dict(index=index, vlans=vlans)


# ---- bridge FDB entries (RTM_NEWNEIGH, AF_BRIDGE) ----------------------------------------------------------
NDA_LLADDR, NDA_CACHEINFO, NDA_VLAN, NDA_MASTER = 2, 3, 5, 9
_CACHEINFO = struct.Struct('=4I')  # confirmed, used, updated, refcnt (hundredths of a second)


_NEIGH_FIELDS = {
    NDA_LLADDR: ('mac', MAC), NDA_MASTER: ('master', U32), NDA_VLAN: ('vlan', U16),
    NDA_CACHEINFO: ('cacheinfo', ((lambda data, start, end: _CACHEINFO.unpack_from(data, start)), _CACHEINFO.size)),
}


def decode_neigh(data, offset, length):
    """A bridge FDB entry as a plain dict, raw kernel units: ``state`` NUD_* bits, ``flags`` NTF_* bits,
    ``updated``/``used`` in hundredths of a second ago."""
    dummy, ifindex, state, flags, dummy = _fixed(data, offset, length, NDMSG, 'neighbour')
    entry = dict(mac=None, ifindex=ifindex, master=None, vlan=None, state=state, flags=flags, updated=None,
                 used=None)
    entry.update(table(data, offset + HEADER.size + NDMSG.size, offset + length, _NEIGH_FIELDS))
    cacheinfo = entry.pop('cacheinfo', None)
    if cacheinfo is not None:
        dummy, entry['used'], entry['updated'], dummy = cacheinfo
    return entry


# ---- addresses (RTM_NEWADDR) -------------------------------------------------------------------------------
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8


def _address_fields(reader):
    return {IFA_ADDRESS: ('address', reader), IFA_LOCAL: ('local', reader), IFA_FLAGS: ('flags', U32)}


_ADDRESS_FIELDS = dict((family, _address_fields(reader)) for family, reader in _IP_READERS.items())


def decode_address(data, offset, length):
    """An IPv4 or IPv6 address: dict(index, family 4 or 6, address, prefixlen, scope, flags). ``address`` is
    IFA_LOCAL for IPv4 (IFA_ADDRESS is the peer on point-to-point links), IFA_ADDRESS for IPv6; ``flags`` the
    32-bit IFA_FLAGS when sent, else the header's 8 bits."""
    family, prefixlen, flags, scope, index = _fixed(data, offset, length, IFADDRMSG, 'address')
    found = table(data, offset + HEADER.size + IFADDRMSG.size, offset + length, _ADDRESS_FIELDS.get(family, {}))
    address = found.get('address') if family == socket.AF_INET6 else found.get('local') or found.get('address')
    return dict(index=index, family=6 if family == socket.AF_INET6 else 4, address=address, prefixlen=prefixlen,
                scope=scope, flags=found.get('flags') or flags)


# ---- routes (RTM_NEWROUTE) ---------------------------------------------------------------------------------
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_MULTIPATH, RTA_TABLE = 1, 4, 5, 6, 7, 9, 15
RTM_F_CLONED = 0x200
RT_TABLE_MAIN, RT_TABLE_LOCAL = 254, 255


def route_header(data, offset, length):
    """The fixed rtmsg fields of a route message as a dict (dst_len, table, flags...), attributes unread."""
    family, dst_len, src_len, tos, table_id, protocol, scope, kind, flags = _fixed(data, offset, length, RTMSG,
                                                                                   'route')
    return dict(family=family, dst_len=dst_len, src_len=src_len, tos=tos, table=table_id, protocol=protocol,
                scope=scope, type=kind, flags=flags)


def _route_fields(reader):
    return {RTA_DST: ('dst', reader), RTA_GATEWAY: ('gateway', reader), RTA_PREFSRC: ('prefsrc', reader),
            RTA_OIF: ('oif', U32), RTA_PRIORITY: ('priority', U32), RTA_TABLE: ('table', U32),
            RTA_MULTIPATH: ('multipath', ((lambda data, start, end: True), 0))}


_ROUTE_FIELDS = dict((family, _route_fields(reader)) for family, reader in _IP_READERS.items())


def decode_route(data, offset, length):
    """A route: dict(family 4 or 6, oif, dst, dst_len, gateway, prefsrc, priority, table, protocol, scope, type,
    multipath, cloned). ``table`` is RTA_TABLE (the header holds only its low 8 bits); ``multipath``: the route
    has several next hops (RTA_MULTIPATH, not decoded); ``cloned``: a cached exception (RTM_F_CLONED), not a
    configured route."""
    header = route_header(data, offset, length)
    route = dict(family=6 if header['family'] == socket.AF_INET6 else 4, oif=None, dst=None,
                 dst_len=header['dst_len'], gateway=None, prefsrc=None, priority=None, table=header['table'],
                 protocol=header['protocol'], scope=header['scope'], type=header['type'], multipath=False,
                 cloned=bool(header['flags'] & RTM_F_CLONED))
    route.update(table(data, offset + HEADER.size + RTMSG.size, offset + length,
                       _ROUTE_FIELDS.get(header['family'], {})))
    return route
