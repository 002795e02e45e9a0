# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Topology pictures without I/O: a graph of nodes and edges as plain data -> Graphviz DOT text, and the graph
of one host's bridges from ``linux_bridge_info`` facts.

The graph (the one contract shared by ``linux_bridge_info``'s ``dot`` option, the ``topology_dot`` filter and the
lab's picture)::

    {'nodes': [{'id': str, 'label': str, 'kind': 'host'|'interface'|'bridge'|'tap'|'guest'|'router'|'network',
                'group': machine name or None, 'details': {key: value}}],
     'edges': [{'from': id, 'to': id, 'label': str or ''}]}

:func:`to_dot` draws one cluster per ``group`` (nodes without a group at the top level), a shape and colour per
``kind``, each ``details`` entry as a line of the node's label (``mac: 52:54:00:...``). The output depends only on
the graph's content, never on the order of its lists: groups, nodes and edges are sorted. Every string the graph
holds is escaped: node IDs are percent-encoded inside quoted DOT IDs, labels are HTML-like labels with every markup
character written as an entity, so no name or label can break the syntax.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# kind -> node attributes (DOT syntax, fixed strings: nothing here comes from the graph)
KIND_STYLES = (
    ('network', 'shape=ellipse, style=filled, fillcolor="#e1d5e7", color="#9673a6"'),
    ('router', 'shape=octagon, style=filled, fillcolor="#ffe6cc", color="#d79b00"'),
    ('host', 'shape=box3d, style=filled, fillcolor="#f5f5f5", color="#666666"'),
    ('interface', 'shape=box, style="rounded,filled", fillcolor="#ffffff", color="#333333"'),
    ('bridge', 'shape=box, style="filled,bold", fillcolor="#d5e8d4", color="#82b366", penwidth=2'),
    ('tap', 'shape=box, style="rounded,filled,dashed", fillcolor="#fff2cc", color="#d6b656"'),
    ('guest', 'shape=box3d, style=filled, fillcolor="#dae8fc", color="#6c8ebf"'),
)
KINDS = tuple(kind for kind, dummy in KIND_STYLES)
_KIND_RANK = dict((kind, rank) for rank, kind in enumerate(KINDS))
_STYLE = dict(KIND_STYLES)

NODE_KEYS = ('id', 'label', 'kind', 'group', 'details')
EDGE_KEYS = ('from', 'to', 'label')
GRAPH_KEYS = ('nodes', 'edges')

HEADER = (
    '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.3, ranksep=0.5];\n'
    '  node [fontname="Helvetica", fontsize=10, margin="0.15,0.06"];\n'
    '  edge [fontname="Helvetica", fontsize=9, color="#555555"];\n'
)
_CLUSTER_STYLE = 'style="rounded,filled"; fillcolor="#fafafa"; color="#999999"; fontsize=12;'

# What may stay as it is inside a quoted DOT ID; everything else is percent-encoded (UTF-8 bytes).
_ID_SAFE = re.compile(r'[A-Za-z0-9_.:/@+=,-]')
_LINE_BREAKS = re.compile(r'\r\n|\r|\n')
# ``[`` and ``]`` too: Graphviz 2.43 rejects a label that is just ``]`` and drops a ``]`` that starts a line.
_ENTITIES = (('&', '&amp;'), ('<', '&lt;'), ('>', '&gt;'), ('"', '&quot;'), ('[', '&#91;'), (']', '&#93;'))


# ---- escaping -------------------------------------------------------------------------------------------------

def dot_id(value):
    """``value`` as a quoted DOT ID that cannot break the syntax: characters outside ``[A-Za-z0-9_.:/@+=,-]``
    (quotes, backslashes, spaces, braces, newlines, non-ASCII...) become ``%XX`` per UTF-8 byte, ``%`` itself
    ``%25``. An ID that would start with ``%`` gets a ``#`` in front, as Graphviz takes names that start with
    ``%`` for its own anonymous ones. Injective: two different values never give the same ID."""
    encoded = []
    for char in value:
        if _ID_SAFE.match(char):
            encoded.append(char)
        else:
            encoded.extend('%%%02X' % byte for byte in char.encode('utf-8', 'surrogatepass'))
    text = ''.join(encoded)
    return '"%s%s"' % ('#' if text.startswith('%') else '', text)


def _visible(char):
    """A control character as visible text (``\\x07``), so it never reaches the DOT file raw; a lone surrogate
    (an undecodable byte) as ``\\udcXX``."""
    code = ord(char)
    if code < 0x20 or code == 0x7f or 0x80 <= code < 0xa0:
        return '\\x%02x' % code
    if 0xd800 <= code < 0xe000:
        return '\\u%04x' % code
    return char


def html_text(value):
    """``value`` as the text of an HTML-like DOT label: ``& < > " [ ]`` as entities, control characters (tabs
    too) as visible ``\\xNN`` text, line breaks as ``<br/>``. Braces, backslashes and ``|`` need nothing in an
    HTML label: Graphviz reads them literally there."""
    lines = []
    for line in _LINE_BREAKS.split(value):
        text = ''.join(_visible(char) for char in line)
        for char, entity in _ENTITIES:
            text = text.replace(char, entity)
        lines.append(text)
    return '<br/>'.join(lines)


def value_text(value):
    """A details value as label text: lists joined with ', ', booleans as yes/no, None as '' (left out)."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, (list, tuple)):
        return ', '.join(value_text(item) for item in value if item is not None)
    return '%s' % (value,)


# ---- validation -----------------------------------------------------------------------------------------------

def _require_text(value, what, allow_empty=False):
    if not isinstance(value, str) or (not value and not allow_empty):
        raise ValueError('%s must be a %sstring, got %r.' % (what, '' if allow_empty else 'non-empty ', value))
    return value


def _unknown_keys(item, known, what):
    unknown = sorted('%s' % (key,) for key in item if key not in known)
    if unknown:
        raise ValueError('%s has unknown key(s) %s; the keys are %s.'
                         % (what, ', '.join(repr(key) for key in unknown), ', '.join(known)))


def _node(item, position):
    where = 'Node #%d' % position
    if not isinstance(item, dict):
        raise ValueError('%s must be a dict with the keys %s, got %r.' % (where, ', '.join(NODE_KEYS), item))
    node_id = _require_text(item.get('id'), '%s: id' % where)
    where = 'Node %r' % node_id
    _unknown_keys(item, NODE_KEYS, where)
    kind = item.get('kind')
    if kind not in _KIND_RANK:
        raise ValueError('%s: kind %r is not one of %s.' % (where, kind, ', '.join(KINDS)))
    label = item.get('label')
    label = node_id if label is None else _require_text(label, '%s: label' % where, allow_empty=True)
    group = item.get('group')
    if group is not None:
        _require_text(group, '%s: group (a machine name, or null for none)' % where)
    details = item.get('details')
    if details is None:
        details = {}
    if not isinstance(details, dict):
        raise ValueError('%s: details must be a dict of label lines (key: value), got %r.' % (where, details))
    return dict(id=node_id, label=label, kind=kind, group=group, details=details)


def _edge(item, position, ids):
    where = 'Edge #%d' % position
    if not isinstance(item, dict):
        raise ValueError('%s must be a dict with the keys %s, got %r.' % (where, ', '.join(EDGE_KEYS), item))
    _unknown_keys(item, EDGE_KEYS, where)
    ends = [_require_text(item.get(end), '%s: %s' % (where, end)) for end in ('from', 'to')]
    where = 'Edge %r -- %r' % tuple(ends)
    for end in ends:
        if end not in ids:
            raise ValueError('%s: no node has the id %r (the node ids are %s). Add the node, or fix the edge.'
                             % (where, end, ', '.join(repr(node_id) for node_id in sorted(ids)) or 'none'))
    label = item.get('label')
    label = '' if label is None else _require_text(label, '%s: label' % where, allow_empty=True)
    return {'from': ends[0], 'to': ends[1], 'label': label}


def validate(graph):
    """The graph checked and completed (label defaults to the id, group to None, details to {}, an edge's label
    to ''). Raises ValueError naming the node or edge and the fix: unknown keys or kinds, duplicate node ids,
    edges to nodes that do not exist."""
    if not isinstance(graph, dict):
        raise ValueError('The graph must be a dict with the keys nodes and edges, got %r.' % (graph,))
    _unknown_keys(graph, GRAPH_KEYS, 'The graph')
    nodes, edges = graph.get('nodes'), graph.get('edges')
    nodes, edges = [] if nodes is None else nodes, [] if edges is None else edges
    for key, value in (('nodes', nodes), ('edges', edges)):
        if not isinstance(value, (list, tuple)):
            raise ValueError('The graph\'s %s must be a list, got %r.' % (key, value))
    result = []
    seen = set()
    for position, item in enumerate(nodes):
        node = _node(item, position)
        if node['id'] in seen:
            raise ValueError('Node %r appears twice: node ids must be unique (prefix them with the machine name,'
                             ' for example "laptop/eth0").' % node['id'])
        seen.add(node['id'])
        result.append(node)
    return dict(nodes=result, edges=[_edge(item, position, seen) for position, item in enumerate(edges)])


# ---- DOT ------------------------------------------------------------------------------------------------------

def _label(node):
    lines = ['<b>%s</b>' % html_text(node['label'])] if node['label'] else []
    for key, value in node['details'].items():
        text = value_text(value)
        if text:
            lines.append('<font point-size="9">%s: %s</font>' % (html_text('%s' % (key,)), html_text(text)))
    return '<%s>' % '<br/>'.join(lines) if lines else '""'


def _node_line(node, indent):
    return '%s%s [label=%s, %s];\n' % (indent, dot_id(node['id']), _label(node), _STYLE[node['kind']])


def _node_order(node):
    return (_KIND_RANK[node['kind']], node['id'])


def to_dot(graph, title=None):
    """The DOT text (an undirected ``graph``) of ``graph`` (see the module docstring); ``title``, if given, is
    drawn above the picture. Raises ValueError as :func:`validate`."""
    graph = validate(graph)
    text = ['graph "kvmnet" {\n', HEADER]
    if title:
        text.append('  label=<%s>; labelloc=t; fontsize=14;\n' % html_text(title))
    groups = {}
    for node in graph['nodes']:
        groups.setdefault(node['group'], []).append(node)
    for node in sorted(groups.pop(None, []), key=_node_order):
        text.append(_node_line(node, '  '))
    for group in sorted(groups):
        text.append('  subgraph %s {\n' % dot_id('cluster_' + group))
        text.append('    label=<<b>%s</b>>; %s\n' % (html_text(group), _CLUSTER_STYLE))
        for node in sorted(groups[group], key=_node_order):
            text.append(_node_line(node, '    '))
        text.append('  }\n')
    for edge in sorted(graph['edges'], key=lambda item: (item['from'], item['to'], item['label'])):
        label = ' [label=<%s>]' % html_text(edge['label']) if edge['label'] else ''
        text.append('  %s -- %s%s;\n' % (dot_id(edge['from']), dot_id(edge['to']), label))
    text.append('}\n')
    return ''.join(text)


# ---- the graph of a host's bridges ----------------------------------------------------------------------------

def node_id(name, host=None):
    """The id of interface ``name`` in :func:`bridge_graph`: ``HOST/NAME`` with a host, ``NAME`` without."""
    return '%s/%s' % (host, name) if host else name


def _addresses(interfaces, name):
    entry = (interfaces or {}).get(name) or {}
    return list(entry.get('addresses') or [])


def _port_kind(port, interfaces):
    """``tap`` for a tun/tap port (libvirt's vnetN): the kernel's link kind ``tun`` in the facts
    (``link_kind``), or ``kind: tap`` in ``host_interfaces_info``'s entry; ``interface`` otherwise."""
    entry = (interfaces or {}).get(port['name']) or {}
    if port.get('link_kind') == 'tun' or entry.get('link_kind') == 'tun' or entry.get('kind') == 'tap':
        return 'tap'
    return 'interface'


def bridge_graph(bridges, interfaces=None, host=None):
    """The graph (the :func:`to_dot` contract) of one host's bridges.

    ``bridges``: ``linux_bridge_info``'s ``bridges`` (a dict by name) or a list of those facts.
    ``interfaces`` (optional): name -> dict with ``addresses`` (``["192.0.2.1/24"]``) and optionally ``kind`` /
    ``link_kind``, as ``host_interfaces_info`` returns them (any mapping of that shape will do).
    ``host`` (optional): the machine's name, the group of every node and the prefix of their ids
    (:func:`node_id`), so the graphs of several hosts can be joined without clashes.

    Bridge nodes carry the MAC, STP on/off and the addresses; port nodes (kind ``tap`` for tun/tap ports, else
    ``interface``) the MAC, the addresses and the STP state; one edge from each port to its bridge.
    """
    if isinstance(bridges, dict):
        bridges = [bridges[name] for name in sorted(bridges)]
    if not isinstance(bridges, (list, tuple)):
        raise ValueError('bridges must be linux_bridge_info\'s bridges (a dict by name) or a list of them, got %r.'
                         % (bridges,))
    if interfaces is not None and not isinstance(interfaces, dict):
        raise ValueError('interfaces must be a dict by interface name (host_interfaces_info\'s interfaces), got %r.'
                         % (interfaces,))
    nodes, edges = [], []
    for bridge in bridges:
        if not isinstance(bridge, dict) or 'name' not in bridge:
            raise ValueError('Each bridge must be a dict of linux_bridge_info facts (with name), got %r.' % (bridge,))
        bridge_id = node_id(bridge['name'], host)
        nodes.append(dict(id=bridge_id, label=bridge['name'], kind='bridge', group=host or None, details=dict(
            mac=bridge.get('mac'), stp='on' if bridge.get('stp') else 'off',
            addresses=_addresses(interfaces, bridge['name']))))
        for port in bridge.get('ports') or []:
            nodes.append(dict(id=node_id(port['name'], host), label=port['name'], kind=_port_kind(port, interfaces),
                              group=host or None, details=dict(
                                  mac=port.get('mac'), addresses=_addresses(interfaces, port['name']),
                                  stp_state=port.get('stp_state'))))
            edges.append({'from': node_id(port['name'], host), 'to': bridge_id, 'label': ''})
    return dict(nodes=nodes, edges=edges)
