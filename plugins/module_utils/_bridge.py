# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bridge logic without I/O: validate, normalise, diff, plan.

State is a plain dict in the user's units (seconds, lower-case MACs, booleans), the same names as the
``linux_bridge`` options, so output can be fed back as input. The plan is a list of plain steps
(``action``, ``interface``, ``attributes``, ``revert``) that the module binds to netlink calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import re

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import (
    ARPHRD_ETHER,
    ARPHRD_NAMES,
    address_text,
    global_addresses,
    movable_routes,
    route_text,
    wireless_refusal,
)

IFNAME_MAX_BYTES = 15
BR_GROUPFWD_RESTRICTED = 0x0007  # STP, MAC pause, slow protocols (LACP): the kernel refuses to forward these
_MAC_RE = re.compile(r'^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$')

# Documented VM-host defaults, applied only when a bridge is created (an existing bridge's unset options are
# left alone): no STP, so a new guest tap forwards at once instead of after 2 x forward_delay.
CREATE_DEFAULTS = dict(stp=False, forward_delay=0)


def _seconds_to_kernel(value):
    return int(round(float(value) * 100))  # netlink, sysfs and `ip -d link` use hundredths of a second


def _kernel_to_seconds(value):
    seconds = value / 100.0
    return int(seconds) if seconds == int(seconds) else seconds


class _Attr(object):
    """A bridge attribute: option name, netlink attribute, pyroute2 keyword, unit conversion."""

    def __init__(self, option, nla, to_kernel, from_kernel, keyword=None):
        self.option = option
        self.nla = nla
        self.keyword = keyword or nla.lower().replace('ifla_br_', 'br_')
        self.to_kernel = to_kernel
        self.from_kernel = from_kernel


def _bool_to_kernel(value):
    return 1 if value else 0


def _kernel_to_bool(value):
    return bool(value)


BRIDGE_ATTRS = (
    _Attr('stp', 'IFLA_BR_STP_STATE', _bool_to_kernel, _kernel_to_bool),
    _Attr('forward_delay', 'IFLA_BR_FORWARD_DELAY', _seconds_to_kernel, _kernel_to_seconds),
    _Attr('hello_time', 'IFLA_BR_HELLO_TIME', _seconds_to_kernel, _kernel_to_seconds),
    _Attr('max_age', 'IFLA_BR_MAX_AGE', _seconds_to_kernel, _kernel_to_seconds),
    _Attr('ageing_time', 'IFLA_BR_AGEING_TIME', _seconds_to_kernel, _kernel_to_seconds),
    _Attr('priority', 'IFLA_BR_PRIORITY', int, int),
    _Attr('mcast_snooping', 'IFLA_BR_MCAST_SNOOPING', _bool_to_kernel, _kernel_to_bool),
    _Attr('vlan_filtering', 'IFLA_BR_VLAN_FILTERING', _bool_to_kernel, _kernel_to_bool),
    _Attr('group_fwd_mask', 'IFLA_BR_GROUP_FWD_MASK', int, int),
)
BRIDGE_ATTRS_BY_OPTION = dict((attr.option, attr) for attr in BRIDGE_ATTRS)

# Bridge-port attributes: option, IFLA_BRPORT_* name, pyroute2 brport keyword.
PORT_ATTRS = (
    _Attr('cost', 'IFLA_BRPORT_COST', int, int, 'cost'),
    _Attr('priority', 'IFLA_BRPORT_PRIORITY', int, int, 'priority'),
    _Attr('hairpin', 'IFLA_BRPORT_MODE', _bool_to_kernel, _kernel_to_bool, 'mode'),
    _Attr('learning', 'IFLA_BRPORT_LEARNING', _bool_to_kernel, _kernel_to_bool, 'learning'),
    _Attr('unicast_flood', 'IFLA_BRPORT_UNICAST_FLOOD', _bool_to_kernel, _kernel_to_bool, 'unicast_flood'),
    _Attr('mcast_flood', 'IFLA_BRPORT_MCAST_FLOOD', _bool_to_kernel, _kernel_to_bool, 'mcast_flood'),
    _Attr('bpdu_guard', 'IFLA_BRPORT_GUARD', _bool_to_kernel, _kernel_to_bool, 'guard'),
    _Attr('root_block', 'IFLA_BRPORT_PROTECT', _bool_to_kernel, _kernel_to_bool, 'protect'),
    _Attr('isolated', 'IFLA_BRPORT_ISOLATED', _bool_to_kernel, _kernel_to_bool, 'isolated'),
    _Attr('neigh_suppress', 'IFLA_BRPORT_NEIGH_SUPPRESS', _bool_to_kernel, _kernel_to_bool, 'neigh_suppress'),
)
PORT_ATTRS_BY_OPTION = dict((attr.option, attr) for attr in PORT_ATTRS)
PORT_STP_STATES = ('disabled', 'listening', 'learning', 'forwarding', 'blocking')
LINK_OPTIONS = ('mac', 'mtu', 'up')
STATE_OPTIONS = LINK_OPTIONS + tuple(attr.option for attr in BRIDGE_ATTRS)

