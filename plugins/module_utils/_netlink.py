# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's only door to netlink: the ONLY file that imports pyroute2.

- opens a socket in a network namespace with ``flags=0``: a missing namespace is an error, never created;
- hides the pyroute2 0.7 .. 0.9 differences (namespace opening, list vs tuple results, attribute access);
- turns ``NetlinkError`` codes into :class:`NetlinkOperationError` with words naming the interface and operation;
- reads single links with RTM_GETLINK by name and a bridge's ports with a dump the KERNEL filters
  (``IFLA_MASTER``), never a full dump decoded in Python;
- keeps no-op runs cheap: reads go through a plain rtnetlink socket decoded by pyroute2's message classes
  (``ifinfmsg``), so only the codec is imported (~30 ms). ``IPRoute`` and its event loop machinery (~50-100 ms
  more) are imported and opened only when there is something to write.
- returns plain dicts (no pyroute2 objects leave this file), so the logic above it is testable without a kernel.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import errno
import os
import socket
import struct
import traceback

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    NetlinkOperationError,
    ValidationError,
    where,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import route_text


def _register_bare_package():
    """Make ``pyroute2`` importable WITHOUT running its package ``__init__``.

    ``import pyroute2`` eagerly imports everything (NDB, IPDB, conntrack, nftables, asyncio helpers): measured
    130-160 ms, more than half of a no-op task. The parent package is registered as a bare package of its own
    directory, so only the submodules asked for load. Callers fall back to the plain import if a pyroute2
    release does not import that way: always correct, only slower.
    """
    import importlib.util
    import sys
    import types

    if 'pyroute2' in sys.modules:
        return
    spec = importlib.util.find_spec('pyroute2')
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('No module named pyroute2')
    shell = types.ModuleType('pyroute2')
    shell.__path__ = list(spec.submodule_search_locations)
    shell.__spec__ = spec
    shell.__file__ = spec.origin
    shell.__package__ = 'pyroute2'
    sys.modules['pyroute2'] = shell


def _import(loader):
    """Run ``loader`` against the bare package; on failure, against the fully imported package."""
    import importlib
    import sys

    _register_bare_package()
    try:
        return loader(importlib)
    except (ImportError, AttributeError):
        for name in [name for name in sys.modules if name == 'pyroute2' or name.startswith('pyroute2.')]:
            del sys.modules[name]
        importlib.import_module('pyroute2')
        return loader(importlib)


def _codec_parts(importlib):
    try:
        version = importlib.import_module('pyroute2.config.version').__version__
    except ImportError:
        version = None  # Debian's package has no version module
    return dict(
        ifinfmsg=importlib.import_module('pyroute2.netlink.rtnl.ifinfmsg').ifinfmsg,
        NetlinkError=importlib.import_module('pyroute2.netlink.exceptions').NetlinkError,
        version=version,
    )


_MORE_CODECS = dict(  # message classes loaded on first use (a no-op linux_bridge run never needs them)
    ifaddrmsg='pyroute2.netlink.rtnl.ifaddrmsg',
    rtmsg='pyroute2.netlink.rtnl.rtmsg',
    ndmsg='pyroute2.netlink.rtnl.ndmsg',
)


def _codec(name):
    """pyroute2's message class ``name`` (ifinfmsg, ifaddrmsg, rtmsg, ndmsg)."""
    if name not in _CODEC:
        _CODEC[name] = _import(lambda importlib: getattr(importlib.import_module(_MORE_CODECS[name]), name))
    return _CODEC[name]


def _writer_parts(importlib):
    try:
        netns_class = importlib.import_module('pyroute2.nslink.nslink').NetNS  # 0.7 / 0.8
    except ImportError:
        netns_class = None  # 0.9: IPRoute(netns=...) does it
    return dict(IPRoute=importlib.import_module('pyroute2.iproute.linux').IPRoute, NetNS=netns_class)


PYROUTE2_IMPORT_ERROR = None
_CODEC = {}
try:
    _CODEC = _import(_codec_parts)
except ImportError:
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()

NetlinkError = _CODEC.get('NetlinkError', OSError)  # pyroute2's, or a stand-in so ``except`` clauses stay valid

PYROUTE2_MINIMUM_VERSION = (0, 7)
NETNS_RUN_DIR = '/run/netns'
IFF_UP = 0x1
CLONE_NEWNET = 0x40000000
RTM_GETLINK = 18
RTM_GETADDR = 22
RTM_GETROUTE = 26
RT_TABLE_MAIN = 254
RT_TABLE_LOCAL = 255
RTPROT_KERNEL = 2
IFA_F_NODAD = 0x02
AF_BRIDGE = 7
RTEXT_FILTER_BRVLAN = 2
BRIDGE_VLAN_INFO_PVID = 0x2
BRIDGE_VLAN_INFO_UNTAGGED = 0x4
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
_NLMSG_HEADER = struct.Struct('=LHHLL')


