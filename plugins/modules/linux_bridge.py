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
  - Options you leave unset are not changed on an existing bridge. When the module creates a bridge, it uses
    defaults for a KVM host, O(stp=false) and O(forward_delay=0), so a new guest tap forwards frames at once.
    The kernel's default would delay them by 2 x 15 seconds, long enough for DHCP or PXE in a booting guest to
    time out.
  - All or nothing. If a request fails, the requests already sent are reverted and the module fails, naming the
    request that failed.
  - Every option is validated before anything changes. Bad input fails with a message that names the value and
    the accepted range or form.
author:
  - kvmnet.bridge maintainers (@kvmnet)
extends_documentation_fragment:
  - kvmnet.bridge.attributes
  - kvmnet.bridge.attributes.NETLINK_GROUP
  - kvmnet.bridge.netns
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
      - V(absent) deletes the bridge. If the bridge still has ports, this fails unless O(force=true).
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - With O(state=absent), delete the bridge even if it still has ports. The kernel releases the ports, and
        guests on the bridge lose their network.
    type: bool
    default: false
  up:
    description:
      - Administrative state of the bridge. V(true) brings it up, V(false) sets it down.
    type: bool
    default: true
  stp:
    description:
      - Enable the kernel's Spanning Tree Protocol on the bridge.
      - When omitted, a new bridge gets V(false) and an existing bridge is left alone.
    type: bool
  forward_delay:
    description:
      - Forward delay in seconds, with up to two decimals. Netlink counts in hundredths of a second; the module
        does the conversion.
      - Accepted range is 2 to 30 when STP is on, and 0 to 30 when STP is off.
      - When omitted, a new bridge gets V(0) unless O(stp=true), in which case the kernel default of 15 seconds
        is kept. An existing bridge is left alone.
    type: float
  hello_time:
    description:
      - STP hello time in seconds, from 1 to 10.
    type: float
  max_age:
    description:
      - STP maximum message age in seconds, from 6 to 40.
    type: float
  ageing_time:
    description:
      - How long, in seconds, a learned MAC address stays in the forwarding database (FDB). The kernel
        default is 300.
      - The range is 0 to 1000000. V(0) turns learning off, so the bridge floods all traffic like a hub.
    type: float
  priority:
    description:
      - Bridge priority for STP root election, from 0 to 65535.
    type: int
  mcast_snooping:
    description:
      - Turn IGMP/MLD multicast snooping on or off.
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
    type: int
  mac:
    description:
      - MAC address of the bridge, for example C(52:54:00:aa:bb:cc). The module accepts C(:) or C(-) as a
        separator and upper or lower case, and always returns the MAC in lower case.
      - Multicast and all-zero addresses are refused.
      - An address set explicitly is pinned. The kernel then keeps it when ports join; otherwise a bridge takes
        the lowest MAC of its ports, and its DHCP lease and IP address can change.
      - When omitted, a new bridge gets a random, locally administered MAC, which is also pinned. In check mode,
        RV(operations) shows a random value that differs from the one applied later. The MAC of an existing
        bridge is left alone.
    type: str
notes:
  - Run as root (C(become=true)).
  - Bridge ports are managed with M(kvmnet.bridge.bridge_port).
seealso:
  - name: Linux bridge (kernel documentation)
    description: Bridge attributes and their ranges.
    link: https://docs.kernel.org/networking/bridge.html
'''

EXAMPLES = r'''
- name: Bridge for KVM guests (STP off, forward delay 0, MAC pinned)
  kvmnet.bridge.linux_bridge:
    name: kvmbr0

- name: Bridge with an explicit MAC and STP, inside a network namespace
  kvmnet.bridge.linux_bridge:
    name: br-lab
    netns: lab
    mac: "52:54:00:12:34:56"
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

- name: Delete a bridge even though ports are still attached
  kvmnet.bridge.linux_bridge:
    name: kvmbr0
    state: absent
    force: true
'''

RETURN = r'''
before:
  description:
    - State of the bridge before the task, with the option names and units of this module.
    - For a bridge that did not exist, only RV(before.name) and RV(before.state=absent) are returned.
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
after:
  description:
    - State of the bridge after the task, with the same keys as RV(before).
    - Read back from the kernel after changes are applied. In check mode, this is the state the module predicts.
  returned: always
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
    - The ordered requests sent to the kernel. In check mode, the requests that would be sent.
    - An empty list means nothing needed changing.
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description: V(create), V(set) or V(delete).
      type: str
    interface:
      description: The interface the request is about.
      type: str
    attributes:
      description: The attributes the request sets, in this module's option names and units.
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
  description: The request that failed, when a request of the plan failed. The requests before it were reverted.
  returned: failure
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmnet.bridge.plugins.module_utils._bridge import (
    kernel_request,
    normalise,
    plan,
    validate,
    validate_static,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    NETNS_ARGSPEC,
    Manager,
    NetlinkOperationError,
    Operation,
    ValidationError,
    apply_plan,
    require_library,
    run_module,
)
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

    def read(self, netlink):
        link = netlink.get_link(self.name)
        if link is not None and link['kind'] != 'bridge':
            raise ValidationError(
                'Interface %r already exists and is not a bridge (kind: %s). Choose another name for the bridge,'
                ' or remove that interface first.' % (self.name, link['kind'] or 'a physical or unnamed-kind device'),
                existing_kind=link['kind'],
            )
        return normalise(self.name, link, netlink.ports(link['index']) if link else None)

    def bind(self, netlink, step):
        """A plan step (plain data) -> an Operation that calls netlink."""
        name = step['interface']

        def index():
            link = netlink.get_link(name)
            if link is None:
                raise NetlinkOperationError('Bridge %r disappeared while it was being changed.' % name)
            return link['index']

        if step['action'] == 'create':
            def apply():
                request = kernel_request(step['attributes'])
                netlink.add_link(name, 'bridge', address=request.get('address'), mtu=request.get('mtu'),
                                 kind_data=request['kind_data'])

            def revert():
                netlink.delete_link(name, index())
        elif step['action'] == 'set':
            def send(attributes):
                request = kernel_request(attributes)
                netlink.set_link(name, index(), kind='bridge' if request['kind_data'] else None, **request)

            def apply():
                send(step['attributes'])

            def revert():
                send(step['revert'])
        else:
            def apply():
                netlink.delete_link(name, index())
            revert = None
        return Operation(step['action'], name, step['attributes'], apply=apply, revert=revert)

    def run(self):
        validate_static(self.params)
        with Netlink(self.params['netns']) as netlink:
            before = self.read(netlink)
            validate(self.params, before)
            steps, predicted = plan(self.params, before)
            operations = [self.bind(netlink, step) for step in steps]
            apply_plan(operations, self.module.check_mode)
            after = predicted if self.module.check_mode or not operations else self.read(netlink)
        return self.change_result(before, after, operations)


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        force=dict(type='bool', default=False),
        up=dict(type='bool', default=True),
        stp=dict(type='bool'),
        forward_delay=dict(type='float'),
        hello_time=dict(type='float'),
        max_age=dict(type='float'),
        ageing_time=dict(type='float'),
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
