# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt networks of ``<forward mode='bridge'/>`` on an existing Linux bridge (module ``libvirt_network``).

- the pure part (no libvirt needed): the desired ``<network>`` element (ElementTree, never string formatting),
  normalisation (what libvirt adds, ``<uuid>`` and the live ``connections`` counter, does not count), what in an
  existing network is more than a plain bridge network (another forward mode, ``<ip>``, ``<dns>``, ...: taking it
  over needs ``takeover``), and the plan: plain steps (define, destroy, start, autostart, undefine) with what each
  needs to be undone, and the predicted result;
- :class:`LibvirtNetworks`, the few network calls, on top of :class:`_libvirt.Libvirt` (the collection's only
  importer of the binding: this file imports it from there and never on its own).

Private to the collection: no compatibility promise for code outside it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import xml.etree.ElementTree as ET

from ansible_collections.kvmnet.bridge.plugins.module_utils import _libvirt
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._libvirt import domain_nics, to_xml
from ansible_collections.kvmnet.bridge.plugins.module_utils._names import validate_ifname

# libvirt's constants, spelled out so the pure part and its tests need no binding
ERR_NO_NETWORK = 43  # VIR_ERR_NO_NETWORK
ERR_INVALID_ARG = 8  # VIR_ERR_INVALID_ARG: "unsupported flags" (the test driver has no separate inactive XML)
ERR_NO_SUPPORT = 3  # VIR_ERR_NO_SUPPORT
NETWORK_XML_INACTIVE = 1  # VIR_NETWORK_XML_INACTIVE

# what a plain bridge network consists of; libvirt adds <uuid> (and ``connections`` to the live root element)
PLAIN_CHILDREN = ('name', 'uuid', 'forward', 'bridge')
GENERATED_ROOT_ATTRIBUTES = ('connections',)


# ---- validation ------------------------------------------------------------------------------------------------


def validate_network_static(params):
    """Checks that need neither libvirt nor the kernel. Returns nothing."""
    name = params['name']
    bad = sorted(set(char for char in name if char == '/' or ord(char) < 32 or ord(char) == 127))
    if not name or name != name.strip() or bad:
        raise ValidationError(
            'Invalid network name %r: libvirt stores a network in a file named after it, so it must be non-empty,'
            ' without "/", control characters or surrounding spaces, for example "kvmbr0".' % name, name=name)
    if params['state'] == 'present':
        validate_ifname(params['bridge'], 'bridge')


# ---- XML: build, normalise, compare ------------------------------------------------------------------------------


def desired_element(name, bridge, uuid=None):
    """``<network><name/>[<uuid/>]<forward mode='bridge'/><bridge name=.../></network>``.

    ``uuid`` is the existing network's: libvirt refuses to redefine a network of the same name without it
    ("network 'N' already exists with uuid ...").
    """
    network = ET.Element('network')
    ET.SubElement(network, 'name').text = name
    if uuid:
        ET.SubElement(network, 'uuid').text = uuid
    ET.SubElement(network, 'forward', mode='bridge')
    ET.SubElement(network, 'bridge', name=bridge)
    return network


def parse(xml_text):
    """libvirt's network XML text -> element, or None for None."""
    return ET.fromstring(xml_text) if xml_text else None


def canonical(element):
    """A comparable form of a network element: what libvirt adds is left out (``<uuid>``, the live
    ``connections`` attribute), whitespace between elements does not count, attribute order does not count."""
    def node(item, root=False):
        attributes = tuple(sorted((key, value) for key, value in item.attrib.items()
                                  if not (root and key in GENERATED_ROOT_ATTRIBUTES)))
        children = tuple(node(child) for child in item if not (root and child.tag == 'uuid'))
        return (item.tag, attributes, (item.text or '').strip(), children)
    return node(element, root=True) if element is not None else None


def same(element, other):
    return canonical(element) == canonical(other)


def forward_mode(element):
    """The forward mode (``bridge``, ``nat``, ...), or None for an isolated network (no ``<forward>``)."""
    forward = element.find('forward')
    if forward is None:
        return None
    return forward.get('mode') or 'nat'  # libvirt's default for a <forward> without mode


def bridge_name(element):
    bridge = element.find('bridge')
    return bridge.get('name') if bridge is not None else None


def describe_bridge(element):
    """``bridge kvmbr0 (forward mode 'bridge')`` for an operation's reason."""
    return "bridge %s (forward mode '%s')" % (bridge_name(element) or 'none', forward_mode(element) or 'none')


def _attributes(item, skip=()):
    return ', '.join("%s='%s'" % (key, value) for key, value in sorted(item.attrib.items()) if key not in skip)


