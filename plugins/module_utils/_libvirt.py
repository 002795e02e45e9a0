# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's only door to libvirt: the ONLY file that imports the libvirt binding.

- :class:`Libvirt` connects to a URI, looks domains up, reads their live and persistent XML and sends
  attach/update/detach requests, turning ``libvirtError`` into :class:`LibvirtOperationError` with words;
- the pure part (no libvirt needed) parses ``<interface>`` elements into plain dicts, finds a NIC by identity
  (MAC, then alias), builds the FULL interface element for attach and update with ElementTree (never string
  formatting, never XPath built from input) and plans the requests per side (live, persistent config);
- the guest's own view of its NICs comes from the QEMU guest agent (``guest-network-get-interfaces``, sent with
  ``libvirt_qemu.qemuAgentCommand``: the only libvirt call that returns the guest's counters); the agent call is a
  seam (``Libvirt(agent_command=...)``) so tests feed recorded agent replies.

Private to the collection: no compatibility promise for code outside it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re
import time
import traceback
import xml.etree.ElementTree as ET

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import KvmnetError, ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._names import normalise_mac, validate_ifname

LIBVIRT_IMPORT_ERROR = None
try:
    import libvirt
except ImportError:
    libvirt = None
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()

try:  # the QEMU-specific part of the binding (guest agent commands), shipped with libvirt-python
    import libvirt_qemu
except ImportError:
    libvirt_qemu = None

LIBVIRT_MINIMUM_VERSION = (5, 0)  # the binding's version; older bindings lack nothing we use but are untested

# libvirt's constants, spelled out so the pure part and its tests need no binding
AFFECT_LIVE = 1  # VIR_DOMAIN_AFFECT_LIVE
AFFECT_CONFIG = 2  # VIR_DOMAIN_AFFECT_CONFIG
XML_INACTIVE = 2  # VIR_DOMAIN_XML_INACTIVE
ERR_NO_DOMAIN = 42  # VIR_ERR_NO_DOMAIN
SIDES = ('live', 'config')
SIDE_FLAGS = dict(live=AFFECT_LIVE, config=AFFECT_CONFIG)
DETACH_TIMEOUT = 10.0
DETACH_POLL = 0.1
DEFAULT_URI = 'qemu:///system'
DEFAULT_MODEL = 'virtio'

# libvirt names taps itself with these prefixes and ignores (regenerates) a requested target with them
RESERVED_TARGET_PREFIXES = ('vnet', 'vif', 'macvtap', 'macvlan')
_ALIAS_RE = re.compile(r'^ua-[A-Za-z0-9_-]+$')
_MODEL_RE = re.compile(r'^[A-Za-z0-9_.-]+$')
# what a NIC is compared on; the rest of the element (PCI address, alias, driver, ...) is kept as it is
COMPARED = ('bridge', 'model', 'link_state', 'mtu', 'target')
# what libvirt can change on a running guest's NIC in place (updateDeviceFlags with AFFECT_LIVE)
LIVE_UPDATABLE = ('bridge', 'link_state')

# the QEMU guest agent: its virtio-serial channel's name, and how long one command may take
AGENT_CHANNEL = 'org.qemu.guest_agent.0'
AGENT_TIMEOUT = 5  # seconds
# the agent's GuestNetworkInterfaceStat members (qga/qapi-schema.json) -> the collection's counter names
AGENT_COUNTERS = (('rx-bytes', 'rx_bytes'), ('rx-packets', 'rx_packets'), ('tx-bytes', 'tx_bytes'),
                  ('tx-packets', 'tx_packets'), ('rx-dropped', 'rx_dropped'), ('tx-dropped', 'tx_dropped'),
                  ('rx-errs', 'rx_errors'), ('tx-errs', 'tx_errors'))

URI_ARGSPEC = dict(
    uri=dict(type='str', default=DEFAULT_URI),
)


class LibvirtOperationError(KvmnetError):
    """libvirt refused a request (already translated into words)."""


