# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    ApplyError,
    NetlinkOperationError,
    Operation,
    apply_plan,
)


class Recorder(object):
    def __init__(self, fail_on=(), fail_revert_on=()):
        self.calls = []
        self.fail_on = fail_on
        self.fail_revert_on = fail_revert_on

    def operation(self, name, revertible=True):
        def apply():
            if name in self.fail_on:
                raise NetlinkOperationError('kernel said no to %s' % name)
            self.calls.append('apply ' + name)

        def revert():
            if name in self.fail_revert_on:
                raise NetlinkOperationError('revert of %s refused' % name)
            self.calls.append('revert ' + name)
        return Operation('set', name, dict(step=name), apply=apply, revert=revert if revertible else None)


def test_check_mode_runs_nothing():
    recorder = Recorder()
    apply_plan([recorder.operation('a'), recorder.operation('b')], check_mode=True)
    assert recorder.calls == []


def test_applies_in_order():
    recorder = Recorder()
    apply_plan([recorder.operation('a'), recorder.operation('b')], check_mode=False)
    assert recorder.calls == ['apply a', 'apply b']


def test_failure_reverts_applied_operations_in_reverse_order():
    recorder = Recorder(fail_on=('c',))
    with pytest.raises(ApplyError) as info:
        apply_plan([recorder.operation('a'), recorder.operation('b'), recorder.operation('c'),
                    recorder.operation('d')], check_mode=False)
    assert recorder.calls == ['apply a', 'apply b', 'revert b', 'revert a']
    assert 'Operation set on c failed: kernel said no to c' in info.value.msg
    assert 'were reverted' in info.value.msg
    assert info.value.details['failed_operation'] == dict(action='set', interface='c', attributes=dict(step='c'))
    assert [op['interface'] for op in info.value.details['reverted_operations']] == ['b', 'a']


def test_first_operation_failing_says_nothing_changed():
    recorder = Recorder(fail_on=('a',))
    with pytest.raises(ApplyError) as info:
        apply_plan([recorder.operation('a')], check_mode=False)
    assert 'Nothing had been changed' in info.value.msg


def test_failed_revert_is_reported_not_hidden():
    recorder = Recorder(fail_on=('c',), fail_revert_on=('a',))
    with pytest.raises(ApplyError) as info:
        apply_plan([recorder.operation('a'), recorder.operation('b', revertible=False), recorder.operation('c')],
                   check_mode=False)
    assert recorder.calls == ['apply a', 'apply b']
    assert 'ALSO failed' in info.value.msg
    assert info.value.details['revert_errors'] == ['set a: revert of a refused']
