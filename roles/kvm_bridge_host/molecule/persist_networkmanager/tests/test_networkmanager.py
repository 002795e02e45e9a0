"""persist_networkmanager: after the boot replay, the files NetworkManager reads and what it made of them."""

import json
import time

import pytest

testinfra_hosts = ['host']

CONNECTIONS = '/etc/NetworkManager/system-connections'
BRIDGE_FILE = CONNECTIONS + '/kvmnet-kvmbr0.nmconnection'
PORT_FILE = CONNECTIONS + '/kvmnet-kvmbr0-port-eth0.nmconnection'
CONF_FILE = '/etc/NetworkManager/conf.d/90-kvmnet-kvmbr0.conf'
OLD_PROFILE = '6d2b1c1e-7f43-4b5e-9c61-0e7d1a5b2c3d'  # "Wired eth0", made by molecule.yml's kvmnet_setup
MARKER = '# Managed by kvmnet.bridge (kvm_bridge_host): changes here are overwritten.'


def nmcli_fields(line):
    """One line of ``nmcli -t`` (``:`` separates, ``\\:`` escapes)."""
    fields, current, escaped = [], '', False
    for char in line:
        if escaped:
            current, escaped = current + char, False
        elif char == '\\':
            escaped = True
        elif char == ':':
            fields, current = fields + [current], ''
        else:
            current += char
    return fields + [current]


def profiles(host):
    out = host.check_output('nmcli -t -f NAME,UUID,TYPE,AUTOCONNECT,DEVICE,FILENAME connection show')
    return [dict(zip(('name', 'uuid', 'type', 'autoconnect', 'device', 'filename'), nmcli_fields(line)))
            for line in out.splitlines()]


def devices(host):
    out = host.check_output('nmcli -t -f DEVICE,STATE,CONNECTION device')
    return dict((fields[0], fields[1:]) for fields in map(nmcli_fields, out.splitlines()))


def link(host, name):
    return json.loads(host.check_output('ip -j -d link show dev %s' % name))[0]


@pytest.mark.parametrize('path, mode', [(BRIDGE_FILE, 0o600), (PORT_FILE, 0o600), (CONF_FILE, 0o644)])
def test_files_are_root_owned_with_their_mode_and_marked(host, path, mode):
    f = host.file(path)
    assert f.is_file
    assert (f.user, f.group, f.mode) == ('root', 'root', mode), \
        'keyfiles 0600 (NetworkManager refuses others-readable ones), the conf.d file 0644'
    assert f.content_string.splitlines()[0] == MARKER


def test_networkmanager_runs_our_profiles_from_our_files(host):
    by_file = dict((p['filename'], p) for p in profiles(host))
    assert by_file[BRIDGE_FILE]['device'] == 'kvmbr0'
    assert by_file[PORT_FILE]['device'] == 'eth0'
    assert devices(host)['kvmbr0'][0] == 'connected', 'NetworkManager itself activated kvmbr0 (not "externally")'
    assert devices(host)['eth0'] == ['connected', 'kvmbr0-port-eth0']


def test_the_old_profile_is_kept_with_autoconnect_off(host):
    old = [p for p in profiles(host) if p['uuid'] == OLD_PROFILE]
    assert old, 'the old profile of eth0 must be kept (only its autoconnect is turned off)'
    assert old[0]['autoconnect'] == 'no'
    assert old[0]['device'] == ''
    assert host.check_output("nmcli -g ipv4.method connection show %s" % OLD_PROFILE) == 'disabled', \
        'the rest of the old profile is as its owner made it'


def test_no_profile_was_invented_for_eth0(host):
    names = sorted(p['name'] for p in profiles(host) if p['type'] == '802-3-ethernet')
    assert names == ['Wired eth0', 'kvmbr0-port-eth0'], 'no "Wired connection 1" on the uplink: %s' % names
    config = host.check_output('NetworkManager --print-config')
    assert any(line.startswith('no-auto-default=') and 'interface-name:eth0' in line
               for line in config.splitlines()), 'our conf.d file puts eth0 into no-auto-default'


@pytest.fixture(params=['vnet0', 'tap0'])
def guest_tap(host, request):
    name = request.param
    assert host.run_test('ip tuntap add dev %s mode tap' % name)
    try:
        assert host.run_test('ip link set %s master kvmbr0 up' % name)
        yield name
    finally:
        host.run('ip link del %s' % name)


def test_guest_taps_stay_in_the_bridge_and_unmanaged(host, guest_tap):
    time.sleep(3)  # NetworkManager reacts to a new device within milliseconds; give it time to (not) act
    assert link(host, guest_tap).get('master') == 'kvmbr0', '%s was taken out of the bridge' % guest_tap
    assert devices(host)[guest_tap][0] == 'unmanaged'
    assert json.loads(host.check_output('ip -j addr show dev %s' % guest_tap))[0]['addr_info'] == []


def test_no_address_on_bridge_or_port_not_even_ipv4ll(host):
    for name in ('kvmbr0', 'eth0'):
        addrs = json.loads(host.check_output('ip -j addr show dev %s' % name))[0]['addr_info']
        assert addrs == [], '%s carries %s (addressing none: no DHCP, no 169.254, no SLAAC)' % (name, addrs)


def test_the_bridge_has_the_pinned_mac_and_the_port(host):
    assert link(host, 'kvmbr0')['address'] == '52:54:00:4e:4d:01'
    assert link(host, 'eth0').get('master') == 'kvmbr0'