def foreign_parts(element):
    """What ``element`` has beyond a plain bridge network (``<forward mode='bridge'/>`` plus ``<bridge name>``),
    as readable strings; empty when it is one (whatever its bridge). The module replaces such a network only with
    ``takeover``: everything listed here would be dropped."""
    parts = []
    extra = _attributes(element, skip=GENERATED_ROOT_ATTRIBUTES)
    if extra:
        parts.append('network attributes %s' % extra)
    mode = forward_mode(element)
    forward = element.find('forward')
    if forward is None:
        parts.append("no <forward> (an isolated network: libvirt creates its bridge itself)")
    elif mode != 'bridge':
        parts.append("forward mode '%s'" % mode)
    if forward is not None:
        extra = _attributes(forward, skip=('mode',))
        if extra:
            parts.append('<forward> attributes %s' % extra)
        children = sorted(set(child.tag for child in forward))
        if children:
            parts.append('<forward> children %s' % ', '.join('<%s>' % tag for tag in children))
    bridge = element.find('bridge')
    if bridge is not None:
        extra = _attributes(bridge, skip=('name',))
        if extra:
            parts.append('<bridge> attributes %s' % extra)
    seen = []
    for child in element:
        if child.tag not in PLAIN_CHILDREN and child.tag not in seen:
            seen.append(child.tag)
    if seen:
        parts.append('elements %s' % ', '.join('<%s>' % tag for tag in seen))
    return parts


def pretty(element):
    """The element as indented text (for ``before.xml``/``after.xml`` and the diff; the same serialiser on both
    sides, so a diff shows only real differences)."""
    return to_xml(element, pretty=True) if element is not None else None


# ---- what is there, what is wanted, and the plan -----------------------------------------------------------------


def describe_network(name, have):
    """The module's ``before``/``after`` dict from ``have`` (see :meth:`LibvirtNetworks.facts`), or the absent
    form ``{name, state: absent}``."""
    if have is None:
        return dict(name=name, state='absent')
    config = have['config']
    return dict(name=name, state='present', uuid=have['uuid'], forward=forward_mode(config),
                bridge=bridge_name(config), active=have['active'], autostart=have['autostart'],
                persistent=have['persistent'], xml=pretty(config))


def refuse_foreign(name, have, uri):
    """Refuse to replace a network that is more than a plain bridge network (its definition, or what runs)."""
    found = foreign_parts(have['config'])
    if have['active'] and not same(have['live'], have['config']):
        found += ['running: %s' % part for part in foreign_parts(have['live']) if part not in found]
    if not found:
        return
    raise ValidationError(
        'Network %r at %s is not a plain bridge network: it has %s. Defining it as <forward mode=\'bridge\'/> on a'
        ' bridge would drop all of that (and, if it runs, stop it: a NAT network takes its bridge, DHCP and'
        ' firewall rules down with it). Use another name, or set takeover: true to replace it.'
        % (name, uri, '; '.join(found)), name=name, found=found)


def plan_network(params, have):
    """Compare the network ``have`` (None when absent) with ``params`` and plan the libvirt requests.

    Returns ``(steps, predicted)``: steps are plain dicts ``action`` (define, destroy, start, autostart,
    undefine), ``attributes`` (for ``operations``), ``xml`` (define: the definition to send), ``revert`` (what
    undoes the step: the previous definition or None for a new network, the previous autostart flag);
    ``predicted`` is the ``after`` dict. Raises :class:`ValidationError` before anything is changed.
    """
    name = params['name']
    if params['state'] == 'absent':
        steps = []
        if have is not None and have['active']:
            steps.append(dict(action='destroy', attributes=dict(reason='state=absent'), revert=None))
        if have is not None and have['persistent']:
            steps.append(dict(action='undefine', attributes={}, revert=have['config']))
        return steps, describe_network(name, None)

    if have is not None and not params.get('takeover'):
        refuse_foreign(name, have, params.get('uri'))
    uuid = have['uuid'] if have else None
    want = desired_element(name, params['bridge'], uuid)
    define = have is None or not have['persistent'] or not same(have['config'], want)
    active = bool(have and have['active'])
    # a running network keeps what it was started with: a new definition takes effect at the next start
    restart = active and params['active'] and not same(have['live'], want)
    stop = active and not params['active']

    steps = []
    define_step = dict(action='define', xml=want, attributes=dict(bridge=params['bridge'], forward='bridge'),
                       revert=have['config'] if have and have['persistent'] else None)
    if uuid:
        define_step['attributes']['uuid'] = uuid
    if have is not None and foreign_parts(have['config']):
        define_step['attributes']['replaces'] = '; '.join(foreign_parts(have['config']))
    if restart:
        reason = ('restart: the running network uses %s, the definition %s; libvirt applies a definition only when'
                  ' the network starts' % (describe_bridge(have['live']), describe_bridge(want)))
    else:
        reason = 'active=false'
    destroy_step = dict(action='destroy', attributes=dict(reason=reason), revert=None)
    if define and (have is None or not have['persistent']):
        # a transient network vanishes when it is destroyed: define it (it becomes persistent) before anything else
        steps.append(define_step)
        define = False
    if restart or stop:
        steps.append(destroy_step)
    if define:
        steps.append(define_step)
    if params['active'] and (restart or not active):
        steps.append(dict(action='start', attributes={}, revert=None))
    autostart = bool(have and have['persistent'] and have['autostart'])
    if params['autostart'] != autostart:
        steps.append(dict(action='autostart', attributes=dict(autostart=params['autostart']), revert=autostart))

    predicted = dict(name=name, state='present', uuid=uuid, forward='bridge', bridge=params['bridge'],
                     active=params['active'], autostart=params['autostart'], persistent=True, xml=pretty(want))
    return steps, predicted


