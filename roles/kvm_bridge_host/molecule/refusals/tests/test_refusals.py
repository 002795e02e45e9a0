"""refusals: after every refused case (converge and its idempotence re-run) nothing of the role is on the host."""

import json

testinfra_hosts = ['host']


def test_no_bridge_was_created(host):
    names = [link['ifname'] for link in json.loads(host.check_output('ip -j link show'))]
    assert 'kvmbr0' not in names


def test_the_management_nic_kept_its_address_and_route(host):
    eth0 = json.loads(host.check_output('ip -j addr show dev eth0'))[0]
    assert eth0.get('master') is None
    assert [a['local'] for a in eth0['addr_info'] if a.get('scope') == 'global'] == ['192.0.2.10']
    routes = json.loads(host.check_output('ip -j route show default'))
    assert [(r['dev'], r.get('gateway')) for r in routes] == [('eth0', '192.0.2.1')]


def test_the_other_bridge_kept_its_port(host):
    eth1 = json.loads(host.check_output('ip -j link show dev eth1'))[0]
    assert eth1.get('master') == 'br-other'