def libvirt_version():
    """The binding's version as a tuple of ints (e.g. (9, 0)), or None without the binding."""
    if libvirt is None:
        return None
    number = libvirt.getVersion()  # major * 1000000 + minor * 1000 + release
    return (number // 1000000, (number // 1000) % 1000)


# ---- pure helpers: MACs, validation ----------------------------------------------------------------------------


def tap_mac(mac):
    """The host-side MAC libvirt gives a guest's tap: ``fe:`` + the guest MAC's last five bytes (so the bridge,
    which takes the lowest port MAC when its own is not pinned, never takes a guest's)."""
    if not mac:
        return None
    return 'fe:' + mac[3:]


def validate_nic_static(params):
    """Checks that need neither libvirt nor the kernel. Normalises ``mac`` in place. Returns nothing."""
    if params.get('mac') is not None:
        params['mac'] = normalise_mac(params['mac'])
    alias = params.get('alias')
    if alias is not None and not _ALIAS_RE.match(alias):
        raise ValidationError(
            'Invalid alias %r: libvirt accepts only user aliases that start with "ua-" followed by letters, digits,'
            ' "_" or "-", for example "ua-lan0".' % alias, alias=alias)
    if params.get('backend', 'libvirt') == 'libvirt' and params.get('mac') is None and alias is None:
        raise ValidationError(
            'Give mac (the guest NIC\'s identity, for example "52:54:00:12:34:56") or alias (a libvirt user alias'
            ' such as "ua-lan0"): without one the module cannot tell which NIC of domain %r is meant, and a second'
            ' run would attach a second NIC.' % params.get('domain'), domain=params.get('domain'))
    if params.get('bridge') is not None:
        validate_ifname(params['bridge'], 'bridge')
    target = params.get('target')
    if target is not None:
        validate_ifname(target, 'target')
        if params.get('backend', 'libvirt') == 'libvirt' and target.startswith(RESERVED_TARGET_PREFIXES):
            raise ValidationError(
                'target %r starts with a prefix libvirt reserves for the names it generates (%s): libvirt would'
                ' ignore it and pick a vnetN name. Choose another name, for example "tap-%s", or leave target unset.'
                % (target, ', '.join(RESERVED_TARGET_PREFIXES), params.get('domain') or 'guest'), target=target)
    model = params.get('model')
    if model is not None and not _MODEL_RE.match(model):
        raise ValidationError('Invalid model %r: use a device model name such as "virtio", "e1000e" or "rtl8139".'
                              % model, model=model)
    mtu = params.get('mtu')
    if mtu is not None and not 68 <= mtu <= 65535:
        raise ValidationError('mtu %r is out of range: use 68 to 65535.' % mtu, mtu=mtu)


def scope_sides(scope, active, persistent, domain):
    """The sides (``live``, ``config``) a task with ``scope`` works on, from the domain's state.

    ``auto``: live and persistent config when the domain runs, config only when it is shut off (libvirt refuses
    AFFECT_LIVE on an inactive domain), live only for a running transient domain.
    """
    if scope == 'auto':
        sides = []
        if active:
            sides.append('live')
        if persistent:
            sides.append('config')
        return tuple(sides)
    sides = ('live', 'config') if scope == 'both' else (scope,)
    if 'live' in sides and not active:
        raise ValidationError(
            'scope=%s needs a running domain, but domain %r is shut off: libvirt cannot change a live NIC of a'
            ' domain that does not run. Use scope=config (or auto), or start the domain first.' % (scope, domain),
            domain=domain, scope=scope)
    if 'config' in sides and not persistent:
        raise ValidationError(
            'scope=%s needs a persistent (defined) domain, but domain %r is transient: it has no configuration to'
            ' change. Use scope=live (or auto).' % (scope, domain), domain=domain, scope=scope)
    return sides


# ---- XML: parse, identity, build ------------------------------------------------------------------------------


def _attr(element, child, name):
    found = element.find(child)
    return found.get(name) if found is not None else None


def parse_nic(element):
    """An ``<interface>`` element as a plain dict (MACs in lower case; ``link_state`` defaults to ``up``)."""
    mtu = _attr(element, 'mtu', 'size')
    mac = _attr(element, 'mac', 'address')
    source = element.find('source')
    return dict(
        type=element.get('type'),
        mac=mac.lower() if mac else None,
        bridge=source.get('bridge') if source is not None else None,
        network=source.get('network') if source is not None else None,
        model=_attr(element, 'model', 'type'),
        link_state=_attr(element, 'link', 'state') or 'up',
        mtu=int(mtu) if mtu and mtu.isdigit() else None,
        target=_attr(element, 'target', 'dev'),
        alias=_attr(element, 'alias', 'name'),
    )


def domain_nics(domain_xml):
    """``[(nic dict, element)]`` for each ``<interface>`` of a domain XML text, in document order."""
    root = ET.fromstring(domain_xml)
    devices = root.find('devices')
    if devices is None:
        return []
    return [(parse_nic(element), element) for element in devices.findall('interface')]


def find_nic(nics, mac=None, alias=None, domain=None, side='live'):
    """The ``(nic, element)`` with identity ``mac`` (or, without it, ``alias``), or None.

    Refuses what would make the identity ambiguous: several NICs with the MAC (libvirt accepts duplicates, then
    cannot detach by MAC), or a MAC that belongs to another NIC than the one with ``alias``.
    """
    where = ' in the %s definition of domain %r' % ('live' if side == 'live' else 'persistent', domain)
    if alias is not None:
        by_alias = [entry for entry in nics if entry[0]['alias'] == alias]
        if mac is not None:
            others = [entry for entry in nics if entry[0]['mac'] == mac and entry[0]['alias'] != alias]
            if others:
                raise ValidationError(
                    'MAC %s is already used by another NIC%s (alias %s, on %s). Two NICs with one MAC confuse the'
                    ' LAN and libvirt cannot detach them by MAC. Choose another mac, or manage that NIC instead.'
                    % (mac, where, others[0][0]['alias'] or 'none', others[0][0]['bridge']
                       or others[0][0]['network'] or others[0][0]['type']), mac=mac, alias=alias, domain=domain)
            if by_alias and by_alias[0][0]['mac'] not in (None, mac):
                raise ValidationError(
                    'The NIC with alias %s%s has MAC %s, not %s. A NIC\'s MAC cannot be changed in place: remove'
                    ' the NIC (state=absent) and add it again, or give the MAC it has.'
                    % (alias, where, by_alias[0][0]['mac'], mac), mac=mac, alias=alias, domain=domain)
        return by_alias[0] if by_alias else None
    matches = [entry for entry in nics if entry[0]['mac'] == mac]
    if len(matches) > 1:
        raise ValidationError(
            'MAC %s is used by %d NICs%s. libvirt accepted the duplicates, but cannot detach or update them by MAC.'
            ' Remove the extra NICs first (virsh edit, or virsh detach-device with the full XML including the PCI'
            ' address).' % (mac, len(matches), where), mac=mac, domain=domain)
    return matches[0] if matches else None


def desired_element(want, base=None):
    """The FULL ``<interface type='bridge'>`` element for ``want`` (a dict with mac, bridge, model, link_state,
    mtu, target, alias; None = leave as in ``base``).

    libvirt's update REPLACES the whole device: an element that lacks, say, ``<model>`` asks for the default model.
    So the element starts as a copy of the current one (``base``: its PCI address, alias, target, driver and any
    other child stay) and only the managed children change.
    """
    element = copy.deepcopy(base) if base is not None else ET.Element('interface')
    element.set('type', 'bridge')
    for child in list(element):
        if child.tag == 'source':  # a former <source network=.../> has attributes a bridge source must not carry
            element.remove(child)
        elif child.tag == 'actual':  # only in live XML of network-type NICs; libvirt recomputes it
            element.remove(child)

    def child(tag, position=None):
        found = element.find(tag)
        if found is None:
            found = ET.Element(tag)
            if position is None:
                element.append(found)
            else:
                element.insert(position, found)
        return found

    if want.get('mac'):
        child('mac', 0).set('address', want['mac'])
    source = ET.Element('source')
    source.set('bridge', want['bridge'])
    element.insert(1 if element.find('mac') is not None else 0, source)
    if want.get('target'):
        child('target').set('dev', want['target'])
    if want.get('model'):
        child('model').set('type', want['model'])
    if want.get('link_state'):
        child('link').set('state', want['link_state'])
    if want.get('mtu'):
        child('mtu').set('size', str(want['mtu']))
    if want.get('alias') and element.find('alias') is None:
        child('alias').set('name', want['alias'])
    return element


def to_xml(element, pretty=False):
    """Element -> text (unicode), or None for None; ``pretty`` indents a copy (for diffs; Python >= 3.9)."""
    if element is None:
        return None
    if pretty and hasattr(ET, 'indent'):
        element = copy.deepcopy(element)
        element.tail = None
        ET.indent(element)
    return ET.tostring(element, encoding='unicode')


def differences(want, have):
    """``{option: {'before': have, 'after': want}}`` for the managed options that differ; options left unset
    (None) in ``want`` do not count. A NIC of another type (e.g. ``network``) always differs on ``bridge``."""
    result = {}
    for option in COMPARED:
        value = want.get(option)
        if value is None:
            continue
        current = have.get(option)
        if option == 'link_state':
            current = current or 'up'
        if option == 'bridge' and have.get('type') != 'bridge':
            current = None
        if current != value:
            result[option] = dict(before=current, after=value)
    return result


def wanted(params):
    """The NIC settings the task asks for (mac, alias, bridge, model, link_state, mtu, target)."""
    return dict((key, params.get(key)) for key in ('mac', 'alias', 'bridge', 'model', 'link_state', 'mtu', 'target'))


def plan_nic(params, sides, nics_by_side):
    """Compare the NIC on each side with ``params`` and plan the libvirt requests.

    ``nics_by_side``: ``{'live': [(nic, element)], 'config': [...]}`` (only the sides in ``sides``).

    Returns ``(steps, found, predicted)``: steps are plain dicts ``action`` (attach, update, detach), ``sides``,
    ``element`` (to send), ``revert_element`` (to undo), ``changes``; ``found``/``predicted`` map each side to the
    NIC dict before / after (None when absent). Raises :class:`ValidationError` before anything is changed.
    """
    domain = params['domain']
    want = wanted(params)
    found = {}
    for side in sides:
        found[side] = find_nic(nics_by_side[side], want['mac'], want['alias'], domain, side)
    steps, predicted = [], {}
    if params['state'] == 'absent':
        # live first: it is the part that can fail (a guest that does not release the device), and then the
        # configuration is still untouched. libvirt matches the device by MAC (and PCI address when given).
        for side in sides:
            if found[side] is not None:
                element = found[side][1]
                steps.append(dict(action='detach', sides=[side], element=element, revert_element=element,
                                  changes={}))
        predicted = dict((side, None) for side in sides)
        return steps, dict((side, found[side] and found[side][0]) for side in sides), predicted

    known_mac = want['mac'] or next((found[side][0]['mac'] for side in sides if found[side]), None)
    attach_sides = [side for side in sides if found[side] is None]
    new_element = None
    if attach_sides:
        if 'live' in attach_sides and 'config' in sides and 'config' not in attach_sides:
            # plug the configured NIC in live: its settings and PCI address, with the changes asked for
            new_element = desired_element(dict(want, mac=known_mac), found['config'][1])
        elif 'config' in attach_sides and 'live' in sides and 'live' not in attach_sides:
            # write the running NIC into the config, without what only exists at run time
            base = copy.deepcopy(found['live'][1])
            for child in list(base):
                if (child.tag == 'target' and not want['target']) or (
                        child.tag == 'alias' and not (child.get('name') or '').startswith('ua-')):
                    base.remove(child)
            new_element = desired_element(dict(want, mac=known_mac), base)
        else:
            # a new NIC: the defaults apply to the options left unset (and only then: decisions.md)
            new_element = desired_element(dict(want, mac=known_mac, model=want['model'] or DEFAULT_MODEL,
                                               link_state=want['link_state'] or 'up'))
        steps.append(dict(action='attach', sides=attach_sides, element=new_element, revert_element=new_element,
                          changes={}))
    for side in sides:
        if found[side] is None:
            predicted[side] = dict(parse_nic(new_element), target=None if side == 'live' else want['target'])
            continue
        have, element = found[side]
        changes = differences(want, have)
        if not changes:
            predicted[side] = have
            continue
        if side == 'live':
            fixed = sorted(option for option in changes if option not in LIVE_UPDATABLE)
            if fixed:
                raise ValidationError(
                    'libvirt cannot change %s of a NIC of running domain %r in place (only %s). Use scope=config'
                    ' and restart the domain, or remove the NIC (state=absent) and add it again.'
                    % (' and '.join('%s (%s -> %s)' % (option, changes[option]['before'], changes[option]['after'])
                                    for option in fixed), domain, ' and '.join(LIVE_UPDATABLE)),
                    domain=domain, changes=dict((option, changes[option]) for option in fixed))
        updated = desired_element(dict(want, mac=have['mac'] or want['mac'],
                                       bridge=want['bridge']), element)
        steps.append(dict(action='update', sides=[side], element=updated, revert_element=element, changes=changes))
        predicted[side] = parse_nic(updated)
    return steps, dict((side, found[side] and found[side][0]) for side in sides), predicted


def describe_nic(domain, sides, nics):
    """The ``before``/``after`` dict of the module from the NIC on each side (dicts or None).

    Values come from the live NIC when there is one (that is what the guest has now), else from the config.
    """
    live, config = nics.get('live'), nics.get('config')
    source = live or config
    result = dict(domain=domain, state='present' if source else 'absent', live=live is not None,
                  config=config is not None, sides=list(sides))
    for key in ('mac', 'alias', 'bridge', 'model', 'link_state', 'mtu'):
        result[key] = source.get(key) if source else None
    if result['alias'] and not result['alias'].startswith('ua-'):
        result['alias'] = None  # libvirt's own aliases (net0...) are not an identity: they change on restart
    result['tap'] = live.get('target') if live else None
    result['tap_mac'] = tap_mac(result['mac']) if result['tap'] else None
    return result


def flags_for(sides):
    result = 0
    for side in sides:
        result |= SIDE_FLAGS[side]
    return result


# ---- the guest agent: the guest's own view (pure) ---------------------------------------------------------------


def agent_channel(domain_xml):
    """The state of the domain's guest agent channel (``<channel>`` with ``<target type='virtio'
    name='org.qemu.guest_agent.0'>``) in a domain XML text: ``'connected'`` or ``'disconnected'`` (libvirt writes
    the state into the live XML of a running domain), ``'unknown'`` for a channel without a state, None without a
    channel."""
    devices = ET.fromstring(domain_xml).find('devices')
    for channel in devices.findall('channel') if devices is not None else ():
        target = channel.find('target')
        if target is not None and target.get('type') == 'virtio' and target.get('name') == AGENT_CHANNEL:
            return target.get('state') or 'unknown'
    return None


def agent_interfaces(reply):
    """The guest's interfaces from the JSON text of the agent's ``guest-network-get-interfaces`` reply (its
    ``return`` list, see qga/qapi-schema.json), as ``[dict(name, mac, addresses, counters)]``.

    ``mac`` in lower case (None when the agent gives none); ``addresses`` ``['IP/PREFIX', ...]``; ``counters`` the
    guest kernel's counters under the collection's names (``rx_bytes`` is what the guest received), None when the
    agent reports no statistics (qemu-ga gives them only for interfaces with an IP address, and only since 2.11).
    Raises ValueError for a reply of another shape.
    """
    data = json.loads(reply)
    entries = data.get('return') if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError('no "return" list in the agent reply')
    result = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get('name'), str):
            raise ValueError('an interface without a name in the agent reply')
        mac = entry.get('hardware-address')
        stats = entry.get('statistics')
        counters = None
        if isinstance(stats, dict):
            counters = dict((ours, stats.get(theirs)) for theirs, ours in AGENT_COUNTERS)
        addresses = ['%s/%s' % (address.get('ip-address'), address.get('prefix'))
                     for address in entry.get('ip-addresses') or () if isinstance(address, dict)]
        result.append(dict(name=entry['name'], mac=mac.lower() if isinstance(mac, str) else None,
                           addresses=addresses, counters=counters))
    return result