def diff_text(described, live=None):
    """One side of the diff: a comment with the state, the persistent definition, and what runs when it differs."""
    if described['state'] == 'absent':
        return '<!-- network %s: absent -->\n' % described['name']
    text = '<!-- network %s: %s, %s, %s -->\n%s\n' % (
        described['name'], 'persistent' if described['persistent'] else 'transient',
        'active' if described['active'] else 'inactive',
        'autostart' if described['autostart'] else 'no autostart', described['xml'])
    if live is not None and described['active'] and not same(live, parse(described['xml'])):
        text += '<!-- running until the network is restarted -->\n%s\n' % pretty(live)
    return text


# ---- the connection --------------------------------------------------------------------------------------------


class LibvirtNetworks(_libvirt.Libvirt):
    """The network calls of the collection, on the one libvirt connection class (``_conn`` after ``open()``).

    Each call looks the network up by name again: a definition replaces the object libvirt had.
    """

    def _network(self, name, what):
        try:
            return self._conn.networkLookupByName(name)
        except _libvirt.libvirt.libvirtError as exc:
            raise self._error('%s network %r' % (what, name), exc, name=name)

    def facts(self, name):
        """``None`` when there is no network ``name``; else a dict ``uuid``, ``active``, ``persistent``,
        ``autostart``, ``config`` (the persistent definition, an element; for a transient network what runs) and
        ``live`` (what runs now, an element)."""
        try:
            network = self._conn.networkLookupByName(name)
        except _libvirt.libvirt.libvirtError as exc:
            error = self._error('look up network %r' % name, exc, name=name)
            if error.details['libvirt_error'] == ERR_NO_NETWORK:
                return None
            raise error
        try:
            live = network.XMLDesc(0)
            persistent = bool(network.isPersistent())
            result = dict(uuid=network.UUIDString(), active=bool(network.isActive()), persistent=persistent,
                          autostart=bool(network.autostart()) if persistent else False)
        except _libvirt.libvirt.libvirtError as exc:
            raise self._error('read network %r' % name, exc, name=name)
        config = live
        if result['active'] and persistent:
            try:
                config = network.XMLDesc(NETWORK_XML_INACTIVE)
            except _libvirt.libvirt.libvirtError as exc:
                error = self._error('read the persistent definition of network %r' % name, exc, name=name)
                # drivers without a separate inactive definition (libvirt's test driver) report what runs
                if error.details['libvirt_error'] not in (ERR_INVALID_ARG, ERR_NO_SUPPORT):
                    raise error
        result.update(config=parse(config), live=parse(live))
        return result

    def define(self, element):
        text = to_xml(element)
        try:
            self._conn.networkDefineXML(text)
        except _libvirt.libvirt.libvirtError as exc:
            raise self._error('define network %r' % element.findtext('name'), exc, xml=text)

    def _call(self, name, verb, method, *args):
        network = self._network(name, 'look up')
        try:
            getattr(network, method)(*args)
        except _libvirt.libvirt.libvirtError as exc:
            raise self._error('%s network %r' % (verb, name), exc, name=name)

    def start(self, name):
        self._call(name, 'start', 'create')

    def destroy(self, name):
        self._call(name, 'stop (destroy)', 'destroy')

    def undefine(self, name):
        self._call(name, 'undefine', 'undefine')

    def set_autostart(self, name, autostart):
        self._call(name, 'set autostart of', 'setAutostart', 1 if autostart else 0)

    def users(self, name):
        """Names of the running domains with a NIC on network ``name`` (their taps were plugged into the bridge
        the network had when they started)."""
        result = []
        for domain in self.domains():
            if not self.state(domain)[0]:
                continue
            if any(nic['type'] == 'network' and nic['network'] == name
                   for nic, dummy in domain_nics(self.xml(domain, 'live'))):
                result.append(domain.name())
        return result
