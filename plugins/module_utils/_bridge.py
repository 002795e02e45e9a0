# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bridge logic without I/O: validate, normalise, diff, plan.

State is a plain dict in the user's units (seconds, lower-case MACs, booleans), the same names as the
``linux_bridge`` options, so output can be fed back as input. The plan is a list of plain steps
(``action``, ``interface``, ``attributes``, ``revert``, ``data``) that the module binds to netlink calls, one
kernel request per step.

What the module reads is kept in ``facts`` (plain dicts as ``_netlink`` returns them): ``link`` (the bridge or
None), ``ports`` (its ports' links), ``addresses`` and ``routes`` (the bridge's global addresses and the routes
through it that do not follow an address by themselves; read for ``state: absent``, addresses also when the MAC
would change, None when not read), ``migrate_to`` (the link named by ``migrate_to`` or None),
``migrate_to_master``, ``migrate_to_addresses``, ``migrate_to_routes``; the module reads them
(``LinuxBridgeManager.facts``), everything here is pure.
Bridge ports are in ``_port``; interface-name and MAC rules in ``_names``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import re

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError, require_bridge, where
from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import (
    address_text,
    route_text,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._names import normalise_mac, validate_ifname

BR_GROUPFWD_RESTRICTED = 0x0007  # STP, MAC pause, slow protocols (LACP): the kernel refuses to forward these

# Documented VM-host defaults, applied only when a bridge is created (an existing bridge's unset options are
# left alone): no STP, so a new guest tap forwards at once instead of after 2 x forward_delay. A new bridge also
# comes up unless up: false (an existing bridge's admin state is left alone when up is unset).
CREATE_DEFAULTS = dict(stp=False, forward_delay=0, up=True)

# What the kernel gives a new bridge for every attribute the task does not set (net/bridge/br_device.c
# br_dev_setup, br_stp.c; measured with `ip -j -d link` on a fresh bridge): check mode predicts these, so a
# dry run's after/diff shows the values the real run will read back, not nulls.
KERNEL_DEFAULTS = dict(mtu=1500, stp=False, forward_delay=15, hello_time=2, max_age=20, ageing_time=300,
                       priority=32768, mcast_snooping=True, vlan_filtering=False, group_fwd_mask=0)

TIMER_OPTIONS = ('forward_delay', 'hello_time', 'max_age', 'ageing_time')
# ageing_time is legal up to 1000000 s, so a value copied from `ip -d link` (hundredths: 30000 for the default
# 300 s) is accepted by the kernel. From this many seconds on (2.8 hours, 33 times the default) a bare number
# gets a warning; written with its unit ("30000s") it is taken as meant.
AGEING_TIME_WARNING = 10000
AGEING_TIME_MAX = 1000000


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

LINK_OPTIONS = ('mac', 'mtu', 'up')
STATE_OPTIONS = LINK_OPTIONS + tuple(attr.option for attr in BRIDGE_ATTRS)

# Ranges the kernel enforces (net/bridge/br_stp.c, br_netlink.c), checked before anything changes.
# (option, minimum, maximum, unit, condition)
_RANGES = (
    ('hello_time', 1, 10, 's', None),
    ('max_age', 6, 40, 's', None),
    ('forward_delay', 2, 30, 's', 'stp'),
    ('forward_delay', 0, 30, 's', 'no-stp'),
    ('ageing_time', 0, AGEING_TIME_MAX, 's', None),
    ('priority', 0, 65535, '', None),
    ('mtu', 68, 65535, '', None),
    ('group_fwd_mask', 0, 65535, '', None),
)

_SECONDS_RE = re.compile(r'^\s*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*(s?)\s*$')


# ---- input parsing -------------------------------------------------------------------------------------------


def parse_seconds(option, value):
    """A timer option as given (argspec type ``raw``) -> ``(seconds, with_unit)``.

    Accepts a number (``15``, ``2.5``) or a string of one, optionally with the unit ``s`` (``"15"``,
    ``"2.5s"``, ``"0 s"``). Anything else (other units, booleans, lists) is refused naming the value and the unit.
    """
    if value is None:
        return None, False
    number = None
    with_unit = False
    if isinstance(value, bool):
        pass  # YAML yes/no/true: a number was surely meant, refuse rather than take 1 or 0
    elif isinstance(value, (int, float)):
        number = value
    elif isinstance(value, str):
        match = _SECONDS_RE.match(value)
        if match:
            text, with_unit = match.group(1), bool(match.group(2))
            number = float(text) if '.' in text else int(text)
    if number is None:
        raise ValidationError(
            '%s=%r is not a number of seconds. Give seconds as a number (%s: 2 or %s: 2.5) or with the unit s'
            ' (%s: "2.5s"); no other unit is accepted. `ip -d link` and sysfs print hundredths of a second:'
            ' divide those by 100 (1500 -> 15).' % (option, value, option, option, option),
            **{option: value}
        )
    return number, with_unit


# ---- validation ----------------------------------------------------------------------------------------------


def validate_static(params):
    """Checks that need no kernel: run before the namespace is even opened.

    Normalises ``mac`` and the timers (to numbers of seconds) in place. Returns warnings (a list of str).
    """
    warnings = []
    validate_ifname(params['name'])
    if params.get('mac') is not None:
        params['mac'] = normalise_mac(params['mac'])
    for option in TIMER_OPTIONS:
        params[option], with_unit = parse_seconds(option, params.get(option))
        value = params[option]
        if option == 'ageing_time' and value is not None and not with_unit \
                and AGEING_TIME_WARNING <= value <= AGEING_TIME_MAX:
            warnings.append(
                'ageing_time=%s s is %.1f hours (the kernel default is 300 s). If you took it from `ip -d link`'
                ' or sysfs, which print hundredths of a second, set ageing_time: %s. If you mean %s seconds,'
                ' write the unit (ageing_time: "%ss") and this warning goes away.'
                % (value, value / 3600.0, _number(value / 100.0), value, value))
    mode, target = params.get('addresses'), params.get('migrate_to')
    if params.get('state') != 'absent' and (mode is not None or target is not None):
        raise ValidationError(
            '%s only applies to state: absent (what to do with the addresses and routes of a bridge being'
            ' deleted). Remove it from this task.' % ('addresses' if mode is not None else 'migrate_to'),
            addresses=mode, migrate_to=target)
    if mode == 'migrate' and not target:
        raise ValidationError(
            'addresses: migrate needs migrate_to: the interface that takes over the bridge\'s addresses and routes'
            ' (usually its uplink port, e.g. migrate_to: eth0).', addresses=mode)
    if target is not None:
        if mode != 'migrate':
            raise ValidationError(
                'migrate_to=%s is only used with addresses: migrate (addresses is %s). Set addresses: migrate,'
                ' or remove migrate_to.' % (target, mode or 'unset, that is fail'), migrate_to=target)
        validate_ifname(target, option='migrate_to')
        if target == params['name']:
            raise ValidationError('migrate_to=%s is the bridge being deleted; name the interface that takes over its'
                                  ' addresses and routes.' % target, migrate_to=target)
    return warnings


def _number(value):
    return int(value) if float(value) == int(value) else value


def _hundredths_hint(option, value, minimum, maximum):
    if value >= 100 and minimum <= value / 100.0 <= maximum:
        return (' It looks like hundredths of a second, the unit `ip -d link` and sysfs print: %s s? Set %s: %s.'
                % (_number(value / 100.0), option, _number(value / 100.0)))
    return ''


def validate(params, have, facts=None):
    """Checks that depend on the current state (``have``, normalised; ``facts``, what was read): run before
    anything changes. Raises :class:`ValidationError` for every refusal; returns warnings (a list of str)."""
    facts = facts or {}
    if params.get('state') == 'absent':
        return _validate_delete(params, have, facts)
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
                '%s=%s is out of range: the kernel accepts %s..%s%s%s.%s'
                % (option, value, minimum, maximum, unit and ' ' + unit, why,
                   _hundredths_hint(option, value, minimum, maximum) if unit == 's' else ''),
                **{option: value}
            )
    for option in TIMER_OPTIONS:
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
    return _validate_mac_change(params, existing, facts)


