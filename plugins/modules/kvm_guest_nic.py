#!/usr/bin/python
# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kvm_guest_nic
short_description: Attach a libvirt guest's NIC to a Linux bridge, change it in place, or detach it
version_added: 0.1.0
description:
  - With O(backend=tap), instead manages a persistent tap on a bridge for QEMU run without libvirt
    (C(-netdev tap,ifname=NAME,script=no,downscript=no)); see O(backend). The rest of this description is about
    the default O(backend=libvirt).
  - Manages one network interface of a libvirt domain that sits on a Linux bridge (an C(interface) element of type
    C(bridge) in the domain XML). It attaches the NIC, moves it to another bridge or sets its link up or down in
    place, or detaches it.
  - The NIC is identified by O(mac), or by O(alias) when O(mac) is not given. Running the task again with the same
    settings changes nothing.
  - O(scope) decides where the change goes. By default (V(auto)) a running domain is changed live and in its
    persistent configuration, a shut-off domain in its configuration only (libvirt refuses live changes to a domain
    that does not run).
  - Changes are sent with the FULL interface XML, built from the NIC as libvirt has it, because libvirt replaces
    the whole device on an update (a partial XML would reset the model and other settings).
  - Detaching from a running guest waits, up to 10 seconds, until the guest has really released the NIC.
  - Everything is checked before anything changes. The module refuses an unknown domain, a bridge that does not
    exist on the host, a malformed or multicast MAC, and a MAC that another NIC of the domain already uses
    (libvirt accepts duplicates, but then cannot detach them by MAC).
  - Returns the host side of the NIC, the tap C(vnetN) that libvirt created (read from the live XML; the number is
    whatever libvirt picked, not always C(vnet0)), and its MAC, which is C(fe:) followed by the last five bytes of
    the guest's MAC.
author:
  - kvmnet.bridge maintainers (@kvmnet)
extends_documentation_fragment:
  - kvmnet.bridge.attributes
  - kvmnet.bridge.attributes.NETLINK_GROUP
  - kvmnet.bridge.libvirt
  - kvmnet.bridge.libvirt.LIBVIRT_GROUP
  - kvmnet.bridge.netns
  - kvmnet.bridge.run_lock