_ERRNO_WORDS = {
    errno.ENODEV: 'no such interface',
    errno.EEXIST: 'it already exists',
    errno.EINVAL: 'the kernel rejected a value as invalid',
    errno.ERANGE: 'a value is outside the range the kernel accepts',
    errno.EOPNOTSUPP: 'this kernel (or this kind of interface) does not support it',
    errno.EBUSY: 'the device is busy (another process, for example QEMU, holds it)',
    errno.EPERM: 'permission denied: run the task as root (become: true)',
    errno.EACCES: 'access denied (not root? For an IPv6 address: IPv6 may be disabled on the interface,'
                  ' sysctl net.ipv6.conf.<interface>.disable_ipv6)',
}


def pyroute2_version():
    """The installed pyroute2 version as a tuple of ints, or None if it cannot be told.

    From ``pyroute2.config.version``; Debian 12's package has no such module (its ``__version__`` is
    ``'unknown'``), so the package metadata is read then.
    """
    raw = _CODEC.get('version')
    if raw is None:
        try:
            from importlib.metadata import version
            raw = version('pyroute2')
        except ImportError:  # Python < 3.8 on the target; PackageNotFoundError is an ImportError too
            raw = None
    parts = []
    for piece in str(raw or '').split('.'):
        digits = ''.join(char for char in piece if char.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) if parts else None


def errno_name(code):
    if code == errno.EOPNOTSUPP:
        return 'EOPNOTSUPP'  # same number as ENOTSUP, which errorcode picks; netlink users know this name
    return errno.errorcode.get(code, str(code))


def describe_errno(code):
    words = _ERRNO_WORDS.get(code) or os.strerror(code)
    return '%s (%s)' % (words, errno_name(code))


def _netns_path(netns):
    return netns if netns.startswith('/') else os.path.join(NETNS_RUN_DIR, netns)


# ---- decoding of link and neighbour messages ------------------------------------------------------------------
# Links and FDB entries come in bulk (a bridge with 1000 ports, its FDB), so they are decoded here, reading only
# the attributes the collection uses: pyroute2's generic decoder took ~600 ms for 1000 ports where this takes a
# few ms (docs/decisions.md). Requests, and the small address/route/VLAN dumps, still use pyroute2's classes.
# Attribute numbers are the kernel's (include/uapi/linux/if_link.h, neighbour.h); a unit test checks the
# decoders against messages encoded by pyroute2.

_NLA = struct.Struct('=HH')
_IFINFOMSG = struct.Struct('=BxHiII')  # family, type, index, flags, change
_NDMSG = struct.Struct('=BxxxiHBB')  # family, 3 pad bytes, ifindex, state, flags, type
_U8, _U16, _U32, _U64 = struct.Struct('=B'), struct.Struct('=H'), struct.Struct('=I'), struct.Struct('=Q')
_STATS64 = struct.Struct('=8Q')
_CACHEINFO = struct.Struct('=4I')  # confirmed, used, updated, refcnt (hundredths of a second)
_OPERSTATES = ('UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP')


def _nla(data, start, end):
    """(type, payload start, payload end) of each netlink attribute in ``data[start:end]``."""
    while start + 4 <= end:
        length, kind = _NLA.unpack_from(data, start)
        if length < 4:
            return
        yield kind & 0x3FFF, start + 4, min(start + length, end)
        start += (length + 3) & ~3


def _u8(data, start, end):
    return _U8.unpack_from(data, start)[0]


def _u16(data, start, end):
    return _U16.unpack_from(data, start)[0]


def _u32(data, start, end):
    return _U32.unpack_from(data, start)[0]


def _u64(data, start, end):
    return _U64.unpack_from(data, start)[0]


def _string(data, start, end):
    return data[start:end].split(b'\0', 1)[0].decode('utf-8', 'replace')


def _mac(data, start, end):
    return ':'.join('%02x' % byte for byte in bytearray(data[start:end]))


def _bridge_id(data, start, end):
    """struct ifla_bridge_id: priority (2 bytes, network byte order) and MAC."""
    return dict(priority=struct.unpack_from('>H', data, start)[0], address=_mac(data, start + 2, start + 8))


