# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The systemd-networkd persistence backend (docs/persist/networkd.md).

Files, all in ``/etc/systemd/network/``, mode 0644 root:root (networkd reads them after dropping to the
``systemd-network`` user, so 0600 would hide them from it; none of them holds a secret):

- ``05-kvmnet-BRIDGE.netdev``: the bridge device (``[NetDev] Kind=bridge``, ``MACAddress=``, ``MTUBytes=``) and its
  ``[Bridge]`` attributes;
- ``05-kvmnet-BRIDGE.network``: the bridge's addressing (none: no DHCP, no IPv4LL, no IPv6 link-local, no RA);
- ``05-kvmnet-BRIDGE-port-PORT.network``: ``Bridge=BRIDGE`` for the uplink only (``[Match] Name=PORT``), its
  ``[Bridge]`` port attributes, and no address of any kind on it;
- ``05-kvmnet-BRIDGE-taps.network``: ``Unmanaged=yes`` for ``vnet*`` and ``tap*`` (guest NICs), so that a
  catch-all file (``[Match] Type=ether``) of the host never runs a DHCP client on a guest's tap.

The ``05-`` prefix sorts before the usual catch-all and generated files (``10-netplan-*``, ``10-cloud-init-*``,
``50-*``, ``80-*``, ``99-*``): networkd gives a link the FIRST ``.network`` file (by file name) that matches it.

Activation is ``networkctl reload`` (over D-Bus): networkd re-reads every file, creates a bridge that does not
exist yet, and reconfigures each link whose ``.network`` file changed, without taking the link down (measured:
no carrier loss, same ifindex, only the IPv6 link-local address of port and bridge removed). networkd never
changes an existing bridge device from its ``.netdev`` (MAC, ``[Bridge]`` values) on reload; the role's apply
phase has already set those at runtime over netlink, so a changed ``.netdev`` needs no restart: networkd applies
it when it creates the bridge at the next boot.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os
import time

from ansible_collections.kvmnet.bridge.plugins.module_utils import _persist
from ansible_collections.kvmnet.bridge.plugins.module_utils._persist import ini_section, marked_text
from ansible_collections.kvmnet.bridge.plugins.module_utils._persist_model import seconds

NETWORK_DIR = '/etc/systemd/network'
PREFIX = '05-kvmnet-'
MODE = 0o644
# Where networkd reads .network/.netdev files; a file name in an earlier directory hides the same name in later ones.
SEARCH_DIRS = ('/etc/systemd/network', '/run/systemd/network', '/usr/local/lib/systemd/network',
               '/usr/lib/systemd/network', '/lib/systemd/network')
DAEMONS = ('/lib/systemd/systemd-networkd', '/usr/lib/systemd/systemd-networkd')
BUS_SOCKET = '/run/dbus/system_bus_socket'
LINKS_DIR = '/run/systemd/netif/links'
TAP_PATTERNS = ('vnet*', 'tap*')
ACTIVATION_TIMEOUT = 10.0  # seconds for networkd to give bridge and port our files after the reload


def _bool(value):
    return 'yes' if value else 'no'


def _ini(text):
    """A systemd unit-style file -> list of (section, key, value) in order (comments and blank lines dropped)."""
    entries, section = [], None
    for raw in (text or '').splitlines():
        line = raw.strip()
        if not line or line.startswith(('#', ';')):
            continue
        if line.startswith('[') and line.endswith(']'):
            section = line[1:-1].strip()
            continue
        if '=' in line and section is not None:
            key, value = line.split('=', 1)
            entries.append((section, key.strip(), value.strip()))
    return entries


def _name_patterns(entries):
    """The effective ``[Match] Name=`` list of a parsed file (an empty assignment resets it) and whether it is
    inverted (a leading ``!``), plus the other ``[Match]`` keys set; None for the list when Name= is not set."""
    patterns, others = None, []
    for section, key, value in entries:
        if section != 'Match':
            continue
        if key == 'Name':
            patterns = [] if not value else (patterns or []) + value.split()
        elif value:
            others.append(key)
    return patterns, others


def _name_matches(patterns, name):
    if not patterns:
        return False
    invert = patterns[0].startswith('!')
    if invert:
        patterns = [patterns[0][1:]] + patterns[1:]
    found = any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns if pattern)
    return not found if invert else found


