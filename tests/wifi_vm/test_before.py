"""The "Before" state of the wireless-only laptop (issue 12, step 1), read inside the VM over SSH (testinfra).

    pytest --hosts=ssh://wifi-laptop --ssh-config=STATE_DIR/ssh_config tests/wifi_vm/test_before.py

Run by the wifi_laptop scenarios' prepare step (roles/kvm_bridge_host/molecule/wifi_laptop/prepare.yml), before the
role ever runs. Environment: KVMNET_WIFI_VM_VARIANT (networkmanager or networkd: the stack that owns wlan0, see
tests/wifi_vm/image.sh), WIFI_VM_SSID, WIFI_VM_AP_ADDR, WIFI_VM_ETH0_MAC, WIFI_VM_MGMT_IF, WIFI_VM_MGMT_ADDR,
WIFI_VM_AP_NETNS (tests/wifi_vm/lib.sh), KVMNET_WIFI_VM_TIMINGS (a file the Wi-Fi timings, read from the guest's
journal, are appended to).
"""

import ipaddress
import json
import os
import re
import time

import pytest

ENV = os.environ
VARIANT = ENV.get('KVMNET_WIFI_VM_VARIANT', 'networkmanager')
NM = VARIANT == 'networkmanager'

WIFI_TIMEOUT = 180  # seconds after SSH answers for the stack to bring wlan0 up (TCG on shared cores)


def stack_state(host, ifname):
    """What the variant's stack says of IFNAME: NetworkManager's device state ("100 (connected)", "30
    (disconnected)", "10 (unmanaged)") or networkd's "OPERATIONAL (SETUP)" ("routable (configured)", "off
    (unmanaged)")."""
    if NM:
        return host.run(f'nmcli -g GENERAL.STATE device show {ifname}').stdout.strip()
    status = host.run(f'networkctl --no-pager status {ifname}').stdout
    return dict(line.strip().split(': ', 1) for line in status.splitlines() if ': ' in line).get('State', '')


@pytest.fixture(scope='module', autouse=True)
def wifi_up(host):
    """The "Before" state is the settled one: wait until the stack reports wlan0 up with its address."""
    want = '100 (connected)' if NM else 'routable (configured)'
    deadline = time.monotonic() + WIFI_TIMEOUT
    while True:
        state = stack_state(host, 'wlan0')
        if state == want:
            return
        if time.monotonic() > deadline:
            pytest.fail(f'wlan0 not {want} {WIFI_TIMEOUT}s after SSH answered ({VARIANT} says {state!r})')
        time.sleep(1)


def ip_json(host, *args):
    return json.loads(host.check_output('ip -j ' + ' '.join(args)) or '[]')


def sysfs(host, path):
    return host.file(path).content_string.strip()


def test_wlan0_is_a_wifi_station_associated_with_the_ssid(host):
    assert host.file('/sys/class/net/wlan0/phy80211').exists
    assert 'DEVTYPE=wlan' in sysfs(host, '/sys/class/net/wlan0/uevent').splitlines()
    info = host.check_output('iw dev wlan0 info')
    assert re.search(r'^\s*type managed$', info, re.M), info
    link = host.check_output('iw dev wlan0 link')
    assert link.startswith('Connected to '), link
    ssid = re.search(r'^\s*SSID: (.*)$', link, re.M)
    assert ssid and ssid.group(1) == ENV['WIFI_VM_SSID'], link


def test_the_default_route_is_wlan0_via_the_access_point(host):
    routes = ip_json(host, 'route', 'show', 'default')
    assert [(r['dev'], r.get('gateway')) for r in routes] == [('wlan0', ENV['WIFI_VM_AP_ADDR'])], routes
    assert ip_json(host, '-6', 'route', 'show', 'default') == []


def test_wlan0_address_is_a_lease_of_the_access_point(host):
    addrs = [a for a in ip_json(host, 'addr', 'show', 'dev', 'wlan0')[0]['addr_info'] if a['family'] == 'inet']
    assert len(addrs) == 1, addrs
    net = ipaddress.ip_network(f"{ENV['WIFI_VM_AP_ADDR']}/24", strict=False)
    assert ipaddress.ip_address(addrs[0]['local']) in net
    mac = sysfs(host, '/sys/class/net/wlan0/address')
    # the AP side's dnsmasq (netns ap) handed it out: its lease file names wlan0's MAC and this address
    leases = host.check_output('cat /run/kvmnet-laptop/ap.leases').splitlines()
    assert any(line.split()[1:3] == [mac, addrs[0]['local']] for line in leases), leases
    assert host.run(f"ip netns exec {ENV['WIFI_VM_AP_NETNS']} iw dev wlan1 info").rc == 0


