# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SIGKILL at every step of real multi-step plans on the real kernel, then a normal re-run (issue 11).

For each plan: a clean run in a fresh namespace gives the reference state (``ip -j``) and must be idempotent.
Then, for every operation k of the plan, in a fresh namespace each time, the module is SIGKILLed right before
operation k's kernel request and right after it (the hook wraps the operations handed to ``_common.apply_plan``).
After each kill the half-done kernel state is read; a normal re-run must succeed, say that the previous run was
interrupted (a warning and ``interrupted_runs``: after how many operations, and whether it repaired something),
and reach exactly the reference state; a third run must report changed=false and no warning.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import faultlib
import pytest

PORT = '''ip link add eth0 address 52:54:00:aa:00:01 type veth peer name peer0 address 52:54:00:aa:00:02
ip link set peer0 up
'''
BRIDGE = 'ip link add kvmbr0 address 02:00:00:00:00:01 type bridge forward_delay 0\nip link set kvmbr0 up\n'
UPLINK = 'ip addr add 10.9.0.2/24 dev eth0\nip link set eth0 up\nip route add default via 10.9.0.1\n' \
         'ip route add 10.77.0.0/16 via 10.9.0.254 metric 50\n'

PLANS = [
    dict(id='linux_bridge-create', module='linux_bridge', setup=PORT,
         args=dict(name='kvmbr0', stp=False, forward_delay=0, hello_time=1, max_age=10, priority=100,
                   ageing_time=60, mcast_snooping=False, group_fwd_mask=8, mtu=1400, mac='02:00:00:00:00:01',
                   up=True)),
    dict(id='linux_bridge-change', module='linux_bridge', setup=PORT + BRIDGE + 'ip link set kvmbr0 down\n',
         args=dict(name='kvmbr0', stp=True, forward_delay=4, priority=4096, mtu=1400, mac='02:00:00:00:00:09',
                   up=True)),
    dict(id='bridge_port-enslave', module='bridge_port', setup=PORT + BRIDGE,
         args=dict(name='eth0', bridge='kvmbr0', cost=10, priority=5, hairpin=True, learning=False,
                   unicast_flood=False, mcast_flood=False, isolated=True)),
    dict(id='bridge_port-migrate', module='bridge_port', setup=PORT + UPLINK + BRIDGE,
         args=dict(name='eth0', bridge='kvmbr0', addresses='migrate', cost=7)),
]


def _warnings(result):
    """The interrupted-run warnings of a result (ansible-core 2.19 returns warnings as structured events)."""
    texts = [item['event']['msg'] if isinstance(item, dict) else item for item in result.get('warnings') or []]
    return [text for text in texts if 'interrupted' in text]


def _run(plan, ns, hook=None):
    return faultlib.run_module(plan['module'], dict(plan['args'], netns=ns), hook=hook)


def _reference(plan):
    with faultlib.namespace(plan['setup']) as ns:
        first = _run(plan, ns)['result']
        assert first and first['changed'] and not first.get('failed'), first
        second = _run(plan, ns)['result']
        assert second['changed'] is False and not _warnings(second), second
        return faultlib.kernel_state(ns), len(first['operations'])


@pytest.mark.parametrize('plan', PLANS, ids=[plan['id'] for plan in PLANS])
def test_kill_at_every_step_then_rerun_converges(plan, count):
    reference, total = _reference(plan)
    assert total >= 2, 'not a multi-step plan: %s' % plan['id']
    problems = []
    points = 0
    for step in range(1, total + 1):
        for when in ('before', 'after'):
            where = '%s: SIGKILL %s operation %d of %d' % (plan['id'], when, step, total)
            with faultlib.namespace(plan['setup']) as ns:
                before = faultlib.kernel_state(ns)
                killed = _run(plan, ns, hook=faultlib.kill_at(step, when))
                assert killed['signal'] == 9 and killed['result'] is None, (where, killed)
                points += 1
                left = faultlib.kernel_state(ns)
                half_done = left != before and left != reference
                rerun = _run(plan, ns)['result']
                final = _run(plan, ns)['result']
                state = faultlib.kernel_state(ns)
            applied = step if when == 'after' else step - 1  # what the kernel got
            notes = _warnings(rerun)
            said = 'interrupted after %d of %d operations' % (step - 1, total)
            checks = [
                (not rerun.get('failed'), 're-run failed: %s' % rerun.get('msg')),
                (state == reference, 'state after the re-run differs from the reference:\n%s\n%s'
                 % (state, reference)),
                (final['changed'] is False, 'third run changed: %s' % final.get('operations')),
                (not _warnings(final), 'third run still warns: %s' % final.get('warnings')),
                (len(notes) == 1 and said in notes[0] and 'while it sent' in notes[0],
                 're-run does not say "%s, while it sent ...": %s' % (said, notes)),
                ([(item['applied'], item['sending']) for item in rerun.get('interrupted_runs') or []]
                 == [(step - 1, step)], 'interrupted_runs: %s' % rerun.get('interrupted_runs')),
                (rerun['changed'] == (applied < total), 're-run changed=%s after %d of %d applied'
                 % (rerun['changed'], applied, total)),
            ]
            if half_done:
                checks.append(('repaired what it left half done' in (notes or [''])[0],
                               'a half-done state was repaired without saying so: %s' % notes))
            problems += ['%s: %s' % (where, text) for ok, text in checks if not ok]
    count('kill', plan['id'], points)
    assert points == 2 * total
    assert not problems, '\n'.join(problems)