_BRIDGE_ATTRS = {  # IFLA_BR_*
    1: ('IFLA_BR_FORWARD_DELAY', _u32), 2: ('IFLA_BR_HELLO_TIME', _u32), 3: ('IFLA_BR_MAX_AGE', _u32),
    4: ('IFLA_BR_AGEING_TIME', _u32), 5: ('IFLA_BR_STP_STATE', _u32), 6: ('IFLA_BR_PRIORITY', _u16),
    7: ('IFLA_BR_VLAN_FILTERING', _u8), 9: ('IFLA_BR_GROUP_FWD_MASK', _u16), 10: ('IFLA_BR_ROOT_ID', _bridge_id),
    11: ('IFLA_BR_BRIDGE_ID', _bridge_id), 12: ('IFLA_BR_ROOT_PORT', _u16), 13: ('IFLA_BR_ROOT_PATH_COST', _u32),
    14: ('IFLA_BR_TOPOLOGY_CHANGE', _u8), 15: ('IFLA_BR_TOPOLOGY_CHANGE_DETECTED', _u8),
    16: ('IFLA_BR_HELLO_TIMER', _u64), 17: ('IFLA_BR_TCN_TIMER', _u64), 18: ('IFLA_BR_TOPOLOGY_CHANGE_TIMER', _u64),
    19: ('IFLA_BR_GC_TIMER', _u64), 20: ('IFLA_BR_GROUP_ADDR', _mac), 22: ('IFLA_BR_MCAST_ROUTER', _u8),
    23: ('IFLA_BR_MCAST_SNOOPING', _u8),
}
_PORT_ATTRS = {  # IFLA_BRPORT_*
    1: ('IFLA_BRPORT_STATE', _u8), 2: ('IFLA_BRPORT_PRIORITY', _u16), 3: ('IFLA_BRPORT_COST', _u32),
    4: ('IFLA_BRPORT_MODE', _u8), 5: ('IFLA_BRPORT_GUARD', _u8), 6: ('IFLA_BRPORT_PROTECT', _u8),
    7: ('IFLA_BRPORT_FAST_LEAVE', _u8), 8: ('IFLA_BRPORT_LEARNING', _u8), 9: ('IFLA_BRPORT_UNICAST_FLOOD', _u8),
    10: ('IFLA_BRPORT_PROXYARP', _u8), 12: ('IFLA_BRPORT_PROXYARP_WIFI', _u8),
    13: ('IFLA_BRPORT_ROOT_ID', _bridge_id), 14: ('IFLA_BRPORT_BRIDGE_ID', _bridge_id),
    15: ('IFLA_BRPORT_DESIGNATED_PORT', _u16), 16: ('IFLA_BRPORT_DESIGNATED_COST', _u16),
    17: ('IFLA_BRPORT_ID', _u16), 18: ('IFLA_BRPORT_NO', _u16), 19: ('IFLA_BRPORT_TOPOLOGY_CHANGE_ACK', _u8),
    20: ('IFLA_BRPORT_CONFIG_PENDING', _u8), 21: ('IFLA_BRPORT_MESSAGE_AGE_TIMER', _u64),
    22: ('IFLA_BRPORT_FORWARD_DELAY_TIMER', _u64), 23: ('IFLA_BRPORT_HOLD_TIMER', _u64),
    25: ('IFLA_BRPORT_MULTICAST_ROUTER', _u8), 27: ('IFLA_BRPORT_MCAST_FLOOD', _u8),
    28: ('IFLA_BRPORT_MCAST_TO_UCAST', _u8), 29: ('IFLA_BRPORT_VLAN_TUNNEL', _u8),
    30: ('IFLA_BRPORT_BCAST_FLOOD', _u8), 31: ('IFLA_BRPORT_GROUP_FWD_MASK', _u16),
    32: ('IFLA_BRPORT_NEIGH_SUPPRESS', _u8), 33: ('IFLA_BRPORT_ISOLATED', _u8),
}
_STATS_KEYS = ('rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes', 'rx_errors', 'tx_errors', 'rx_dropped',
               'tx_dropped')
_TUN_ATTRS = {  # IFLA_TUN_* (tun and tap devices; the kernel omits OWNER/GROUP when none is set)
    1: ('IFLA_TUN_OWNER', _u32), 2: ('IFLA_TUN_GROUP', _u32), 3: ('IFLA_TUN_TYPE', _u8), 4: ('IFLA_TUN_PI', _u8),
    5: ('IFLA_TUN_VNET_HDR', _u8), 6: ('IFLA_TUN_PERSIST', _u8), 7: ('IFLA_TUN_MULTI_QUEUE', _u8),
    8: ('IFLA_TUN_NUM_QUEUES', _u32), 9: ('IFLA_TUN_NUM_DISABLED_QUEUES', _u32),
}
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_OPERSTATE, IFLA_LINKINFO = 1, 3, 4, 10, 16, 18
IFLA_STATS64, IFLA_CARRIER, IFLA_PERM_ADDRESS = 23, 33, 54
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
NDA_LLADDR, NDA_CACHEINFO, NDA_VLAN, NDA_MASTER = 2, 3, 5, 9


def _table(data, start, end, table):
    result = {}
    for kind, begin, stop in _nla(data, start, end):
        entry = table.get(kind)
        if entry is not None and stop > begin:
            result[entry[0]] = entry[1](data, begin, stop)
    return result


