# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interface inventory (host_interfaces_info): per-interface facts from one link dump, the addresses, the
default routes and sysfs; the interface that carries the Ansible connection; and the uplink decision.

Pure functions over plain dicts (the ``_netlink`` shapes, :func:`_iface.sysfs_entry`, ``_managers`` results), so
the decision table is tested without a kernel.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError, where
from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import (
    ARPHRD_ETHER,
    ARPHRD_LOOPBACK,
    VIRTUAL_KINDS,
    address_text,
    classify,
    global_addresses,
    link_type_name,
    parse_iw_dev,
    wireless_refusal,
)

RT_TABLE_MAIN = 254
AUTO = 'auto'


# ---- the facts of each interface ------------------------------------------------------------------------------

def four_addr_states(sysfs, iw_text, iw_problem):
    """name -> (wireless_4addr, note) for the wireless interfaces of ``sysfs``."""
    listed = parse_iw_dev(iw_text) if iw_text is not None else {}
    result = {}
    for name, entry in sysfs.items():
        if not entry['wireless']:
            continue
        if name in listed:
            result[name] = (listed[name], None)
        elif iw_problem == 'missing':
            result[name] = (None, '4addr unknown: iw is not installed, so nl80211 was not asked')
        elif iw_problem == 'failed':
            result[name] = (None, '4addr unknown: `iw dev` failed (nl80211 did not answer)')
        else:
            result[name] = (None, '4addr unknown: nl80211 (`iw dev`) did not list this interface')
    return result


def interface_facts(links, addresses, routes, sysfs, four_addr=None):
    """name -> the facts of each interface (without manager and connection, added by :func:`inventory`).

    ``links``: ``Netlink.links()``; ``addresses``: ifindex -> ``Netlink.addresses()``; ``routes``:
    ``Netlink.default_routes()``; ``sysfs``: name -> :func:`_iface.sysfs_entry` (an entry whose ifindex differs
    from the link's belongs to another namespace's sysfs and is ignored); ``four_addr``: from
    :func:`four_addr_states`.
    """
    four_addr = four_addr or {}
    by_index = dict((link['index'], link) for link in links)
    result = {}
    for link in links:
        entry = sysfs.get(link['name'])
        notes = []
        if entry is not None and entry['ifindex'] != link['index']:
            entry = None
        if entry is None:
            notes.append('sysfs does not show this interface (another network namespace\'s /sys?): physical,'
                         ' virtual and wireless were told from netlink alone')
        kind, physical = classify(link, entry)
        master = by_index.get(link['master']) if link['master'] else None
        up = bool(link['up'])
        carrier = None
        if link.get('carrier') is not None and up:
            carrier = bool(link['carrier'])
        elif not up:
            notes.append('carrier unknown: the interface is down')
        wireless_4addr = None
        if kind == 'wireless':
            wireless_4addr, note = four_addr.get(link['name'], (None, '4addr unknown'))
            if note:
                notes.append(note)
        families = set(route['family'] for route in routes if route.get('oif') == link['index'])
        result[link['name']] = dict(
            name=link['name'],
            index=link['index'],
            kind=kind,
            link_kind=link.get('kind'),
            link_type=link_type_name(link['link_type']),
            physical=physical,
            mac=link.get('address'),
            perm_mac=link.get('perm_address'),
            carrier=carrier,
            operstate=str(link.get('operstate') or 'unknown').lower(),
            up=up,
            mtu=link.get('mtu'),
            master=master['name'] if master else None,
            bridge_port=bool(master and master.get('kind') == 'bridge'),
            addresses=[address_text(address) for address in global_addresses(addresses.get(link['index'], []))],
            default_route=dict(ipv4=4 in families, ipv6=6 in families),
            carries_connection=False,
            phy=entry['phy'] if entry is not None and kind == 'wireless' else None,
            wireless_4addr=wireless_4addr,
            manager=None,
            notes=notes,
        )
    return result


def main_default_routes(links, routes):
    """{ipv4: name|None, ipv6: name|None}: the interface of the main table's preferred (lowest metric) default
    route per family."""
    names = dict((link['index'], link['name']) for link in links)
    result = {}
    for family, key in ((4, 'ipv4'), (6, 'ipv6')):
        candidates = [route for route in routes
                      if route['family'] == family and route['table'] == RT_TABLE_MAIN and route.get('oif') in names]
        candidates.sort(key=lambda route: route.get('priority') or 0)
        result[key] = names[candidates[0]['oif']] if candidates else None
    return result


