#!/usr/bin/python
# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: bridge_persist
short_description: Make a bridge and its port survive a reboot, through the host's own network stack
version_added: 0.1.0
description:
  - Writes the configuration of one bridge with one port (the uplink) in the files of the network stack that owns
    the host, so the stack builds the same bridge at boot (NetworkManager keyfiles, systemd-networkd C(.netdev) and
    C(.network) files, an ifupdown stanza in C(/etc/network/interfaces.d/), or a netplan YAML file).
  - One desired state (O(bridge), O(port), O(addressing)) for every stack. Values are validated with the rules of
    M(kvmnet.bridge.linux_bridge) and M(kvmnet.bridge.bridge_port), so no value can carry a newline or a section
    header into a file. A value the chosen stack cannot express as asked is reported in RV(limits) with what the
    kernel will show instead (never a silent default).
  - Files are written only when their content, mode or owner differ (root-owned; mode 0600 for files that can hold
    secrets), each atomically. Check mode shows what would be written; diff mode shows every file's diff.
  - When the stack runs, the module makes it take the files with the stack's own client (C(nmcli), C(networkctl),
    C(ifup), C(netplan generate)), not by restarting services, and only when a file changed; a bridge that is
    already right at runtime (built by M(kvmnet.bridge.linux_bridge) and M(kvmnet.bridge.bridge_port)) is not
    flapped. When the stack does not run, the files are written and RV(pending) says they take effect at its start.
  - All or nothing. If a write, a command or the activation fails, every file is restored (content, mode, owner),
    new files are removed, each command is undone, and the stack is activated again on the restored files.
  - Which stack owns the host is detected by M(kvmnet.bridge.host_interfaces_info) (its C(manager) of the uplink);
    the role C(kvmnet.bridge.kvm_bridge_host) does that and calls this module in its persist phase.
author:
  - kvmnet.bridge maintainers (@kvmnet)
extends_documentation_fragment:
  - kvmnet.bridge.attributes
  - kvmnet.bridge.run_lock
