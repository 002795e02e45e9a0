"""persist_networkd: after the boot replays, the files networkd reads and what networkd made of them."""

import json

import pytest

testinfra_hosts = ['host']

DIR = '/etc/systemd/network'
OURS = ['05-kvmnet-kvmbr0-port-eth0.network', '05-kvmnet-kvmbr0-taps.network', '05-kvmnet-kvmbr0.netdev',
        '05-kvmnet-kvmbr0.network']
MARKER = '# Managed by kvmnet.bridge (kvm_bridge_host): changes here are overwritten.'
LOG = '/run/kvmnet-networkd.log'


@pytest.mark.parametrize('name', OURS)
def test_files_are_root_owned_0644_and_marked(host, name):
    f = host.file('%s/%s' % (DIR, name))
    assert f.is_file
    # networkd reads them as the systemd-network user: 0600 would hide them from it; none holds a secret
    assert (f.user, f.group, f.mode) == ('root', 'root', 0o644)
    assert f.content_string.splitlines()[0] == MARKER


def test_only_our_files_were_added_and_the_install_file_is_untouched(host):
    assert sorted(host.check_output('ls %s' % DIR).split()) == sorted(OURS + ['50-wired.network'])
    assert host.file(DIR + '/50-wired.network').content_string == '[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n'


def test_the_port_file_matches_only_the_uplink(host):
    text = host.file('%s/05-kvmnet-kvmbr0-port-eth0.network' % DIR).content_string
    match = text.split('[Match]\n', 1)[1].split('\n\n', 1)[0].splitlines()
    assert match == ['Name=eth0']
    assert 'Bridge=kvmbr0' in text and 'DHCP=no' in text and 'LinkLocalAddressing=no' in text


def test_the_netdev_carries_the_replayed_values(host):
    text = host.file('%s/05-kvmnet-kvmbr0.netdev' % DIR).content_string
    for line in ('MACAddress=52:54:00:4e:44:01', 'STP=no', 'ForwardDelaySec=0', 'Priority=4096', 'HelloTimeSec=3',
                 'MaxAgeSec=12', 'AgeingTimeSec=120'):
        assert line in text.splitlines(), line


def test_networkd_logged_no_parse_problem_in_this_boot(host):
    log = host.file(LOG).content_string
    assert 'Configuring with %s/05-kvmnet-kvmbr0-port-eth0.network' % DIR in log  # the log is this boot's
    assert 'ignoring' not in log.lower() and 'Failed' not in log, log


@pytest.mark.parametrize('link, state, network_file', [
    ('kvmbr0', 'carrier (configured)', '05-kvmnet-kvmbr0.network'),
    ('eth0', 'enslaved (configured)', '05-kvmnet-kvmbr0-port-eth0.network'),
])
def test_networkctl_status_reports_our_files_configured(host, link, state, network_file):
    status = host.check_output('networkctl --no-pager status %s' % link)
    fields = dict(line.strip().split(': ', 1) for line in status.splitlines() if ': ' in line)
    assert fields['State'] == state, status
    assert fields['Network File'] == '%s/%s' % (DIR, network_file), status


def test_port_and_bridge_carry_no_address_at_all(host):
    # addressing none: no DHCP, no IPv4LL, and networkd's LinkLocalAddressing=no removes even the IPv6 link-local
    for link in ('eth0', 'kvmbr0'):
        addresses = json.loads(host.check_output('ip -j addr show dev %s' % link))[0]['addr_info']
        assert addresses == [], (link, addresses)


@pytest.fixture
def catch_all_and_a_tap(host):
    """A catch-all .network for vnet* (as a host may have), and a guest NIC's host side vnet9."""
    host.check_output("printf '[Match]\\nName=vnet*\\n\\n[Network]\\nDHCP=yes\\n' >%s/60-catchall.network"
                      ' && networkctl reload && ip link add vnet9 type veth peer name kvmnet-peer9'
                      ' && ip link set kvmnet-peer9 up && ip link set vnet9 up master kvmbr0' % DIR)
    yield 'vnet9'
    host.run('ip link del vnet9; rm -f %s/60-catchall.network; networkctl reload' % DIR)


def test_guest_taps_stay_unmanaged_despite_a_catch_all(host, catch_all_and_a_tap):
    host.check_output('/lib/systemd/systemd-networkd-wait-online --timeout=5 -i kvmbr0:carrier -i eth0:enslaved')
    status = host.check_output('networkctl --no-pager status %s' % catch_all_and_a_tap)
    fields = dict(line.strip().split(': ', 1) for line in status.splitlines() if ': ' in line)
    assert fields['State'].endswith('(unmanaged)'), status
    link = json.loads(host.check_output('ip -j link show dev %s' % catch_all_and_a_tap))[0]
    assert link.get('master') == 'kvmbr0'  # networkd did not take the tap out of the bridge
