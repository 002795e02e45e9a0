# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Commit-confirm checkpoints (``net_checkpoint``): snapshot, differences, restore plan, restore.

- :func:`read_snapshot` reads the runtime state of the covered interfaces through :class:`_netlink.Netlink`
  (kernel-filtered reads only): existence and kind, master, admin state, MAC, MTU, global addresses, the routes
  through each of them that do not follow an address by themselves (default routes included), bridge attributes
  and bridge-port attributes in the option names and units of ``linux_bridge`` / ``bridge_port``; plus the
  namespace's default routes through interfaces that are not covered. Plain JSON-able data.
- :func:`differences` compares a snapshot with a later read, one line of words per difference.
- :func:`plan_restore` is pure: snapshot + current state -> ordered steps (plain data), make-before-break in the
  order ``bridge_port addresses: migrate`` uses in either direction (``_port._plan_join`` / ``_plan_release``):
  links back first (a deleted bridge re-created, MAC/MTU/admin up/bridge attributes), then the addresses back on
  their interface (IPv6 without DAD), ports back into their bridge, the routes replaced onto their interface,
  and only then what the snapshot did not have goes: addresses, routes, port attributes, admin down, ports
  released LAST, and a bridge the snapshot did not have deleted last of all (only when no port it did not know is
  left in it). One kernel request per step.
- :func:`restore` runs plan -> apply -> read again until nothing differs (a few rounds at most), best effort: a
  failed request is logged and the next ones still run (the point is to get the host back, not all-or-nothing).