def guest_interface(interfaces, mac):
    """``(interface, reason)``: the guest interface (from :func:`agent_interfaces`) that has the NIC's ``mac``
    and counters, or None and why not."""
    matches = [interface for interface in interfaces if interface['mac'] == mac]
    if not matches:
        return None, ('the guest agent lists no interface with MAC %s (guest interfaces: %s): the guest has not'
                      ' seen the NIC yet, or changed its MAC' % (
                          mac, ', '.join('%s %s' % (i['name'], i['mac'] or '-') for i in interfaces) or 'none'))
    if len(matches) > 1:
        return None, ('several guest interfaces have MAC %s (%s, e.g. VLAN or bond devices): the guest agent does'
                      ' not say which one is the NIC' % (mac, ', '.join(i['name'] for i in matches)))
    if matches[0]['counters'] is None:
        return None, ('the guest agent reports no statistics for %s: qemu-ga gives them only for interfaces with'
                      ' an IP address (and only since 2.11); wait for the guest to configure one' % matches[0]['name'])
    return matches[0], None


def mirrored(tap_counters, guest_counters):
    """True when the tap's transmitted bytes equal the bytes the guest received and the tap's received bytes the
    bytes the guest transmitted; None when a side is missing.

    ``tap_counters``: the tap's kernel counters (the host's view); ``guest_counters``: the guest's own counters
    (from the guest agent). Comparing the tap with libvirt's interfaceStats would prove nothing: for a bridge NIC
    those are the same tap counters, swapped.
    """
    if not tap_counters or not guest_counters:
        return None
    return (tap_counters.get('tx_bytes') == guest_counters.get('rx_bytes')
            and tap_counters.get('rx_bytes') == guest_counters.get('tx_bytes'))


