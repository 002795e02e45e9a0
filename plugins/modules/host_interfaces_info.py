#!/usr/bin/python
# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: host_interfaces_info
short_description: Inventory of a host's interfaces and the uplink a KVM bridge would take
version_added: 0.1.0
description:
  - Reads every interface of the host (or of the network namespace O(netns)) in one call. For each interface it
    returns its kind (wired NIC, wireless station, bridge, tap, veth, macvlan, loopback, other virtual device),
    MAC and permanent MAC, carrier and operational state, master, global addresses, whether a default route
    leaves through it, whether it carries the Ansible connection, and which network stack owns it (netplan,
    NetworkManager, systemd-networkd, ifupdown, none, or V(conflict) when two stacks claim it).
  - It also returns the decision a KVM bridge host needs, in RV(uplink). With O(uplink=auto) that is the wired
    NIC the bridge O(bridge) would take, why, and every other interface with the reason it was rejected. With
    an interface name it is the list of problems that make that interface unusable as a port of O(bridge).
  - V(auto) never picks a virtual interface (veth, tap, macvlan, bridge...), a wireless station, the loopback
    or a port of another bridge. Among the wired NICs left, an existing port of O(bridge) wins (so a re-run
    keeps it), then a NIC that does not carry the Ansible connection, then one with carrier, then one without
    global addresses, then the lowest interface index.
  - Every network stack that would configure an interface makes a claim, listed in RV(interfaces.manager.claims) with
    the file and line or the daemon state it comes from. Netplan claims what its YAML files name (by name, or by
    C(match) and C(set-name)), NetworkManager what it manages or what one of its profiles binds, systemd-networkd
    what its link state or the first matching C(.network) file gives it, ifupdown what an C(iface) stanza or a
    C(bridge_ports) line names. Netplan and the files it generated for its renderer are one claim (netplan).
  - Read-only, and no daemon is started. One link dump, the addresses and the default routes over netlink, sysfs
    (in one process when O(netns) is set), configuration and state files, and, only when NetworkManager runs, one
    C(nmcli) call.
author:
  - kvmnet.bridge maintainers (@kvmnet)
extends_documentation_fragment:
  - kvmnet.bridge.attributes.INFO
  - kvmnet.bridge.attributes.NETLINK_GROUP
  - kvmnet.bridge.netns
options:
  uplink:
    description:
      - V(auto) lets the module choose the wired NIC to bridge (see the description).
      - An interface name checks that interface instead. RV(uplink.problems) then lists everything that
        makes it unusable as a port of O(bridge). Virtual interfaces such as a veth are accepted when named.
    type: str
    default: auto
  bridge:
    description:
      - The bridge the uplink is meant for. An interface that is already a port of this bridge is a good
        uplink (a re-run changes nothing). A port of any other bridge is not.
    type: str
    default: kvmbr0
  connection_address:
    description:
      - The address the Ansible controller connected to on the target. For SSH that is the local address of
        the SSH connection, the third field of C(ansible_env.SSH_CONNECTION) (see the examples).
      - The interface that has this address carries the Ansible connection (RV(connection)). If the address is
        on no interface (for example a NAT address), is a loopback address, or is not given, the interface of
        the default route is taken instead.
      - An IPv6 address may have a zone (V(fe80::1%eth0)) and brackets. An empty string is the same as not
        giving it.
    type: str
notes:
  - Run as root (C(become=true)) to read a named network namespace.
  - The network stacks (netplan, NetworkManager, systemd-networkd, ifupdown) are detected only for the network
    namespace the module runs in (for example inside a machine reached with C(community.docker.nsenter)). With
    O(netns) they are not checked, because the managers of the host configure the host's own namespace.
  - The 4addr state of a wireless station comes from C(iw dev) (nl80211). It is V(null) when C(iw) is not
    installed.
  - Netplan's YAML files are parsed with PyYAML when the Python that runs the module has it (netplan's own
    package depends on it). Without it, or for a file that is not valid YAML, the file's text is searched for the
    interface's name or MAC instead; the claim then says the file was not parsed, and RV(interfaces.manager.renderer)
    is V(null).
seealso:
  - module: kvmnet.bridge.bridge_port
  - module: kvmnet.bridge.linux_bridge
  - module: kvmnet.bridge.linux_bridge_info
