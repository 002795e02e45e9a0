# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host lock and the run record of ``_common.run_module`` (issue 11, fault campaign): one task at a time per
network namespace, a killed holder never leaves a stale lock, and the run after one killed while applying its plan
says what that run left and that it was repaired. The real-kernel side is tests/campaign/faults/."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import signal
import time

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _common, _persist_apply
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    ApplyError,
    HostLock,
    KvmnetError,
    NetlinkOperationError,
    Operation,
    RunJournal,
    apply_plan,
    run_module,
)


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    directory = str(tmp_path / 'run')
    monkeypatch.setenv(_common.RUN_DIR_ENV, directory)
    return directory


class FakeModule(object):
    def __init__(self, params=None, check_mode=False, name='kvmnet.bridge.linux_bridge'):
        self.params = dict(dict(netns='lab', name='kvmbr0'), **(params or {}))
        self.check_mode = check_mode
        self._name = name
        self.warnings = []
        self.result = self.failed = None

    def warn(self, text):
        self.warnings.append(text)

    def exit_json(self, **result):
        self.result = result
        raise SystemExit(0)

    def fail_json(self, **result):
        self.failed = result
        raise SystemExit(1)


def _operations(log, fail_at=None):
    def make(number):
        def apply():
            if number == fail_at:
                raise NetlinkOperationError('refused', errno='EIO')
            log.append(('apply', number))
        return Operation('set', 'step%d' % number, apply=apply, revert=lambda: log.append(('revert', number)))
    return [make(number) for number in (1, 2, 3)]


def _manager(operations, die_after=None):
    """A manager whose run applies ``operations``; ``die_after``: leave like a killed process after that many
    (an exception that is not a KvmnetError escapes run_module, as SIGKILL would leave the record behind)."""
    class Dying(Exception):
        pass

    class Manager(object):
        def __init__(self, module):
            self.module = module

        def run(self):
            if die_after is not None:
                for operation in operations[die_after:]:
                    operation.apply = _raiser(Dying)
            apply_plan(operations, self.module.check_mode)
            return dict(changed=bool(operations), operations=[op.describe() for op in operations])
    return Manager, Dying


def _raiser(kind):
    def apply():
        raise kind()
    return apply


def _run(module, factory, catch=SystemExit):
    with pytest.raises(catch):
        run_module(module, factory)


def test_a_clean_run_leaves_no_lock_file_and_no_record(run_dir):
    module = FakeModule()
    _run(module, _manager(_operations([]))[0])
    assert module.result['changed'] is True and 'interrupted_runs' not in module.result
    assert os.listdir(run_dir) == []


def test_a_run_killed_half_way_is_reported_by_the_next_run_of_the_same_task_which_repairs_it(run_dir):
    log = []
    factory, dying = _manager(_operations(log), die_after=2)
    _run(FakeModule(), factory, catch=dying)
    records = [name for name in os.listdir(run_dir) if '.run.' in name]
    assert len(records) == 1  # the lock file is gone, the record stays: the run died while applying
    with open(os.path.join(run_dir, records[0])) as handle:
        record = json.load(handle)
    assert (record['applied'], record['total'], record['target']) == (2, 3, 'kvmbr0')

    module = FakeModule()
    _run(module, _manager(_operations(log))[0])
    interrupted = module.result['interrupted_runs']
    assert [(item['applied'], item['total'], item['this_task']) for item in interrupted] == [(2, 3, True)]
    assert len(module.warnings) == 1
    assert 'interrupted after 2 of 3 operations (applied: set step1, set step2)' in module.warnings[0]
    assert 'repaired what it left half done' in module.warnings[0]
    assert os.listdir(run_dir) == []  # consumed by the run that repaired it

    again = FakeModule()
    _run(again, _manager([])[0])
    assert 'interrupted_runs' not in again.result and again.warnings == []