# Ranges the kernel enforces (net/bridge/br_stp.c, br_netlink.c), checked before anything changes.
# (option, minimum, maximum, unit, condition)
_RANGES = (
    ('hello_time', 1, 10, 's', None),
    ('max_age', 6, 40, 's', None),
    ('forward_delay', 2, 30, 's', 'stp'),
    ('forward_delay', 0, 30, 's', 'no-stp'),
    ('ageing_time', 0, 1000000, 's', None),
    ('priority', 0, 65535, '', None),
    ('mtu', 68, 65535, '', None),
    ('group_fwd_mask', 0, 65535, '', None),
)


# ---- validation ----------------------------------------------------------------------------------------------


def validate_ifname(name, option='name'):
    """Linux interface name rules (dev_valid_name): 1..15 bytes, not '.' or '..', no '/', ':' or whitespace."""
    if not name:
        raise ValidationError('%s must not be empty.' % option, **{option: name})
    encoded = name.encode('utf-8')
    problems = []
    if len(encoded) > IFNAME_MAX_BYTES:
        problems.append('it is %d bytes long, the kernel allows at most %d' % (len(encoded), IFNAME_MAX_BYTES))
    if name in ('.', '..'):
        problems.append("'.' and '..' are reserved")
    bad = sorted(set(char for char in name if char in '/:' or char.isspace()))
    if bad:
        problems.append('it contains %s' % ', '.join(repr(char) for char in bad))
    if problems:
        raise ValidationError(
            'Invalid interface name %r for %s: %s. Use at most 15 bytes without "/", ":" or whitespace,'
            ' for example "kvmbr0".' % (name, option, '; '.join(problems)),
            **{option: name}
        )


def normalise_mac(mac, option='mac'):
    """Lower-case, colon-separated; refuses malformed, multicast and all-zero addresses."""
    text = str(mac).strip().lower()
    if not _MAC_RE.match(text):
        raise ValidationError(
            'Invalid MAC address %r for %s: use six hexadecimal byte pairs separated by ":", for example'
            ' "52:54:00:12:34:56".' % (mac, option),
            **{option: mac}
        )
    text = text.replace('-', ':')
    first = int(text[:2], 16)
    if first & 0x01:
        raise ValidationError(
            'MAC address %r for %s is a multicast address (the lowest bit of the first byte is set); an interface'
            ' needs a unicast MAC. Use an even first byte, for example a locally administered "02:..." address.'
            % (mac, option),
            **{option: mac}
        )
    if text == '00:00:00:00:00:00':
        raise ValidationError('MAC address %r for %s is all zeros; use a real unicast MAC.' % (mac, option),
                              **{option: mac})
    return text


def validate_static(params):
    """Checks that need no kernel: run before the namespace is even opened. Normalises ``mac`` in place."""
    validate_ifname(params['name'])
    if params.get('mac') is not None:
        params['mac'] = normalise_mac(params['mac'])


