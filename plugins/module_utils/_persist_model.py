# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one desired-state model that every persistence backend renders (docs/persistence.md).

:func:`validate` turns the module's ``bridge``, ``port`` and ``addressing`` options into a plain dict whose every
value is already checked and normalised with the same rules the runtime modules use (``_bridge``, ``_port``,
``_names``): interface names pass the kernel's rules, MACs are normalised, addresses and gateways are parsed by
``ipaddress``, numbers are in range. So no string in the model can carry a newline, a ``[section]``, a comment
sign, quotes or whitespace into a configuration file: the renderers write values as they are and never escape.

Times are in the kernel's unit, hundredths of a second (``1500`` is 15 s); :func:`seconds` writes them for files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.kvmnet.bridge.plugins.module_utils import _bridge, _port
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError

BRIDGE_KEYS = ('name', 'mac', 'stp', 'forward_delay', 'hello_time', 'max_age', 'ageing_time', 'priority', 'mtu',
               'mcast_snooping', 'vlan_filtering', 'group_fwd_mask')
PORT_KEYS = ('name',) + _port.PORT_STATE_OPTIONS
ADDRESSING_MODES = ('none', 'dhcp', 'static')
TIMERS = _bridge.TIMER_OPTIONS
# Names a configuration file can carry as a plain word in every stack's syntax. The kernel also accepts names with
# brackets, '#', ';', '=', quotes, '*' or '$' (anything but '/', ':' and whitespace), but those open sections,
# comments, globs, lists or expansions in keyfiles, .network files, interfaces(5) stanzas or YAML.
FILE_SAFE_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.@+-]*$')

# The argument spec of the three options (the module's and the role's), one place.
BRIDGE_SPEC = dict(
    name=dict(type='str', required=True),
    mac=dict(type='str'),
    stp=dict(type='bool', default=False),
    forward_delay=dict(type='raw'),
    hello_time=dict(type='raw'),
    max_age=dict(type='raw'),
    ageing_time=dict(type='raw'),
    priority=dict(type='int'),
    mtu=dict(type='int'),
    mcast_snooping=dict(type='bool'),
    vlan_filtering=dict(type='bool'),
    group_fwd_mask=dict(type='int'),
)
PORT_SPEC = dict(
    name=dict(type='str', required=True),
    cost=dict(type='int'),
    priority=dict(type='int'),
    **dict((option, dict(type='bool')) for option in _port.PORT_STATE_OPTIONS if option not in ('cost', 'priority'))
)
ADDRESSING_SPEC = dict(
    mode=dict(type='str', choices=list(ADDRESSING_MODES), default='none'),
    addresses=dict(type='list', elements='str', default=[]),
    gateway4=dict(type='str'),
    gateway6=dict(type='str'),
)


def seconds(centiseconds):
    """``1500`` -> ``'15'``, ``250`` -> ``'2.5'``, ``1`` -> ``'0.01'``: kernel hundredths as file text."""
    whole, rest = divmod(int(centiseconds), 100)
    if not rest:
        return str(whole)
    return ('%d.%02d' % (whole, rest)).rstrip('0')


def _file_safe(name):
    if not FILE_SAFE_NAME.match(name):
        bad = sorted(set(char for char in name if not re.match(r'[A-Za-z0-9_.@+-]', char)))
        raise ValidationError(
            'name %r cannot be written into a network configuration file: %s would open a section, a comment, a'
            ' glob or a list in some stack\'s syntax (the kernel accepts it, the files cannot carry it safely).'
            ' Use letters, digits and _ . @ + - (not first), for example "kvmbr0".'
            % (name, ', '.join(repr(char) for char in bad) or 'its first character'), name=name)


def _bridge_model(bridge):
    params = dict((key, bridge.get(key)) for key in BRIDGE_KEYS)
    params['state'] = 'present'
    params['stp'] = bool(params['stp'])
    _bridge.validate_static(params)  # name, MAC, timers parsed to seconds
    _file_safe(params['name'])
    _bridge.validate(params, None)  # ranges (forward_delay by STP), precision, group_fwd_mask bits
    model = dict((key, params[key]) for key in BRIDGE_KEYS)
    for option in TIMERS:
        if model[option] is not None:
            model[option] = int(round(float(model[option]) * 100))
    return model


def _port_model(port, bridge_name):
    params = dict((key, port.get(key)) for key in PORT_KEYS)
    params.update(bridge=bridge_name, state='present', vlans=None)
    _port.validate_port_static(params)
    _file_safe(params['name'])
    return dict((key, params[key]) for key in PORT_KEYS)


