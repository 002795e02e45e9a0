#!/usr/bin/python
# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: bridge_port
short_description: Put an interface into a Linux bridge (or take it out) and set its port attributes
version_added: 0.1.0
description:
  - Enslaves an interface to a Linux bridge, or releases it, over netlink, optionally inside a network namespace.
    It also sets the bridge-port attributes (STP cost and priority, hairpin, learning, flooding, BPDU guard, root
    block, isolation, neighbour suppression) and, on a VLAN-filtering bridge, the port's VLANs.
  - In the classic KVM host setup the wired NIC is a port of the bridge and carries no IP address; the bridge
    does. O(addresses) decides what happens to addresses found on the port. The default, V(fail), refuses.
    V(flush) removes them. V(migrate) moves them, and the routes through the port (the default route included),
    to the bridge, make-before-break, so peers lose no packet.
  - Refuses a wireless (802.11) station, which the kernel cannot bridge, with an explanation of what to do
    instead. Refuses to take a port away from another bridge unless O(move=true).
  - Declarative and idempotent, with check mode and diff mode. RV(operations) lists the requests sent, or that
    would be sent in check mode.
  - All or nothing. If a request fails, the requests already applied are reverted, and the module fails naming
    the request that failed.
author:
  - kvmnet.bridge maintainers (@kvmnet)
extends_documentation_fragment:
  - kvmnet.bridge.attributes
  - kvmnet.bridge.attributes.NETLINK_GROUP
  - kvmnet.bridge.netns
options:
  name:
    description:
      - The interface to put into the bridge (the port), for example the wired NIC C(eth0).
    type: str
    required: true
  bridge:
    description:
      - The bridge. Required with O(state=present).
      - With O(state=absent), the port is released only if it is a port of this bridge. Without O(bridge), it
        is released from whatever bridge it is in.
    type: str
  state:
    description:
      - V(present) makes O(name) a port of O(bridge). V(absent) releases it; the interface itself is kept.
    type: str
    choices: [present, absent]
    default: present
  addresses:
    description:
      - What to do when the port holds global IPv4 or IPv6 addresses (link-local C(fe80::) addresses do not
        count).
      - V(fail) refuses and names them. This is the rule of the classic setup, where the bridged NIC carries no IP.
      - V(flush) removes them (and so the routes through them) before the port joins the bridge.
      - V(migrate) moves them to the bridge without a gap. The bridge takes the port's MAC, the addresses are added
        to the bridge first (IPv6 without duplicate address detection, so they are usable at once), then the port
        joins, then the routes through the port move to the bridge, then the port's addresses are removed.
    type: str
    choices: [fail, flush, migrate]
    default: fail
  move:
    description:
      - Allow taking the interface from another bridge it is a port of.
    type: bool
    default: false
  wireless_4addr:
    description:
      - Allow a wireless interface. Use this only if you turned on 4-address mode (C(iw dev wlan0 set 4addr on)) and
        your access point accepts 4-address frames (for hostapd, C(wds_sta=1)). Otherwise the kernel refuses,
        or the frames of guests are dropped.
    type: bool
    default: false
  cost:
    description: STP path cost of the port, from 1 to 65535.
    type: int
  priority:
    description: STP priority of the port, from 0 to 63.
    type: int
  hairpin:
    description: Send frames back out of the port they came in on (needed for reflective relay, e.g. VEPA).
    type: bool
  learning:
    description: Learn source MAC addresses on this port into the forwarding database.
    type: bool
  unicast_flood:
    description: Flood unicast frames with an unknown destination to this port.
    type: bool
  mcast_flood:
    description: Flood multicast frames with no known receivers to this port.
    type: bool
  bpdu_guard:
    description: Disable the port when an STP BPDU arrives on it (for ports facing guests).
    type: bool
  root_block:
    description: Never let this port become the STP root port.
    type: bool
  isolated:
    description: Isolated ports can only talk to non-isolated ports (private VLAN-like separation of guests).
    type: bool
  neigh_suppress:
    description: Answer ARP and neighbour discovery for this port from the bridge's neighbour table.
    type: bool
  vlans:
    description:
      - The VLANs of the port. The list is complete, so entries not listed are removed.
      - Needs a bridge with VLAN filtering on (M(kvmnet.bridge.linux_bridge) with C(vlan_filtering=true)).
        Otherwise the module fails before changing anything.
      - When omitted, the port's VLANs are left alone.
    type: list
    elements: dict
    suboptions:
      vid:
        description: VLAN id, from 1 to 4094.
        type: int
        required: true
      pvid:
        description: Untagged frames entering the port belong to this VLAN. One entry at most.
        type: bool
        default: false
      untagged:
        description: Frames of this VLAN leave the port untagged.
        type: bool
        default: false
notes:
  - Run as root (C(become=true)).
  - In a namespace given by name, the wireless check reads sysfs through C(ip netns exec). In a namespace given as
    a path, the check relies on the kernel's refusal (EOPNOTSUPP), which is translated into the same explanation.
