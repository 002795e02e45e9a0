# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bridge facts without I/O, for ``linux_bridge_info``: link dicts of ``_netlink`` -> plain facts, and the
``brctl show`` / ``showmacs`` / ``showstp`` text layouts.

Bridge attributes come from :func:`_bridge.normalise`, so they have the names and units of the ``linux_bridge``
options; port attributes have the names of the ``bridge_port`` options. Timers are in seconds (the kernel counts
in hundredths), bridge IDs are written like brctl writes them (``8000.525400aabbcc``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kvmnet.bridge.plugins.module_utils._bridge import (
    _kernel_to_seconds,
    normalise,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._port import (
    PORT_ATTRS,
    PORT_STP_STATES,
)

STP_STATES = PORT_STP_STATES  # BR_STATE_* 0..4: disabled, listening, learning, forwarding, blocking
BRIDGE_TIMERS = (('hello_timer', 'IFLA_BR_HELLO_TIMER'), ('tcn_timer', 'IFLA_BR_TCN_TIMER'),
                 ('topology_change_timer', 'IFLA_BR_TOPOLOGY_CHANGE_TIMER'), ('gc_timer', 'IFLA_BR_GC_TIMER'))
PORT_TIMERS = (('message_age_timer', 'IFLA_BRPORT_MESSAGE_AGE_TIMER'),
               ('forward_delay_timer', 'IFLA_BRPORT_FORWARD_DELAY_TIMER'),
               ('hold_timer', 'IFLA_BRPORT_HOLD_TIMER'))
NUD_NOARP = 0x40  # `bridge fdb add ... static`
NUD_PERMANENT = 0x80  # local: an address of the bridge or of one of its ports
STATS_KEYS = ('rx_bytes', 'rx_packets', 'rx_errors', 'rx_dropped', 'tx_bytes', 'tx_packets', 'tx_errors',
              'tx_dropped')


# ---- units ---------------------------------------------------------------------------------------------------


def hundredths_to_seconds(value):
    """Kernel clock ticks (1/100 s) -> seconds, converted like the ``linux_bridge`` options (int when whole)."""
    return None if value is None else _kernel_to_seconds(value)


def bridge_id_text(bridge_id):
    """{'priority': 32768, 'address': '52:54:00:aa:bb:cc'} -> '8000.525400aabbcc' (brctl's and sysfs' form)."""
    if not bridge_id:
        return None
    return '%04x.%s' % (bridge_id['priority'], bridge_id['address'].replace(':', '').lower())


def port_id_text(value):
    """A port ID (priority and port number in 16 bits) as four hex digits, like brctl: 32769 -> '8001'."""
    return None if value is None else '%04x' % value


def stp_state_name(value):
    if value is None:
        return None
    return STP_STATES[value] if 0 <= value < len(STP_STATES) else str(value)


def _stats(link):
    stats = link.get('stats') or {}
    return dict((key, stats.get(key)) for key in STATS_KEYS)


# ---- facts ---------------------------------------------------------------------------------------------------


def port_facts(link, bridge_name):
    """A port's facts: ``bridge_port`` option names (name, bridge, cost, priority, hairpin...) plus the kernel's
    link kind (``veth``, ``tun`` for a tap such as libvirt's vnetN, None for a NIC), STP data, timers and
    counters."""
    raw = link.get('port') or {}
    facts = dict(name=link['name'], bridge=bridge_name, index=link['index'], link_kind=link.get('kind'),
                 mac=link['address'], mtu=link['mtu'], up=link['up'])
    for attr in PORT_ATTRS:  # the bridge_port options: cost, priority, hairpin, learning, ...
        value = raw.get(attr.nla)
        facts[attr.option] = attr.from_kernel(value) if value is not None else None
    facts.update(
        stp_state=stp_state_name(raw.get('IFLA_BRPORT_STATE')),
        port_no=raw.get('IFLA_BRPORT_NO'),
        port_id=port_id_text(raw.get('IFLA_BRPORT_ID')),
        designated_root=bridge_id_text(raw.get('IFLA_BRPORT_ROOT_ID')),
        designated_bridge=bridge_id_text(raw.get('IFLA_BRPORT_BRIDGE_ID')),
        designated_port=port_id_text(raw.get('IFLA_BRPORT_DESIGNATED_PORT')),
        designated_cost=raw.get('IFLA_BRPORT_DESIGNATED_COST'),
        topology_change_ack=bool(raw.get('IFLA_BRPORT_TOPOLOGY_CHANGE_ACK')),
        config_pending=bool(raw.get('IFLA_BRPORT_CONFIG_PENDING')),
        timers=dict((name, hundredths_to_seconds(raw.get(nla))) for name, nla in PORT_TIMERS),
        stats=_stats(link),
    )
    return facts


def fdb_facts(entries, names):
    """FDB entries (``_netlink`` dicts) -> facts, sorted by MAC, then port. ``names``: ifindex -> name.

    ``ageing_timer``: seconds since the entry was last refreshed; it is dropped when this reaches the bridge's
    ``ageing_time``. Local and static entries never age: 0, as brctl shows them.
    """
    result = []
    for entry in entries:
        local = bool(entry['state'] & NUD_PERMANENT)
        static = bool(entry['state'] & NUD_NOARP)
        result.append(dict(
            mac=entry['mac'],
            port=names.get(entry['ifindex'], str(entry['ifindex'])),
            vlan=entry.get('vlan'),
            local=local,
            static=static,
            ageing_timer=0 if local or static else hundredths_to_seconds(entry.get('updated') or 0),
        ))
    result.sort(key=lambda fact: (fact['mac'], fact['port'], fact['vlan'] or 0))
    return result


def bridge_facts(link, ports, fdb):
    """Facts of one bridge: :func:`_bridge.normalise` (the ``linux_bridge`` option names and units) with
    ``ports`` as :func:`port_facts` dicts sorted by name, plus STP data, timers, FDB and counters."""
    facts = normalise(link['name'], link, ports)
    raw = link.get('bridge') or {}
    names = dict((port['index'], port['name']) for port in ports)
    names[link['index']] = link['name']
    facts.update(
        index=link['index'],
        bridge_id=bridge_id_text(raw.get('IFLA_BR_BRIDGE_ID')),
        designated_root=bridge_id_text(raw.get('IFLA_BR_ROOT_ID')),
        root_port=raw.get('IFLA_BR_ROOT_PORT'),
        root_path_cost=raw.get('IFLA_BR_ROOT_PATH_COST'),
        topology_change=bool(raw.get('IFLA_BR_TOPOLOGY_CHANGE')),
        topology_change_detected=bool(raw.get('IFLA_BR_TOPOLOGY_CHANGE_DETECTED')),
        timers=dict((name, hundredths_to_seconds(raw.get(nla))) for name, nla in BRIDGE_TIMERS),
        ports=sorted((port_facts(port, link['name']) for port in ports), key=lambda port: _name_key(port['name'])),
        fdb=fdb_facts(fdb, names),
        stats=_stats(link),
    )
    return facts


def _name_key(name):
    """brctl lists bridges and ports in scandir/alphasort order: byte order in the C locale."""
    return name.encode('utf-8')


# ---- brctl layouts -------------------------------------------------------------------------------------------


def brctl_timer(seconds):
    """brctl's timer field: seconds right-aligned in 4 columns, a dot, two digits of hundredths ('  20.00')."""
    hundredths = int(round((seconds or 0) * 100))
    return '%4d.%02d' % (hundredths // 100, hundredths % 100)


def _id_text(value):
    return value if value is not None else '0000.000000000000'


def brctl_show(bridges):
    """``brctl show`` for ``bridges`` (facts): a header, then one line per bridge with its first port, and
    each further port on a line of its own, indented by 7 tabs. Empty when there is no bridge."""
    if not bridges:
        return ''
    lines = ['bridge name\tbridge id\t\tSTP enabled\tinterfaces\n']
    for bridge in sorted(bridges, key=lambda item: _name_key(item['name'])):
        ports = '\n\t\t\t\t\t\t\t'.join(port['name'] for port in bridge['ports'])
        stp = 'yes' if bridge['stp'] else 'no'
        lines.append('%s\t\t%s\t%s\t\t%s\n' % (bridge['name'], _id_text(bridge['bridge_id']), stp, ports))
    return ''.join(lines)


def brctl_showmacs(bridge):
    """``brctl showmacs BR``: the FDB entries that belong to a port (not the bridge's own), sorted by MAC.

    brctl reads only the low 8 bits of the port number; this shows the whole number (the same below 256 ports).
    """
    port_numbers = dict((port['name'], port['port_no']) for port in bridge['ports'])
    lines = ['port no\tmac addr\t\tis local?\tageing timer\n']
    for entry in bridge['fdb']:
        if entry['port'] not in port_numbers:
            continue  # the bridge's own address: brctl does not list it
        local = 'yes' if entry['local'] else 'no'
        number = port_numbers[entry['port']] or 0
        lines.append('%3d\t%s\t%s\t\t%s\n' % (number, entry['mac'], local, brctl_timer(entry['ageing_timer'])))
    return ''.join(lines)


def _flags(pairs):
    return ''.join(flag + ' ' for flag, on in pairs if on)


def brctl_showstp(bridge):
    """``brctl showstp BR``: the bridge's STP data and timers, then a paragraph per port."""
    timers = dict((name, brctl_timer(value)) for name, value in bridge['timers'].items())
    max_age, hello_time = brctl_timer(bridge['max_age']), brctl_timer(bridge['hello_time'])
    forward_delay = brctl_timer(bridge['forward_delay'])
    flags = _flags((('TOPOLOGY_CHANGE', bridge['topology_change']),
                    ('TOPOLOGY_CHANGE_DETECTED', bridge['topology_change_detected'])))
    text = [
        '%s\n' % bridge['name'],
        ' bridge id\t\t%s\n' % _id_text(bridge['bridge_id']),
        ' designated root\t%s\n' % _id_text(bridge['designated_root']),
        ' root port\t\t%4d\t\t\tpath cost\t\t%4d\n' % (bridge['root_port'] or 0, bridge['root_path_cost'] or 0),
        ' max age\t\t%s\t\t\tbridge max age\t\t%s\n' % (max_age, max_age),
        ' hello time\t\t%s\t\t\tbridge hello time\t%s\n' % (hello_time, hello_time),
        ' forward delay\t\t%s\t\t\tbridge forward delay\t%s\n' % (forward_delay, forward_delay),
        ' ageing time\t\t%s\n' % brctl_timer(bridge['ageing_time']),
        ' hello timer\t\t%s\t\t\ttcn timer\t\t%s\n' % (timers['hello_timer'], timers['tcn_timer']),
        ' topology change timer\t%s\t\t\tgc timer\t\t%s\n' % (timers['topology_change_timer'], timers['gc_timer']),
        ' flags\t\t\t%s\n\n\n' % flags,
    ]
    for port in bridge['ports']:
        port_timers = dict((name, brctl_timer(value)) for name, value in port['timers'].items())
        port_flags = _flags((('CONFIG_PENDING', port['config_pending']),
                             ('TOPOLOGY_CHANGE_ACK', port['topology_change_ack'])))
        if port['hairpin']:
            port_flags += '\n hairpin mode\t\t%4d' % 1
        designated_root, designated_bridge = _id_text(port['designated_root']), _id_text(port['designated_bridge'])
        text += [
            '%s (%d)\n' % (port['name'], port['port_no'] or 0),
            ' port id\t\t%s\t\t\tstate\t\t%15s\n' % (port['port_id'], port['stp_state']),
            ' designated root\t%s\tpath cost\t\t%4d\n' % (designated_root, port['cost'] or 0),
            ' designated bridge\t%s\tmessage age timer\t%s\n' % (designated_bridge, port_timers['message_age_timer']),
            ' designated port\t%s\t\t\tforward delay timer\t%s\n' % (
                port['designated_port'], port_timers['forward_delay_timer']),
            ' designated cost\t%4d\t\t\thold timer\t\t%s\n' % (
                port['designated_cost'] or 0, port_timers['hold_timer']),
            ' flags\t\t\t%s\n\n' % port_flags,
        ]
    return ''.join(text)


def brctl_text(bridges):
    """The three layouts: ``show`` for all ``bridges``, ``showmacs`` and ``showstp`` by bridge name."""
    return dict(
        show=brctl_show(bridges),
        showmacs=dict((bridge['name'], brctl_showmacs(bridge)) for bridge in bridges),
        showstp=dict((bridge['name'], brctl_showstp(bridge)) for bridge in bridges),
    )