# ---- the Ansible connection ------------------------------------------------------------------------------------

def normalise_address(value, option='connection_address'):
    """An IP address as given by a user or Ansible (``[fe80::1%eth0]``, ``::ffff:10.0.0.5``) -> (ip_address,
    zone) or None when empty. Anything else is refused, naming the value."""
    text = str(value or '').strip()
    if not text:
        return None
    bare = text[1:-1] if text.startswith('[') and text.endswith(']') else text
    bare, dummy, zone = bare.partition('%')
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        raise ValidationError(
            '%s %r is not an IP address. Pass the address the controller connected to on the target, for example'
            ' "{{ ansible_env.SSH_CONNECTION.split()[2] }}" (the SSH connection\'s local address), or leave it'
            ' out to use the interface of the default route.' % (option, value), **{option: value})
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address, zone or None


def find_connection(links, addresses, default_route, connection_address):
    """The interface that carries the Ansible connection: {interface, address, how, detail}.

    ``how`` is 'connection_address' when ``connection_address`` is an address of an interface (not the loopback:
    a local or port-forwarded connection says nothing about the NICs), else 'default_route' (the interface of
    the main table's default route, the address's family first), else None.
    """
    wanted = normalise_address(connection_address)
    names = dict((link['index'], link['name']) for link in links)
    loopback = set(link['index'] for link in links if link['link_type'] == ARPHRD_LOOPBACK)
    detail = None
    if wanted is not None:
        address, zone = wanted
        matches = []
        for index in sorted(addresses):
            for item in addresses[index]:
                if ipaddress.ip_address(item['address']) == address and index in names:
                    if zone and address.is_link_local and names[index] != zone:
                        continue
                    matches.append(index)
        real = [index for index in matches if index not in loopback]
        if real:
            detail = '%s is an address of %s' % (address, names[real[0]])
            if len(real) > 1:
                detail += ' (also of %s)' % ', '.join(names[index] for index in real[1:])
            return dict(interface=names[real[0]], address=str(address), how='connection_address', detail=detail)
        if matches:
            detail = ('%s is a loopback address (a local or port-forwarded connection): it says nothing about the'
                      ' NICs' % address)
        else:
            detail = '%s is not an address of any interface here (a NAT address?)' % address
        families = ('ipv6', 'ipv4') if address.version == 6 else ('ipv4', 'ipv6')
    else:
        families = ('ipv4', 'ipv6')
    for family in families:
        if default_route.get(family):
            text = 'the interface of the %s default route' % family.replace('ip', 'IP')
            return dict(interface=default_route[family], address=None, how='default_route',
                        detail='%s; %s' % (detail, text) if detail else text)
    return dict(interface=None, address=None, how=None,
                detail=(detail + '; ' if detail else '') + 'no default route either: no interface carries it')


# ---- the uplink decision --------------------------------------------------------------------------------------

def _not_bridgeable(facts, bridge, interfaces):
    """Why ``facts`` can never be a port of ``bridge`` (for an explicit uplink too), or None."""
    name = facts['name']
    if facts['kind'] == 'loopback':
        return '%s is the loopback interface: it cannot be a bridge port.' % name
    if name == bridge:
        return ('%s is the bridge %s itself: uplink names the interface to enslave to it (a wired NIC).'
                % (name, bridge))
    if facts['kind'] == 'bridge':
        return ('%s is a bridge: a bridge cannot be a port of bridge %s (the kernel refuses to nest bridges).'
                ' Name a wired NIC, or use %s itself as the bridge.' % (name, bridge, name))
    if facts['kind'] == 'wireless':
        text = wireless_refusal(name, bridge)
        if facts['wireless_4addr']:
            text += ' (4addr is on for %s: bridging works only with such an access point.)' % name
        return text
    if facts['link_type'] != link_type_name(ARPHRD_ETHER):
        tail = (' A tun device carries IP packets, not Ethernet frames: use a tap instead.'
                if facts['link_kind'] == 'tun' else '')
        return ('%s is not an Ethernet interface (link type %s): only Ethernet devices can be bridge ports.%s'
                % (name, facts['link_type'], tail))
    master = facts['master']
    if master is not None and master != bridge:
        if facts['bridge_port']:
            return ('%s is already a port of bridge %s: release it first (kvmnet.bridge.bridge_port name=%s'
                    ' bridge=%s state=absent), or choose another interface.' % (name, master, name, master))
        master_kind = (interfaces.get(master) or {}).get('link_kind') or 'unknown kind'
        return ('%s is enslaved to %s (%s): bridge %s instead, or release %s from it first.'
                % (name, master, master_kind, master, name))
    if master == bridge and not facts['bridge_port']:
        return '%s is enslaved to %s, which is not a bridge.' % (name, master)
    return None