def _address(text, option):
    try:
        interface = ipaddress.ip_interface(str(text).strip())
    except ValueError:
        raise ValidationError(
            'addressing.%s: %r is not an IP address with a prefix length. Write it as ADDRESS/PREFIX, for example'
            ' 192.0.2.10/24 or 2001:db8::10/64.' % (option, text), **{option: text})
    if '/' not in str(text):
        raise ValidationError(
            'addressing.%s: %r has no prefix length: without it the address would be a /%d host route. Write'
            ' ADDRESS/PREFIX, for example %s/24.' % (option, text, interface.network.prefixlen, interface.ip),
            **{option: text})
    _no_scope(text, option)
    return interface


def _no_scope(text, option):
    """Refuse an IPv6 scope id (``fe80::1%eth0``): ``ipaddress`` keeps any text after ``%`` (newlines, ``[``,
    ``=``), which would reach the files verbatim; the bridge is the address's link anyway."""
    if '%' in str(text):
        raise ValidationError(
            'addressing.%s: %r has a scope id (the part from %%): configuration files do not carry one, the'
            ' address is on the bridge. Write it without the %%... part, for example %s.'
            % (option, text, str(text).split('%', 1)[0].strip()), **{option: text})


def _gateway(text, option, version):
    try:
        address = ipaddress.ip_address(str(text).strip())
    except ValueError:
        raise ValidationError('addressing.%s: %r is not an IPv%d address.' % (option, text, version),
                              **{option: text})
    _no_scope(text, option)
    if address.version != version:
        raise ValidationError('addressing.%s: %s is an IPv%d address; %s takes IPv%d.'
                              % (option, address, address.version, option, version), **{option: text})
    return address


def _addressing_model(addressing, bridge_name):
    mode = addressing.get('mode') or 'none'
    if mode not in ADDRESSING_MODES:
        raise ValidationError('addressing.mode: %r is not one of %s.' % (mode, ', '.join(ADDRESSING_MODES)),
                              mode=mode)
    addresses = addressing.get('addresses') or []
    gateways = dict((option, addressing.get(option)) for option in ('gateway4', 'gateway6'))
    if mode != 'static':
        given = [option for option, value in [('addresses', addresses)] + sorted(gateways.items()) if value]
        if given:
            raise ValidationError(
                'addressing.%s is only used with addressing mode static (mode is %s). Remove it, or set mode: static.'
                % (given[0], mode), mode=mode)
        return dict(mode=mode, addresses=[], gateway4=None, gateway6=None)
    if not addresses:
        raise ValidationError(
            'addressing mode static needs addresses: the addresses of %s with their prefix length, for example'
            ' [192.0.2.10/24].' % bridge_name, mode=mode)
    interfaces = [_address(text, 'addresses') for text in addresses]
    seen = set()
    for interface in interfaces:
        if interface.ip in seen:
            raise ValidationError('addressing.addresses: %s is listed twice.' % interface.ip,
                                  addresses=addresses)
        seen.add(interface.ip)
    model = dict(mode=mode, addresses=[str(interface) for interface in interfaces], gateway4=None, gateway6=None)
    for option, version in (('gateway4', 4), ('gateway6', 6)):
        if gateways[option] is None:
            continue
        gateway = _gateway(gateways[option], option, version)
        same_family = [interface for interface in interfaces if interface.version == version]
        if not any(gateway in interface.network for interface in same_family) and not gateway.is_link_local:
            raise ValidationError(
                'addressing.%s: %s is not on a subnet of %s (%s): the gateway must be reachable on the link.'
                ' Fix the gateway or add an address on its subnet.'
                % (option, gateway, bridge_name, ', '.join(str(i) for i in same_family) or 'no IPv%d address'
                   % version), **{option: str(gateway)})
        model[option] = str(gateway)
    return model


def _within(option, build, *args):
    """Run ``build``; a refusal names the option it came from (``bridge: ...``, ``port: ...``)."""
    try:
        return build(*args)
    except ValidationError as error:
        raise ValidationError('%s: %s' % (option, error.msg), **error.details)


def validate(bridge, port, addressing):
    """The three options -> the model (see the module docstring). Raises :class:`ValidationError`."""
    bridge_model = _within('bridge', _bridge_model, bridge or {})
    port = port or {}
    if not port.get('name'):
        raise ValidationError('port.name is required: the interface to persist as the port of %s, e.g. eth0.'
                              % bridge_model['name'])
    port_model = _within('port', _port_model, port, bridge_model['name'])
    return dict(bridge=bridge_model, port=port_model,
                addressing=_addressing_model(addressing or {}, bridge_model['name']))
