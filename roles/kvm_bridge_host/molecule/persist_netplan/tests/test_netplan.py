"""persist_netplan (renderer networkd): after the boot replays and the no-flap change run (bridge priority 2048, port
cost 41), the file netplan reads and what netplan and networkd made of it."""

import netplan_checks

testinfra_hosts = ['host']

# the checks common to the netplan scenarios (tests/persist/netplan_checks.py), collected here by their names
test_netplan_generate_accepts_it_without_a_warning = netplan_checks.test_netplan_generate_accepts_it_without_a_warning
test_netplan_get_shows_the_merged_port_without_dhcp = netplan_checks.test_netplan_get_shows_the_merged_port_without_dhcp
test_the_port_has_no_address_at_all = netplan_checks.test_the_port_has_no_address_at_all
test_the_yaml_is_root_owned_0600_and_marked = netplan_checks.test_the_yaml_is_root_owned_0600_and_marked
test_the_yaml_is_the_only_kvmnet_file_and_cloud_init_is_untouched = (
    netplan_checks.test_the_yaml_is_the_only_kvmnet_file_and_cloud_init_is_untouched)


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
