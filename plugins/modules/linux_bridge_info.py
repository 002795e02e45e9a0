#!/usr/bin/python
# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: linux_bridge_info
short_description: Facts about Linux bridges, their ports, STP states and forwarding databases
version_added: 0.1.0
description:
  - Reads all Linux bridges, or the one named by O(name), over netlink, optionally inside a network namespace.
  - For each bridge it returns the attributes with the names and units of the M(kvmnet.bridge.linux_bridge)
    options (timers in seconds, MACs in lower case), so they can be fed back as input. It also returns the bridge
    ID and designated root, each port with the M(kvmnet.bridge.bridge_port) option names, its STP state and
    timers, the forwarding database (FDB), and the counters of the bridge and its ports.
  - With O(format=brctl), RV(text) also holds the layouts of C(brctl show), C(brctl showmacs BRIDGE) and
    C(brctl showstp BRIDGE), for people who know the classic tools.
  - With O(dot=true), RV(dot) also holds a Graphviz DOT picture of those bridges and their ports, to render
    with C(dot -Tsvg).
  - Read-only. The kernel filters every read (bridges by kind, ports by master, FDB entries by bridge), so a
    host with many interfaces costs little more than one with few.
author:
  - kvmnet.bridge maintainers (@kvmnet)
extends_documentation_fragment:
  - kvmnet.bridge.attributes.INFO
  - kvmnet.bridge.attributes.NETLINK_GROUP
  - kvmnet.bridge.netns
