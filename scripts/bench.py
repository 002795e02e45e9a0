# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make bench`: per-task cost of a no-op kvmnet.bridge.linux_bridge task against ansible.builtin.ping, and the
read time of kvmnet.bridge.linux_bridge_info on a bridge with 1000 ports.

Runs INSIDE a throwaway network namespace (scripts/netns-instance.sh):
- one ansible-playbook process converges a bridge once, then runs N no-op linux_bridge tasks and N ping tasks
  interleaved (ping, bridge, ping, bridge...), both through the same connection, interpreter and forks;
- then a bridge with 1000 veth ports (made with `ip -batch`) is read the way linux_bridge_info reads it with
  `name:` (the module's own read function, in this process, so only the netlink reads and decoding are timed).
Prints medians, info_1000_ports_read_ms=<x>, and, as its last line, noop_ratio=<x>.
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


def playbook(rounds):
    tasks = [dict(name='converge the bridge once', **{'kvmnet.bridge.linux_bridge': dict(name='benchbr0')})]
    for number in range(rounds):
        tasks.append(dict(name='ping %d' % number, **{'ansible.builtin.ping': {}}))
        tasks.append(dict(name='no-op bridge %d' % number, **{'kvmnet.bridge.linux_bridge': dict(name='benchbr0')}))
    return [dict(hosts='localhost', gather_facts=False, tasks=tasks)]


INFO_PORTS = 1000
INFO_BRIDGE = 'benchbr1k'


def info_read_ms(collections, rounds):
    """Median wall time (ms) of linux_bridge_info's read of a bridge with INFO_PORTS veth ports: opening the
    netlink socket, the bridge, its ports and its FDB, all decoded into facts (what the module does before it
    returns)."""
    commands = ['link add %s type bridge' % INFO_BRIDGE]
    for number in range(INFO_PORTS):
        commands.append('link add bi%d type veth peer name bip%d' % (number, number))
        commands.append('link set bi%d master %s' % (number, INFO_BRIDGE))
    subprocess.run(['ip', '-batch', '-'], input='\n'.join(commands) + '\n', text=True, check=True)
    sys.path.insert(0, collections)
    from ansible_collections.kvmnet.bridge.plugins.module_utils._netlink import Netlink
    from ansible_collections.kvmnet.bridge.plugins.modules.linux_bridge_info import read_bridges

    times = []
    for dummy in range(rounds):
        start = time.perf_counter()
        with Netlink(None) as netlink:
            bridges = read_bridges(netlink, INFO_BRIDGE)
        times.append(time.perf_counter() - start)
        if len(bridges[0]['ports']) != INFO_PORTS:
            sys.exit('benchmark invalid: %s has %d ports, not %d' % (INFO_BRIDGE, len(bridges[0]['ports']),
                                                                     INFO_PORTS))
    return statistics.median(times) * 1000, min(times) * 1000, max(times) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--rounds', type=int, default=int(os.environ.get('BENCH_ROUNDS', '20')))
    parser.add_argument('--collections', required=True, help='directory holding ansible_collections/')
    args = parser.parse_args()
    if args.rounds < 10:
        parser.error('--rounds must be at least 10')
    if not os.environ.get('KVMNET_NETNS'):
        parser.error('run me through scripts/netns-instance.sh: the benchmark creates a bridge')

    workdir = tempfile.mkdtemp(prefix='kvmnet-bench-')
    book = os.path.join(workdir, 'bench.yml')
    out = os.path.join(workdir, 'times.json')
    with open(book, 'w') as handle:
        json.dump(playbook(args.rounds), handle)  # JSON is YAML
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=args.collections,
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
        records = json.load(handle)
    ping = [record['seconds'] for record in records if record['name'].startswith('ping ')]
    noop = [record['seconds'] for record in records if record['name'].startswith('no-op bridge ')]
    changed = [record['name'] for record in records if record['name'].startswith('no-op') and record['changed']]
    if changed:
        sys.exit('benchmark invalid: no-op tasks reported changes: %s' % ', '.join(changed))
    ping_median = statistics.median(ping)
    noop_median = statistics.median(noop)
    print('rounds=%d (interleaved ping / no-op linux_bridge, one ansible-playbook process, netns %s)'
          % (args.rounds, os.environ['KVMNET_NETNS']))
    print('ping_median_s=%.4f  ping_min_s=%.4f  ping_max_s=%.4f' % (ping_median, min(ping), max(ping)))
    print('noop_median_s=%.4f  noop_min_s=%.4f  noop_max_s=%.4f' % (noop_median, min(noop), max(noop)))
    info_median, info_min, info_max = info_read_ms(args.collections, 9)
    print('info_1000_ports: %d veth ports on %s, linux_bridge_info read (bridge, ports, FDB -> facts), median of 9:'
          ' min_ms=%.1f max_ms=%.1f' % (INFO_PORTS, INFO_BRIDGE, info_min, info_max))
    print('info_1000_ports_read_ms=%.1f' % info_median)
    print('noop_ratio=%.3f' % (noop_median / ping_median))


if __name__ == '__main__':
    main()