def _decode_link(data, offset, length):
    """An RTM_NEWLINK message as the plain dict the collection uses (raw kernel units).

    ``bridge``: IFLA_BR_* of a bridge (bridge IDs as {priority, address}); ``port``: IFLA_BRPORT_* of a bridge
    port (None when not a bridge port); ``stats``: the IFLA_STATS64 counters; ``tun``: IFLA_TUN_* of a tun or
    tap device (the key exists only for kind ``tun``; owner/group 0xffffffff or missing = none set).
    """
    header = offset + _NLMSG_HEADER.size
    dummy, link_type, index, flags, dummy = _IFINFOMSG.unpack_from(data, header)
    link = dict(index=index, name=None, kind=None, link_type=link_type, mtu=None, address=None, perm_address=None,
                up=bool(flags & IFF_UP), operstate=None, carrier=None, master=None, bridge={}, port=None, stats={})
    for kind, begin, stop in _nla(data, header + _IFINFOMSG.size, offset + length):
        if kind == IFLA_IFNAME:
            link['name'] = _string(data, begin, stop)
        elif kind == IFLA_MTU:
            link['mtu'] = _u32(data, begin, stop)
        elif kind == IFLA_ADDRESS:
            link['address'] = _mac(data, begin, stop)
        elif kind == IFLA_PERM_ADDRESS:
            link['perm_address'] = _mac(data, begin, stop)
        elif kind == IFLA_MASTER:
            link['master'] = _u32(data, begin, stop)
        elif kind == IFLA_OPERSTATE:
            state = _u8(data, begin, stop)
            link['operstate'] = _OPERSTATES[state] if state < len(_OPERSTATES) else state
        elif kind == IFLA_CARRIER:
            link['carrier'] = _u8(data, begin, stop)
        elif kind == IFLA_STATS64 and stop - begin >= _STATS64.size:
            link['stats'] = dict(zip(_STATS_KEYS, _STATS64.unpack_from(data, begin)))
        elif kind == IFLA_LINKINFO:
            _decode_linkinfo(data, begin, stop, link)
    return link


def _decode_linkinfo(data, start, end, link):
    parts = dict((kind, (begin, stop)) for kind, begin, stop in _nla(data, start, end))
    if IFLA_INFO_KIND in parts:
        link['kind'] = _string(data, *parts[IFLA_INFO_KIND])
    if link['kind'] == 'bridge' and IFLA_INFO_DATA in parts:
        link['bridge'] = _table(data, parts[IFLA_INFO_DATA][0], parts[IFLA_INFO_DATA][1], _BRIDGE_ATTRS)
    if link['kind'] == 'tun' and IFLA_INFO_DATA in parts:
        link['tun'] = _table(data, parts[IFLA_INFO_DATA][0], parts[IFLA_INFO_DATA][1], _TUN_ATTRS)
    if IFLA_INFO_SLAVE_KIND in parts and _string(data, *parts[IFLA_INFO_SLAVE_KIND]) == 'bridge':
        begin, stop = parts.get(IFLA_INFO_SLAVE_DATA, (0, 0))
        link['port'] = _table(data, begin, stop, _PORT_ATTRS)


def _decode_neigh(data, offset, length):
    """A bridge FDB entry (RTM_NEWNEIGH, AF_BRIDGE) as a plain dict, raw kernel units: ``state`` NUD_* bits,
    ``flags`` NTF_* bits, ``updated``/``used`` in hundredths of a second ago."""
    header = offset + _NLMSG_HEADER.size
    dummy, ifindex, state, flags, dummy = _NDMSG.unpack_from(data, header)
    entry = dict(mac=None, ifindex=ifindex, master=None, vlan=None, state=state, flags=flags, updated=None,
                 used=None)
    for kind, begin, stop in _nla(data, header + _NDMSG.size, offset + length):
        if kind == NDA_LLADDR:
            entry['mac'] = _mac(data, begin, stop)
        elif kind == NDA_MASTER:
            entry['master'] = _u32(data, begin, stop)
        elif kind == NDA_VLAN:
            entry['vlan'] = _u16(data, begin, stop)
        elif kind == NDA_CACHEINFO and stop - begin >= _CACHEINFO.size:
            dummy, entry['used'], entry['updated'], dummy = _CACHEINFO.unpack_from(data, begin)
    return entry


_DECODERS = dict(ifinfmsg=_decode_link, ndmsg=_decode_neigh)


# ---- bridge facts (linux_bridge_info): full bridge attributes, bridge IDs, FDB ----------------------------------

RTM_GETNEIGH = 30
SOL_NETLINK = 270
NETLINK_GET_STRICT_CHK = 12


