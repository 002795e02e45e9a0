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
    block, isolation, neighbour suppression) and, on a VLAN-filtering bridge, the port's VLANs. A port that is
    administratively down is brought up (O(up)).
  - In the classic KVM host setup the wired NIC is a port of the bridge and carries no IP address; the bridge
    does. O(addresses) decides what happens to addresses found on the port when it joins, and to the bridge's
    addresses when the port leaves. V(migrate) moves them (and the routes) make-before-break in either direction,
    so peers lose no packet.
  - Refuses a wireless (802.11) station, which the kernel cannot bridge, with an explanation of what to do
    instead. Refuses to take a port away from another bridge unless O(move=true).
  - Declarative and idempotent, with check mode and diff mode. RV(operations) lists the requests sent, or that
    would be sent in check mode, one kernel request each.
  - All or nothing. If a request fails, the requests already applied are reverted, and the module fails naming
    the request that failed.
author:
  - kvmnet.bridge maintainers (@kvmnet)
extends_documentation_fragment:
  - kvmnet.bridge.attributes
  - kvmnet.bridge.attributes.NETLINK_GROUP
  - kvmnet.bridge.netns
  - kvmnet.bridge.run_lock
options:
  name:
    description:
      - The interface to put into the bridge (the port), for example the wired NIC C(eth0).
    type: str
    required: true
  bridge:
    description:
      - The bridge. Required with O(state=present).
      - In check mode a bridge that does not exist yet is assumed to be created by an earlier task of the play; the
        module warns and predicts the join into a new bridge. Outside check mode a missing bridge is refused.
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
      - Global IPv4 and IPv6 addresses count (link-local C(fe80::) addresses do not).
      - "With O(state=present), what to do when the port holds addresses:"
      - V(fail) refuses and names them. This is the rule of the classic setup, where the bridged NIC carries no IP.
      - V(flush) removes every route through the port and the addresses before the port joins the bridge.
      - V(migrate) moves them to the bridge without a gap. The bridge takes the port's MAC, the addresses are added
        to the bridge first (IPv6 without duplicate address detection, so they are usable at once), then the port
        joins, then the routes through the port move to the bridge, then the port's addresses are removed.
      - "With O(state=absent), what to do with the bridge's addresses when the port leaves:"
      - V(fail) refuses when the bridge carries addresses and the port is its last port (the addresses would be left
        on a bridge without any port), naming them. With other ports left (guest taps), the port is released.
      - V(flush) removes the routes through the bridge and its addresses, then releases the port.
      - V(migrate) is the way back from a migrate. The port takes the bridge's MAC (the MAC the LAN knows for these
        addresses; usually it already has it) and the bridge's addresses (IPv6 without duplicate address
        detection), the routes through the bridge move to the port, the bridge's addresses are removed, and the port
        leaves the bridge last. The bridge keeps its MAC.
    type: str
    choices: [fail, flush, migrate]
    default: fail
  up:
    description:
      - V(true) brings a port that is administratively down up (after it joined), so it forwards. A port that is
        down sits in the bridge with STP state V(disabled) and the guests have no uplink.
      - V(false) leaves the port's administrative state as it is (it never takes a port down).
      - Not used with O(state=absent).
    type: bool
    default: true
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
    description:
      - STP path cost of the port, from 1 to 65535.
      - When unset, a port that joins gets the kernel's cost for its link speed (2 for 10 Gbit/s, 4 for 1 Gbit/s,
        100 when the speed is unknown).
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
  - Routes, the bridge's addresses and the bridge's other ports are read only when the task needs them (a port with
    addresses and O(addresses=migrate) or O(addresses=flush), a release).
  - See C(docs/bridge_port.md) in the collection for the order of the requests, the measured ping figures and the
    limits of the undo.
seealso:
  - module: kvmnet.bridge.linux_bridge
'''

EXAMPLES = r'''
- name: The wired NIC joins the guests' bridge (it must carry no IP); brought up if it was down
  kvmnet.bridge.bridge_port:
    name: eth0
    bridge: kvmbr0

- name: Move the NIC's addresses and default route to the bridge without losing a packet
  kvmnet.bridge.bridge_port:
    name: eth0
    bridge: kvmbr0
    addresses: migrate

- name: The way back - the addresses and routes return to the NIC, then it leaves the bridge
  kvmnet.bridge.bridge_port:
    name: eth0
    bridge: kvmbr0
    state: absent
    addresses: migrate

