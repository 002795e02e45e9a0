# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which network manager owns an interface: NetworkManager, systemd-networkd, an ifupdown stanza, or none.

Read from what each manager leaves on the host, cheapest first, never by starting or asking a daemon that is not
there: NetworkManager through ``nmcli`` only when ``/run/NetworkManager`` exists (NM creates it at start), else
its per-device state files and its ``unmanaged-devices`` configuration; systemd-networkd through its link state
files (``/run/systemd/netif/links/IFINDEX``); ifupdown through the ``iface`` stanzas of
``/etc/network/interfaces`` and the files it sources.

Every path is read below ``root`` (a seam: the unit tests build a fake tree) and the one command goes through
the injected ``run_command(argv) -> (rc, stdout, stderr)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import glob
import os
import re

NM_RUN_DIR = 'run/NetworkManager'
NM_CONF_DIRS = ('usr/lib/NetworkManager/conf.d', 'run/NetworkManager/conf.d', 'etc/NetworkManager/conf.d')
NM_MAIN_CONF = 'etc/NetworkManager/NetworkManager.conf'
NM_BINARIES = ('usr/sbin/NetworkManager', 'sbin/NetworkManager')
NETWORKD_LINKS = 'run/systemd/netif/links'
IFUPDOWN_MAIN = 'etc/network/interfaces'
NETWORKD_MANAGED = ('configuring', 'configured', 'failed')
_RUN_PARTS_NAME = re.compile(r'^[A-Za-z0-9_-]+$')  # source-directory includes only such names (run-parts rules)

# the NetworkManager device type of each inventory kind (for ``type:`` specs in unmanaged-devices)
NM_TYPES = dict(wired='ethernet', wireless='wifi', bridge='bridge', veth='veth', tap='tun', macvlan='macvlan',
                loopback='loopback')


def manager(name, managed, detail):
    return dict(name=name, managed=managed, detail=detail)


def _path(root, relative):
    return os.path.join(root, relative.lstrip('/'))


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
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


def parse_nmcli_devices(text):
    """``nmcli -t -f DEVICE,STATE,TYPE device`` -> device -> (state, type)."""
    result = {}
    for line in text.splitlines():
        fields = nmcli_split(line)
        if len(fields) >= 3 and fields[0]:
            result[fields[0]] = (fields[1], fields[2])
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


def _keyfile(text):
    """A GKeyFile (NetworkManager.conf, state files) -> section -> key -> value. Keys keep a trailing ``+``/``-``
    of the ``key+=value`` / ``key-=value`` forms."""
    sections, section = {}, None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(('#', ';')):
            continue
        if line.startswith('[') and line.endswith(']'):
            section = sections.setdefault(line[1:-1].strip(), {})
            continue
        if section is None or '=' not in line:
            continue
        key, value = line.split('=', 1)
        section[key.strip()] = value.strip()
    return sections


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


# ---- ifupdown ----------------------------------------------------------------------------------------------------

def ifupdown_stanzas(root):
    """Interface name -> 'iface NAME inet dhcp (FILE:LINE)' for every ``iface`` stanza of
    /etc/network/interfaces and the files it includes (``source`` with shell wildcards, a relative path being
    relative to the including file's directory; ``source-directory``). Paths are the target's (below ``root``)."""
    found = {}
    _ifupdown_file(root, '/' + IFUPDOWN_MAIN, found, set())
    return found


def _ifupdown_file(root, path, found, seen):
    """Read ``path`` (as the target names it) into ``found``, following its includes."""
    if path in seen or len(seen) > 200:
        return
    seen.add(path)
    text = _read(_path(root, path))
    if text is None:
        return
    pending, first = '', None
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
        elif words[0] in ('source', 'source-directory') and len(words) >= 2:
            for included in _ifupdown_includes(root, words[0], os.path.join(os.path.dirname(path), words[1])):
                _ifupdown_file(root, included, found, seen)


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
    return ['/' + os.path.relpath(path, root).lstrip('/') if root not in ('', '/') else path
            for path in paths if os.path.isfile(path)]


# ---- the decision per interface -----------------------------------------------------------------------------------

