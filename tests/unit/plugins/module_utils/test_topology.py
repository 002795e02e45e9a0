# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import random
import shutil
import subprocess

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._bridge_info import bridge_facts
from ansible_collections.kvmnet.bridge.plugins.module_utils._topology import (
    KINDS,
    bridge_graph,
    dot_id,
    html_text,
    node_id,
    to_dot,
    validate,
    value_text,
)

DOT = shutil.which('dot')
needs_graphviz = pytest.mark.skipif(DOT is None, reason='Graphviz `dot` is not installed (apt-get install graphviz)')

NASTY = ['say "hi"', 'back\\slash', 'trailing\\', 'two\nlines', 'crlf\r\nline', '{braces}', '<b>not bold</b>',
         'a|b', 'x & y', '%41', 'semi;colon', '[brackets]', 'tab\there', 'caf\u00e9 \u2192', '-- edge --',
         '// comment', '/* c */', 'node', 'subgraph', '"', '\\', '\\"', '}']


def node(node_id, kind='interface', group=None, label=None, **details):
    return dict(id=node_id, label=node_id if label is None else label, kind=kind, group=group, details=details)


def edge(start, end, label=''):
    return {'from': start, 'to': end, 'label': label}


def render_json(text):
    """Graphviz's own reading of ``text``: `dot -Tjson` (fails the test on any warning or error)."""
    done = subprocess.run([DOT, '-Tjson'], input=text.encode('utf-8'), capture_output=True, timeout=60, check=False)
    assert done.returncode == 0 and not done.stderr, done.stderr.decode('utf-8', 'replace')
    return json.loads(done.stdout.decode('utf-8'))


def drawn_lines(obj, key='_ldraw_'):
    """The text lines Graphviz drew for an object's label (its 'T' operations, top to bottom)."""
    ops = [op for op in obj.get(key, []) if op['op'] == 'T']
    return [op['text'] for op in sorted(ops, key=lambda op: -op['pt'][1])]


# ---- escaping -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('kvmbr0', '"kvmbr0"'),
    ('laptop/eth0', '"laptop/eth0"'),
    ('a"b', '"a%22b"'),
    ('back\\slash', '"back%5Cslash"'),
    ('trailing\\', '"trailing%5C"'),
    ('two\nlines', '"two%0Alines"'),
    ('{x}', '"#%7Bx%7D"'),
    ('a b', '"a%20b"'),
    ('100%', '"100%25"'),
    ('"quoted"', '"#%22quoted%22"'),  # Graphviz reads a leading % as its own anonymous names
    ('#1', '"#%231"'),
    ('caf\u00e9', '"caf%C3%A9"'),
])
def test_dot_id_quotes_and_encodes(value, expected):
    assert dot_id(value) == expected


def test_dot_id_is_injective_and_never_holds_a_quote_or_backslash():
    values = NASTY + [value.replace('"', '%22') for value in NASTY] + ['a%22b', 'a"b', '#%22', '"', '#"']
    ids = [dot_id(value) for value in values]
    assert len(set(ids)) == len(set(values))
    for text in ids:
        assert '\\' not in text and '"' not in text[1:-1] and '\n' not in text


@pytest.mark.parametrize('value, expected', [
    ('say "hi"', 'say &quot;hi&quot;'),
    ('back\\slash\\', 'back\\slash\\'),  # an HTML label reads backslashes literally
    ('two\nlines', 'two<br/>lines'),
    ('a\r\nb\rc', 'a<br/>b<br/>c'),
    ('{braces} | [x]', '{braces} | &#91;x&#93;'),
    (']', '&#93;'),
    ('<b>&amp;</b>', '&lt;b&gt;&amp;amp;&lt;/b&gt;'),
    ('bell\x07nul\x00tab\t', 'bell\\x07nul\\x00tab\\x09'),
    ('bad\udc80byte', 'bad\\udc80byte'),
    ('', ''),
])
def test_html_text(value, expected):
    assert html_text(value) == expected


