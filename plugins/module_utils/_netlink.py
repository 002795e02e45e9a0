# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's only door to netlink: the ONLY file that imports pyroute2.

- opens a socket in a network namespace with ``flags=0``: a missing namespace is an error, never created;
- hides the pyroute2 0.7 .. 0.9 differences (namespace opening, list vs tuple results, attribute access);
- turns ``NetlinkError`` codes into :class:`NetlinkOperationError` with words naming the interface and operation;
- reads single links with ``link('get')`` and a bridge's ports with a dump the KERNEL filters (``IFLA_MASTER``),
  never a full dump decoded in Python;
- returns plain dicts (no pyroute2 objects leave this file), so the logic above it is testable without a kernel.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import traceback

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    NetlinkOperationError,
    ValidationError,
)

PYROUTE2_IMPORT_ERROR = None
try:
    import pyroute2
    from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.rtnl import RTM_GETLINK
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
except ImportError:
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()

PYROUTE2_MINIMUM_VERSION = (0, 7)
NETNS_RUN_DIR = '/run/netns'
IFF_UP = 0x1

# Bridge attributes read from IFLA_INFO_DATA, by their netlink names; values are raw kernel units.
BRIDGE_ATTRIBUTES = (
    'IFLA_BR_STP_STATE',
    'IFLA_BR_FORWARD_DELAY',
    'IFLA_BR_HELLO_TIME',
    'IFLA_BR_MAX_AGE',
    'IFLA_BR_AGEING_TIME',
    'IFLA_BR_PRIORITY',
    'IFLA_BR_MCAST_SNOOPING',
    'IFLA_BR_VLAN_FILTERING',
    'IFLA_BR_GROUP_FWD_MASK',
)

_ERRNO_WORDS = {
    errno.ENODEV: 'no such interface',
    errno.EEXIST: 'an interface with that name already exists',
    errno.EINVAL: 'the kernel rejected a value as invalid',
    errno.ERANGE: 'a value is outside the range the kernel accepts',
    errno.EOPNOTSUPP: 'this kernel (or this kind of interface) does not support it',
    errno.EBUSY: 'the device is busy (another process, for example QEMU, holds it)',
    errno.EPERM: 'permission denied: run the task as root (become: true)',
    errno.EACCES: 'permission denied: run the task as root (become: true)',
}


def pyroute2_version():
    """The installed pyroute2 version as a tuple of ints, or None if it cannot be told.

    Read from the package metadata first: Debian 12's package reports ``__version__ == 'unknown'``.
    """
    raw = None
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # Python < 3.8 on the target
        version = None
    if version is not None:
        try:
            raw = version('pyroute2')
        except PackageNotFoundError:
            raw = None
    if raw is None and PYROUTE2_IMPORT_ERROR is None:
        raw = getattr(pyroute2, '__version__', None)
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


def _link_to_dict(msg):
    """A plain dict of the link attributes the collection uses (raw kernel units)."""
    linkinfo = msg.get_attr('IFLA_LINKINFO')
    kind = linkinfo.get_attr('IFLA_INFO_KIND') if linkinfo is not None else None
    info_data = linkinfo.get_attr('IFLA_INFO_DATA') if linkinfo is not None else None
    bridge = {}
    if kind == 'bridge' and info_data is not None:
        for name in BRIDGE_ATTRIBUTES:
            value = info_data.get_attr(name)
            if value is not None:
                bridge[name] = value
    address = msg.get_attr('IFLA_ADDRESS')
    perm_address = msg.get_attr('IFLA_PERM_ADDRESS')
    return dict(
        index=msg['index'],
        name=msg.get_attr('IFLA_IFNAME'),
        kind=kind,
        mtu=msg.get_attr('IFLA_MTU'),
        address=address.lower() if address else None,
        perm_address=perm_address.lower() if perm_address else None,
        up=bool(msg['flags'] & IFF_UP),
        operstate=msg.get_attr('IFLA_OPERSTATE'),
        master=msg.get_attr('IFLA_MASTER'),
        bridge=bridge,
    )


