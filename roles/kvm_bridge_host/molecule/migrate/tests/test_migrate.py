"""migrate: eth0's address and default route are on kvmbr0 now, and the router lost no ping across the move."""

import json
import re
import time
from datetime import datetime

import pytest

testinfra_hosts = ['host']

HOST_ADDRESS = '192.0.2.10'
REPLY = re.compile(r'^\[(\d+\.\d+)\] \d+ bytes from ' + re.escape(HOST_ADDRESS))
SUMMARY = re.compile(r'(\d+) packets transmitted, (\d+) received')
ADDRESS_EVENT = re.compile(r'^\[([0-9T:.-]+)\] (Deleted )?\d+: (\S+)\s+inet ' + re.escape(HOST_ADDRESS) + '/')


def ip_json(host, *args):
    return json.loads(host.check_output('ip -j %s' % ' '.join(args)) or '[]')


def stop(host, name, done):
    """Stop the witness NAME that prepare.yml started (SIGINT), return its log once DONE(log) holds."""
    host.run_test('kill -INT "$(cat /var/tmp/kvmnet-%s.pid)"' % name)
    for dummy in range(100):
        log = host.file('/var/tmp/kvmnet-%s.log' % name).content_string
        if done(log):
            return log
        time.sleep(0.05)
    raise AssertionError('%s did not stop: %s' % (name, log[-500:]))


@pytest.fixture(scope='module')
def witnesses(host, machine):
    pings = stop(machine('router'), 'ping', SUMMARY.search)
    monitor = stop(host, 'monitor', lambda log: True)
    replies = [float(m.group(1)) for m in map(REPLY.match, pings.splitlines()) if m]
    events = {}
    for line in monitor.splitlines():
        m = ADDRESS_EVENT.match(line)
        if m:
            key = ('deleted' if m.group(2) else 'added', m.group(3))
            events.setdefault(key, datetime.fromisoformat(m.group(1)).timestamp())
    return pings, replies, events


def test_no_ping_lost_across_the_migration(witnesses, figures):
    pings, replies, dummy = witnesses
    sent, received = map(int, SUMMARY.search(pings).groups())
    gaps = [b - a for a, b in zip(replies, replies[1:])]
    figures('migrate: %d pings every 10 ms over %.1f s, %d received, %d lost, longest gap between replies %.0f ms'
            % (sent, replies[-1] - replies[0], received, sent - received, max(gaps) * 1000))
    assert sent >= 300, 'the ping window is too short to cover a converge: %s' % pings[-300:]
    assert received == sent, pings[-300:]


def test_the_migration_happened_inside_the_ping_window(witnesses, figures):
    dummy, replies, events = witnesses
    added, deleted = events.get(('added', 'kvmbr0')), events.get(('deleted', 'eth0'))
    assert added is not None, 'no log of %s arriving on kvmbr0: %s' % (HOST_ADDRESS, events)
    assert deleted is not None, 'no log of %s leaving eth0: %s' % (HOST_ADDRESS, events)
    assert added <= deleted, 'break before make: eth0 lost the address before kvmbr0 had it'
    before = [t for t in replies if t < added]
    after = [t for t in replies if t > deleted]
    figures('migrate: %s on kvmbr0 at +%.3f s, off eth0 at +%.3f s (%.1f ms later); %d replies before, %d after'
            % (HOST_ADDRESS, added - replies[0], deleted - replies[0], (deleted - added) * 1000,
               len(before), len(after)))
    assert len(before) >= 50 and len(after) >= 50, 'the move is not well inside the ping window'


def test_address_and_default_route_are_on_kvmbr0(host):
    addresses = ip_json(host, 'addr', 'show', 'scope', 'global')
    by_name = {a['ifname']: ['%s/%s' % (i['local'], i['prefixlen']) for i in a['addr_info'] if 'local' in i]
               for a in addresses}
    assert by_name.get('kvmbr0') == [HOST_ADDRESS + '/24']
    assert by_name.get('eth0', []) == []
    routes = ip_json(host, 'route', 'show', 'default')
    assert [(r['dev'], r.get('gateway')) for r in routes] == [('kvmbr0', '192.0.2.1')]


def test_eth0_is_the_port_and_lends_its_mac(host):
    eth0 = ip_json(host, '-d', 'link', 'show', 'dev', 'eth0')[0]
    bridge = ip_json(host, 'link', 'show', 'dev', 'kvmbr0')[0]
    assert eth0.get('master') == 'kvmbr0'
    # the LAN's ARP caches stay valid: the bridge answers with the MAC that eth0 had
    assert bridge['address'] == eth0['address']