def _validate_mac_change(params, existing, facts):
    """The rule between ``mac`` and ``bridge_port addresses: migrate`` (docs/linux_bridge.md, "The MAC and
    migrate"): migrate gives the bridge its port's MAC, so the host keeps its identity on the LAN. Changing the MAC
    of a bridge that carries addresses and has the MAC of one of its ports is refused: it would change the host's
    MAC on the LAN, and the two tasks would fight on every run. Other MAC changes of an addressed bridge warn."""
    mac = params.get('mac')
    if existing is None or mac is None or mac == existing['mac'] or not facts.get('addresses'):
        return []
    addresses = ', '.join(address_text(address) for address in facts['addresses'])
    twins = sorted(port['name'] for port in facts.get('ports') or [] if port.get('address') == existing['mac'])
    if twins:
        raise ValidationError(
            'Bridge %r carries IP addresses (%s) and has the MAC of its port %r (%s), as bridge_port addresses:'
            ' migrate leaves it so the host keeps its identity on the LAN (DHCP lease, neighbours\' ARP caches).'
            ' Setting mac: %s would change the host\'s MAC on the LAN, and the next bridge_port addresses: migrate'
            ' would not set it back: the tasks would disagree. Set mac: "%s" (the port\'s MAC), or leave mac'
            ' unset. To give the host another MAC anyway, move the addresses off the bridge first.'
            % (existing['name'], addresses, twins[0], existing['mac'], mac, existing['mac']),
            mac=mac, current_mac=existing['mac'], port=twins[0],
            addresses=[address_text(address) for address in facts['addresses']])
    return ['Changing the MAC of bridge %r from %s to %s while it carries IP addresses (%s): neighbours keep the old'
            ' MAC in their ARP/NDP caches until the entries expire, and a DHCP server may see a new client.'
            % (existing['name'], existing['mac'], mac, addresses)]


