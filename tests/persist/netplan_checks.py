"""Testinfra checks common to the netplan scenarios (roles/kvm_bridge_host/molecule/persist_netplan*/tests/): a
scenario's test file imports the ones it wants (pytest collects imported test functions) and adds its renderer's
own. tests/persist/netplan_verify.yml puts this directory on the tests' path. The no-flap change run sets the last
values: bridge priority 2048 (and, where the scenario sets it, port cost 41)."""

import json

OURS = '/etc/netplan/60-kvmnet-kvmbr0.yaml'
MARKER = '# Managed by kvmnet.bridge (kvm_bridge_host): changes here are overwritten.'
LAST_PRIORITY = '2048'


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
    assert host.check_output('netplan get bridges.kvmbr0.parameters.priority') == LAST_PRIORITY


def test_netplan_generate_accepts_it_without_a_warning(host):
    out = host.run('netplan generate')
    assert out.rc == 0 and out.stderr.strip() == '', out.stderr


def test_the_port_has_no_address_at_all(host):
    addrs = json.loads(host.check_output('ip -j addr show dev eth0'))[0]['addr_info']
    assert addrs == [], 'eth0 (a bridge port) carries %s' % addrs
    bridge = json.loads(host.check_output('ip -j addr show dev kvmbr0'))[0]['addr_info']
    assert bridge == [], 'addressing none: kvmbr0 carries %s' % bridge