@pytest.mark.parametrize('value, expected', [
    (None, ''), (True, 'yes'), (False, 'no'), ([], ''),
    (['192.0.2.1/24', None, '2001:db8::1/64'], '192.0.2.1/24, 2001:db8::1/64'), (1500, '1500'), ('on', 'on'),
])
def test_value_text(value, expected):
    assert value_text(value) == expected


# ---- DOT ------------------------------------------------------------------------------------------------------

def sample_graph():
    return dict(
        nodes=[
            node('internet', kind='network', label='internet side'),
            node('router/lan', kind='router', group='router', label='lan', addresses=['192.0.2.1/24']),
            node('laptop/eth0', group='laptop', label='eth0', mac='02:00:00:00:00:01', addresses=[]),
            node('laptop/kvmbr0', kind='bridge', group='laptop', label='kvmbr0', mac='52:54:00:aa:bb:cc', stp='off'),
            node('laptop/vnet0', kind='tap', group='laptop', label='vnet0', mac='fe:54:00:12:34:56'),
            node('guest', kind='guest', label='guest1', mac='52:54:00:12:34:56', addresses=['192.0.2.50/24']),
        ],
        edges=[edge('laptop/eth0', 'laptop/kvmbr0'), edge('laptop/vnet0', 'laptop/kvmbr0'),
               edge('guest', 'laptop/vnet0', 'virtio'), edge('router/lan', 'laptop/eth0', 'cable'),
               edge('internet', 'router/lan')],
    )


def test_one_cluster_per_group_and_ungrouped_nodes_outside():
    text = to_dot(sample_graph())
    assert text.startswith('graph "kvmnet" {\n') and text.endswith('}\n')
    assert text.count('subgraph ') == 2
    laptop = text.index('subgraph "cluster_laptop" {')
    router = text.index('subgraph "cluster_router" {')
    assert laptop < router  # groups sorted by name
    inside_laptop = text[laptop:text.index('  }\n', laptop)]
    assert all(dot_id(name) + ' [' in inside_laptop for name in ('laptop/eth0', 'laptop/kvmbr0', 'laptop/vnet0'))
    assert 'label=<<b>laptop</b>>' in inside_laptop
    top = text[:laptop]
    assert '"internet" [' in top and '"guest" [' in top and '"router/lan" [' not in top


def test_shapes_and_colours_per_kind():
    graph = dict(nodes=[node('n-' + kind, kind=kind) for kind in KINDS], edges=[])
    lines = dict((kind, line) for kind in KINDS for line in to_dot(graph).splitlines() if '"n-%s" [' % kind in line)
    styles = set(line.split('</b>>, ', 1)[1] for line in lines.values())
    assert len(styles) == len(KINDS)  # every kind looks different
    assert 'shape=box3d' in lines['guest'] and 'dashed' in lines['tap'] and 'bold' in lines['bridge']


def test_details_are_label_lines_in_order_and_empty_ones_left_out():
    text = to_dot(dict(nodes=[node('br', kind='bridge', mac='52:54:00:aa:bb:cc', stp=True, addresses=[],
                                   note=None, ips=['192.0.2.1/24', '2001:db8::1/64'])], edges=[]))
    assert ('"br" [label=<<b>br</b><br/><font point-size="9">mac: 52:54:00:aa:bb:cc</font><br/>'
            '<font point-size="9">stp: yes</font><br/><font point-size="9">ips: 192.0.2.1/24, 2001:db8::1/64</font>>'
            in text)


def test_edges_with_and_without_labels():
    text = to_dot(sample_graph())
    assert '  "laptop/eth0" -- "laptop/kvmbr0";\n' in text
    assert '  "guest" -- "laptop/vnet0" [label=<virtio>];\n' in text


def test_title():
    titled = to_dot(dict(nodes=[], edges=[]), title='my "lab"')
    assert '  label=<my &quot;lab&quot;>; labelloc=t; fontsize=14;\n' in titled
    assert 'labelloc' not in to_dot(dict(nodes=[], edges=[]))