def _carried_text(addresses, routes):
    parts = []
    if addresses:
        parts.append('IP addresses (%s)' % ', '.join(address_text(address) for address in addresses))
    if routes:
        parts.append('routes (%s)' % ', '.join(route_text(route) for route in routes))
    text = ' and '.join(parts)
    defaults = sorted('IPv%d' % route['family'] for route in routes if route['dst_len'] == 0)
    if defaults:
        text += ', including the host\'s %s default route' % ' and '.join(sorted(set(defaults)))
    return text


def _validate_delete(params, have, facts):
    """Refusals of ``state: absent``: ports without force, addresses/routes without a decision, a bad
    ``migrate_to``. Returns warnings."""
    if have.get('state') != 'present':
        return []
    name, netns = params['name'], params.get('netns')
    addresses, routes = facts.get('addresses') or [], facts.get('routes') or []
    mode = params.get('addresses') or 'fail'
    ports = have.get('ports') or []
    problems, fixes = [], []
    if ports and not params.get('force'):
        problems.append('still has ports (%s): deleting it would release them (and cut off guests on its taps)'
                        % ', '.join(ports))
        fixes.append('remove the ports first or set force: true')
    if (addresses or routes) and mode == 'fail':
        uplinks = sorted(port['name'] for port in facts.get('ports') or [] if port.get('address') == have['mac'])
        target = ('%s (the port whose MAC the bridge has)' % uplinks[0]) if uplinks else '<interface>'
        problems.append('carries %s: they would be deleted with it, which can cut this host off the network (and'
                        ' Ansible\'s connection to it); force: true does not cover that' % _carried_text(addresses,
                                                                                                         routes))
        fixes.append('set addresses: migrate with migrate_to: %s to move them there first (make-before-break), or'
                     ' addresses: flush to delete them with the bridge' % target)
    if problems:
        raise ValidationError(
            'Bridge %r%s %s. To delete it, %s.'
            % (name, where(netns), '; it also '.join(problems), ', and '.join(fixes)),
            ports=ports, addresses=[address_text(address) for address in addresses],
            routes=[route_text(route) for route in routes])
    if mode != 'migrate':
        return []
    target, master = facts.get('migrate_to'), facts.get('migrate_to_master')
    option = params['migrate_to']
    if target is None:
        raise ValidationError(
            'migrate_to: interface %r does not exist%s. Name the interface that takes over the addresses and routes'
            ' of %r (usually its uplink port).' % (option, where(netns), name), migrate_to=option)
    if master is not None and master['index'] != facts['link']['index']:
        raise ValidationError(
            'migrate_to: interface %r is enslaved to %r (kind: %s): the traffic it receives goes to %r, so addresses'
            ' on it would not work. Name an interface that is not a port of another device (a port of %r itself is'
            ' fine: deleting %r releases it).' % (option, master['name'], master['kind'], master['name'], name, name),
            migrate_to=option, master=master['name'])
    if not target['up'] and (addresses or routes):
        raise ValidationError(
            'migrate_to: interface %r is down: it would carry no traffic, and the kernel refuses routes through a'
            ' down interface. Bring it up first (ip link set %s up), or name another interface.' % (option, option),
            migrate_to=option)
    if (addresses or routes) and target.get('address') != have['mac']:
        return ['migrate_to %r has the MAC %s, bridge %r has %s: neighbours that only send to this host keep the'
                ' bridge\'s MAC in their ARP/NDP caches and are not answered until the entries expire (measured: a'
                ' peer pinging every 10 ms lost 80%% of its pings over 4 s); traffic this host sends refreshes them.'
                ' Moving to the interface whose MAC the bridge has (the port bridge_port addresses: migrate took it'
                ' from) has no gap.' % (option, target.get('address'), name, have['mac'])]
    return []


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


def carried(addresses, routes):
    """The ``addresses`` and ``routes`` keys of a state: sorted texts."""
    return dict(addresses=sorted(address_text(address) for address in addresses),
                routes=sorted(route_text(route) for route in routes))


def bridge_state(name, facts):
    """The state the module returns as ``before``/``after``: :func:`normalise` of the bridge, plus, when they
    were read (``state: absent``), the ``addresses`` and ``routes`` it carries, plus ``migrate_to`` (name,
    addresses, routes) when that interface was read."""
    state = normalise(name, facts.get('link'), facts.get('ports'))
    if state['state'] == 'present' and facts.get('routes') is not None:
        state.update(carried(facts.get('addresses') or [], facts['routes']))
    if facts.get('migrate_to') is not None:
        state['migrate_to'] = dict(name=facts['migrate_to']['name'],
                                   **carried(facts.get('migrate_to_addresses') or [],
                                             facts.get('migrate_to_routes') or []))
    return state


