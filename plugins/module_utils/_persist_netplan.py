# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persistence backend ``netplan``: one YAML file in ``/etc/netplan/`` for the renderer the host uses.

The file (``/etc/netplan/60-kvmnet-<bridge>.yaml``, mode 0600) holds the uplink under ``ethernets`` with no
addressing at all and the bridge under ``bridges`` with its ``parameters`` and addressing. The renderer
(``networkd`` or ``NetworkManager``, option ``netplan_renderer``) is set on each of our two definitions, never at
the top level: a top-level ``renderer`` in a later-sorting file switches the definitions of every other file too
(measured with netplan 0.106).

Other netplan files: netplan merges every file of ``/lib/netplan``, ``/etc/netplan`` and ``/run/netplan`` in
lexical order of the file name, a later file overriding scalar keys of the same definition and appending to its
sequences. Our file sorts after the installer's ``00-*`` and cloud-init's ``50-cloud-init.yaml``, so it overrides
their ``dhcp4: true`` (and the other scalar keys we set) on the uplink: cloud-init rewrites its file at boot, so
editing it would not last, and refusing would rule netplan out on every cloud image. What a scalar cannot override
is refused in :meth:`NetplanBackend.preflight`, naming the file: addresses, routes, nameservers and any other key of
the uplink's definition that would merge into the port; a second definition that matches the uplink under another
name; another bridge or bond holding it; another file defining our bridge; a later-sorting file touching either.

Activation (:meth:`NetplanBackend.activate`): ``netplan generate`` (the renderer's files under ``/run``), then the
renderer's own reload: ``networkctl reload`` (networkd reconfigures the links whose ``.network`` changed; it never
changes an existing bridge's ``.netdev`` values or MAC, which the role's apply phase already set over netlink) or
``nmcli connection reload`` plus ``nmcli device reapply`` of the devices NetworkManager already runs with our
profiles (``connection up`` only for a device not yet on them). Never ``netplan apply``: it restarts services
through systemd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import uuid

from ansible_collections.kvmnet.bridge.plugins.module_utils import _managers, _persist, _persist_nm
from ansible_collections.kvmnet.bridge.plugins.module_utils._persist_model import seconds

try:
    import yaml
except ImportError:  # netplan.io itself depends on python3-yaml; preflight says so when it is missing
    yaml = None

ETC = '/etc/netplan'
PREFIX = '60-kvmnet-'
RENDERERS = ('networkd', 'NetworkManager')
NETWORKD_PROGRAMS = ('/lib/systemd/systemd-networkd', '/usr/lib/systemd/systemd-networkd')
NETWORKD_STATE = '/run/systemd/netif/state'  # what networkctl itself checks for "networkd is running"
SYSTEM_BUS = '/run/dbus/system_bus_socket'  # networkctl reload talks to networkd over D-Bus

# Every section of netplan 0.106 that holds definitions (a definition of any kind may match the uplink).
SECTIONS = ('ethernets', 'bridges', 'bonds', 'vlans', 'wifis', 'tunnels', 'vrfs', 'modems', 'dummy-devices',
            'virtual-ethernets', 'nm-devices')
# Keys another file may set on the uplink's own definition (same ID): our later file overrides the scalars we set
# (dhcp4, dhcp6, accept-ra, link-local, renderer), the others do not give the port an address.
PORT_KEYS_MERGEABLE = frozenset((
    'match', 'set-name', 'dhcp4', 'dhcp6', 'accept-ra', 'link-local', 'renderer', 'optional', 'wakeonlan', 'mtu',
    'macaddress', 'dhcp-identifier', 'dhcp4-overrides', 'dhcp6-overrides', 'critical', 'ipv6-privacy',
    'emit-lldp', 'receive-checksum-offload', 'transmit-checksum-offload', 'tcp-segmentation-offload',
    'tcp6-segmentation-offload', 'generic-segmentation-offload', 'generic-receive-offload',
    'large-receive-offload'))

