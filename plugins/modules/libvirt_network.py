#!/usr/bin/python
# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: libvirt_network
short_description: A libvirt network on an existing Linux bridge, so virt-manager and virt-install offer the bridge
version_added: 0.1.0
description:
  - Defines, starts and marks for autostart the libvirt network
    C(<network><name>NAME</name><forward mode='bridge'/><bridge name='BRIDGE'/></network>). Guests then get a NIC on
    the bridge with C(virt-install --network network=NAME) or by picking the network in virt-manager; libvirt plugs
    their taps into O(bridge) and does nothing else (no DHCP, no NAT, no firewall rules).
  - The bridge itself is not managed here. Create it with M(kvmnet.bridge.linux_bridge).
  - Idempotent on the definition. The network's XML is compared with the wanted one after normalisation (the
    C(<uuid>) libvirt adds does not count), so a second run with the same options changes nothing.
  - Updates in place. A network whose bridge differs is redefined with its existing C(<uuid>) (libvirt refuses a
    definition of the same name without it), so it keeps its identity and autostart link.
  - A running network keeps the definition it was started with. When what runs differs from O(bridge) (or from the
    plain bridge network), the module stops (C(destroy)) and starts the network again, and only then; the
    C(destroy) step in RV(operations) says why. Running guests that have a NIC on the network are not touched and
    are named in a warning; see the notes.
  - Refuses, before changing anything, to replace an existing network of that name that is more than a plain
    bridge network (another forward mode such as the NAT network C(default), or elements like C(<ip>),
    C(<dns>), C(<mac>), C(<portgroup>), C(<bandwidth>), C(<virtualport>)); the message lists what it found.
    O(takeover=true) replaces it anyway.
  - O(state=absent) stops and undefines the network.
  - libvirt never checks that the bridge exists (a network on a missing bridge reports active). The module warns
    when it does not find O(bridge) (in O(netns) when given), and refuses an interface of that name that is not a
    bridge. A missing bridge is only a warning so that a dry run (C(--check)) of a play that creates the bridge in
    an earlier task works.
author:
  - kvmnet.bridge maintainers (@kvmnet)
extends_documentation_fragment:
  - kvmnet.bridge.attributes
  - kvmnet.bridge.libvirt
  - kvmnet.bridge.libvirt.LIBVIRT_GROUP
  - kvmnet.bridge.netns
  - kvmnet.bridge.run_lock
options:
  name:
    description:
      - Name of the libvirt network, for example C(kvmbr0). The name C(virsh net-list) shows and
        C(virt-install --network network=NAME) takes.
      - Not empty, without C(/), control characters or surrounding spaces (libvirt stores the network in a file
        named after it).
    type: str
    required: true
  bridge:
    description:
      - The existing Linux bridge the network puts guests on, for example C(kvmbr0). Required with
        O(state=present).
      - Changing it on a running network restarts the network (see the description).
    type: str
  state:
    description:
      - V(present) defines the network (and starts it and sets autostart, see O(active) and O(autostart)).
      - V(absent) stops it when it runs and removes its definition. O(bridge), O(active), O(autostart) and
        O(takeover) are ignored then. Any network of that name is removed, whatever its forward mode.
    type: str
    choices: [present, absent]
    default: present
  active:
    description:
      - Whether the network runs. V(true) starts it when it is inactive; V(false) stops it and keeps the definition.
      - Guests can only be started with a NIC on an active network.
    type: bool
    default: true
  autostart:
    description:
      - Whether libvirt starts the network when libvirtd starts (C(virsh net-autostart)), so guests with a NIC on it
        start after a reboot of the host.
    type: bool
    default: true
  takeover:
    description:
      - Replace an existing network of that name that is not a plain bridge network (for example the NAT network
        C(default), or one with C(<ip>), C(<dns>), C(<portgroup>)...). Everything it had beyond the name and the
        uuid is dropped; a NAT network that runs is stopped, which takes its bridge, DHCP server and firewall rules
        down, and running guests on it lose their connectivity.
      - With V(false), such a network is refused, and the message names what the network has.
    type: bool
    default: false
notes:
  - Run as root (C(become=true)), or as a user allowed to manage networks through O(uri).
  - O(netns) is only where the module looks for O(bridge); libvirt is reached through O(uri). It is only needed
    when libvirtd and the bridge live in another network namespace than the one the module runs in. This module is
    in the action group C(group/kvmnet.bridge.libvirt); set O(netns) for it there.
  - When a running network is restarted (its bridge changed), guests that run with a NIC on it keep the tap
    libvirt plugged into the bridge the network had when they started; the module does not touch them. Restart
    those guests (or detach and attach their NIC again) for them to use the new bridge. The module names them in a
    warning.
  - No XML of your own can be added. libvirt refuses C(<ip>), C(<mac>), C(<dns>), C(<domain>), C(<vlan>) and
    C(<mtu>) on a network of forward mode C(bridge) anyway (the host's own network stack owns addressing of a
    bridged LAN); what it would accept (C(<portgroup>), C(<bandwidth>), C(<virtualport>)) is outside what this
    module manages.
  - In check mode the C(uuid) in RV(after) is null for a network the module would create (libvirt picks the uuid
    when it defines the network).