- name: A guest-facing port that must never take part in STP
  kvmnet.bridge.bridge_port:
    name: vnet3
    bridge: kvmbr0
    bpdu_guard: true
    root_block: true
    isolated: true

- name: A trunk port on a VLAN-filtering bridge, untagged frames in VLAN 10
  kvmnet.bridge.bridge_port:
    name: eth1
    bridge: kvmbr1
    vlans:
      - {vid: 10, pvid: true, untagged: true}
      - {vid: 20}

- name: Take eth1 out of whatever bridge it is in (refused if that would strand the bridge's addresses)
  kvmnet.bridge.bridge_port:
    name: eth1
    state: absent
'''

RETURN = r'''
interrupted_runs:
  description: Earlier runs of this task killed while applying their plan (see the notes); each is also a warning.
  returned: when an earlier run was interrupted
  type: list
  elements: dict
vanished:
  description:
    - On a failure because something else on the host deleted an object this task had read (the bridge, the port),
      the names of those objects; what was applied before was reverted.
  returned: on that failure
  type: list
  elements: str
  sample: [kvmbr0]
changed:
  description: Whether requests were sent (in check mode, would be sent). False on every failure.
  returned: always
  type: bool
before:
  description:
    - The port before the task, with the option names and units of this module.
    - On a failure, the port as read before the refusal (null when the options were refused before anything was
      read).
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
    mac:
      description: The interface's MAC address (null when it does not exist).
      type: str
    up:
      description: Whether the interface is administratively up (null when it does not exist).
      type: bool
    addresses:
      description: Global IPv4 and IPv6 addresses on the interface, as C(address/prefix).
      type: list
      elements: str
    routes:
      description:
        - The routes through the interface that move or go with the addresses (not the kernel's own connected
          routes), as C(default via 10.0.0.1 metric 100).
        - Only when the task read them (a port with addresses joining with V(migrate) or V(flush); a release with
          V(migrate)).
      type: list
      elements: str
    vlans:
      description: The port's VLAN entries (vid, pvid, untagged), when O(vlans) is set and it is a port of O(bridge).
      type: list
      elements: dict
    stp_state:
      description:
        - STP state of the port (disabled, listening, learning, forwarding, blocking), when it is a port.
        - In a check-mode RV(after) of a port that joins, null (the kernel sets it from the carrier and STP).
      type: str
    cost:
      description:
        - STP path cost, when it is a port.
        - In a check-mode RV(after) of a port that joins without O(cost), null (the kernel derives it from the link
          speed).
      type: int
    priority:
      description: STP priority of the port, when it is a port. The other port attributes (hairpin, learning,
        unicast_flood, mcast_flood, bpdu_guard, root_block, isolated, neigh_suppress) are returned the same way.
      type: int
    master:
      description: The non-bridge master (a bond) the interface is enslaved to, when there is one.
      type: str
  sample:
    name: eth0
    exists: true
    state: absent
    bridge: null
    mac: "52:54:00:12:34:56"
    up: true
    addresses: ["192.168.1.23/24"]
after:
  description:
    - The port after the task, same keys as RV(before). Read back from the kernel after a change; predicted in
      check mode (with every key of the real run; the kernel's defaults for a port that joins; null for what only
      the kernel can tell, see RV(before.cost) and RV(before.stp_state)).
  returned: success
  type: dict
  sample:
    name: eth0
    exists: true
    state: present
    bridge: kvmbr0
    mac: "52:54:00:12:34:56"
    up: true
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
bridge_before:
  description:
    - What the task may change on the bridge, before it. Null for a release that releases nothing.
  returned: success
  type: dict
  contains:
    name:
      description: The bridge.
      type: str
    exists:
      description: Whether it exists (false in check mode for a bridge an earlier task is assumed to create).
      type: bool
    mac:
      description: Its MAC address.
      type: str
    addresses:
      description: Its global addresses, when the task read them (migrate or flush with addresses, a release).
      type: list
      elements: str
    routes:
      description: The routes through it (as in RV(before.routes)), when the task read them.
      type: list
      elements: str
  sample:
    name: kvmbr0
    exists: true
    mac: "02:4b:00:00:00:01"
    addresses: []
    routes: []
bridge_after:
  description: The bridge side after the task (read back; predicted in check mode), same keys as RV(bridge_before).
  returned: success
  type: dict
  sample:
    name: kvmbr0
    exists: true
    mac: "52:54:00:12:34:56"
    addresses: ["192.168.1.23/24"]
    routes: ["default via 192.168.1.1"]
operations:
  description:
    - The ordered requests sent to the kernel, one each. In check mode, the requests that would be sent. Empty on a
      refusal.
    - Actions are V(set_mac), V(add_address), V(delete_address), V(delete_route), V(move_route), V(enslave),
      V(set_up), V(set_port), V(vlan_add), V(vlan_delete) and V(release).
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
  description:
    - Every object the task changes, before and after, in the format Ansible uses for C(--diff), keyed by object.
    - C(port) is RV(before) and RV(after); C(bridge) is RV(bridge_before) and RV(bridge_after). A migrate shows
      the port losing its addresses and routes and the bridge gaining them and the port's MAC; a release with
      V(migrate) the reverse.
  returned: when diff mode is on
  type: dict
  sample:
    before:
      port: {name: eth0, state: absent, bridge: null, addresses: ["192.168.1.23/24"],
             routes: ["default via 192.168.1.1"]}
      bridge: {name: kvmbr0, exists: true, mac: "02:4b:00:00:00:01", addresses: [], routes: []}
    after:
      port: {name: eth0, state: present, bridge: kvmbr0, addresses: [], routes: []}
      bridge: {name: kvmbr0, exists: true, mac: "52:54:00:12:34:56", addresses: ["192.168.1.23/24"],
               routes: ["default via 192.168.1.1"]}
msg:
  description: Why the task failed, naming the values and the way out.
  returned: failure
  type: str
failed_operation:
  description: The request that failed, when a request of the plan failed. The requests before it were reverted.
  returned: when a request failed
  type: dict
reverted_operations:
  description: The requests that were undone after RV(failed_operation) failed, in the order they were undone.
  returned: when a request failed
  type: list
  elements: dict
revert_errors:
  description: Undos that failed too (then the host is NOT as it was; each names the request and the reason).
  returned: when a request failed
  type: list
  elements: str
errno:
  description: The kernel's error name (for example V(EOPNOTSUPP), V(EBUSY)) when the kernel refused a request or a
    read.
  returned: when the kernel refused
  type: str
addresses:
  description:
    - In a refusal because of addresses, the addresses concerned, as C(address/prefix) (the port's when it joins
      with O(addresses=fail); the bridge's when its last port would leave with O(addresses=fail)).
  returned: when refused because of addresses
  type: list
  elements: str
current_bridge:
  description: The other bridge the interface is a port of, when refused without O(move=true).
  returned: when refused because the interface is a port of another bridge
  type: str
name:
  description: The offending interface name, when the refusal is about O(name) (invalid, missing, a bridge, not
    Ethernet, wireless).
  returned: when refused because of the interface
  type: str
bridge:
  description: The offending bridge name, when the refusal is about the bridge (missing, not a bridge, no VLAN
    filtering, would keep addresses without any port).
  returned: when refused because of the bridge
  type: str
kind:
  description: The kind of the interface named by O(bridge) when it is not a bridge.
  returned: when refused because O(bridge) is not a bridge
  type: str
wireless:
  description: True when the interface was refused as a wireless station.
  returned: when refused as wireless
  type: bool
link_type:
  description: The ARPHRD link type number of a non-Ethernet interface that was refused.
  returned: when refused as not Ethernet
  type: int
master:
  description: The non-bridge master (a bond) the interface is enslaved to, when refused for it.
  returned: when refused because of a non-bridge master
  type: str
vid:
  description: The offending VLAN id (out of range or listed twice).
  returned: when refused because of a VLAN id
  type: int
pvids:
  description: The VLAN ids marked as PVID when more than one was.
  returned: when refused because of several PVIDs
  type: list
  elements: int
cost:
  description: The out-of-range O(cost) that was refused.
  returned: when refused because of O(cost)
  type: int
priority:
  description: The out-of-range O(priority) that was refused.
  returned: when refused because of O(priority)
  type: int
netns:
  description: The network namespace that does not exist or cannot be entered.
  returned: when refused because of O(netns)
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    NETNS_ARGSPEC,
    Manager,
    NetlinkOperationError,
    Operation,
    already_gone_is_done,
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
    DEFAULT_VLANS,
    bridge_state,
    missing_bridge_warning,
    normalise_bridge_side,
    plan_port,
    port_kernel_request,
    port_state,
    predict_bridge,
    reads_needed,
    subject_bridge,
    validate_port_static,
)


class BridgePortManager(Manager):

    def __init__(self, module, netlink_factory=Netlink):
        super(BridgePortManager, self).__init__(module)
        self.netlink_factory = netlink_factory  # a seam for the unit tests' Netlink stand-in

    def facts(self, netlink):
        """What the plan needs, read once: the links and the port's addresses always; the bridge's addresses,
        the routes and the bridge's other ports only when the plan needs them (``_port.reads_needed``)."""
        params = self.params
        port = netlink.get_link(params['name'])
        bridge = netlink.get_link(params['bridge']) if params.get('bridge') else None
        master = netlink.get_link_by_index(port['master']) if port and port['master'] else None
        facts = dict(
            port=port,
            bridge=bridge,
            master=master,
            port_addresses=netlink.addresses(port['index']) if port else [],
            wireless=self.wireless(port) if port and params['state'] == 'present' else False,
            vlans=self.vlans(netlink, port, bridge),
            check_mode=self.module.check_mode,
        )
        while True:
            missing = [key for key in reads_needed(params, facts) if key not in facts]
            if not missing:
                return facts
            for key in missing:
                facts[key] = self.read(netlink, key, facts)

    def read(self, netlink, key, facts):
        """One optional fact (``_port.OPTIONAL_READS``); a bridge that does not exist (check mode) has none."""
        port, bridge = facts['port'], subject_bridge(self.params, facts)
        if key == 'routes':
            return netlink.routes(port['index'])
        if bridge is None:
            return []
        if key == 'bridge_addresses':
            return netlink.addresses(bridge['index'])
        if key == 'bridge_routes':
            return netlink.routes(bridge['index'])
        return [link['name'] for link in netlink.ports(bridge['index']) if link['index'] != port['index']]

    def vlans(self, netlink, port, bridge):
        """The port's VLAN entries when O(vlans) is set and the bridge filters VLANs (a port that joins gets the
        kernel's default entry); None when the bridge does not filter VLANs or O(vlans) is unset."""
        if self.params.get('vlans') is None or bridge is None or not bridge['bridge'].get('IFLA_BR_VLAN_FILTERING'):
            return None
        if port is not None and port['master'] == bridge['index']:
            return netlink.port_vlans(port['index'])
        return [dict(entry) for entry in DEFAULT_VLANS]

    def wireless(self, port):
        if self.params['netns']:
            return bool(wireless_in_netns(self.module.run_command, self.params['netns'], port['name']))
        return wireless_from_sysfs(port['name'])

    def bind(self, netlink, step, facts):
        """A plan step (plain data) -> an Operation: ONE Netlink write to apply it, ONE to undo it.

        Deletes of something already gone (ENODEV, EADDRNOTAVAIL, ESRCH, ENOENT) count as done, both as a step
        and as the undo of an add.
        """
        action, name, attributes = step['action'], step['interface'], step['attributes']
        data, undo = step.get('data') or {}, step.get('revert')
        indexes = self.indexes(facts)

        def index(interface):
            return indexes.get(interface)

        here = index(name)
        if action == 'set_mac':
            def apply():
                netlink.set_link(name, here, address=attributes['mac'])

            def revert():
                netlink.set_link(name, here, address=undo['mac'])
        elif action == 'set_up':
            def apply():
                netlink.set_link(name, here, up=True)

            def revert():
                netlink.set_link(name, here, up=False)
        elif action == 'add_address':
            def apply():
                netlink.add_address(name, here, data['address'], nodad=True)

            revert = already_gone_is_done(lambda: netlink.delete_address(name, here, data['address']))
        elif action == 'delete_address':
            apply = already_gone_is_done(lambda: netlink.delete_address(name, here, data['address']))

            def revert():
                netlink.add_address(name, here, data['address'], nodad=True)
        elif action == 'delete_route':
            apply = already_gone_is_done(lambda: netlink.route_to(data['route'], here, how='delete'))

            def revert():
                netlink.route_to(data['route'], here, how='add')
        elif action == 'move_route':
            def apply():
                netlink.route_to(data['route'], index(attributes['to']))

            def revert():
                netlink.route_to(data['route'], here)
        elif action == 'enslave':
            def apply():
                self.enslave(netlink, name, here, data['master_index'], attributes['bridge'])

            def revert():
                netlink.set_master(name, here, data['previous_master_index'], undo['bridge'])
        elif action == 'release':
            def apply():
                netlink.set_master(name, here, 0)

            def revert():
                netlink.set_master(name, here, data['previous_master_index'], undo['bridge'])
        elif action == 'set_port':
            def apply():
                netlink.set_port(name, here, port_kernel_request(attributes))

            revert = None  # a port that joins in this plan: the release undoing the join resets its attributes
            if undo is not None:
                def revert():
                    netlink.set_port(name, here, port_kernel_request(undo))
        elif action == 'vlan_add':
            def apply():
                netlink.port_vlan(name, here, 'add', data['entry'])

            if undo['previous'] is not None:  # the flags of an existing entry changed: set them back
                def revert():
                    netlink.port_vlan(name, here, 'add', undo['previous'])
            else:
                revert = already_gone_is_done(lambda: netlink.port_vlan(name, here, 'del', data['entry']))
        elif action == 'vlan_delete':
            apply = already_gone_is_done(lambda: netlink.port_vlan(name, here, 'del', data['entry']))

            def revert():
                netlink.port_vlan(name, here, 'add', undo['entry'])
        else:
            raise ValueError('unknown plan step %r' % action)
        return Operation(action, name, attributes, apply=apply, revert=revert)

    def indexes(self, facts):
        """Interface name -> ifindex of the interfaces a plan may address: the port and the bridge it joins or
        leaves (None for a bridge that does not exist yet, check mode)."""
        result = {}
        bridge = subject_bridge(self.params, facts)
        if bridge is not None:
            result[bridge['name']] = bridge['index']
        if facts['port'] is not None:
            result[self.params['name']] = facts['port']['index']
        return result

    @staticmethod
    def enslave(netlink, name, index, master_index, bridge_name):
        try:
            netlink.set_master(name, index, master_index, bridge_name)
        except NetlinkOperationError as exc:
            if exc.details.get('errno') == 'EOPNOTSUPP':
                raise NetlinkOperationError('%s %s' % (exc.msg, wireless_refusal(name, bridge_name)), **exc.details)
            raise

    def read_after(self, netlink, facts, bridge_name):
        """The port and the bridge side read back, with the same optional facts as before."""
        params = self.params
        port = netlink.get_link(params['name'])
        bridge = netlink.get_link(params['bridge']) if params.get('bridge') else None
        after = dict(
            port=port,
            bridge=bridge,
            master=netlink.get_link_by_index(port['master']) if port and port['master'] else None,
            port_addresses=netlink.addresses(port['index']) if port else [],
            vlans=self.vlans(netlink, port, bridge),
        )
        if 'routes' in facts:
            after['routes'] = netlink.routes(port['index']) if port else []
        side = netlink.get_link(bridge_name) if bridge_name else None
        bridge_after = normalise_bridge_side(
            bridge_name, side,
            netlink.addresses(side['index']) if side and 'bridge_addresses' in facts else None,
            netlink.routes(side['index']) if side and 'bridge_routes' in facts else None)
        return port_state(params, after), bridge_after

    def run(self):
        validate_port_static(self.params)
        with self.netlink_factory(self.params['netns']) as netlink:
            facts = self.facts(netlink)
            self.before = before = port_state(self.params, facts)
            bridge_before = bridge_state(self.params, facts)
            warning = missing_bridge_warning(self.params, facts)
            if warning:
                self.module.warn(warning)
            steps, after = plan_port(self.params, facts)
            bridge_after = predict_bridge(self.params, facts, steps)
            operations = [self.bind(netlink, step, facts) for step in steps]
            apply_plan(operations, self.module.check_mode, watch=list(self.indexes(facts)),
                       exists=lambda name: netlink.get_link(name) is not None)
            if operations and not self.module.check_mode:
                after, bridge_after = self.read_after(netlink, facts, (bridge_before or {}).get('name'))
        result = self.change_result(before, after, operations)
        result.update(bridge_before=bridge_before, bridge_after=bridge_after)
        if self.module._diff:
            result['diff'] = dict(before=dict(port=before, bridge=bridge_before),
                                  after=dict(port=after, bridge=bridge_after))
        return result


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        bridge=dict(type='str'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        addresses=dict(type='str', default='fail', choices=['fail', 'flush', 'migrate']),
        move=dict(type='bool', default=False),
        wireless_4addr=dict(type='bool', default=False),
        up=dict(type='bool', default=True),
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
    # bridge with state present is checked by validate_port_static (not required_if): the refusal then has the
    # result shape of every other refusal (changed, before, operations)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    require_library(module, 'pyroute2', PYROUTE2_IMPORT_ERROR, pyroute2_version(), PYROUTE2_MINIMUM_VERSION)
    run_module(module, BridgePortManager)


if __name__ == '__main__':
    main()