options:
  backend:
    description:
      - V(libvirt) (the default) manages a NIC of a libvirt domain.
      - V(tap) manages a persistent tap device for a QEMU started without libvirt
        (C(-netdev tap,ifname=NAME,script=no,downscript=no)). The tap is created with C(/dev/net/tun) ioctls (no
        C(ip) command), owned by O(owner) and O(group) so QEMU can open it without root, brought up, and enslaved
        to O(bridge). O(target) names it and is required; O(mac) is the tap's host-side MAC; O(mtu) its MTU.
        O(domain), O(alias), O(model), O(link_state), O(scope) and O(uri) are refused with V(tap).
      - With V(tap), changing O(owner) or O(group) of an existing tap, or deleting it, is refused while a process
        (QEMU) holds the tap open (the kernel answers EBUSY and does not say which process). The bridge, MAC and
        MTU are changed in place even while QEMU runs.
    type: str
    choices: [libvirt, tap]
    default: libvirt
  domain:
    description:
      - Name of the libvirt domain (guest). It must exist; the module does not define domains.
      - Required with O(backend=libvirt); refused with O(backend=tap).
    type: str
  owner:
    description:
      - Only with O(backend=tap). The user allowed to open the tap without root (TUNSETOWNER), as a name or a
        numeric uid. A name must exist on the host.
      - When omitted, a new tap gets no owner (only root can attach to it) and an existing tap keeps its owner.
    type: raw
  group:
    description:
      - Only with O(backend=tap). The group whose members may open the tap without root (TUNSETGROUP), as a name
        or a numeric gid. A name must exist on the host.
      - When omitted, a new tap gets no group and an existing tap keeps its group.
    type: raw
  mac:
    description:
      - The guest's MAC address for this NIC, and the NIC's identity, for example C(52:54:00:12:34:56). Accepts
        C(:) or C(-) and either case; returned in lower case.
      - Required unless O(alias) is given. With O(alias) and without O(mac), libvirt picks a MAC when it attaches
        the NIC, and the module finds the NIC by its alias afterwards.
      - The MAC of an existing NIC cannot be changed in place. Remove the NIC and add it again.
      - With O(backend=tap), the HOST-side MAC of the tap, changed in place (the guest's MAC is QEMU's C(mac=)
        option). When omitted, the tap keeps the random MAC the kernel gave it.
    type: str
  alias:
    description:
      - A libvirt user alias for the NIC, starting with C(ua-), for example C(ua-lan0). It is the identity when
        O(mac) is not given. With both, the NIC with this alias must have this MAC.
    type: str
  bridge:
    description:
      - The Linux bridge the NIC is plugged into, for example C(kvmbr0). Required with O(state=present).
      - It must exist on the host (in O(netns) when given). Create it with M(kvmnet.bridge.linux_bridge).
      - A NIC that is on another bridge, or of another type such as a libvirt network, is moved in place.
    type: str
  model:
    description:
      - The device model the guest sees, for example V(virtio), V(e1000e) or V(rtl8139).
      - When omitted, a new NIC gets V(virtio) and an existing NIC keeps its model.
      - libvirt cannot change the model of a running guest's NIC. That change is refused unless O(scope=config).
    type: str
  link_state:
    description:
      - V(up) or V(down), the link as the guest sees it (its carrier). Changed in place on a running guest.
      - When omitted, a new NIC gets V(up) and an existing NIC keeps its state.
    type: str
    choices: [up, down]
  target:
    description:
      - Name of the tap device on the host. When omitted, libvirt picks C(vnetN).
      - Names starting with C(vnet), C(vif), C(macvtap) or C(macvlan) are reserved by libvirt and refused.
      - Cannot be changed on a running guest's NIC (refused unless O(scope=config)).
      - With O(backend=tap), the name of the tap (required), as given to QEMU's C(ifname=). Any valid interface
        name; an existing interface of that name must be a tap.
    type: str
  mtu:
    description:
      - MTU of the NIC (C(<mtu size=...>)), from 68 to 65535. When omitted, libvirt uses the bridge's MTU.
      - Cannot be changed on a running guest's NIC (refused unless O(scope=config)).
      - With O(backend=tap), the tap's MTU, changed in place. When omitted, a new tap has the kernel's 1500 and an
        existing tap keeps its MTU.
    type: int
  state:
    description:
      - V(present) attaches the NIC or changes it. V(absent) detaches it.
      - With O(backend=tap), V(present) creates or changes the tap, V(absent) deletes it (refused while a process
        holds it).
    type: str
    choices: [present, absent]
    default: present
  scope:
    description:
      - Where the NIC is changed.
      - V(auto) (the default) changes the running guest and its persistent configuration when the domain runs,
        the configuration only when it is shut off, and the running guest only when the domain is transient.
      - V(live) changes only the running guest; the change is lost when the guest is shut down. Fails when the
        domain does not run.
      - V(config) changes only the persistent configuration; a running guest sees it after a restart.
      - V(both) changes both, and fails when the domain does not run.
      - Each side is compared on its own, so a NIC present only in the configuration is plugged into the running
        guest, and the other way round.
    type: str
    choices: [auto, live, config, both]
    default: auto
notes:
  - Run as root (C(become=true)), or as a user allowed to manage the domain through O(uri).
  - O(netns) is the network namespace in which the bridge and the taps live, the host side of the guests. It is
    only needed when libvirtd itself runs inside a namespace.
  - A guest only releases a hot-plugged NIC when its OS handles the unplug request (ACPI PCI hotplug on C(pc)
    machines). A guest that is still in its firmware never does; the detach then fails after 10 seconds and stays
    pending in libvirt.
seealso:
  - module: kvmnet.bridge.kvm_guest_nic_info
  - module: kvmnet.bridge.linux_bridge
  - name: libvirt domain XML, network interfaces
    description: The C(<interface>) element this module writes.
    link: https://libvirt.org/formatdomain.html#network-interfaces
'''

EXAMPLES = r'''
- name: Put guest web1 on kvmbr0 (live and persistent when it runs)
  kvmnet.bridge.kvm_guest_nic:
    domain: web1
    mac: "52:54:00:12:34:56"
    bridge: kvmbr0
  register: web1_nic

