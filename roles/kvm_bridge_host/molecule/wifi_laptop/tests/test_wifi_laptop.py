"""wifi_laptop: the scenario on the real wireless-only laptop VM (issue 12), read inside the guest over SSH.
KVMNET_WIFI_VM_VARIANT (the scenario's molecule.yml) names the stack that owns the laptop's Wi-Fi: networkmanager
(this scenario) or networkd (the image's second variant, step 7); the role must have detected it.

Step 2 (live, after converge, and after the side_effect's reboot): kvmbr0 exists with eth0 as its only port, eth0
carries no IP configuration, the stack runs the role's persisted configuration (NetworkManager's keyfiles, or
networkd's .netdev/.network files), and the Wi-Fi station keeps its association and the default route.
Steps 5, 4, 6 (from the records side_effect.yml wrote in MOLECULE_EPHEMERAL_DIRECTORY/records): wlan0 forced as
uplink is refused and changes nothing; the reboot keeps kvmbr0, its attributes, the Wi-Fi route, and eth0 on the
role's configuration alone (no "Wired connection"); a guest NIC on kvmbr0 leases from the LAN's router through eth0.
Step 1 (the "Before" state) ran live in prepare (tests/wifi_vm/test_before.py).
"""

import ipaddress
import json
import os
import re

testinfra_hosts = ['wifi-laptop']

VARIANT = os.environ['KVMNET_WIFI_VM_VARIANT']
NM = VARIANT == 'networkmanager'
CONNECTIONS = '/etc/NetworkManager/system-connections'
NETWORKD = '/etc/systemd/network'
# the role's files for kvmbr0 and its port eth0 (bridge_persist's names), and the image's own file for wlan0
BRIDGE_FILE, PORT_FILE = {
    'networkmanager': (CONNECTIONS + '/kvmnet-kvmbr0.nmconnection',
                       CONNECTIONS + '/kvmnet-kvmbr0-port-eth0.nmconnection'),
    'networkd': (NETWORKD + '/05-kvmnet-kvmbr0.network', NETWORKD + '/05-kvmnet-kvmbr0-port-eth0.network'),
}[VARIANT]
NETDEV_FILE = NETWORKD + '/05-kvmnet-kvmbr0.netdev'
WLAN0_FILE = CONNECTIONS + '/kvmnet-wifi.nmconnection' if NM else NETWORKD + '/40-kvmnet-wlan0.network'
AP_ADDR = '192.168.77.1'  # tests/wifi_vm/lib.sh WIFI_VM_AP_ADDR
LAN_ROUTER = '192.168.60.1'  # tests/wifi_vm/lib.sh WIFI_VM_LAN_NET .1 (tests/lab/router.sh)
RECORDS = os.path.join(os.environ.get('MOLECULE_EPHEMERAL_DIRECTORY', ''), 'records')
VOLATILE = ('valid_life_time', 'preferred_life_time', 'expires')  # counting down by themselves


def ip_json(host, *args):
    return json.loads(host.check_output('ip -j ' + ' '.join(args)) or '[]')


def test_kvmbr0_is_a_bridge_with_eth0_as_its_only_port(host):
    bridge = ip_json(host, '-d', 'link', 'show', 'dev', 'kvmbr0')[0]
    assert bridge['linkinfo']['info_kind'] == 'bridge'
    assert 'UP' in bridge['flags']
    ports = [link['ifname'] for link in ip_json(host, 'link', 'show', 'master', 'kvmbr0') if link]
    assert ports == ['eth0']


def test_eth0_has_no_ip_configuration(host):
    eth0 = ip_json(host, 'addr', 'show', 'dev', 'eth0')[0]
    assert eth0['master'] == 'kvmbr0'
    assert [a for a in eth0['addr_info'] if a['family'] == 'inet' or a.get('scope') == 'global'] == []
    assert host.file('/sys/class/net/eth0/carrier').content_string.strip() == '1'


def test_the_detected_stack_persisted_the_bridge_and_its_port(host):
    # NetworkManager keyfiles may hold secrets (0600); networkd reads its files as systemd-network (0644)
    paths, mode = ((BRIDGE_FILE, PORT_FILE), 0o600) if NM else ((NETDEV_FILE, BRIDGE_FILE, PORT_FILE), 0o644)
    for path in paths:
        f = host.file(path)
        assert f.is_file, path
        assert (f.user, f.mode) == ('root', mode), path
    if NM:
        files = host.check_output('nmcli -t -f DEVICE,FILENAME connection show --active').splitlines()
        assert 'kvmbr0:' + BRIDGE_FILE.replace(':', '\\:') in files
        assert 'eth0:' + PORT_FILE.replace(':', '\\:') in files
        assert not host.file(NETDEV_FILE).exists
    else:
        for name, path in (('kvmbr0', BRIDGE_FILE), ('eth0', PORT_FILE)):
            status = host.check_output('networkctl --no-pager status %s' % name)
            fields = dict(line.strip().split(': ', 1) for line in status.splitlines() if ': ' in line)
            assert fields['State'].endswith('(configured)') and fields['Network File'] == path, status
        assert host.run('command -v nmcli').rc != 0  # the networkd variant has no NetworkManager at all


