"""A guest's NIC on the laptop's bridge, inside the laptop VM (issue 12, step 6): run as root in the guest.

    python3 dhcp_probe.py BRIDGE          (python3 dhcp_probe.py --lease: the client, run by the former in the netns)

Creates a veth pair: kvmnet-vm0 becomes a port of BRIDGE, its peer eth0 moves into a new network namespace
kvmnet-guest (a stand-in for a VM's NIC). There a DHCP client (DISCOVER/OFFER/REQUEST/ACK sent by UDP broadcast,
replies read from a packet socket: the NIC has no address yet) leases an address; the address is then set and the
router pinged. Meanwhile the laptop's own view is recorded: its default routes and the route to a public address.
Removes the namespace and the veth pair again, also on failure. Prints one JSON object; exit 1 if there was no lease.
The image has no DHCP client besides NetworkManager's internal one (no dhclient, no busybox).
"""

import json
import os
import socket
import struct
import subprocess
import sys
import time

NETNS = 'kvmnet-guest'
PORT = 'kvmnet-vm0'
NIC = 'eth0'
MAC = '52:54:00:6b:02:10'
MAGIC = b'\x63\x82\x53\x63'
DISCOVER, OFFER, REQUEST, ACK = 1, 2, 3, 5


def run(*argv, netns=None):
    if netns:
        argv = ('ip', 'netns', 'exec', netns) + argv
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def ip_json(*args, netns=None):
    try:
        return json.loads(run('ip', '-j', *args, netns=netns) or '[]')
    except subprocess.CalledProcessError:  # e.g. `route get` without a route: none
        return []


def packet(kind, xid, extra=b''):
    chaddr = bytes.fromhex(MAC.replace(':', ''))
    head = struct.pack('!BBBBIHHIIII', 1, 1, 6, 0, xid, 0, 0x8000, 0, 0, 0, 0)  # flags: broadcast replies
    return (head + chaddr.ljust(16, b'\0') + b'\0' * 192 + MAGIC + bytes([53, 1, kind]) + extra
            + bytes([55, 3, 1, 3, 51, 255]))


def options(data):
    found, i = {}, 0
    while i < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        found[data[i]] = data[i + 2:i + 2 + data[i + 1]]
        i += 2 + data[i + 1]
    return found


def receive(raw, xid, kind, deadline):
    """The next DHCP reply of type KIND for XID read from the packet socket, or None at DEADLINE."""
    while time.monotonic() < deadline:
        raw.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            ip, source = raw.recvfrom(4096)  # SOCK_DGRAM: the IP packet; source[4]: the sender's MAC
        except socket.timeout:
            return None
        if len(ip) < 20 or ip[9] != 17:
            continue
        udp = ip[(ip[0] & 0x0F) * 4:]
        if struct.unpack('!H', udp[2:4])[0] != 68:
            continue
        bootp = udp[8:]
        if len(bootp) < 240 or bootp[0] != 2 or struct.unpack('!I', bootp[4:8])[0] != xid or bootp[236:240] != MAGIC:
            continue
        opts = options(bootp[240:])
        if opts.get(53) == bytes([kind]):
            return {'yiaddr': socket.inet_ntoa(bootp[16:20]), 'opts': opts, 'server_mac': source[4].hex(':')}
    return None


def lease(timeout):
    """DISCOVER/OFFER/REQUEST/ACK on NIC (run inside NETNS); the ACK, or None after TIMEOUT seconds."""
    xid = int.from_bytes(os.urandom(4), 'big')
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, NIC.encode())
    udp.bind(('0.0.0.0', 68))
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    raw.bind((NIC, 0))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # the port may still be learning: DISCOVER again every 2 s
        udp.sendto(packet(DISCOVER, xid), ('255.255.255.255', 67))
        offer = receive(raw, xid, OFFER, min(deadline, time.monotonic() + 2))
        if not offer:
            continue
        udp.sendto(packet(REQUEST, xid, bytes([50, 4]) + socket.inet_aton(offer['yiaddr'])
                          + bytes([54, 4]) + offer['opts'][54]), ('255.255.255.255', 67))
        ack = receive(raw, xid, ACK, min(deadline, time.monotonic() + 2))
        if ack:
            return ack
    return None


def lease_fields():
    """--lease (inside NETNS): the lease's fields as JSON, {} if none."""
    ack = lease(60)
    if not ack:
        return {}
    opts = ack['opts']
    return {'address': ack['yiaddr'], 'server_mac': ack['server_mac'],
            'prefix': bin(int.from_bytes(opts.get(1, b'\xff\xff\xff\0'), 'big')).count('1'),
            'router': socket.inet_ntoa(opts[3][:4]) if 3 in opts else None,
            'server': socket.inet_ntoa(opts[54]), 'lease_time': int.from_bytes(opts.get(51, b''), 'big')}


def main():
    if sys.argv[1] == '--lease':
        print(json.dumps(lease_fields()))
        return 0
    bridge = sys.argv[1]
    result = {'bridge': bridge, 'port': PORT, 'netns': NETNS}
    try:
        run('ip', 'netns', 'add', NETNS)
        run('ip', 'link', 'add', PORT, 'type', 'veth', 'peer', 'name', NIC, 'address', MAC, 'netns', NETNS)
        run('ip', 'link', 'set', PORT, 'master', bridge, 'up')
        run('ip', 'link', 'set', 'lo', 'up', netns=NETNS)
        run('ip', 'link', 'set', NIC, 'up', netns=NETNS)
        start = time.monotonic()
        client = subprocess.run(('ip', 'netns', 'exec', NETNS, sys.executable, os.path.abspath(__file__), '--lease'),
                                check=False, capture_output=True, text=True)
        result['lease_s'] = round(time.monotonic() - start, 2)
        result.update(json.loads(client.stdout or '{}'))
        if result.get('address'):
            run('ip', 'addr', 'add', f"{result['address']}/{result['prefix']}", 'dev', NIC, netns=NETNS)
            if result['router']:
                ping = subprocess.run(('ip', 'netns', 'exec', NETNS, 'ping', '-c', '1', '-W', '3', result['router']),
                                      check=False, capture_output=True)
                result['router_ping'] = ping.returncode == 0
        result['port_master'] = ip_json('link', 'show', 'dev', PORT)[0].get('master')
        result['bridge_fdb'] = json.loads(run('bridge', '-j', 'fdb', 'show', 'br', bridge) or '[]')
        result['laptop_default_routes'] = ip_json('route', 'show', 'default')
        result['laptop_route_get'] = ip_json('route', 'get', '192.0.2.1')
        result['guest_routes'] = ip_json('route', 'show', netns=NETNS)
    finally:
        subprocess.run(('ip', 'link', 'del', PORT), check=False, capture_output=True)
        subprocess.run(('ip', 'netns', 'del', NETNS), check=False, capture_output=True)
    print(json.dumps(result))
    return 0 if result.get('address') else 1


if __name__ == '__main__':
    sys.exit(main())