def detect(interfaces, root='/', run_command=None, nmcli=None):
    """name -> {name, managed, detail} for every interface of ``interfaces`` (name -> dict with at least name,
    index, kind, link_kind, mac, perm_mac).

    ``nmcli`` is the path of nmcli (None when not installed); it runs only when ``/run/NetworkManager`` exists.
    The first that applies wins: managed by NetworkManager (nmcli), by systemd-networkd (link state), by
    NetworkManager (its state file, when nmcli does not answer), an ifupdown stanza; then the "unmanaged" answers
    (NetworkManager, systemd-networkd, NetworkManager's unmanaged-devices); then NetworkManager installed but not
    answering; else none.
    """
    nm_devices, nm_note = None, None
    if os.path.isdir(_path(root, NM_RUN_DIR)):
        if nmcli and run_command is not None:
            rc, out, err = run_command([nmcli, '-t', '-f', 'DEVICE,STATE,TYPE', 'device'])
            if rc == 0:
                nm_devices = parse_nmcli_devices(out)
            else:
                nm_note = 'nmcli did not answer (rc %s: %s)' % (rc, (err or out).strip()[:200])
        else:
            nm_note = 'nmcli is not installed'
    nm_installed = any(os.path.exists(_path(root, path)) for path in NM_BINARIES + (NM_MAIN_CONF,))
    specs, specs_source = nm_unmanaged_specs(root) if nm_devices is None and nm_installed else ([], None)
    stanzas = ifupdown_stanzas(root)
    result = {}
    for name, facts in interfaces.items():
        result[name] = _one(facts, nm_devices, nm_note, nm_installed, specs, specs_source, stanzas, root)
    return result


def _one(facts, nm_devices, nm_note, nm_installed, specs, specs_source, stanzas, root):
    name, index = facts['name'], facts['index']
    unmanaged = []
    nm = nm_devices.get(name) if nm_devices is not None else None
    if nm is not None:
        if nm[0] != 'unmanaged':
            return manager('networkmanager', True, 'NetworkManager device, state %s (nmcli)' % nm[0])
        unmanaged.append(manager('networkmanager', False, 'NetworkManager lists it as unmanaged (nmcli)'))
    networkd = networkd_link(root, index)
    if networkd is not None:
        state, network_file = networkd.get('ADMIN_STATE'), networkd.get('NETWORK_FILE')
        if network_file or state in NETWORKD_MANAGED:
            return manager('networkd', True, 'systemd-networkd: ADMIN_STATE=%s%s (/%s/%s)' % (
                state, ', NETWORK_FILE=%s' % network_file if network_file else '', NETWORKD_LINKS, index))
        if state == 'unmanaged':
            unmanaged.append(manager('networkd', False, 'systemd-networkd: ADMIN_STATE=unmanaged (/%s/%s)'
                                     % (NETWORKD_LINKS, index)))
    state_file = nm_state_file(root, index) if nm_devices is None else None
    if state_file is True:
        return manager('networkmanager', True, 'NetworkManager state file /%s/devices/%s says managed (%s)'
                       % (NM_RUN_DIR, index, nm_note or 'nmcli not asked'))
    if name in stanzas:
        return manager('ifupdown', True, 'ifupdown stanza: %s' % stanzas[name])
    if state_file is False:
        unmanaged.append(manager('networkmanager', False, 'NetworkManager state file /%s/devices/%s says'
                                 ' unmanaged (%s)' % (NM_RUN_DIR, index, nm_note or 'nmcli not asked')))
    if nm_devices is None and nm_installed and specs:
        if nm_spec_match(specs, facts):
            unmanaged.append(manager('networkmanager', False, 'NetworkManager is installed but not answering;'
                                     ' unmanaged-devices in %s excludes it' % specs_source))
    if unmanaged:
        return unmanaged[0]
    if nm_devices is None and nm_installed:
        return manager('networkmanager', None, 'NetworkManager is installed but does not answer (%s); its'
                       ' configuration does not exclude this interface' % (nm_note or 'not running'))
    return manager('none', None, 'no NetworkManager device, systemd-networkd link state or ifupdown stanza')
