# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_watchdog: PID trust by start time, root-only directories, checkpoint status (armed, arming, orphaned,
stale), the choice between systemd and a detached process, the systemd-run line, the program copy running on its
own, a detached start (own session, stdio closed, no inherited descriptors), and disarming under the lock."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _watchdog as wd
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError


@pytest.fixture
def sleeper():
    """A real child process to stand for a watchdog (never this test process: stop_process signals it)."""
    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    yield child
    if child.poll() is None:
        child.kill()
    child.wait()


def test_pid_trusted_only_with_its_start_time(sleeper):
    started = wd.start_time(sleeper.pid)
    assert isinstance(started, int)
    assert wd.alive(sleeper.pid, started)
    assert not wd.alive(sleeper.pid, started + 1)  # a recycled PID
    assert not wd.alive(None, started)
    sleeper.kill()
    sleeper.wait()
    assert wd.start_time(sleeper.pid) is None
    assert not wd.alive(sleeper.pid, started)


def test_start_time_reads_past_a_comm_with_spaces_and_parentheses(tmp_path):
    (tmp_path / '42').mkdir()
    (tmp_path / '42' / 'stat').write_text('42 (a) b (c)) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n')
    assert wd.start_time(42, proc=str(tmp_path)) == 777


def test_secure_dir_creates_0700_and_refuses_unsafe_places(tmp_path):
    target = tmp_path / 'state'
    assert wd.secure_dir(str(target), 'state_dir')
    assert oct(target.stat().st_mode & 0o777) == '0o700'
    assert not wd.secure_dir(str(tmp_path / 'missing'), 'state_dir', create=False)
    with pytest.raises(ValidationError, match='must be an absolute path'):
        wd.secure_dir('relative/dir', 'state_dir')
    open_dir = tmp_path / 'open'
    open_dir.mkdir()
    open_dir.chmod(0o777)
    with pytest.raises(ValidationError, match=r'can be written by others \(mode 0777\)'):
        wd.secure_dir(str(open_dir), 'state_dir')
    link = tmp_path / 'link'
    link.symlink_to(target)
    with pytest.raises(ValidationError, match='is a symbolic link'):
        wd.secure_dir(str(link), 'log_dir')
    with pytest.raises(ValidationError, match='is owned by uid'):
        wd.secure_dir(str(target), 'state_dir', euid=os.geteuid() + 1)


def test_ids_are_unit_and_file_name_safe():
    checkpoint_id = wd.new_id(now=0)
    assert checkpoint_id.startswith('19700101T000000-')
    wd.validate_id(checkpoint_id)
    for bad in ('../etc', '', 'x' * 30, '19700101T000000-ABCDEF'):
        with pytest.raises(ValidationError, match='is not a checkpoint id'):
            wd.validate_id(bad)


def _checkpoint(state_dir, checkpoint_id, expires_in=60, ready=None, record=True, armed_ago=1):
    directory = os.path.join(state_dir, checkpoint_id)
    os.makedirs(directory)
    now = time.time()
    if record:
        wd.write_file(os.path.join(directory, 'checkpoint.json'), json.dumps(dict(
            id=checkpoint_id, netns_id='1:2', armed_at=now - armed_ago, expires_at=now + expires_in,
            interfaces=['eth0'], log=os.path.join(state_dir, checkpoint_id + '.log'))))
    if ready is not None:
        wd.write_file(os.path.join(directory, 'ready.json'), json.dumps(ready))
    return wd.Checkpoint(directory)


def test_status_of_checkpoints(tmp_path, sleeper):
    state = str(tmp_path)
    live = dict(pid=sleeper.pid, starttime=wd.start_time(sleeper.pid))
    assert _checkpoint(state, '20260101T000000-000001', ready=live).status() == 'armed'
    assert _checkpoint(state, '20260101T000000-000002', ready=dict(live, starttime=1)).status() == 'orphaned'
    assert _checkpoint(state, '20260101T000000-000003').status() == 'arming'
    assert _checkpoint(state, '20260101T000000-000004', armed_ago=wd.READY_TIMEOUT + 1).status() == 'orphaned'
    assert _checkpoint(state, '20260101T000000-000005', ready=live,
                       expires_in=-wd.STALE_GRACE - 1).status() == 'stale'
    assert _checkpoint(state, '20260101T000000-000006', record=False).status() == 'arming'
    os.mkdir(os.path.join(state, 'not-a-checkpoint'))
    found = wd.checkpoints(state)
    assert [checkpoint.id[-1] for checkpoint in found] == ['1', '2', '3', '4', '5', '6']
    assert [checkpoint.id[-1] for checkpoint in wd.of_netns(found, '9:9')] == ['6']  # unreadable: every netns
    assert wd.checkpoints(os.path.join(state, 'missing')) == []


SYSTEMD = dict(pid1='systemd', booted=True, systemd_run='/usr/bin/systemd-run', same_mount=True, same_net=True)


