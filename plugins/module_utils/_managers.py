# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which network stack owns an interface: netplan, NetworkManager, systemd-networkd, ifupdown, several (a
conflict), or none.

Every stack that would configure the interface makes a *claim* (``{name, detail}``, the detail naming the file and
line or the daemon state it comes from). One claim names the owner; two independent claims are a ``conflict``.
Netplan and the renderer it generated files for are ONE claim (netplan): a NetworkManager profile or a networkd
``.network`` file that netplan generated (``/run/NetworkManager/system-connections/netplan-*``,
``/run/systemd/network/10-netplan-*.network``) belongs to netplan's claim. A stack that knows the device but leaves
it alone (NetworkManager "unmanaged", networkd ``Unmanaged=yes``) does not claim it.

Read from what each stack leaves on the host, never by starting or asking a daemon that is not there:
- NetworkManager: ``nmcli`` only when ``/run/NetworkManager`` exists (NM creates it at start), else its per-device
  state files; its keyfile profiles (``interface-name=``, ``mac-address=``); its ``unmanaged-devices`` and the
  Debian ``ifupdown`` plugin configuration.
- systemd-networkd: whether it runs (``/proc/*/comm``) or is enabled, its link state files
  (``/run/systemd/netif/links/IFINDEX``) and the first ``.network`` file whose ``[Match]`` matches the device, in
  networkd's own order.
- netplan: the YAML files of ``/lib/netplan``, ``/etc/netplan`` and ``/run/netplan`` (a device defined by its name,
  or by ``match:`` name glob / MAC / driver, or renamed to it by ``set-name``), with the renderer that applies.
- ifupdown: the ``iface`` stanzas of ``/etc/network/interfaces`` and the files it sources, and ``bridge_ports``.

Every path is read below ``root`` (a seam: the unit tests build a fake tree), the one command goes through the
injected ``run_command(argv) -> (rc, stdout, stderr)``, and the YAML parser is injected too (``yaml_module``:
PyYAML, or None when the target Python lacks it; then netplan files are searched as text and the claim says so).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import glob
import os
import re

try:
    import yaml as _yaml
except ImportError:
    _yaml = None

NM_RUN_DIR = 'run/NetworkManager'
NM_CONF_DIRS = ('usr/lib/NetworkManager/conf.d', 'run/NetworkManager/conf.d', 'etc/NetworkManager/conf.d')
NM_MAIN_CONF = 'etc/NetworkManager/NetworkManager.conf'
NM_BINARIES = ('usr/sbin/NetworkManager', 'sbin/NetworkManager')
# profile directories, the first one winning for a UUID found in several
NM_PROFILE_DIRS = ('run/NetworkManager/system-connections', 'etc/NetworkManager/system-connections',
                   'usr/lib/NetworkManager/system-connections')
NM_NETPLAN_PREFIX = '/run/NetworkManager/system-connections/netplan-'
NETWORKD_LINKS = 'run/systemd/netif/links'
# .network directories, the first one winning for a file name found in several
NETWORKD_DIRS = ('etc/systemd/network', 'run/systemd/network', 'usr/local/lib/systemd/network',
                 'usr/lib/systemd/network', 'lib/systemd/network')
NETWORKD_NETPLAN_PREFIX = '/run/systemd/network/10-netplan-'
NETWORKD_COMM = 'systemd-network'  # the kernel keeps 15 characters of systemd-networkd
NETWORKD_UNIT_LINKS = 'etc/systemd/system/*.wants/systemd-networkd.service'
NETWORKD_MANAGED = ('configuring', 'configured', 'failed')
NETPLAN_DIRS = ('lib/netplan', 'etc/netplan', 'run/netplan')  # a later directory hides the same file name
NETPLAN_PHYSICAL = ('ethernets', 'wifis', 'modems')
NETPLAN_VIRTUAL = ('bridges', 'bonds', 'vlans', 'tunnels', 'vrfs', 'dummy-devices', 'virtual-ethernets')
NETPLAN_DEFAULT_RENDERER = 'networkd'
IFUPDOWN_MAIN = 'etc/network/interfaces'
_RUN_PARTS_NAME = re.compile(r'^[A-Za-z0-9_-]+$')  # source-directory includes only such names (run-parts rules)
_TRUE = ('1', 'yes', 'true', 'on')

# the NetworkManager device type of each inventory kind (for ``type:`` specs in unmanaged-devices)
NM_TYPES = dict(wired='ethernet', wireless='wifi', bridge='bridge', veth='veth', tap='tun', macvlan='macvlan',
                loopback='loopback')
# networkd's Type= of each inventory kind (the udev DEVTYPE, else the link type), other virtual kinds: link_kind
NETWORKD_TYPES = dict(wired='ether', wireless='wlan', bridge='bridge', veth='ether', tap='ether', macvlan='ether',
                      loopback='loopback')


def manager(name, managed, detail, claims=None, renderer=None):
    """The ``manager`` entry of one interface (see the module's RETURN)."""
    return dict(name=name, managed=managed, detail=detail, claims=list(claims or []), renderer=renderer)


def claim(name, detail):
    return dict(name=name, detail=detail)


def _path(root, relative):
    return os.path.join(root, relative.lstrip('/'))


def _target(root, path):
    """A path below ``root`` as the target names it."""
    if root in ('', '/'):
        return path
    return '/' + os.path.relpath(path, root).lstrip('/')


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def _words(items):
    """'a', 'b' and 'c' (for details naming several things)."""
    items = list(items)
    return items[0] if len(items) == 1 else '%s and %s' % (', '.join(items[:-1]), items[-1])


def process_running(root, comm):
    """The PID (str) of a process named ``comm`` in ``/proc`` below ``root``, False when ``/proc`` lists
    processes but not that one, None when it lists none (not mounted: unknown)."""
    proc = _path(root, 'proc')
    try:
        pids = [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return None
    if not pids:
        return None
    for pid in sorted(pids, key=int):
        text = _read(os.path.join(proc, pid, 'comm'))
        if text is not None and text.strip() == comm:
            return pid
    return False


def device_driver(root, name):
    """The kernel driver of interface ``name`` (sysfs ``device/driver`` link), None for software devices."""
    try:
        return os.path.basename(os.readlink(_path(root, 'sys/class/net/%s/device/driver' % name)))
    except OSError:
        return None


# ---- NetworkManager ---------------------------------------------------------------------------------------------

def nmcli_split(line):
    """One line of ``nmcli -t`` output -> its fields (``:`` separates, ``\\:`` and ``\\\\`` are escapes)."""
    fields, current, escaped = [], [], False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == '\\':
            escaped = True
        elif char == ':':
            fields.append(''.join(current))
            current = []
        else:
            current.append(char)
    fields.append(''.join(current))
    return fields


NMCLI_FIELDS = 'DEVICE,STATE,TYPE,CON-UUID'


def parse_nmcli_devices(text):
    """``nmcli -t -f DEVICE,STATE,TYPE[,CON-UUID] device`` -> device -> (state, type, uuid or None)."""
    result = {}
    for line in text.splitlines():
        fields = nmcli_split(line)
        if len(fields) >= 3 and fields[0]:
            uuid = fields[3] if len(fields) >= 4 and fields[3] not in ('', '--') else None
            result[fields[0]] = (fields[1], fields[2], uuid)
    return result


def nm_state_file(root, index):
    """NetworkManager's runtime state of interface ``index`` (``/run/NetworkManager/devices/IFINDEX``, key
    ``managed`` in ``[device]``): True, False, or None (no file, no key)."""
    text = _read(_path(root, os.path.join(NM_RUN_DIR, 'devices', str(index))))
    if text is None:
        return None
    values = _keyfile(text).get('device', {})
    value = values.get('managed', '').strip().lower()
    if value in ('true', '1', 'yes'):
        return True
    if value in ('false', '0', 'no'):
        return False
    return None


def _keyfile_lines(text):
    """A GKeyFile (NetworkManager.conf, state files, profiles) -> section -> key -> (value, line number). Keys
    keep a trailing ``+``/``-`` of the ``key+=value`` / ``key-=value`` forms; a later key wins."""
    sections, section = {}, None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(('#', ';')):
            continue
        if line.startswith('[') and line.endswith(']'):
            section = sections.setdefault(line[1:-1].strip(), {})
            continue
        if section is None or '=' not in line:
            continue
        key, value = line.split('=', 1)
        section[key.strip()] = (value.strip(), number)
    return sections


def _keyfile(text):
    """A GKeyFile -> section -> key -> value (see :func:`_keyfile_lines`)."""
    return dict((name, dict((key, item[0]) for key, item in values.items()))
                for name, values in _keyfile_lines(text).items())


def nm_conf_files(root):
    """NetworkManager's configuration files in the order NetworkManager reads them: NetworkManager.conf, then
    the conf.d files sorted by name, a name in /etc hiding the same name in /run and /usr/lib."""
    by_name = {}
    for directory in NM_CONF_DIRS:  # later directories win
        for path in glob.glob(os.path.join(_path(root, directory), '*.conf')):
            by_name[os.path.basename(path)] = path
    main = _path(root, NM_MAIN_CONF)
    return ([main] if os.path.exists(main) else []) + [by_name[name] for name in sorted(by_name)]


def nm_unmanaged_specs(root):
    """The effective ``[keyfile] unmanaged-devices`` list, with the file that last changed it: (specs, path)."""
    specs, source = [], None
    for path in nm_conf_files(root):
        values = _keyfile(_read(path) or '').get('keyfile', {})
        for key in ('unmanaged-devices', 'unmanaged-devices+', 'unmanaged-devices-'):
            if key not in values:
                continue
            items = [item.strip() for item in re.split(r'[,;]', values[key]) if item.strip()]
            if key == 'unmanaged-devices':
                specs = items
            elif key.endswith('+'):
                specs = specs + [item for item in items if item not in specs]
            else:
                specs = [item for item in specs if item not in items]
            source = path
    return specs, source


def nm_ifupdown_plugin(root):
    """The configuration file that makes NetworkManager leave interfaces with an ifupdown stanza alone (Debian's
    ``[main] plugins=ifupdown,keyfile`` with ``[ifupdown] managed=false``, its default), or None."""
    plugins, managed, source = '', 'false', None
    for path in nm_conf_files(root):
        values = _keyfile(_read(path) or '')
        if 'plugins' in values.get('main', {}):
            plugins, source = values['main']['plugins'], path
        managed = values.get('ifupdown', {}).get('managed', managed)
    names = [item.strip() for item in re.split(r'[,;]', plugins)]
    if 'ifupdown' in names and managed.strip().lower() not in _TRUE:
        return source
    return None


def _spec_matches(spec, facts):
    """One NetworkManager device spec against an interface: None when the spec is of a form not read here."""
    if spec == '*':
        return True
    kind, dummy, value = spec.partition(':')
    if kind == 'interface-name':
        if value.startswith('='):
            return facts['name'] == value[1:]
        return fnmatch.fnmatchcase(facts['name'], value[1:] if value.startswith('~') else value)
    if kind == 'mac':
        value = value.lower()
        return value in (facts.get('mac'), facts.get('perm_mac'))
    if kind == 'type':
        return NM_TYPES.get(facts['kind'], facts.get('link_kind') or facts['kind']) == value
    return None


def nm_spec_match(specs, facts):
    """Whether a device list (``except:`` entries included) matches the interface: True, False, or None when
    an entry of a form not read here (driver:, s390-subchannels:...) could decide it."""
    positive = [spec for spec in specs if not spec.startswith('except:')]
    negative = [spec[len('except:'):] for spec in specs if spec.startswith('except:')]
    unknown = False
    for spec in negative:
        matched = _spec_matches(spec, facts)
        if matched:
            return False
        unknown = unknown or matched is None
    if not positive:
        matched = bool(negative)  # only except: entries: everything else matches
    else:
        results = [_spec_matches(spec, facts) for spec in positive]
        matched = any(results)
        unknown = unknown or (not matched and None in results)
    if unknown and not matched:
        return None
    return matched


def nm_profiles(root):
    """NetworkManager's keyfile profiles that bind to a device: [dict(path, uuid, id, interface_name, mac, line,
    autoconnect, netplan)], ``line`` being the binding key's. A profile bound to no device (any Ethernet device
    may take it) is left out: it claims nothing by itself."""
    profiles, uuids = [], set()
    for directory in NM_PROFILE_DIRS:
        base = _path(root, directory)
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for name in names:
            if not (name.endswith('.nmconnection') or '.' not in name):
                continue
            path = os.path.join(base, name)
            text = _read(path) if os.path.isfile(path) else None
            if text is None:
                continue
            sections = _keyfile_lines(text)
            connection = sections.get('connection', {})
            uuid = connection.get('uuid', ('', 0))[0]
            if uuid and uuid in uuids:
                continue  # hidden by the same profile in an earlier directory
            uuids.add(uuid)
            binding, line = connection.get('interface-name', ('', 0))
            mac, mac_line = '', 0
            for section in ('ethernet', '802-3-ethernet', 'wifi', '802-11-wireless'):
                mac, mac_line = sections.get(section, {}).get('mac-address', ('', 0))
                if mac:
                    break
            if not binding and not mac:
                continue
            target = _target(root, path)
            profiles.append(dict(
                path=target, uuid=uuid or None, id=connection.get('id', (name, 0))[0],
                interface_name=binding or None, mac=mac.lower().replace('-', ':') or None, line=line or mac_line,
                autoconnect=connection.get('autoconnect', ('true', 0))[0].lower() not in ('false', 'no', '0'),
                netplan=target.startswith(NM_NETPLAN_PREFIX)))
    return profiles


def _nm_binds(profile, facts):
    if profile['interface_name'] is not None and profile['interface_name'] != facts['name']:
        return False
    if profile['mac'] is not None and profile['mac'] not in (facts.get('mac'), facts.get('perm_mac')):
        return False
    return True


def _nm_profile_words(profile):
    how = ('interface-name=%s' % profile['interface_name'] if profile['interface_name']
           else 'mac-address=%s' % profile['mac'])
    return "profile '%s' (%s:%d, %s)" % (profile['id'], profile['path'], profile['line'], how)


# ---- systemd-networkd --------------------------------------------------------------------------------------------

def networkd_link(root, index):
    """systemd-networkd's state of interface ``index``: dict of its ``KEY=value`` lines, or None (no file)."""
    text = _read(_path(root, os.path.join(NETWORKD_LINKS, str(index))))
    if text is None:
        return None
    values = {}
    for line in text.splitlines():
        if '=' in line and not line.startswith('#'):
            key, value = line.split('=', 1)
            values[key.strip()] = value.strip()
    return values


def networkd_state(root, pid='ask'):
    """(in_use, words): whether systemd-networkd runs or is enabled (its .network files then apply), and how that
    was told. /proc decides when it lists processes; else networkd's link state directory or an enabled unit.
    ``pid``: :func:`process_running`'s answer when the caller has it."""
    if pid == 'ask':
        pid = process_running(root, NETWORKD_COMM)
    enabled = sorted(glob.glob(_path(root, NETWORKD_UNIT_LINKS)))
    enabled_words = 'enabled (%s)' % _target(root, enabled[0]) if enabled else None
    if pid:
        return True, 'systemd-networkd runs (pid %s)' % pid
    if enabled:
        return True, 'systemd-networkd is %s%s' % (enabled_words, ', not running' if pid is False else '')
    if pid is None and os.path.isdir(_path(root, NETWORKD_LINKS)):
        return True, 'systemd-networkd has link state (/%s)' % NETWORKD_LINKS
    return False, 'systemd-networkd neither runs nor is enabled'


def _unit_sections(text):
    """A systemd unit file -> [(section, key, value, line)], continuation lines joined."""
    entries, section, pending, first = [], None, '', None
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.endswith('\\'):
            pending, first = pending + raw[:-1] + ' ', first or number
            continue
        line, start = (pending + raw).strip(), first or number
        pending, first = '', None
        if not line or line.startswith(('#', ';')):
            continue
        if line.startswith('[') and line.endswith(']'):
            section = line[1:-1].strip()
        elif section is not None and '=' in line:
            key, value = line.split('=', 1)
            entries.append((section, key.strip(), value.strip(), start))
    return entries


def networkd_networks(root):
    """networkd's .network files in the order it tries them (sorted by file name; for a name found in several
    directories /etc, then /run, then /usr/local/lib, /usr/lib, /lib): [(target path, entries)]. An empty file or a
    link to /dev/null masks the name."""
    by_name = {}
    for directory in NETWORKD_DIRS:
        for path in glob.glob(os.path.join(_path(root, directory), '*.network')):
            by_name.setdefault(os.path.basename(path), path)
    result = []
    for name in sorted(by_name):
        path = by_name[name]
        if os.path.realpath(path) == '/dev/null':
            continue
        text = _read(path)
        if text:
            result.append((_target(root, path), _unit_sections(text)))
    return result


_NETWORKD_LISTS = ('Name', 'Type', 'Kind', 'Driver', 'MACAddress', 'PermanentMACAddress')
_NETWORKD_WIRELESS = ('SSID', 'BSSID', 'WLANInterfaceType')


def networkd_match(entries, facts, driver):
    """Whether a .network file's [Match] matches the interface: (True|False|None, words). None: every condition
    read here holds but one that is not read (Path=, Property=, Host=...) could still decide it. ``driver``: the
    sysfs driver; a software device's driver is its kind (veth, bridge, tun), as ethtool reports it."""
    lists, unread, lines = {}, [], {}
    for section, key, value, line in entries:
        if section != 'Match':
            continue
        if key in _NETWORKD_LISTS:
            if value == '':
                lists[key] = []  # an empty assignment resets the list
                continue
            words = value.split()
            if key in ('MACAddress', 'PermanentMACAddress'):
                words = [word.lower().replace('-', ':') for word in words]
            elif value.startswith('!'):
                words = ['!' + word.lstrip('!') for word in words]
            lists.setdefault(key, []).extend(words)
            lines.setdefault(key, line)
        elif key in _NETWORKD_WIRELESS and facts['kind'] != 'wireless':
            return False, None  # only a wireless interface has an SSID, a BSSID or a wireless interface type
        else:
            unread.append('%s=%s' % (key, value))
    values = dict(Name=facts['name'], Kind=facts.get('link_kind'), Driver=driver or facts.get('link_kind'),
                  Type=NETWORKD_TYPES.get(facts['kind'], facts.get('link_kind') or 'ether'))
    said = []
    for key in ('Name', 'Type', 'Kind', 'Driver'):
        if lists.get(key):
            if not _glob_list(lists[key], values[key]):
                return False, None
            said.append('%s=%s (line %d)' % (key, ' '.join(lists[key]), lines[key]))
    for key, value in (('MACAddress', facts.get('mac')), ('PermanentMACAddress', facts.get('perm_mac'))):
        if lists.get(key):
            if value not in lists[key]:
                return False, None
            said.append('%s=%s (line %d)' % (key, value, lines[key]))
    if unread:
        return None, '[Match] %s, if %s also hold%s (not checked here)' % (
            ' '.join(said) or 'with no condition read here', ' '.join(unread), 's' if len(unread) == 1 else '')
    if not said:
        return True, 'its [Match] has no condition, so it matches every interface'
    return True, '[Match] %s' % ' '.join(said)


def _glob_list(patterns, value):
    """systemd's list of globs: a ``!`` pattern that matches excludes, else one plain pattern must match (a list of
    ``!`` patterns only matches everything else)."""
    matched, positive = False, False
    for pattern in patterns:
        invert = pattern.startswith('!')
        pattern = pattern[1:] if invert else pattern
        positive = positive or not invert
        if value is not None and fnmatch.fnmatchcase(value, pattern):
            if invert:
                return False
            matched = True
    return matched if positive else True


def _unmanaged(entries):
    return any(section == 'Link' and key == 'Unmanaged' and value.lower() in _TRUE
               for section, key, value, line in entries)


# ---- netplan -----------------------------------------------------------------------------------------------------

def netplan_files(root):
    """The netplan YAML files in the order netplan merges them: sorted by name, a name in /run/netplan hiding
    /etc/netplan's, which hides /lib/netplan's. Real paths (below ``root``)."""
    by_name = {}
    for directory in NETPLAN_DIRS:
        for path in glob.glob(os.path.join(_path(root, directory), '*.yaml')):
            by_name[os.path.basename(path)] = path
    return [by_name[name] for name in sorted(by_name)]


def _plain(node, depth=0):
    """A composed YAML node -> plain data whose scalars stay strings (as libyaml gives them to netplan: an
    unquoted MAC is not a base-60 number here), mappings -> {key: (value, line)}."""
    if depth > 50:
        return None
    tag = getattr(node, 'id', None)
    if tag == 'scalar':
        return node.value
    if tag == 'sequence':
        return [_plain(item, depth + 1) for item in node.value]
    if tag == 'mapping':
        result = {}
        for key, value in node.value:
            if getattr(key, 'id', None) == 'scalar':
                result[key.value] = (_plain(value, depth + 1), key.start_mark.line + 1)
        return result
    return None


def _unwrap(value):
    """(value, line) mappings -> plain values (recursively), for the merged definitions."""
    if isinstance(value, dict):
        return dict((key, _unwrap(item[0])) for key, item in value.items())
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    return value


def _merge(into, value):
    for key, item in value.items():
        if isinstance(item, dict) and isinstance(into.get(key), dict):
            _merge(into[key], item)
        else:
            into[key] = item


def netplan_config(root, yaml_module=_yaml):
    """The netplan configuration: dict(definitions, unparsed, files).

    ``definitions``: [dict(type, id, where [target 'PATH:LINE'], match, set_name, renderer, renderer_from)], the
    files merged in netplan's order (a later file's values win); ``renderer`` from the device, its type section,
    the network level, else netplan's default networkd. ``unparsed``: [(target path, why, text)] of the files that
    could not be parsed (no PyYAML, a syntax error): the caller searches their text instead.
    """
    files = netplan_files(root)
    merged, where, unparsed = {}, {}, []
    renderers = {}  # None (network level) or the type -> (value, 'PATH:LINE')
    for path in files:
        target, text = _target(root, path), _read(path)
        if text is None:
            unparsed.append((target, 'it cannot be read', ''))
            continue
        if yaml_module is None:
            unparsed.append((target, 'PyYAML is not installed for the Python that runs the module', text))
            continue
        try:
            data = _plain(yaml_module.compose(text, Loader=yaml_module.SafeLoader))
        except yaml_module.YAMLError as error:
            unparsed.append((target, 'it is not valid YAML (%s)' % str(error).replace('\n', ' ')[:200], text))
            continue
        network = data.get('network', (None, 0))[0] if isinstance(data, dict) else None
        if not isinstance(network, dict):
            continue
        if 'renderer' in network:
            renderers[None] = (network['renderer'][0], '%s:%d' % (target, network['renderer'][1]))
        for kind in NETPLAN_PHYSICAL + NETPLAN_VIRTUAL:
            section = network.get(kind, (None, 0))[0]
            if not isinstance(section, dict):
                continue
            for ident, (value, line) in section.items():
                if ident == 'renderer':
                    renderers[kind] = (value, '%s:%d' % (target, line))
                    continue
                _merge(merged.setdefault((kind, ident), {}), _unwrap(value) if isinstance(value, dict) else {})
                where.setdefault((kind, ident), []).append('%s:%d' % (target, line))
    definitions = []
    for (kind, ident), value in sorted(merged.items(), key=lambda item: where[item[0]][0]):
        if 'renderer' in value:
            renderer, source = value['renderer'], '%s.%s' % (kind, ident)
        elif kind in renderers:
            renderer, source = renderers[kind][0], '%s.renderer at %s' % (kind, renderers[kind][1])
        elif None in renderers:
            renderer, source = renderers[None][0], 'network.renderer at %s' % renderers[None][1]
        else:
            renderer, source = NETPLAN_DEFAULT_RENDERER, "netplan's default"
        match = value.get('match') if kind in NETPLAN_PHYSICAL else None
        definitions.append(dict(type=kind, id=ident, where=where[(kind, ident)],
                                match=match if isinstance(match, dict) else None,
                                set_name=value.get('set-name') if isinstance(value.get('set-name'), str) else None,
                                renderer=renderer if isinstance(renderer, str) else str(renderer),
                                renderer_from=source))
    return dict(definitions=definitions, unparsed=unparsed, files=[_target(root, path) for path in files])


def netplan_definition_matches(definition, facts, driver):
    """Whether a netplan definition configures the interface: (bool, words)."""
    name = facts['name']
    if definition['set_name'] is not None and definition['set_name'] == name:
        return True, 'set-name: %s' % name
    match = definition['match']
    if match is None:
        return definition['id'] == name, 'by name'
    said = []
    pattern = match.get('name')
    if pattern is not None:
        if not (isinstance(pattern, str) and fnmatch.fnmatchcase(name, pattern)):
            return False, None
        said.append('name %s' % pattern)
    mac = match.get('macaddress')
    if mac is not None:
        if not (isinstance(mac, str) and mac.lower() in (facts.get('mac'), facts.get('perm_mac'))):
            return False, None
        said.append('macaddress %s' % mac.lower())
    drivers = match.get('driver')
    if drivers is not None:
        drivers = drivers if isinstance(drivers, list) else [drivers]
        if driver is None or not any(isinstance(item, str) and fnmatch.fnmatchcase(driver, item)
                                     for item in drivers):
            return False, None
        said.append('driver %s' % driver)
    return True, 'match: %s' % (', '.join(said) or 'no condition (every device)')


def _netplan_text_mentions(text, facts):
    """The first line number of a netplan file that mentions the interface (its name as a word, its MAC, or a
    ``name:``/``set-name:`` glob matching it), for files that could not be parsed; None if none does."""
    name = re.compile(r'(?<![\w.-])%s(?![\w.-])' % re.escape(facts['name']))
    macs = [mac for mac in (facts.get('mac'), facts.get('perm_mac')) if mac]
    for number, line in enumerate(text.splitlines(), 1):
        body = line.split('#', 1)[0]
        if name.search(body) or any(mac in body.lower() for mac in macs):
            return number
        found = re.match(r'^\s*(?:set-)?name\s*:\s*["\']?([^"\'\s]+)', body)
        if found and fnmatch.fnmatchcase(facts['name'], found.group(1)):
            return number
    return None


# ---- ifupdown ----------------------------------------------------------------------------------------------------

def ifupdown_stanzas(root):
    """Interface name -> 'iface NAME inet dhcp (FILE:LINE)' for every ``iface`` stanza of
    /etc/network/interfaces and the files it includes (``source`` with shell wildcards, a relative path being
    relative to the including file's directory; ``source-directory``). Paths are the target's (below ``root``)."""
    return ifupdown_config(root)[0]


def ifupdown_config(root):
    """(stanzas, ports): :func:`ifupdown_stanzas`, and the ``bridge_ports`` lines as [(words, 'bridge_ports ... of
    iface kvmbr0 (FILE:LINE)')]."""
    found, ports = {}, []
    _ifupdown_file(root, '/' + IFUPDOWN_MAIN, found, ports, set())
    return found, ports


def _ifupdown_file(root, path, found, ports, seen):
    """Read ``path`` (as the target names it) into ``found`` and ``ports``, following its includes."""
    if path in seen or len(seen) > 200:
        return
    seen.add(path)
    text = _read(_path(root, path))
    if text is None:
        return
    pending, first, stanza = '', None, None
    for number, raw in enumerate(text.splitlines(), 1):
        first = first or number
        if raw.endswith('\\'):
            pending += raw[:-1] + ' '
            continue
        line, pending, start, first = (pending + raw).strip(), '', first, None
        if not line or line.startswith('#'):
            continue
        words = line.split()
        if words[0] == 'iface' and len(words) >= 2:
            found.setdefault(words[1], '%s (%s:%d)' % (' '.join(words), path, start))
            stanza = words[1]
        elif words[0] in ('source', 'source-directory') and len(words) >= 2:
            stanza = None
            for included in _ifupdown_includes(root, words[0], os.path.join(os.path.dirname(path), words[1])):
                _ifupdown_file(root, included, found, ports, seen)
        elif words[0] in ('bridge_ports', 'bridge-ports') and stanza is not None:
            ports.append((words[1:], '%s of iface %s (%s:%d)' % (' '.join(words), stanza, path, start)))
        elif words[0] in ('auto', 'mapping', 'rename') or words[0].startswith('allow-'):
            stanza = None


def _ifupdown_includes(root, how, pattern):
    """The target paths a ``source PATTERN`` or ``source-directory DIR`` line includes, sorted."""
    real = _path(root, pattern)
    if how == 'source':
        paths = sorted(glob.glob(real))
    else:
        try:
            paths = [os.path.join(real, name) for name in sorted(os.listdir(real)) if _RUN_PARTS_NAME.match(name)]
        except OSError:
            paths = []
    return [_target(root, path) for path in paths if os.path.isfile(path)]


def _bridge_ports_match(words, facts):
    """Whether a ``bridge_ports`` list (names, ``all``, ``none``, ``regex ... noregex``) names the interface."""
    regex = False
    for word in words:
        if word in ('regex', 'noregex'):
            regex = word == 'regex'
        elif word == 'none':
            continue
        elif word == 'all':
            if facts['kind'] == 'wired':
                return True
        elif regex:
            try:
                if re.match('^(?:%s)$' % word, facts['name']):
                    return True
            except re.error:
                continue
        elif word == facts['name']:
            return True
    return False


# ---- the decision per interface -----------------------------------------------------------------------------------

def detect(interfaces, root='/', run_command=None, nmcli=None, yaml_module=_yaml):
    """name -> manager entry (:func:`manager`) for every interface of ``interfaces`` (name -> dict with at least
    name, index, kind, link_kind, mac, perm_mac).

    ``nmcli`` is the path of nmcli (None when not installed); it runs only when ``/run/NetworkManager`` exists.
    ``yaml_module``: PyYAML (None: netplan files are searched as text). Each stack's claim is decided by
    :func:`_claims`; one claim is the owner, two are a conflict; without a claim the "unmanaged" answers
    (NetworkManager, systemd-networkd, NetworkManager's unmanaged-devices), then NetworkManager installed but not
    answering, else none.
    """
    host = _Host(root, run_command, nmcli, yaml_module)
    return dict((name, host.decide(facts)) for name, facts in interfaces.items())


class _Host(object):
    """What the host's stacks say, read once for all interfaces."""

    def __init__(self, root, run_command, nmcli, yaml_module):
        self.root = root
        self.nm_devices, self.nm_note = None, None
        if os.path.isdir(_path(root, NM_RUN_DIR)):
            if nmcli and run_command is not None:
                rc, out, err = run_command([nmcli, '-t', '-f', NMCLI_FIELDS, 'device'])
                if rc == 0:
                    self.nm_devices = parse_nmcli_devices(out)
                else:
                    self.nm_note = 'nmcli did not answer (rc %s: %s)' % (rc, (err or out).strip()[:200])
            else:
                self.nm_note = 'nmcli is not installed'
        self.nm_installed = any(os.path.exists(_path(root, path)) for path in NM_BINARIES + (NM_MAIN_CONF,))
        not_answering = self.nm_devices is None and self.nm_installed
        self.specs, self.specs_source = nm_unmanaged_specs(root) if not_answering else ([], None)
        self.nm_ifupdown = nm_ifupdown_plugin(root) if not_answering else None
        self.nm_profiles = nm_profiles(root) if self.nm_installed or self.nm_devices is not None else []
        self.networkd_running = process_running(root, NETWORKD_COMM)
        self.networkd_in_use, self.networkd_words = networkd_state(root, self.networkd_running)
        self.networks = networkd_networks(root) if self.networkd_in_use else []
        self.stanzas, self.ports = ifupdown_config(root)
        self.netplan = netplan_config(root, yaml_module)
        self._drivers = {}

    def driver(self, name):
        if name not in self._drivers:
            self._drivers[name] = device_driver(self.root, name)
        return self._drivers[name]

    def decide(self, facts):
        unmanaged = []
        netplan, renderer, netplan_notes = self.netplan_claim(facts)
        nm, nm_note = self.nm_claim(facts, renderer, unmanaged)
        networkd, networkd_note = self.networkd_claim(facts, renderer, unmanaged)
        ifupdown = self.ifupdown_claim(facts)
        if netplan is not None:
            netplan = claim('netplan', '; '.join([netplan] + [note for note in (nm_note, networkd_note) if note]))
        claims = [item for item in (netplan, nm, networkd, ifupdown) if item is not None]
        tail = ''.join('; %s' % note for note in netplan_notes)
        if len(claims) == 1:
            return manager(claims[0]['name'], True, claims[0]['detail'] + tail, claims, renderer)
        if claims:
            return manager('conflict', True, '%d network stacks claim it and would fight over it: %s. Leave it to'
                           ' one of them (remove the configuration of the other)%s' % (
                               len(claims), _words('%s (%s)' % (item['name'], item['detail']) for item in claims),
                               tail), claims, renderer)
        if self.nm_devices is None and self.nm_installed and self.specs and nm_spec_match(self.specs, facts):
            unmanaged.append(manager('networkmanager', False, 'NetworkManager is installed but not answering;'
                                     ' unmanaged-devices in %s excludes it' % self.specs_source))
        if unmanaged:
            return manager(unmanaged[0]['name'], False, unmanaged[0]['detail'] + tail)
        if self.nm_devices is None and self.nm_installed:
            return manager('networkmanager', None, 'NetworkManager is installed but does not answer (%s); its'
                           ' configuration does not exclude this interface%s' % (self.nm_note or 'not running', tail))
        return manager('none', None, 'no NetworkManager device or profile, systemd-networkd link state or'
                       ' .network file, netplan definition or ifupdown stanza%s' % tail)

    # -- netplan
    def netplan_claim(self, facts):
        """(detail or None, renderer or None, notes): netplan's claim from its definitions, or from the text of
        the files that could not be parsed (renderer unknown then); notes: the files not read, when no claim."""
        found, renderer = [], None
        for definition in self.netplan['definitions']:
            matched, how = netplan_definition_matches(definition, facts, self.driver(facts['name']))
            if matched:
                found.append('%s.%s at %s (%s), renderer %s (%s)' % (
                    definition['type'], definition['id'], ', '.join(definition['where']), how,
                    definition['renderer'], definition['renderer_from']))
                renderer = renderer or definition['renderer']
        for path, why, text in self.netplan['unparsed']:
            line = _netplan_text_mentions(text, facts)
            if line is not None:
                found.append('%s:%d mentions %s, but the file was not parsed (%s), so the renderer is unknown'
                             % (path, line, facts['name'], why))
        if not found:
            return None, None, ['netplan file %s was not read: %s' % (path, why)
                                for path, why, text in self.netplan['unparsed']]
        return 'netplan: %s' % '; also '.join(found), renderer, []

    # -- NetworkManager
    def nm_claim(self, facts, netplan_renderer, unmanaged):
        """(claim or None, note for netplan's claim or None)."""
        name, index = facts['name'], facts['index']
        device = self.nm_devices.get(name) if self.nm_devices is not None else None
        state_file = nm_state_file(self.root, index) if self.nm_devices is None else None
        note = self.nm_note or 'nmcli not asked'
        if device is not None and device[0] == 'unmanaged':
            unmanaged.append(manager('networkmanager', False, 'NetworkManager lists it as unmanaged (nmcli)'))
            return None, None
        if device is None and state_file is False:
            unmanaged.append(manager('networkmanager', False, 'NetworkManager state file /%s/devices/%s says'
                                     ' unmanaged (%s)' % (NM_RUN_DIR, index, note)))
            return None, None
        if device is None and self.nm_ifupdown and name in self.stanzas:
            return None, None  # Debian's ifupdown plugin leaves it alone (the ifupdown claim says why)
        if device is None and state_file is None:
            if self.nm_devices is not None or not self.nm_installed:
                return None, None
            if self.specs and nm_spec_match(self.specs, facts):
                return None, None
        profiles = [profile for profile in self.nm_profiles if _nm_binds(profile, facts)]
        active = None
        if device is not None and device[2]:
            active = next((profile for profile in self.nm_profiles if profile['uuid'] == device[2]), None)
            if active is None:
                # netplan writes its profiles without uuid= (NetworkManager derives one from the path): a device
                # whose active profile is no keyfile we know runs the generated profile that binds it, if only one
                unnamed = [profile for profile in profiles if profile['netplan'] and not profile['uuid']]
                active = unnamed[0] if len(unnamed) == 1 else None
        own = [profile for profile in profiles if not profile['netplan'] and profile['autoconnect']]
        if device is not None:
            runtime = 'NetworkManager device, state %s (nmcli)' % device[0]
        elif state_file:
            runtime = 'NetworkManager state file /%s/devices/%s says managed (%s)' % (NM_RUN_DIR, index, note)
        else:
            runtime = None
        if device is not None and device[2] and (active is None or not active['netplan']):
            what = _nm_profile_words(active) if active else "profile %s (in memory or not a keyfile)" % device[2]
            return claim('networkmanager', '%s, active %s' % (runtime, what)), None
        if own:
            words = '%s binds it' % _nm_profile_words(own[0])
            if runtime is None:
                words += ' (NetworkManager is installed but does not answer: %s)' % note
            return claim('networkmanager', '%s%s' % ('%s; ' % runtime if runtime else '', words)), None
        if active is not None:  # netplan's generated profile runs it
            return None, 'NetworkManager runs its generated %s (state %s)' % (_nm_profile_words(active), device[0])
        if runtime is None:
            return None, None
        if netplan_renderer == 'NetworkManager':
            return None, '%s, the renderer netplan generates for' % runtime
        generated = [profile for profile in profiles if profile['netplan']]
        if generated:
            return None, '%s, with netplan\'s generated %s' % (runtime, _nm_profile_words(generated[0]))
        return claim('networkmanager', runtime), None

    # -- systemd-networkd
    def networkd_claim(self, facts, netplan_renderer, unmanaged):
        """(claim or None, note for netplan's claim or None)."""
        index = facts['index']
        own, notes, runtime, runtime_file = [], [], None, None
        link = networkd_link(self.root, index) if self.networkd_running is not False else None
        if link is not None:
            state, runtime_file = link.get('ADMIN_STATE'), link.get('NETWORK_FILE')
            where = '/%s/%s' % (NETWORKD_LINKS, index)
            if runtime_file or state in NETWORKD_MANAGED:
                runtime = 'systemd-networkd: ADMIN_STATE=%s%s (%s)' % (
                    state, ', NETWORK_FILE=%s' % runtime_file if runtime_file else '', where)
                netplan_file = (runtime_file or '').startswith(NETWORKD_NETPLAN_PREFIX)
                (notes if netplan_file else own).append(runtime)
            elif state == 'unmanaged':
                unmanaged.append(manager('networkd', False, 'systemd-networkd: ADMIN_STATE=unmanaged (%s)' % where))
        first = self.first_network(facts, netplan_renderer)
        if first is not None and first[0] != runtime_file:
            path, how, entries = first
            words = 'systemd-networkd: %s: %s (%s)' % (path, how, self.networkd_words)
            if _unmanaged(entries):
                if runtime is None:
                    unmanaged.append(manager('networkd', False, '%s, with [Link] Unmanaged=yes' % words))
            elif path.startswith(NETWORKD_NETPLAN_PREFIX):
                notes.append(words)
            else:
                own.append(words)
        if own:
            return claim('networkd', '; '.join(own)), None
        return None, '; '.join(notes) or None

    def first_network(self, facts, netplan_renderer):
        """The first .network file networkd would take for the interface: (path, words, entries) or None. When
        netplan renders the interface for networkd but has not generated its file yet, that file
        (10-netplan-ID.network) is counted in its place of the order."""
        generated = None
        if netplan_renderer == 'networkd':
            ids = [item['id'] for item in self.netplan['definitions']
                   if netplan_definition_matches(item, facts, self.driver(facts['name']))[0]]
            generated = '10-netplan-%s.network' % ids[0] if ids else None
        for path, entries in self.networks:
            if generated is not None and os.path.basename(path) >= generated:
                return None  # netplan's file comes first (or is this one)
            matched, how = networkd_match(entries, facts, self.driver(facts['name']))
            if matched is not False:
                return path, how, entries
        return None

    # -- ifupdown
    def ifupdown_claim(self, facts):
        name = facts['name']
        words = []
        if name in self.stanzas:
            words.append('ifupdown stanza: %s' % self.stanzas[name])
        for ports, where in self.ports:
            if _bridge_ports_match(ports, facts):
                words.append('ifupdown %s' % where)
                break
        return claim('ifupdown', '; '.join(words)) if words else None