def _auto_rejection(facts, bridge, interfaces):
    """Why ``auto`` does not consider ``facts`` at all (short, for ``rejected``), or None for a wired candidate."""
    kind, name = facts['kind'], facts['name']
    if kind == 'loopback':
        return 'loopback interface'
    if name == bridge:
        return 'the bridge %s itself' % bridge
    if kind == 'bridge':
        return 'a bridge: a bridge cannot be a port of another bridge'
    if kind == 'wireless':
        return ('a wireless (802.11) station: it cannot be a bridge port (the access point drops frames with the'
                ' guests\' MACs)')
    if kind in VIRTUAL_KINDS:
        return ('a virtual interface (%s): auto only picks a physical wired NIC; name it in uplink to use it'
                ' anyway' % (facts['link_kind'] if kind == 'virtual' and facts['link_kind'] else kind))
    if kind == 'other':
        return 'not an Ethernet device (link type %s)' % facts['link_type']
    if facts['physical'] is None:
        return ('cannot tell whether it is a physical wired NIC (sysfs does not show it): name it in uplink to use'
                ' it')
    problem = _not_bridgeable(facts, bridge, interfaces)
    if problem is not None:
        if facts['bridge_port']:
            return 'already a port of bridge %s' % facts['master']
        return 'enslaved to %s' % facts['master']
    return None


def _rank(facts, bridge):
    """Sort key of a wired candidate: a port of ``bridge`` first (idempotent re-runs), then not carrying the
    Ansible connection, with carrier, without global addresses, lowest ifindex."""
    return (facts['master'] != bridge, facts['carries_connection'], facts['carrier'] is not True,
            bool(facts['addresses']), facts['index'])


_RANK_WORDS = (
    lambda chosen, bridge, facts: '%s is already a port of %s' % (chosen, bridge),
    lambda chosen, bridge, facts: 'it carries the Ansible connection',
    lambda chosen, bridge, facts: 'it has no carrier' if facts['up'] else 'it is down (carrier unknown)',
    lambda chosen, bridge, facts: 'it has global addresses (%s)' % ', '.join(facts['addresses']),
    lambda chosen, bridge, facts: '%s comes first (lower interface index)' % chosen,
)


def _describe(facts, bridge):
    words = ['a wired NIC (physical Ethernet)']
    if facts['master'] == bridge:
        words.append('already a port of %s' % bridge)
    if facts['carrier']:
        words.append('with carrier')
    else:
        words.append('without carrier' if facts['up'] else 'down (carrier unknown)')
    words.append('global addresses %s' % ', '.join(facts['addresses']) if facts['addresses']
                 else 'no global address')
    words.append('carries the Ansible connection' if facts['carries_connection']
                 else 'does not carry the Ansible connection')
    return ', '.join(words)


def _uplink(requested, name, reason, rejected, problems, facts):
    return dict(requested=requested, name=name, reason=reason, rejected=rejected, problems=problems,
                carries_connection=bool(facts and facts['carries_connection']),
                addresses=list(facts['addresses']) if facts else [],
                in_bridge=facts['master'] if facts and facts['bridge_port'] else None)


