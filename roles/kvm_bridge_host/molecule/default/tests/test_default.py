"""default: eth0 is bridged into kvmbr0 without any IP, the host keeps its wireless-stand-in default route."""

import json

import pytest

testinfra_hosts = ['host']


def ip_json(host, *args):
    return json.loads(host.check_output('ip -j %s' % ' '.join(args)) or '[]')


def link(host, name):
    found = ip_json(host, '-d', 'link', 'show', 'dev', name)
    assert found, '%s does not exist' % name
    return found[0]


def global_addresses(host, name):
    return [a['local'] for a in ip_json(host, 'addr', 'show', 'dev', name)[0]['addr_info']
            if a.get('scope') == 'global']


def test_kvmbr0_is_a_vm_host_bridge(host):
    bridge = link(host, 'kvmbr0')
    assert bridge['linkinfo']['info_kind'] == 'bridge'
    data = bridge['linkinfo']['info_data']
    assert data['stp_state'] == 0
    assert data['forward_delay'] == 0
    assert 'UP' in bridge['flags']


def test_eth0_is_the_port_and_carries_no_ip(host):
    eth0 = link(host, 'eth0')
    assert eth0.get('master') == 'kvmbr0'
    assert eth0['linkinfo'].get('info_slave_kind') == 'bridge'
    assert 'LOWER_UP' in eth0['flags'], 'eth0 has no carrier'
    assert global_addresses(host, 'eth0') == []
    assert global_addresses(host, 'kvmbr0') == [], 'addressing none: kvmbr0 is pure layer 2'


def test_bridge_mac_is_pinned_to_the_uplink(host):
    # a veth has no permanent MAC: the role pins the uplink's MAC, so a guest port with a lower MAC cannot change it
    assert link(host, 'kvmbr0')['address'] == link(host, 'eth0')['address']


def test_host_keeps_its_wireless_connection(host):
    routes = ip_json(host, 'route', 'show', 'default')
    assert [(r['dev'], r.get('gateway')) for r in routes] == [('wlan0', '198.51.100.1')]
    assert global_addresses(host, 'wlan0') == ['198.51.100.10']
    assert link(host, 'wlan0').get('master') is None
    assert host.run_test('ping -c 1 -W 2 198.51.100.1')


@pytest.fixture
def guest_port(host):
    host.run_test('ip link set vnet0 master kvmbr0')
    yield 'vnet0'
    host.run_test('ip link set vnet0 nomaster')


def test_a_guest_on_kvmbr0_reaches_the_lan(guest_port, host, machine):
    guest = machine('guest')
    assert link(host, guest_port).get('master') == 'kvmbr0'
    assert guest.run_test('ping -c 3 -i 0.2 -W 2 192.0.2.1')
    # the guest's frames crossed kvmbr0 at layer 2: the router learnt the guest's own MAC
    guest_mac = json.loads(guest.check_output('ip -j link show dev eth0'))[0]['address']
    neighbours = json.loads(machine('router').check_output('ip -j neigh show dev lan0 192.0.2.50'))
    assert [n.get('lladdr') for n in neighbours] == [guest_mac]
