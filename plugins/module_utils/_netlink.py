# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's netlink client (:class:`Netlink`), and the ONLY file that imports pyroute2.

- Reads use a plain ``AF_NETLINK`` socket opened inside the namespace (:mod:`_netns`); requests and replies are
  encoded and decoded by :mod:`_nlcodec`, so a read imports no pyroute2 at all. Every read asks the kernel for
  exactly what it needs: one link by name or index, or a dump the KERNEL filters (ports by IFLA_MASTER, bridges
  by kind, addresses by interface, routes by output interface, the FDB by bridge; the last three under strict
  checking, with the same filter in Python for kernels without it). The interface inventory's :meth:`links` is
  the one full dump. Interrupted dumps (NLM_F_DUMP_INTR) are read again. docs/netlink.md has the details.
- Writes use pyroute2's ``IPRoute`` (``NetNS`` on 0.7/0.8, which cannot open a namespace otherwise), imported and
  opened on the first write only, always with ``flags=0`` (a missing namespace is an error, never created).
- pyroute2's package ``__init__`` imports everything eagerly (~110 ms): the submodules a write needs are imported
  without it (:func:`_bare_package`); the bare package runs its ``__init__`` the first time anything else asks it
  for an attribute, so ``from pyroute2 import IPRoute`` keeps working in the same process.
- Kernel errors become :class:`NetlinkOperationError` in words (:mod:`_kernel_errors`); no pyroute2 object leaves
  this file: reads return plain dicts, so the logic above it is testable without a kernel.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import socket
import sys

from ansible_collections.kvmnet.bridge.plugins.module_utils import _nlcodec as nl
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    DependencyError,
    NetlinkOperationError,
    ValidationError,
    where,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import route_text
from ansible_collections.kvmnet.bridge.plugins.module_utils._kernel_errors import kernel_error
from ansible_collections.kvmnet.bridge.plugins.module_utils._netns import entered

PYROUTE2_MINIMUM_VERSION = (0, 7)
AF_BRIDGE = 7
IFA_F_NODAD = 0x02
BRIDGE_VLAN_INFO_PVID, BRIDGE_VLAN_INFO_UNTAGGED = nl.BRIDGE_VLAN_INFO_PVID, nl.BRIDGE_VLAN_INFO_UNTAGGED
SOL_NETLINK = 270
NETLINK_GET_STRICT_CHK = 12
DUMP_ATTEMPTS = 4  # an interrupted dump is read again up to 3 times
RECV_SIZE = 1 << 20  # the kernel sends at most ~32 KiB per datagram; more is harmless


# ---- pyroute2: found, version, imported on demand -----------------------------------------------------------

def _find_pyroute2():
    import importlib.util

    try:
        spec = importlib.util.find_spec('pyroute2')  # finds the package, runs none of it
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None, 'ModuleNotFoundError: No module named pyroute2 (searched the sys.path of %s)' % sys.executable
    return spec, None


_PYROUTE2_SPEC, PYROUTE2_IMPORT_ERROR = _find_pyroute2()


def _bare_package():
    """``sys.modules['pyroute2']``, registered first, if pyroute2 is not imported yet, as the package module
    WITHOUT its ``__init__`` having run, so that importing a submodule loads only that submodule and what it
    imports. The module's ``__getattr__`` runs the real ``__init__`` into it (:func:`_complete`) the first time
    someone asks it for an attribute it lacks (``from pyroute2 import IPRoute``, ``pyroute2.__version__``): from
    then on it is the ordinary, fully imported package."""
    import importlib.util

    module = sys.modules.get('pyroute2')
    if module is not None:
        return module
    if _PYROUTE2_SPEC is None:
        raise ImportError('No module named pyroute2')
    module = importlib.util.module_from_spec(_PYROUTE2_SPEC)

    def __getattr__(name):  # PEP 562
        if name.startswith('__') and name.endswith('__') and name not in ('__version__', '__all__'):
            raise AttributeError(name)  # probes of special names do not pay for the whole package
        if importlib.util.find_spec('pyroute2.' + name) is not None:
            # `from pyroute2 import config` inside pyroute2: the import system loads the submodule itself
            raise AttributeError(name)
        _complete(module)
        try:
            return module.__dict__[name]
        except KeyError:
            raise AttributeError("module 'pyroute2' has no attribute %r" % name)

    module.__getattr__ = __getattr__
    sys.modules['pyroute2'] = module
    return module


def _complete(module):
    """Run pyroute2's package ``__init__`` in ``module`` if it is the bare package (once)."""
    if module.__dict__.pop('__getattr__', None) is not None:
        module.__spec__.loader.exec_module(module)