def test_output_does_not_depend_on_list_order():
    graph = sample_graph()
    expected = to_dot(graph)
    shuffler = random.Random(7)
    for dummy in range(20):
        nodes, edges = list(graph['nodes']), list(graph['edges'])
        shuffler.shuffle(nodes)
        shuffler.shuffle(edges)
        assert to_dot(dict(nodes=nodes, edges=edges)) == expected


def test_defaults_label_group_details_and_edge_label():
    graph = validate(dict(nodes=[dict(id='a', kind='host'), dict(id='b', kind='guest')],
                          edges=[{'from': 'a', 'to': 'b'}]))
    assert graph == dict(nodes=[dict(id='a', label='a', kind='host', group=None, details={}),
                                dict(id='b', label='b', kind='guest', group=None, details={})],
                         edges=[{'from': 'a', 'to': 'b', 'label': ''}])
    assert to_dot(dict(nodes=[], edges=[])).count(';\n') == 3  # only the three default statements


@pytest.mark.parametrize('graph, needle', [
    (dict(nodes=[node('a'), node('a')], edges=[]), "Node 'a' appears twice"),
    (dict(nodes=[node('a')], edges=[edge('a', 'b')]), "Edge 'a' -- 'b': no node has the id 'b' (the node ids are 'a')"),
    (dict(nodes=[], edges=[edge('x', 'y')]), "no node has the id 'x' (the node ids are none)"),
    (dict(nodes=[node('a', kind='switch')], edges=[]),
     "Node 'a': kind 'switch' is not one of network, router, host, interface, bridge, tap, guest."),
    (dict(nodes=[dict(id='a', kind='host', detail={})], edges=[]), "Node 'a' has unknown key(s) 'detail'"),
    (dict(nodes=[dict(id='', kind='host')], edges=[]), 'Node #0: id must be a non-empty string'),
    (dict(nodes=[dict(id=7, kind='host')], edges=[]), 'Node #0: id must be a non-empty string, got 7'),
    (dict(nodes=['eth0'], edges=[]), 'Node #0 must be a dict'),
    (dict(nodes=[node('a', group='')], edges=[]), "Node 'a': group (a machine name, or null for none)"),
    (dict(nodes=[dict(id='a', kind='host', details=['x'])], edges=[]), "Node 'a': details must be a dict"),
    (dict(nodes=[dict(id='a', kind='host', label=3)], edges=[]), "Node 'a': label must be a string"),
    (dict(nodes=[node('a')], edges=[dict(edge('a', 'a'), weight=2)]), "Edge #0 has unknown key(s) 'weight'"),
    (dict(nodes=[node('a')], edges=[{'from': 'a'}]), 'Edge #0: to must be a non-empty string'),
    (dict(nodes=[], edges=[], title='x'), "The graph has unknown key(s) 'title'"),
    (dict(nodes={}, edges=[]), "The graph's nodes must be a list"),
    ([], 'The graph must be a dict'),
])
def test_refusals(graph, needle):
    with pytest.raises(ValueError) as caught:
        to_dot(graph)
    assert needle in str(caught.value)


# ---- what Graphviz reads ---------------------------------------------------------------------------------------

def expected_lines(value):
    """The lines Graphviz should draw for ``value``: our label text with its entities read back."""
    entities = (('&quot;', '"'), ('&lt;', '<'), ('&gt;', '>'), ('&#91;', '['), ('&#93;', ']'), ('&amp;', '&'))
    lines = html_text(value).split('<br/>')
    for entity, char in entities:
        lines = [line.replace(entity, char) for line in lines]
    return lines