'''

EXAMPLES = r'''
- name: Inventory the interfaces and let auto choose the uplink of kvmbr0
  kvmnet.bridge.host_interfaces_info:
    connection_address: "{{ ansible_env.SSH_CONNECTION.split()[2] }}"
  register: host_interfaces

- name: Stop unless there is a wired NIC to bridge
  ansible.builtin.assert:
    that: host_interfaces.uplink.problems | length == 0
    fail_msg: "{{ host_interfaces.uplink.problems | join(' ') }}"
    success_msg: "Uplink {{ host_interfaces.uplink.name }}: {{ host_interfaces.uplink.reason }}"

- name: Show why every other interface was rejected
  ansible.builtin.debug:
    msg: "{{ host_interfaces.uplink.rejected | items2dict(key_name='name', value_name='reason') }}"

- name: Check an uplink named by the user, in a network namespace
  kvmnet.bridge.host_interfaces_info:
    uplink: eth1
    bridge: kvmbr0
    netns: lab
  register: lab_interfaces

- name: Refuse to bridge the interface Ansible talks through
  ansible.builtin.assert:
    that: not lab_interfaces.uplink.carries_connection
    fail_msg: "eth1 carries the Ansible connection: bridging it would cut it"

- name: List the wired NICs and the manager of each
  ansible.builtin.debug:
    msg: >-
      {{ host_interfaces.interfaces.values() | selectattr('kind', 'eq', 'wired')
         | map(attribute='name') | zip(host_interfaces.interfaces.values() | selectattr('kind', 'eq', 'wired')
         | map(attribute='manager.name')) | list }}