# Model attributes netplan 0.106 has no key for (its bridge parameters are stp, forward-delay, hello-time,
# max-age, ageing-time, priority, port-priority and path-cost), with the kernel's default, which is what the
# kernel shows after a boot whatever was asked.
UNEXPRESSIBLE = (
    ('bridge', 'mcast_snooping', True, 'multicast snooping'),
    ('bridge', 'vlan_filtering', False, 'VLAN filtering'),
    ('bridge', 'group_fwd_mask', 0, 'the group forward mask'),
    ('port', 'hairpin', False, 'hairpin mode'),
    ('port', 'learning', True, 'learning'),
    ('port', 'unicast_flood', True, 'unicast flooding'),
    ('port', 'mcast_flood', True, 'multicast flooding'),
    ('port', 'bpdu_guard', False, 'BPDU guard'),
    ('port', 'root_block', False, 'root block'),
    ('port', 'isolated', False, 'isolation'),
    ('port', 'neigh_suppress', False, 'neighbour suppression'),
)
TIMERS = (('forward_delay', 'forward-delay'), ('hello_time', 'hello-time'), ('max_age', 'max-age'),
          ('ageing_time', 'ageing-time'))


def file_path(model):
    return '%s/%s%s.yaml' % (ETC, PREFIX, model['bridge']['name'])


def connection_ids(model):
    """The NetworkManager profile names netplan generates for our two definitions."""
    return 'netplan-%s' % model['bridge']['name'], 'netplan-%s' % model['port']['name']


def profile_uuid(bridge, port=None):
    """The UUID netplan gives the NetworkManager profile of our bridge (``port`` None) or of its port: fixed for
    the names (without one NetworkManager derives it from the file, and host_interfaces_info cannot tie the active
    profile to its file), and not the networkmanager backend's own UUIDs (switching backends never collides)."""
    key = 'kvmnet.bridge:netplan:%s:bridge' % bridge if port is None else 'kvmnet.bridge:netplan:%s:port:%s' % (
        bridge, port)
    return str(uuid.uuid5(_persist_nm.UUID_NAMESPACE, key))


def _bool(value):
    return 'true' if value else 'false'