@needs_graphviz
def test_graphviz_reads_back_every_name_and_label_exactly():
    graph = dict(nodes=[node(value, group=NASTY[-1 - index], label=value, detail=value)
                        for index, value in enumerate(NASTY)],
                 edges=[edge(NASTY[index], NASTY[index - 1], NASTY[index]) for index in range(len(NASTY))])
    parsed = render_json(to_dot(graph, title='title "x" \\'))
    objects = dict((obj['name'], obj) for obj in parsed['objects'])
    assert sorted(objects) == sorted([dot_id(value)[1:-1] for value in NASTY]
                                     + [dot_id('cluster_' + value)[1:-1] for value in NASTY])
    for value in NASTY:
        lines = expected_lines(value)
        assert drawn_lines(objects[dot_id(value)[1:-1]]) == lines + ['detail: ' + lines[0]] + lines[1:]
        cluster = objects[dot_id('cluster_' + value)[1:-1]]
        assert drawn_lines(cluster) == lines
        assert cluster['nodes'] == [objects[dot_id(NASTY[-1 - NASTY.index(value)])[1:-1]]['_gvid']]
    assert sorted(drawn_lines(item) for item in parsed['edges']) == sorted(expected_lines(value) for value in NASTY)
    assert drawn_lines(parsed) == ['title "x" \\']


@needs_graphviz
def test_graphviz_reads_random_strings_without_complaint():
    alphabet = 'ab"\\{}[]<>|&;=,-%# \n\r\t\x01/:\'*\u00e9\u2192'
    shuffler = random.Random(10)
    names = sorted(set(''.join(shuffler.choice(alphabet) for dummy in range(shuffler.randint(1, 12)))
                       for dummy in range(150)))
    graph = dict(nodes=[node(name, kind=KINDS[index % len(KINDS)], group=name[:2] if index % 3 else None,
                             label=name, x=name) for index, name in enumerate(names)],
                 edges=[edge(names[index], names[(index * 7) % len(names)], names[index][::-1])
                        for index in range(len(names))])
    parsed = render_json(to_dot(graph))
    assert sorted(obj['name'] for obj in parsed['objects'] if 'nodes' not in obj) == sorted(
        dot_id(name)[1:-1] for name in names)
    assert len(parsed['edges']) == len(names)


# ---- the graph of a host's bridges ----------------------------------------------------------------------------

def bridge(name, mac, stp=False, ports=()):
    return dict(name=name, mac=mac, stp=stp, ports=list(ports), state='present', index=2)


def port(name, mac, link_kind='veth', stp_state='forwarding'):
    return dict(name=name, mac=mac, link_kind=link_kind, stp_state=stp_state, bridge='kvmbr0', index=5)


def facts():
    return {
        'kvmbr0': bridge('kvmbr0', '52:54:00:aa:bb:cc', ports=[
            port('eth0', '02:00:00:00:00:01', link_kind=None), port('vnet0', 'fe:54:00:12:34:56', link_kind='tun')]),
        'br-empty': bridge('br-empty', '02:00:00:00:02:00', stp=True),
    }


def test_bridge_graph_nodes_details_and_edges():
    graph = bridge_graph(facts(), {'kvmbr0': {'addresses': ['192.0.2.10/24']}, 'eth0': {'addresses': []}})
    assert graph == dict(
        nodes=[
            dict(id='br-empty', label='br-empty', kind='bridge', group=None,
                 details=dict(mac='02:00:00:00:02:00', stp='on', addresses=[])),
            dict(id='kvmbr0', label='kvmbr0', kind='bridge', group=None,
                 details=dict(mac='52:54:00:aa:bb:cc', stp='off', addresses=['192.0.2.10/24'])),
            dict(id='eth0', label='eth0', kind='interface', group=None,
                 details=dict(mac='02:00:00:00:00:01', addresses=[], stp_state='forwarding')),
            dict(id='vnet0', label='vnet0', kind='tap', group=None,
                 details=dict(mac='fe:54:00:12:34:56', addresses=[], stp_state='forwarding')),
        ],
        edges=[edge('eth0', 'kvmbr0'), edge('vnet0', 'kvmbr0')],
    )
    text = to_dot(graph)
    assert '"vnet0" [label=<<b>vnet0</b><br/><font point-size="9">mac: fe:54:00:12:34:56</font><br/>' in text
    assert '<font point-size="9">addresses: 192.0.2.10/24</font>' in text