'''

RETURN = r'''
interfaces:
  description: Every interface, by name.
  returned: always
  type: dict
  contains:
    name:
      description: Interface name.
      type: str
      sample: eth0
    index:
      description: Interface index.
      type: int
      sample: 2
    kind:
      description:
        - V(wired) (a physical Ethernet NIC), V(wireless) (an 802.11 station), V(bridge), V(tap), V(veth),
          V(macvlan), V(loopback), V(virtual) (any other software device such as tun, vxlan, dummy, vlan or
          bond), or V(other) (a physical device that is not Ethernet, such as InfiniBand or WWAN).
      type: str
      sample: wired
    link_kind:
      description: The kernel's kind of a software device (V(veth), V(tun), V(bridge), V(vxlan)...), V(null) for
        a physical device and the loopback.
      type: str
      sample: null
    link_type:
      description: Link-layer type as C(ip link) names it (V(ether), V(loopback), V(none) for a tun device,
        V(infiniband)...), or the ARPHRD number.
      type: str
      sample: ether
    physical:
      description: Whether sysfs shows a device behind the interface (a NIC on a bus), V(null) when sysfs
        could not be read for it.
      type: bool
      sample: true
    mac:
      description: MAC address in lower case, V(null) when the interface has none (tun).
      type: str
      sample: "52:54:00:12:34:56"
    perm_mac:
      description: Permanent (burnt-in) MAC address, V(null) for software devices and older kernels.
      type: str
      sample: "52:54:00:12:34:56"
    carrier:
      description: Whether the link has carrier, V(null) when the interface is down (unknown then).
      type: bool
      sample: true
    operstate:
      description: Operational state in lower case, as in sysfs (V(up), V(down), V(lowerlayerdown),
        V(dormant), V(unknown)...).
      type: str
      sample: up
    up:
      description: Whether the interface is administratively up.
      type: bool
      sample: true
    mtu:
      description: MTU.
      type: int
      sample: 1500
    master:
      description: Name of the interface it is enslaved to (a bridge, a bond...), V(null) if none.
      type: str
      sample: kvmbr0
    bridge_port:
      description: Whether its master is a bridge.
      type: bool
      sample: true
    addresses:
      description: Global addresses (not link-local, not host scope) as V(address/prefix).
      type: list
      elements: str
      sample: ["192.168.1.20/24", "2001:db8::20/64"]
    default_route:
      description: Whether a default route (of any routing table but V(local)) leaves through it, per family.
      type: dict
      sample: {ipv4: true, ipv6: false}
    carries_connection:
      description: Whether it is the interface of RV(connection).
      type: bool
      sample: false
    phy:
      description: Name of the wireless PHY (V(phy0)) of a wireless station, V(null) otherwise.
      type: str
      sample: phy0
    wireless_4addr:
      description: Whether 4-address mode is on for a wireless station, V(null) when not a station or unknown.
      type: bool
      sample: null
    manager:
      description: The network stack that owns the interface, and every stack that claims it.
      type: dict
      contains:
        name:
          description:
            - The owner, V(netplan), V(networkmanager), V(networkd), V(ifupdown), V(none), or V(conflict) when two
              independent stacks claim the interface (RV(interfaces.manager.detail) then names both claims).
            - Without any claim, a stack that knows the device but leaves it alone (NetworkManager "unmanaged",
              systemd-networkd C(ADMIN_STATE=unmanaged) or C(Unmanaged=yes)) is named with
              RV(interfaces.manager.managed=false), and NetworkManager installed but not answering with
              RV(interfaces.manager.managed=null).
          type: str
          sample: networkmanager
        managed:
          description: V(true) when a stack claims the interface (also for V(conflict)), V(false) for a stack that
            leaves it alone, V(null) when unknown or V(none).
          type: bool
          sample: true
        detail:
          description: Why, in words. For V(conflict) every claim with its reason.
          type: str
          sample: NetworkManager device, state connected (nmcli)
        claims:
          description:
            - Every stack that claims the interface, in the order netplan, NetworkManager, systemd-networkd,
              ifupdown. Empty when none does.
            - A NetworkManager profile or a C(.network) file that netplan generated
              (C(/run/NetworkManager/system-connections/netplan-*), C(/run/systemd/network/10-netplan-*.network))
              is part of netplan's claim, not a claim of its own.
          type: list
          elements: dict
          sample:
            - name: netplan
              detail: "netplan: ethernets.eth0 at /etc/netplan/50-cloud-init.yaml:5 (by name), renderer networkd
                (netplan's default)"
          contains:
            name:
              description: V(netplan), V(networkmanager), V(networkd) or V(ifupdown).
              type: str
              sample: netplan
            detail:
              description: The file and line, or the daemon state, the claim comes from.
              type: str
              sample: "netplan: ethernets.eth0 at /etc/netplan/50-cloud-init.yaml:5 (by name), renderer networkd
                (netplan's default)"
        renderer:
          description: When netplan claims the interface, the renderer netplan generates its configuration for,
            V(networkd) or V(NetworkManager) (from the device's, its type section's or the network's C(renderer),
            netplan's default V(networkd)). V(null) otherwise, and when the netplan file could not be parsed.
          type: str
          sample: networkd
    notes:
      description: Facts that could not be told, with the reason (for example an unknown carrier).
      type: list
      elements: str
      sample: ["carrier unknown: the interface is down"]
connection:
  description: The interface that carries the Ansible connection.
  returned: always
  type: dict
  contains:
    interface:
      description: Its name, V(null) when none could be told.
      type: str
      sample: wlan0
    address:
      description: The matched O(connection_address), V(null) when the interface was taken from the default
        route.
      type: str
      sample: 192.168.1.20
    how:
      description: V(connection_address) (O(connection_address) is an address of the interface), V(default_route)
        (the interface of the main table's default route), or V(null).
      type: str
      sample: connection_address
    detail:
      description: How it was found, in words.
      type: str
      sample: 192.168.1.20 is an address of wlan0
default_route:
  description: The interface of the main routing table's preferred (lowest metric) default route per family,
    V(null) when there is none.
  returned: always
  type: dict
  sample: {ipv4: wlan0, ipv6: null}
uplink:
  description: The uplink decision for O(bridge).
  returned: always
  type: dict
  contains:
    requested:
      description: O(uplink) as given.
      type: str
      sample: auto
    name:
      description: The chosen (or named) interface, V(null) when V(auto) found none or the named one does not
        exist.
      type: str
      sample: eth0
    reason:
      description: Why it was chosen, in words.
      type: str
      sample: "eth0: a wired NIC (physical Ethernet), with carrier, no global address, does not carry the
        Ansible connection; the only wired candidate"
    rejected:
      description: With V(auto), every other interface with the reason it was not chosen, by interface index.
        Empty for a named uplink.
      type: list
      elements: dict
      sample: [{name: lo, reason: loopback interface}]
    problems:
      description:
        - Everything that makes the uplink unusable as a port of O(bridge), one sentence each naming the way
          out. Empty when it is usable.
        - For V(auto) without a candidate, one problem that sums up the rejections.
      type: list
      elements: str
      sample: []
    carries_connection:
      description: Whether the uplink carries the Ansible connection (bridging it needs its addresses moved to
        the bridge).
      type: bool
      sample: false
    addresses:
      description: The uplink's global addresses.
      type: list
      elements: str
      sample: []
    in_bridge:
      description: The bridge the uplink is already a port of, V(null) if none.
      type: str
      sample: null
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmnet.bridge.plugins.module_utils import _managers
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    NETNS_ARGSPEC,
    Manager,
    require_library,
    run_module,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._iface import (
    parse_sysfs_report,
    read_sysfs,
    sysfs_command,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._inventory import (
    AUTO,
    four_addr_states,
    inventory,
    normalise_address,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._names import validate_ifname
from ansible_collections.kvmnet.bridge.plugins.module_utils._netlink import (
    PYROUTE2_IMPORT_ERROR,
    PYROUTE2_MINIMUM_VERSION,
    Netlink,
    pyroute2_version,
)


def read_addresses(netlink, links):
    """ifindex -> addresses of every link."""
    return dict((link['index'], netlink.addresses(link['index'])) for link in links)


class HostInterfacesInfo(Manager):

    def run(self):
        params = self.params
        validate_ifname(params['bridge'], 'bridge')
        if params['uplink'] != AUTO:
            validate_ifname(params['uplink'], 'uplink')
        normalise_address(params['connection_address'])  # refuse a bad value before reading anything
        with Netlink(params['netns']) as netlink:
            links = netlink.links()
            addresses = read_addresses(netlink, links)
            routes = netlink.default_routes()
        sysfs, iw_text, iw_problem = self.sysfs()
        detect = None
        if not params['netns']:
            def detect(interfaces):
                return _managers.detect(interfaces, '/', self.run_command, self.module.get_bin_path('nmcli'))
        result = inventory(links, addresses, routes, sysfs, detect, params['connection_address'],
                           params['uplink'], params['bridge'], params['netns'],
                           four_addr_states(sysfs, iw_text, iw_problem))
        result['changed'] = False
        return result

    def run_command(self, argv):
        return self.module.run_command(argv, environ_update=dict(LANG='C', LC_ALL='C', LC_MESSAGES='C'))

    def sysfs(self):
        """(entries, iw_text, iw_problem) for the namespace read (see _iface.parse_sysfs_report)."""
        netns = self.params['netns']
        if netns:
            missing = [tool for tool in ('nsenter', 'unshare') if not self.module.get_bin_path(tool)]
            if missing:
                self.module.warn('%s not found: without it the sysfs of network namespace %r cannot be read, so'
                                 ' physical NICs and wireless stations cannot be told apart (install util-linux).'
                                 % (' and '.join(missing), netns))
                return {}, None, None
            rc, out, err = self.run_command(sysfs_command(netns))
            if rc != 0:
                self.module.warn('Reading the sysfs of network namespace %r failed (rc %s: %s): physical NICs and'
                                 ' wireless stations cannot be told apart.' % (netns, rc, (err or out).strip()))
                return {}, None, None
            return parse_sysfs_report(out)
        entries = read_sysfs()
        if not any(entry['wireless'] for entry in entries.values()):
            return entries, None, None
        iw = self.module.get_bin_path('iw')
        if not iw:
            return entries, None, 'missing'
        rc, out, dummy = self.run_command([iw, 'dev'])
        return (entries, out, None) if rc == 0 else (entries, None, 'failed')


def main():
    argument_spec = dict(
        uplink=dict(type='str', default=AUTO),
        bridge=dict(type='str', default='kvmbr0'),
        connection_address=dict(type='str'),
    )
    argument_spec.update(NETNS_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    require_library(module, 'pyroute2', PYROUTE2_IMPORT_ERROR, pyroute2_version(), PYROUTE2_MINIMUM_VERSION)
    run_module(module, HostInterfacesInfo)


if __name__ == '__main__':
    main()