def unmatched_bytes(tap_counters, guest_counters):
    """``dict(to_guest=tap tx - guest rx, from_guest=tap rx - guest tx)`` in bytes, or None when a side is
    missing. ``to_guest`` > 0: frames the tap sent that the guest never counted (sent before the guest's driver
    was up, multicast that QEMU's virtio-net filter dropped, frames QEMU dropped)."""
    if not tap_counters or not guest_counters:
        return None
    return dict(to_guest=tap_counters['tx_bytes'] - guest_counters['rx_bytes'],
                from_guest=tap_counters['rx_bytes'] - guest_counters['tx_bytes'])


def guest_view(tap_counters, guest, mac):
    """The guest side of a NIC for kvm_guest_nic_info: ``guest_interface``, ``guest_counters``, ``mirrored``,
    ``mirrored_reason`` and ``unmatched_bytes``.

    ``tap_counters``: the tap's kernel counters; ``guest``: ``(interfaces, reason)`` from
    :meth:`Libvirt.guest_interfaces`; ``mac``: the NIC's MAC. ``mirrored`` is None exactly when
    ``mirrored_reason`` says why.
    """
    interfaces, reason = guest
    interface = None
    if interfaces is not None:
        interface, reason = guest_interface(interfaces, mac)
    if interface is None:
        return dict(guest_interface=None, guest_counters=None, mirrored=None, mirrored_reason=reason,
                    unmatched_bytes=None)
    counters = interface['counters']
    return dict(guest_interface=interface['name'], guest_counters=counters,
                mirrored=mirrored(tap_counters, counters), mirrored_reason=None,
                unmatched_bytes=unmatched_bytes(tap_counters, counters))