def test_bridge_graph_with_a_host_prefixes_ids_and_groups_everything():
    graph = bridge_graph(list(facts().values()), host='laptop')
    assert set(item['group'] for item in graph['nodes']) == {'laptop'}
    assert [item['id'] for item in graph['nodes']] == ['laptop/kvmbr0', 'laptop/eth0', 'laptop/vnet0',
                                                       'laptop/br-empty']
    assert graph['edges'] == [edge('laptop/eth0', 'laptop/kvmbr0'), edge('laptop/vnet0', 'laptop/kvmbr0')]
    assert node_id('eth0', 'laptop') == 'laptop/eth0' and node_id('eth0') == 'eth0'
    text = to_dot(graph)
    assert text.count('subgraph "cluster_laptop" {') == 1 and text.count('subgraph') == 1


def test_bridge_graph_takes_the_tap_kind_from_host_interfaces_info():
    bridges = {'br0': bridge('br0', '02:00:00:00:00:00', ports=[port('tap7', '02:00:00:00:00:07', link_kind=None)])}

    def kinds(interfaces):
        return [item['kind'] for item in bridge_graph(bridges, interfaces)['nodes']]

    assert kinds(None) == ['bridge', 'interface']
    assert kinds({'tap7': {'kind': 'tap', 'addresses': []}}) == ['bridge', 'tap']
    assert kinds({'tap7': {'link_kind': 'tun'}}) == ['bridge', 'tap']


def test_bridge_graph_from_linux_bridge_info_facts_tells_a_tap_by_the_kernels_link_kind():
    def link(name, index, kind, mac, master=None):
        return dict(index=index, name=name, kind=kind, mtu=1500, address=mac, up=True, master=master, bridge={},
                    port={'IFLA_BRPORT_STATE': 3} if master else None, stats={})

    facts = bridge_facts(link('kvmbr0', 2, 'bridge', '52:54:00:aa:bb:cc'),
                         [link('vnet0', 5, 'tun', 'fe:54:00:12:34:56', 2),
                          link('eth0', 3, None, '02:00:00:00:00:01', 2),
                          link('veth1', 4, 'veth', '02:00:00:00:00:04', 2)], [])
    assert [(item['name'], item['link_kind']) for item in facts['ports']] == [
        ('eth0', None), ('veth1', 'veth'), ('vnet0', 'tun')]
    graph = bridge_graph({'kvmbr0': facts}, host='laptop')
    assert [(item['id'], item['kind'], item['details'].get('stp_state')) for item in graph['nodes']] == [
        ('laptop/kvmbr0', 'bridge', None), ('laptop/eth0', 'interface', 'forwarding'),
        ('laptop/veth1', 'interface', 'forwarding'), ('laptop/vnet0', 'tap', 'forwarding')]


def test_bridge_graph_of_no_bridge_is_an_empty_picture():
    assert bridge_graph({}) == dict(nodes=[], edges=[])
    assert to_dot(bridge_graph([])).count('[') == 3


@pytest.mark.parametrize('bridges, interfaces, needle', [
    ('kvmbr0', None, "bridges must be linux_bridge_info's bridges"),
    ([{'mac': 'x'}], None, 'Each bridge must be a dict of linux_bridge_info facts (with name)'),
    ({}, ['eth0'], 'interfaces must be a dict by interface name'),
])
def test_bridge_graph_refusals(bridges, interfaces, needle):
    with pytest.raises(ValueError) as caught:
        bridge_graph(bridges, interfaces)
    assert needle in str(caught.value)


@needs_graphviz
def test_graphviz_renders_the_bridge_graph_as_svg():
    done = subprocess.run([DOT, '-Tsvg'], input=to_dot(bridge_graph(facts(), host='laptop')).encode('utf-8'),
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0 and not done.stderr
    svg = done.stdout.decode('utf-8')
    assert svg.lstrip().startswith('<?xml') and '</svg>' in svg
    for text in ('kvmbr0', 'vnet0', 'mac: fe:54:00:12:34:56', 'stp_state: forwarding', '>laptop<'):
        assert text in svg