def test_eth0_has_no_ip_configuration(host):
    assert sysfs(host, '/sys/class/net/eth0/address') == ENV['WIFI_VM_ETH0_MAC']
    link = ip_json(host, 'addr', 'show', 'dev', 'eth0')[0]
    assert 'master' not in link
    assert [a for a in link['addr_info'] if a['family'] == 'inet' or a.get('scope') == 'global'] == []
    if NM:
        # NetworkManager sets every device it manages up, so eth0 has carrier; no profile: disconnected
        assert sysfs(host, '/sys/class/net/eth0/carrier') == '1'
        assert stack_state(host, 'eth0') == '30 (disconnected)'
    else:
        # networkd brings up only the links a .network file matches: eth0 stays down (no carrier to read)
        assert 'UP' not in link['flags'], link
        assert stack_state(host, 'eth0') == 'off (unmanaged)'


def test_no_bridge_exists(host):
    links = ip_json(host, '-d', 'link', 'show')
    assert [link['ifname'] for link in links if link.get('linkinfo', {}).get('info_kind') == 'bridge'] == []
    assert host.run('ls -d /sys/class/net/*/bridge').rc != 0


def test_management_nic_has_no_gateway(host):
    ifname = ENV['WIFI_VM_MGMT_IF']
    addrs = [a['local'] for a in ip_json(host, 'addr', 'show', 'dev', ifname)[0]['addr_info']]
    assert ENV['WIFI_VM_MGMT_ADDR'] in addrs
    assert [r for r in ip_json(host, 'route', 'show', 'dev', ifname) if 'gateway' in r] == []
    assert stack_state(host, ifname) in ('10 (unmanaged)', 'off (unmanaged)', 'routable (unmanaged)')


# the stack's own journal lines, in order: activation start, association, DHCP lease
WIFI_STEPS = {
    'networkmanager': (
        ('activation', "device (wlan0): Activation: starting connection 'kvmnet-wifi'"),
        ('associated', 'device (wlan0): Activation: (wifi) Stage 2 of 5 (Device Configure) successful.'),
        ('lease', 'dhcp4 (wlan0): state changed new lease'),
    ),
    'networkd': (
        ('activation', 'wlan0: SME: Trying to authenticate with'),
        ('associated', 'wlan0: CTRL-EVENT-CONNECTED'),
        ('lease', 'wlan0: DHCPv4 address'),
    ),
}[VARIANT]
JOURNAL_UNITS = {'networkmanager': '-u NetworkManager',
                 'networkd': '-u wpa_supplicant@wlan0 -u systemd-networkd'}[VARIANT]


def test_wifi_timings(host):
    lines = host.check_output(f'journalctl -b {JOURNAL_UNITS} -o json --output-fields=MESSAGE').splitlines()
    seen = {}
    for entry in map(json.loads, lines):
        for name, needle in WIFI_STEPS:
            if name not in seen and needle in str(entry.get('MESSAGE', '')):
                seen[name] = int(entry['__MONOTONIC_TIMESTAMP']) / 1e6
    missing = [name for name, _needle in WIFI_STEPS if name not in seen]
    if missing:
        pytest.fail(f'no {VARIANT} journal line for {missing} (looked for {WIFI_STEPS})')
    assert seen['activation'] <= seen['associated'] <= seen['lease']
    path = ENV.get('KVMNET_WIFI_VM_TIMINGS')
    if path:
        with open(path, 'a', encoding='utf-8') as out:
            out.write(f"wifi_activation_at {seen['activation']:.1f}\n")
            out.write(f"wifi_associated_after {seen['associated'] - seen['activation']:.1f}\n")
            out.write(f"wifi_lease_after {seen['lease'] - seen['activation']:.1f}\n")
            out.write(f"wifi_lease_at {seen['lease']:.1f}\n")