seealso:
  - module: kvmnet.bridge.linux_bridge
  - module: kvmnet.bridge.kvm_guest_nic
  - name: libvirt network XML, forward mode bridge
    description: The C(<network>) element this module writes.
    link: https://libvirt.org/formatnetwork.html#using-an-existing-host-bridge
'''

EXAMPLES = r'''
- name: The bridge for the guests
  kvmnet.bridge.linux_bridge:
    name: kvmbr0

- name: Offer kvmbr0 to virt-manager and virt-install as network "kvmbr0"
  kvmnet.bridge.libvirt_network:
    name: kvmbr0
    bridge: kvmbr0

- name: A guest on it, with virt-install
  ansible.builtin.command: >-
    virt-install --name web1 --memory 1024 --import --disk /var/lib/libvirt/images/web1.qcow2
    --network network=kvmbr0 --noautoconsole
  args:
    creates: /etc/libvirt/qemu/web1.xml

- name: Replace libvirt's NAT network "default" by a bridge network on kvmbr0 (stops the NAT network)
  kvmnet.bridge.libvirt_network:
    name: default
    bridge: kvmbr0
    takeover: true

- name: Defined, but not running and not started at boot
  kvmnet.bridge.libvirt_network:
    name: lab
    bridge: labbr0
    active: false
    autostart: false

- name: Remove the network (the bridge stays)
  kvmnet.bridge.libvirt_network:
    name: lab
    state: absent
'''

RETURN = r'''
interrupted_runs:
  description: Earlier runs of this task killed while applying their plan (see the notes); each is also a warning.
  returned: when an earlier run was interrupted
  type: list
  elements: dict
before:
  description:
    - The network before the task. C(state), C(name) and, when present, the other keys.
  returned: always
  type: dict
  contains:
    name:
      description: The network's name.
      type: str
    state:
      description: V(present) or V(absent).
      type: str
    uuid:
      description: The uuid libvirt gave the network.
      type: str
    forward:
      description: The forward mode (V(bridge), V(nat), V(route)...), or null for an isolated network.
      type: str
    bridge:
      description: The bridge of the persistent definition, or null.
      type: str
    active:
      description: Whether the network runs.
      type: bool
    autostart:
      description: Whether libvirt starts it with libvirtd.
      type: bool
    persistent:
      description: Whether the network is defined (false for a transient network made with C(virsh net-create)).
      type: bool
    xml:
      description: The persistent definition as libvirt reports it (indented; for a transient network what runs).
      type: str
  sample:
    name: kvmbr0
    state: present
    uuid: 6e5c4cc5-da24-407a-a24e-621c3ab4138f
    forward: bridge
    bridge: kvmbr0
    active: true
    autostart: true
    persistent: true
    xml: "<network>\n  <name>kvmbr0</name>\n  <uuid>6e5c4cc5-da24-407a-a24e-621c3ab4138f</uuid>\n  <forward
      mode=\"bridge\" />\n  <bridge name=\"kvmbr0\" />\n</network>"
after:
  description:
    - The network after the task, same keys as RV(before). Read back from libvirt after a change; in check mode
      the state the module predicts.
  returned: always
  type: dict
operations:
  description:
    - The libvirt requests sent, in order (in check mode, the requests that would be sent). The network's name is
      in the C(interface) key, as in the collection's other modules.
    - Actions are V(define) (the full definition; C(attributes.uuid) when an existing network is redefined,
      C(attributes.replaces) with what O(takeover) drops), V(destroy) (C(attributes.reason) says why, for example
      a restart so that a new definition takes effect, O(active=false) or O(state=absent)), V(start),
      V(autostart) and V(undefine).
  returned: always
  type: list
  elements: dict
  sample:
    - action: destroy
      interface: kvmbr0
      attributes:
        reason: "restart: the running network uses bridge kvmbr0 (forward mode 'bridge'), the definition bridge
          kvmbr1 (forward mode 'bridge'); libvirt applies a definition only when the network starts"
    - action: define
      interface: kvmbr0
      attributes: {bridge: kvmbr1, forward: bridge, uuid: 6e5c4cc5-da24-407a-a24e-621c3ab4138f}
    - action: start
      interface: kvmbr0
