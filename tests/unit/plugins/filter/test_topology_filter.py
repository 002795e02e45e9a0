# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kvmnet.bridge.plugins.filter.topology import FilterModule, bridge_graph, topology_dot
from ansible_collections.kvmnet.bridge.plugins.module_utils import _topology

GRAPH = dict(nodes=[dict(id='h/br0', label='br0', kind='bridge', group='h', details=dict(mac='02:00:00:00:00:01')),
                    dict(id='vm', label='vm "one"', kind='guest', group=None, details={})],
             edges=[{'from': 'vm', 'to': 'h/br0', 'label': 'virtio'}])
BRIDGES = {'br0': dict(name='br0', mac='02:00:00:00:00:01', stp=False, ports=[
    dict(name='vnet0', mac='fe:00:00:00:00:02', link_kind='tun', stp_state='forwarding')])}


def test_the_collection_exports_both_filters():
    filters = FilterModule().filters()
    assert filters == dict(topology_dot=topology_dot, bridge_graph=bridge_graph)


def test_topology_dot_is_the_module_utils_text():
    assert topology_dot(GRAPH) == _topology.to_dot(GRAPH)
    assert topology_dot(GRAPH, title='lab') == _topology.to_dot(GRAPH, title='lab')
    assert '"vm" [label=<<b>vm &quot;one&quot;</b>>' in topology_dot(GRAPH)


def test_bridge_graph_then_topology_dot():
    graph = bridge_graph(BRIDGES, {'br0': {'addresses': ['192.0.2.1/24']}}, host='h')
    assert graph == _topology.bridge_graph(BRIDGES, {'br0': {'addresses': ['192.0.2.1/24']}}, host='h')
    assert [node['kind'] for node in graph['nodes']] == ['bridge', 'tap']
    text = topology_dot(graph)
    assert '"h/vnet0" -- "h/br0";' in text and 'addresses: 192.0.2.1/24' in text


@pytest.mark.parametrize('call, needle', [
    (lambda: topology_dot(dict(nodes=GRAPH['nodes'] * 2, edges=[])), "topology_dot: Node 'h/br0' appears twice"),
    (lambda: topology_dot(dict(nodes=[], edges=GRAPH['edges'])), "topology_dot: Edge 'vm' -- 'h/br0': no node"),
    (lambda: topology_dot('graph'), 'topology_dot: The graph must be a dict'),
    (lambda: bridge_graph('br0'), "bridge_graph: bridges must be linux_bridge_info's bridges"),
])
def test_errors_are_filter_errors_that_name_the_filter(call, needle):
    with pytest.raises(AnsibleFilterError) as caught:
        call()
    assert needle in str(caught.value)
