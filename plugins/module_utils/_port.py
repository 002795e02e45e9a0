# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bridge-port logic without I/O: validate, normalise, diff, plan (``bridge_port``).

Same shape as ``_bridge``: state in the user's units under the option names, plans as plain steps that the module
binds to netlink calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kvmnet.bridge.plugins.module_utils._bridge import (
    _Attr,
    _bool_to_kernel,
    _kernel_to_bool,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError, require_bridge, where
from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import (
    ARPHRD_ETHER,
    ARPHRD_NAMES,
    address_text,
    global_addresses,
    movable_routes,
    route_text,
    wireless_refusal,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._names import validate_ifname

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

    if port is None:
        raise ValidationError('Interface %r does not exist%s. Create it (or fix the name) first.'
                              % (name, where(params.get('netns'))), name=name)
    require_bridge(bridge_name, bridge, params.get('netns'), 'a bridge port')
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