def validate(params, have):
    """Checks that depend on the current state (``have``, normalised): run before anything changes."""
    if params.get('state') == 'absent':
        return
    existing = have if have and have.get('state') == 'present' else None
    if params.get('stp') is not None:
        stp_on = params['stp']
        stp_source = 'stp: %s' % ('true' if stp_on else 'false')
    elif existing is not None:
        stp_on = existing.get('stp')
        stp_source = 'STP is %s on the existing bridge' % ('on' if stp_on else 'off')
    else:
        stp_on = CREATE_DEFAULTS['stp']
        stp_source = 'a new bridge gets stp: false by default'
    for option, minimum, maximum, unit, condition in _RANGES:
        value = params.get(option)
        if value is None:
            continue
        if condition == 'stp' and not stp_on or condition == 'no-stp' and stp_on:
            continue
        if not minimum <= value <= maximum:
            why = ''
            if condition == 'stp':
                why = ' while STP is on (%s); to use a shorter delay set stp: false' % stp_source
            raise ValidationError(
                '%s=%s is out of range: the kernel accepts %s..%s%s%s.'
                % (option, value, minimum, maximum, unit and ' ' + unit, why),
                **{option: value}
            )
    for option in ('forward_delay', 'hello_time', 'max_age', 'ageing_time'):
        value = params.get(option)
        if value is not None and abs(_seconds_to_kernel(value) - float(value) * 100) > 1e-6:
            raise ValidationError(
                '%s=%s has more precision than the kernel keeps (hundredths of a second); round it, e.g. %s.'
                % (option, value, _seconds_to_kernel(value) / 100.0),
                **{option: value}
            )
    mask = params.get('group_fwd_mask')
    if mask is not None and mask & BR_GROUPFWD_RESTRICTED:
        raise ValidationError(
            'group_fwd_mask=%#06x sets restricted bits %#06x: the kernel never forwards 01:80:c2:00:00:0{0,1,2}'
            ' (STP, MAC pause, LACP/slow protocols). Clear bits 0-2 (mask & 0xfff8).'
            % (mask, mask & BR_GROUPFWD_RESTRICTED),
            group_fwd_mask=mask,
        )


# ---- normalisation -------------------------------------------------------------------------------------------


def normalise(name, link, ports=None):
    """Normalised state of bridge ``name`` from a link dict of ``_netlink`` (None if absent)."""
    if link is None:
        return dict(name=name, state='absent')
    state = dict(
        name=link['name'],
        state='present',
        mac=link['address'],
        mtu=link['mtu'],
        up=link['up'],
    )
    for attr in BRIDGE_ATTRS:
        raw = link['bridge'].get(attr.nla)
        state[attr.option] = attr.from_kernel(raw) if raw is not None else None
    state['ports'] = sorted(port['name'] for port in (ports or []))
    return state


# ---- want vs have -> plan ------------------------------------------------------------------------------------


def random_local_mac(rng=None):
    """A random unicast, locally administered MAC (like the kernel's eth_random_addr)."""
    rng = rng or random.SystemRandom()
    octets = [rng.randint(0, 255) for dummy in range(6)]
    octets[0] = (octets[0] & 0xFC) | 0x02
    return ':'.join('%02x' % octet for octet in octets)


def _same(option, want, have):
    if have is None:
        return False
    attr = BRIDGE_ATTRS_BY_OPTION.get(option)
    if attr is not None:
        return attr.to_kernel(want) == attr.to_kernel(have)
    return want == have


def wanted(params, have):
    """The options the user set (plus creation defaults when the bridge does not exist yet)."""
    want = dict((option, params[option]) for option in STATE_OPTIONS if params.get(option) is not None)
    for option, value in want.items():
        attr = BRIDGE_ATTRS_BY_OPTION.get(option)
        if attr is not None:
            want[option] = attr.from_kernel(attr.to_kernel(value))  # canonical: 4.0 -> 4, true -> True
    if have['state'] == 'absent':
        for option, value in CREATE_DEFAULTS.items():
            if option == 'forward_delay' and want.get('stp'):
                continue  # with STP on the kernel default (15 s) is the sane one
            want.setdefault(option, value)
    return want