def test_wifi_keeps_its_association_and_the_default_route(host):
    assert 'SSID: kvmnet-laptop' in host.check_output('iw dev wlan0 link')
    routes = ip_json(host, 'route', 'show', 'default')
    assert [(r['dev'], r.get('gateway')) for r in routes] == [('wlan0', AP_ADDR)], routes


def record(name):
    with open(os.path.join(RECORDS, name + '.json'), encoding='utf-8') as f:
        return json.load(f)


def stable(value):
    """VALUE without the keys that change by themselves: timers of the bridge and its ports, address lifetimes."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if not k.endswith('_timer') and k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def stack(state):
    """What the stack said in a record: NetworkManager's active connections (dicts NAME, UUID, TYPE, DEVICE,
    FILENAME; nmcli -t escapes ':') or networkd's links (dicts DEVICE, ADMIN_STATE, FILENAME)."""
    keys = ('name', 'uuid', 'type', 'device', 'filename') if NM else ('device', 'admin_state', 'filename')
    rows = (re.split(r'(?<!\\):', line) for line in state['stack'])
    return [dict(zip(keys, (field.replace('\\:', ':') for field in row))) for row in rows]


def link(state, name):
    return next(item for item in state['link'] if item['ifname'] == name)


def test_wlan0_forced_as_uplink_is_refused_in_preflight():
    failure = record('negative-failure')
    assert failure['task'].startswith('Preflight'), failure
    assert 'Interface wlan0 is a wireless (802.11) station' in failure['msg'], failure
    assert 'kvm_bridge_host_uplink' in failure['msg'], failure


def test_the_refused_run_changed_nothing():
    before, after = stable(record('negative-before')), stable(record('negative-after'))
    for key in ('link', 'addr', 'route'):
        assert after[key] == before[key], key
    assert sorted(after['stack']) == sorted(before['stack'])


def test_reboot_kept_kvmbr0_with_eth0_and_its_attributes():
    before, after = record('reboot-before'), record('reboot-after')
    assert link(after, 'eth0').get('master') == 'kvmbr0'
    assert [item['ifname'] for item in after['link'] if item.get('master') == 'kvmbr0'] == ['eth0']
    old, new = link(before, 'kvmbr0'), link(after, 'kvmbr0')
    assert new['linkinfo']['info_kind'] == 'bridge' and 'UP' in new['flags']
    assert (new['address'], new['mtu']) == (old['address'], old['mtu'])
    old_data, new_data = stable(old['linkinfo']['info_data']), stable(new['linkinfo']['info_data'])
    changed = {k: (old_data.get(k), new_data.get(k)) for k in old_data.keys() | new_data.keys()
               if old_data.get(k) != new_data.get(k)}
    assert changed == {}, changed
    assert new_data['stp_state'] == 0  # the role's default kvm_bridge_host_stp: false


def test_reboot_kept_the_wifi_default_route_and_eth0_on_the_roles_configuration_alone():
    after = record('reboot-after')
    defaults = [r for r in after['route'] if r['dst'] == 'default' and r.get('table', 'main') == 'main']
    assert [(r['dev'], r.get('gateway')) for r in defaults] == [('wlan0', AP_ADDR)], defaults
    active = stack(after)
    if NM:
        assert [c['name'] for c in active if c['name'].startswith('Wired connection')] == [], active
    else:
        assert {c['device']: c['admin_state'] for c in active}.get('eth0') == 'configured', active
    on = {c['device']: c['filename'] for c in active if c['device']}
    assert (on.get('kvmbr0'), on.get('eth0'), on.get('wlan0')) == (BRIDGE_FILE, PORT_FILE, WLAN0_FILE), on


def test_a_guest_nic_on_kvmbr0_leases_from_the_lan_router_through_eth0(figures):
    lease = record('dhcp')
    assert lease['port_master'] == 'kvmbr0', lease
    assert ipaddress.ip_address(lease['address']) in ipaddress.ip_network(LAN_ROUTER + '/24', strict=False), lease
    assert (lease['router'], lease['server'], lease['router_ping']) == (LAN_ROUTER, LAN_ROUTER, True), lease
    assert lease['lease_time'] > 0, lease
    # the router's MAC (the lease's sender) was learned by kvmbr0 on its port eth0: the lease came in through eth0
    learned = [e.get('ifname', e.get('dev')) for e in lease['bridge_fdb'] if e.get('mac') == lease['server_mac']]
    assert learned == ['eth0'], (lease['server_mac'], lease['bridge_fdb'])
    # the laptop itself still leaves through the Wi-Fi meanwhile
    assert [(r['dev'], r.get('gateway')) for r in lease['laptop_default_routes']] == [('wlan0', AP_ADDR)], lease
    assert [r['dev'] for r in lease['laptop_route_get']] == ['wlan0'], lease
    figures(f"guest NIC on kvmbr0: lease {lease['address']} from {lease['server']} after {lease['lease_s']} s "
            f"(lease time {lease['lease_time']} s)")
