# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bridge logic without I/O: validate, normalise, diff, plan.

State is a plain dict in the user's units (seconds, lower-case MACs, booleans), the same names as the
``linux_bridge`` options, so output can be fed back as input. The plan is a list of plain steps
(``action``, ``interface``, ``attributes``, ``revert``) that the module binds to netlink calls.
Bridge ports are in ``_port``; interface-name and MAC rules in ``_names``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._names import normalise_mac, validate_ifname

BR_GROUPFWD_RESTRICTED = 0x0007  # STP, MAC pause, slow protocols (LACP): the kernel refuses to forward these

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
