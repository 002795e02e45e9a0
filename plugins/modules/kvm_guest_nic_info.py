#!/usr/bin/python
# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kvm_guest_nic_info
short_description: Facts about libvirt guests' NICs, their taps on the host, and the host's and guest's counters
version_added: 0.1.0
description:
  - For every libvirt domain, or the one named by O(domain), lists each network interface with the guest's MAC,
    the tap on the host (C(vnetN), from the live XML), the tap's MAC, the bridge the tap is in, the model, the link
    state, and counters from three sources.
  - RV(nics[].tap_counters) are the tap's kernel counters (the host's view). RV(nics[].guest_counters) are the
    guest's OWN counters of the interface with the NIC's MAC, from the QEMU guest agent inside the guest
    (C(guest-network-get-interfaces)); null when the domain has no agent channel or the agent does not answer.
    RV(nics[].libvirt_counters) are what libvirt reports for the NIC (C(virsh domifstat)); for a bridge NIC libvirt
    reads the SAME tap and swaps receive and transmit, so they are not the guest's view.
  - RV(nics[].mirrored) compares the tap with the guest's own counters. The tap's transmitted bytes must equal the
    bytes the guest received, and the tap's received bytes the bytes the guest transmitted. It is null, with
    RV(nics[].mirrored_reason) saying why, when the guest's counters cannot be read.
  - Read-only.
author:
  - kvmnet.bridge maintainers (@kvmnet)
extends_documentation_fragment:
  - kvmnet.bridge.attributes.INFO
  - kvmnet.bridge.attributes.NETLINK_GROUP
  - kvmnet.bridge.libvirt
  - kvmnet.bridge.libvirt.LIBVIRT_GROUP
  - kvmnet.bridge.netns
options:
  domain:
    description:
      - Name of the domain to read. When omitted, every domain is read.
      - A domain that does not exist is not an error. RV(nics) is then empty and RV(exists) is V(false).
    type: str
notes:
  - O(netns) is the network namespace in which the taps live (where libvirtd runs), when that is not the
    module's own.
  - Counters move while the guest has traffic. For each running domain the module reads its taps' kernel
    counters, then libvirt's and the guest agent's, then the taps' again, and repeats (up to 5 times) until the two
    kernel reads are equal, so all sides come from the same moment. When traffic never pauses,
    RV(nics[].mirrored) can be V(false) for a moment; poll it.
  - RV(nics[].mirrored) can stay V(false) on a quiet guest. The tap also counts frames the guest never saw (sent
    before the guest's driver was up, multicast that QEMU's virtio-net filter drops). RV(nics[].unmatched_bytes)
    gives the difference per direction; compare its change over time, or the counters' change for a known
    amount of traffic.
  - The guest agent is the guest's C(qemu-guest-agent) on a virtio-serial channel named C(org.qemu.guest_agent.0)
    (C(<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>)). One command per
    running domain and settle round, bounded to 5 s; an agent that does not answer gives RV(nics[].mirrored) null,
    never a failure.
seealso:
  - module: kvmnet.bridge.kvm_guest_nic
  - module: kvmnet.bridge.linux_bridge_info
'''

EXAMPLES = r'''
- name: Every guest NIC with its tap
  kvmnet.bridge.kvm_guest_nic_info:
  register: guest_nics

- name: Map guest MACs to taps
  ansible.builtin.debug:
    msg: "{{ guest_nics.nics | items2dict(key_name='mac', value_name='tap') }}"

- name: Wait until the counters of web1's NICs are mirrored (the guest runs qemu-guest-agent)
  kvmnet.bridge.kvm_guest_nic_info:
    domain: web1
  register: web1_nics
  until: web1_nics.nics | rejectattr('mirrored') | list | length == 0
  retries: 10
  delay: 1

- name: Why a NIC's counters could not be compared
  ansible.builtin.debug:
    msg: "{{ item.domain }} {{ item.mac }}: {{ item.mirrored_reason }}"
  loop: "{{ guest_nics.nics | selectattr('mirrored', 'none') }}"
  loop_control:
    label: "{{ item.domain }} {{ item.mac }}"
'''

RETURN = r'''
exists:
  description: Whether O(domain) exists (always V(true) without O(domain)).
  returned: always
  type: bool
