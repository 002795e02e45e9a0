# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""net_checkpoint's manager with its seams (Netlink reads, the launcher, the systemd probe, run_command): check mode
arms nothing, one armed checkpoint per namespace, commit and its idempotent twin, a commit that comes too late
fails with the log, a watchdog that never gets ready leaves nothing behind, and the systemd-run line."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _watchdog as wd
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ApplyError, ValidationError
from ansible_collections.kvmnet.bridge.plugins.modules.net_checkpoint import NetCheckpointManager

SYSTEMD = dict(pid1='systemd', booted=True, systemd_run='/usr/bin/systemd-run', same_mount=True, same_net=True)


class Reads(object):
    """eth0 with one address and the default route; nothing else."""

    def __init__(self, netns):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def get_link(self, name):
        if name != 'eth0':
            return None
        return dict(index=2, name='eth0', kind='veth', address='52:54:00:00:00:02', mtu=1500, up=True, master=None,
                    bridge={}, port=None)

    def get_link_by_index(self, index):
        return self.get_link('eth0') if index == 2 else None

    def addresses(self, index):
        return [dict(family=4, address='10.0.0.2', prefixlen=24, scope=0, flags=0)]

    def routes(self, index):
        return [dict(family=4, oif=2, dst=None, dst_len=0, gateway='10.0.0.1', prefsrc=None, priority=None,
                     table=254, protocol=3, scope=0, type=1)]

    def default_routes(self):
        return self.routes(2)


class FakeModule(object):
    def __init__(self, tmp_path, check_mode=False, **params):
        self.params = dict(state='armed', interfaces=['eth0', 'kvmbr0'], timeout=60, id=None, watchdog='auto',
                           state_dir=str(tmp_path / 'state'), log_dir=str(tmp_path / 'log'), netns=None)
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = True
        self.commands = []
        self.on_command = None

    def get_bin_path(self, name, required=False):
        return '/usr/bin/' + name

    def run_command(self, args):
        self.commands.append(args)
        if self.on_command is not None:
            self.on_command(args)
        return 0, '', ''


@pytest.fixture
def watchdogs():
    """A launcher that starts a real stand-in process (a sleep) and writes its ready file as the watchdog would."""
    started = []

    def launch(argv, log):
        child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
        started.append(child)
        wd.write_file(os.path.join(argv[-1], 'ready.json'),
                      json.dumps(dict(pid=child.pid, starttime=wd.start_time(child.pid))))
        return child.pid

    yield launch, started
    for child in started:
        if child.poll() is None:
            child.kill()
        child.wait()


def manager(module, launcher, probe=None):
    return NetCheckpointManager(module, netlink_factory=Reads, launcher=launcher,
                                probe=probe or dict(SYSTEMD, pid1='init'))


def test_check_mode_arms_nothing(tmp_path, watchdogs):
    launch, started = watchdogs
    result = manager(FakeModule(tmp_path, check_mode=True), launch).run()
    assert result['changed'] and result['id'] is None and result['log'] is None
    assert [operation['action'] for operation in result['operations']] == ['arm']
    assert result['watchdog']['kind'] == 'detached' and result['watchdog']['pid'] is None
    assert result['snapshot']['interfaces']['eth0']['routes'] == ['default via 10.0.0.1']
    assert result['diff'] == dict(before=result['before'], after=result['after'])
    assert not (tmp_path / 'state').exists() and not (tmp_path / 'log').exists() and started == []


