# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make bench`: per-task cost of no-op kvmnet.bridge tasks against ansible.builtin.ping, the cost of a large
routing table for a no-op bridge_port, and the read and decode times of a bridge with 1000 ports.

Runs INSIDE a throwaway network namespace (scripts/netns-instance.sh):
- two namespaces inside it, "benchplain" and "benchroutes", each with a bridge and a veth port that is already
  its port; "benchroutes" also has ROUTES routes through another interface (the port has none);
- one ansible-playbook process converges a bridge once, then runs N rounds of: ping, a no-op linux_bridge,
  a no-op bridge_port in benchplain, the same no-op bridge_port in benchroutes (interleaved, so load changes hit
  every kind alike), all through the same connection, interpreter and forks;
- then a bridge with 1000 veth ports (made with `ip -batch`) is read the way linux_bridge_info reads it with
  `name:` (the module's own read function, in this process, so only the netlink reads and decoding are timed);
- and the replies of that read (the port dump and the FDB dump, recorded once) are decoded again, in this
  process, by the collection's decoder (_nlcodec) and by pyroute2's generic message classes: the same bytes, so
  the figure of docs/decisions.md (decision 6) can be reproduced.
Prints medians, port_noop_10k_routes_ratio=<x>, info_1000_ports_read_ms=<x>, decode_*=<x>, and, as its last line,
noop_ratio=<x>.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

INFO_PORTS = 1000
INFO_BRIDGE = 'benchbr1k'
ROUTES = 10000
PORT_NAMESPACES = ('benchplain', 'benchroutes')


def port_task(netns):
    return {'kvmnet.bridge.bridge_port': dict(name='bp0', bridge='benchbr0', netns=netns)}


def playbook(rounds):
    tasks = [dict(name='converge the bridge once', **{'kvmnet.bridge.linux_bridge': dict(name='benchbr0')})]
    for netns in PORT_NAMESPACES:
        tasks.append(dict(name='converge the port in %s once' % netns, **port_task(netns)))
    for number in range(rounds):
        tasks.append(dict(name='ping %d' % number, **{'ansible.builtin.ping': {}}))
        tasks.append(dict(name='no-op bridge %d' % number, **{'kvmnet.bridge.linux_bridge': dict(name='benchbr0')}))
        for netns in PORT_NAMESPACES:
            tasks.append(dict(name='no-op port %s %d' % (netns, number), **port_task(netns)))
    return [dict(hosts='localhost', gather_facts=False, tasks=tasks)]


def ip_batch(commands, netns=None):
    prefix = ['ip', '-n', netns] if netns else ['ip']
    subprocess.run(prefix + ['-batch', '-'], input='\n'.join(commands) + '\n', text=True, check=True)


def port_setup():
    """benchplain and benchroutes: bridge benchbr0 (MAC pinned, as linux_bridge leaves it) with port bp0, both up;
    benchroutes also has an uplink veth carrying ROUTES routes (10.128.0.0/9 split into /24s)."""
    for netns in PORT_NAMESPACES:
        subprocess.run(['ip', 'netns', 'add', netns], check=True)
        ip_batch(['link set lo up',
                  'link add benchbr0 address 02:00:00:00:be:01 type bridge',
                  'link add bp0 type veth peer name bp0peer',
                  'link set bp0 master benchbr0',
                  'link set benchbr0 up', 'link set bp0 up', 'link set bp0peer up'], netns)
    ip_batch(['link add up0 type veth peer name up0peer', 'link set up0 up', 'link set up0peer up',
              'address add 10.127.0.1/16 dev up0'], 'benchroutes')
    ip_batch(['route add 10.%d.%d.0/24 via 10.127.0.254 dev up0' % (128 + number // 256, number % 256)
              for number in range(ROUTES)], 'benchroutes')
    count = subprocess.run(['ip', '-n', 'benchroutes', '-4', 'route', 'show', 'table', 'all'], check=True,
                           stdout=subprocess.PIPE, text=True).stdout.count('\n')
    if count < ROUTES:
        sys.exit('benchmark invalid: benchroutes has %d routes, not %d' % (count, ROUTES))
    return count


def info_setup():
    commands = ['link add %s type bridge' % INFO_BRIDGE]
    for number in range(INFO_PORTS):
        commands.append('link add bi%d type veth peer name bip%d' % (number, number))
        commands.append('link set bi%d master %s' % (number, INFO_BRIDGE))
    ip_batch(commands)


def info_read_ms(rounds):
    """Median wall time (ms) of linux_bridge_info's read of a bridge with INFO_PORTS veth ports: opening the
    netlink socket, the bridge, its ports and its FDB, all decoded into facts (what the module does before it
    returns). Also returns the recv buffers of one read's port and FDB dumps, for the decoder baseline."""
    from ansible_collections.kvmnet.bridge.plugins.module_utils import _netlink
    from ansible_collections.kvmnet.bridge.plugins.modules.linux_bridge_info import read_bridges

    times = []
    for dummy in range(rounds):
        start = time.perf_counter()
        with _netlink.Netlink(None) as netlink:
            bridges = read_bridges(netlink, INFO_BRIDGE)
        times.append(time.perf_counter() - start)
        if len(bridges[0]['ports']) != INFO_PORTS:
            sys.exit('benchmark invalid: %s has %d ports, not %d' % (INFO_BRIDGE, len(bridges[0]['ports']),
                                                                     INFO_PORTS))
    recorder = Recorder(_netlink)
    with _netlink.Netlink(None, socket_factory=recorder) as netlink:
        bridge = netlink.get_link(INFO_BRIDGE)
        recorder.start('ports')
        netlink.ports(bridge['index'])
        recorder.start('fdb')
        netlink.fdb(bridge['index'])
    return (statistics.median(times) * 1000, min(times) * 1000, max(times) * 1000), recorder.buffers


class Recorder(object):
    """A socket factory for Netlink's seam whose sockets keep what recv returned, by label."""

    def __init__(self, netlink_module):
        self.new_socket = netlink_module._new_socket
        self.buffers = {}
        self.label = None

    def __call__(self):
        recorder = self
        inner = self.new_socket()

        class Recording(object):
            def __getattr__(self, name):
                return getattr(inner, name)

            def recv(self, size):
                data = inner.recv(size)
                if recorder.label:
                    recorder.buffers.setdefault(recorder.label, []).append(data)
                return data

        return Recording()

    def start(self, label):
        self.label = label


def _pyroute2_link(msg):
    """The link dict the collection uses, read from a message pyroute2 decoded (what _netlink did before it had
    its own decoder): pyroute2 decodes attributes lazily, so reading them is part of its cost."""
    linkinfo = msg.get_attr('IFLA_LINKINFO')
    kind = linkinfo.get_attr('IFLA_INFO_KIND') if linkinfo is not None else None
    port = None
    if linkinfo is not None and linkinfo.get_attr('IFLA_INFO_SLAVE_KIND') == 'bridge':
        port = dict(item[:2] for item in linkinfo.get_attr('IFLA_INFO_SLAVE_DATA').get('attrs', []))
    stats = msg.get_attr('IFLA_STATS64')
    return dict(index=msg['index'], name=msg.get_attr('IFLA_IFNAME'), kind=kind, link_type=msg['ifi_type'],
                mtu=msg.get_attr('IFLA_MTU'), address=msg.get_attr('IFLA_ADDRESS'),
                perm_address=msg.get_attr('IFLA_PERM_ADDRESS'), up=bool(msg['flags'] & 1),
                operstate=msg.get_attr('IFLA_OPERSTATE'), carrier=msg.get_attr('IFLA_CARRIER'),
                master=msg.get_attr('IFLA_MASTER'), port=port,
                stats=dict((key, stats[key]) for key in ('rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes'))
                if stats is not None else {})


def _pyroute2_neigh(msg):
    cacheinfo = msg.get_attr('NDA_CACHEINFO')
    return dict(mac=msg.get_attr('NDA_LLADDR'), ifindex=msg['ifindex'], master=msg.get_attr('NDA_MASTER'),
                vlan=msg.get_attr('NDA_VLAN'), state=msg['state'], flags=msg['flags'],
                updated=cacheinfo['ndm_updated'] if cacheinfo is not None else None)


def decode_baseline(buffers, rounds):
    """Median ms to turn the recorded port and FDB dumps into the collection's dicts: with _nlcodec, and with
    pyroute2's generic classes (decode only, and decode plus reading the same values: the fair comparison)."""
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.ndmsg import ndmsg

    from ansible_collections.kvmnet.bridge.plugins.module_utils import _nlcodec as nl

    def each(handlers):
        found = 0
        for datagrams in buffers.values():
            for data in datagrams:
                for offset, length, kind, dummy, dummy in nl.messages(data):
                    if kind in handlers:
                        handlers[kind](data, offset, length)
                        found += 1
        return found

    def pyroute2(cls, convert=None):
        def handler(data, offset, length):
            message = cls(data[offset:offset + length])
            message.decode()
            return convert(message) if convert else message
        return handler

    variants = (
        ('ours', {nl.RTM_NEWLINK: nl.decode_link, nl.RTM_NEWNEIGH: nl.decode_neigh}),
        ('pyroute2', {nl.RTM_NEWLINK: pyroute2(ifinfmsg, _pyroute2_link),
                      nl.RTM_NEWNEIGH: pyroute2(ndmsg, _pyroute2_neigh)}),
        ('pyroute2_decode_only', {nl.RTM_NEWLINK: pyroute2(ifinfmsg), nl.RTM_NEWNEIGH: pyroute2(ndmsg)}),
    )
    results = {}
    for name, handlers in variants:
        times = []
        for dummy in range(rounds):
            start = time.perf_counter()
            found = each(handlers)
            times.append(time.perf_counter() - start)
        results[name] = (statistics.median(times) * 1000, found)
    if len(set(found for dummy, found in results.values())) != 1 or results['ours'][1] < INFO_PORTS:
        sys.exit('benchmark invalid: decoded %r messages' % results)
    return results


def run_playbook(collections, rounds):
    workdir = tempfile.mkdtemp(prefix='kvmnet-bench-')
    book = os.path.join(workdir, 'bench.yml')
    out = os.path.join(workdir, 'times.json')
    with open(book, 'w') as handle:
        json.dump(playbook(rounds), handle)  # JSON is YAML
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=collections,
        ANSIBLE_CALLBACK_PLUGINS=os.path.join(ROOT, 'tests', 'bench', 'callback_plugins'),
        ANSIBLE_CALLBACKS_ENABLED='task_timer',
        ANSIBLE_STDOUT_CALLBACK='ansible.builtin.minimal',
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        KVMNET_BENCH_OUT=out,
    )
    bin_dir = os.path.dirname(sys.executable)
    run = subprocess.run([os.path.join(bin_dir, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', book],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if run.returncode != 0:
        sys.stdout.write(run.stdout[-5000:])
        sys.exit('benchmark playbook failed (rc=%d)' % run.returncode)
    with open(out) as handle:
        return json.load(handle)


def seconds(records, prefix):
    return [record['seconds'] for record in records if record['name'].startswith(prefix)]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--rounds', type=int, default=int(os.environ.get('BENCH_ROUNDS', '20')))
    parser.add_argument('--collections', required=True, help='directory holding ansible_collections/')
    args = parser.parse_args()
    if args.rounds < 10:
        parser.error('--rounds must be at least 10')
    if not os.environ.get('KVMNET_NETNS'):
        parser.error('run me through scripts/netns-instance.sh: the benchmark creates bridges and namespaces')

    route_count = port_setup()
    records = run_playbook(args.collections, args.rounds)
    changed = [record['name'] for record in records if record['name'].startswith('no-op') and record['changed']]
    if changed:
        sys.exit('benchmark invalid: no-op tasks reported changes: %s' % ', '.join(changed))
    ping, noop = seconds(records, 'ping '), seconds(records, 'no-op bridge ')
    plain, routed = seconds(records, 'no-op port benchplain '), seconds(records, 'no-op port benchroutes ')
    if not (len(ping) == len(noop) == len(plain) == len(routed) == args.rounds):
        sys.exit('benchmark invalid: not every task was timed (%d %d %d %d)'
                 % (len(ping), len(noop), len(plain), len(routed)))
    print('rounds=%d (interleaved ping / no-op linux_bridge / no-op bridge_port x2, one ansible-playbook process,'
          ' netns %s)' % (args.rounds, os.environ['KVMNET_NETNS']))
    for name, values in (('ping', ping), ('noop', noop), ('port_noop', plain), ('port_noop_10k_routes', routed)):
        print('%s_median_s=%.4f  %s_min_s=%.4f  %s_max_s=%.4f' % (name, statistics.median(values), name,
                                                                  min(values), name, max(values)))
    print('port_noop_10k_routes: %d IPv4 routes (all tables) in the routed namespace, none through the port;'
          ' goal <= 1.3' % route_count)
    print('port_noop_10k_routes_ratio=%.3f' % (statistics.median(routed) / statistics.median(plain)))

    info_setup()
    sys.path.insert(0, args.collections)
    (info_median, info_min, info_max), buffers = info_read_ms(9)
    print('info_1000_ports: %d veth ports on %s, linux_bridge_info read (bridge, ports, FDB -> facts), median of 9:'
          ' min_ms=%.1f max_ms=%.1f' % (INFO_PORTS, INFO_BRIDGE, info_min, info_max))
    print('info_1000_ports_read_ms=%.1f' % info_median)
    decoded = decode_baseline(buffers, 5)
    datagrams = sum(len(received) for received in buffers.values())
    print('decode_1000_ports_fdb: the same recorded port and FDB dumps (%d messages, %d datagrams) into the'
          ' collection\'s dicts, in this process, median of 5; pyroute2 decoding alone (attributes are decoded'
          ' lazily, on access): %.1f ms' % (decoded['ours'][1], datagrams, decoded['pyroute2_decode_only'][0]))
    print('decode_1000_ports_fdb_ours_ms=%.1f' % decoded['ours'][0])
    print('decode_1000_ports_fdb_pyroute2_ms=%.1f' % decoded['pyroute2'][0])
    print('decode_pyroute2_vs_ours_ratio=%.1f' % (decoded['pyroute2'][0] / decoded['ours'][0]))
    print('noop_ratio=%.3f' % (statistics.median(noop) / statistics.median(ping)))


if __name__ == '__main__':
    main()
