"""wifi_laptop: step 2 of the scenario on the real wireless-only laptop VM, read inside the guest over SSH.

kvmbr0 exists with eth0 as its only port, eth0 carries no IP configuration, NetworkManager runs the role's profiles
from its keyfiles (persisted), and the Wi-Fi station keeps its association and the default route.
"""

import json

testinfra_hosts = ['wifi-laptop']

CONNECTIONS = '/etc/NetworkManager/system-connections'
BRIDGE_FILE = CONNECTIONS + '/kvmnet-kvmbr0.nmconnection'
PORT_FILE = CONNECTIONS + '/kvmnet-kvmbr0-port-eth0.nmconnection'
AP_ADDR = '192.168.77.1'  # tests/wifi_vm/lib.sh WIFI_VM_AP_ADDR


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


def test_networkmanager_persisted_the_bridge_and_its_port(host):
    for path in (BRIDGE_FILE, PORT_FILE):
        f = host.file(path)
        assert f.is_file, path
        assert (f.user, f.mode) == ('root', 0o600), path
    files = host.check_output('nmcli -t -f DEVICE,FILENAME connection show --active').splitlines()
    assert 'kvmbr0:' + BRIDGE_FILE.replace(':', '\\:') in files
    assert 'eth0:' + PORT_FILE.replace(':', '\\:') in files


def test_wifi_keeps_its_association_and_the_default_route(host):
    assert 'SSID: kvmnet-laptop' in host.check_output('iw dev wlan0 link')
    routes = ip_json(host, 'route', 'show', 'default')
    assert [(r['dev'], r.get('gateway')) for r in routes] == [('wlan0', AP_ADDR)], routes