def plan(params, have, mac_factory=random_local_mac):
    """Ordered steps turning ``have`` into what ``params`` asks for.

    Returns ``(steps, predicted_after)``. A step is ``dict(action, interface, attributes, revert)`` where
    ``revert`` holds the attributes that undo it (None for a create, whose undo is a delete, and for a delete).
    """
    name = params['name']
    if params['state'] == 'absent':
        if have['state'] == 'absent':
            return [], have
        if have['ports'] and not params.get('force'):
            raise ValidationError(
                'Bridge %r still has ports (%s); deleting it would release them (and cut off guests on its taps).'
                ' Remove the ports first, or set force: true to delete it anyway.'
                % (name, ', '.join(have['ports'])),
                ports=have['ports'],
            )
        return [dict(action='delete', interface=name, attributes={}, revert=None)], dict(name=name, state='absent')

    want = wanted(params, have)
    if have['state'] == 'absent':
        attributes = dict((key, value) for key, value in want.items() if key != 'up')
        if 'mac' not in attributes:
            # Pin the MAC at creation: an explicitly set address never follows the lowest port MAC.
            attributes['mac'] = mac_factory()
        steps = [dict(action='create', interface=name, attributes=attributes, revert=None)]
        if want.get('up', True):
            steps.append(dict(action='set', interface=name, attributes=dict(up=True), revert=dict(up=False)))
        after = dict(name=name, state='present', ports=[], up=want.get('up', True))
        for option in STATE_OPTIONS:
            after.setdefault(option, attributes.get(option))
        return steps, after

    changes = dict((option, value) for option, value in want.items() if not _same(option, value, have.get(option)))
    after = dict(have)
    after.update(changes)
    if not changes:
        return [], after

    def step(options):
        picked = dict((option, changes[option]) for option in options if option in changes)
        if not picked:
            return []
        return [dict(action='set', interface=name, attributes=picked,
                     revert=dict((option, have[option]) for option in picked))]

    bridge_options = [attr.option for attr in BRIDGE_ATTRS]
    steps = []
    if changes.get('up') is False:
        steps += step(['up'])  # going down: first, before anything else changes
    steps += step(['mac', 'mtu'])
    if changes.get('stp') is False:
        # The kernel applies FORWARD_DELAY before STP_STATE within one request: turning STP off first lets a
        # forward_delay below 2 s (allowed only without STP) be set in the next request.
        steps += step(['stp'])
        bridge_options.remove('stp')
    steps += step(bridge_options)
    if changes.get('up') is True:
        steps += step(['up'])
    return steps, after


def kernel_request(attributes):
    """Translate step attributes (user units) into ``_netlink`` keyword arguments (kernel units)."""
    request = dict(kind_data={})
    for option, value in attributes.items():
        attr = BRIDGE_ATTRS_BY_OPTION.get(option)
        if attr is not None:
            request['kind_data'][attr.keyword] = attr.to_kernel(value)
        elif option == 'mac':
            request['address'] = value
        elif option in ('mtu', 'up'):
            request[option] = value
        else:
            raise ValueError('unknown bridge attribute %r' % option)
    return request


# ---- bridge ports ---------------------------------------------------------------------------------------------

_PORT_RANGES = (('cost', 1, 65535), ('priority', 0, 63))
PORT_STATE_OPTIONS = tuple(attr.option for attr in PORT_ATTRS)


def validate_port_static(params):
    """Checks that need no kernel, for ``bridge_port``."""
    validate_ifname(params['name'])
    if params.get('bridge') is not None:
        validate_ifname(params['bridge'], option='bridge')
        if params['bridge'] == params['name']:
            raise ValidationError('Interface %r cannot be a port of itself (name and bridge are the same).'
                                  % params['name'], name=params['name'])
    elif params['state'] == 'present':
        raise ValidationError('bridge is required with state: present (the bridge to put %r in).' % params['name'])
    for option, minimum, maximum in _PORT_RANGES:
        value = params.get(option)
        if value is not None and not minimum <= value <= maximum:
            raise ValidationError(
                '%s=%s is out of range: the kernel accepts %s..%s.' % (option, value, minimum, maximum),
                **{option: value})
    seen = set()
    pvids = []
    for vlan in params.get('vlans') or []:
        vid = vlan['vid']
        if not 1 <= vid <= 4094:
            raise ValidationError('vlans: vid=%s is out of range: VLAN ids are 1..4094.' % vid, vid=vid)
        if vid in seen:
            raise ValidationError('vlans: vid=%s is listed twice.' % vid, vid=vid)
        seen.add(vid)
        if vlan.get('pvid'):
            pvids.append(vid)
    if len(pvids) > 1:
        raise ValidationError('vlans: only one VLAN can be the PVID, got %s.' % ', '.join(str(vid) for vid in pvids),
                              pvids=pvids)