- name: Show the tap the guest got
  ansible.builtin.debug:
    msg: "{{ web1_nic.tap }} ({{ web1_nic.tap_mac }}) on {{ web1_nic.bridge }}"

- name: Pull the cable, without detaching the NIC
  kvmnet.bridge.kvm_guest_nic:
    domain: web1
    mac: "52:54:00:12:34:56"
    bridge: kvmbr0
    link_state: down

- name: Move the NIC to another bridge in place
  kvmnet.bridge.kvm_guest_nic:
    domain: web1
    mac: "52:54:00:12:34:56"
    bridge: kvmbr1

- name: A second NIC known by its alias (libvirt picks the MAC)
  kvmnet.bridge.kvm_guest_nic:
    domain: web1
    alias: ua-storage
    bridge: storagebr0
    model: e1000e
    scope: config

- name: Detach the NIC and wait until the guest has released it
  kvmnet.bridge.kvm_guest_nic:
    domain: web1
    mac: "52:54:00:12:34:56"
    state: absent

- name: A persistent tap on kvmbr0 for a QEMU run by user alice without libvirt
  kvmnet.bridge.kvm_guest_nic:
    backend: tap
    target: tap-web2
    bridge: kvmbr0
    owner: alice
    group: kvm
    mac: "fe:54:00:00:00:02"

- name: Delete the tap (refused while QEMU holds it)
  kvmnet.bridge.kvm_guest_nic:
    backend: tap
    target: tap-web2
    state: absent

- name: Set the libvirt URI and the host namespace once
  module_defaults:
    group/kvmnet.bridge.libvirt:
      uri: qemu:///system
      netns: lab
  block:
    - name: Guest NIC in the lab
      kvmnet.bridge.kvm_guest_nic:
        domain: guest1
        mac: "52:54:00:00:00:01"
        bridge: kvmbr0
'''

RETURN = r'''
interrupted_runs:
  description: Earlier runs of this task killed while applying their plan (see the notes); each is also a warning.
  returned: when an earlier run was interrupted
  type: list
  elements: dict
tap:
  description:
    - The tap device on the host (from the live XML's C(<target dev>)), for example C(vnet3).
    - With O(backend=tap), O(target), or null when the tap is absent.
    - Null when the domain does not run, when the NIC is absent, and in check mode for a NIC not attached yet.
  returned: always
  type: str
  sample: vnet3
tap_mac:
  description:
    - The tap's MAC as the kernel reports it (C(fe:) and the guest MAC's last five bytes), or null.
    - With O(backend=tap), the tap's host-side MAC as the kernel reports it (null in check mode for a new tap
      without O(mac)).
  returned: always
  type: str
  sample: "fe:54:00:12:34:56"
owner:
  description: With O(backend=tap), the tap's owner uid, or null when none is set or the tap is absent.
  returned: when backend=tap
  type: int
  sample: 1000
group:
  description: With O(backend=tap), the tap's group gid, or null when none is set or the tap is absent.
  returned: when backend=tap
  type: int
  sample: 104
mac:
  description: The guest's MAC of the NIC (lower case), or null when the NIC is absent.
  returned: when backend=libvirt
  type: str
  sample: "52:54:00:12:34:56"
bridge:
  description: The bridge the NIC is on, or null.
  returned: always
  type: str
  sample: kvmbr0
model:
  description: The device model, or null.
  returned: when backend=libvirt
  type: str
  sample: virtio
link_state:
  description: V(up) or V(down), or null when the NIC is absent.
  returned: when backend=libvirt
  type: str
  sample: up
