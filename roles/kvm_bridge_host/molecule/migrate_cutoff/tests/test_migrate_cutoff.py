"""migrate_cutoff: the controller was cut off during the migration; the watchdog restored the host by itself, the
role failed with its log, and the second run (no saboteur) committed."""

import json
import re
import time
from datetime import datetime

import pytest

testinfra_hosts = ['host']

HOST_ADDRESS = '192.0.2.10'
GATEWAY = '192.0.2.1'
LOG_DIR = '/var/log/kvmnet-checkpoint'
STATE_DIR = '/run/kvmnet-checkpoint'
REPLY = re.compile(r'^\[(\d+\.\d+)\] \d+ bytes from ' + re.escape(HOST_ADDRESS) + r': icmp_seq=(\d+)')
SUMMARY = re.compile(r'(\d+) packets transmitted, (\d+) received')
DEADLINE = re.compile(r'^\S+ deadline reached \((\S+)\)', re.MULTILINE)
RESULT = re.compile(r'^\S+ RESULT: (.*)$', re.MULTILINE)
CARRIER_UP = re.compile(r'^\[([0-9T:.-]+)\] \d+: lan0@\S+ <[A-Z_,]*LOWER_UP[A-Z_,]*>')
NEIGH_REACHABLE = re.compile(r'^\[([0-9T:.-]+)\] ' + re.escape(HOST_ADDRESS) + r' dev lan0 lladdr \S+ REACHABLE')


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
def pings(machine):
    """The router's ping log: its summary, and the replies as (epoch seconds, icmp_seq)."""
    log = stop(machine('router'), 'ping', SUMMARY.search)
    replies = [(float(m.group(1)), int(m.group(2))) for m in map(REPLY.match, log.splitlines()) if m]
    return log, replies


@pytest.fixture(scope='module')
def router_events(machine):
    """The router's link and neighbour log: the times lan0 had carrier and the host's address became reachable."""
    log = stop(machine('router'), 'monitor', lambda log: True)
    times = {'carrier': [], 'reachable': []}
    for line in log.splitlines():
        for key, pattern in (('carrier', CARRIER_UP), ('reachable', NEIGH_REACHABLE)):
            m = pattern.match(line)
            if m:
                times[key].append(datetime.fromisoformat(m.group(1)).timestamp())
    return times


@pytest.fixture(scope='module')
def result(host):
    """What converge.yml's part 1 kept: the role's failure message and the state right after it."""
    return json.loads(host.file('/var/tmp/kvmnet-cutoff-result.json').content_string)


@pytest.fixture(scope='module')
def logs(host):
    """The watchdog logs, by the last RESULT of each: {'restored': text, 'committed': text}."""
    found = {}
    for name in host.check_output('ls -1 %s' % LOG_DIR).split():
        text = host.file('%s/%s' % (LOG_DIR, name)).content_string
        results = RESULT.findall(text)
        found.setdefault(results[-1] if results else '(none)', []).append(text)
    return found


@pytest.fixture(scope='module')
def cut_at(host):
    saboteur = host.file('/var/tmp/kvmnet-saboteur.log').content_string
    assert 'eth0 set down' in saboteur, 'the saboteur never cut eth0: %s' % saboteur
    return float(host.file('/var/tmp/kvmnet-cutoff.at').content_string)


def test_the_role_failed_with_the_watchdogs_log(result):
    message = result['message']
    assert result['task'] == 'Apply | Fail, the host was restored', result
    assert 'failed at \'Apply | Round trip, ping -n -c 1 -w 5 -- %s\'' % GATEWAY in message, message
    assert 'The host is as it was before this run' in message, message
    assert 'The watchdog log on the host, %s/' % LOG_DIR in message, message
    assert 'RESULT: restored' in message, message


def test_the_restore_is_the_state_before(host, result):
    before = json.loads(host.file('/var/tmp/kvmnet-before.json').content_string)
    assert result['state'] == before