@pytest.mark.parametrize('probe, netns, expected', [
    (SYSTEMD, None, 'systemd'),
    (dict(SYSTEMD, same_net=False), 'lab', 'systemd'),
    (dict(SYSTEMD, same_net=False), None, 'PID 1'),
    (dict(SYSTEMD, pid1='tini'), None, 'PID 1 is tini, not systemd'),
    (dict(SYSTEMD, systemd_run=None), None, 'systemd-run is not installed'),
    (dict(SYSTEMD, same_mount=False), 'lab', 'another mount namespace'),
])
def test_choose_systemd_only_where_a_unit_sees_the_same_namespaces(probe, netns, expected):
    kind, reason = wd.choose('auto', probe, netns)
    if expected == 'systemd':
        assert kind == 'systemd'
        return
    assert kind == 'detached'
    assert expected in reason if expected != 'PID 1' else 'another network namespace' in reason
    with pytest.raises(ValidationError, match='watchdog=systemd cannot be used here'):
        wd.choose('systemd', probe, netns)


def test_detached_when_asked_and_the_systemd_run_line():
    assert wd.choose('detached', SYSTEMD, None) == ('detached', 'detached process (watchdog: detached)')
    assert wd.systemd_argv('/usr/bin/systemd-run', '20260101T000000-00000a', ['/py', '-I', 'run.py', '/d']) == [
        '/usr/bin/systemd-run', '--unit', 'kvmnet-checkpoint-20260101T000000-00000a', '--collect', '--quiet',
        '--description', 'kvmnet.bridge net_checkpoint 20260101T000000-00000a (restores the network unless'
        ' committed)', '--', '/py', '-I', 'run.py', '/d']


def test_the_program_copy_runs_on_its_own(tmp_path):
    """run.py with the copied module_utils imports everything the watchdog needs (pyroute2 included) with -I."""
    entry = wd.write_program(str(tmp_path / 'cp'))
    for name in wd.PROGRAM_MODULES:
        path = tmp_path / 'cp' / 'lib' / 'ansible_collections' / 'kvmnet' / 'bridge' / 'plugins' / 'module_utils'
        assert oct((path / (name + '.py')).stat().st_mode & 0o777) == '0o600'
    env = dict((key, value) for key, value in os.environ.items() if key != 'PYTHONPATH')
    done = subprocess.run([sys.executable, '-I', entry, '--check'], env=env, cwd='/', capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert oct((tmp_path / 'cp').stat().st_mode & 0o777) == '0o700'


def test_a_detached_start_has_its_own_session_no_stdio_and_no_inherited_descriptors(tmp_path):
    log = str(tmp_path / 'w.log')
    script = ("import os, time\n"
              "fds = sorted(int(fd) for fd in os.listdir('/proc/self/fd'))\n"
              "open(%r, 'w').write(repr((os.getsid(0), os.getpgid(0), os.getppid(), fds)))\n"
              "time.sleep(30)\n") % str(tmp_path / 'facts')
    keep = os.open(os.devnull, os.O_RDONLY)  # a descriptor of ours the watchdog must not inherit
    pid = wd.launch_detached([sys.executable, '-c', script], log)
    try:
        for dummy in range(200):
            if (tmp_path / 'facts').exists() and (tmp_path / 'facts').read_text():
                break
            time.sleep(0.02)
        sid, pgid, ppid, fds = eval((tmp_path / 'facts').read_text())  # noqa: S307 - our own repr
        assert sid == pgid != os.getsid(0)
        assert ppid != os.getpid()
        assert fds == [0, 1, 2, 3]  # stdin, stdout, stderr (the log) and the listing itself
        assert os.readlink('/proc/%d/fd/0' % pid) == '/dev/null'
        assert os.readlink('/proc/%d/fd/2' % pid) == log
    finally:
        os.close(keep)
        os.kill(pid, 9)


def test_disarm_stops_the_watchdog_logs_and_removes(tmp_path, sleeper):
    checkpoint = _checkpoint(str(tmp_path), '20260101T000000-00000b',
                             ready=dict(pid=sleeper.pid, starttime=wd.start_time(sleeper.pid)))
    assert wd.disarm(checkpoint, 'committed', 'committed by a test') is None
    assert sleeper.wait(timeout=10) is not None
    assert not os.path.exists(checkpoint.directory)
    assert wd.log_result(checkpoint.record['log']) == 'committed'
    assert 'committed by a test' in wd.log_text(checkpoint.record['log'])


def test_disarm_after_the_watchdog_restored_reports_it(tmp_path):
    checkpoint = _checkpoint(str(tmp_path), '20260101T000000-00000c')
    wd.log_line(checkpoint.record['log'], wd.RESULT + 'restored')
    os.rename(checkpoint.path, os.path.join(checkpoint.directory, 'restored.json'))  # the watchdog's last act
    assert wd.disarm(checkpoint, 'committed', 'too late') == 'restored'


def test_a_lock_held_by_a_restore_makes_a_commit_wait_then_give_up(tmp_path):
    import fcntl

    directory = str(tmp_path / 'x')
    os.mkdir(directory)
    holder = os.open(os.path.join(directory, 'lock'), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        with pytest.raises(wd.WatchdogError, match='is locked by its watchdog'):
            wd.locked(directory, timeout=0.1)
    finally:
        os.close(holder)
    fd = wd.locked(directory, timeout=0.1)
    assert fd is not None
    os.close(fd)
    assert wd.locked(str(tmp_path / 'gone')) is None
