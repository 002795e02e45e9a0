# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The uri option shared by every libvirt module (declared once in module_utils/_libvirt.py).
    DOCUMENTATION = r'''
options:
  uri:
    description:
      - The libvirt connection URI, for example V(qemu:///system) (the system daemon on the target) or
        V(qemu:///session).
      - The module runs on the KVM host itself. It checks the bridge and reads the taps with netlink on the target
        (see O(netns)), so a URI that points to another host (C(qemu+ssh://...)) does not make sense here.
      - Set it once for many tasks with C(module_defaults) and the action group C(group/kvmnet.bridge.libvirt).
    type: str
    default: qemu:///system
requirements:
  - libvirt-python on the target (Debian C(python3-libvirt), or C(pip install libvirt-python)).
  - pyroute2 >= 0.7 on the target, to check the bridge and read the taps.
'''

    # The action group attribute of the libvirt modules.
    LIBVIRT_GROUP = r'''
options: {}
attributes:
  action_group:
    description: Use C(group/kvmnet.bridge.libvirt) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - kvmnet.bridge.libvirt
'''