def _pyroute2(module_name, attribute):
    """``attribute`` of pyroute2's submodule ``module_name``, through the bare package; if a pyroute2 release
    does not import that way, the package is completed first (always correct, only slower)."""
    import importlib

    _bare_package()
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        _complete(sys.modules['pyroute2'])
        return getattr(importlib.import_module(module_name), attribute)


def pyroute2_version():
    """The installed pyroute2 version as a tuple of ints, or None if it cannot be told.

    From pyroute2's ``config/version.py`` (one assignment, generated at build time), executed on its own: importing
    it as ``pyroute2.config.version`` would first run ``pyroute2.config`` (multiprocessing, platform...: 7-10 ms
    of every module run, measured). Debian 12's package has no such file (its ``__version__`` is
    ``'unknown'``), so the package metadata is read then.
    """
    raw = _version_file()
    if raw is None or raw == 'unknown':
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


def _version_file(locations=None):
    """``__version__`` of pyroute2's config/version.py under ``locations`` (default: where pyroute2 is found),
    or None (no pyroute2, no such file)."""
    import importlib.util
    import os

    if locations is None:
        loaded = sys.modules.get('pyroute2.config.version')
        if loaded is not None:
            return getattr(loaded, '__version__', None)
        locations = _PYROUTE2_SPEC.submodule_search_locations if _PYROUTE2_SPEC is not None else ()
    for location in locations:
        path = os.path.join(location, 'config', 'version.py')
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location('_kvmnet_pyroute2_version', path)
            module = importlib.util.module_from_spec(spec)  # not registered in sys.modules
            try:
                spec.loader.exec_module(module)
            except (OSError, SyntaxError):
                return None
            return getattr(module, '__version__', None)
    return None


def _writer_parts():
    """IPRoute and NetlinkError, or :class:`DependencyError` when pyroute2 does not import."""
    try:
        return (_pyroute2('pyroute2.iproute.linux', 'IPRoute'),
                _pyroute2('pyroute2.netlink.exceptions', 'NetlinkError'))
    except (ImportError, AttributeError, SyntaxError) as exc:
        raise DependencyError(
            'pyroute2 cannot be imported by %s, which the changes need: %s: %s. Install a working pyroute2 >= %s'
            ' for that interpreter (Debian/Ubuntu: python3-pyroute2, Fedora: python3-pyroute2, or pip).'
            % (sys.executable, type(exc).__name__, exc, '.'.join(str(part) for part in PYROUTE2_MINIMUM_VERSION)))


def preload_writer():
    """Import what writes need now (pyroute2's import takes 0.6-1.4 s cold), so a process that must act fast at a
    later moment (the checkpoint watchdog at its deadline) has paid for it in advance. Raises
    :class:`DependencyError` when pyroute2 does not import."""
    _writer_parts()


class _DumpInterrupted(Exception):
    pass


def _new_socket():
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # 0 = NETLINK_ROUTE
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((0, 0))
    return sock


def _public(entry, *keys):
    """``entry`` without the decoder's helper ``keys`` (the dicts the methods return keep one shape)."""
    for key in keys:
        entry.pop(key, None)
    return entry


