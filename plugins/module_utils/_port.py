# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bridge-port logic without I/O: validate, normalise, diff, plan (``bridge_port``).

Same shape as ``_bridge``: state in the user's units under the option names, plans as plain steps that the module
binds to netlink calls. Every step is ONE kernel request and carries the data of its undo (one request too).

A step is ``dict(action, interface, attributes, revert, data)``:

- ``action``: set_mac, set_up, add_address, delete_address, delete_route, move_route, enslave, release,
  set_port, vlan_add, vlan_delete;
- ``interface``: the interface the request is about (a route's current interface for move_route);
- ``attributes``: what is shown in ``operations`` (user units);
- ``revert``: plain data of the undo (the value to set back, the entry to restore, the bridge to re-enter...);
  None only for ``set_port`` on a port that joins in the same plan: the release that undoes the join (the
  enslave step's undo) drops every port attribute with it, and the kernel's cost of a new port (from the link
  speed) cannot be written back;
- ``data``: what the request needs beyond the attributes (the address or route dict as read, ifindexes).
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

# What the kernel gives a port that joins (net/bridge/br_if.c new_nbp). ``cost`` is None: the kernel derives it
# from the link speed (2 for 10 Gbit/s, which veth reports; 4 for 1 Gbit/s; 100 when the speed is unknown), which
# netlink does not tell. ``stp_state`` is None: it follows the carrier and STP once the port is in.
PORT_JOIN_DEFAULTS = dict(cost=None, priority=32, hairpin=False, learning=True, unicast_flood=True,
                          mcast_flood=True, bpdu_guard=False, root_block=False, isolated=False, neigh_suppress=False,
                          stp_state=None)
# The VLAN entry a port gets when it joins a VLAN-filtering bridge (default_pvid 1, untagged).
DEFAULT_VLANS = (dict(vid=1, pvid=True, untagged=True),)

# Facts the plan may need beyond the links and the port's addresses, each read only when needed
# (:func:`reads_needed`): the bridge's addresses, the routes of the port and of the bridge, the other ports.
OPTIONAL_READS = ('bridge_addresses', 'routes', 'bridge_routes', 'bridge_ports')

MISSING_BRIDGE_WARNING = 'bridge %s does not exist yet; assuming an earlier task creates it (check mode)'


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
            raise ValidationError('vlans: vid=%s is out of range: VLAN ids are 1..4094 (0 and 4095 are reserved);'
                                  ' use one in that range.' % vid, vid=vid)
        if vid in seen:
            raise ValidationError('vlans: vid=%s is listed twice.' % vid, vid=vid)
        seen.add(vid)
        if vlan.get('pvid'):
            pvids.append(vid)
    if len(pvids) > 1:
        raise ValidationError('vlans: only one VLAN can be the PVID, got %s.' % ', '.join(str(vid) for vid in pvids),
                              pvids=pvids)


# ---- state ---------------------------------------------------------------------------------------------------

def route_label(route):
    """A route as shown in before/after: ``default via 10.0.0.1``, plus ``metric N`` and ``table T`` when set
    (the interface is the object the route is listed under)."""
    text = route_text(route)
    if route.get('priority'):
        text += ' metric %s' % route['priority']
    if route.get('table') not in (None, 254):
        text += ' table %s' % route['table']
    return text


def _labels(addresses=None, routes=None):
    result = {}
    if addresses is not None:
        result['addresses'] = sorted(address_text(address) for address in global_addresses(addresses))
    if routes is not None:
        result['routes'] = sorted(route_label(route) for route in movable_routes(routes))
    return result


def normalise_port(name, link, master, addresses, bridge, routes=None, vlans=None):
    """Normalised state of port ``name`` with respect to bridge ``bridge`` (the one the task is about).

    ``routes`` (the port's routes) and ``vlans`` (its VLAN entries) are included when they were read.
    """
    if link is None:
        return dict(name=name, exists=False, state='absent', bridge=None, mac=None, up=None, addresses=[])
    state = dict(
        name=name,
        exists=True,
        bridge=master['name'] if master and master['kind'] == 'bridge' else None,
        mac=link.get('address'),
        up=bool(link.get('up')),
    )
    state.update(_labels(addresses, routes))
    state['state'] = 'present' if bridge is not None and state['bridge'] == bridge else 'absent'
    if link.get('port') is not None:
        for attr in PORT_ATTRS:
            raw = link['port'].get(attr.nla)
            state[attr.option] = attr.from_kernel(raw) if raw is not None else None
        stp = link['port'].get('IFLA_BRPORT_STATE')
        state['stp_state'] = PORT_STP_STATES[stp] if stp is not None and stp < len(PORT_STP_STATES) else stp
    if vlans is not None:
        state['vlans'] = _canonical_vlans(vlans)
    if master is not None and master['kind'] != 'bridge':
        state['master'] = master['name']
    return state


def normalise_bridge_side(name, link, addresses=None, routes=None):
    """What ``bridge_port`` may change on the bridge: its MAC, and (when read) its global addresses and the routes
    through it. None when no bridge is concerned."""
    if name is None:
        return None
    state = dict(name=name, exists=link is not None, mac=link.get('address') if link is not None else None)
    state.update(_labels(addresses, routes))
    return state


def port_state(params, facts):
    """The port as ``before`` shows it, from the facts (the manager sets it as soon as they are read, so a refusal
    returns it too): with its routes when they were read, with its VLANs when O(vlans) is set and it is a port of
    the VLAN-filtering bridge."""
    port, master, bridge = facts['port'], facts.get('master'), facts.get('bridge')
    vlans = None
    if params.get('vlans') is not None and port is not None and master is not None and bridge is not None \
            and master['index'] == bridge['index']:
        vlans = facts.get('vlans')
    return normalise_port(params['name'], port, master, facts['port_addresses'],
                          params.get('bridge') or (master['name'] if master is not None else None),
                          facts.get('routes'), vlans)


def bridge_state(params, facts):
    """The bridge side as ``bridge_before`` shows it (None for a release that releases nothing)."""
    bridge = subject_bridge(params, facts)
    name = params['bridge'] if params['state'] == 'present' else (bridge['name'] if bridge is not None else None)
    return normalise_bridge_side(name, bridge, facts.get('bridge_addresses'), facts.get('bridge_routes'))


def predict_bridge(params, facts, steps):
    """``bridge_after`` predicted from the plan (check mode; the diff of a run that changed nothing)."""
    after = simulate(bridge_state(params, facts), steps)
    if after is not None and params['state'] == 'present' and facts['bridge'] is None:
        after['exists'] = True  # check mode: an earlier task is assumed to create it (see missing_bridge_warning)
    return after


def _canonical_vlans(entries):
    return [dict(vid=entry['vid'], pvid=bool(entry.get('pvid')), untagged=bool(entry.get('untagged')))
            for entry in sorted(entries, key=lambda entry: entry['vid'])]


def simulate(state, steps):
    """``state`` (a normalised port or bridge-side dict) after ``steps``: MAC, admin state, addresses and routes
    of that interface. The prediction of check mode, and the honest diff of the objects a plan touches."""
    if state is None:
        return None
    result = dict(state)
    name = state['name']
    for step in steps:
        attributes = step['attributes']
        if step['action'] == 'set_mac' and step['interface'] == name:
            result['mac'] = attributes['mac']
        elif step['action'] == 'set_up' and step['interface'] == name:
            result['up'] = True
        elif step['action'] == 'add_address' and step['interface'] == name and 'addresses' in result:
            result['addresses'] = sorted(set(result['addresses']) | set([attributes['address']]))
        elif step['action'] == 'delete_address' and step['interface'] == name and 'addresses' in result:
            result['addresses'] = [text for text in result['addresses'] if text != attributes['address']]
        elif step['action'] in ('delete_route', 'move_route') and 'routes' in result:
            label = route_label(step['data']['route'])
            if step['interface'] == name:
                result['routes'] = [text for text in result['routes'] if text != label]
            if step['action'] == 'move_route' and attributes['to'] == name:
                result['routes'] = sorted(set(result['routes']) | set([label]))
    return result


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


# ---- what to read --------------------------------------------------------------------------------------------

def subject_bridge(params, facts):
    """The bridge the task changes: ``bridge`` for state present; for state absent the bridge the port is being
    released from (None when the port is in no bridge the task is about)."""
    if params['state'] == 'present':
        return facts['bridge']
    port, master = facts['port'], facts.get('master')
    if port is None or master is None or master['kind'] != 'bridge':
        return None
    if params.get('bridge') is not None:
        bridge = facts['bridge']
        return bridge if bridge is not None and bridge['index'] == master['index'] else None
    return master


def reads_needed(params, facts):
    """The :data:`OPTIONAL_READS` the plan needs, given the facts read so far (call again after reading them:
    the routes of a release depend on the bridge's addresses). Nothing beyond the links and the port's addresses
    for ``fail`` on a port without addresses, for a port that is already in, or for a release that releases
    nothing."""
    port = facts['port']
    if port is None:
        return ()
    mode = params.get('addresses') or 'fail'
    needed = []
    if params['state'] == 'present':  # a missing bridge has nothing to read: the reader returns []
        if not global_addresses(facts.get('port_addresses') or []) or mode == 'fail':
            return ()
        if mode == 'migrate':
            needed += ['bridge_addresses', 'routes', 'bridge_routes']
        else:
            needed.append('routes')
        return tuple(needed)
    if subject_bridge(params, facts) is None:
        return ()
    needed.append('bridge_addresses')
    if 'bridge_addresses' in facts and global_addresses(facts['bridge_addresses']):
        if mode == 'migrate':
            needed += ['routes', 'bridge_routes']
        elif mode == 'flush':
            needed.append('bridge_routes')
        else:
            needed.append('bridge_ports')
    return tuple(needed)


# ---- plans ---------------------------------------------------------------------------------------------------

def plan_port(params, facts):
    """Steps that put ``params['name']`` into (or out of) ``params['bridge']``.

    ``facts``: port (link dict or None), bridge (link dict of ``params['bridge']`` or None), master (link dict of
    the port's current master or None), port_addresses, wireless (bool), vlans (current VLAN entries of the port,
    or None when the bridge does not filter VLANs), check_mode (bool; a missing bridge is then predicted as a new
    one instead of refused), and those of :func:`reads_needed` that were read: bridge_addresses (of the bridge the
    task changes), routes (the port's), bridge_routes, bridge_ports (names of the bridge's other ports).
    Returns ``(steps, predicted_after)`` (the port); raises ValidationError for every refusal, before anything
    changes. See the module docstring for the step format.
    """
    if params['state'] == 'absent':
        return _plan_release(params, facts)
    return _plan_join(params, facts)


def assumed_bridge(name):
    """In check mode, the bridge an earlier task of the play is assumed to create: a new bridge as
    kvmnet.bridge.linux_bridge makes it (no address, no port; its MAC is not known yet)."""
    return dict(name=name, index=None, kind='bridge', address=None, bridge={}, port=None, master=None, up=True,
                link_type=ARPHRD_ETHER, assumed=True)


def _check_joinable(params, facts, bridge):
    name, bridge_name = params['name'], params['bridge']
    port, master = facts['port'], facts['master']
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
    if params.get('vlans') is not None and facts['vlans'] is None and not bridge.get('assumed'):
        raise ValidationError(
            'vlans needs VLAN filtering on bridge %r, which is off. Turn it on first (kvmnet.bridge.linux_bridge'
            ' with vlan_filtering: true), or leave vlans unset.' % bridge_name, bridge=bridge_name)


def _step(action, interface, attributes, revert, data=None):
    return dict(action=action, interface=interface, attributes=attributes, revert=revert, data=data or {})


def _address_steps(action, interface, addresses, skip=()):
    return [_step(action, interface, dict(address=address_text(address)), dict(address=address_text(address)),
                  dict(address=address))
            for address in addresses if address_text(address) not in skip]


def _route_steps(action, interface, routes, to=None):
    steps = []
    for route in movable_routes(routes):
        if action == 'move_route':
            steps.append(_step(action, interface, dict(route=route_text(route), to=to), dict(to=interface),
                               dict(route=route)))
        else:
            steps.append(_step(action, interface, dict(route=route_text(route)), dict(route=route_text(route)),
                               dict(route=route)))
    return steps


def _plan_join(params, facts):
    name, bridge_name = params['name'], params['bridge']
    port, master = facts['port'], facts['master']
    bridge = facts['bridge']
    if bridge is None and facts.get('check_mode'):
        bridge = assumed_bridge(bridge_name)
    _check_joinable(params, facts, bridge)
    before = port_state(params, facts)

    addresses = global_addresses(facts['port_addresses'])
    mode = params.get('addresses') or 'fail'
    if addresses and mode == 'fail':
        raise ValidationError(
            'Interface %r carries IP addresses (%s). In a bridged setup the port carries no IP: the bridge does.'
            ' Set addresses: migrate to move them and their routes to %r without a gap, or addresses: flush to'
            ' remove them.' % (name, ', '.join(address_text(address) for address in addresses), bridge_name),
            addresses=[address_text(address) for address in addresses])

    steps = []
    if addresses and mode == 'migrate':
        # Make before break: the bridge takes the port's MAC (same DHCP identity, no ARP change for peers)
        # and its addresses (IPv6 without DAD), THEN the port joins, THEN routes move, THEN the port is flushed.
        if bridge['address'] != port['address']:
            steps.append(_step('set_mac', bridge_name, dict(mac=port['address']), dict(mac=bridge['address'])))
        on_bridge = set(address_text(address) for address in facts.get('bridge_addresses') or [])
        steps += _address_steps('add_address', bridge_name, addresses, skip=on_bridge)
    elif addresses and mode == 'flush':
        # the routes first: the kernel would drop the IPv4 ones with the last address, and then no undo could
        # bring them back one request at a time
        steps += _route_steps('delete_route', name, facts.get('routes') or [])
        steps += _address_steps('delete_address', name, addresses)

    joins = master is None or master['index'] != bridge['index']
    if joins:
        steps.append(_step('enslave', name, dict(bridge=bridge_name),
                           dict(bridge=master['name'] if master else None),
                           dict(master_index=bridge['index'], previous_master_index=master['index'] if master else 0)))
        current_attrs = dict(PORT_JOIN_DEFAULTS)  # a port that joins starts from the kernel's defaults
    else:
        current_attrs = dict((option, before.get(option)) for option in PORT_STATE_OPTIONS)
    if params.get('up', True) and not port.get('up'):
        steps.append(_step('set_up', name, dict(up=True), dict(up=False)))
    wanted = dict((option, params[option]) for option in PORT_STATE_OPTIONS if params.get(option) is not None)
    changes = dict((option, value) for option, value in wanted.items() if current_attrs.get(option) != value)
    if changes:
        revert = None if joins else dict((option, current_attrs[option]) for option in changes
                                         if current_attrs.get(option) is not None)
        steps.append(_step('set_port', name, changes, revert))

    vlans_after = None
    if params.get('vlans') is not None:
        current = list(DEFAULT_VLANS) if joins or facts['vlans'] is None else facts['vlans']
        by_vid = dict((entry['vid'], entry) for entry in _canonical_vlans(current))
        add, delete = vlan_plan(params['vlans'], current)
        for entry in add:
            steps.append(_step('vlan_add', name, entry, dict(previous=by_vid.get(entry['vid'])), dict(entry=entry)))
        for entry in delete:
            steps.append(_step('vlan_delete', name, entry, dict(entry=entry), dict(entry=entry)))
        vlans_after = _canonical_vlans(params['vlans'])

    if addresses and mode == 'migrate':
        steps += _route_steps('move_route', name, facts.get('routes') or [], to=bridge_name)
        steps += _address_steps('delete_address', name, addresses)

    after = simulate(dict((key, value) for key, value in before.items()
                          if key not in PORT_JOIN_DEFAULTS and key != 'master'), steps)
    after.update(state='present', bridge=bridge_name)
    after.update(current_attrs if joins else dict((key, before.get(key)) for key in PORT_JOIN_DEFAULTS))
    after.update(wanted)
    if vlans_after is not None:
        after['vlans'] = vlans_after
    return steps, after


def _release_refusal(params, bridge, addresses):
    name, texts = params['name'], [address_text(address) for address in addresses]
    return ValidationError(
        'Releasing %r would leave bridge %r%s with IP addresses (%s) but no port: the host would lose the network'
        ' behind %r. Set addresses: migrate to move the addresses and the routes through %r back to %r first'
        ' (make-before-break), or addresses: flush to remove them from %r; or put another port into %r first.'
        % (name, bridge['name'], where(params.get('netns')), ', '.join(texts), name, bridge['name'], name,
           bridge['name'], bridge['name']),
        bridge=bridge['name'], addresses=texts)


def _plan_release(params, facts):
    name, port = params['name'], facts['port']
    bridge = subject_bridge(params, facts)
    before = port_state(params, facts)
    if bridge is None:
        return [], before
    mode = params.get('addresses') or 'fail'
    addresses = global_addresses(facts.get('bridge_addresses') or [])
    steps = []
    if addresses and mode == 'fail' and not facts.get('bridge_ports'):
        raise _release_refusal(params, bridge, addresses)
    if addresses and mode == 'migrate':
        # The reverse of joining, make-before-break: the port takes the bridge's MAC (the MAC the LAN knows for
        # these addresses) and its addresses (IPv6 without DAD) while still in; the routes move to the port; the
        # bridge's addresses go; the port leaves LAST (see docs/bridge_port.md for the measured order).
        if port['address'] != bridge['address']:
            steps.append(_step('set_mac', name, dict(mac=bridge['address']), dict(mac=port['address'])))
        on_port = set(address_text(address) for address in global_addresses(facts['port_addresses']))
        steps += _address_steps('add_address', name, addresses, skip=on_port)
        steps += _route_steps('move_route', bridge['name'], facts.get('bridge_routes') or [], to=name)
        steps += _address_steps('delete_address', bridge['name'], addresses)
    elif addresses and mode == 'flush':
        steps += _route_steps('delete_route', bridge['name'], facts.get('bridge_routes') or [])
        steps += _address_steps('delete_address', bridge['name'], addresses)
    steps.append(_step('release', name, dict(bridge=bridge['name']), dict(bridge=bridge['name']),
                       dict(master_index=0, previous_master_index=bridge['index'])))
    after = dict((key, value) for key, value in before.items() if key not in PORT_JOIN_DEFAULTS
                 and key != 'vlans')
    after = simulate(after, steps)
    after.update(state='absent', bridge=None)
    return steps, after


def missing_bridge_warning(params, facts):
    """The check-mode warning for a bridge that does not exist yet (None when there is nothing to warn about)."""
    if params['state'] == 'present' and facts['bridge'] is None and facts.get('check_mode') \
            and facts['port'] is not None:
        return MISSING_BRIDGE_WARNING % params['bridge']
    return None