def test_one_log_restored_one_committed(logs):
    assert sorted(logs) == ['committed', 'restored'], sorted(logs)
    assert len(logs['restored']) == 1 and len(logs['committed']) == 1, logs
    restored = logs['restored'][0]
    assert 'not committed: restoring the snapshot of eth0, kvmbr0' in restored, restored
    assert 'watchdog removed itself' in restored, restored
    assert ' 0 refused' in restored, restored


def test_connectivity_came_back_after_the_deadline(logs, pings, router_events, cut_at, figures):
    log, replies = pings
    deadline = datetime.fromisoformat(DEADLINE.search(logs['restored'][0]).group(1)).timestamp()
    assert cut_at < deadline, 'the cut came after the deadline'
    before = [reply for reply in replies if reply[0] < cut_at]
    after = [reply for reply in replies if reply[0] > cut_at]
    assert before and after, 'no replies on both sides of the cut: %s' % log[-500:]
    (last_time, last_seq), (back_time, back_seq) = before[-1], after[0]
    carrier = [when for when in router_events['carrier'] if when > cut_at]
    reachable = [when for when in router_events['reachable'] if when > cut_at]
    assert carrier, 'the router never saw lan0 with carrier again: %s' % router_events
    restore = re.search(r'restore took ([0-9.]+) s', logs['restored'][0]).group(1)
    figures('migrate_cutoff: eth0 cut %.2f s before the deadline; restore took %s s; after the deadline: router\'s'
            ' lan0 carrier back +%.3f s, host ARP-reachable +%s s, first ping reply +%.3f s; no reply for %.2f s,'
            ' %d requests unanswered (ping sends less often while its neighbour is unresolved)'
            % (deadline - cut_at, restore, carrier[0] - deadline,
               '%.3f' % (reachable[0] - deadline) if reachable else '?', back_time - deadline,
               back_time - last_time, back_seq - last_seq - 1))
    # the watchdog brought it back: nothing answered between the cut and the deadline, and soon after it
    assert carrier[0] >= deadline, 'lan0 had carrier again before the deadline: the cut did not cut'
    assert back_time >= deadline, 'a reply came before the deadline: the cut did not cut'
    assert back_time - deadline < 3, 'connectivity came back %.1f s after the deadline' % (back_time - deadline)


def test_no_ping_lost_after_the_restore_in_the_committed_run(pings, cut_at, figures):
    log, replies = pings
    after = [seq for when, seq in replies if when > cut_at]
    missing = (after[-1] - after[0] + 1) - len(after)
    sent, received = map(int, SUMMARY.search(log).groups())
    figures('migrate_cutoff: after the restore (the committed run included) %d replies, %d lost; overall %d sent,'
            ' %d received' % (len(after), missing, sent, received))
    assert len(after) >= 300, 'the window after the restore is too short to cover the committed run'
    assert missing == 0


def test_the_committed_run_kept_the_migration(host, logs):
    assert 'RESULT: committed' in logs['committed'][0]
    addresses = ip_json(host, 'addr', 'show', 'scope', 'global')
    by_name = {a['ifname']: ['%s/%s' % (i['local'], i['prefixlen']) for i in a['addr_info'] if 'local' in i]
               for a in addresses}
    assert by_name.get('kvmbr0') == [HOST_ADDRESS + '/24']
    assert by_name.get('eth0', []) == []
    routes = ip_json(host, 'route', 'show', 'default')
    assert [(r['dev'], r.get('gateway')) for r in routes] == [('kvmbr0', GATEWAY)]
    assert ip_json(host, 'link', 'show', 'dev', 'eth0')[0].get('master') == 'kvmbr0'


def test_no_checkpoint_and_no_watchdog_left(host):
    assert host.run('ls -A %s 2>/dev/null' % STATE_DIR).stdout.strip() == ''
    processes = host.check_output('ps -eo args=')
    assert 'kvmnet-checkpoint' not in processes, processes
