"""persist_netplan_nm (renderer NetworkManager): after the boot replays and the no-flap change run (bridge priority
2048), the file netplan reads and what netplan and NetworkManager made of it."""

import netplan_checks

testinfra_hosts = ['host']

# the checks common to the netplan scenarios (tests/persist/netplan_checks.py), collected here by their names
test_netplan_generate_accepts_it_without_a_warning = netplan_checks.test_netplan_generate_accepts_it_without_a_warning
test_netplan_get_shows_the_merged_port_without_dhcp = netplan_checks.test_netplan_get_shows_the_merged_port_without_dhcp
test_the_port_has_no_address_at_all = netplan_checks.test_the_port_has_no_address_at_all
test_the_yaml_is_root_owned_0600_and_marked = netplan_checks.test_the_yaml_is_root_owned_0600_and_marked
test_the_yaml_is_the_only_kvmnet_file_and_cloud_init_is_untouched = (
    netplan_checks.test_the_yaml_is_the_only_kvmnet_file_and_cloud_init_is_untouched)

PROFILES = '/run/NetworkManager/system-connections'


def test_rendered_profiles_are_0600_and_give_the_bridge_no_ip(host):
    # NetworkManager 1.42 keeps its in-memory loopback profile there too (lo.nmconnection)
    rendered = [name for name in host.check_output('ls %s' % PROFILES).split() if name.startswith('netplan-')]
    assert rendered == ['netplan-eth0.nmconnection', 'netplan-kvmbr0.nmconnection']
    for name in ('netplan-eth0', 'netplan-kvmbr0'):
        f = host.file('%s/%s.nmconnection' % (PROFILES, name))
        assert (f.user, f.mode) == ('root', 0o600)
    bridge = host.file('%s/netplan-kvmbr0.nmconnection' % PROFILES).content_string
    assert bridge.count('method=disabled') == 2, 'ipv4 and ipv6 disabled (else NetworkManager adds 169.254)'
    assert 'priority=2048' in bridge and 'cloned-mac-address=52:54:00:4e:50:02' in bridge
    port = host.file('%s/netplan-eth0.nmconnection' % PROFILES).content_string
    assert 'master=kvmbr0' in port and 'slave-type=bridge' in port


def test_networkmanager_runs_netplans_profiles_on_both_devices(host):
    for device, profile in (('kvmbr0', 'netplan-kvmbr0'), ('eth0', 'netplan-eth0')):
        out = host.check_output('nmcli -g GENERAL.CONNECTION,GENERAL.STATE device show %s' % device).splitlines()
        assert out[0] == profile and out[1].startswith('100'), (device, out)
