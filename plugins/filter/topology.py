# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that draw topologies: ``topology_dot`` (a graph of nodes and edges -> Graphviz DOT text) and
``bridge_graph`` (``linux_bridge_info`` facts -> such a graph). Documented in topology_dot.yml and bridge_graph.yml;
the work is done by ``module_utils._topology``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.kvmnet.bridge.plugins.module_utils._topology import bridge_graph as _bridge_graph
from ansible_collections.kvmnet.bridge.plugins.module_utils._topology import to_dot


def topology_dot(graph, title=None):
    """A graph (``{'nodes': [...], 'edges': [...]}``) as DOT text."""
    try:
        return to_dot(graph, title=title)
    except ValueError as exc:
        raise AnsibleFilterError('topology_dot: %s' % exc)


def bridge_graph(bridges, interfaces=None, host=None):
    """``linux_bridge_info``'s ``bridges`` (and optionally ``host_interfaces_info``'s ``interfaces``) as a graph."""
    try:
        return _bridge_graph(bridges, interfaces=interfaces, host=host)
    except ValueError as exc:
        raise AnsibleFilterError('bridge_graph: %s' % exc)


class FilterModule(object):

    def filters(self):
        return dict(topology_dot=topology_dot, bridge_graph=bridge_graph)