before:
  description:
    - The NIC before the task.
    - With O(backend=tap), the tap instead, with the keys C(state), C(tap), C(tap_mac), C(bridge), C(owner),
      C(group), C(mtu).
  returned: always
  type: dict
  contains:
    domain:
      description: The domain.
      type: str
    state:
      description: V(present) when the NIC is on at least one of the sides in RV(before.sides).
      type: str
    live:
      description: Whether the running guest has the NIC.
      type: bool
    config:
      description: Whether the persistent configuration has the NIC.
      type: bool
    sides:
      description: The sides the task works on (C(live), C(config)), from O(scope) and the domain's state.
      type: list
      elements: str
    mac:
      description: Guest MAC.
      type: str
    alias:
      description: The user alias (C(ua-...)), or null.
      type: str
    bridge:
      description: The bridge (null for a NIC of another type).
      type: str
    model:
      description: Device model.
      type: str
    link_state:
      description: V(up) or V(down).
      type: str
    mtu:
      description: The MTU set in the XML, or null.
      type: int
    tap:
      description: The tap on the host, or null.
      type: str
    tap_mac:
      description: The tap's MAC, or null.
      type: str
  sample:
    domain: web1
    state: present
    live: true
    config: true
    sides: [live, config]
    mac: "52:54:00:12:34:56"
    alias: null
    bridge: kvmbr0
    model: virtio
    link_state: up
    mtu: null
    tap: vnet3
    tap_mac: "fe:54:00:12:34:56"
after:
  description:
    - The NIC after the task, same keys as RV(before). Read back from libvirt (and the tap from the kernel) after
      a change; in check mode, the state the module predicts.
  returned: always
  type: dict
operations:
  description:
    - The libvirt requests sent, in order. In check mode, the requests that would be sent.
    - With O(backend=tap), the kernel requests, with actions V(create), V(set_owner), V(set_mac), V(set_mtu),
      V(enslave), V(delete).
    - Actions are V(attach), V(update) (with the full interface XML) and V(detach). The C(scope) attribute lists the
      sides of one request.
  returned: always
  type: list
  elements: dict
  sample:
    - action: update
      interface: "52:54:00:12:34:56"
      attributes: {domain: web1, scope: [live], bridge: kvmbr1}
    - action: update
      interface: "52:54:00:12:34:56"
      attributes: {domain: web1, scope: [config], bridge: kvmbr1}
