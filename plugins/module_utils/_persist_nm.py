# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NetworkManager persistence backend (docs/persist/networkmanager.md).

Files (root:root):

- ``/etc/NetworkManager/system-connections/kvmnet-BRIDGE.nmconnection`` (0600: NetworkManager refuses keyfiles
  that others can read): the bridge profile (``type=bridge``, ``ethernet.cloned-mac-address`` for the pinned MAC,
  the ``[bridge]`` attributes, the bridge's addressing; ``autoconnect-slaves`` so activating it brings its port);
- ``/etc/NetworkManager/system-connections/kvmnet-BRIDGE-port-PORT.nmconnection`` (0600): the uplink as the
  bridge's port (``master=`` the bridge profile's UUID, ``slave-type=bridge``, ``[bridge-port]``); a port profile
  has no IP settings, so NetworkManager never runs DHCP or IPv4LL on the uplink;
- ``/etc/NetworkManager/conf.d/90-kvmnet-BRIDGE.conf`` (0644, holds no secret): guest taps (``vnet*``, ``tap*``)
  unmanaged, so NetworkManager never takes a guest NIC out of the bridge, and ``no-auto-default`` for the uplink, so
  it never invents a "Wired connection 1" on it. Both as ``key+=`` so the host's own lists stay.

Profile UUIDs are derived from the names (uuid5), so the files are deterministic and every command addresses the
profiles by UUID: right after the role's apply phase NetworkManager shows the bridge with a generated, in-memory
profile that has the same name ("kvmbr0"), and ``nmcli con up kvmbr0`` would pick that one.

Activation (``activate``), measured on NetworkManager 1.42.4 with the bridge that the apply phase built over netlink:
``nmcli general reload conf`` when the conf file changed, ``nmcli connection load`` of the changed keyfiles
(its output is checked: it prints "Could not load file" and still exits 0), then

- the uplink: when it runs another profile of NetworkManager's own (a desktop's "Wired connection 1"), switching
  profiles would detach it from the bridge (NetworkManager deactivates the old profile first, and that releases
  the port: measured, the bridge loses carrier). ``nmcli device set PORT managed no`` then ``managed yes`` hands
  the device over without touching it (an unmanaged device is left as it is; managed again, it is "disconnected"
  but still in the bridge);
- the bridge: ``nmcli connection up BRIDGE-UUID`` when our profile is not active on it (it takes over the running
  bridge: same ifindex, ports stay, no carrier loss, attributes set over netlink), else ``nmcli device reapply
  BRIDGE`` when its file changed (in place: priority, MTU, timers);
