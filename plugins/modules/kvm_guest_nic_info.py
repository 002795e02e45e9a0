#!/usr/bin/python
# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kvm_guest_nic_info
short_description: Facts about libvirt guests' NICs, their taps on the host and both sides' counters
version_added: 0.1.0
description:
  - For every libvirt domain, or the one named by O(domain), lists each network interface with the guest's MAC,
    the tap on the host (C(vnetN), from the live XML), the tap's MAC, the bridge the tap is in, the model, the link
    state, and the counters seen from both sides.
  - RV(nics[].mirrored) says whether the two sides agree. The tap's transmitted bytes must equal the bytes the guest
    received, and the tap's received bytes the bytes the guest transmitted. See RV(nics[].tap_counters) and
    RV(nics[].guest_counters) for where each number comes from.
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
  - Counters move while the guest has traffic. The module reads the tap's kernel counters, then libvirt's, then
    the tap's again, and repeats (up to 5 times) until the two kernel reads are equal, so both sides come from
    the same moment. When traffic never pauses, RV(nics[].mirrored) can be V(false) for a moment; poll it.
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

- name: Wait until the counters of web1's NICs are mirrored
  kvmnet.bridge.kvm_guest_nic_info:
    domain: web1
  register: web1_nics
  until: web1_nics.nics | rejectattr('mirrored') | list | length == 0
  retries: 10
  delay: 1
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
    guest_counters:
      description:
        - The counters libvirt reports for the NIC (C(virDomainInterfaceStats), as C(virsh domifstat) shows them), from
          the guest's point of view. C(rx_bytes) is what the guest received.
        - For NICs of type bridge and network, libvirt reads the same tap's counters and swaps receive and transmit.
          For other types (for example C(ethernet)) it does not swap; RV(nics[].mirrored) is then false.
        - Same keys as RV(nics[].tap_counters). Null without a tap.
      type: dict
    mirrored:
      description:
        - V(true) when the tap's C(tx_bytes) equals the guest's C(rx_bytes) AND the tap's C(rx_bytes) equals the
          guest's C(tx_bytes). Null without a tap.
      type: bool
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
      guest_counters: {rx_bytes: 5012, rx_packets: 31, tx_bytes: 1934, tx_packets: 12, rx_dropped: 0, tx_dropped: 0}
      mirrored: true
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
    libvirt_version,
    mirrored,
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

    def counters(self, conn, netlink, domain, tap):
        """(tap link, tap counters, guest counters), read tap - libvirt - tap until both tap reads agree."""
        link = netlink.get_link(tap)
        if link is None:
            return None, None, None
        for dummy in range(SETTLE_TRIES):
            guest = conn.interface_stats(domain, tap)
            again = netlink.get_link(tap)
            if again is None:
                return None, None, None
            settled = again['stats'] == link['stats']
            link = again
            if settled:
                break
        tap_side = dict((key, link['stats'].get(key)) for key in COUNTER_KEYS)
        guest_side = dict((key, guest.get(key)) for key in COUNTER_KEYS)
        return link, tap_side, guest_side

    def nic(self, conn, netlink, domain, active, nic):
        entry = dict(domain=domain.name(), active=active, mac=nic['mac'], alias=nic['alias'], type=nic['type'],
                     bridge=nic['bridge'], model=nic['model'], link_state=nic['link_state'],
                     tap=nic['target'] if active else None, tap_exists=False, tap_mac=None, tap_mac_expected=None,
                     tap_bridge=None, tap_counters=None, guest_counters=None, mirrored=None)
        if not entry['tap']:
            return entry
        link, tap_side, guest_side = self.counters(conn, netlink, domain, entry['tap'])
        if link is None:
            return entry
        master = netlink.get_link_by_index(link['master']) if link['master'] else None
        entry.update(tap_exists=True, tap_mac=link['address'], tap_mac_expected=link['address'] == tap_mac(nic['mac']),
                     tap_bridge=master['name'] if master else None, tap_counters=tap_side,
                     guest_counters=guest_side, mirrored=mirrored(tap_side, guest_side))
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
                for nic, dummy in conn.nics(domain, 'live' if active else 'config'):
                    nics.append(self.nic(conn, netlink, domain, active, nic))
        return dict(changed=False, exists=True, nics=nics)


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