def test_a_record_of_another_task_is_reported_and_kept(run_dir):
    factory, dying = _manager(_operations([]), die_after=1)
    _run(FakeModule(), factory, catch=dying)
    other = FakeModule(params=dict(name='kvmbr1'))
    _run(other, _manager([])[0])
    assert other.result['interrupted_runs'][0]['this_task'] is False
    assert "run that task again" in other.warnings[0] and "'kvmbr0'" in other.warnings[0]
    assert any('.run.' in name for name in os.listdir(run_dir))


def test_check_mode_reports_the_record_and_keeps_it(run_dir):
    factory, dying = _manager(_operations([]), die_after=1)
    _run(FakeModule(), factory, catch=dying)
    module = FakeModule(check_mode=True)
    _run(module, _manager(_operations([]))[0])
    assert 'this is check mode' in module.warnings[0]
    assert any('.run.' in name for name in os.listdir(run_dir))


def test_a_failed_plan_that_was_reverted_leaves_no_record_and_the_failure_keeps_its_shape(run_dir):
    log = []
    module = FakeModule()
    _run(module, _manager(_operations(log, fail_at=2))[0])
    assert module.failed['msg'].startswith('Operation set on step2 failed: refused')
    assert log == [('apply', 1), ('revert', 1)]
    assert os.listdir(run_dir) == []


def test_a_failed_plan_whose_revert_failed_keeps_its_record_for_the_next_run(run_dir):
    def broken_revert():
        raise NetlinkOperationError('gone', errno='EIO')
    operations = _operations([], fail_at=2)
    operations[0].revert = broken_revert
    module = FakeModule()
    _run(module, _manager(operations)[0])
    assert 'ALSO failed' in module.failed['msg']
    nxt = FakeModule()
    _run(nxt, _manager([])[0])
    assert nxt.result['interrupted_runs'][0]['applied'] == 1


def test_check_mode_writes_no_record(run_dir):
    journal = RunJournal(HostLock.acquire('lab', 'test', directory=run_dir), 'm', 'x')
    RunJournal.activate(journal)
    try:
        apply_plan(_operations([]), check_mode=True)
    finally:
        RunJournal.activate(None)
    assert [name for name in os.listdir(run_dir) if '.run.' in name] == []


def _child(function):
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the forked child
        try:
            function()
        finally:
            os._exit(0)
    return pid


def test_the_lock_is_exclusive_between_processes_and_names_its_holder(run_dir):
    read_end, write_end = os.pipe()

    def hold():
        HostLock.acquire('lab', 'kvmnet.bridge.bridge_port', directory=run_dir)
        os.write(write_end, b'x')
        time.sleep(30)
    pid = _child(hold)
    try:
        assert os.read(read_end, 1) == b'x'
        with pytest.raises(KvmnetError) as failure:
            HostLock.acquire('lab', 'me', directory=run_dir, timeout=0.2)
        assert 'kvmnet.bridge.bridge_port' in failure.value.msg and "network namespace 'lab'" in failure.value.msg
        assert 'pid %d' % pid in failure.value.details['holder']
        other = HostLock.acquire('other', 'me', directory=run_dir, timeout=0.2)  # another namespace: free
        other.release()
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    start = time.monotonic()
    lock = HostLock.acquire('lab', 'me', directory=run_dir, timeout=5)  # a killed holder leaves no stale lock
    assert time.monotonic() - start < 1
    lock.release()
    assert os.listdir(run_dir) == []


def test_a_waiter_gets_the_lock_when_the_holder_releases_it(run_dir):
    lock = HostLock.acquire('lab', 'first', directory=run_dir)

    def wait_and_take():
        second = HostLock.acquire('lab', 'second', directory=run_dir, timeout=10)
        with open(os.path.join(run_dir, 'took'), 'w') as handle:
            handle.write(str(second.path is not None))
        second.release()
    pid = _child(wait_and_take)
    time.sleep(0.3)
    assert not os.path.exists(os.path.join(run_dir, 'took'))
    lock.release()
    os.waitpid(pid, 0)
    with open(os.path.join(run_dir, 'took')) as handle:
        assert handle.read() == 'True'