diff:
  description:
    - The network's XML before and after, each under a comment with its state (persistent or transient, active
      or not, autostart or not), and what runs when it differs from the definition, in the format Ansible uses for
      C(--diff).
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
    Operation,
    apply_plan,
    require_bridge,
    require_library,
    run_module,
    where,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._libvirt import (
    LIBVIRT_IMPORT_ERROR,
    LIBVIRT_MINIMUM_VERSION,
    URI_ARGSPEC,
    libvirt_version,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._libvirt_network import (
    LibvirtNetworks,
    describe_network,
    diff_text,
    plan_network,
    validate_network_static,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._netlink import (
    PYROUTE2_IMPORT_ERROR,
    PYROUTE2_MINIMUM_VERSION,
    Netlink,
    pyroute2_version,
)


class LibvirtNetworkManager(Manager):

    def check_bridge(self):
        """Warn when the bridge is missing (libvirt does not care; guests would fail to start), refuse an interface
        of that name that is not a bridge."""
        bridge, netns = self.params['bridge'], self.params['netns']
        with Netlink(netns) as netlink:
            link = netlink.get_link(bridge)
        if link is None:
            self.module.warn(
                'Bridge %r does not exist%s. libvirt accepts network %r on it and reports it active, but guests with'
                ' a NIC on the network fail to start until the bridge exists. Create it with'
                ' kvmnet.bridge.linux_bridge (in a dry run, a task before this one may be about to).'
                % (bridge, where(netns), self.params['name']))
            return
        require_bridge(bridge, link, netns, 'a libvirt network of forward mode bridge (libvirt plugs the guests\''
                       ' taps into it)')

    def bind(self, conn, step):
        """A plan step (plain data) -> an Operation calling libvirt."""
        name, action, revert = self.params['name'], step['action'], step.get('revert')
        if action == 'define':
            def apply():
                conn.define(step['xml'])

            def undo():
                if revert is None:
                    conn.undefine(name)
                else:
                    conn.define(revert)
        elif action == 'destroy':
            def apply():
                conn.destroy(name)

            def undo():
                conn.start(name)
        elif action == 'start':
            def apply():
                conn.start(name)

            def undo():
                conn.destroy(name)
        elif action == 'autostart':
            def apply():
                conn.set_autostart(name, step['attributes']['autostart'])

            def undo():
                conn.set_autostart(name, revert)
        else:
            def apply():
                conn.undefine(name)

            undo = None  # the last step of its plan: nothing after it can fail
        return Operation(action, name, step['attributes'], apply=apply, revert=undo)

    def warn_users(self, conn, steps, have):
        """Name the running guests on a network that the plan stops (their NICs stay where they were plugged)."""
        if not have or not have['active'] or not any(step['action'] == 'destroy' for step in steps):
            return
        users = conn.users(self.params['name'])
        if not users:
            return
        if any(step['action'] == 'start' for step in steps):
            what, way_out = 'Restarting network %r (to apply the new definition)' % self.params['name'], (
                'Restart these guests (or detach and attach their NICs again) so they use bridge %s.'
                % self.params['bridge'])
        else:
            what, way_out = 'Stopping network %r' % self.params['name'], (
                'Guests with a NIC on it cannot start again until a network of that name runs.')
        self.module.warn(
            '%s while running domains have a NIC on it: %s. The module does not touch their NICs: they stay plugged'
            ' into the bridge the network had when each guest started. %s' % (what, ', '.join(users), way_out))

    def run(self):
        params = self.params
        validate_network_static(params)
        with LibvirtNetworks(params['uri']) as conn:
            have = conn.facts(params['name'])
            self.before = before = describe_network(params['name'], have)
            steps, predicted = plan_network(params, have)
            if params['state'] == 'present':
                self.check_bridge()
            self.warn_users(conn, steps, have)
            operations = [self.bind(conn, step) for step in steps]
            apply_plan(operations, self.module.check_mode)
            after_live = have and have['live']
            if not operations:
                after = before
            elif self.module.check_mode:
                after, after_live = predicted, None
            else:
                done = conn.facts(params['name'])
                after, after_live = describe_network(params['name'], done), done and done['live']
        result = self.change_result(before, after, operations)
        if self.module._diff:
            header = 'libvirt network %s' % params['name']
            result['diff'] = dict(before=diff_text(before, have and have['live']), after=diff_text(after, after_live),
                                  before_header=header, after_header=header)
        return result


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        bridge=dict(type='str'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        active=dict(type='bool', default=True),
        autostart=dict(type='bool', default=True),
        takeover=dict(type='bool', default=False),
    )
    argument_spec.update(URI_ARGSPEC)
    argument_spec.update(NETNS_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[('state', 'present', ['bridge'])])
    require_library(module, 'libvirt-python', LIBVIRT_IMPORT_ERROR, libvirt_version(), LIBVIRT_MINIMUM_VERSION)
    if module.params['state'] == 'present':
        require_library(module, 'pyroute2', PYROUTE2_IMPORT_ERROR, pyroute2_version(), PYROUTE2_MINIMUM_VERSION)
    run_module(module, LibvirtNetworkManager)


if __name__ == '__main__':
    main()