class Netlink(object):
    """rtnetlink, optionally inside a network namespace. Use as a context manager.

    Reads use a plain ``AF_NETLINK`` socket opened in the namespace (setns around ``socket()``: the socket stays
    bound to the namespace it was created in). Writes use pyroute2's ``IPRoute`` (``NetNS`` on 0.7/0.8), opened
    on the first write only.
    """

    def __init__(self, netns=None):
        self.netns = netns
        self._socket = None
        self._sequence = 0
        self._writer = None

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _where(self):
        return where(self.netns)

    def open(self):
        if not self.netns:
            self._socket = self._new_socket()
            return
        path = _netns_path(self.netns)
        if not os.path.exists(path):
            raise ValidationError(
                'Network namespace %r does not exist (no %s). Create it first (for example `ip netns add %s`):'
                ' kvmnet.bridge never creates a namespace implicitly.' % (self.netns, path, self.netns),
                netns=self.netns,
            )
        try:
            own = os.open('/proc/self/ns/net', os.O_RDONLY)
            try:
                target = os.open(path, os.O_RDONLY)
                try:
                    _setns(target)
                    try:
                        self._socket = self._new_socket()
                    finally:
                        _setns(own)
                finally:
                    os.close(target)
            finally:
                os.close(own)
        except OSError as exc:
            raise NetlinkOperationError(
                'Cannot enter network namespace %r: %s.' % (self.netns, describe_errno(exc.errno or errno.EIO)),
                netns=self.netns,
            )

    @staticmethod
    def _new_socket():
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # 0 = NETLINK_ROUTE
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((0, 0))
        return sock

    def close(self):
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # ---- reads -------------------------------------------------------------------------------------------

    def _query(self, codec, msg_type, family, attrs, dump, fields=None, generic=False):
        """Send one request (message class ``_codec(codec)``) and return the decoded replies.

        Links and neighbours are decoded into plain dicts by this file's decoders; other messages (or all, with
        ``generic``) by pyroute2's class. Errors raise OSError(errno). Replies to other sequence numbers are
        skipped.
        """
        decode = None if generic else _DECODERS.get(codec)
        self._sequence += 1
        message = _codec(codec)()
        message['family'] = family
        message['attrs'] = attrs
        for key, value in (fields or {}).items():
            message[key] = value
        message['header']['type'] = msg_type
        message['header']['flags'] = NLM_F_REQUEST | (NLM_F_DUMP if dump else 0)
        message['header']['sequence_number'] = self._sequence
        message.encode()
        self._socket.send(message.data)
        replies = []
        while True:
            data = self._socket.recv(1 << 20)
            offset = 0
            while offset < len(data):
                length, kind, dummy, sequence, dummy = _NLMSG_HEADER.unpack_from(data, offset)
                if length < _NLMSG_HEADER.size:
                    raise OSError(errno.EBADMSG, 'truncated netlink message')
                if sequence == self._sequence:
                    if kind == NLMSG_DONE:
                        return replies
                    if kind == NLMSG_ERROR:
                        code = -struct.unpack_from('=i', data, offset + _NLMSG_HEADER.size)[0]
                        if code:
                            raise OSError(code, os.strerror(code))
                        return replies
                    if decode is not None:
                        replies.append(decode(data, offset, length))
                    else:
                        reply = _codec(codec)(data[offset:offset + length])
                        reply.decode()
                        replies.append(reply)
                offset += (length + 3) & ~3
            if not dump and replies:
                return replies

    def _read(self, what, codec, msg_type, family=0, attrs=(), dump=True, fields=None, missing_ok=False,
              generic=False):
        """:meth:`_query` with errors in words: ``what`` names the read (e.g. "read interface 'eth0'").

        With ``missing_ok``, ENODEV (no such interface) returns None instead of failing.
        """
        try:
            return self._query(codec, msg_type, family, list(attrs), dump, fields, generic)
        except OSError as exc:
            if missing_ok and exc.errno == errno.ENODEV:
                return None
            raise NetlinkOperationError('Cannot %s%s: %s.' % (what, self._where(), describe_errno(exc.errno)),
                                        errno=errno_name(exc.errno))

    def get_link(self, name):
        """The link called ``name`` as a dict, or None if there is none."""
        replies = self._read('read interface %r' % name, 'ifinfmsg', RTM_GETLINK, attrs=[('IFLA_IFNAME', name)],
                             dump=False, missing_ok=True)
        return replies[0] if replies else None

    def get_link_by_index(self, index):
        """The link with ifindex ``index`` as a dict, or None if there is none."""
        replies = self._read('read interface #%s' % index, 'ifinfmsg', RTM_GETLINK, dump=False,
                             fields=dict(index=index), missing_ok=True)
        return replies[0] if replies else None

    def ports(self, master_index):
        """The links enslaved to ``master_index``. The kernel filters the dump (IFLA_MASTER): Python never
        decodes the other interfaces."""
        replies = self._read('list the ports of interface #%s' % master_index, 'ifinfmsg', RTM_GETLINK,
                             attrs=[('IFLA_MASTER', master_index)])
        return [reply for reply in replies if reply['master'] == master_index]

    def addresses(self, index):
        """IPv4 and IPv6 addresses of interface ``index`` as plain dicts (family 4 or 6, address, prefixlen,
        scope: 0 global, 253 link, 254 host; flags)."""
        replies = self._read('list the addresses of interface #%s' % index, 'ifaddrmsg', RTM_GETADDR)
        result = []
        for reply in replies:
            if reply['index'] != index:
                continue  # RTM_GETADDR dumps are filtered by index only under strict checking; few entries anyway
            result.append(dict(
                family=6 if reply['family'] == socket.AF_INET6 else 4,
                address=reply.get_attr('IFA_ADDRESS') if reply['family'] == socket.AF_INET6
                else reply.get_attr('IFA_LOCAL') or reply.get_attr('IFA_ADDRESS'),
                prefixlen=reply['prefixlen'],
                scope=reply['scope'],
                flags=reply.get_attr('IFA_FLAGS') or reply['flags'],
            ))
        return result

    def routes(self, index):
        """Routes whose output interface is ``index``, all tables but ``local``, as plain dicts."""
        return [route for route in self._route_dicts() if route['oif'] == index]

    def default_routes(self):
        """Default routes (destination length 0) of every table but ``local``, both families, each with its
        ``oif`` (the interface index it leaves through)."""
        return [route for route in self._route_dicts() if route['dst_len'] == 0]

    def _route_dicts(self):
        result = []
        for family in (socket.AF_INET, socket.AF_INET6):
            replies = self._read('list the routes', 'rtmsg', RTM_GETROUTE, family)
            for reply in replies:
                table = reply.get_attr('RTA_TABLE') or reply['table']
                if table == RT_TABLE_LOCAL or reply.get_attr('RTA_MULTIPATH'):
                    continue
                result.append(dict(
                    family=6 if family == socket.AF_INET6 else 4,
                    oif=reply.get_attr('RTA_OIF'),
                    dst=reply.get_attr('RTA_DST'),
                    dst_len=reply['dst_len'],
                    gateway=reply.get_attr('RTA_GATEWAY'),
                    prefsrc=reply.get_attr('RTA_PREFSRC'),
                    priority=reply.get_attr('RTA_PRIORITY'),
                    table=table,
                    protocol=reply['proto'],
                    scope=reply['scope'],
                    type=reply['type'],
                ))
        return result

    def links(self):
        """Every interface of the namespace, as :func:`_decode_link` dicts (the interface inventory's one full
        dump; the other modules read single links or kernel-filtered dumps)."""
        return self._read('list the interfaces', 'ifinfmsg', RTM_GETLINK)

    def port_vlans(self, index):
        """VLAN entries (vid, pvid, untagged) of bridge port ``index`` (needs a VLAN-filtering bridge)."""
        replies = self._read('list the VLANs of interface #%s' % index, 'ifinfmsg', RTM_GETLINK, AF_BRIDGE,
                             attrs=[('IFLA_EXT_MASK', RTEXT_FILTER_BRVLAN)], generic=True)
        entries = []
        for reply in replies:
            if reply['index'] != index:
                continue
            spec = reply.get_attr('IFLA_AF_SPEC')
            for item in (spec or {}).get('attrs', []):
                if item[0] != 'IFLA_BRIDGE_VLAN_INFO':
                    continue
                info = item[1]
                entries.append(dict(vid=info['vid'], pvid=bool(info['flags'] & BRIDGE_VLAN_INFO_PVID),
                                    untagged=bool(info['flags'] & BRIDGE_VLAN_INFO_UNTAGGED)))
        return entries

    def get_bridge(self, name):
        """Bridge ``name`` as a link dict (``bridge`` holds every decoded IFLA_BR_* attribute), or None if there
        is no interface of that name. An interface that is not a bridge raises :class:`ValidationError`."""
        link = self.get_link(name)
        if link is not None and link['kind'] != 'bridge':
            raise ValidationError('Interface %r%s is not a bridge (kind: %s).'
                                  % (name, self._where(), link['kind'] or 'a physical or unnamed-kind device'),
                                  name=name, kind=link['kind'])
        return link

    def bridges(self):
        """Every bridge, as :meth:`get_bridge` dicts. The KERNEL filters the dump by kind (IFLA_LINKINFO /
        IFLA_INFO_KIND in the request): the other interfaces are never sent, let alone decoded."""
        replies = self._read('list the bridges', 'ifinfmsg', RTM_GETLINK,
                             attrs=[('IFLA_LINKINFO', {'attrs': [('IFLA_INFO_KIND', 'bridge')]})])
        return [link for link in replies if link['kind'] == 'bridge']

    def fdb(self, bridge_index):
        """The forwarding database of bridge ``bridge_index``: the bridge's own entries, as
        :func:`_decode_neigh` dicts (those that carry NDA_MASTER; the kernel sets no NTF_MASTER on them).

        An RTM_GETNEIGH dump (family AF_BRIDGE) that the KERNEL filters by NDA_MASTER. The kernel reads
        NDA_MASTER from an ``ndmsg`` request only under strict checking (NETLINK_GET_STRICT_CHK), switched on
        for this request only. Entries the devices report themselves (NTF_SELF, no NDA_MASTER: their unicast and
        multicast address lists) are left out.
        """
        strict = True
        try:
            self._socket.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
        except OSError:
            strict = False  # kernel < 4.20: it ignores the filter and dumps every bridge; filtered below
        try:
            entries = self._read('read the forwarding database of interface #%s' % bridge_index, 'ndmsg',
                                 RTM_GETNEIGH, AF_BRIDGE, attrs=[('NDA_MASTER', bridge_index)])
        finally:
            if strict:
                self._socket.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 0)
        return [entry for entry in entries if entry['master'] == bridge_index]

    # ---- writes ------------------------------------------------------------------------------------------

    def _ipr(self):
        if self._writer is None:
            parts = _import(_writer_parts)
            if not self.netns:
                self._writer = parts['IPRoute']()
            else:
                try:
                    self._writer = parts['IPRoute'](netns=self.netns, flags=0)  # pyroute2 >= 0.9
                except TypeError:
                    # pyroute2 0.7 / 0.8: NetNS forks a helper process inside the namespace
                    self._writer = parts['NetNS'](self.netns, flags=0)
        return self._writer

    def _call(self, what, method, *args, **kwargs):
        try:
            return getattr(self._ipr(), method)(*args, **kwargs)
        except NetlinkError as exc:
            raise NetlinkOperationError(
                'Cannot %s%s: %s.' % (what, self._where(), describe_errno(exc.code)),
                errno=errno_name(exc.code),
            )
        except OSError as exc:  # e.g. entering the namespace
            raise NetlinkOperationError(
                'Cannot %s%s: %s.' % (what, self._where(), describe_errno(exc.errno or errno.EIO)),
                errno=errno_name(exc.errno or errno.EIO),
            )

    def add_link(self, name, kind, address=None, mtu=None, kind_data=None):
        """Create a link; ``kind_data`` holds kind-specific attributes by pyroute2 keyword (e.g. br_stp_state)."""
        kwargs = dict(kind_data or {})
        if address is not None:
            kwargs['address'] = address
        if mtu is not None:
            kwargs['mtu'] = mtu
        self._call('create %s %r' % (kind, name), 'link', 'add', ifname=name, kind=kind, **kwargs)

    def set_link(self, name, index, kind=None, address=None, mtu=None, up=None, kind_data=None):
        """Change attributes of an existing link in place (one RTM_NEWLINK request)."""
        kwargs = dict(kind_data or {})
        if kind is not None:
            kwargs['kind'] = kind
        if address is not None:
            kwargs['address'] = address
        if mtu is not None:
            kwargs['mtu'] = mtu
        if up is not None:
            kwargs['state'] = 'up' if up else 'down'
        if not kwargs:
            return
        described = ', '.join('%s=%s' % (key, kwargs[key]) for key in sorted(kwargs) if key != 'kind')
        self._call('set %s on %r' % (described, name), 'link', 'set', index=index, **kwargs)

    def delete_link(self, name, index):
        self._call('delete interface %r' % name, 'link', 'del', index=index)

    def set_port(self, name, index, port_data):
        """Set bridge-port attributes (IFLA_BRPORT_*, by pyroute2 keyword: cost, priority, mode, guard...)."""
        described = ', '.join('%s=%s' % (key, port_data[key]) for key in sorted(port_data))
        self._call('set port attributes %s on %r' % (described, name), 'brport', 'set', index=index, **port_data)

    def set_master(self, name, index, master_index, master_name=None):
        """Enslave ``index`` to ``master_index``, or release it when ``master_index`` is 0."""
        what = 'enslave %r to %r' % (name, master_name) if master_index else 'release %r from its bridge' % name
        self._call(what, 'link', 'set', index=index, master=master_index)

    def add_address(self, name, index, address, nodad=False):
        """Add ``address`` (dict as returned by :meth:`addresses`) to interface ``index``."""
        kwargs = dict(index=index, address=address['address'], prefixlen=address['prefixlen'])
        if address['family'] == 6 and nodad:
            kwargs['flags'] = IFA_F_NODAD  # no duplicate address detection: usable at once, no 1.6-2.9 s stall
        self._call('add address %s/%s to %r' % (address['address'], address['prefixlen'], name), 'addr', 'add',
                   **kwargs)

    def delete_address(self, name, index, address):
        self._call('delete address %s/%s from %r' % (address['address'], address['prefixlen'], name), 'addr', 'del',
                   index=index, address=address['address'], prefixlen=address['prefixlen'])

    def route_to(self, route, oif, how='replace'):
        """Add (``how='add'``) or replace a route (dict as returned by :meth:`routes`) so it leaves through
        ``oif``. Replace keeps the route's identity (destination, table, metric) and swaps its interface."""
        kwargs = dict(family=socket.AF_INET6 if route['family'] == 6 else socket.AF_INET,
                      dst_len=route['dst_len'], oif=oif, table=route['table'], proto=route['protocol'],
                      scope=route['scope'], type=route['type'])
        for key in ('dst', 'gateway', 'prefsrc', 'priority'):
            if route.get(key) is not None:
                kwargs[key] = route[key]
        self._call('%s route %s' % (how, route_text(route)), 'route', how, **kwargs)

    def port_vlan(self, name, index, command, entry):
        """Add (``command='add'``) or delete a VLAN entry (vid, pvid, untagged) on bridge port ``index``."""
        flags = (BRIDGE_VLAN_INFO_PVID if entry.get('pvid') else 0) | (
            BRIDGE_VLAN_INFO_UNTAGGED if entry.get('untagged') else 0)
        self._call('%s VLAN %s on %r' % (command, entry['vid'], name), 'vlan_filter', command, index=index,
                   vlan_info=dict(vid=entry['vid'], flags=flags))