nics:
  description: One entry per NIC of each domain read, domains sorted by name, NICs in the order of the domain XML.
  returned: always
  type: list
  elements: dict
  contains:
    domain:
      description: The domain.
      type: str
    active:
      description:
        - Whether the domain runs. For a shut-off domain, the NICs come from its configuration and have no tap.
      type: bool
    mac:
      description: The guest's MAC (lower case).
      type: str
    alias:
      description: libvirt's alias of the device (C(net0), or a user alias C(ua-...)), or null.
      type: str
    type:
      description: The interface type in the domain XML (V(bridge), V(network), V(direct)...).
      type: str
    bridge:
      description: The bridge in the domain XML (C(<source bridge>)), or null.
      type: str
    model:
      description: The device model, or null.
      type: str
    link_state:
      description: V(up) or V(down), as libvirt shows the link to the guest.
      type: str
    tap:
      description: The tap on the host (C(<target dev>) of the live XML), or null.
      type: str
    tap_exists:
      description: Whether the host has an interface called RV(nics[].tap) (in O(netns)).
      type: bool
    tap_mac:
      description:
        - The tap's MAC as the kernel reports it, or null. libvirt sets it to C(fe:) and the guest MAC's last five
          bytes.
      type: str
    tap_mac_expected:
      description: Whether RV(nics[].tap_mac) is C(fe:) followed by the last five bytes of RV(nics[].mac).
      type: bool
    tap_bridge:
      description: The bridge the tap is a port of, according to the kernel, or null.
      type: str
    tap_counters:
      description:
        - The tap's own counters from the kernel (netlink C(IFLA_STATS64) of the tap, the host's point of view).
          C(tx_bytes) is what the tap sent TO the guest; C(rx_bytes) is what it received FROM the guest.
        - Keys C(rx_bytes), C(rx_packets), C(tx_bytes), C(tx_packets), C(rx_dropped), C(tx_dropped). Null without
          a tap.
      type: dict
    libvirt_counters:
      description:
        - The counters libvirt reports for the NIC (C(virDomainInterfaceStats), as C(virsh domifstat) shows them).
          C(rx_bytes) is meant as what the guest received.
        - NOT the guest's own view. For NICs of type bridge and network, libvirt reads the same tap's kernel
          counters as RV(nics[].tap_counters) and swaps receive and transmit, so they mirror the tap by
          construction (for type C(ethernet) it does not swap). They prove which tap belongs to the NIC, nothing
          about what the guest received.
        - Same keys as RV(nics[].tap_counters). Null without a tap.
      type: dict
    guest_interface:
      description:
        - The guest's name of the interface with the NIC's MAC (for example C(eth0)), from the guest agent, or
          null (see RV(nics[].mirrored_reason)).
      type: str
    guest_counters:
      description:
        - The guest kernel's own counters of RV(nics[].guest_interface), from the QEMU guest agent
          (C(guest-network-get-interfaces), which reads the guest's C(/proc/net/dev)). C(rx_bytes) is what the
          guest received.
        - Same keys as RV(nics[].tap_counters) plus C(rx_errors), C(tx_errors). Null without a tap, without an
          agent, or when the agent lists no single interface with the NIC's MAC (RV(nics[].mirrored_reason) says
          which).
      type: dict
    mirrored:
      description:
        - V(true) when the tap's C(tx_bytes) equals RV(nics[].guest_counters)'s C(rx_bytes) AND the tap's
          C(rx_bytes) equals its C(tx_bytes), so the host and the guest counted the same traffic.
        - Null when RV(nics[].guest_counters) is null; RV(nics[].mirrored_reason) then says why.
      type: bool
    mirrored_reason:
      description:
        - Why RV(nics[].mirrored) is null (no tap, the domain is shut off, no guest agent channel, the agent is not
          connected or did not answer, no guest interface with the NIC's MAC), with what to do. Null when
          RV(nics[].mirrored) is V(true) or V(false).
      type: str
    unmatched_bytes:
      description:
        - C(to_guest) = the tap's C(tx_bytes) minus the guest's C(rx_bytes) (frames the tap sent that the guest
          did not count), C(from_guest) = the tap's C(rx_bytes) minus the guest's C(tx_bytes). Both 0 when
          RV(nics[].mirrored) is V(true). Null when RV(nics[].guest_counters) is null.
      type: dict
  sample:
    - domain: web1
      active: true
      mac: "52:54:00:12:34:56"
      alias: net0
      type: bridge
      bridge: kvmbr0
      model: virtio
      link_state: up
      tap: vnet3
      tap_exists: true
      tap_mac: "fe:54:00:12:34:56"
      tap_mac_expected: true
      tap_bridge: kvmbr0
      tap_counters: {rx_bytes: 1934, rx_packets: 12, tx_bytes: 5012, tx_packets: 31, rx_dropped: 0, tx_dropped: 0}
      libvirt_counters: {rx_bytes: 5012, rx_packets: 31, tx_bytes: 1934, tx_packets: 12, rx_dropped: 0, tx_dropped: 0}
      guest_interface: eth0
      guest_counters: {rx_bytes: 5012, rx_packets: 31, tx_bytes: 1934, tx_packets: 12, rx_dropped: 0, tx_dropped: 0,
                       rx_errors: 0, tx_errors: 0}
      mirrored: true
      mirrored_reason: null
      unmatched_bytes: {to_guest: 0, from_guest: 0}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    NETNS_ARGSPEC,
    Manager,
    ValidationError,
    require_library,
    run_module,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._libvirt import (
    LIBVIRT_IMPORT_ERROR,
    LIBVIRT_MINIMUM_VERSION,
    URI_ARGSPEC,
    Libvirt,
    guest_view,
    libvirt_version,
    tap_mac,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._netlink import (
    PYROUTE2_IMPORT_ERROR,
    PYROUTE2_MINIMUM_VERSION,
    Netlink,
    pyroute2_version,
)

COUNTER_KEYS = ('rx_bytes', 'rx_packets', 'tx_bytes', 'tx_packets', 'rx_dropped', 'tx_dropped')
SETTLE_TRIES = 5


class KvmGuestNicInfo(Manager):

    def snapshot(self, conn, netlink, domain, taps):
        """One settled reading of a running domain: ``(links, libvirt_counters, (interfaces, reason))``.

        ``links``: {tap: kernel link dict, or None when the tap does not exist}. Reads the taps, then libvirt's
        counters and the guest agent, then the taps again, until both tap reads agree (at most SETTLE_TRIES
        rounds), so every side belongs to the same quiet moment. An agent that failed once is not asked again.
        """
        links = dict((tap, netlink.get_link(tap)) for tap in taps)
        guest = None
        for dummy in range(SETTLE_TRIES):
            stats = dict((tap, conn.interface_stats(domain, tap)) for tap in taps if links[tap] is not None)
            if guest is None or guest[0] is not None:
                guest = conn.guest_interfaces(domain)
            again = dict((tap, netlink.get_link(tap)) for tap in taps)
            settled = all(_stats(again[tap]) == _stats(links[tap]) for tap in taps)
            links = again
            if settled:
                break
        return links, stats, guest

    def nic(self, netlink, domain, active, nic, links, stats, guest):
        entry = dict(domain=domain.name(), active=active, mac=nic['mac'], alias=nic['alias'], type=nic['type'],
                     bridge=nic['bridge'], model=nic['model'], link_state=nic['link_state'],
                     tap=nic['target'] if active else None, tap_exists=False, tap_mac=None, tap_mac_expected=None,
                     tap_bridge=None, tap_counters=None, libvirt_counters=None, guest_interface=None,
                     guest_counters=None, mirrored=None, mirrored_reason=None, unmatched_bytes=None)
        link = links.get(entry['tap']) if entry['tap'] else None
        if link is None:
            entry['mirrored_reason'] = (
                'domain %r is shut off: its NICs have no tap' % entry['domain'] if not active
                else 'the NIC has no tap in the live XML (interface type %s)' % nic['type'] if not entry['tap']
                else 'tap %s does not exist on the host (wrong netns?)' % entry['tap'])
            return entry
        master = netlink.get_link_by_index(link['master']) if link['master'] else None
        tap_side = _counters(link['stats'], COUNTER_KEYS)
        entry.update(tap_exists=True, tap_mac=link['address'], tap_mac_expected=link['address'] == tap_mac(nic['mac']),
                     tap_bridge=master['name'] if master else None, tap_counters=tap_side,
                     libvirt_counters=_counters(stats.get(entry['tap']), COUNTER_KEYS))
        entry.update(guest_view(tap_side, guest, nic['mac']))
        return entry

    def run(self):
        name = self.params['domain']
        nics = []
        with Libvirt(self.params['uri']) as conn, Netlink(self.params['netns']) as netlink:
            if name:
                try:
                    domains = [conn.domain(name)]
                except ValidationError:
                    return dict(changed=False, exists=False, nics=[])
            else:
                domains = conn.domains()
            for domain in domains:
                active, dummy = conn.state(domain)
                found = [nic for nic, dummy in conn.nics(domain, 'live' if active else 'config')]
                taps = [nic['target'] for nic in found if active and nic['target']]
                links, stats, guest = self.snapshot(conn, netlink, domain, taps) if taps else ({}, {}, (None, None))
                for nic in found:
                    nics.append(self.nic(netlink, domain, active, nic, links, stats, guest))
        return dict(changed=False, exists=True, nics=nics)


def _stats(link):
    return link['stats'] if link is not None else None


def _counters(values, keys):
    return dict((key, values.get(key)) for key in keys) if values is not None else None


def main():
    argument_spec = dict(
        domain=dict(type='str'),
    )
    argument_spec.update(URI_ARGSPEC)
    argument_spec.update(NETNS_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    require_library(module, 'libvirt-python', LIBVIRT_IMPORT_ERROR, libvirt_version(), LIBVIRT_MINIMUM_VERSION)
    require_library(module, 'pyroute2', PYROUTE2_IMPORT_ERROR, pyroute2_version(), PYROUTE2_MINIMUM_VERSION)
    run_module(module, KvmGuestNicInfo)


if __name__ == '__main__':
    main()