The watchdog (:mod:`_watchdog`) calls :func:`restore` inside the detached process; the module uses the rest.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kvmnet.bridge.plugins.module_utils._bridge import (
    BRIDGE_ATTRS,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._bridge import (
    kernel_request as bridge_kernel_request,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    KvmnetError,
    already_gone_is_done,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import (
    address_text,
    global_addresses,
    movable_routes,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._port import (
    PORT_ATTRS,
    port_kernel_request,
    route_label,
)

SNAPSHOT_VERSION = 1
ROUTE_FIELDS = ('family', 'dst', 'dst_len', 'gateway', 'prefsrc', 'priority', 'table', 'protocol', 'scope', 'type')
RESTORE_ROUNDS = 3


# ---- reading -------------------------------------------------------------------------------------------------

def _route(route, dev):
    result = dict((key, route.get(key)) for key in ROUTE_FIELDS)
    result['dev'] = dev
    return result


def read_interface(netlink, name):
    """The state of interface ``name`` (see the module docstring); ``dict(name, exists=False)`` when absent."""
    link = netlink.get_link(name)
    if link is None:
        return dict(name=name, exists=False)
    master = netlink.get_link_by_index(link['master']) if link.get('master') else None
    state = dict(
        name=name, exists=True, kind=link.get('kind'), index=link['index'],
        master=master['name'] if master is not None else None,
        up=bool(link.get('up')), mac=link.get('address'), mtu=link.get('mtu'),
        addresses=sorted(address_text(address) for address in global_addresses(netlink.addresses(link['index']))),
        routes=sorted((_route(route, name) for route in movable_routes(netlink.routes(link['index']))),
                      key=route_key),
    )
    if link.get('kind') == 'bridge':
        state['bridge'] = dict((attr.option, attr.from_kernel(link['bridge'][attr.nla]))
                               for attr in BRIDGE_ATTRS if link['bridge'].get(attr.nla) is not None)
    if link.get('port') is not None:
        state['port'] = dict((attr.option, attr.from_kernel(link['port'][attr.nla]))
                             for attr in PORT_ATTRS if link['port'].get(attr.nla) is not None)
    return state


def read_snapshot(netlink, names):
    """The snapshot of ``names`` (a list of interface names), plus the default routes through other interfaces."""
    interfaces = dict((name, read_interface(netlink, name)) for name in names)
    covered = set(index_of(interfaces, name) for name in names) - set([None])
    other = []
    names_by_index = {}
    for route in movable_routes(netlink.default_routes()):
        if route.get('oif') in covered or route.get('oif') is None:
            continue
        if route['oif'] not in names_by_index:
            link = netlink.get_link_by_index(route['oif'])
            names_by_index[route['oif']] = link['name'] if link is not None else None
        if names_by_index[route['oif']] is not None:
            other.append(_route(route, names_by_index[route['oif']]))
    return dict(version=SNAPSHOT_VERSION, names=list(names), interfaces=interfaces,
                other_routes=sorted(other, key=route_key))


def index_of(interfaces, name):
    state = interfaces.get(name) or {}
    return state.get('index') if state.get('exists') else None


def read_current(netlink, snapshot):
    """What :func:`plan_restore` needs now: the covered interfaces as in a snapshot, the interfaces that are not
    covered but hold an address of the snapshot now (``strays``: name -> those addresses), and the ports of each
    covered bridge (``ports``: name -> port names), and the names of every interface (``links``)."""
    current = read_snapshot(netlink, snapshot['names'])
    wanted = set(address for state in snapshot['interfaces'].values() for address in state.get('addresses') or [])
    strays = {}
    covered = set(snapshot['names'])
    links = netlink.links()
    for link in links if wanted else ():
        if link.get('name') in covered:
            continue
        found = sorted(address_text(address) for address in global_addresses(netlink.addresses(link['index']))
                       if address_text(address) in wanted)
        if found:
            strays[link['name']] = found
    ports = {}
    for name, state in current['interfaces'].items():
        if state.get('exists') and state.get('kind') == 'bridge':
            ports[name] = sorted(link['name'] for link in netlink.ports(state['index']))
    current.update(strays=strays, ports=ports, links=sorted(link['name'] for link in links if link.get('name')))
    return current


# ---- comparing -----------------------------------------------------------------------------------------------

def route_key(route):
    """What makes a route the same route: destination, gateway, metric, table, interface."""
    return (route['family'], route.get('dst') or '', route['dst_len'], route.get('gateway') or '',
            route.get('priority') or 0, route.get('table') or 0, route.get('dev') or '')


def route_words(route):
    """``default via 10.0.0.1 metric 50 dev eth0``."""
    return '%s dev %s' % (route_label(route), route.get('dev'))


def _wanted_routes(snapshot):
    routes = []
    for name in snapshot['names']:
        routes += snapshot['interfaces'][name].get('routes') or []
    return routes + list(snapshot.get('other_routes') or [])


def _current_routes(current):
    routes = []
    for name in current['names']:
        routes += current['interfaces'][name].get('routes') or []
    return routes + list(current.get('other_routes') or [])


def summary(snapshot):
    """The snapshot as the module returns it: per interface, routes as words, no kernel indexes."""
    result = {}
    for name in snapshot['names']:
        state = dict((key, value) for key, value in snapshot['interfaces'][name].items() if key != 'index')
        if 'routes' in state:
            state['routes'] = [route_label(route) for route in state['routes']]
        result[name] = state
    result_routes = [route_words(route) for route in snapshot.get('other_routes') or []]
    return dict(interfaces=result, other_default_routes=result_routes)


def differences(snapshot, current):
    """How ``current`` (a :func:`read_snapshot` of the same names, later) differs from ``snapshot``: a list of
    sentences, empty when the covered state is as it was."""
    result = []
    for name in snapshot['names']:
        then, now = snapshot['interfaces'][name], current['interfaces'].get(name) or dict(exists=False)
        if not then['exists'] or not now.get('exists'):
            if then['exists'] != bool(now.get('exists')):
                result.append('%s: %s, was %s' % (name, 'exists (kind %s)' % now.get('kind') if now.get('exists')
                                                  else 'does not exist', 'absent' if not then['exists']
                                                  else 'present (kind %s)' % then.get('kind')))
            continue
        for key in ('kind', 'master', 'up', 'mac', 'mtu'):
            if then.get(key) != now.get(key):
                result.append('%s: %s is %s, was %s' % (name, key, now.get(key), then.get(key)))
        for key in ('bridge', 'port'):
            before, after = then.get(key) or {}, now.get(key) or {}
            if (key in then) != (key in now):
                continue  # a port that left or joined: said by master already
            for option in sorted(set(before) | set(after)):
                if before.get(option) != after.get(option):
                    result.append('%s: %s %s is %s, was %s' % (name, key, option, after.get(option),
                                                               before.get(option)))
        for address in sorted(set(then.get('addresses') or []) - set(now.get('addresses') or [])):
            result.append('%s: address %s is missing' % (name, address))
        for address in sorted(set(now.get('addresses') or []) - set(then.get('addresses') or [])):
            result.append('%s: address %s was not there' % (name, address))
    wanted = dict((route_key(route), route) for route in _wanted_routes(snapshot))
    have = dict((route_key(route), route) for route in _current_routes(current))
    covered = set(snapshot['names'])
    for key in sorted(set(wanted) - set(have)):
        result.append('route %s is missing' % route_words(wanted[key]))
    for key in sorted(set(have) - set(wanted)):
        if have[key]['dev'] in covered:
            result.append('route %s was not there' % route_words(have[key]))
    for name, addresses in sorted((current.get('strays') or {}).items()):
        result.append('%s (not covered) holds %s of the snapshot' % (name, ', '.join(addresses)))
    return result


# ---- the restore plan ----------------------------------------------------------------------------------------

def _step(action, interface, attributes=None, data=None):
    return dict(action=action, interface=interface, attributes=dict(attributes or {}), data=dict(data or {}))


def describe(step):
    """One line for the log: ``add_address eth0 {"address": "10.0.0.2/24"}``."""
    parts = ['%s=%s' % (key, step['attributes'][key]) for key in sorted(step['attributes'])]
    return '%s %s%s' % (step['action'], step['interface'], (' ' + ', '.join(parts)) if parts else '')


def _address_dict(text):
    address, prefixlen = text.rsplit('/', 1)
    return dict(family=6 if ':' in address else 4, address=address, prefixlen=int(prefixlen))


def _bridge_steps(name, then, now):
    """Bridge attributes back; STP off in its own request first (the kernel applies FORWARD_DELAY before
    STP_STATE within one request, and refuses a delay below 2 s while STP is on: ``_bridge.plan`` does the same)."""
    before, after = then.get('bridge') or {}, now.get('bridge') or {}
    changes = dict((option, value) for option, value in before.items() if after.get(option) != value)
    steps = []
    if changes.get('stp') is False:
        steps.append(_step('set_bridge', name, dict(stp=False)))
        del changes['stp']
    if changes:
        steps.append(_step('set_bridge', name, changes))
    return steps


def plan_restore(snapshot, current):
    """Ordered steps that bring ``current`` (:func:`read_current`) back to ``snapshot``, and notes (a list of
    sentences) about what cannot be restored. Pure. See the module docstring for the order and its reasons."""
    names = snapshot['names']
    snap, now = snapshot['interfaces'], current['interfaces']
    notes = []
    usable = []  # covered interfaces that exist now (or will, a bridge re-created) with the kind they had
    make, move, brk, late, release, delete = [], [], [], [], [], []
    for name in sorted(names, key=lambda item: snap[item].get('kind') != 'bridge'):  # bridges first
        then, here = snap[name], now.get(name) or dict(exists=False)
        if then['exists'] and not here['exists']:
            if then.get('kind') != 'bridge':
                notes.append('%s (kind %s) is gone and cannot be re-created: only a bridge can.'
                             % (name, then.get('kind') or 'physical'))
                continue
            attributes = dict(then.get('bridge') or {}, mac=then['mac'], mtu=then['mtu'])
            make.append(_step('create_bridge', name, attributes))
            if then['up']:
                make.append(_step('set_link', name, dict(up=True)))
            usable.append(name)
            here = dict(exists=True, kind='bridge', addresses=[], routes=[], master=None, up=then['up'],
                        mac=then['mac'], mtu=then['mtu'], bridge=dict(then.get('bridge') or {}))
            now = dict(now)
            now[name] = here
            continue
        if not then['exists']:
            continue
        if here.get('kind') != then.get('kind'):
            notes.append('%s is now of kind %s, was %s: left alone.' % (name, here.get('kind'), then.get('kind')))
            continue
        usable.append(name)

    for name in usable:
        then, here = snap[name], now[name]
        gains = set(then['addresses']) - set(here.get('addresses') or [])
        loses = set(here.get('addresses') or []) - set(then['addresses'])
        if then['mac'] != here.get('mac') and here.get('mac') is not None:
            # the MAC the LAN knows for the addresses goes with them: set before they come back, after they go
            (late if loses and not gains else make).append(_step('set_link', name, dict(mac=then['mac'])))
        if then['mtu'] != here.get('mtu') and here.get('mtu') is not None:
            make.append(_step('set_link', name, dict(mtu=then['mtu'])))
        if then['up'] and not here.get('up'):
            make.append(_step('set_link', name, dict(up=True)))
        elif not then['up'] and here.get('up'):
            late.append(_step('set_link', name, dict(up=False)))
        if then.get('kind') == 'bridge' and 'bridge' in here:
            make += _bridge_steps(name, then, here)
    for name in usable:  # the addresses back, before anything is taken away
        then, here = snap[name], now[name]
        for text in then['addresses']:
            if text not in (here.get('addresses') or []):
                make.append(_step('add_address', name, dict(address=text), dict(address=_address_dict(text))))
    for name in usable:  # ports back into their bridge, with their attributes (joining resets them)
        then, here = snap[name], now[name]
        if then.get('master') and then['master'] != here.get('master'):
            make.append(_step('enslave', name, dict(bridge=then['master'])))
            if then.get('port'):
                make.append(_step('set_port', name, dict(then['port'])))
        elif then.get('master') and then.get('port') and here.get('port') is not None:
            changes = dict((option, value) for option, value in then['port'].items()
                           if here['port'].get(option) != value)
            if changes:
                brk.append(_step('set_port', name, changes))

    have_keys = set(route_key(route) for route in _current_routes(current))
    wanted = _wanted_routes(snapshot)
    wanted_keys = set(route_key(route) for route in wanted)
    usable_set = set(usable)
    for route in wanted:
        if route_key(route) in have_keys:
            continue
        if route['dev'] not in usable_set and (route['dev'] in snap or route['dev'] not in current['links']):
            notes.append('route %s cannot be restored: %s is not usable.' % (route_words(route), route['dev']))
            continue
        move.append(_step('replace_route', route['dev'], dict(route=route_label(route)), dict(route=route)))

    for name in usable:
        then, here = snap[name], now[name]
        for text in here.get('addresses') or []:
            if text not in then['addresses']:
                brk.append(_step('delete_address', name, dict(address=text), dict(address=_address_dict(text))))
        for route in here.get('routes') or []:
            if route_key(route) not in wanted_keys:
                brk.append(_step('delete_route', name, dict(route=route_label(route)), dict(route=route)))
    for name in names:  # an interface the snapshot did not have: what it carries now goes before its ports leave
        here = now.get(name) or dict(exists=False)
        if snap[name]['exists'] or not here.get('exists'):
            continue
        for route in here.get('routes') or []:
            if route_key(route) not in wanted_keys:
                brk.append(_step('delete_route', name, dict(route=route_label(route)), dict(route=route)))
        for text in here.get('addresses') or []:
            brk.append(_step('delete_address', name, dict(address=text), dict(address=_address_dict(text))))
    for name, addresses in sorted((current.get('strays') or {}).items()):
        for text in addresses:
            brk.append(_step('delete_address', name, dict(address=text), dict(address=_address_dict(text))))

    released = set()
    for name in usable:  # ports out LAST: by then their addresses and routes are back where they were
        then, here = snap[name], now[name]
        if not then.get('master') and here.get('master'):
            release.append(_step('release', name, dict(bridge=here['master'])))
            released.add(name)
    for name in names:
        then, here = snap[name], now.get(name) or dict(exists=False)
        if then['exists'] or not here.get('exists'):
            continue
        if here.get('kind') != 'bridge':
            notes.append('%s (kind %s) did not exist at the checkpoint; only a bridge is deleted: left in place.'
                         % (name, here.get('kind') or 'physical'))
            continue
        left = [port for port in (current.get('ports') or {}).get(name, []) if port not in released]
        if left:
            notes.append('%s did not exist at the checkpoint but has ports the checkpoint does not cover (%s):'
                         ' left in place.' % (name, ', '.join(left)))
            continue
        delete.append(_step('delete_bridge', name))
    return make + move + brk + late + release + delete, notes


# ---- applying ------------------------------------------------------------------------------------------------

def _index(netlink, name):
    link = netlink.get_link(name)
    if link is None:
        raise KvmnetError('interface %r does not exist' % name)
    return link['index']


def apply_step(netlink, step):
    """Send the ONE request of ``step``. Raises :class:`KvmnetError` when the kernel refuses."""
    action, name, attributes, data = step['action'], step['interface'], step['attributes'], step['data']
    if action == 'create_bridge':
        request = bridge_kernel_request(attributes)
        netlink.add_link(name, 'bridge', address=request.get('address'), mtu=request.get('mtu'),
                         kind_data=request['kind_data'])
        return
    index = _index(netlink, name)
    if action == 'set_link':
        netlink.set_link(name, index, address=attributes.get('mac'), mtu=attributes.get('mtu'),
                         up=attributes.get('up'))
    elif action == 'set_bridge':
        netlink.set_link(name, index, kind='bridge', kind_data=bridge_kernel_request(attributes)['kind_data'])
    elif action == 'add_address':
        netlink.add_address(name, index, data['address'], nodad=True)
    elif action == 'enslave':
        netlink.set_master(name, index, _index(netlink, attributes['bridge']), attributes['bridge'])
    elif action == 'set_port':
        netlink.set_port(name, index, port_kernel_request(attributes))
    elif action == 'replace_route':
        netlink.route_to(data['route'], index, how='replace')
    elif action == 'delete_address':
        already_gone_is_done(lambda: netlink.delete_address(name, index, data['address']))()
    elif action == 'delete_route':
        already_gone_is_done(lambda: netlink.route_to(data['route'], index, how='delete'))()
    elif action == 'release':
        netlink.set_master(name, index, 0)
    elif action == 'delete_bridge':
        netlink.delete_link(name, index)
    else:
        raise ValueError('unknown restore step %r' % action)


def restore(netlink, snapshot, log, rounds=RESTORE_ROUNDS):
    """Bring the covered state back to ``snapshot``: plan, apply (best effort), read again, up to ``rounds`` times.

    ``log(line)`` receives one line per step and per round. Returns ``dict(applied, failed, notes, remaining)``:
    counts of requests sent and refused, the notes of the last plan, and :func:`differences` left at the end.
    """
    applied = failed = 0
    notes = []
    for number in range(1, rounds + 1):
        current = read_current(netlink, snapshot)
        steps, notes = plan_restore(snapshot, current)
        if not steps:
            break
        log('round %d: %d request(s)' % (number, len(steps)))
        for note in notes:
            log('  note: %s' % note)
        for step in steps:
            try:
                apply_step(netlink, step)
            except KvmnetError as exc:
                failed += 1
                log('  FAILED %s: %s' % (describe(step), exc.msg))
            else:
                applied += 1
                log('  ok %s' % describe(step))
    remaining = differences(snapshot, read_current(netlink, snapshot))
    return dict(applied=applied, failed=failed, notes=notes, remaining=remaining)