def facts_needed(params, link):
    """Which of the optional facts a run needs: ``carried`` (addresses and routes of the bridge, for a delete),
    ``addresses`` (for the MAC rule), ``migrate_to``. A no-op run reads none of them (no address/route dumps)."""
    absent = params.get('state') == 'absent'
    return dict(
        carried=absent and link is not None,
        addresses=not absent and link is not None and params.get('mac') is not None
        and params['mac'] != link['address'],
        migrate_to=absent and bool(params.get('migrate_to')),
    )


def check_kind(name, link, netns):
    """An interface called ``name`` that is not a bridge: refused (the one wording, ``_common.require_bridge``)."""
    if link is not None:
        require_bridge(name, link, netns, 'kvmnet.bridge.linux_bridge', option='name',
                       fix='linux_bridge cannot create a bridge of that name. Choose another name for the bridge,'
                           ' or remove that interface first.')


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


def partial_undo(step, now):
    """After a ``set`` step failed: the attributes to set back, those of ``step['revert']`` that ``now`` (the
    bridge's normalised state read after the failure) no longer has. The kernel applies a request's attributes
    one by one and stops at the first it refuses, keeping the earlier ones."""
    if not step.get('revert') or now.get('state') != 'present':
        return {}
    return dict((option, value) for option, value in step['revert'].items()
                if not _same(option, value, now.get(option)))


def plan(params, have, mac_factory=random_local_mac, facts=None):
    """Ordered steps turning ``have`` into what ``params`` asks for; ``params`` and ``have`` passed
    :func:`validate` (so a delete here is allowed).

    Returns ``(steps, predicted_after)``. A step is ``dict(action, interface, attributes, revert, data)`` where
    ``revert`` holds the attributes that undo a ``set`` (None for the other actions, whose undo follows from
    the action: a create is undone by a delete, an added address by deleting it, a moved route by moving it
    back; a delete is the last step and has no undo) and ``data`` what the request needs beyond ``attributes``
    (the address or route dict).
    """
    facts = facts or {}
    name = params['name']
    if params['state'] == 'absent':
        return _plan_delete(params, have, facts)

    want = wanted(params, have)
    if have['state'] == 'absent':
        attributes = dict((key, value) for key, value in want.items() if key != 'up')
        if 'mac' not in attributes:
            # Pin the MAC at creation: an explicitly set address never follows the lowest port MAC.
            attributes['mac'] = mac_factory()
        steps = [dict(action='create', interface=name, attributes=attributes, revert=None, data={})]
        if want['up']:
            steps.append(dict(action='set', interface=name, attributes=dict(up=True), revert=dict(up=False), data={}))
        after = dict(KERNEL_DEFAULTS, name=name, state='present', ports=[], up=want['up'])
        after.update(attributes)
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
                     revert=dict((option, have[option]) for option in picked), data={})]

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


def _plan_delete(params, have, facts):
    """Delete, after moving the bridge's addresses and routes to ``migrate_to`` (``addresses: migrate``):
    addresses first (IPv6 without duplicate address detection), then each route replaced onto it, then the
    delete. With ``addresses: flush`` the delete step lists what goes with the bridge."""
    name = params['name']
    if have['state'] == 'absent':
        return [], dict(have)
    addresses, routes = facts.get('addresses') or [], facts.get('routes') or []
    steps = []
    after = dict(name=name, state='absent')
    if 'migrate_to' in have:
        after['migrate_to'] = dict(have['migrate_to'])
    delete_attributes = {}
    if params.get('addresses') == 'migrate' and (addresses or routes):
        target = facts['migrate_to']['name']
        on_target = set(have['migrate_to']['addresses'])
        for address in addresses:
            if address_text(address) not in on_target:
                steps.append(dict(action='add_address', interface=target,
                                  attributes=dict(address=address_text(address)), revert=None, data=address))
        for route in routes:
            steps.append(dict(action='move_route', interface=name, attributes=dict(route=route_text(route), to=target),
                              revert=None, data=route))
        moved = carried(addresses, routes)
        after['migrate_to'] = dict(
            name=target,
            addresses=sorted(on_target | set(moved['addresses'])),
            routes=sorted(set(have['migrate_to']['routes']) | set(moved['routes'])),
        )
    elif addresses or routes:
        delete_attributes = dict((key, value) for key, value in carried(addresses, routes).items() if value)
    steps.append(dict(action='delete', interface=name, attributes=delete_attributes, revert=None, data={}))
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
