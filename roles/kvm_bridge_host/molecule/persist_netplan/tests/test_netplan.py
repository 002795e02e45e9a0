"""persist_netplan: after the boot replays and the no-flap change run (bridge priority 2048, port cost 41), the file
netplan reads and what netplan and networkd made of it."""

import json

testinfra_hosts = ['host']

OURS = '/etc/netplan/60-kvmnet-kvmbr0.yaml'
MARKER = '# Managed by kvmnet.bridge (kvm_bridge_host): changes here are overwritten.'


def test_the_yaml_is_root_owned_0600_and_marked(host):
    f = host.file(OURS)
    assert f.is_file
    assert (f.user, f.group, f.mode) == ('root', 'root', 0o600), 'netplan warns about files others can read'
    assert f.content_string.splitlines()[0] == MARKER


def test_the_yaml_is_the_only_kvmnet_file_and_cloud_init_is_untouched(host):
    assert host.check_output('ls /etc/netplan').split() == ['50-cloud-init.yaml', '60-kvmnet-kvmbr0.yaml']
    assert 'dhcp4: true' in host.file('/etc/netplan/50-cloud-init.yaml').content_string


def test_netplan_get_shows_the_merged_port_without_dhcp(host):
    # netplan's own merge of both files: our later file overrides cloud-init's dhcp4 on eth0
    assert host.check_output('netplan get ethernets.eth0.dhcp4') == 'false'
    assert host.check_output('netplan get bridges.kvmbr0.interfaces') == '- eth0'
    assert host.check_output('netplan get bridges.kvmbr0.parameters.priority') == '2048'


def test_netplan_generate_accepts_it_without_a_warning(host):
    out = host.run('netplan generate')
    assert out.rc == 0 and out.stderr.strip() == '', out.stderr


def test_rendered_networkd_files(host):
    files = host.check_output('ls /run/systemd/network').split()
    assert files == ['10-netplan-eth0.network', '10-netplan-kvmbr0.netdev', '10-netplan-kvmbr0.network']
    port = host.file('/run/systemd/network/10-netplan-eth0.network').content_string
    assert 'Bridge=kvmbr0' in port and 'DHCP' not in port and 'LinkLocalAddressing=no' in port
    assert 'Cost=41' in port, 'the port cost of the last change run'
    netdev = host.file('/run/systemd/network/10-netplan-kvmbr0.netdev').content_string
    assert 'MACAddress=52:54:00:4e:50:01' in netdev and 'STP=false' in netdev and 'Priority=2048' in netdev


def test_networkd_manages_both_links_and_logged_no_parse_problem(host):
    links = {line.split()[1]: line.split()[3:] for line in
             host.check_output('networkctl --no-pager --no-legend list').splitlines()}
    assert links['kvmbr0'][-1] == 'configured' and links['eth0'] == ['enslaved', 'configured']
    log = host.file('/run/kvmnet-networkd.log').content_string
    assert 'ignoring' not in log and 'Failed to' not in log, log


def test_the_port_has_no_address_at_all(host):
    addrs = json.loads(host.check_output('ip -j addr show dev eth0'))[0]['addr_info']
    assert addrs == [], 'eth0 (a bridge port) carries %s' % addrs
    bridge = json.loads(host.check_output('ip -j addr show dev kvmbr0'))[0]['addr_info']
    assert bridge == [], 'addressing none: kvmbr0 carries %s' % bridge