options:
  name:
    description:
      - Name of the bridge to read, for example C(kvmbr0).
      - When omitted, every bridge is read.
      - A bridge that does not exist is not an error. RV(bridges) is then empty and RV(exists) is V(false).
        An interface of that name that is not a bridge is an error.
    type: str
  format:
    description:
      - V(facts) returns RV(bridges) only.
      - V(brctl) also returns RV(text), the layouts of C(brctl show), C(brctl showmacs) and C(brctl showstp).
    type: str
    choices: [facts, brctl]
    default: facts
  dot:
    description:
      - Also return RV(dot), a picture of the bridges read, in the DOT language of Graphviz.
      - Each bridge is drawn with its MAC, STP on or off and its global addresses; each port with its MAC, its
        global addresses and its STP state, tun/tap ports (libvirt's C(vnetN)) apart from the other interfaces;
        a line joins each port to its bridge. Everything is inside a box named after O(netns), or after the
        host's name when O(netns) is not set.
      - Render it with C(dot -Tsvg bridges.dot -o bridges.svg) (Graphviz, Debian package C(graphviz)). To draw
        several hosts in one picture, or more than bridges, use the filters
        P(kvmnet.bridge.bridge_graph#filter) and P(kvmnet.bridge.topology_dot#filter).
      - Costs one more kernel-filtered read per bridge and port (its addresses).
    type: bool
    default: false
notes:
  - Run as root (C(become=true)) to read bridges in a named network namespace.
  - Timers that run (for example C(gc_timer) in RV(bridges.timers), and the FDB ageing timers) move between two reads.
seealso:
  - module: kvmnet.bridge.linux_bridge
  - module: kvmnet.bridge.bridge_port
'''

EXAMPLES = r'''
- name: Read every bridge
  kvmnet.bridge.linux_bridge_info:
  register: kvm_bridges

- name: Show the STP state of each port of kvmbr0
  ansible.builtin.debug:
    msg: "{{ kvm_bridges.bridges.kvmbr0.ports | items2dict(key_name='name', value_name='stp_state') }}"

- name: Read one bridge in a namespace, with the brctl layouts
  kvmnet.bridge.linux_bridge_info:
    name: kvmbr0
    netns: lab
    format: brctl
  register: kvmbr0_info

- name: Print it the way brctl would (a list of lines, tabs expanded, so the columns line up)
  ansible.builtin.debug:
    msg: >-
      {{ (kvmbr0_info.text.show ~ kvmbr0_info.text.showstp.kvmbr0 ~ kvmbr0_info.text.showmacs.kvmbr0)
         .expandtabs(8).splitlines() }}

- name: Fail unless the bridge exists
  ansible.builtin.assert:
    that: kvmbr0_info.exists

- name: Draw this host's bridges
  kvmnet.bridge.linux_bridge_info:
    dot: true
  register: kvm_picture

- name: Write the picture on the controller
  ansible.builtin.copy:
    content: "{{ kvm_picture.dot }}"
    dest: "{{ playbook_dir }}/{{ inventory_hostname }}-bridges.dot"
    mode: "0644"
  delegate_to: localhost

- name: Render it as SVG with Graphviz (apt-get install graphviz)
  ansible.builtin.command:
    argv: [dot, -Tsvg, "{{ inventory_hostname }}-bridges.dot", -o, "{{ inventory_hostname }}-bridges.svg"]
    chdir: "{{ playbook_dir }}"
  delegate_to: localhost
  changed_when: true

- name: Copy kvmbr0's attributes to kvmbr1 (the facts use the linux_bridge option names and units)
  vars:
    source: "{{ kvmbr0_info.bridges.kvmbr0 }}"
  kvmnet.bridge.linux_bridge:
    name: kvmbr1
    netns: lab
    stp: "{{ source.stp }}"
    forward_delay: "{{ source.forward_delay }}"
    hello_time: "{{ source.hello_time }}"
    max_age: "{{ source.max_age }}"
    ageing_time: "{{ source.ageing_time }}"
    priority: "{{ source.priority }}"
    mcast_snooping: "{{ source.mcast_snooping }}"
    group_fwd_mask: "{{ source.group_fwd_mask }}"
    mtu: "{{ source.mtu }}"
'''

RETURN = r'''
exists:
  description: Whether the bridge named by O(name) exists.
  returned: when O(name) is given
  type: bool
  sample: true
bridges:
  description:
    - The bridges, by name. Empty when there is none (or when the bridge named by O(name) does not exist).
    - Timers are in seconds, with up to two decimals. MACs are in lower case.
  returned: always
  type: dict
  contains:
    name:
      description: Bridge name.
      type: str
      sample: kvmbr0
    state:
      description: Always V(present) (as the M(kvmnet.bridge.linux_bridge) option).
      type: str
      sample: present
    index:
      description: Interface index.
      type: int
      sample: 4
    mac:
      description: MAC address.
      type: str
      sample: "52:54:00:aa:bb:cc"
    mtu:
      description: MTU.
      type: int
      sample: 1500
    up:
      description: Whether the bridge is administratively up.
      type: bool
      sample: true
    stp:
      description: Whether STP is on.
      type: bool
      sample: false
    forward_delay:
      description: Forward delay in seconds.
      type: float
      sample: 0
    hello_time:
      description: Hello time in seconds.
      type: float
      sample: 2
    max_age:
      description: Max age in seconds.
      type: float
      sample: 20
    ageing_time:
      description: FDB ageing time in seconds.
      type: float
      sample: 300
    priority:
      description: Bridge priority.
      type: int
      sample: 32768
    mcast_snooping:
      description: Whether multicast snooping is on.
      type: bool
      sample: true
    vlan_filtering:
      description: Whether VLAN filtering is on.
      type: bool
      sample: false
    group_fwd_mask:
      description: Group forward mask.
      type: int
      sample: 0
    bridge_id:
      description: Bridge ID, the priority and the MAC in hexadecimal, as C(brctl) and sysfs write it.
      type: str
      sample: 8000.525400aabbcc
    designated_root:
      description: Bridge ID of the root bridge (the bridge's own ID when it is the root or STP is off).
      type: str
      sample: 8000.525400aabbcc
    root_port:
      description: Port number of the root port, V(0) when this bridge is the root.
      type: int
      sample: 0
    root_path_cost:
      description: Path cost to the root bridge.
      type: int
      sample: 0
    topology_change:
      description: Whether the topology change flag is set.
      type: bool
      sample: false
    topology_change_detected:
      description: Whether a topology change was detected.
      type: bool
      sample: false
    timers:
      description: The bridge's running timers, in seconds.
      type: dict
      sample: {hello_timer: 0, tcn_timer: 0, topology_change_timer: 0, gc_timer: 12.34}
    stats:
      description: Counters of the bridge device.
      type: dict
      contains:
        rx_bytes:
          description: Bytes received.
          type: int
        rx_packets:
          description: Packets received.
          type: int
        rx_errors:
          description: Receive errors.
          type: int
        rx_dropped:
          description: Received packets dropped.
          type: int
        tx_bytes:
          description: Bytes sent.
          type: int
        tx_packets:
          description: Packets sent.
          type: int
        tx_errors:
          description: Send errors.
          type: int
        tx_dropped:
          description: Packets dropped on sending.
          type: int
    ports:
      description:
        - The bridge's ports, sorted by name. The attributes have the names and units of the
          M(kvmnet.bridge.bridge_port) options.
      type: list
      elements: dict
      contains:
        name:
          description: Port (interface) name.
          type: str
          sample: vnet0
        bridge:
          description: The bridge the port belongs to.
          type: str
          sample: kvmbr0
        index:
          description: Interface index.
          type: int
        link_kind:
          description: The kernel's kind of the port's device (V(veth), V(tun) for a tun/tap device such as
            libvirt's C(vnetN), V(vxlan)...), V(null) for a physical NIC.
          type: str
          sample: tun
        mac:
          description: MAC address of the port.
          type: str
        mtu:
          description: MTU of the port.
          type: int
        up:
          description: Whether the port is administratively up.
          type: bool
        cost:
          description: STP path cost.
          type: int
          sample: 2
        priority:
          description: STP port priority.
          type: int
          sample: 32
        hairpin:
          description: Whether hairpin mode is on (frames may be sent back out of the port they came in on).
          type: bool
        learning:
          description: Whether source MACs are learned on the port.
          type: bool
        unicast_flood:
          description: Whether unknown unicast is flooded to the port.
          type: bool
        mcast_flood:
          description: Whether unknown multicast is flooded to the port.
          type: bool
        bpdu_guard:
          description: Whether the port is disabled when it receives an STP BPDU.
          type: bool
        root_block:
          description: Whether the port is prevented from becoming the root port.
          type: bool
        isolated:
          description: Whether the port is isolated (it talks only to non-isolated ports).
          type: bool
        neigh_suppress:
          description: Whether ARP/ND suppression is on.
          type: bool
        stp_state:
          description: STP state of the port.
          type: str
          choices: [disabled, listening, learning, forwarding, blocking]
          sample: forwarding
        port_no:
          description: Port number.
          type: int
          sample: 1
        port_id:
          description: Port ID (priority and port number) in hexadecimal.
          type: str
          sample: "8001"
        designated_root:
          description: Designated root bridge ID.
          type: str
        designated_bridge:
          description: Designated bridge ID.
          type: str
        designated_port:
          description: Designated port ID in hexadecimal.
          type: str
        designated_cost:
          description: Designated cost.
          type: int
        topology_change_ack:
          description: Whether the topology change acknowledgement flag is set.
          type: bool
        config_pending:
          description: Whether a configuration BPDU is pending.
          type: bool
        timers:
          description: The port's running STP timers in seconds (message_age_timer, forward_delay_timer, hold_timer).
          type: dict
        stats:
          description: Counters of the port, with the keys of RV(bridges.stats).
          type: dict
    fdb:
      description:
        - The bridge's forwarding database, sorted by MAC, then port.
        - Entries the devices list themselves (their multicast address lists, C(self) in C(bridge fdb)) are not
          included.
      type: list
      elements: dict
      contains:
        mac:
          description: MAC address.
          type: str
          sample: "52:54:00:12:34:56"
        port:
          description: The port the MAC is behind; the bridge's name for the bridge's own address.
          type: str
          sample: vnet0
        vlan:
          description: VLAN ID, or V(null) when the entry has none.
          type: int
        local:
          description:
            - Whether the MAC is an address of the bridge or of one of its ports (C(permanent) in C(bridge fdb)).
          type: bool
        static:
          description: Whether the entry was added as C(static) (it never ages).
          type: bool
        ageing_timer:
          description:
            - Seconds since the entry was last refreshed. A learned entry is dropped when this reaches
              RV(bridges.ageing_time).
            - V(0) for local and static entries, which never age (as C(brctl showmacs) shows them).
          type: float
          sample: 3.05
  sample:
    kvmbr0:
      name: kvmbr0
      state: present
      index: 4
      mac: "52:54:00:aa:bb:cc"
      mtu: 1500
      up: true
      stp: false
      forward_delay: 0
      hello_time: 2
      max_age: 20
      ageing_time: 300
      priority: 32768
      mcast_snooping: true
      vlan_filtering: false
      group_fwd_mask: 0
      bridge_id: 8000.525400aabbcc
      designated_root: 8000.525400aabbcc
      root_port: 0
      root_path_cost: 0
      topology_change: false
      topology_change_detected: false
      timers: {hello_timer: 0, tcn_timer: 0, topology_change_timer: 0, gc_timer: 21.5}
      stats: {rx_bytes: 0, rx_packets: 0, rx_errors: 0, rx_dropped: 0, tx_bytes: 0, tx_packets: 0, tx_errors: 0,
              tx_dropped: 0}
      ports:
        - name: vnet0
          bridge: kvmbr0
          stp_state: forwarding
          cost: 2
          priority: 32
          hairpin: false
          learning: true
          unicast_flood: true
          mcast_flood: true
          bpdu_guard: false
          root_block: false
          isolated: false
          neigh_suppress: false
          port_no: 1
          port_id: "8001"
      fdb:
        - {mac: "52:54:00:12:34:56", port: vnet0, vlan: null, local: false, static: false, ageing_timer: 3.05}
        - {mac: "fe:54:00:12:34:56", port: vnet0, vlan: null, local: true, static: false, ageing_timer: 0}
text:
  description:
    - The C(brctl) layouts, byte for byte as bridge-utils prints them, with a final newline.
    - C(show) is C(brctl show) (C(brctl show NAME) when O(name) is given; empty when there is no bridge).
      C(showmacs) and C(showstp) map each bridge name to the output of C(brctl showmacs NAME) and
      C(brctl showstp NAME).
    - brctl prints only the low 8 bits of a port number in C(showmacs); this shows the whole number, so the two
      differ on bridges with more than 255 ports.
  returned: when O(format=brctl)
  type: dict
  contains:
    show:
      description: C(brctl show).
      type: str
      sample: "bridge name\tbridge id\t\tSTP enabled\tinterfaces\nkvmbr0\t\t8000.525400aabbcc\tno\t\tvnet0\n"
    showmacs:
      description: C(brctl showmacs NAME), by bridge name.
      type: dict
      sample: {kvmbr0: "port no\tmac addr\t\tis local?\tageing timer\n  1\tfe:54:00:12:34:56\tyes\t\t   0.00\n"}
    showstp:
      description: C(brctl showstp NAME), by bridge name.
      type: dict
dot:
  description:
    - The bridges read (all of them, or the one named by O(name)) and their ports as a Graphviz DOT graph, with a
      final newline; see O(dot). An empty graph when there is no bridge.
    - Node ids are C(GROUP/NAME) (the group is O(netns), or the host's name), so the graphs of several hosts can
      be joined; the output depends only on the bridges, not on the order of the reads.
    - Render it with C(dot -Tsvg) or C(dot -Tpng).
  returned: when O(dot=true)
  type: str
  sample: |
    graph "kvmnet" {
      ...
      subgraph "cluster_lab" {
        label=<<b>lab</b>>; ...
        "lab/kvmbr0" [label=<<b>kvmbr0</b><br/><font point-size="9">mac: 52:54:00:aa:bb:cc</font>...>, ...];
        "lab/vnet0" [label=<<b>vnet0</b><br/><font point-size="9">mac: fe:54:00:12:34:56</font>...>, ...];
      }
      "lab/vnet0" -- "lab/kvmbr0";
    }
'''

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmnet.bridge.plugins.module_utils._bridge_info import brctl_text, bridge_facts
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    NETNS_ARGSPEC,
    Manager,
    require_library,
    run_module,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import address_text, global_addresses
from ansible_collections.kvmnet.bridge.plugins.module_utils._names import validate_ifname
from ansible_collections.kvmnet.bridge.plugins.module_utils._netlink import (
    PYROUTE2_IMPORT_ERROR,
    PYROUTE2_MINIMUM_VERSION,
    Netlink,
    pyroute2_version,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._topology import bridge_graph, to_dot


def read_bridges(netlink, name=None):
    """Facts of bridge ``name`` (or of every bridge): a list, empty when ``name`` does not exist. Three
    kernel-filtered reads per bridge: the bridge (or all bridges in one dump), its ports, its FDB."""
    if name is None:
        links = netlink.bridges()
    else:
        link = netlink.get_bridge(name)
        links = [link] if link is not None else []
    return [bridge_facts(link, netlink.ports(link['index']), netlink.fdb(link['index'])) for link in links]


def read_addresses(netlink, bridges):
    """name -> {'addresses': ['192.0.2.1/24', ...]} (global scope) for every bridge and port of ``bridges``:
    one kernel-filtered read per interface, the shape of ``host_interfaces_info``'s interfaces."""
    result = {}
    for bridge in bridges:
        for item in [bridge] + bridge['ports']:
            addresses = global_addresses(netlink.addresses(item['index']))
            result[item['name']] = dict(addresses=[address_text(address) for address in addresses])
    return result


class LinuxBridgeInfo(Manager):

    def run(self):
        name = self.params['name']
        if name is not None:
            validate_ifname(name)
        with Netlink(self.params['netns']) as netlink:
            bridges = read_bridges(netlink, name)
            addresses = read_addresses(netlink, bridges) if self.params['dot'] else None
        result = dict(changed=False, bridges=dict((bridge['name'], bridge) for bridge in bridges))
        if name is not None:
            result['exists'] = bool(bridges)
        if self.params['format'] == 'brctl':
            result['text'] = brctl_text(bridges)
        if self.params['dot']:
            group = self.params['netns'] or platform.node() or 'localhost'
            result['dot'] = to_dot(bridge_graph(bridges, addresses, host=group))
        return result


def main():
    argument_spec = dict(
        name=dict(type='str'),
        format=dict(type='str', default='facts', choices=['facts', 'brctl']),
        dot=dict(type='bool', default=False),
    )
    argument_spec.update(NETNS_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    require_library(module, 'pyroute2', PYROUTE2_IMPORT_ERROR, pyroute2_version(), PYROUTE2_MINIMUM_VERSION)
    run_module(module, LinuxBridgeInfo)


if __name__ == '__main__':
    main()