class NetplanBackend(_persist.Backend):
    """netplan 0.106: see the module docstring and docs/persist/netplan.md."""

    name = 'netplan'

    @property
    def renderer(self):
        return self.options.get('netplan_renderer') or 'networkd'

    def _check_renderer(self):
        if self.renderer not in RENDERERS:
            raise _persist.PersistError(
                'netplan_renderer: %r is not a netplan renderer this backend writes for. Use networkd or'
                ' NetworkManager (the renderer of the host\'s other netplan files; host_interfaces_info reports it).'
                % (self.renderer,), netplan_renderer=self.renderer)

    # -- render (pure) -------------------------------------------------------------------------------------------

    def _timer_text(self, option, centiseconds):
        if self.renderer == 'NetworkManager':  # whole seconds within NetworkManager's ranges (_persist_nm)
            return str(_persist_nm.nm_seconds(option, centiseconds))
        return seconds(centiseconds)

    def _addressing(self, addressing):
        mode = addressing['mode']
        lines = []
        if mode == 'dhcp':
            lines += ['dhcp4: true', 'dhcp6: true', 'accept-ra: true', 'link-local: [ipv6]']
        elif mode == 'static':
            lines += ['dhcp4: false', 'dhcp6: false', 'accept-ra: false', 'link-local: [ipv6]', 'addresses:']
            lines += ['  - "%s"' % address for address in addressing['addresses']]
            routes = [gateway for gateway in (addressing['gateway4'], addressing['gateway6']) if gateway]
            if routes:
                lines.append('routes:')
                for gateway in routes:
                    lines += ['  - to: default', '    via: "%s"' % gateway]
        else:
            lines += ['dhcp4: false', 'dhcp6: false', 'accept-ra: false', 'link-local: []']
        return lines

    def _networkmanager(self, profile, mode=None):
        """The ``networkmanager`` mapping of a definition (NetworkManager renderer only): the profile's UUID, and
        for a bridge without addressing both IP methods disabled: netplan writes ipv4.method=link-local for a
        definition without addresses, and NetworkManager would give the bridge a 169.254 address after ~7 s."""
        if self.renderer != 'NetworkManager':
            return []
        lines = ['networkmanager:', '  uuid: "%s"' % profile]
        if mode == 'none':
            lines += ['  passthrough:', '    ipv4.method: disabled', '    ipv6.method: disabled']
        return lines

    def _parameters(self, bridge, port):
        lines = ['stp: %s' % _bool(bridge['stp'])]
        for option, key in TIMERS:
            if bridge[option] is not None:
                lines.append('%s: "%s"' % (key, self._timer_text(option, bridge[option])))
        if bridge['priority'] is not None:
            lines.append('priority: %d' % bridge['priority'])
        if port['priority'] is not None:
            lines += ['port-priority:', '  %s: %d' % (port['name'], port['priority'])]
        if port['cost'] is not None:
            lines += ['path-cost:', '  %s: %d' % (port['name'], port['cost'])]
        return lines

    def render(self, model):
        self._check_renderer()
        bridge, port = model['bridge'], model['port']
        bridge_lines = ['renderer: %s' % self.renderer, 'interfaces: [%s]' % port['name']]
        if bridge['mac']:
            bridge_lines.append('macaddress: "%s"' % bridge['mac'])
        if bridge['mtu'] is not None:
            bridge_lines.append('mtu: %d' % bridge['mtu'])
        bridge_lines += self._addressing(model['addressing'])
        bridge_lines += self._networkmanager(profile_uuid(bridge['name']), model['addressing']['mode'])
        bridge_lines += ['parameters:'] + ['  ' + line for line in self._parameters(bridge, port)]
        port_lines = ['renderer: %s' % self.renderer, 'dhcp4: false', 'dhcp6: false', 'accept-ra: false',
                      'link-local: []'] + self._networkmanager(profile_uuid(bridge['name'], port['name']))
        text = [
            '# ' + _persist.MARKER,
            '# Bridge %s with its port %s, rendered by netplan for %s. netplan merges this file after lower-sorting'
            % (bridge['name'], port['name'], self.renderer),
            '# ones: it overrides their dhcp4/dhcp6/accept-ra/link-local of %s. Mode 0600 (netplan warns otherwise).'
            % port['name'],
            'network:',
            '  version: 2',
            '  ethernets:',
            '    %s:' % port['name'],
        ]
        text += ['      ' + line for line in port_lines]
        text += ['  bridges:', '    %s:' % bridge['name']]
        text += ['      ' + line for line in bridge_lines]
        return [_persist.PersistFile(file_path(model), '\n'.join(text) + '\n', mode=0o600)]

    # -- stale, limits ---------------------------------------------------------------------------------------

    def _ours(self, path):
        text = self.host.read(path)
        return text is not None and text.startswith('# ' + _persist.MARKER)

    def stale(self, model):
        wanted = file_path(model)
        return [path for path in self.host.glob('%s/%s*.yaml' % (ETC, PREFIX))
                if path != wanted and self._ours(path)]

    def limits(self, model):
        found = []
        for part, option, default, words in UNEXPRESSIBLE:
            wanted = model[part][option]
            if wanted is None or wanted == default:
                continue
            found.append(_persist.Limit(
                '%s.%s' % (part, option), wanted, default,
                'netplan 0.106 has no key for %s (its bridge parameters are stp, timers, priority, port-priority and'
                ' path-cost): the value is not persisted and the kernel default %r applies at boot' % (words, default)))
        if self.renderer != 'NetworkManager':
            return found
        bridge = model['bridge']
        for option, key in TIMERS:
            wanted = bridge[option]
            if wanted is None:
                continue
            kernel = _persist_nm.nm_seconds(option, wanted) * 100
            if kernel == wanted:
                continue
            low, high = _persist_nm.TIMER_RANGES[option]
            why = ('NetworkManager keeps bridge.%s in whole seconds within %d-%d s: %s s is written as %d s'
                   % (key, low, high, seconds(wanted), kernel // 100))
            if option == 'forward_delay' and wanted < 150:
                why += (' (bridge.forward-delay=0 would mean unset, applied as 15 s; with STP off forwarding is not'
                        ' delayed either way)')
            found.append(_persist.Limit('bridge.%s' % option, wanted, kernel, why))
        return found

    # -- preflight (read-only) -------------------------------------------------------------------------------

    def _effective_files(self):
        """{basename: host path} of every netplan file in netplan's order (``_managers.netplan_files``: /run over
        /etc over /lib for one name)."""
        root = self.host.root.rstrip('/') or '/'
        return dict((os.path.basename(path), '/' + os.path.relpath(path, root).lstrip('/'))
                    for path in _managers.netplan_files(root))

    def _uplink_facts(self, port):
        text = self.host.read('/sys/class/net/%s/address' % port)
        return dict(name=port, mac=text.strip().lower() if text else None, perm_mac=None)

    def _check_file(self, path, network, model, later, facts):
        """Refuse what a scalar of our later file cannot override. ``network``: the file's ``network`` mapping
        as ``_managers`` parses it ({key: (value, line)}, scalars kept as strings)."""
        bridge, port = model['bridge']['name'], model['port']['name']
        for section in SECTIONS:
            definitions = network.get(section, (None, 0))[0]
            if not isinstance(definitions, dict):
                continue
            for definition_id in sorted(definitions):
                definition, line = definitions[definition_id]
                definition = definition if isinstance(definition, dict) else {}
                where = '%s:%d defines %s.%s' % (path, line, section, definition_id)
                if section == 'bridges' and definition_id == bridge:
                    raise _persist.PersistError(
                        '%s, the bridge this backend writes to %s: two files would define it. Remove that definition'
                        ' (the role persists the bridge itself), or choose another bridge name.'
                        % (where, file_path(model)), file=path)
                members = definition.get('interfaces', (None, 0))[0]
                if section in ('bridges', 'bonds') and isinstance(members, list) and port in members:
                    raise _persist.PersistError(
                        '%s with %s as a member: %s cannot also be the port of %s. Remove %s from it, or choose'
                        ' another uplink.' % (where, port, port, bridge, port), file=path)
                if section == 'ethernets' and definition_id == port:
                    if later:
                        raise _persist.PersistError(
                            '%s: %s sorts after %s, so netplan would let it override this bridge\'s port. Move that'
                            ' definition into a file that sorts before it, or remove it.'
                            % (where, os.path.basename(path), os.path.basename(file_path(model))), file=path)
                    extra = sorted(key for key in definition if key not in PORT_KEYS_MERGEABLE)
                    if extra:
                        raise _persist.PersistError(
                            '%s with %s: netplan would merge these into the port of %s (a bridge port carries no'
                            ' IP, and a later file cannot remove them). Remove them from %s (for cloud-init: disable'
                            ' its network configuration with network: {config: disabled} in'
                            ' /etc/cloud/cloud.cfg.d/, then remove the file).'
                            % (where, ', '.join(extra), bridge, path), file=path, keys=extra)
                    continue
                match = definition.get('match', (None, 0))[0]
                set_name = definition.get('set-name', (None, 0))[0]
                claims, how = _managers.netplan_definition_matches(
                    dict(id=definition_id, match=_managers._unwrap(match) if isinstance(match, dict) else None,
                         set_name=set_name if isinstance(set_name, str) else None), facts, None)
                if claims and (section in _managers.NETPLAN_PHYSICAL or how != 'by name'):
                    raise _persist.PersistError(
                        '%s, which configures the uplink %s too (%s): netplan would render two configurations'
                        ' for %s and they would fight. Remove that definition, or name it %s under ethernets'
                        ' (then this backend overrides its addressing).' % (where, port, how, port, port),
                        file=path)

    def preflight(self, model):
        self._check_renderer()
        if not self.host.which('netplan'):
            raise _persist.PersistError(
                'netplan is not installed (no netplan program): install the netplan.io package, or choose the'
                ' backend of the stack that runs this host (kvm_bridge_host_persist).')
        if self.renderer == 'networkd':
            if not any(self.host.exists(path) for path in NETWORKD_PROGRAMS):
                raise _persist.PersistError(
                    'netplan_renderer networkd: systemd-networkd is not installed (no %s). Install systemd-networkd'
                    ' (Debian: the systemd package), or use netplan_renderer NetworkManager.'
                    % NETWORKD_PROGRAMS[0])
        elif not (self.host.which('NetworkManager') and self.host.which('nmcli')):
            raise _persist.PersistError(
                'netplan_renderer NetworkManager: NetworkManager or nmcli is not installed. Install network-manager,'
                ' or use netplan_renderer networkd.')
        ours = PREFIX + model['bridge']['name'] + '.yaml'
        files = self._effective_files()
        if ours in files and files[ours] != file_path(model):
            raise _persist.PersistError(
                '%s shadows %s (netplan reads /run/netplan over /etc/netplan for one file name), so the file this'
                ' backend writes would be ignored. Remove %s.' % (files[ours], file_path(model), files[ours]),
                file=files[ours])
        others = [(name, files[name]) for name in sorted(files)
                  if name != ours and not (name.startswith(PREFIX) and self._ours(files[name]))]
        if others and yaml is None:
            raise _persist.PersistError(
                'checking the other netplan files (%s) needs PyYAML in the Python that runs the module: install'
                ' python3-yaml (netplan.io depends on it), or point ansible_python_interpreter at /usr/bin/python3.'
                % ', '.join(item[1] for item in others))
        facts = self._uplink_facts(model['port']['name'])
        for name, path in others:
            try:
                data = _managers._plain(yaml.compose(self.host.read(path) or '', Loader=yaml.SafeLoader))
            except yaml.YAMLError as error:
                raise _persist.PersistError(
                    '%s is not valid YAML (%s): netplan would refuse every file. Fix or remove it first.'
                    % (path, str(error).replace('\n', ' ')), file=path)
            network = data.get('network', (None, 0))[0] if isinstance(data, dict) else None
            if isinstance(network, dict):
                self._check_file(path, network, model, name > ours, facts)

    # -- running, activate -------------------------------------------------------------------------------------

    def running(self):
        if self.renderer == 'networkd':
            return self.host.exists(NETWORKD_STATE) and self.host.exists(SYSTEM_BUS)
        rc, out, _err = self.host.run(['nmcli', '-t', '-f', 'RUNNING', 'general'])
        return rc == 0 and out.strip() == 'running'

    def _run(self, argv, ran, what):
        rc, out, err = self.host.run(argv)
        ran.append(list(argv))
        if rc != 0:
            raise _persist.PersistError(
                '%s failed (%s, rc %d): %s' % (what, ' '.join(argv), rc, (err or out).strip() or 'no output'),
                argv=list(argv), rc=rc, stdout=out, stderr=err)
        return out

    def _nm_active(self, device):
        """The connection NetworkManager runs on ``device`` now ('' if none)."""
        rc, out, _err = self.host.run(['nmcli', '-g', 'GENERAL.CONNECTION', 'device', 'show', device])
        return out.strip() if rc == 0 else ''

    def activate(self, model, changed):
        if not changed:
            return []
        self._check_renderer()
        ran = []
        self._run(['netplan', 'generate'], ran, 'netplan generate (netplan\'s own parser refused the files)')
        if self.renderer == 'networkd':
            # reconfigures the links whose .network changed; an existing bridge keeps its netdev values and MAC
            # (the role's apply phase set them over netlink), so nothing flaps and nothing restarts
            self._run(['networkctl', 'reload'], ran, 'networkctl reload')
            return ran
        self._run(['nmcli', 'connection', 'reload'], ran, 'nmcli connection reload')
        if model is None:
            return ran
        bridge_id, port_id = connection_ids(model)
        for device, connection in ((model['bridge']['name'], bridge_id), (model['port']['name'], port_id)):
            if self._nm_active(device) == connection:
                self._run(['nmcli', 'device', 'reapply', device], ran, 'nmcli device reapply')
            else:
                self._run(['nmcli', 'connection', 'up', connection], ran, 'nmcli connection up')
        return ran


BACKEND = NetplanBackend
