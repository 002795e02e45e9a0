# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""net_checkpoint ``state: armed`` SIGKILLed between the snapshot and the watchdog's start (issue 11).

The arm writes the checkpoint record (the snapshot), then starts the detached watchdog, then records it. The
module is killed right before the watchdog is launched (the record is written, nothing watches it) and right after
(the watchdog runs, the module never recorded it). Either way ``state: absent`` must clean up completely: no
checkpoint directory left, no watchdog process left. A new arm right after a kill before the launch must not be
refused for a checkpoint that nothing arms any more (the record names the arming task's pid: a dead one is orphaned).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import signal
import tempfile
import time

import faultlib
import pytest

BRIDGE = 'ip link add kvmbr0 address 02:00:00:00:00:01 type bridge forward_delay 0\nip link set kvmbr0 up\n'


def _args(ns, base, **extra):
    return dict(dict(netns=ns, interfaces=['kvmbr0'], timeout=60, watchdog='detached',
                     state_dir=base + '/state', log_dir=base + '/log'), **extra)


def _kill_at_launch(when):
    def hook(module):
        original = module.NetCheckpointManager.__init__

        def init(self, *args, **kwargs):
            original(self, *args, **kwargs)
            launch = self.launcher

            def launcher(argv, log):
                if when == 'before':
                    faultlib.Killed.now()
                pid = launch(argv, log)
                with open(os.path.join(os.path.dirname(log), 'watchdog.pid'), 'w') as handle:
                    handle.write(str(pid))
                faultlib.Killed.now()
            self.launcher = launcher
        module.NetCheckpointManager.__init__ = init
    return hook


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open('/proc/%d/stat' % pid) as handle:
        return handle.read().rsplit(')', 1)[-1].split()[0] != 'Z'


def _watchdog_pid(base):
    path = base + '/log/watchdog.pid'
    return int(open(path).read()) if os.path.exists(path) else None


@pytest.mark.parametrize('when', ['before', 'after'])
def test_kill_between_snapshot_and_watchdog_then_absent_cleans(when, count):
    base = tempfile.mkdtemp(prefix='kvmnet-faults-cp-')
    os.chmod(base, 0o700)
    try:
        with faultlib.namespace(BRIDGE) as ns:
            killed = faultlib.run_module('net_checkpoint', _args(ns, base), hook=_kill_at_launch(when))
            assert killed['signal'] == 9, killed
            pid = _watchdog_pid(base)
            assert (pid is not None) == (when == 'after')
            left = os.listdir(base + '/state')
            assert len(left) == 1, left  # the record of the killed arm
            if when == 'after':  # the watchdog comes up on its own (state absent while it is still starting is a
                deadline = time.monotonic() + 20  # separate race, see the report)
                while not os.path.exists('%s/state/%s/ready.json' % (base, left[0])):
                    assert time.monotonic() < deadline, 'the watchdog of the killed arm never got ready'
                    time.sleep(0.05)
            listing = faultlib.run_module('net_checkpoint', _args(ns, base, state='absent'))['result']
            assert not listing.get('failed'), listing
            statuses = [item['attributes']['status'] for item in listing['operations']]
            # before: nothing watches the record (arming until it is 30 s old); after: the watchdog is ready but
            # the killed module never recorded it in checkpoint.json
            assert listing['changed'] and len(statuses) == 1, listing
            assert os.listdir(base + '/state') == []
            if pid is not None:
                deadline = time.monotonic() + 10
                while _alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                alive = _alive(pid)
                if alive:
                    os.kill(pid, signal.SIGKILL)
                assert not alive, 'the watchdog of the killed arm still runs after state: absent'
            again = faultlib.run_module('net_checkpoint', _args(ns, base, state='absent'))['result']
            assert again['changed'] is False, again
    finally:
        shutil.rmtree(base, ignore_errors=True)
    count('kill', 'net_checkpoint-arm-%s-watchdog' % when, 1)


def test_arm_right_after_a_kill_before_the_launch_is_not_refused():
    base = tempfile.mkdtemp(prefix='kvmnet-faults-cp-')
    os.chmod(base, 0o700)
    try:
        with faultlib.namespace(BRIDGE) as ns:
            assert faultlib.run_module('net_checkpoint', _args(ns, base),
                                       hook=_kill_at_launch('before'))['signal'] == 9
            armed = faultlib.run_module('net_checkpoint', _args(ns, base))['result']
            faultlib.run_module('net_checkpoint', _args(ns, base, state='absent'))
            assert not armed.get('failed'), armed['msg']
    finally:
        shutil.rmtree(base, ignore_errors=True)