def test_no_run_directory_means_no_lock_and_no_record(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    lock = HostLock.acquire(None, 'me', directory=str(blocker / 'run'))
    assert lock.path is None
    journal = RunJournal(lock, 'm', 'x')
    journal.begin([])
    assert journal.close() == []
    lock.release()


@pytest.mark.parametrize('params, identity', [
    (dict(name='kvmbr0'), 'kvmbr0'),
    (dict(id='abc'), 'abc'),
    (dict(domain='vm1'), 'vm1'),
    (dict(bridge=dict(name='kvmbr0')), 'kvmbr0'),
    (dict(bridge='br1'), 'br1'),
    (dict(), ''),
])
def test_run_identity(params, identity):
    assert _common.run_identity(params) == identity


def test_persist_apply_removes_temporary_files_a_killed_run_left(tmp_path):
    directory = tmp_path / 'etc'
    directory.mkdir()
    (directory / '.kvmnet-abc123').write_text('half')
    (directory / 'keep.conf').write_text('x')
    assert _persist_apply.leftovers([str(directory), str(directory), str(tmp_path / 'missing')]) == [
        str(directory / '.kvmnet-abc123')]


def test_an_apply_error_is_still_the_domain_error():
    assert issubclass(ApplyError, KvmnetError)


def test_an_object_deleted_under_the_plan_is_named_and_its_revert_counts_as_done():
    log = []
    present = set(['kvmbr0', 'eth0'])

    def set_bridge():
        log.append('set kvmbr0')

    def revert_bridge():
        raise NetlinkOperationError('no such interface', errno='ENODEV')

    def enslave():
        present.discard('kvmbr0')  # deleted by someone else, between the read and this write
        raise NetlinkOperationError('the kernel rejected a value as invalid (EINVAL)', errno='EINVAL')
    operations = [Operation('set_mac', 'kvmbr0', apply=set_bridge, revert=revert_bridge),
                  Operation('enslave', 'eth0', apply=enslave, revert=lambda: None)]
    with pytest.raises(ApplyError) as failure:
        apply_plan(operations, False, watch=['kvmbr0', 'eth0'], exists=lambda name: name in present)
    assert "'kvmbr0' no longer exists: something else on the host deleted it after this task read it" in \
        failure.value.msg
    assert 'ALSO failed' not in failure.value.msg and failure.value.details['vanished'] == ['kvmbr0']
    assert failure.value.details['revert_errors'] == []


def test_a_revert_error_on_an_object_that_still_exists_is_still_reported():
    def fail():
        raise NetlinkOperationError('refused', errno='EIO')

    def gone():
        raise NetlinkOperationError('no such interface', errno='ENODEV')
    operations = [Operation('set', 'kvmbr0', apply=lambda: None, revert=gone), Operation('set', 'x', apply=fail)]
    with pytest.raises(ApplyError) as failure:
        apply_plan(operations, False, watch=['kvmbr0'], exists=lambda name: True)
    assert 'ALSO failed' in failure.value.msg and 'vanished' not in failure.value.details


def test_a_namespace_deleted_while_the_task_ran_fails_the_task(tmp_path, run_dir, monkeypatch):
    from ansible_collections.kvmnet.bridge.plugins.module_utils import _netns
    netns_dir = tmp_path / 'netns'
    netns_dir.mkdir()
    (netns_dir / 'lab').write_text('')
    monkeypatch.setattr(_netns, 'NETNS_RUN_DIR', str(netns_dir))
    monkeypatch.setattr(_netns.netns_path, '__defaults__', (str(netns_dir),))

    class Deleting(object):
        def __init__(self, module):
            pass

        def run(self):
            (netns_dir / 'lab').unlink()
            return dict(changed=True)
    module = FakeModule()
    _run(module, Deleting)
    assert module.failed['msg'].startswith("Network namespace 'lab' was deleted (or replaced by another of that"
                                           " name) while this task ran in it. What the task changed went with")
    assert module.failed['changed'] is False and module.failed['netns'] == 'lab'
    assert _common.netns_identity(None) is None and _common.netns_identity('lab') is None