class Netlink(object):
    """A netlink (rtnetlink) socket, optionally inside a network namespace. Use as a context manager."""

    def __init__(self, netns=None):
        self.netns = netns
        self._ipr = None

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def open(self):
        if self.netns:
            if not os.path.exists(_netns_path(self.netns)):
                raise ValidationError(
                    'Network namespace %r does not exist (no %s). Create it first (for example `ip netns add %s`):'
                    ' kvmnet.bridge never creates a namespace implicitly.'
                    % (self.netns, _netns_path(self.netns), self.netns),
                    netns=self.netns,
                )
            try:
                try:
                    # pyroute2 >= 0.9
                    self._ipr = pyroute2.IPRoute(netns=self.netns, flags=0)
                except TypeError:
                    # pyroute2 0.7 / 0.8: NetNS forks a helper process inside the namespace
                    self._ipr = pyroute2.NetNS(self.netns, flags=0)
            except OSError as exc:
                raise NetlinkOperationError(
                    'Cannot enter network namespace %r: %s' % (self.netns, describe_errno(exc.errno or errno.EIO)),
                    netns=self.netns,
                )
        else:
            self._ipr = pyroute2.IPRoute()
        status = getattr(self._ipr, 'status', None)
        if isinstance(status, dict) and 'nlm_generator' not in status:
            # pyroute2 0.9's synchronous nlm_request() reads this key but the sync facade never sets it.
            status['nlm_generator'] = False

    def close(self):
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    def _call(self, what, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except NetlinkError as exc:
            where = ' in network namespace %r' % self.netns if self.netns else ''
            raise NetlinkOperationError(
                'Cannot %s%s: %s.' % (what, where, describe_errno(exc.code)),
                errno=errno_name(exc.code),
            )

    # ---- reads -------------------------------------------------------------------------------------------

    def get_link(self, name):
        """The link called ``name`` as a dict, or None if there is none."""
        try:
            messages = self._ipr.link('get', ifname=name)
        except NetlinkError as exc:
            if exc.code == errno.ENODEV:
                return None
            raise NetlinkOperationError('Cannot read interface %r: %s.' % (name, describe_errno(exc.code)))
        return _link_to_dict(list(messages)[0])

    def get_link_by_index(self, index):
        messages = self._call('read interface #%s' % index, self._ipr.link, 'get', index=index)
        return _link_to_dict(list(messages)[0])

    def ports(self, master_index):
        """The links enslaved to ``master_index``; the kernel filters the dump (IFLA_MASTER), Python never sees
        the other interfaces."""
        request = ifinfmsg()
        request['family'] = 0
        request['attrs'] = [('IFLA_MASTER', master_index)]
        messages = self._call(
            'list the ports of interface #%s' % master_index,
            self._ipr.nlm_request,
            request,
            msg_type=RTM_GETLINK,
            msg_flags=NLM_F_REQUEST | NLM_F_DUMP,
        )
        return [_link_to_dict(message) for message in messages if message.get_attr('IFLA_MASTER') == master_index]

    # ---- writes ------------------------------------------------------------------------------------------

    def add_link(self, name, kind, address=None, mtu=None, kind_data=None):
        """Create a link; ``kind_data`` holds kind-specific attributes by pyroute2 keyword (e.g. br_stp_state)."""
        kwargs = dict(kind_data or {})
        if address is not None:
            kwargs['address'] = address
        if mtu is not None:
            kwargs['mtu'] = mtu
        self._call('create %s %r' % (kind, name), self._ipr.link, 'add', ifname=name, kind=kind, **kwargs)

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
        self._call('set %s on %r' % (described, name), self._ipr.link, 'set', index=index, **kwargs)

    def delete_link(self, name, index):
        self._call('delete interface %r' % name, self._ipr.link, 'del', index=index)