def normalise_port(name, link, master, addresses, bridge):
    """Normalised state of port ``name`` with respect to bridge ``bridge`` (the one the task is about)."""
    if link is None:
        return dict(name=name, exists=False, state='absent', bridge=None, addresses=[])
    state = dict(
        name=name,
        exists=True,
        bridge=master['name'] if master and master['kind'] == 'bridge' else None,
        addresses=sorted(address_text(address) for address in global_addresses(addresses)),
    )
    state['state'] = 'present' if bridge is not None and state['bridge'] == bridge else 'absent'
    if link.get('port') is not None:
        for attr in PORT_ATTRS:
            raw = link['port'].get(attr.nla)
            state[attr.option] = attr.from_kernel(raw) if raw is not None else None
        stp = link['port'].get('IFLA_BRPORT_STATE')
        state['stp_state'] = PORT_STP_STATES[stp] if stp is not None and stp < len(PORT_STP_STATES) else stp
    if master is not None and master['kind'] != 'bridge':
        state['master'] = master['name']
    return state


def port_kernel_request(attributes):
    """Port attributes (user units) -> pyroute2 brport keywords (kernel units)."""
    return dict((PORT_ATTRS_BY_OPTION[option].keyword, PORT_ATTRS_BY_OPTION[option].to_kernel(value))
                for option, value in attributes.items())


def vlan_plan(want, have):
    """VLAN entries to add and to delete on a port. Entries are dicts vid / pvid / untagged."""
    def canonical(entries):
        return dict((entry['vid'], (bool(entry.get('pvid')), bool(entry.get('untagged')))) for entry in entries)
    wanted, current = canonical(want), canonical(have)
    add = [dict(vid=vid, pvid=flags[0], untagged=flags[1]) for vid, flags in sorted(wanted.items())
           if current.get(vid) != flags]
    delete = [dict(vid=vid, pvid=flags[0], untagged=flags[1]) for vid, flags in sorted(current.items())
              if vid not in wanted]
    return add, delete