def choose_uplink(interfaces, requested=AUTO, bridge='kvmbr0', netns=None):
    """The uplink decision (pure): ``interfaces`` are the final facts (name -> dict, connection included).

    ``auto``: every interface is either the chosen one or in ``rejected`` with its reason; ``auto`` never picks
    loopback, a bridge, a wireless station, a virtual interface (veth, tap, macvlan...), a non-Ethernet device or
    a port of another bridge; among the wired NICs left, :func:`_rank` decides. An explicit name: ``problems``
    lists what makes it unusable as a port of ``bridge`` (virtual kinds are accepted).
    """
    if requested != AUTO:
        facts = interfaces.get(requested)
        if facts is None:
            wired = [item['name'] for item in _sorted(interfaces) if _auto_rejection(item, bridge, interfaces) is None]
            return _uplink(requested, None, 'named explicitly in uplink, but it does not exist', [], [
                'Interface %s does not exist%s: name an existing interface, or use uplink: auto (wired candidates'
                ' here: %s).' % (requested, where(netns), ', '.join(wired) or 'none')], None)
        problem = _not_bridgeable(facts, bridge, interfaces)
        if problem is not None:
            return _uplink(requested, requested, 'named explicitly in uplink, but it cannot be a port of %s'
                           % bridge, [], [problem], facts)
        reason = 'named explicitly in uplink: %s' % (
            _describe(facts, bridge) if facts['kind'] == 'wired' else 'a %s interface%s' % (
                facts['kind'], ', already a port of %s' % bridge if facts['master'] == bridge else ''))
        return _uplink(requested, requested, reason, [], [], facts)

    rejected, candidates = [], []
    for facts in _sorted(interfaces):
        why = _auto_rejection(facts, bridge, interfaces)
        if why is None:
            candidates.append(facts)
        else:
            rejected.append(dict(name=facts['name'], reason=why))
    if not candidates:
        summary = ', '.join('%s (%s)' % (item['name'], item['reason'].split(':')[0]) for item in rejected)
        return _uplink(AUTO, None, 'no wired NIC to bridge: every interface was rejected (see rejected)', rejected, [
            'uplink auto found no wired Ethernet NIC to enslave to %s%s; rejected: %s. Connect a wired NIC, or name'
            ' the uplink explicitly (uplink: NAME; a virtual interface such as a veth is accepted then).'
            % (bridge, where(netns), summary or 'no interfaces')], None)
    candidates.sort(key=lambda facts: _rank(facts, bridge))
    chosen = candidates[0]
    if chosen['master'] == bridge:
        reason = '%s is already a port of %s (%s): kept, so a re-run changes nothing' % (
            chosen['name'], bridge, _describe(chosen, bridge))
    else:
        reason = '%s: %s; %s' % (chosen['name'], _describe(chosen, bridge),
                                 'the only wired candidate' if len(candidates) == 1
                                 else 'the best of %d wired candidates' % len(candidates))
    chosen_rank = _rank(chosen, bridge)
    for facts in candidates[1:]:
        rank = _rank(facts, bridge)
        position = next(position for position in range(len(rank)) if rank[position] != chosen_rank[position])
        rejected.append(dict(name=facts['name'], reason='a wired candidate, ranked below %s: %s' % (
            chosen['name'], _RANK_WORDS[position](chosen['name'], bridge, facts))))
    rejected.sort(key=lambda item: interfaces[item['name']]['index'])
    return _uplink(AUTO, chosen['name'], reason, rejected, [], chosen)


def _sorted(interfaces):
    return sorted(interfaces.values(), key=lambda facts: facts['index'])


# ---- everything together --------------------------------------------------------------------------------------

def inventory(links, addresses, routes, sysfs, detect_managers=None, connection_address=None, uplink=AUTO,
              bridge='kvmbr0', netns=None, four_addr=None):
    """The module's result (without ``changed``): interfaces, connection, default_route, uplink.

    ``detect_managers(interfaces)`` -> name -> ``_managers`` result; None when managers are not detected
    (``netns`` given: the managers of this host configure its own namespace).
    """
    interfaces = interface_facts(links, addresses, routes, sysfs, four_addr)
    managers = detect_managers(interfaces) if detect_managers is not None else None
    default_route = main_default_routes(links, routes)
    connection = find_connection(links, addresses, default_route, connection_address)
    if connection['interface'] is not None:
        interfaces[connection['interface']]['carries_connection'] = True
    for name, facts in interfaces.items():
        if managers is None:
            facts['manager'] = dict(name='none', managed=None, claims=[], renderer=None, detail=(
                'not checked: the network managers of this host configure its own network namespace, not %r'
                % netns))
        else:
            facts['manager'] = managers.get(name) or dict(name='none', managed=None, claims=[], renderer=None,
                                                          detail='not checked')
    return dict(interfaces=interfaces, connection=connection, default_route=default_route,
                uplink=choose_uplink(interfaces, uplink, bridge, netns))