def _qemu_agent_command(domain, command, timeout):
    """Send one guest agent command (JSON text) through libvirt; returns the reply's JSON text."""
    return libvirt_qemu.qemuAgentCommand(domain, command, timeout, 0)


# ---- the connection --------------------------------------------------------------------------------------------


def _ignore_error(context, error):
    """libvirt prints every error to stderr unless a handler is registered; the errors are raised anyway."""


class Libvirt(object):
    """A libvirt connection (context manager). Every libvirt call of the collection goes through here."""

    def __init__(self, uri=DEFAULT_URI, sleep=time.sleep, clock=time.monotonic, agent_command=None):
        """``agent_command(domain, command_json, timeout_s) -> reply_json`` sends one guest agent command (default:
        ``libvirt_qemu.qemuAgentCommand``); tests pass recorded replies through it."""
        self.uri = uri
        self._conn = None
        self._sleep = sleep
        self._clock = clock
        self._agent_command = agent_command

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def open(self):
        libvirt.registerErrorHandler(_ignore_error, None)
        if '/embed' in self.uri.split('?', 1)[0]:
            _start_event_loop()  # the embedded driver (qemu:///embed?root=DIR) runs in this process and needs one
        try:
            self._conn = libvirt.open(self.uri)
        except libvirt.libvirtError as exc:
            raise LibvirtOperationError(
                'Cannot connect to libvirt at %r: %s. Is libvirtd (or virtqemud) running, and does the task run as'
                ' root (become: true) or as a user allowed to use that URI?' % (self.uri, _words(exc)),
                uri=self.uri, libvirt_error=_code(exc))

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except libvirt.libvirtError:
                pass
            self._conn = None

    def _error(self, what, exc, **details):
        return LibvirtOperationError('Cannot %s (libvirt at %s): %s.' % (what, self.uri, _words(exc)),
                                     libvirt_error=_code(exc), **details)

    def domain(self, name):
        """The domain called ``name``; an unknown name is a :class:`ValidationError` listing the known ones."""
        try:
            return self._conn.lookupByName(name)
        except libvirt.libvirtError as exc:
            if _code(exc) == ERR_NO_DOMAIN:
                known = self.domain_names()
                raise ValidationError(
                    'Domain %r is not defined at %s. Known domains: %s. Define the domain first (virsh define, or'
                    ' community.libvirt.virt command=define), or check the name and uri.'
                    % (name, self.uri, ', '.join(known) if known else 'none'), domain=name, uri=self.uri)
            raise self._error('look up domain %r' % name, exc, domain=name)

    def domain_names(self):
        try:
            return sorted(domain.name() for domain in self._conn.listAllDomains(0))
        except libvirt.libvirtError as exc:
            raise self._error('list the domains', exc)

    def domains(self):
        try:
            return sorted(self._conn.listAllDomains(0), key=lambda domain: domain.name())
        except libvirt.libvirtError as exc:
            raise self._error('list the domains', exc)

    def state(self, domain):
        """``(active, persistent)`` of ``domain``."""
        try:
            return bool(domain.isActive()), bool(domain.isPersistent())
        except libvirt.libvirtError as exc:
            raise self._error('read the state of domain %r' % domain.name(), exc, domain=domain.name())

    def xml(self, domain, side):
        """The live (``side='live'``) or persistent (``'config'``) domain XML text."""
        try:
            return domain.XMLDesc(XML_INACTIVE if side == 'config' else 0)
        except libvirt.libvirtError as exc:
            raise self._error('read the %s XML of domain %r' % (side, domain.name()), exc, domain=domain.name())

    def nics(self, domain, side):
        return domain_nics(self.xml(domain, side))

    def attach(self, domain, element, sides):
        self._device(domain, 'attachDeviceFlags', 'attach', element, sides)

    def update(self, domain, element, sides):
        self._device(domain, 'updateDeviceFlags', 'update', element, sides)

    def detach(self, domain, element, sides, timeout=DETACH_TIMEOUT):
        """Detach and, for the live side, wait (bounded) until the device is really gone: QEMU only asks the guest
        to release the device, and libvirt returns before the guest has done so."""
        self._device(domain, 'detachDeviceFlags', 'detach', element, sides)
        if 'live' in sides:
            self.wait_gone(domain, parse_nic(element)['mac'], timeout)

    def wait_gone(self, domain, mac, timeout=DETACH_TIMEOUT):
        deadline = self._clock() + timeout
        while True:
            if all(nic['mac'] != mac for nic, dummy in self.nics(domain, 'live')):
                return
            if self._clock() >= deadline:
                raise LibvirtOperationError(
                    'The NIC with MAC %s is still attached to running domain %r %.0f s after the detach request:'
                    ' the guest did not release it. A guest only releases a hot-plugged device when its OS handles'
                    ' the unplug request (ACPI PCI hotplug; a guest still in its firmware or boot loader never'
                    ' does). The detach stays pending in libvirt; run the task again later, or shut the guest down'
                    ' and use scope=config.' % (mac, domain.name(), timeout), domain=domain.name(), mac=mac)
            self._sleep(DETACH_POLL)

    def _device(self, domain, method, verb, element, sides):
        text = to_xml(element)
        try:
            getattr(domain, method)(text, flags_for(sides))
        except libvirt.libvirtError as exc:
            what = '%s the NIC %s of domain %r (%s)' % (
                verb, parse_nic(element)['mac'] or '', domain.name(), '+'.join(sides))
            raise self._error(what, exc, domain=domain.name(), xml=text)

    def interface_stats(self, domain, tap):
        """libvirt's counters of the NIC whose tap is ``tap`` (virDomainInterfaceStats), as a dict.

        For NICs of type bridge (and network), libvirt reads the tap's kernel counters and SWAPS rx and tx, so
        the numbers are the guest's point of view: ``rx_bytes`` = what the guest received = what the tap sent.
        """
        try:
            values = domain.interfaceStats(tap)
        except libvirt.libvirtError as exc:
            raise self._error('read the counters of %r of domain %r' % (tap, domain.name()), exc,
                              domain=domain.name(), tap=tap)
        keys = ('rx_bytes', 'rx_packets', 'rx_errors', 'rx_dropped', 'tx_bytes', 'tx_packets', 'tx_errors',
                'tx_dropped')
        return dict(zip(keys, values))

    def guest_interfaces(self, domain):
        """``(interfaces, reason)``: the guest's own interfaces with their counters, from the QEMU guest agent
        (``guest-network-get-interfaces``, see :func:`agent_interfaces`), or None and why they cannot be had (no
        agent channel in the domain, agent not connected, no answer, an unreadable reply). Never raises for an
        absent or silent agent: the guest's view is optional."""
        name = domain.name()
        state = agent_channel(self.xml(domain, 'live'))
        if state is None:
            return None, ("domain %r has no guest agent channel: add <channel type='unix'><target type='virtio'"
                          " name='%s'/></channel> to its XML and run qemu-guest-agent in the guest"
                          % (name, AGENT_CHANNEL))
        if state == 'disconnected':
            return None, ('the guest agent of domain %r is not connected (channel %s disconnected): is'
                          ' qemu-guest-agent running in the guest?' % (name, AGENT_CHANNEL))
        command = self._agent_command
        if command is None:
            if libvirt_qemu is None:
                return None, 'the libvirt binding has no libvirt_qemu module (needed for guest agent commands)'
            command = _qemu_agent_command
        try:
            reply = command(domain, json.dumps({'execute': 'guest-network-get-interfaces'}), AGENT_TIMEOUT)
        except libvirt.libvirtError as exc:
            return None, 'the guest agent of domain %r did not answer guest-network-get-interfaces: %s' % (
                name, _words(exc))
        try:
            return agent_interfaces(reply), None
        except ValueError as exc:
            return None, 'the guest agent of domain %r sent an unreadable reply (%s): %.200s' % (name, exc, reply)


_EVENT_LOOP = []


def _start_event_loop():
    if _EVENT_LOOP:
        return
    import threading

    libvirt.virEventRegisterDefaultImpl()

    def run():
        while True:
            libvirt.virEventRunDefaultImpl()

    thread = threading.Thread(target=run, name='libvirt-events')
    thread.daemon = True
    thread.start()
    _EVENT_LOOP.append(thread)


def _code(exc):
    try:
        return exc.get_error_code()
    except AttributeError:
        return None


def _words(exc):
    try:
        message = exc.get_error_message()
    except AttributeError:
        message = None
    # libvirt quotes what it was given (a URI, a name) as it is: escape control characters (a newline in a URI)
    text = (message or str(exc)).rstrip('.')
    return ''.join(char if char.isprintable() else repr(char)[1:-1] for char in text)