def _setns(fd):
    """Move this thread into the network namespace behind ``fd`` (os.setns from Python 3.12, else libc)."""
    if hasattr(os, 'setns'):
        os.setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


# ---- persistent taps (kvm_guest_nic, backend tap): /dev/net/tun ioctls, no `ip` fork --------------------------
# Numbers from include/uapi/linux/if_tun.h (x86_64/arm64/most: _IOW('T', nr, int) = 0x400454xx).

TUN_DEVICE = '/dev/net/tun'
IFF_TUN, IFF_TAP, IFF_MULTI_QUEUE, IFF_NO_PI, IFF_VNET_HDR = 0x0001, 0x0002, 0x0100, 0x1000, 0x4000
TUNSETIFF, TUNSETPERSIST, TUNSETOWNER, TUNSETGROUP = 0x400454ca, 0x400454cb, 0x400454cc, 0x400454ce
_IFREQ = struct.Struct('=16sH22x')  # struct ifreq: ifr_name, ifr_flags, the rest of the union (40 bytes)


def tap_flags(tun=None):
    """TUNSETIFF flags for a tap: IFF_TAP | IFF_NO_PI for a new one; for an existing one (``tun`` = its IFLA_TUN_*
    dict) the flags it has, because TUNSETIFF on an existing tap rewrites them (packet info, vnet header)."""
    if tun is None:
        return IFF_TAP | IFF_NO_PI
    flags = IFF_TAP
    flags |= 0 if tun.get('IFLA_TUN_PI') else IFF_NO_PI
    flags |= IFF_VNET_HDR if tun.get('IFLA_TUN_VNET_HDR') else 0
    flags |= IFF_MULTI_QUEUE if tun.get('IFLA_TUN_MULTI_QUEUE') else 0
    return flags


