"""migrate_check: after the dry runs (converge and idempotence in check mode) nothing changed on the host."""

import json

testinfra_hosts = ['host']


def test_eth0_keeps_its_address_and_route(host):
    addresses = json.loads(host.check_output('ip -j addr show dev eth0 scope global'))
    assert [i['local'] for i in addresses[0]['addr_info'] if 'local' in i] == ['192.0.2.10']
    routes = json.loads(host.check_output('ip -j route show default'))
    assert [r['dev'] for r in routes] == ['eth0']
    assert host.run('ip link show dev kvmbr0').rc != 0


def test_no_checkpoint_was_armed(host):
    assert host.run('ls -A /run/kvmnet-checkpoint /var/log/kvmnet-checkpoint 2>/dev/null').stdout.strip() == ''