def test_arm_refuse_a_second_commit_and_its_idempotent_twin(tmp_path, watchdogs):
    launch, started = watchdogs
    armed = manager(FakeModule(tmp_path), launch).run()
    record = json.loads((tmp_path / 'state' / armed['id'] / 'checkpoint.json').read_text())
    assert record['watchdog']['pid'] == started[0].pid == armed['watchdog']['pid']
    assert record['snapshot']['interfaces']['eth0']['addresses'] == ['10.0.0.2/24']
    assert wd.log_result(armed['log']) == 'armed'

    with pytest.raises(ValidationError, match='A checkpoint is already armed: %s' % armed['id']) as refused:
        manager(FakeModule(tmp_path), launch).run()
    assert refused.value.details['armed']['id'] == armed['id'] and len(started) == 1

    check = manager(FakeModule(tmp_path, check_mode=True, state='committed', id=armed['id']), launch).run()
    assert check['changed'] and started[0].poll() is None
    committed = manager(FakeModule(tmp_path, state='committed', id=armed['id']), launch).run()
    assert committed['changed'] and committed['after'] == dict(checkpoints=[])
    assert started[0].wait(timeout=10) is not None
    assert committed['differences'] == []  # the stand-in kernel did not change
    assert wd.log_result(armed['log']) == 'committed'
    again = manager(FakeModule(tmp_path, state='committed', id=armed['id']), launch).run()
    assert not again['changed'] and again['operations'] == []


def test_a_commit_that_comes_too_late_fails_with_the_log(tmp_path, watchdogs):
    launch, dummy = watchdogs
    (tmp_path / 'log').mkdir(mode=0o700)
    log = str(tmp_path / 'log' / '20260101T000000-0000aa.log')
    wd.log_line(log, 'ok release eth0 bridge=kvmbr0')
    wd.log_line(log, wd.RESULT + 'restored')
    with pytest.raises(wd.WatchdogError, match='was not committed in time') as late:
        manager(FakeModule(tmp_path, state='committed', id='20260101T000000-0000aa'), launch).run()
    assert 'ok release eth0 bridge=kvmbr0' in late.value.details['restored']


def test_a_watchdog_that_never_gets_ready_leaves_nothing_armed(tmp_path):
    def launch(argv, log):
        child = subprocess.Popen([sys.executable, '-c', 'import sys; sys.stderr.write("boom\\n")'],
                                 stderr=open(log, 'a'))
        child.wait()
        return child.pid

    with pytest.raises(ApplyError, match='(?s)Operation arm on .* failed: Cannot arm the checkpoint: The watchdog did'
                                         ' not report ready.*boom') as failed:
        manager(FakeModule(tmp_path), launch).run()
    assert 'Nothing is armed' in failed.value.msg
    assert os.listdir(str(tmp_path / 'state')) == []
    logs = os.listdir(str(tmp_path / 'log'))
    assert wd.log_result(str(tmp_path / 'log' / logs[0])) == 'not armed'


def test_systemd_runs_a_transient_unit(tmp_path, watchdogs):
    launch, started = watchdogs
    module = FakeModule(tmp_path)
    module.on_command = lambda args: launch(args, None)
    armed = manager(module, lambda argv, log: pytest.fail('no detached start with systemd'), probe=SYSTEMD).run()
    argv = module.commands[0]
    assert argv[:4] == ['/usr/bin/systemd-run', '--unit', 'kvmnet-checkpoint-' + armed['id'], '--collect']
    assert argv[-4:] == [sys.executable, '-I', str(tmp_path / 'state' / armed['id'] / 'run.py'),
                         str(tmp_path / 'state' / armed['id'])]
    assert armed['watchdog'] == dict(kind='systemd', reason=armed['watchdog']['reason'], pid=started[0].pid,
                                     unit='kvmnet-checkpoint-' + armed['id'])
    removed = manager(FakeModule(tmp_path, state='absent'), launch).run()
    assert removed['changed'] and [operation['attributes']['status'] for operation in removed['operations']] == [
        'armed']
    assert started[0].wait(timeout=10) is not None


@pytest.mark.parametrize('params, needle', [
    (dict(interfaces=[]), 'interfaces is required with state: armed'),
    (dict(timeout=86401), 'timeout=86401 is out of range'),
    (dict(interfaces=['eth0', 'eth0']), 'interfaces lists eth0 more than once'),
    (dict(state='absent', id='nope'), "id='nope' is not a checkpoint id"),
    (dict(state_dir='state'), "state_dir='state' must be an absolute path"),
])
def test_bad_input_is_refused_before_anything(tmp_path, watchdogs, params, needle):
    launch, started = watchdogs
    with pytest.raises(ValidationError) as refused:
        manager(FakeModule(tmp_path, **params), launch).run()
    assert needle in refused.value.msg
    assert started == [] and not (tmp_path / 'log').exists()
