# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The netns option shared by every netlink module (declared once in module_utils/_common.py).
    DOCUMENTATION = r'''
options:
  netns:
    description:
      - Name of the network namespace to work in (as listed by C(ip netns list), that is a file in C(/run/netns)),
        or an absolute path to a namespace file such as C(/proc/1234/ns/net).
      - When omitted, the module works in the network namespace of the Ansible process on the target.
      - A namespace that does not exist is an error; the module never creates one.
      - Set it once for many tasks with C(module_defaults) and the action group
        C(group/kvmnet.bridge.netlink).
    type: str
requirements:
  - pyroute2 >= 0.7 on the target (Debian 12 C(python3-pyroute2) 0.7.2, or C(pip install pyroute2)).
'''
