#!/usr/bin/python
# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: linux_bridge
short_description: Manage a Linux bridge device and its attributes over netlink
version_added: 0.1.0
description:
  - Creates, changes in place, or deletes a Linux bridge (the kernel's C(bridge) link type) over netlink, optionally
    inside a network namespace.
  - Declarative and idempotent. The module reads the bridge, compares it with the options you set, and sends only
    the requests needed. They are listed in RV(operations), also in check mode.
  - Attributes are changed in place. The module never deletes and re-creates a bridge to change it, because that
    would drop the ports and the guests' taps.
  - Options you leave unset are not changed on an existing bridge, O(up) included. When the module creates a
    bridge, it uses defaults for a KVM host, O(stp=false) and O(forward_delay=0), so a new guest tap forwards
    frames at once, and brings the bridge up. The kernel's default would delay frames by 2 x 15 seconds, long
    enough for DHCP or PXE in a booting guest to time out.
  - All or nothing. Every request has an undo. If a request fails, what the kernel applied of it and the requests
    already sent are undone, and the module fails, naming the request that failed.
  - Every option is validated before anything changes. Bad input fails with a message that names the value and
    the accepted range or form.
  - Deleting a bridge that carries IP addresses or routes (for example after
    M(kvmnet.bridge.bridge_port) with O(kvmnet.bridge.bridge_port#module:addresses=migrate)) is refused, with
    the addresses and routes named, until O(addresses) says what to do with them. O(force) does not cover
    that.
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
      - Name of the bridge, for example C(kvmbr0).
      - At most 15 bytes, with no C(/), C(:) or whitespace.
    type: str
    required: true
  state:
    description:
      - V(present) creates the bridge if it does not exist and sets the attributes you give.
      - V(absent) deletes the bridge. If the bridge still has ports, this fails unless O(force=true). If it
        carries IP addresses or routes, this fails unless O(addresses) is V(migrate) or V(flush).
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - With O(state=absent), delete the bridge even if it still has ports. The kernel releases the ports, and
        guests on the bridge lose their network.
      - It does not allow deleting the bridge's IP addresses and routes; see O(addresses).
    type: bool
    default: false
  addresses:
    description:
      - With O(state=absent), what happens to the IP addresses (scope global) and routes the bridge carries. The
        same words as the O(kvmnet.bridge.bridge_port#module:addresses) option of M(kvmnet.bridge.bridge_port),
        in the other direction.
      - When unset, V(fail) applies. V(fail) refuses to delete a bridge that carries addresses or routes, and
        names them, because deleting them can cut the host off the network, together with the Ansible
        connection.
      - V(migrate) moves them to O(migrate_to) first, make-before-break. The addresses are added to
        O(migrate_to), IPv6 without duplicate address detection so they work at once. Each route through the
        bridge is then replaced by the same route through O(migrate_to). Only then is the bridge deleted. Moving
        them back to the port whose MAC the bridge has loses no packets (measured with a peer pinging every
        10 ms).
      - V(flush) deletes them with the bridge. RV(operations) lists them in the delete request.
      - Only with O(state=absent).
    type: str
    choices: [fail, flush, migrate]
  migrate_to:
    description:
      - The interface that takes over the bridge's addresses and routes with O(addresses=migrate), usually the
        uplink port, for example C(eth0).
      - It must exist and be up. It must not be a port of another bridge or of another device, because a port's
        traffic goes to its master. A port of this bridge is fine, because deleting the bridge releases it.
      - If its MAC differs from the bridge's, the module warns. Neighbours then keep sending to the bridge's old
        MAC until their ARP/NDP entries expire.
    type: str
  up:
    description:
      - Administrative state of the bridge. V(true) brings it up, V(false) sets it down.
      - When omitted, a new bridge is brought up, and an existing bridge is left as it is, for example down
        when an operator set it down.
    type: bool
  stp:
    description:
      - Enable the kernel's Spanning Tree Protocol on the bridge.
      - When omitted, a new bridge gets V(false) and an existing bridge is left alone.
    type: bool
  forward_delay:
    description:
      - Forward delay in seconds, with up to two decimals. Netlink counts in hundredths of a second; the module
        does the conversion.
      - A number (V(15), V(2.5)) or a string of one, optionally with the unit C(s) (V(15s)). No other unit is
        accepted.
      - Accepted range is 2 to 30 when STP is on, and 0 to 30 when STP is off. A value that looks like
        hundredths of a second (V(1500), as C(ip -d link) prints it) is refused, and the message suggests the
        value in seconds.
      - When omitted, a new bridge gets V(0) unless O(stp=true), in which case the kernel default of 15 seconds
        is kept. An existing bridge is left alone.
    type: raw
  hello_time:
    description:
      - STP hello time in seconds, from 1 to 10. Written like O(forward_delay).
      - When omitted, a new bridge gets the kernel's 2 seconds.
    type: raw
  max_age:
    description:
      - STP maximum message age in seconds, from 6 to 40. Written like O(forward_delay).
      - When omitted, a new bridge gets the kernel's 20 seconds.
    type: raw
  ageing_time:
    description:
      - How long, in seconds, a learned MAC address stays in the forwarding database (FDB). The kernel
        default is 300. Written like O(forward_delay).
      - The range is 0 to 1000000. V(0) turns learning off, so the bridge floods all traffic like a hub.
      - A bare number of 10000 or more (2.8 hours) gets a warning, because it looks like hundredths of a second
        (C(ip -d link) prints V(30000) for 300 seconds). Write such a value with its unit, for example
        V(14400s), to say it is meant, and the warning goes away.
    type: raw
  priority:
    description:
      - Bridge priority for STP root election, from 0 to 65535.
      - When omitted, a new bridge gets the kernel's 32768.
    type: int
  mcast_snooping:
    description:
      - Turn IGMP/MLD multicast snooping on or off.
      - When omitted, a new bridge gets the kernel's default, on.
    type: bool
  vlan_filtering:
    description:
      - Turn 802.1Q VLAN filtering on the bridge on or off.
      - When omitted, the setting is left alone. The module never changes it unless you ask.
      - Some kernels are built without bridge VLAN filtering. On those, V(true) fails with a "not supported"
        error and nothing changes.
    type: bool
  group_fwd_mask:
    description:
      - Bit mask of link-local group addresses C(01:80:c2:00:00:0X) the bridge forwards instead of
        consuming, for example V(8) to forward 802.1X (EAPOL) frames to guests.
      - Bits 0 to 2 (STP, MAC pause, LACP) are restricted by the kernel and refused.
    type: int
  mtu:
    description:
      - MTU of the bridge device, from 68 to 65535.
      - When omitted, a new bridge gets 1500.
    type: int
  mac:
    description:
      - MAC address of the bridge, for example C(52:54:00:aa:bb:cc). The module accepts C(:) or C(-) as a
        separator and upper or lower case, and always returns the MAC in lower case.
      - Quote it in YAML. Unquoted, V(52:54:00:12:34:56) is read as a base-60 number; the error message then
        says so.
      - Multicast and all-zero addresses are refused.
      - An address set explicitly is pinned. The kernel then keeps it when ports join; otherwise a bridge takes
        the lowest MAC of its ports, and its DHCP lease and IP address can change.
      - When omitted, a new bridge gets a random, locally administered MAC, which is also pinned. In check mode,
        RV(operations) and the C(mac) in RV(after) show a random value that differs from the one applied later.
        The MAC of an existing bridge is left alone.
      - Changing the MAC of a bridge that carries IP addresses and has the MAC of one of its ports is refused.
        M(kvmnet.bridge.bridge_port) with O(kvmnet.bridge.bridge_port#module:addresses=migrate) leaves the
        bridge that way, so the host keeps its identity on the LAN. Set O(mac) to that port's MAC, or leave it
        unset. Other MAC changes of a bridge with addresses get a warning.
    type: str
notes:
  - Run as root (C(become=true)).
  - Bridge ports are managed with M(kvmnet.bridge.bridge_port).
  - The target needs Python 3.8 or newer. An older interpreter is refused with a message that names it.
seealso:
  - module: kvmnet.bridge.bridge_port
  - module: kvmnet.bridge.linux_bridge_info
  - name: Linux bridge (kernel documentation)
    description: Bridge attributes and their ranges.
    link: https://docs.kernel.org/networking/bridge.html
'''

EXAMPLES = r'''
- name: Bridge for KVM guests (STP off, forward delay 0, up, MAC pinned)
  kvmnet.bridge.linux_bridge:
    name: kvmbr0

- name: Bridge with an explicit MAC and STP, inside a network namespace
  kvmnet.bridge.linux_bridge:
    name: br-lab
    netns: lab
    mac: "52:54:00:12:34:56"  # quoted: unquoted YAML reads it as a number
    stp: true
    forward_delay: 4
    hello_time: 2
    priority: 4096

- name: Set the namespace once for many tasks
  module_defaults:
    group/kvmnet.bridge.netlink:
      netns: lab
  block:
    - name: Bridge for guests
      kvmnet.bridge.linux_bridge:
        name: kvmbr0
        mtu: 9000

- name: Several bridges from a list (explicit options; unset ones are omitted, so they are left alone)
  kvmnet.bridge.linux_bridge:
    name: "{{ item.name }}"
    stp: "{{ item.stp | default(omit) }}"
    forward_delay: "{{ item.forward_delay | default(omit) }}"
    mtu: "{{ item.mtu | default(omit) }}"
    mac: "{{ item.mac | default(omit) }}"
    vlan_filtering: "{{ item.vlan_filtering | default(omit) }}"
  loop:
    - {name: kvmbr0, mac: "52:54:00:12:34:56"}
    - {name: kvmbr1, stp: true, forward_delay: 4, mtu: 9000}
    - {name: kvmbr2, vlan_filtering: true}

- name: A VLAN-aware bridge, then its uplink carrying VLANs 10 (untagged, PVID) and 20 (tagged)
  block:
    - name: Bridge with VLAN filtering
      kvmnet.bridge.linux_bridge:
        name: kvmbr0
        vlan_filtering: true
    - name: Uplink port with its VLANs
      kvmnet.bridge.bridge_port:
        name: eth0
        bridge: kvmbr0
        vlans:
          - {vid: 10, pvid: true, untagged: true}
          - {vid: 20}

- name: Delete a bridge that has no ports (fails, naming them, if it still has some)
  kvmnet.bridge.linux_bridge:
    name: kvmbr9
    state: absent

- name: Undo a bridged uplink, make-before-break - addresses and routes back to eth0, then delete the bridge
  kvmnet.bridge.linux_bridge:
    name: kvmbr0
    state: absent
    force: true  # eth0 (and any guest tap) is released
    addresses: migrate
    migrate_to: eth0

- name: Delete a bridge even though ports are still attached, dropping the addresses it carries
  kvmnet.bridge.linux_bridge:
    name: kvmbr0
    state: absent
    force: true
    addresses: flush
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
before:
  description:
    - State of the bridge before the task, with the option names and units of this module.
    - For a bridge that did not exist, only RV(before.name) and RV(before.state=absent) are returned.
    - Also returned when the task fails after the state was read (a refusal, a failed request).
  returned: always
  type: dict
  contains:
    name:
      description: Bridge name.
      type: str
      sample: kvmbr0
    state:
      description: V(present) or V(absent).
      type: str
      sample: present
    mac:
      description: MAC address, in lower case.
      type: str
      sample: "52:54:00:12:34:56"
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
    ports:
      description: Names of the interfaces enslaved to the bridge, sorted.
      type: list
      elements: str
      sample: [eth0, vnet0]
    addresses:
      description: The bridge's IP addresses of scope global, as C(address/prefix), sorted.
      returned: with O(state=absent), for an existing bridge
      type: list
      elements: str
      sample: ["10.0.0.2/24", "fd00::2/64"]
    routes:
      description:
        - The routes through the bridge that would not go away with an address by themselves, for example the
          default route. The kernel's own routes for the bridge's subnets are left out.
      returned: with O(state=absent), for an existing bridge
      type: list
      elements: str
      sample: ["default via 10.0.0.1"]
    migrate_to:
      description: The interface named by O(migrate_to), with its global addresses and its routes, as above.
      returned: with O(migrate_to), when that interface exists
      type: dict
      sample: {name: eth0, addresses: [], routes: []}
after:
  description:
    - State of the bridge after the task, with the same keys as RV(before).
    - Read back from the kernel after changes are applied. In check mode, this is the state the module predicts,
      with the same keys and, for a new bridge, the kernel's defaults for what the task leaves unset (for example
      C(hello_time=2), C(priority=32768)). Only the random MAC of a new bridge differs from the
      real run.
    - After a delete with O(addresses=migrate), the C(migrate_to) key of RV(after) shows the addresses and routes
      moved there.
  returned: success
  type: dict
  sample:
    name: kvmbr0
    state: present
    mac: "52:54:00:12:34:56"
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
    ports: []
operations:
  description:
    - The ordered requests sent to the kernel, one request each. In check mode, the requests that would be
      sent.
    - An empty list means nothing needed changing. A refusal returns an empty list.
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description:
        - V(create), V(set) or V(delete) the bridge.
        - With O(addresses=migrate), also V(add_address) (an address added to O(migrate_to)) and V(move_route)
          (a route replaced by the same route through O(migrate_to)).
      type: str
    interface:
      description: The interface the request is about.
      type: str
    attributes:
      description:
        - The attributes the request sets, in this module's option names and units.
        - For V(add_address), C(address). For V(move_route), C(route) and C(to). For a V(delete) with
          O(addresses=flush), the C(addresses) and C(routes) deleted with the bridge.
      type: dict
      returned: when the request sets attributes
  sample:
    - action: create
      interface: kvmbr0
      attributes: {stp: false, forward_delay: 0, mac: "02:5e:11:a0:3c:7d"}
    - action: set
      interface: kvmbr0
      attributes: {up: true}
diff:
  description: RV(before) and RV(after) in the format Ansible uses for C(--diff).
  returned: when diff mode is on
  type: dict
failed_operation:
  description:
    - The request that failed, when a request of the plan failed. What the kernel had applied of it, and the
      requests before it, were undone.
  returned: when a request failed
  type: dict
  sample: {action: set, interface: kvmbr0, attributes: {vlan_filtering: true}}
reverted_operations:
  description: The requests applied before the failed one and undone, newest first.
  returned: when a request failed
  type: list
  elements: dict
  sample: [{action: set, interface: kvmbr0, attributes: {mtu: 1300, mac: "52:54:00:00:00:42"}}]
revert_errors:
  description:
    - Undo requests that failed too, each with the kernel's reason. Empty when the host is as it was before the
      task.
  returned: when a request failed
  type: list
  elements: str
  sample: []
errno:
  description: The kernel's error name for a refused request, for example C(EOPNOTSUPP) or C(ERANGE).
  returned: when a request or a read failed
  type: str
  sample: EOPNOTSUPP
ports:
  description: The ports of a bridge whose deletion was refused.
  returned: when a delete was refused
  type: list
  elements: str
  sample: [eth0, vnet0]
addresses:
  description:
    - The global IP addresses of a bridge whose deletion was refused, or whose MAC change was refused.
    - In this failure result, a list of addresses. The O(addresses) option is a different thing.
  returned: when a delete or a MAC change was refused
  type: list
  elements: str
  sample: ["10.0.0.2/24"]
routes:
  description: The routes through a bridge whose deletion was refused.
  returned: when a delete was refused
  type: list
  elements: str
  sample: ["default via 10.0.0.1"]
kind:
  description: The kind of an interface called O(name) that is not a bridge, for example C(veth).
  returned: when O(name) is taken by an interface that is not a bridge
  type: str
  sample: veth
current_mac:
  description: The MAC the bridge has (that of RV(port)), when changing it was refused.
  returned: when a MAC change was refused
  type: str
  sample: "52:54:00:00:00:02"
port:
  description: The port whose MAC the bridge has, when a MAC change was refused.
  returned: when a MAC change was refused
  type: str
  sample: eth0
python:
  description: The target interpreter, when a library it needs is missing or too old.
  returned: when a required library is missing or too old
  type: str
  sample: /usr/bin/python3
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmnet.bridge.plugins.module_utils._bridge import (
    bridge_state,
    check_kind,
    facts_needed,
    kernel_request,
    normalise,
    partial_undo,
    plan,
    validate,
    validate_static,
)
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
from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import global_addresses, movable_routes
from ansible_collections.kvmnet.bridge.plugins.module_utils._netlink import (
    PYROUTE2_IMPORT_ERROR,
    PYROUTE2_MINIMUM_VERSION,
    Netlink,
    pyroute2_version,
)


class LinuxBridgeManager(Manager):

    def __init__(self, module):
        super(LinuxBridgeManager, self).__init__(module)
        self.name = self.params['name']

    def facts(self, netlink):
        """Everything the plan needs, read once (see ``_bridge``): a no-op run reads the bridge and its ports only."""
        link = netlink.get_link(self.name)
        check_kind(self.name, link, self.params['netns'])
        needed = facts_needed(self.params, link)
        facts = dict(link=link, ports=netlink.ports(link['index']) if link else [], addresses=None, routes=None,
                     migrate_to=None, migrate_to_master=None, migrate_to_addresses=[], migrate_to_routes=[])
        if needed['carried'] or needed['addresses']:
            facts['addresses'] = global_addresses(netlink.addresses(link['index']))
        if needed['carried']:
            facts['routes'] = movable_routes(netlink.routes(link['index']))
        if needed['migrate_to']:
            target = netlink.get_link(self.params['migrate_to'])
            if target is not None:
                facts.update(
                    migrate_to=target,
                    migrate_to_master=netlink.get_link_by_index(target['master']) if target['master'] else None,
                    migrate_to_addresses=global_addresses(netlink.addresses(target['index'])),
                    migrate_to_routes=movable_routes(netlink.routes(target['index'])),
                )
        return facts

    def bind(self, netlink, step, facts):
        """A plan step (plain data) -> an Operation: one kernel request to apply it, one to undo it."""
        name, action, data = step['interface'], step['action'], step.get('data') or {}
        link, target = facts['link'], facts['migrate_to']

        def index():
            if link is not None:
                return link['index']
            current = netlink.get_link(name)  # created by this plan
            if current is None:
                raise NetlinkOperationError('Bridge %r disappeared while it was being changed.' % name,
                                            errno='ENODEV')
            return current['index']

        def send(attributes):
            request = kernel_request(attributes)
            netlink.set_link(name, index(), kind='bridge' if request['kind_data'] else None, **request)

        undo_partial = None
        if action == 'create':
            def apply():
                request = kernel_request(step['attributes'])
                netlink.add_link(name, 'bridge', address=request.get('address'), mtu=request.get('mtu'),
                                 kind_data=request['kind_data'])

            revert = already_gone_is_done(lambda: netlink.delete_link(name, index()))
        elif action == 'set':
            def apply():
                send(step['attributes'])

            def revert():
                send(step['revert'])

            def undo_partial():
                changed = partial_undo(step, normalise(name, netlink.get_link(name)))
                if changed:
                    send(changed)
                return bool(changed)
        elif action == 'add_address':
            def apply():
                netlink.add_address(target['name'], target['index'], data, nodad=True)

            revert = already_gone_is_done(lambda: netlink.delete_address(target['name'], target['index'], data))
        elif action == 'move_route':
            def apply():
                netlink.route_to(data, target['index'])

            def revert():
                netlink.route_to(data, link['index'])
        else:
            apply = already_gone_is_done(lambda: netlink.delete_link(name, index()))
            revert = None
        return Operation(action, name, step['attributes'], apply=apply, revert=revert, undo_partial=undo_partial)

    def converge(self, netlink):
        """Read, validate, plan, apply (or not, in check mode) through ``netlink``; the result dict."""
        facts = self.facts(netlink)
        self.before = bridge_state(self.name, facts)
        for warning in validate(self.params, self.before, facts):
            self.module.warn(warning)
        steps, predicted = plan(self.params, self.before, facts=facts)
        operations = [self.bind(netlink, step, facts) for step in steps]
        existing = [facts['link'], facts['migrate_to']]  # what the plan found and may see deleted under it
        apply_plan(operations, self.module.check_mode, watch=[link['name'] for link in existing if link],
                   exists=lambda name: netlink.get_link(name) is not None)
        after = predicted if self.module.check_mode or not operations else bridge_state(self.name,
                                                                                        self.facts(netlink))
        return self.change_result(self.before, after, operations)

    def run(self):
        for warning in validate_static(self.params):
            self.module.warn(warning)
        with Netlink(self.params['netns']) as netlink:
            return self.converge(netlink)


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        force=dict(type='bool', default=False),
        addresses=dict(type='str', choices=['fail', 'flush', 'migrate']),
        migrate_to=dict(type='str'),
        up=dict(type='bool'),
        stp=dict(type='bool'),
        forward_delay=dict(type='raw'),
        hello_time=dict(type='raw'),
        max_age=dict(type='raw'),
        ageing_time=dict(type='raw'),
        priority=dict(type='int'),
        mcast_snooping=dict(type='bool'),
        vlan_filtering=dict(type='bool'),
        group_fwd_mask=dict(type='int'),
        mtu=dict(type='int'),
        mac=dict(type='str'),
    )
    argument_spec.update(NETNS_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    require_library(module, 'pyroute2', PYROUTE2_IMPORT_ERROR, pyroute2_version(), PYROUTE2_MINIMUM_VERSION)
    run_module(module, LinuxBridgeManager)


if __name__ == '__main__':
    main()