- the port: activated by the bridge's ``autoconnect-slaves`` (attached without a detach, measured); ``nmcli
  connection up PORT-UUID`` only when it is not active after that. A changed port file on an active port: ``nmcli
  device reapply`` cannot apply ``[bridge-port]`` changes (NetworkManager 1.42: "Can't reapply any changes to
  'bridge-port' setting"); when the kernel already has the port's values (the role's apply phase set them), the
  loaded profile is used from the next activation on and nothing runs; otherwise the port is re-activated, which
  detaches and re-attaches it (a flap of a few milliseconds, said in the result).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time
import uuid

from ansible_collections.kvmnet.bridge.plugins.module_utils import _managers, _persist
from ansible_collections.kvmnet.bridge.plugins.module_utils._persist import ini_section, marked_text

CONNECTIONS_DIR = '/etc/NetworkManager/system-connections'
CONF_DIR = '/etc/NetworkManager/conf.d'
PREFIX = 'kvmnet-'
CONF_PREFIX = '90-kvmnet-'
KEYFILE_MODE = 0o600
CONF_MODE = 0o644
DAEMONS = ('/usr/sbin/NetworkManager', '/sbin/NetworkManager')
TAP_PATTERNS = ('vnet*', 'tap*')
# our port profile wins over any other autoconnect profile of the uplink (NetworkManager picks the highest)
PORT_AUTOCONNECT_PRIORITY = 10
UUID_NAMESPACE = uuid.UUID('5f0c2a5e-8d1b-4c3e-9a57-6b6d766e6574')  # fixed: the profiles' UUIDs never change
MINIMUM_VERSION = (1, 20)  # ipv6.method=disabled
GROUP_FWD_MASK_VERSION = (1, 24)  # bridge.group-forward-mask
ACTIVATION_TIMEOUT = 15.0  # seconds for bridge and port to reach "activated"
HANDOVER_WAIT = 1.0  # seconds to let autoconnect-slaves attach the port before we activate it ourselves

# NetworkManager 1.42's ranges (libnm verify) for the bridge timers, in whole seconds; 0 is "unset" for
# forward-delay (applied as 15 s, LAB-NOTES)
TIMER_RANGES = dict(forward_delay=(2, 30), hello_time=(1, 10), max_age=(6, 40), ageing_time=(0, 1000000))
TIMER_KEYS = dict(forward_delay='forward-delay', hello_time='hello-time', max_age='max-age',
                  ageing_time='ageing-time')
# port attributes NetworkManager 1.42 has no setting for, with the kernel's default a new port gets
UNSUPPORTED_PORT = dict(learning=True, unicast_flood=True, mcast_flood=True, bpdu_guard=False, root_block=False,
                        isolated=False, neigh_suppress=False)
# port attributes NetworkManager writes through sysfs (read-only in namespace machines), with the kernel defaults
SYSFS_PORT = dict(cost=None, priority=32, hairpin=False)
SYSFS_PORT_FILES = dict(cost='path_cost', priority='priority', hairpin='hairpin_mode')


def _bool(value):
    return 'true' if value else 'false'


def _flag(value):
    return None if value is None else _bool(value)


def profile_uuid(bridge, port=None):
    """The UUID of our bridge profile (``port`` None) or of its port profile: the same for the same names."""
    key = 'kvmnet.bridge:%s:bridge' % bridge if port is None else 'kvmnet.bridge:%s:port:%s' % (bridge, port)
    return str(uuid.uuid5(UUID_NAMESPACE, key))


def nm_seconds(option, centiseconds):
    """A bridge timer in kernel hundredths -> the whole seconds NetworkManager can hold (rounded, within its
    range), as an int."""
    low, high = TIMER_RANGES[option]
    whole = int((centiseconds + 50) // 100)
    return max(low, min(high, whole))


def parse_version(text):
    """``nmcli tool, version 1.42.4`` -> (1, 42, 4); None when there is no version in the text."""
    found = re.search(r'(\d+)\.(\d+)(?:\.(\d+))?', text or '')
    if not found:
        return None
    return tuple(int(part) for part in found.groups(default='0'))


def _ini(text):
    """A GKeyFile -> section -> key -> value (comments and blank lines dropped; keys keep a ``+``/``-`` suffix)."""
    sections, section = {}, None
    for raw in (text or '').splitlines():
        line = raw.strip()
        if not line or line.startswith(('#', ';')):
            continue
        if line.startswith('[') and line.endswith(']'):
            section = sections.setdefault(line[1:-1].strip(), {})
        elif section is not None and '=' in line:
            key, value = line.split('=', 1)
            section[key.strip()] = value.strip()
    return sections


class NetworkManagerBackend(_persist.Backend):
    """NetworkManager: a bridge and a port keyfile, a conf.d file for the taps and the uplink."""

    name = 'networkmanager'

    def __init__(self, host, options=None):
        super(NetworkManagerBackend, self).__init__(host, options)
        self.sleep = time.sleep  # seams for the unit tests
        self.clock = time.time

    # ---- the files ---------------------------------------------------------------------------------------------

    @staticmethod
    def paths(model):
        bridge, port = model['bridge']['name'], model['port']['name']
        return dict(
            bridge=os.path.join(CONNECTIONS_DIR, '%s%s.nmconnection' % (PREFIX, bridge)),
            port=os.path.join(CONNECTIONS_DIR, '%s%s-port-%s.nmconnection' % (PREFIX, bridge, port)),
            conf=os.path.join(CONF_DIR, '%s%s.conf' % (CONF_PREFIX, bridge)))

    def render(self, model):
        bridge, port, addressing = model['bridge'], model['port'], model['addressing']
        paths = self.paths(model)
        bridge_uuid = profile_uuid(bridge['name'])
        bridge_file = marked_text(
            model,
            ini_section('connection', [
                ('id', bridge['name']), ('uuid', bridge_uuid), ('type', 'bridge'),
                ('interface-name', bridge['name']), ('autoconnect', 'true'),
                ('autoconnect-slaves', '1'),  # activating the bridge brings its port (no detach: measured)
            ]),
            ini_section('ethernet', [('cloned-mac-address', bridge['mac']), ('mtu', bridge['mtu'])]),
            ini_section('bridge', [
                ('stp', _bool(bridge['stp'])),
                ('priority', bridge['priority'])]
                + [(TIMER_KEYS[option], None if bridge[option] is None else nm_seconds(option, bridge[option]))
                   for option in ('forward_delay', 'hello_time', 'max_age', 'ageing_time')]
                + [('multicast-snooping', _flag(bridge['mcast_snooping'])),
                   ('vlan-filtering', _flag(bridge['vlan_filtering'])),
                   ('group-forward-mask', bridge['group_fwd_mask'])]),
            *self._addressing(addressing))
        port_file = marked_text(
            model,
            ini_section('connection', [
                ('id', '%s-port-%s' % (bridge['name'], port['name'])),
                ('uuid', profile_uuid(bridge['name'], port['name'])),
                ('type', 'ethernet'), ('interface-name', port['name']),
                # the bridge profile's UUID, not its name: right after the apply phase NetworkManager also has a
                # generated profile named like the bridge
                ('master', bridge_uuid), ('slave-type', 'bridge'),
                ('autoconnect', 'true'), ('autoconnect-priority', PORT_AUTOCONNECT_PRIORITY),
            ]),
            ini_section('ethernet', []),
            ini_section('bridge-port', [
                ('priority', port['priority']),
                ('path-cost', port['cost']),  # the model's range (1-65535) is libnm's too
                ('hairpin-mode', _flag(port['hairpin'])),
            ]))
        taps = ';'.join('interface-name:' + pattern for pattern in TAP_PATTERNS)
        conf = marked_text(model, ini_section('keyfile', [('unmanaged-devices+', taps)]),
                           ini_section('main', [('no-auto-default+', 'interface-name:' + port['name'])]))
        return [_persist.PersistFile(paths['bridge'], bridge_file, KEYFILE_MODE),
                _persist.PersistFile(paths['port'], port_file, KEYFILE_MODE),
                _persist.PersistFile(paths['conf'], conf, CONF_MODE)]

    @staticmethod
    def _addressing(addressing):
        """The [ipv4] and [ipv6] sections of the bridge profile."""
        mode = addressing['mode']
        if mode == 'none':
            # no DHCP, no IPv4LL (169.254), no SLAAC/DHCPv6; disabled IPv6 also means no link-local on the bridge
            return [ini_section('ipv4', [('method', 'disabled')]), ini_section('ipv6', [('method', 'disabled')])]
        if mode == 'dhcp':
            return [ini_section('ipv4', [('method', 'auto')]), ini_section('ipv6', [('method', 'auto')])]
        sections = []
        for family, gateway in (('ipv4', addressing['gateway4']), ('ipv6', addressing['gateway6'])):
            version = 4 if family == 'ipv4' else 6
            addresses = [address for address in addressing['addresses'] if (':' in address) == (version == 6)]
            if not addresses:
                sections.append(ini_section(family, [('method', 'disabled')]))
                continue
            pairs = [('method', 'manual')]
            pairs += [('address%d' % number, address) for number, address in enumerate(addresses, 1)]
            pairs.append(('gateway', gateway))
            sections.append(ini_section(family, pairs))
        return sections

    # ---- what the stack cannot express -------------------------------------------------------------------------

    def limits(self, model):
        bridge, port = model['bridge'], model['port']
        found = []
        for option in ('forward_delay', 'hello_time', 'max_age', 'ageing_time'):
            wanted = bridge[option]
            if wanted is None:
                continue
            kernel = nm_seconds(option, wanted) * 100
            if kernel == wanted:
                continue
            low, high = TIMER_RANGES[option]
            if option == 'forward_delay' and wanted < 150:
                why = ('NetworkManager 1.42 cannot express a forward delay below 2 s: bridge.forward-delay=0 means'
                       ' unset and is applied as 15 s, 1 s is refused; the file says 2 s, its minimum (with STP off'
                       ' forwarding is not delayed either way)')
            elif wanted % 100:
                why = ('NetworkManager keeps bridge.%s in whole seconds: %s s is written as %d s'
                       % (TIMER_KEYS[option], wanted / 100.0, kernel // 100))
            else:
                why = ('NetworkManager accepts bridge.%s only within %d-%d s: %d s is written as %d s'
                       % (TIMER_KEYS[option], low, high, wanted // 100, kernel // 100))
            found.append(_persist.Limit('bridge.' + option, wanted, kernel, why))
        for option in sorted(UNSUPPORTED_PORT):
            default = UNSUPPORTED_PORT[option]
            if port[option] is not None and port[option] != default:
                found.append(_persist.Limit(
                    'port.' + option, port[option], default,
                    'NetworkManager 1.42 has no bridge-port setting for %s: at boot the port gets the kernel'
                    ' default (%s); the value set at runtime lasts until then' % (option, _bool(default))))
        if self._sysfs_read_only():
            for option in ('cost', 'priority', 'hairpin'):
                default = SYSFS_PORT[option]
                if port[option] is not None and port[option] != default:
                    found.append(_persist.Limit(
                        'port.' + option, port[option], default,
                        '/sys is read-only here (a namespace machine): NetworkManager writes bridge-port %s through'
                        ' sysfs and fails with EROFS, so after a boot the port has the kernel default (%s)'
                        % (SYSFS_PORT_FILES[option], 'depends on the link speed' if default is None else default)))
        return found

    def _sysfs_read_only(self):
        """Whether /sys is mounted read-only for this process (namespace machines; LAB-NOTES)."""
        for line in (self.host.read('/proc/self/mountinfo') or '').splitlines():
            fields = line.split()
            if len(fields) > 5 and fields[4] == '/sys':
                return 'ro' in fields[5].split(',')
        return False

    # ---- our old files -----------------------------------------------------------------------------------------

    def _ours(self):
        """(path, bridge, port) of every marked kvmnet file of this backend."""
        candidates = (self.host.glob(os.path.join(CONNECTIONS_DIR, PREFIX + '*.nmconnection'))
                      + self.host.glob(os.path.join(CONF_DIR, CONF_PREFIX + '*.conf')))
        return _persist.marked_files(self.host, candidates)

    def stale(self, model):
        """Our files of this bridge or of this port that the model no longer has (an old uplink's port profile,
        every file of the bridge's old name). Files of another bridge with another uplink stay."""
        return _persist.stale_marked(self._ours(), self.paths(model).values(), model)

    # ---- read-only checks --------------------------------------------------------------------------------------

    def _nmcli(self):
        return self.host.which('nmcli')

    def _version(self, nmcli):
        rc, out, err = self.host.run([nmcli, '--version'])
        return parse_version(out) if rc == 0 else None

    def preflight(self, model):
        bridge = model['bridge']['name']
        nmcli = self._nmcli()
        if nmcli is None or not any(self.host.exists(path) for path in DAEMONS):
            raise _persist.PersistError(
                'NetworkManager is not installed (%s missing): install network-manager, or choose the backend of'
                ' the stack this host runs (kvm_bridge_host_persist: networkd, ifupdown, netplan or none).'
                % ('nmcli' if nmcli is None else 'the NetworkManager daemon'), backend=self.name)
        version = self._version(nmcli)
        if version is not None and version[:2] < MINIMUM_VERSION:
            raise _persist.PersistError(
                'NetworkManager %s is too old for this backend (it needs %d.%d or newer for ipv6.method=disabled):'
                ' upgrade it, or use another backend.' % ('.'.join(map(str, version)), MINIMUM_VERSION[0],
                                                          MINIMUM_VERSION[1]), version=list(version))
        if (version is not None and version[:2] < GROUP_FWD_MASK_VERSION
                and model['bridge']['group_fwd_mask'] is not None):
            raise _persist.PersistError(
                'NetworkManager %s has no bridge.group-forward-mask (1.24 or newer has): remove group_fwd_mask, or'
                ' upgrade NetworkManager.' % '.'.join(map(str, version)), version=list(version))
        for path in self.paths(model).values():
            text = self.host.read(path)
            if text is not None and _persist.MARKER not in text:
                raise _persist.PersistError(
                    '%s exists and was not written by kvmnet.bridge (no marker line): this backend does not'
                    ' overwrite it. Move it away (it is probably a profile made by hand for %s), then run again.'
                    % (path, bridge), path=path)
        self._refuse_unmanaged(model)
        self._refuse_ifupdown(model)

    def _host_path(self, path):
        """A path below the host root (as _managers returns them) -> the path as the host names it."""
        return '/' + os.path.relpath(path, self.host.root or '/')

    def _facts(self, name, kind):
        mac = (self.host.read('/sys/class/net/%s/address' % name) or '').strip().lower() or None
        return dict(name=name, kind=kind, link_kind=kind, mac=mac, perm_mac=None)

    def _refuse_unmanaged(self, model):
        """NetworkManager's unmanaged-devices (every conf file, ours too) must not match the bridge or the port."""
        specs, source = _managers.nm_unmanaged_specs(self.host.root)
        if not specs:
            return
        for name, kind in ((model['bridge']['name'], 'bridge'), (model['port']['name'], 'wired')):
            if _managers.nm_spec_match(specs, self._facts(name, kind)):
                source = self._host_path(source)
                raise _persist.PersistError(
                    'NetworkManager leaves %s unmanaged ([keyfile] unmanaged-devices=%s, last set in %s), so it would'
                    ' never build %s at boot. Remove %s from that list (or rename the interface: %s are kept'
                    ' unmanaged for guest taps), or use another backend.'
                    % (name, ','.join(specs), source, model['bridge']['name'], name, ', '.join(TAP_PATTERNS)),
                    interface=name, unmanaged_devices=specs)

    def _refuse_ifupdown(self, model):
        """Debian's NetworkManager (plugins=ifupdown,keyfile with [ifupdown] managed=false) leaves every interface
        that has a stanza in /etc/network/interfaces unmanaged (LAB-NOTES)."""
        merged = {}
        for path in _managers.nm_conf_files(self.host.root):
            for section, values in _ini(self.host.read(self._host_path(path))).items():
                merged.setdefault(section, {}).update(values)
        plugins = [item.strip() for item in re.split(r'[,;]', merged.get('main', {}).get('plugins', ''))]
        managed = merged.get('ifupdown', {}).get('managed', 'false').lower() in ('true', 'yes', '1')
        if 'ifupdown' not in plugins or managed:
            return
        stanzas = _managers.ifupdown_stanzas(self.host.root)
        for name in (model['port']['name'], model['bridge']['name']):
            if name in stanzas:
                raise _persist.PersistError(
                    '%s has an ifupdown stanza (%s), and NetworkManager\'s ifupdown plugin ([ifupdown] managed=false)'
                    ' leaves such interfaces unmanaged: it would not build the bridge at boot, and ifupdown would'
                    ' fight it. Remove that stanza, or use the ifupdown backend (kvm_bridge_host_persist: ifupdown).'
                    % (name, stanzas[name]), interface=name, stanza=stanzas[name])

    # ---- the uplink's old profiles -----------------------------------------------------------------------------

    def running(self):
        nmcli = self._nmcli()
        if nmcli is None or not self.host.exists('/run/NetworkManager'):
            return False
        rc, out, err = self.host.run([nmcli, '-t', '-f', 'RUNNING', 'general'])
        return rc == 0 and out.strip() == 'running'

    def _profiles(self, nmcli):
        """NetworkManager's profiles: list of dicts (name, uuid, type, autoconnect, readonly, filename)."""
        argv = [nmcli, '-t', '-f', 'NAME,UUID,TYPE,AUTOCONNECT,READONLY,FILENAME', 'connection', 'show']
        rc, out, err = self.host.run(argv)
        if rc != 0:
            raise _persist.PersistError('%s failed (rc %d): %s' % (' '.join(argv), rc, (err or out).strip()))
        profiles = []
        for line in out.splitlines():
            fields = _managers.nmcli_split(line)
            if len(fields) >= 6:
                profiles.append(dict(name=fields[0], uuid=fields[1], type=fields[2], autoconnect=fields[3] == 'yes',
                                     readonly=fields[4] == 'yes', filename=fields[5]))
        return profiles

    def _settings(self, nmcli, uuid_, keys):
        """Values of ``keys`` of one profile (``nmcli -g``: one line per key, in order)."""
        argv = [nmcli, '-g', ','.join(keys), 'connection', 'show', uuid_]
        rc, out, err = self.host.run(argv)
        if rc != 0:
            raise _persist.PersistError('%s failed (rc %d): %s' % (' '.join(argv), rc, (err or out).strip()))
        lines = out.split('\n')
        return dict((key, (lines[index] if index < len(lines) else '').replace('\\:', ':').strip())
                    for index, key in enumerate(keys))

    def conflicting_profiles(self, model):
        """Other autoconnect profiles that would take the uplink (an Ethernet profile bound to it by name or MAC,
        or bound to no device at all) or the bridge's name at boot: list of (profile, reason)."""
        nmcli = self._nmcli()
        bridge, port = model['bridge']['name'], model['port']['name']
        ours = (profile_uuid(bridge), profile_uuid(bridge, port))
        port_mac = (self.host.read('/sys/class/net/%s/address' % port) or '').strip().lower()
        found = []
        for profile in self._profiles(nmcli):
            if profile['uuid'] in ours or not profile['autoconnect']:
                continue
            if profile['type'] == '802-3-ethernet':
                values = self._settings(nmcli, profile['uuid'], ['connection.interface-name',
                                                                 '802-3-ethernet.mac-address'])
                name, mac = values['connection.interface-name'], values['802-3-ethernet.mac-address'].lower()
                if name == port:
                    found.append((profile, 'bound to %s by name' % port))
                elif not name and mac and mac == port_mac:
                    found.append((profile, 'bound to %s by its MAC %s' % (port, mac)))
                elif not name and not mac:
                    found.append((profile, 'bound to no device, so it autoconnects on any Ethernet NIC'))
            elif profile['type'] == 'bridge':
                name = self._settings(nmcli, profile['uuid'], ['connection.interface-name'])[
                    'connection.interface-name']
                if name == bridge:
                    found.append((profile, 'another profile for %s' % bridge))
        return found

    def prepare(self, model):
        """Autoconnect off for every other profile that would take the uplink or the bridge at boot.

        Why autoconnect off and not binding the profile away (another interface-name): the profile stays exactly
        as its owner made it (addresses, 802.1X, DNS), the way back is one command (the undo), and ``nmcli con up``
        still brings it back by hand on purpose; binding it to another name would change what it means and could
        make it match some other NIC. Our port profile also has autoconnect-priority 10, so NetworkManager prefers
        it even if someone turns the old one's autoconnect on again."""
        if not self.running():
            return []  # nmcli needs the daemon; the next run with NetworkManager running does it
        nmcli = self._nmcli()
        commands = []
        for profile, reason in self.conflicting_profiles(model):
            if profile['readonly']:
                raise _persist.PersistError(
                    'NetworkManager profile %r (%s) is %s and autoconnects, but it is read-only (%s), so its'
                    ' autoconnect cannot be turned off: it would take %s out of %s at boot. Remove it from its'
                    ' source (for example an ifupdown stanza or a profile under /run), then run again.'
                    % (profile['name'], profile['uuid'], reason, profile['filename'] or 'no file',
                       model['port']['name'], model['bridge']['name']), profile=profile['uuid'])
            commands.append(_persist.Command(
                [nmcli, 'connection', 'modify', profile['uuid'], 'connection.autoconnect', 'no'],
                undo=[nmcli, 'connection', 'modify', profile['uuid'], 'connection.autoconnect', 'yes'],
                why='NetworkManager profile %r (%s) is %s and would compete with %s at boot: autoconnect off (the'
                    ' profile itself is kept; nmcli con up %s still starts it by hand)'
                    % (profile['name'], profile['uuid'], reason, model['bridge']['name'], profile['uuid'])))
        return commands

    # ---- activation --------------------------------------------------------------------------------------------

    def _run(self, argv, ran):
        rc, out, err = self.host.run(argv)
        ran.append(argv)
        if rc != 0:
            raise _persist.PersistError('%s failed (rc %d): %s' % (' '.join(argv), rc, (err or out).strip()),
                                        command=argv, rc=rc)
        return out

    def _devices(self, nmcli):
        """device -> (state, active profile UUID) from ``nmcli -t -f DEVICE,STATE,CON-UUID device``."""
        rc, out, err = self.host.run([nmcli, '-t', '-f', 'DEVICE,STATE,CON-UUID', 'device'])
        if rc != 0:
            raise _persist.PersistError('nmcli device failed (rc %d): %s' % (rc, (err or out).strip()))
        devices = {}
        for line in out.splitlines():
            fields = _managers.nmcli_split(line)
            if len(fields) >= 3 and fields[0]:
                devices[fields[0]] = (fields[1], fields[2])
        return devices

    def _devices_of_removed(self, nmcli, removed):
        """The devices that run a profile loaded from one of the ``removed`` files, sorted."""
        if not removed:
            return []
        rc, out, err = self.host.run([nmcli, '-t', '-f', 'DEVICE,FILENAME', 'connection', 'show', '--active'])
        if rc != 0:
            return []
        found = set()
        for line in out.splitlines():
            fields = _managers.nmcli_split(line)
            if len(fields) >= 2 and fields[0] and fields[1] in removed:
                found.add(fields[0])
        return sorted(found)

    def _profile_state(self, nmcli, uuid_):
        """GENERAL.STATE of a profile: 'activated', 'activating', ... or '' when it is not active."""
        rc, out, err = self.host.run([nmcli, '-g', 'GENERAL.STATE', 'connection', 'show', uuid_])
        return out.strip() if rc == 0 else ''

    def _wait_state(self, nmcli, uuid_, timeout, until=('activated',)):
        deadline = self.clock() + timeout
        while True:
            state = self._profile_state(nmcli, uuid_)
            if state in until or self.clock() >= deadline:
                return state
            self.sleep(0.1)

    def _port_matches_kernel(self, port):
        """Whether the kernel's port already has every [bridge-port] value of the model (sysfs brport/)."""
        for option, filename in sorted(SYSFS_PORT_FILES.items()):
            wanted = port[option]
            if wanted is None:
                continue
            text = (self.host.read('/sys/class/net/%s/brport/%s' % (port['name'], filename)) or '').strip()
            if not text.isdigit():
                return False
            value = int(text)
            if (bool(value) if option == 'hairpin' else value) != wanted:
                return False
        return True

    def activate(self, model, changed):
        nmcli = self._nmcli() or 'nmcli'
        ran = []
        if any(path.startswith(CONF_DIR + '/') for path in changed):
            self._run([nmcli, 'general', 'reload', 'conf'], ran)
        keyfiles = [path for path in changed if path.startswith(CONNECTIONS_DIR + '/')]
        if keyfiles:
            # loading a removed file drops its profile, and NetworkManager then deactivates it: the port would leave
            # the bridge. Unmanaged for the load, the device keeps its kernel state (the runtime is the apply
            # phase's; a removed stale or restored profile must not tear it down).
            keep = self._devices_of_removed(nmcli, [path for path in keyfiles if not self.host.exists(path)])
            for device in keep:
                self._run([nmcli, 'device', 'set', device, 'managed', 'no'], ran)
            out = self._run([nmcli, 'connection', 'load'] + keyfiles, ran)
            for device in keep:
                self._run([nmcli, 'device', 'set', device, 'managed', 'yes'], ran)
            if 'Could not load' in out:
                raise _persist.PersistError(
                    'NetworkManager refused a profile: %s. Check the file with NetworkManager\'s own parser'
                    ' (tests/persist/validate_nm.py FILE) or its log.' % out.strip(), output=out.strip())
        if model is None:
            return ran  # a restore: NetworkManager has the old files again; the running state stays as it is
        bridge, port = model['bridge'], model['port']
        paths = self.paths(model)
        bridge_uuid, port_uuid = profile_uuid(bridge['name']), profile_uuid(bridge['name'], port['name'])
        devices = self._devices(nmcli)
        bridge_was_ours = devices.get(bridge['name'], ('', ''))[1] == bridge_uuid
        port_was_ours = devices.get(port['name'], ('', ''))[1] == port_uuid

        # the uplink runs another profile of NetworkManager's own: hand the device over without a detach
        port_state, port_active = devices.get(port['name'], ('', ''))
        handed_over = False
        if port_active and port_active != port_uuid and 'externally' not in port_state:
            self._run([nmcli, 'device', 'set', port['name'], 'managed', 'no'], ran)
            self._run([nmcli, 'device', 'set', port['name'], 'managed', 'yes'], ran)
            handed_over = True
            devices = self._devices(nmcli)  # the port may have autoconnected (and brought our bridge) meanwhile

        bridge_state, bridge_active = devices.get(bridge['name'], ('', ''))
        brought_up = False
        if bridge_active != bridge_uuid or 'externally' in bridge_state:
            self._run([nmcli, 'connection', 'up', bridge_uuid], ran)
            brought_up = True
        elif paths['bridge'] in changed and bridge_was_ours:  # else it came up with the loaded file just now
            self._run([nmcli, 'device', 'reapply', bridge['name']], ran)

        if brought_up or handed_over:
            state = self._wait_state(nmcli, port_uuid, HANDOVER_WAIT, until=('activated', 'activating'))
        else:
            state = self._profile_state(nmcli, port_uuid)
        if state not in ('activated', 'activating'):
            self._run([nmcli, 'connection', 'up', port_uuid], ran)
        elif paths['port'] in changed and port_was_ours and not self._port_matches_kernel(port):
            argv = [nmcli, 'device', 'reapply', port['name']]
            rc, out, err = self.host.run(argv)
            ran.append(argv)
            if rc != 0:  # 1.42 cannot reapply [bridge-port]: re-activate (detach and re-attach, milliseconds)
                self._run([nmcli, 'connection', 'up', port_uuid], ran)

        for uuid_, what in ((bridge_uuid, bridge['name']), (port_uuid, port['name'])):
            state = self._wait_state(nmcli, uuid_, ACTIVATION_TIMEOUT)
            if state != 'activated':
                raise _persist.PersistError(
                    'NetworkManager did not activate profile %s on %s within %d s (state %r). Its log says why'
                    ' (journalctl -u NetworkManager); nmcli -f GENERAL,BRIDGE,BRIDGE-PORT connection show %s'
                    ' shows the profile.' % (uuid_, what, ACTIVATION_TIMEOUT, state or 'not active', uuid_),
                    profile=uuid_, state=state)
        return ran


BACKEND = NetworkManagerBackend