seealso:
  - module: kvmnet.bridge.linux_bridge
'''

EXAMPLES = r'''
- name: The wired NIC joins the guests' bridge (it must carry no IP)
  kvmnet.bridge.bridge_port:
    name: eth0
    bridge: kvmbr0

- name: Move the NIC's addresses and default route to the bridge without losing a packet
  kvmnet.bridge.bridge_port:
    name: eth0
    bridge: kvmbr0
    addresses: migrate

- name: A guest-facing port that must never take part in STP
  kvmnet.bridge.bridge_port:
    name: vnet3
    bridge: kvmbr0
    bpdu_guard: true
    root_block: true
    isolated: true

- name: Take eth1 out of whatever bridge it is in
  kvmnet.bridge.bridge_port:
    name: eth1
    state: absent
'''

RETURN = r'''
before:
  description: The port before the task, with the option names and units of this module.
  returned: always
  type: dict
  contains:
    name:
      description: The interface.
      type: str
    exists:
      description: Whether the interface exists.
      type: bool
    state:
      description: V(present) if the interface is a port of O(bridge), else V(absent).
      type: str
    bridge:
      description: The bridge the interface is a port of, or null.
      type: str
    addresses:
      description: Global IPv4 and IPv6 addresses on the interface, as C(address/prefix).
      type: list
      elements: str
    stp_state:
      description: STP state of the port (disabled, listening, learning, forwarding, blocking), when it is a port.
      type: str
    cost:
      description: STP path cost, when it is a port. The other port attributes are returned the same way.
      type: int
  sample:
    name: eth0
    exists: true
    state: absent
    bridge: null
    addresses: ["192.168.1.23/24"]
after:
  description: The port after the task (read back from the kernel; predicted in check mode), same keys as RV(before).
  returned: always
  type: dict
  sample:
    name: eth0
    exists: true
    state: present
    bridge: kvmbr0
    addresses: []
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
operations:
  description:
    - The ordered requests sent to the kernel. In check mode, the requests that would be sent.
    - Actions are V(set_mac), V(add_address), V(flush_addresses), V(enslave), V(release), V(set_port),
      V(vlan_add), V(vlan_delete), V(move_route) and V(delete_address).
  returned: always
  type: list
  elements: dict
  sample:
    - {action: set_mac, interface: kvmbr0, attributes: {mac: "52:54:00:12:34:56"}}
    - {action: add_address, interface: kvmbr0, attributes: {address: 192.168.1.23/24}}
    - {action: enslave, interface: eth0, attributes: {bridge: kvmbr0}}
    - {action: move_route, interface: eth0, attributes: {route: default via 192.168.1.1, to: kvmbr0}}
    - {action: delete_address, interface: eth0, attributes: {address: 192.168.1.23/24}}
diff:
  description: RV(before) and RV(after) in the format Ansible uses for C(--diff).
  returned: when diff mode is on
  type: dict