def plan_port(params, facts):
    """Steps that put ``params['name']`` into (or out of) ``params['bridge']``.

    ``facts``: port (link dict or None), bridge (link dict or None), master (link dict of the port's current
    master or None), port_addresses, bridge_addresses, routes (the port's routes), wireless (bool),
    vlans (current VLAN entries of the port, or None when the bridge does not filter VLANs).
    Returns ``(steps, predicted_after)``; raises ValidationError for every refusal, before anything changes.
    A step is dict(action, interface, attributes, revert, data).
    """
    name, bridge_name = params['name'], params.get('bridge')
    port, bridge, master = facts['port'], facts['bridge'], facts['master']
    before = normalise_port(name, port, master, facts['port_addresses'], bridge_name)

    if params['state'] == 'absent':
        on_bridge = before['bridge'] is not None and (bridge_name is None or before['bridge'] == bridge_name)
        if not on_bridge:
            return [], before
        after = dict(name=name, exists=True, state='absent', bridge=None, addresses=before['addresses'])
        step = dict(action='release', interface=name, attributes=dict(bridge=before['bridge']), revert=None,
                    data=dict(master_index=0))
        return [step], after

    where = ' in network namespace %r' % params['netns'] if params.get('netns') else ''
    if port is None:
        raise ValidationError('Interface %r does not exist%s. Create it (or fix the name) first.' % (name, where),
                              name=name)
    if bridge is None:
        raise ValidationError('Bridge %r does not exist%s. Create it first with kvmnet.bridge.linux_bridge.'
                              % (bridge_name, where), bridge=bridge_name)
    if bridge['kind'] != 'bridge':
        raise ValidationError('Interface %r is not a bridge (kind: %s); bridge must name a Linux bridge.'
                              % (bridge_name, bridge['kind']), bridge=bridge_name)
    if port['kind'] == 'bridge':
        raise ValidationError(
            'Interface %r is itself a bridge: a bridge cannot be a port of another bridge (that would be a loop; the'
            ' kernel refuses with ELOOP). Put its ports into %r instead.' % (name, bridge_name), name=name)
    if facts['wireless'] and not params.get('wireless_4addr'):
        raise ValidationError(wireless_refusal(name, bridge_name), name=name, wireless=True)
    if port['link_type'] != ARPHRD_ETHER:
        raise ValidationError(
            'Interface %r has link type %s, not Ethernet: a bridge only takes Ethernet-like interfaces (NICs, veth,'
            ' taps, VLAN and bond devices).' % (name, ARPHRD_NAMES.get(port['link_type'], port['link_type'])),
            name=name, link_type=port['link_type'])
    if master is not None and master['index'] != bridge['index']:
        if master['kind'] != 'bridge':
            raise ValidationError('Interface %r is enslaved to %r (kind: %s); release it from there first.'
                                  % (name, master['name'], master['kind']), master=master['name'])
        if not params.get('move'):
            raise ValidationError(
                'Interface %r is a port of another bridge, %r. Set move: true to move it to %r (its guests or'
                ' uplink on %r lose it), or choose another interface.'
                % (name, master['name'], bridge_name, master['name']),
                current_bridge=master['name'])
    if params.get('vlans') is not None and facts['vlans'] is None:
        raise ValidationError(
            'vlans needs VLAN filtering on bridge %r, which is off. Turn it on first (kvmnet.bridge.linux_bridge'
            ' with vlan_filtering: true), or leave vlans unset.' % bridge_name, bridge=bridge_name)

    addresses = global_addresses(facts['port_addresses'])
    mode = params.get('addresses') or 'fail'
    if addresses and mode == 'fail':
        raise ValidationError(
            'Interface %r carries IP addresses (%s). In a bridged setup the port carries no IP: the bridge does.'
            ' Set addresses: migrate to move them and their routes to %r without a gap, or addresses: flush to'
            ' remove them.' % (name, ', '.join(address_text(address) for address in addresses), bridge_name),
            addresses=[address_text(address) for address in addresses])

    steps = []
    routes = movable_routes(facts['routes']) if addresses and mode == 'migrate' else []
    if addresses and mode == 'migrate':
        # Make before break: the bridge takes the port's MAC (same DHCP identity, no ARP change for peers)
        # and its addresses (IPv6 without DAD), THEN the port joins, THEN routes move, THEN the port is flushed.
        if bridge['address'] != port['address']:
            steps.append(dict(action='set_mac', interface=bridge_name, attributes=dict(mac=port['address']),
                              revert=dict(mac=bridge['address']), data={}))
        on_bridge = set(address_text(address) for address in facts['bridge_addresses'])
        for address in addresses:
            if address_text(address) not in on_bridge:
                steps.append(dict(action='add_address', interface=bridge_name,
                                  attributes=dict(address=address_text(address)), revert=None, data=address))
    elif addresses and mode == 'flush':
        steps.append(dict(action='flush_addresses', interface=name,
                          attributes=dict(addresses=[address_text(address) for address in addresses]),
                          revert=None, data=dict(addresses=addresses, routes=movable_routes(facts['routes']))))

    if master is None or master['index'] != bridge['index']:
        steps.append(dict(action='enslave', interface=name, attributes=dict(bridge=bridge_name), revert=None,
                          data=dict(master_index=bridge['index'],
                                    previous_master_index=master['index'] if master else 0)))
        current_attrs = {}  # kernel defaults apply to a new port: set what was asked
    else:
        current_attrs = dict((option, before.get(option)) for option in PORT_STATE_OPTIONS)
    wanted = dict((option, params[option]) for option in PORT_STATE_OPTIONS if params.get(option) is not None)
    changes = dict((option, value) for option, value in wanted.items() if current_attrs.get(option) != value)
    if changes:
        steps.append(dict(action='set_port', interface=name, attributes=changes,
                          revert=dict((option, current_attrs.get(option)) for option in changes)
                          if current_attrs else None, data={}))

    if params.get('vlans') is not None:
        add, delete = vlan_plan(params['vlans'], facts['vlans'])
        for entry in add:
            steps.append(dict(action='vlan_add', interface=name, attributes=entry, revert=None, data=entry))
        for entry in delete:
            steps.append(dict(action='vlan_delete', interface=name, attributes=entry, revert=None, data=entry))

    for route in routes:
        steps.append(dict(action='move_route', interface=name,
                          attributes=dict(route=route_text(route), to=bridge_name), revert=None, data=route))
    if addresses and mode == 'migrate':
        for address in addresses:
            steps.append(dict(action='delete_address', interface=name, attributes=dict(address=address_text(address)),
                              revert=None, data=address))

    after = dict(before, state='present', bridge=bridge_name, addresses=[])
    after.pop('master', None)
    for option in PORT_STATE_OPTIONS:
        if option in wanted:
            after[option] = wanted[option]
    return steps, after
