# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print every link of namespace argv[1] as `ip -j -d link` sees it, as JSON, cut down to what a kvm_guest_nic
tap task may change (name, MAC, MTU, master, flags, kind, kind data), without the bridges' running timers and
carrier (a bridge's carrier follows its ports' a moment later, through the kernel's delayed link watch: when the
test's holder process attaches or lets go, not the module's doing)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import subprocess
import sys

VOLATILE = ('hello_timer', 'tcn_timer', 'topology_change_timer', 'gc_timer')
CARRIER_FLAGS = ('LOWER_UP', 'NO-CARRIER')

links = json.loads(subprocess.check_output(['ip', '-n', sys.argv[1], '-j', '-d', 'link', 'show']))
result = {}
for link in links:
    info = link.get('linkinfo', {})
    data = dict((key, value) for key, value in info.get('info_data', {}).items() if key not in VOLATILE)
    flags = sorted(link.get('flags', []))
    if info.get('info_kind') == 'bridge':
        flags = [flag for flag in flags if flag not in CARRIER_FLAGS]
    result[link['ifname']] = dict(address=link.get('address'), mtu=link.get('mtu'), master=link.get('master'),
                                  flags=flags, kind=info.get('info_kind'), data=data)
print(json.dumps(result, sort_keys=True))