class NetworkdBackend(_persist.Backend):
    """systemd-networkd: a .netdev and a .network for the bridge, a .network for the port, one for the taps."""

    name = 'networkd'

    def __init__(self, host, options=None):
        super(NetworkdBackend, self).__init__(host, options)
        self.sleep = time.sleep  # seams for the unit tests
        self.clock = time.time

    # ---- the files ---------------------------------------------------------------------------------------------

    @staticmethod
    def paths(model):
        bridge, port = model['bridge']['name'], model['port']['name']
        base = os.path.join(NETWORK_DIR, PREFIX + bridge)
        return dict(netdev=base + '.netdev', network=base + '.network',
                    port='%s-port-%s.network' % (base, port), taps=base + '-taps.network')

    def render(self, model):
        bridge, port, addressing = model['bridge'], model['port'], model['addressing']
        paths = self.paths(model)
        netdev = marked_text(model, ini_section('NetDev', [
            # no MTUBytes= here: a bridge created with an MTU adopts its port's MTU when the port joins (the kernel's
            # auto-adjust, as the MTU was not set by a user), and networkd then sees no difference to [Link]
            # MTUBytes= and sets nothing; the .network's [Link] MTUBytes= alone sets it after creation and sticks
            ('Name', bridge['name']), ('Kind', 'bridge'), ('MACAddress', bridge['mac']),
        ]), ini_section('Bridge', [
            ('STP', _bool(bridge['stp'])),
            ('ForwardDelaySec', self._seconds(bridge['forward_delay'])),
            ('HelloTimeSec', self._seconds(bridge['hello_time'])),
            ('MaxAgeSec', self._seconds(bridge['max_age'])),
            ('AgeingTimeSec', self._seconds(bridge['ageing_time'])),
            # networkd 252 sends no priority for Priority=0 (see limits): write only what it applies
            ('Priority', bridge['priority'] or None),
            ('VLANFiltering', self._flag(bridge['vlan_filtering'])),
            ('MulticastSnooping', self._flag(bridge['mcast_snooping'])),
            ('GroupForwardMask', bridge['group_fwd_mask']),
        ]))
        network = marked_text(
            model, ini_section('Match', [('Name', bridge['name'])]),
            ini_section('Link', [('MTUBytes', bridge['mtu']),
                                 ('RequiredForOnline', 'carrier' if addressing['mode'] == 'none' else None)]),
            ini_section('Network', self._addressing(addressing)))
        port_file = marked_text(
            model, ini_section('Match', [('Name', port['name'])]),
            ini_section('Link', [('RequiredForOnline', 'enslaved')]),
            ini_section('Network', [('Bridge', bridge['name']), ('DHCP', 'no'),
                                    ('LinkLocalAddressing', 'no'), ('IPv6AcceptRA', 'no')]),
            ini_section('Bridge', [
                ('Cost', port['cost']),
                ('Priority', port['priority']),
                ('HairPin', self._flag(port['hairpin'])),
                ('Learning', self._flag(port['learning'])),
                ('UnicastFlood', self._flag(port['unicast_flood'])),
                ('MulticastFlood', self._flag(port['mcast_flood'])),
                # both inverted: UseBPDU=no is the kernel's guard on, AllowPortToBeRoot=no root_block
                ('UseBPDU', self._flag(port['bpdu_guard'], invert=True)),
                ('AllowPortToBeRoot', self._flag(port['root_block'], invert=True)),
                ('Isolated', self._flag(port['isolated'])),
                ('NeighborSuppression', self._flag(port['neigh_suppress'])),
            ]))
        taps = marked_text(model, ini_section('Match', [('Name', ' '.join(TAP_PATTERNS))]),
                           ini_section('Link', [('Unmanaged', 'yes')]))
        return [_persist.PersistFile(paths['netdev'], netdev, MODE),
                _persist.PersistFile(paths['network'], network, MODE),
                _persist.PersistFile(paths['port'], port_file, MODE),
                _persist.PersistFile(paths['taps'], taps, MODE)]

    @staticmethod
    def _seconds(value):
        return None if value is None else seconds(value)

    @staticmethod
    def _flag(value, invert=False):
        return None if value is None else _bool(not value if invert else value)

    @staticmethod
    def _addressing(addressing):
        mode = addressing['mode']
        if mode == 'none':
            # no DHCP, no IPv4LL, no IPv6 link-local (networkd sets addr_gen_mode none), no router advertisements
            return [('DHCP', 'no'), ('LinkLocalAddressing', 'no'), ('IPv6AcceptRA', 'no')]
        if mode == 'dhcp':
            return [('DHCP', 'yes')]
        pairs = [('Address', address) for address in addressing['addresses']]
        pairs += [('Gateway', addressing[key]) for key in ('gateway4', 'gateway6') if addressing[key]]
        return pairs + [('DHCP', 'no'), ('LinkLocalAddressing', 'ipv6'), ('IPv6AcceptRA', 'no')]

    # ---- what the stack cannot express -------------------------------------------------------------------------

    def limits(self, model):
        found = []
        if model['bridge']['priority'] == 0:
            found.append(_persist.Limit(
                'bridge.priority', 0, 32768,
                'systemd-networkd 252 treats [Bridge] Priority=0 as unset and sends no priority, so a bridge it'
                ' creates at boot keeps the kernel default 32768'))
        return found

    # ---- our old files -----------------------------------------------------------------------------------------

    def _ours(self):
        """(path, bridge, port) of every marked kvmnet file in NETWORK_DIR."""
        return _persist.marked_files(self.host, [
            path for path in self.host.glob(os.path.join(NETWORK_DIR, '*kvmnet*'))
            if path.endswith(('.netdev', '.network'))])

    def stale(self, model):
        """Our files of this bridge or of this port that the model no longer has: an old uplink's port file, every
        file of the bridge's old name (a rename keeps the port). Files of another bridge with another uplink, made
        by another run, stay."""
        return _persist.stale_marked(self._ours(), self.paths(model).values(), model)

    # ---- read-only checks --------------------------------------------------------------------------------------

    def _daemon(self):
        return next((path for path in DAEMONS if self.host.exists(path)), None)

    def _pid(self):
        """PID of a running systemd-networkd (its argv[0]), or None."""
        for path in self.host.glob('/proc/[0-9]*/cmdline'):
            argv = (self.host.read(path) or '').split('\0')
            if argv and os.path.basename(argv[0]) == 'systemd-networkd':
                return int(path.split('/')[2])
        return None

    def _files(self, suffix):
        """networkd's files of one kind as it sees them: basename -> path (earlier directories hide later ones),
        in its order (sorted by basename)."""
        by_name = {}
        for directory in SEARCH_DIRS:
            for path in self.host.glob(os.path.join(directory, '*' + suffix)):
                by_name.setdefault(os.path.basename(path), path)
        return [by_name[name] for name in sorted(by_name)]

    def preflight(self, model):
        if self._daemon() is None:
            raise _persist.PersistError(
                'backend networkd: systemd-networkd is not installed (none of %s). Install it (Debian 12 and'
                ' Ubuntu: package systemd; Debian 13: systemd-networkd), or choose the backend that manages this'
                ' host (kvm_bridge_host_persist).' % ', '.join(DAEMONS))
        if self.host.which('networkctl') is None:
            raise _persist.PersistError(
                'backend networkd: networkctl is not installed; it is the client this backend activates the files'
                ' with (networkctl reload). Install the package that ships systemd-networkd.')
        pid = self._pid()
        if pid is not None and not self._bus():
            raise _persist.PersistError(
                'backend networkd: systemd-networkd runs (PID %d) but the D-Bus system bus is not there (%s is'
                ' missing), so networkctl cannot tell it to load the new files, and until the next boot it would'
                ' keep its current configuration of %s (which knows nothing of the bridge). Start D-Bus'
                ' (dbus-daemon --system, or systemctl start dbus), then run again.'
                % (pid, BUS_SOCKET, model['port']['name']), pid=pid)
        self._check_order(model)

    def _bus(self):
        return self.host.exists(BUS_SOCKET) or bool(os.environ.get('DBUS_SYSTEM_BUS_ADDRESS'))

    def _check_order(self, model):
        """Refuse files that would take our links or our bridge from us: a .network that sorts before ours and
        matches the port or the bridge by name (or matches everything), a .netdev of another that defines the
        bridge, a file of another at one of our paths."""
        paths = self.paths(model)
        for path in paths.values():
            text = self.host.read(path)
            if text is not None and _persist.MARKER not in text:
                raise _persist.PersistError(
                    'backend networkd: %s exists and was not written by kvmnet.bridge (no marker line). Move it'
                    ' away (or merge what it holds into the role\'s variables), then run again.' % path, path=path)
        ours = dict((paths[kind], kind) for kind in ('network', 'port'))
        links = dict(network=model['bridge']['name'], port=model['port']['name'])
        for path in self._files('.network'):
            text = self.host.read(path) or ''
            if _persist.MARKER in text:
                continue
            patterns, others = _name_patterns(_ini(text))
            for mine, kind in sorted(ours.items()):
                link = links[kind]
                if os.path.basename(path) >= os.path.basename(mine):
                    continue
                everything = patterns is None and not others
                if everything or (not others and _name_matches(patterns, link)):
                    raise _persist.PersistError(
                        'backend networkd: %s sorts before %s and matches %s (%s), and networkd gives a link the'
                        ' first matching .network file, so ours would be ignored. Rename it to sort after %s (for'
                        ' example 50-%s), or narrow its [Match] so it does not match %s, then run again.'
                        % (path, os.path.basename(mine), link,
                           'it has no [Match] condition' if everything else 'Name=%s' % ' '.join(patterns),
                           PREFIX + '*', os.path.basename(path).split('-', 1)[-1], link), path=path)
        for path in self._files('.netdev'):
            if path == paths['netdev']:
                continue
            text = self.host.read(path) or ''
            names = [value for section, key, value in _ini(text) if section == 'NetDev' and key == 'Name']
            if model['bridge']['name'] in names and _persist.MARKER not in text:
                raise _persist.PersistError(
                    'backend networkd: %s also defines the netdev %s; networkd would load only one of the two.'
                    ' Remove that file (this role writes %s), then run again.'
                    % (path, model['bridge']['name'], paths['netdev']), path=path)

    # ---- activation ------------------------------------------------------------------------------------------

    def running(self):
        return self._pid() is not None

    def activate(self, model, changed):
        if not changed:
            return []
        argv = [self.host.which('networkctl') or 'networkctl', 'reload']
        rc, out, err = self.host.run(argv)
        if rc != 0:
            raise _persist.PersistError(
                'networkctl reload failed (rc %d): %s. systemd-networkd did not take the new files; its log'
                ' (journalctl -u systemd-networkd) says why.' % (rc, (err or out).strip()), rc=rc)
        if model is not None:
            self._wait_configured(model)
        return [argv]

    def _link_state(self, name):
        """networkd's state file of link ``name`` as a dict, or None (no such link or no state yet)."""
        index = (self.host.read('/sys/class/net/%s/ifindex' % name) or '').strip()
        if not index.isdigit():
            return None
        text = self.host.read(os.path.join(LINKS_DIR, index))
        if text is None:
            return None
        return dict(line.split('=', 1) for line in text.splitlines() if '=' in line and not line.startswith('#'))

    def _wait_configured(self, model):
        """Wait until networkd runs the bridge and the port with our files (reload is asynchronous); refuse when
        it does not within ACTIVATION_TIMEOUT, naming what it uses instead (a file of higher precedence that
        preflight could not judge, such as a [Match] on MACAddress= or Type=)."""
        paths = self.paths(model)
        wanted = {model['bridge']['name']: paths['network'], model['port']['name']: paths['port']}
        deadline = self.clock() + ACTIVATION_TIMEOUT
        # a link that does not exist now (an uplink unplugged) gets our file when it appears: not waited for
        wanted = dict((name, path) for name, path in wanted.items() if self.host.exists('/sys/class/net/' + name))
        while True:
            states = dict((name, self._link_state(name)) for name in wanted)
            pending = dict((name, state) for name, state in states.items()
                           if state is None or state.get('NETWORK_FILE') != wanted[name]
                           or state.get('ADMIN_STATE') not in ('configured', 'configuring'))
            if not pending:
                return
            if self.clock() >= deadline:
                break
            self.sleep(0.1)
        described = '; '.join(
            '%s: %s' % (name, 'no networkd state' if state is None else 'ADMIN_STATE=%s NETWORK_FILE=%s' % (
                state.get('ADMIN_STATE'), state.get('NETWORK_FILE') or 'none'))
            for name, state in sorted(pending.items()))
        raise _persist.PersistError(
            'systemd-networkd did not take the files within %d s after networkctl reload (%s). `networkctl'
            ' status` and its log show why (a .network that sorts earlier and matches, a parse error).'
            % (ACTIVATION_TIMEOUT, described), links=sorted(pending))


BACKEND = NetworkdBackend
