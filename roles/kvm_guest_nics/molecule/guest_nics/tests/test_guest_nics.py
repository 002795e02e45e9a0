"""guest_nics: the running guest has its NIC on kvmbr0 (libvirt, kernel) and takes a lease across the bridge."""

import json
import os
import re
import time

testinfra_hosts = ['host']

MAC = '52:54:00:4b:00:01'
LAB = os.path.join(os.environ.get('MOLECULE_EPHEMERAL_DIRECTORY', ''), 'lab')
ROUTER = os.path.join(os.environ.get('KVMNET_ROOT', ''), 'tests/lab/router.sh')


def tap_of(host):
    """The guest NIC's tap from libvirt's live XML (virsh domiflist: Interface Type Source Model MAC)."""
    rows = [line.split() for line in host.check_output('virsh -q domiflist guest1').splitlines()]
    assert [row[1:] for row in rows] == [['bridge', 'kvmbr0', 'virtio', MAC]], rows
    return rows[0][0]


def test_libvirt_has_the_nic_on_kvmbr0(host):
    assert tap_of(host).startswith('vnet')
    assert host.check_output('virsh -q domstate guest1') == 'running'


def test_the_tap_is_a_port_of_kvmbr0(host):
    tap = json.loads(host.check_output('ip -j link show dev %s' % tap_of(host)))[0]
    assert tap.get('master') == 'kvmbr0'
    # libvirt gives the tap the guest MAC with fe: in front, so the bridge never takes it as its own
    assert tap['address'] == 'fe' + MAC[2:]
    ports = json.loads(host.check_output('ip -j link show master kvmbr0'))
    assert sorted(port['ifname'] for port in ports) == sorted(['eth0', tap['ifname']])


def test_the_libvirt_network_offers_kvmbr0(host):
    xml = host.check_output('virsh -q net-dumpxml kvmbr0')
    assert "<forward mode='bridge'/>" in xml
    assert "<bridge name='kvmbr0'/>" in xml
    assert host.check_output('virsh -q net-info kvmbr0 | sed -n "s/^Active: *//p"') == 'yes'


def test_the_guest_takes_a_lease_across_kvmbr0(host, figures):
    start = time.monotonic()
    lease = ''
    while time.monotonic() - start < 60:
        out = host.run('KVMNET_NETNS="$(ip netns identify)" %s lease %s/router %s' % (ROUTER, LAB, MAC))
        if out.rc == 0:
            lease = out.stdout.strip()
            break
        time.sleep(0.5)
    assert lease.startswith('192.0.2.'), 'no DHCP lease for %s after 60 s' % MAC
    with open(os.path.join(LAB, 'guest1.console'), encoding='utf-8', errors='replace') as console:
        leases = re.findall(r'LEASE eth0 (\S+) (\S+) (\S+)', console.read())
    assert (lease, '192.0.2.1', MAC) in leases, leases
    figures('guest_nics: guest1 (TCG) got NIC %s on kvmbr0 and leased %s from the LAN router' % (MAC, lease))
