# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the network state of namespace NS as JSON, read with iproute2 (`ip -j -d`), independently of the
collection's netlink code: links (kind, master, admin up, MAC, MTU, bridge and port attributes), global
addresses, and the configured routes of every table but local (not the kernel's own connected routes).

    netstate.py NS
"""

import json
import subprocess
import sys

BRIDGE_KEYS = ('forward_delay', 'hello_time', 'max_age', 'ageing_time', 'stp_state', 'priority', 'vlan_filtering',
               'group_fwd_mask', 'mcast_snooping')
PORT_KEYS = ('priority', 'cost', 'hairpin', 'guard', 'root_block', 'learning', 'flood', 'mcast_flood', 'isolated',
             'neigh_suppress')


def ip(netns, *args):
    return json.loads(subprocess.check_output(['ip', '-n', netns, '-j'] + list(args)) or b'[]')


def main(netns):
    links = {}
    for link in ip(netns, '-d', 'link', 'show'):
        info = link.get('linkinfo') or {}
        entry = dict(kind=info.get('info_kind'), master=link.get('master'), up='UP' in link.get('flags', []),
                     mac=link.get('address'), mtu=link.get('mtu'))
        if info.get('info_kind') == 'bridge':
            entry['bridge'] = dict((key, info.get('info_data', {}).get(key)) for key in BRIDGE_KEYS)
        if info.get('info_slave_kind') == 'bridge':
            entry['port'] = dict((key, info.get('info_slave_data', {}).get(key)) for key in PORT_KEYS)
        links[link['ifname']] = entry
    addresses = {}
    for link in ip(netns, 'address', 'show', 'scope', 'global'):
        found = sorted('%s/%s' % (item['local'], item['prefixlen']) for item in link.get('addr_info', [])
                       if 'local' in item)
        if found:
            addresses[link['ifname']] = found
    routes = []
    for family in ('-4', '-6'):
        for route in ip(netns, family, 'route', 'show', 'table', 'all'):
            if route.get('protocol') == 'kernel' or route.get('table') == 'local' or route.get('type') == 'multicast':
                continue
            routes.append(' '.join('%s=%s' % (key, route[key]) for key in sorted(route) if key != 'flags'))
    print(json.dumps(dict(links=links, addresses=addresses, routes=sorted(routes)), sort_keys=True))


if __name__ == '__main__':
    main(sys.argv[1])