diff:
  description:
    - The interface XML before and after, per side, in the format Ansible uses for C(--diff).
    - With O(backend=tap), RV(before) and RV(after).
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
    require_bridge,
    require_library,
    run_module,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._libvirt import (
    LIBVIRT_IMPORT_ERROR,
    LIBVIRT_MINIMUM_VERSION,
    URI_ARGSPEC,
    Libvirt,
    describe_nic,
    find_nic,
    libvirt_version,
    parse_nic,
    plan_nic,
    scope_sides,
    to_xml,
    validate_nic_static,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._netlink import (
    PYROUTE2_IMPORT_ERROR,
    PYROUTE2_MINIMUM_VERSION,
    Netlink,
    pyroute2_version,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._tap import (
    busy_refusal,
    check_tap_facts,
    describe_tap,
    plan_tap,
    validate_tap_static,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._tun import tap_flags, tun_ioctl


def xml_text(elements):
    """The diff text: each side's interface XML under a comment naming the side."""
    parts = []
    for side in ('live', 'config'):
        if side in elements:
            element = elements[side]
            text = to_xml(element, pretty=True) if element is not None else '<!-- absent -->'
            parts.append('<!-- %s -->\n%s\n' % (side, text))
    return ''.join(parts)


class KvmGuestNicManager(Manager):

    def check_bridge(self, netlink):
        bridge = self.params['bridge']
        require_bridge(bridge, netlink.get_link(bridge), self.params['netns'],
                       'a guest NIC of type bridge (libvirt would fail to start or plug it)')

    def bind(self, conn, domain, step):
        """A plan step (plain data) -> an Operation calling libvirt."""
        sides, element, revert_element = step['sides'], step['element'], step['revert_element']
        nic = parse_nic(element)
        attributes = dict(domain=self.params['domain'], scope=list(sides))
        if step['action'] == 'attach':
            attributes.update((key, nic[key]) for key in ('bridge', 'model', 'link_state', 'mtu', 'target', 'alias')
                              if nic[key] is not None and not (key == 'target' and 'live' in sides
                                                               and not self.params['target']))

            def apply():
                conn.attach(domain, element, sides)

            def revert():
                conn.detach(domain, element, sides)
        elif step['action'] == 'update':
            attributes.update((option, change['after']) for option, change in sorted(step['changes'].items()))

            def apply():
                conn.update(domain, element, sides)

            def revert():
                conn.update(domain, revert_element, sides)
        else:
            def apply():
                conn.detach(domain, element, sides)

            def revert():  # plug the device back in (live: a new tap; config: the same definition)
                conn.attach(domain, revert_element, sides)
        return Operation(step['action'], nic['mac'] or nic['alias'], attributes, apply=apply, revert=revert)

    def read_after(self, conn, domain, sides, mac):
        nics = {}
        elements = {}
        for side in sides:
            found = find_nic(conn.nics(domain, side), mac, self.params['alias'], self.params['domain'], side)
            nics[side] = found[0] if found else None
            elements[side] = found[1] if found else None
        return nics, elements

    def run(self):
        params = self.params
        validate_nic_static(params)
        with Libvirt(params['uri']) as conn, Netlink(params['netns']) as netlink:
            domain = conn.domain(params['domain'])
            active, persistent = conn.state(domain)
            sides = scope_sides(params['scope'], active, persistent, params['domain'])
            nics = dict((side, conn.nics(domain, side)) for side in sides)
            steps, found, predicted = plan_nic(params, sides, nics)
            if params['state'] == 'present':
                self.check_bridge(netlink)
            before = describe_nic(params['domain'], sides, found)
            before_elements = dict((side, self.element(nics[side], found[side])) for side in sides)
            operations = [self.bind(conn, domain, step) for step in steps]
            apply_plan(operations, self.module.check_mode)
            if operations and not self.module.check_mode:
                mac = params['mac'] or before['mac'] or next(
                    (parse_nic(step['element'])['mac'] for step in steps if step['action'] == 'attach'), None)
                after_nics, after_elements = self.read_after(conn, domain, sides, mac)
            else:
                after_nics = predicted
                after_elements = self.predicted_elements(before_elements, steps)
            after = describe_nic(params['domain'], sides, after_nics)
            for state in (before, after):
                if state['tap']:
                    link = netlink.get_link(state['tap'])
                    state['tap_mac'] = link['address'] if link else state['tap_mac']
        result = self.change_result(before, after, operations)
        if self.module._diff:
            header = 'domain %s, NIC %s' % (params['domain'], params['mac'] or params['alias'])
            result['diff'] = dict(before=xml_text(before_elements), after=xml_text(after_elements),
                                  before_header=header, after_header=header)
        result.update((key, after[key]) for key in ('tap', 'tap_mac', 'mac', 'bridge', 'model', 'link_state'))
        return result

    @staticmethod
    def element(nics, found):
        if found is None:
            return None
        for nic, element in nics:
            if nic is found:
                return element
        return None

    @staticmethod
    def predicted_elements(before_elements, steps):
        elements = dict(before_elements)
        for step in steps:
            for side in step['sides']:
                elements[side] = None if step['action'] == 'detach' else step['element']
        return elements


class KvmTapNicManager(Manager):
    """backend=tap: a persistent tap for QEMU without libvirt (``-netdev tap,ifname=NAME,script=no``)."""

    def facts(self, netlink):
        link = netlink.get_link(self.params['target'])
        bridge = netlink.get_link(self.params['bridge']) if self.params.get('bridge') else None
        master = netlink.get_link_by_index(link['master']) if link and link['master'] else None
        return link, bridge, master

    def tun(self, what, flags, **kwargs):
        """A /dev/net/tun ioctl sequence on the tap; EBUSY (a process holds the tap) becomes the refusal."""
        name = self.params['target']
        try:
            tun_ioctl(self.params['netns'], name, flags, what='%s tap %r' % (what, name), **kwargs)
        except NetlinkOperationError as exc:
            if exc.details.get('errno') == 'EBUSY':
                raise NetlinkOperationError(busy_refusal(name, self.params['netns'], '%s' % what), **exc.details)
            raise

    def bind(self, netlink, step, link, bridge):
        """A plan step (plain data) -> an Operation calling the kernel."""
        name, action, attributes, revert = self.params['target'], step['action'], step['attributes'], step['revert']
        flags = tap_flags(link.get('tun') if link else None)

        def index():  # the tap's ifindex, read when needed (a tap created by this plan has none before)
            current = netlink.get_link(name)
            if current is None:
                raise NetlinkOperationError('Tap %r vanished while the task ran.' % name)
            return current['index']

        def create():
            self.tun('create', flags, owner=attributes.get('owner'), group=attributes.get('group'), persist=True)
            try:
                netlink.set_link(name, index(), up=True)
            except NetlinkOperationError:
                netlink.delete_link(name, index())  # the step is all or nothing too
                raise

        def owner(values):
            return lambda: self.tun('owner/group change', flags, owner=values.get('owner'),
                                    group=values.get('group'))

        restorable = dict((key, value) for key, value in (revert or {}).items() if value is not None)
        calls = {
            'create': (create, lambda: netlink.delete_link(name, index())),
            'set_owner': (owner(attributes), owner(restorable) if restorable else None),
            'set_mac': (lambda: netlink.set_link(name, index(), address=attributes['mac']),
                        (lambda: netlink.set_link(name, index(), address=revert['mac'])) if revert else None),
            'set_mtu': (lambda: netlink.set_link(name, index(), mtu=attributes['mtu']),
                        (lambda: netlink.set_link(name, index(), mtu=revert['mtu'])) if revert else None),
            'enslave': (lambda: netlink.set_master(name, index(), bridge['index'], bridge['name']),
                        lambda: netlink.set_master(name, index(), revert['master_index'])),
            'delete': (lambda: self.tun('deletion', flags, persist=False), None),
        }
        apply, undo = calls[action]
        return Operation(action, name, attributes, apply=apply, revert=undo)

    def run(self):
        params = self.params
        validate_tap_static(params)
        with Netlink(params['netns']) as netlink:
            link, bridge, master = self.facts(netlink)
            check_tap_facts(params, link, bridge)
            steps, predicted = plan_tap(params, link, bridge, master['name'] if master else None)
            before = describe_tap(params['target'], link, master['name'] if master else None)
            operations = [self.bind(netlink, step, link, bridge) for step in steps]
            apply_plan(operations, self.module.check_mode)
            if operations and not self.module.check_mode:
                link, dummy, master = self.facts(netlink)
                after = describe_tap(params['target'], link, master['name'] if master else None)
            else:
                after = predicted
        result = self.change_result(before, after, operations)
        result.update(tap=after['tap'] if after['state'] == 'present' else None, tap_mac=after['tap_mac'],
                      bridge=after['bridge'], owner=after['owner'], group=after['group'])
        return result


def manager(module):
    """The manager for the task's backend."""
    if module.params['backend'] == 'tap':
        return KvmTapNicManager(module)
    return KvmGuestNicManager(module)


def main():
    argument_spec = dict(
        backend=dict(type='str', default='libvirt', choices=['libvirt', 'tap']),
        domain=dict(type='str'),
        owner=dict(type='raw'),
        group=dict(type='raw'),
        mac=dict(type='str'),
        alias=dict(type='str'),
        bridge=dict(type='str'),
        model=dict(type='str'),
        link_state=dict(type='str', choices=['up', 'down']),
        target=dict(type='str'),
        mtu=dict(type='int'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        scope=dict(type='str', default='auto', choices=['auto', 'live', 'config', 'both']),
    )
    argument_spec.update(URI_ARGSPEC)
    argument_spec.update(NETNS_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[('state', 'present', ['bridge']),
                                        ('backend', 'libvirt', ['domain']),
                                        ('backend', 'libvirt', ['mac', 'alias'], True),
                                        ('backend', 'tap', ['target'])])
    if module.params['backend'] == 'libvirt':
        if module.params['owner'] is not None or module.params['group'] is not None:
            module.fail_json(msg='owner and group are options of backend=tap (the user and group that may use the'
                             ' tap); libvirt manages its taps itself. Remove them, or set backend: tap.')
        require_library(module, 'libvirt-python', LIBVIRT_IMPORT_ERROR, libvirt_version(), LIBVIRT_MINIMUM_VERSION)
    require_library(module, 'pyroute2', PYROUTE2_IMPORT_ERROR, pyroute2_version(), PYROUTE2_MINIMUM_VERSION)
    run_module(module, manager)


if __name__ == '__main__':
    main()