options:
  backend:
    description:
      - The network stack to write for. Each backend's files, activation and limits are described in
        C(docs/persist/) of the collection.
      - V(networkmanager) writes keyfiles in C(/etc/NetworkManager/system-connections/) and a C(conf.d) file.
      - V(networkd) writes C(/etc/systemd/network/) files.
      - V(ifupdown) writes a stanza file in C(/etc/network/interfaces.d/).
      - V(netplan) writes a YAML file in C(/etc/netplan/) for the renderer O(netplan_renderer).
    type: str
    required: true
    choices: [networkmanager, networkd, ifupdown, netplan]
  bridge:
    description:
      - The bridge, with the options of M(kvmnet.bridge.linux_bridge) that a stack can persist. Unset
        attributes are not written (the kernel's default applies at boot).
    type: dict
    required: true
    suboptions:
      name:
        description: Name of the bridge, for example C(kvmbr0).
        type: str
        required: true
      mac:
        description:
          - MAC address of the bridge. Without it most stacks give the bridge a MAC of their own choosing at
            boot (often the first port's, sometimes a random one). Pin it, usually to the uplink's permanent MAC.
        type: str
      stp:
        description: Spanning Tree Protocol on the bridge.
        type: bool
        default: false
      forward_delay:
        description: Forward delay in seconds (a number or a string like V(2.5s)), as in M(kvmnet.bridge.linux_bridge).
        type: raw
      hello_time:
        description: STP hello time in seconds.
        type: raw
      max_age:
        description: STP maximum message age in seconds.
        type: raw
      ageing_time:
        description: How long a learned MAC stays in the forwarding database, in seconds.
        type: raw
      priority:
        description: Bridge priority for STP root election, 0 to 65535.
        type: int
      mtu:
        description: MTU of the bridge.
        type: int
      mcast_snooping:
        description: IGMP/MLD snooping.
        type: bool
      vlan_filtering:
        description: 802.1Q VLAN filtering.
        type: bool
      group_fwd_mask:
        description: Bit mask of link-local group addresses the bridge forwards.
        type: int
  port:
    description:
      - The port of the bridge (the uplink), with the port attributes of M(kvmnet.bridge.bridge_port) that a
        stack can persist. The port never gets an address from the stack.
    type: dict
    required: true
    suboptions:
      name:
        description: The interface, for example C(eth0).
        type: str
        required: true
      cost:
        description: STP path cost, 1 to 65535.
        type: int
      priority:
        description: STP port priority, 0 to 63.
        type: int
      hairpin:
        description: Send frames back out of the port they came in on.
        type: bool
      learning:
        description: Learn source MAC addresses on this port.
        type: bool
      unicast_flood:
        description: Flood unknown unicast to this port.
        type: bool
      mcast_flood:
        description: Flood unknown multicast to this port.
        type: bool
      bpdu_guard:
        description: Disable the port when a BPDU arrives on it.
        type: bool
      root_block:
        description: Never let this port become the root port.
        type: bool
      isolated:
        description: Isolated port.
        type: bool
      neigh_suppress:
        description: ARP/ND suppression on this port.
        type: bool
  addressing:
    description: The addresses of the bridge itself (the host's own, not the guests').
    type: dict
    default: {}
    suboptions:
      mode:
        description:
          - V(none) the bridge carries no address from the stack (pure layer 2 for the guests; no DHCP, no IPv4
            link-local, no IPv6 autoconfiguration).
          - V(dhcp) the stack's DHCP client runs on the bridge (IPv4 DHCP and IPv6 autoconfiguration).
          - V(static) O(addressing.addresses) and the gateways.
        type: str
        choices: [none, dhcp, static]
        default: none
      addresses:
        description: With V(static), the addresses with their prefix length, for example V(192.0.2.10/24).
        type: list
        elements: str
        default: []
      gateway4:
        description: With V(static), the IPv4 default gateway; it must be on the subnet of an address.
        type: str
      gateway6:
        description: With V(static), the IPv6 default gateway.
        type: str
  netplan_renderer:
    description:
      - With O(backend=netplan), the renderer netplan generates for. V(networkd) or V(NetworkManager), the one
        the host's netplan configuration uses (M(kvmnet.bridge.host_interfaces_info) reports it).
    type: str
    choices: [networkd, NetworkManager]
    default: networkd
  activate:
    description:
      - Make the running stack take changed files now. With V(false) the files are only written; they take
        effect at the next start of the stack (a reboot).
    type: bool
    default: true
notes:
  - Run as root (C(become=true)).
  - The runtime bridge is the job of M(kvmnet.bridge.linux_bridge) and M(kvmnet.bridge.bridge_port); run them
    first (the role does) so the activation finds the bridge already right and nothing flaps.
seealso:
  - module: kvmnet.bridge.linux_bridge
  - module: kvmnet.bridge.bridge_port
  - module: kvmnet.bridge.host_interfaces_info
'''

EXAMPLES = r'''
- name: Persist kvmbr0 with port eth0 through NetworkManager
  kvmnet.bridge.bridge_persist:
    backend: networkmanager
    bridge:
      name: kvmbr0
      mac: "52:54:00:12:34:56"
      stp: false
      forward_delay: 0
    port:
      name: eth0

- name: Persist through netplan (rendered by systemd-networkd), the bridge takes a DHCP lease
  kvmnet.bridge.bridge_persist:
    backend: netplan
    netplan_renderer: networkd
    bridge:
      name: kvmbr0
    port:
      name: eno1
    addressing:
      mode: dhcp

- name: Static address through ifupdown, written only (no ifup now)
  kvmnet.bridge.bridge_persist:
    backend: ifupdown
    bridge:
      name: kvmbr0
      priority: 4096
    port:
      name: eth0
      cost: 10
    addressing:
      mode: static
      addresses: [192.0.2.10/24]
      gateway4: 192.0.2.1
    activate: false
'''

RETURN = r'''
interrupted_runs:
  description: Earlier runs of this task killed while applying their plan (see the notes); each is also a warning.
  returned: when an earlier run was interrupted
  type: list
  elements: dict
removed_leftovers:
  description:
    - Temporary files that a killed earlier run had left next to the files this module writes, removed by this run.
  returned: when there were any
  type: list
  elements: str
backend:
  description: The backend used.
  returned: always
  type: str
  sample: networkmanager
files:
  description: Every file the backend wants or removed, with what happened to it.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    state:
      description: V(created), V(updated) (content, mode or owner), V(unchanged) or V(removed) (a file of ours
        the model no longer needs, for example after a rename of the bridge).
      type: str
    mode:
      description: The file's mode (octal text), null for a removed file.
      type: str
  sample:
    - {path: /etc/NetworkManager/system-connections/kvmbr0.nmconnection, state: created, mode: '0600'}
commands:
  description: Changes outside the backend's own files (for example the uplink's old profile set not to
    autoconnect), each with the command that undoes it and why. In check mode, the ones that would run.
  returned: success
  type: list
  elements: dict
  sample:
    - argv: [nmcli, connection, modify, Wired connection 1, connection.autoconnect, 'no']
      undo: [nmcli, connection, modify, Wired connection 1, connection.autoconnect, 'yes']
      why: the old profile of eth0 would take eth0 back from kvmbr0 at boot
activation:
  description: The commands the activation ran (empty when nothing changed or the stack does not run).
  returned: success
  type: list
  elements: list
  sample: [[nmcli, connection, load, /etc/NetworkManager/system-connections/kvmbr0.nmconnection]]
activated:
  description: Whether the running stack was made to take the files in this run.
  returned: success
  type: bool
pending:
  description: Why changed files were not activated now (the stack does not run, or O(activate=false)), and when
    they take effect; null otherwise.
  returned: success
  type: str
limits:
  description: Values the backend cannot express as asked, with what the kernel shows instead (kernel units,
    hundredths of a second for times) and why. The role's verify phase expects these values.
  returned: success
  type: list
  elements: dict
  contains:
    attribute:
      description: The option, for example V(bridge.forward_delay).
      type: str
    wanted:
      description: The value asked for (kernel units).
      type: raw
    kernel:
      description: What the kernel shows after the stack applied the files, null when not known.
      type: raw
    why:
      description: The reason, in words.
      type: str
  sample:
    - attribute: bridge.forward_delay
      wanted: 0
      kernel: 200
      why: NetworkManager 1.42 cannot express a forward delay below 2 s (0 means unset, its 15 s default)
operations:
  description: What was done (or would be in check mode), in order.
  returned: always
  type: list
  elements: dict
  sample:
    - {action: write, path: /etc/systemd/network/50-kvmnet-kvmbr0.netdev}
    - {action: run, argv: [networkctl, reload]}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmnet.bridge.plugins.module_utils import (
    _persist_apply,
    _persist_ifupdown,
    _persist_model,
    _persist_netplan,
    _persist_networkd,
    _persist_nm,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import Manager, run_module
from ansible_collections.kvmnet.bridge.plugins.module_utils._persist import Host

BACKENDS = dict(
    networkmanager=_persist_nm.BACKEND,
    networkd=_persist_networkd.BACKEND,
    ifupdown=_persist_ifupdown.BACKEND,
    netplan=_persist_netplan.BACKEND,
)


class BridgePersistManager(Manager):

    def run(self):
        params = self.params
        model = _persist_model.validate(params['bridge'], params['port'], params['addressing'])
        backend = BACKENDS[params['backend']](
            Host(self.module.run_command), dict(netplan_renderer=params['netplan_renderer']))
        plan = _persist_apply.plan(backend, model)
        operations = [dict(action='remove' if change.state == 'removed' else 'write', path=change.path)
                      for change in plan.changes]
        operations += [dict(action='run', argv=command.argv, why=command.why) for command in plan.commands]
        result = dict(
            changed=plan.changed, backend=backend.name,
            files=[change.as_dict() for change in plan.files],
            commands=[command.as_dict() for command in plan.commands],
            limits=[limit.as_dict() for limit in plan.limits],
            activation=[], activated=False, pending=None, operations=operations)
        if self.module._diff:
            result['diff'] = [change.diff() for change in plan.changes]
        if self.module.check_mode or not plan.changed:
            return result
        done = _persist_apply.apply(backend, model, plan, activate=params['activate'])
        result.update(done)
        result['operations'] += [dict(action='activate', argv=argv) for argv in done['activation']]
        if not done['activated']:
            result['pending'] = (
                'activate is false: the files take effect when %s next starts (a reboot)' % backend.name
                if not params['activate'] else
                '%s does not run: the files take effect when it starts (at boot)' % backend.name)
        return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type='str', required=True, choices=sorted(BACKENDS)),
            bridge=dict(type='dict', required=True, options=_persist_model.BRIDGE_SPEC),
            port=dict(type='dict', required=True, options=_persist_model.PORT_SPEC),
            addressing=dict(type='dict', default={}, options=_persist_model.ADDRESSING_SPEC),
            netplan_renderer=dict(type='str', default='networkd', choices=['networkd', 'NetworkManager']),
            activate=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    run_module(module, BridgePersistManager)


if __name__ == '__main__':
    main()
