# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ifupdown persistence backend: one ``/etc/network/interfaces.d/`` stanza file (ifupdown 0.8 + bridge-utils).

The file (``kvmnet-<bridge>``, a name that both ``source .../*`` and ``source-directory`` (run-parts rules)
include) holds ``auto <bridge>`` with the bridge-utils keys (``bridge_ports``, ``bridge_hw``, ``bridge_stp``,
``bridge_fd``...), the addressing method, ``post-up`` lines with ``ip``/``bridge`` for what bridge-utils has no key
for, and an ``iface <port> inet manual`` stanza (no ``auto``: ``bridge_ports`` brings the port up, with
``addrgenmode none``, so the port carries no address at all, not even an IPv6 link-local).

Facts this relies on (measured, docs/persist/ifupdown.md): bridge-utils' hook creates the bridge and sets
``bridge_hw`` only when the bridge does not exist yet, joins only ports that are not in yet, and sets the timers and
priorities in place on every ``ifup``; ``ifdown`` runs ``brctl delbr`` (the bridge and every VM tap on it would be
gone), so this backend never runs ``ifdown`` on the bridge. ``ifup`` is a silent no-op while ifupdown's state
(``/run/network/ifstate``) lists the interface: ``ifup --force`` re-runs the stanza in place. ``ifquery`` prints
parse errors ("misplaced option") and still exits 0; an ``address`` line counts once per stanza (more addresses
need more stanzas).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os
import re

from ansible_collections.kvmnet.bridge.plugins.module_utils import _persist
from ansible_collections.kvmnet.bridge.plugins.module_utils._persist_model import seconds

MAIN = '/etc/network/interfaces'
DIRECTORY = '/etc/network/interfaces.d'
PREFIX = 'kvmnet-'
# the prefix prepare() puts before a line of someone else's stanza for the bridge or the port (and takes off again)
DISABLED = '# disabled by kvmnet.bridge (kvm_bridge_host): '
_DISABLED_RE = DISABLED.replace('.', '[.]')  # as a sed (BRE) pattern: only '.' is special in it
_RUN_PARTS_CHARS = re.compile(r'[^A-Za-z0-9_-]')
# words that start a stanza (interfaces(5)); anything else on its own line is an option of the stanza before
_STANZA_WORDS = ('iface', 'mapping', 'auto', 'source', 'source-directory', 'rename')
_AUTO_WORDS = re.compile(r'^(auto|allow-[A-Za-z0-9_-]+)$')
# the DHCP clients ifupdown 0.8's inet dhcp method knows, in its order of preference
DHCP_CLIENTS = ('dhclient', 'pump', 'udhcpc', 'dhcpcd')
# bridge(8) ``bridge link set`` words of the port's flags
PORT_FLAGS = (('hairpin', 'hairpin'), ('learning', 'learning'), ('unicast_flood', 'flood'),
              ('mcast_flood', 'mcast_flood'), ('bpdu_guard', 'guard'), ('root_block', 'root_block'),
              ('isolated', 'isolated'), ('neigh_suppress', 'neigh_suppress'))


def file_name(bridge):
    """The stanza file of ``bridge``: ``/etc/network/interfaces.d/kvmnet-<bridge>``, with any character that
    run-parts names do not allow (``.``, ``@``, ``+``) written as ``_`` (``source-directory`` skips such names)."""
    return '%s/%s%s' % (DIRECTORY, PREFIX, _RUN_PARTS_CHARS.sub('_', bridge))


def _on(value):
    return 'on' if value else 'off'


def _stanza_bridge_keys(bridge, port):
    name = bridge['name']
    lines = ['bridge_ports %s' % port['name']]
    if bridge['mac']:
        lines.append('bridge_hw %s' % bridge['mac'])
    lines.append('bridge_stp %s' % _on(bridge['stp']))
    for option, key in (('forward_delay', 'bridge_fd'), ('hello_time', 'bridge_hello'),
                        ('max_age', 'bridge_maxage'), ('ageing_time', 'bridge_ageing')):
        if bridge[option] is not None:
            lines.append('%s %s' % (key, seconds(bridge[option])))
    if bridge['priority'] is not None:
        lines.append('bridge_bridgeprio %d' % bridge['priority'])
    if port['cost'] is not None:
        lines.append('bridge_pathcost %s %d' % (port['name'], port['cost']))
    if port['priority'] is not None:
        lines.append('bridge_portprio %s %d' % (port['name'], port['priority']))
    if bridge['vlan_filtering']:
        lines.append('bridge_vlan_aware yes')
    lines.append('bridge_maxwait 0')
    if bridge['mtu'] is not None:
        lines.append('mtu %d' % bridge['mtu'])
    kind = []
    if bridge['mcast_snooping'] is not None:
        kind.append('mcast_snooping %d' % int(bridge['mcast_snooping']))
    if bridge['vlan_filtering'] is False:
        kind.append('vlan_filtering 0')
    if bridge['group_fwd_mask'] is not None:
        kind.append('group_fwd_mask %d' % bridge['group_fwd_mask'])
    if kind:
        lines.append('post-up ip link set dev %s type bridge %s' % (name, ' '.join(kind)))
    flags = ['%s %s' % (word, _on(port[option])) for option, word in PORT_FLAGS if port.get(option) is not None]
    if flags:
        lines.append('post-up bridge link set dev %s %s' % (port['name'], ' '.join(flags)))
    # bridge-utils sets addrgenmode none only on a port that was down when it joined; a NIC that was up before
    # (brought up early at boot, or joined by the apply phase) keeps its IPv6 link-local: take it away
    conf = '/proc/sys/net/ipv6/conf/%s' % port['name']
    lines.append('post-up test ! -d %s || { ip link set dev %s addrgenmode none; ip -6 addr flush dev %s scope link; }'
                 % (conf, port['name'], port['name']))
    return lines


def _no_router_advertisements(name):
    # mode none/static: the kernel's IPv6 link-local stays, but no SLAAC address from a router advertisement
    conf = '/proc/sys/net/ipv6/conf/%s' % name
    return ['post-up test ! -d %s || { echo 0 >%s/accept_ra; echo 0 >%s/autoconf; }' % (conf, conf, conf)]


def _stanzas(model):
    """[(header, [option lines])] of the bridge, in file order."""
    bridge, port, addressing = model['bridge'], model['port'], model['addressing']
    name = bridge['name']
    keys = _stanza_bridge_keys(bridge, port)
    if addressing['mode'] == 'dhcp':
        return [('iface %s inet dhcp' % name, keys)]
    if addressing['mode'] == 'none':
        return [('iface %s inet manual' % name, keys + _no_router_advertisements(name))]
    stanzas = []
    for family, gateway_key in (('inet', 'gateway4'), ('inet6', 'gateway6')):
        addresses = [a for a in addressing['addresses'] if (':' in a) == (family == 'inet6')]
        gateway = addressing[gateway_key]
        for number, address in enumerate(addresses):
            options = ['address %s' % address]
            if number == 0 and gateway:
                options.append('gateway %s' % gateway)
            stanzas.append(('iface %s %s static' % (name, family), options))
        if gateway and not addresses:  # a link-local gateway without an address of its family
            stanzas.append(('iface %s %s manual' % (name, family),
                            ['post-up ip %s route replace default via %s dev %s'
                             % ('-6' if family == 'inet6' else '-4', gateway, name)]))
    stanzas.sort(key=lambda stanza: ' inet6 ' in stanza[0])  # IPv4 first, carries the bridge keys
    if ' inet ' not in stanzas[0][0]:
        stanzas.insert(0, ('iface %s inet manual' % name, []))
    stanzas[0] = (stanzas[0][0], keys + stanzas[0][1] + _no_router_advertisements(name))
    return stanzas


def render_text(model):
    name, port = model['bridge']['name'], model['port']['name']
    lines = ['# ' + _persist.MARKER,
             '# ifupdown (bridge-utils) configuration of bridge %s and its port %s: docs/persist/ifupdown.md.'
             % (name, port),
             '',
             'auto %s' % name]
    for header, options in _stanzas(model):
        lines.append(header)
        lines.extend('    ' + option for option in options)
        lines.append('')
    lines.append('# %s is a port of %s and has no address of its own (bridge_ports brings it up).' % (port, name))
    lines.append('iface %s inet manual' % port)
    return '\n'.join(lines) + '\n'


def logical_lines(text):
    """([line numbers], words) of every non-comment line of an interfaces(5) file, with
    backslash continuations joined."""
    pending, numbers = '', []
    for number, raw in enumerate(text.splitlines(), 1):
        numbers.append(number)
        if raw.endswith('\\'):
            pending += raw[:-1] + ' '
            continue
        line, pending, these, numbers = (pending + raw).strip(), '', numbers, []
        if line and not line.startswith('#'):
            yield these, line.split()
    if pending.strip() and not pending.strip().startswith('#'):  # a continuation at the end of the file
        yield numbers, pending.split()


class IfupdownBackend(_persist.Backend):
    """ifupdown 0.8 with bridge-utils (Debian, Ubuntu before netplan): see the module docstring."""

    name = 'ifupdown'

    # ---- files ---------------------------------------------------------------------------------------------

    def render(self, model):
        return [_persist.PersistFile(file_name(model['bridge']['name']), render_text(model), 0o644)]

    def stale(self, model):
        wanted = file_name(model['bridge']['name'])
        marker = '# ' + _persist.MARKER
        return [path for path in self.host.glob(DIRECTORY + '/' + PREFIX + '*')
                if path != wanted and (self.host.read(path) or '').startswith(marker)]

    def limits(self, model):
        # Every model value has a bridge-utils key, an ifupdown option or a post-up line with ip(8)/bridge(8),
        # and the model already refuses what the kernel would change (forward_delay outside 2..30 s with STP on,
        # which bridge-utils would otherwise meet: it switches STP on before it sets bridge_fd).
        return []

    # ---- the host ------------------------------------------------------------------------------------------

    def _includes(self, path, how, pattern, ours):
        """Host paths that ``source PATTERN`` / ``source-directory DIR`` of file ``path`` includes, and whether
        the stanza file ``ours`` would be one of them (even before it exists)."""
        target = pattern if pattern.startswith('/') else os.path.join(os.path.dirname(path), pattern)
        target = os.path.normpath(target)
        if how == 'source':
            return self.host.glob(target), fnmatch.fnmatchcase(ours, target)
        found = [p for p in self.host.glob(target + '/*') if re.match(r'^[A-Za-z0-9_-]+$', os.path.basename(p))]
        return found, target == DIRECTORY

    def _walk(self, ours, path=MAIN, seen=None):
        """(path, text) of the main file and every file it includes, depth first, each once."""
        seen = set() if seen is None else seen
        if path in seen or len(seen) > 200:
            return
        seen.add(path)
        text = self.host.read(path)
        if text is None:
            return
        yield path, text
        for dummy, words in logical_lines(text):
            if words[0] in ('source', 'source-directory') and len(words) >= 2:
                for included in self._includes(path, words[0], words[1], ours)[0]:
                    yield from self._walk(ours, included, seen)

    def _sources_directory(self, ours):
        for path, text in self._walk(ours):
            for dummy, words in logical_lines(text):
                if words[0] in ('source', 'source-directory') and len(words) >= 2:
                    if self._includes(path, words[0], words[1], ours)[1]:
                        return True
        return False

    def _foreign(self, model):
        """Stanzas and auto lines of other files that configure the bridge or the port: [(path, kind, name,
        [line numbers], text)] where kind is 'iface' (a whole stanza), 'auto' (an auto/allow line naming only
        it) or 'shared' (an auto/allow line naming it among others: cannot be disabled line-wise)."""
        names = (model['bridge']['name'], model['port']['name'])
        ours = file_name(model['bridge']['name'])
        found = []
        for path, text in self._walk(ours):
            if path == ours:
                continue
            current = None  # the open foreign stanza: [path, 'iface', name, numbers, text]
            for numbers, words in logical_lines(text):
                if words[0] in _STANZA_WORDS or _AUTO_WORDS.match(words[0]):
                    current = None
                if words[0] == 'iface' and len(words) >= 2 and words[1] in names:
                    current = [path, 'iface', words[1], list(numbers), ' '.join(words)]
                    found.append(current)
                elif _AUTO_WORDS.match(words[0]):
                    named = [word for word in words[1:] if word in names]
                    for word in named:
                        kind = 'auto' if len(words) == 2 else 'shared'
                        found.append([path, kind, word, list(numbers), ' '.join(words)])
                elif current is not None:
                    current[3].extend(numbers)
        return [tuple(item) for item in found]

    def preflight(self, model):
        bridge = model['bridge']['name']
        missing = [program for program in ('ifup', 'ifquery') if not self.host.which(program)]
        if missing:
            raise _persist.PersistError(
                'ifupdown backend: %s not found (looked in %s). Install ifupdown (apt-get install ifupdown'
                ' bridge-utils), or choose the backend of the stack that runs this host (kvm_bridge_host_persist).'
                % (' and '.join(missing), ', '.join(_persist.PROGRAM_DIRS)), missing=missing)
        if self.host.exists('/usr/share/ifupdown2'):
            raise _persist.PersistError(
                'ifupdown backend: this host runs ifupdown2 (/usr/share/ifupdown2 exists), and this backend writes'
                ' ifupdown 0.8 stanzas with bridge-utils keys: ifupdown2 ignores bridge_hw (the bridge MAC would'
                ' not be pinned) and reads other keys differently. Use ifupdown (apt-get install ifupdown'
                ' bridge-utils), or another stack.', ifupdown2='/usr/share/ifupdown2')
        if not self.host.which('brctl') or not self.host.exists('/lib/bridge-utils/ifupdown.sh'):
            raise _persist.PersistError(
                'ifupdown backend: bridge-utils is not installed (no brctl or /lib/bridge-utils/ifupdown.sh):'
                ' without its hook ifupdown ignores bridge_ports and %s would never be built at boot. Install it'
                ' (apt-get install bridge-utils).' % bridge)
        if self.host.read(MAIN) is None:
            raise _persist.PersistError(
                'ifupdown backend: %s does not exist or cannot be read, so ifupdown reads no configuration at'
                ' all. Create it with the line "source %s/*" (Debian\'s default), or choose another backend.'
                % (MAIN, DIRECTORY), path=MAIN)
        if not self._sources_directory(file_name(bridge)):
            raise _persist.PersistError(
                'ifupdown backend: %s (and the files it sources) does not include %s: ifup would never read the'
                ' stanza of %s. Add the line "source %s/*" (Debian\'s default) or "source-directory %s" to %s.'
                % (MAIN, file_name(bridge), bridge, DIRECTORY, DIRECTORY, MAIN), path=MAIN)
        shared = [item for item in self._foreign(model) if item[1] == 'shared']
        if shared:
            path, dummy, name, numbers, text = shared[0]
            raise _persist.PersistError(
                'ifupdown backend: %s:%d "%s" brings %s up together with other interfaces, and a line cannot be'
                ' disabled for one of them: at boot ifupdown would configure %s outside the bridge. Split the'
                ' line (one "auto NAME" line per interface), then run again: this backend then disables the'
                ' lines and the stanza of %s (it keeps them as comments).'
                % (path, numbers[0], text, name, name, name), path=path, line=numbers[0])
        if model['addressing']['mode'] == 'dhcp' and not any(self.host.which(c) for c in DHCP_CLIENTS):
            raise _persist.PersistError(
                'ifupdown backend: addressing dhcp needs a DHCP client that ifupdown runs (%s), and none is'
                ' installed: ifup would fail with "No DHCP client software found!". Install isc-dhcp-client.'
                % ', '.join(DHCP_CLIENTS))

    def prepare(self, model):
        """Someone else's stanza for the bridge or the port (typically the main file's ``allow-hotplug eth0`` /
        ``iface eth0 inet dhcp`` of a Debian install) would run at boot as well as ours: ifupdown runs every
        stanza of an interface, so eth0 would get its old address or DHCP client as a bridge port. Each such
        stanza is disabled in place (its lines commented out with a marker, line count unchanged); the undo takes
        exactly those lines back."""
        by_path = {}
        for path, kind, name, numbers, text in self._foreign(model):
            if kind != 'shared':
                by_path.setdefault(path, []).append(dict(name=name, numbers=numbers, text=text))
        commands = []
        for path in sorted(by_path):
            found = by_path[path]
            numbers = sorted(set(number for item in found for number in item['numbers']))
            texts = '; '.join(item['text'] for item in found)
            names = ' and '.join(sorted(set(item['name'] for item in found)))
            commands.append(_persist.Command(
                ['sed', '-i'] + [arg for n in numbers for arg in ('-e', '%ds/^/%s/' % (n, DISABLED))] + [path],
                undo=['sed', '-i'] + [arg for n in numbers for arg in ('-e', '%ds/^%s//' % (n, _DISABLED_RE))]
                + [path],
                why='%s: disable "%s" (lines %s): %s is configured by %s from now on'
                    % (path, texts, ', '.join(str(n) for n in numbers), names, file_name(model['bridge']['name']))))
        return commands

    # ---- the running stack ---------------------------------------------------------------------------------

    def running(self):
        # ifupdown has no daemon: it runs at boot (networking.service: ifup -a) and leaves its state file; with
        # no state file it did not run since boot, and the files take effect at the next boot
        return bool(self.host.which('ifup')) and self.host.exists('/run/network/ifstate')

    def _configured(self, name):
        rc, out, dummy = self.host.run([self.host.which('ifquery') or 'ifquery', '--state', name])
        return rc == 0 and any(line.split('=')[0] == name for line in out.splitlines())

    def _dhclient(self, name):
        """PID file of a live dhclient that ifupdown started for ``name``, else None."""
        for pidfile in ('/run/dhclient.%s.pid' % name,):
            text = (self.host.read(pidfile) or '').strip()
            if text.isdigit() and self.host.exists('/proc/%s' % text):
                return pidfile
        return None

    def activate(self, model, changed):
        """Nothing changed: nothing runs. Otherwise: ``ifquery`` must parse the bridge's stanza (else
        PersistError: the files are restored); a DHCP client left on the port by its old stanza, or on the
        bridge when addressing is no longer dhcp, is stopped with ifupdown's own dhclient; then ``ifup`` (the
        first time ifupdown hears of the bridge) or ``ifup --force`` (it was up already: ``ifup`` alone would
        be a no-op) runs the stanza on the live bridge. bridge-utils creates nothing that exists, joins no port
        that is in, and sets the same timers and priorities in place: no flap. ``ifdown`` is never run (its
        hook deletes the bridge)."""
        if model is None or not changed:
            return []  # restored files: the runtime was not changed by this backend before the failure
        name, port = model['bridge']['name'], model['port']['name']
        ran = []
        ifquery = self.host.which('ifquery') or 'ifquery'
        argv = [ifquery, name]
        rc, out, err = self.host.run(argv)
        ran.append(argv)
        if rc != 0 or err.strip() or 'bridge_ports' not in out:
            problem = (err or out).strip() or 'no bridge_ports'
            raise _persist.PersistError(
                'ifupdown refused the stanza of %s (%s rc %d): %s' % (name, ' '.join(argv), rc, problem),
                rc=rc, stderr=err)
        for interface, wanted in ((port, False), (name, model['addressing']['mode'] == 'dhcp')):
            pidfile = self._dhclient(interface)
            if pidfile and not wanted and self.host.which('dhclient'):
                # -x: stop without a DHCPRELEASE (the lease may live on at the bridge after a migrate)
                argv = [self.host.which('dhclient'), '-x', '-pf', pidfile, interface]
                rc, out, err = self.host.run(argv)
                ran.append(argv)
                if rc != 0:
                    raise _persist.PersistError('stopping the DHCP client of %s failed (%s rc %d): %s' % (
                        interface, ' '.join(argv), rc, (err or out).strip()), rc=rc)
        argv = [self.host.which('ifup') or 'ifup'] + (['--force'] if self._configured(name) else []) + [name]
        rc, out, err = self.host.run(argv)
        ran.append(argv)
        if rc != 0:
            raise _persist.PersistError('%s failed (rc %d): %s' % (' '.join(argv), rc, (err or out).strip()),
                                        rc=rc, stderr=err)
        return ran


BACKEND = IfupdownBackend