def tun_ioctl(netns, name, flags, owner=None, group=None, persist=None, what=None):
    """Inside ``netns`` (the same setns dance as :meth:`Netlink.open`): open /dev/net/tun, TUNSETIFF ``name`` with
    ``flags`` (creates the device, or attaches to an existing one: EBUSY while another process holds it), then
    TUNSETOWNER / TUNSETGROUP when given, TUNSETPERSIST when given (1 keeps the device after close, 0 lets the
    close delete it), and close. Errors raise :class:`NetlinkOperationError` naming ``what`` and the errno."""
    import fcntl

    what = what or 'configure tap %r' % name
    here = where(netns)

    def work():
        fd = os.open(TUN_DEVICE, os.O_RDWR)
        try:
            fcntl.ioctl(fd, TUNSETIFF, _IFREQ.pack(name.encode('utf-8'), flags))
            if owner is not None:
                fcntl.ioctl(fd, TUNSETOWNER, owner)
            if group is not None:
                fcntl.ioctl(fd, TUNSETGROUP, group)
            if persist is not None:
                fcntl.ioctl(fd, TUNSETPERSIST, 1 if persist else 0)
        finally:
            os.close(fd)

    try:
        if not netns:
            work()
            return
        path = _netns_path(netns)
        if not os.path.exists(path):
            raise ValidationError(
                'Network namespace %r does not exist (no %s). Create it first (for example `ip netns add %s`):'
                ' kvmnet.bridge never creates a namespace implicitly.' % (netns, path, netns), netns=netns)
        own = os.open('/proc/self/ns/net', os.O_RDONLY)
        try:
            target = os.open(path, os.O_RDONLY)
            try:
                _setns(target)
                try:
                    work()
                finally:
                    _setns(own)
            finally:
                os.close(target)
        finally:
            os.close(own)
    except OSError as exc:
        code = exc.errno or errno.EIO
        raise NetlinkOperationError('Cannot %s%s: %s.' % (what, here, describe_errno(code)),
                                    errno=errno_name(code))
