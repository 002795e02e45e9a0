"""persist_ifupdown: the stanza file (mode, owner, marker), the main file still sourcing interfaces.d with the old
uplink stanza disabled, ifupdown's own view (ifquery), and a fresh `ifup -a` leaving the port without IPv4.
Runs after persist_verify.yml rebooted the host, so everything here is the replayed machine."""

import json

testinfra_hosts = ['host']
STANZA = '/etc/network/interfaces.d/kvmnet-kvmbr0'
MARKER = '# Managed by kvmnet.bridge (kvm_bridge_host): changes here are overwritten.'


def test_the_stanza_file_is_root_owned_0644_and_marked(host):
    stanza = host.file(STANZA)
    assert stanza.is_file
    assert (stanza.user, stanza.group, stanza.mode) == ('root', 'root', 0o644)
    assert stanza.content_string.splitlines()[0] == MARKER


def test_the_main_file_still_sources_interfaces_d_and_the_old_uplink_stanza_is_disabled(host):
    lines = host.file('/etc/network/interfaces').content_string.splitlines()
    assert 'source /etc/network/interfaces.d/*' in lines
    active = [line for line in lines if line.strip() and not line.lstrip().startswith('#')]
    assert not [line for line in active if 'eth0' in line.split()], 'an active eth0 line is left: %s' % active
    assert '# disabled by kvmnet.bridge (kvm_bridge_host): iface eth0 inet dhcp' in lines


def test_ifquery_shows_the_bridge_with_its_port(host):
    out = host.check_output('ifquery kvmbr0')
    assert 'bridge_ports: eth0' in out.splitlines()
    assert 'bridge_hw: 52:54:00:4b:56:01' in out.splitlines()
    assert host.check_output('ifquery --list -a').split() == ['lo', 'kvmbr0']
    assert 'kvmbr0=kvmbr0' in host.check_output('ifquery --state').split()


def test_ifup_all_again_on_the_replayed_machine_leaves_eth0_without_ipv4(host):
    before = json.loads(host.check_output('ip -j link show dev kvmbr0'))[0]['ifindex']
    host.check_output('ifup -a')  # a no-op by ifupdown's state, and must not disturb anything
    eth0 = json.loads(host.check_output('ip -j addr show dev eth0'))[0]
    assert [a for a in eth0.get('addr_info', []) if a['family'] == 'inet'] == []
    assert [a for a in eth0.get('addr_info', []) if a['family'] == 'inet6'] == [], 'addrgenmode none: no link-local'
    assert eth0.get('master') == 'kvmbr0'
    assert json.loads(host.check_output('ip -j link show dev kvmbr0'))[0]['ifindex'] == before


def test_no_router_advertisement_addresses_on_the_bridge(host):
    assert host.file('/proc/sys/net/ipv6/conf/kvmbr0/accept_ra').content_string.strip() == '0'
    assert host.file('/proc/sys/net/ipv6/conf/kvmbr0/autoconf').content_string.strip() == '0'