failed_operation:
  description: The request that failed, when a request of the plan failed. The requests before it were reverted.
  returned: failure
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    NETNS_ARGSPEC,
    Manager,
    NetlinkOperationError,
    Operation,
    apply_plan,
    require_library,
    run_module,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import (
    wireless_from_sysfs,
    wireless_in_netns,
    wireless_refusal,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._netlink import (
    PYROUTE2_IMPORT_ERROR,
    PYROUTE2_MINIMUM_VERSION,
    Netlink,
    pyroute2_version,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._port import (
    normalise_port,
    plan_port,
    port_kernel_request,
    validate_port_static,
)


class BridgePortManager(Manager):

    def facts(self, netlink):
        name, bridge_name = self.params['name'], self.params.get('bridge')
        port = netlink.get_link(name)
        bridge = netlink.get_link(bridge_name) if bridge_name else None
        master = netlink.get_link_by_index(port['master']) if port and port['master'] else None
        vlans = None
        if bridge is not None and bridge['bridge'].get('IFLA_BR_VLAN_FILTERING') and port is not None \
                and port['master'] == bridge['index']:
            vlans = netlink.port_vlans(port['index'])
        elif bridge is not None and bridge['bridge'].get('IFLA_BR_VLAN_FILTERING'):
            # a port joining a VLAN-filtering bridge gets the default PVID (1, untagged) from the kernel
            vlans = [dict(vid=1, pvid=True, untagged=True)]
        return dict(
            port=port,
            bridge=bridge,
            master=master,
            port_addresses=netlink.addresses(port['index']) if port else [],
            bridge_addresses=netlink.addresses(bridge['index']) if bridge else [],
            routes=netlink.routes(port['index']) if port else [],
            wireless=self.wireless(port) if port and self.params['state'] == 'present' else False,
            vlans=vlans,
        )

    def wireless(self, port):
        if self.params['netns']:
            return bool(wireless_in_netns(self.module.run_command, self.params['netns'], port['name']))
        return wireless_from_sysfs(port['name'])

    def bind(self, netlink, step, facts):
        """A plan step (plain data) -> an Operation calling netlink."""
        action, data = step['action'], step['data']
        port, bridge = facts['port'], facts['bridge']
        port_name, port_index = self.params['name'], port['index'] if port else None
        bridge_name, bridge_index = (bridge['name'], bridge['index']) if bridge else (None, None)
        calls = {
            'set_mac': (lambda: netlink.set_link(bridge_name, bridge_index, address=step['attributes']['mac']),
                        lambda: netlink.set_link(bridge_name, bridge_index, address=step['revert']['mac'])),
            'add_address': (lambda: netlink.add_address(bridge_name, bridge_index, data, nodad=True),
                            lambda: netlink.delete_address(bridge_name, bridge_index, data)),
            'flush_addresses': (lambda: [netlink.delete_address(port_name, port_index, address)
                                         for address in data.get('addresses', [])],
                                lambda: self.restore(netlink, port_name, port_index, data)),
            'enslave': (lambda: self.enslave(netlink, port_name, port_index, data['master_index'], bridge_name),
                        lambda: netlink.set_master(port_name, port_index, data['previous_master_index'])),
            'release': (lambda: netlink.set_master(port_name, port_index, 0), None),
            'set_port': (lambda: netlink.set_port(port_name, port_index, port_kernel_request(step['attributes'])),
                         (lambda: netlink.set_port(port_name, port_index, port_kernel_request(step['revert'])))
                         if step['revert'] else None),
            'vlan_add': (lambda: netlink.port_vlan(port_name, port_index, 'add', data),
                         lambda: netlink.port_vlan(port_name, port_index, 'del', data)),
            'vlan_delete': (lambda: netlink.port_vlan(port_name, port_index, 'del', data),
                            lambda: netlink.port_vlan(port_name, port_index, 'add', data)),
            'move_route': (lambda: netlink.route_to(data, bridge_index),
                           lambda: netlink.route_to(data, port_index)),
            'delete_address': (lambda: netlink.delete_address(port_name, port_index, data),
                               lambda: netlink.add_address(port_name, port_index, data)),
        }
        apply, revert = calls[action]
        return Operation(action, step['interface'], step['attributes'], apply=apply, revert=revert)

    @staticmethod
    def restore(netlink, name, index, data):
        """Undo of a flush: the addresses, then the routes that went away with them."""
        for address in data['addresses']:
            netlink.add_address(name, index, address)
        for route in data['routes']:
            netlink.route_to(route, index)

    @staticmethod
    def enslave(netlink, name, index, master_index, bridge_name):
        try:
            netlink.set_master(name, index, master_index, bridge_name)
        except NetlinkOperationError as exc:
            if exc.details.get('errno') == 'EOPNOTSUPP':
                raise NetlinkOperationError('%s %s' % (exc.msg, wireless_refusal(name, bridge_name)), **exc.details)
            raise

    def read_after(self, netlink):
        port = netlink.get_link(self.params['name'])
        master = netlink.get_link_by_index(port['master']) if port and port['master'] else None
        addresses = netlink.addresses(port['index']) if port else []
        bridge = self.params.get('bridge') or (master['name'] if master else None)
        return normalise_port(self.params['name'], port, master, addresses, bridge)

    def run(self):
        validate_port_static(self.params)
        with Netlink(self.params['netns']) as netlink:
            facts = self.facts(netlink)
            steps, predicted = plan_port(self.params, facts)
            before = normalise_port(self.params['name'], facts['port'], facts['master'], facts['port_addresses'],
                                    self.params.get('bridge') or (facts['master'] or {}).get('name'))
            operations = [self.bind(netlink, step, facts) for step in steps]
            apply_plan(operations, self.module.check_mode)
            after = predicted if self.module.check_mode or not operations else self.read_after(netlink)
        return self.change_result(before, after, operations)


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        bridge=dict(type='str'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        addresses=dict(type='str', default='fail', choices=['fail', 'flush', 'migrate']),
        move=dict(type='bool', default=False),
        wireless_4addr=dict(type='bool', default=False),
        cost=dict(type='int'),
        priority=dict(type='int'),
        hairpin=dict(type='bool'),
        learning=dict(type='bool'),
        unicast_flood=dict(type='bool'),
        mcast_flood=dict(type='bool'),
        bpdu_guard=dict(type='bool'),
        root_block=dict(type='bool'),
        isolated=dict(type='bool'),
        neigh_suppress=dict(type='bool'),
        vlans=dict(type='list', elements='dict', options=dict(
            vid=dict(type='int', required=True),
            pvid=dict(type='bool', default=False),
            untagged=dict(type='bool', default=False),
        )),
    )
    argument_spec.update(NETNS_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[('state', 'present', ['bridge'])])
    require_library(module, 'pyroute2', PYROUTE2_IMPORT_ERROR, pyroute2_version(), PYROUTE2_MINIMUM_VERSION)
    run_module(module, BridgePortManager)


if __name__ == '__main__':
    main()