class Netlink(object):
    """rtnetlink, optionally inside a network namespace. Use as a context manager.

    ``socket_factory`` (a seam for tests) makes the read socket; it is called inside the namespace.
    """

    def __init__(self, netns=None, socket_factory=None):
        self.netns = netns
        self._socket_factory = socket_factory or _new_socket
        self._socket = None
        self._sequence = 0
        self._writer = None
        self._netlink_error = None

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _where(self):
        return where(self.netns)

    def open(self):
        """Open the read socket inside the namespace (the socket stays bound to it); a missing namespace
        raises :class:`ValidationError` (:func:`_netns.existing_netns_path`)."""
        with entered(self.netns):
            try:
                self._socket = self._socket_factory()
            except OSError as exc:
                raise kernel_error('open a netlink socket', self.netns, exc.errno)

    def close(self):
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # ---- reads -------------------------------------------------------------------------------------------

    def _strict(self, on):
        """Switch strict checking (NETLINK_GET_STRICT_CHK) on or off; False when the kernel lacks it (< 4.20)."""
        try:
            self._socket.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1 if on else 0)
        except OSError:
            return False
        return True

    def _exchange(self, msg_type, header, attrs, decode, dump, select, strict):
        """Send one request and return its decoded replies; a dump that comes back interrupted is asked again.

        Raises OSError (the kernel's errno), :class:`_nlcodec.DecodeError` or :class:`_DumpInterrupted`.
        """
        strict = strict and self._strict(True)
        try:
            for dummy in range(DUMP_ATTEMPTS):
                self._sequence += 1
                self._socket.send(nl.request(msg_type, self._sequence, header, attrs, dump))
                replies, interrupted = self._receive(self._sequence, decode, dump, select)
                if not interrupted:
                    return replies
            raise _DumpInterrupted()
        finally:
            if strict:
                self._strict(False)

    def _receive(self, sequence, decode, dump, select):
        """Read the replies to ``sequence`` up to the end of the dump (or the one reply of a get).
        Returns (decoded replies, whether the kernel flagged the dump as interrupted)."""
        replies = []
        interrupted = False
        while True:
            data = self._socket.recv(RECV_SIZE)
            if not data:
                raise nl.DecodeError('empty read from the netlink socket')
            for offset, length, kind, flags, number in nl.messages(data):
                if number != sequence:
                    continue  # a late reply to an earlier request
                interrupted = interrupted or bool(flags & nl.NLM_F_DUMP_INTR)
                if kind in (nl.NLMSG_DONE, nl.NLMSG_ERROR):
                    code = nl.error_code(data, offset, length)
                    if code:
                        raise OSError(code, errno.errorcode.get(code, str(code)))
                    return replies, interrupted
                if select is None or select(data, offset, length):
                    replies.append(decode(data, offset, length))
                if not dump:
                    return replies, False

    def _read(self, what, msg_type, header, attrs=(), decode=nl.decode_link, dump=True, select=None,
              strict=False, missing_ok=False):
        """One read with errors in words: ``what`` names it (e.g. "read interface 'eth0'").

        ``select(data, offset, length)`` (optional) looks at a reply's fixed header and says whether to decode
        it; ``strict`` asks for strict checking for this request only (the kernel then applies the filters of
        address, route and neighbour dumps); with ``missing_ok``, ENODEV returns None instead of failing.
        """
        try:
            return self._exchange(msg_type, header, list(attrs), decode, dump, select, strict)
        except OSError as exc:
            if missing_ok and exc.errno == errno.ENODEV:
                return None
            raise kernel_error(what, self.netns, exc.errno)
        except nl.DecodeError as exc:
            raise NetlinkOperationError(
                'Cannot %s%s: the kernel\'s reply could not be read (%s). Nothing was decoded from it; please report'
                ' this with the kernel version (uname -r).' % (what, self._where(), exc), errno='EBADMSG')
        except _DumpInterrupted:
            raise NetlinkOperationError(
                'Cannot %s%s: the kernel reported %d times in a row that the table changed while it was being read'
                ' (NLM_F_DUMP_INTR): something on this host is changing interfaces, addresses or routes right now.'
                ' Run the task again when it has settled.' % (what, self._where(), DUMP_ATTEMPTS),
                errno='EINTR')

    def get_link(self, name):
        """The link called ``name`` as a dict (:func:`_nlcodec.decode_link`), or None if there is none."""
        replies = self._read('read interface %r' % name, nl.RTM_GETLINK, nl.ifinfomsg(),
                             [nl.string_attr(nl.IFLA_IFNAME, name)], dump=False, missing_ok=True)
        return replies[0] if replies else None

    def get_link_by_index(self, index):
        """The link with ifindex ``index`` as a dict, or None if there is none."""
        replies = self._read('read interface #%s' % index, nl.RTM_GETLINK, nl.ifinfomsg(index=index), dump=False,
                             missing_ok=True)
        return replies[0] if replies else None

    def ports(self, master_index):
        """The links enslaved to ``master_index``. The kernel filters the dump (IFLA_MASTER): Python never
        decodes the other interfaces."""
        replies = self._read('list the ports of interface #%s' % master_index, nl.RTM_GETLINK, nl.ifinfomsg(),
                             [nl.u32_attr(nl.IFLA_MASTER, master_index)])
        return [reply for reply in replies if reply['master'] == master_index]

    def links(self):
        """Every interface of the namespace, as link dicts (the interface inventory's one full dump; the other
        modules read single links or kernel-filtered dumps)."""
        return self._read('list the interfaces', nl.RTM_GETLINK, nl.ifinfomsg())

    def addresses(self, index):
        """IPv4 and IPv6 addresses of interface ``index`` as plain dicts (family 4 or 6, address, prefixlen,
        scope: 0 global, 253 link, 254 host; flags). The kernel filters the dump by ``ifa_index`` under strict
        checking; without it (kernel < 4.20) every address comes and is filtered here."""
        replies = self._read('list the addresses of interface #%s' % index, nl.RTM_GETADDR,
                             nl.ifaddrmsg(index=index), decode=nl.decode_address, strict=True)
        return [_public(reply, 'index') for reply in replies if reply['index'] == index]

    def _routes(self, what, attrs, select=None):
        """Configured routes of both families, every table but ``local``, single next hop (multipath routes
        are left out), cached exceptions left out. Strict checking: the kernel applies ``attrs`` (RTA_OIF) and
        sends no exceptions; the same rules are applied here for kernels without it."""
        result = []
        for family in (socket.AF_INET, socket.AF_INET6):
            for route in self._read(what, nl.RTM_GETROUTE, nl.rtmsg(family), attrs, decode=nl.decode_route,
                                    select=select, strict=True):
                if route['table'] != nl.RT_TABLE_LOCAL and not route['multipath'] and not route['cloned']:
                    result.append(_public(route, 'multipath', 'cloned'))
        return result

    def routes(self, index):
        """Routes whose output interface is ``index`` (dicts: family, oif, dst, dst_len, gateway, prefsrc,
        priority, table, protocol, scope, type). The kernel filters the dump by RTA_OIF under strict checking."""
        return [route for route in self._routes('list the routes of interface #%s' % index,
                                                [nl.u32_attr(nl.RTA_OIF, index)])
                if route['oif'] == index]

    def default_routes(self):
        """Default routes (destination length 0), as :meth:`routes` dicts, each with its ``oif`` (the interface
        index it leaves through). No dump filter selects a prefix length, so the kernel sends every route; only
        the fixed header of the others is read (no attribute is decoded)."""
        def default(data, offset, length):
            header = nl.route_header(data, offset, length)
            return header['dst_len'] == 0 and not header['flags'] & nl.RTM_F_CLONED

        return self._routes('list the default routes', [], select=default)

    def port_vlans(self, index):
        """VLAN entries (vid, pvid, untagged) of bridge port ``index`` (needs a VLAN-filtering bridge). The
        kernel has no filter for this dump (AF_BRIDGE RTM_GETLINK): only port ``index``'s message is decoded."""
        replies = self._read('list the VLANs of interface #%s' % index, nl.RTM_GETLINK, nl.ifinfomsg(AF_BRIDGE),
                             [nl.u32_attr(nl.IFLA_EXT_MASK, nl.RTEXT_FILTER_BRVLAN)], decode=nl.decode_bridge_vlans,
                             select=lambda data, offset, length: nl.link_index(data, offset, length) == index)
        return [entry for reply in replies for entry in reply['vlans']]

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
        replies = self._read('list the bridges', nl.RTM_GETLINK, nl.ifinfomsg(),
                             [nl.nested_attr(nl.IFLA_LINKINFO, nl.string_attr(nl.IFLA_INFO_KIND, 'bridge'))])
        return [link for link in replies if link['kind'] == 'bridge']

    def fdb(self, bridge_index):
        """The forwarding database of bridge ``bridge_index``: the bridge's own entries, as
        :func:`_nlcodec.decode_neigh` dicts (those that carry NDA_MASTER; the kernel sets no NTF_MASTER on them).

        An RTM_GETNEIGH dump (family AF_BRIDGE) that the KERNEL filters by NDA_MASTER, which it reads from an
        ``ndmsg`` request only under strict checking. Entries the devices report themselves (NTF_SELF, no
        NDA_MASTER: their unicast and multicast address lists) are left out.
        """
        entries = self._read('read the forwarding database of interface #%s' % bridge_index, nl.RTM_GETNEIGH,
                             nl.ndmsg(AF_BRIDGE), [nl.u32_attr(nl.NDA_MASTER, bridge_index)],
                             decode=nl.decode_neigh, strict=True)
        return [entry for entry in entries if entry['master'] == bridge_index]

    # ---- writes ------------------------------------------------------------------------------------------

    def _ipr(self):
        if self._writer is None:
            ipr_class, self._netlink_error = _writer_parts()
            if not self.netns:
                self._writer = ipr_class()
            else:
                try:
                    self._writer = ipr_class(netns=self.netns, flags=0)  # pyroute2 >= 0.9
                except TypeError:
                    # pyroute2 0.7 / 0.8: NetNS forks a helper process inside the namespace
                    self._writer = _pyroute2('pyroute2.nslink.nslink', 'NetNS')(self.netns, flags=0)
        return self._writer

    def _call(self, what, method, *args, **kwargs):
        if self._netlink_error is None:
            self._netlink_error = _writer_parts()[1]  # imported before the try: its class is caught below
        netlink_error = self._netlink_error
        try:
            return getattr(self._ipr(), method)(*args, **kwargs)
        except netlink_error as exc:
            raise kernel_error(what, self.netns, exc.code)
        except OSError as exc:  # e.g. entering the namespace
            raise kernel_error(what, self.netns, exc.errno)

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
