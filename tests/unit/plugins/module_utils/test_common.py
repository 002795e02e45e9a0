# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import subprocess
import sys

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _common
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    MINIMUM_PYTHON,
    ApplyError,
    NetlinkOperationError,
    Operation,
    ValidationError,
    already_gone_is_done,
    apply_plan,
    library_refusal,
    python_refusal,
    require_library,
    require_python,
    run_module,
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


# ---- undo of what the kernel applied of a failed request (issue 9.3) ---------------------------------------------

def test_a_failed_request_is_undone_in_part_before_the_others_are_reverted():
    recorder = Recorder(fail_on=('b',))
    failing = recorder.operation('b')
    failing.undo_partial = lambda: recorder.calls.append('undo part of b') or True
    with pytest.raises(ApplyError) as info:
        apply_plan([recorder.operation('a'), failing], check_mode=False)
    assert recorder.calls == ['apply a', 'undo part of b', 'revert a']
    assert info.value.details['revert_errors'] == []
    assert ('were reverted, and what the kernel had applied of it was undone; the host is as it was'
            in info.value.msg)


@pytest.mark.parametrize('sent, words', [(True, 'The kernel had applied part of it; that was undone'),
                                         (False, 'Nothing had been changed.')])
def test_first_operation_failing_in_part_says_so(sent, words):
    recorder = Recorder(fail_on=('a',))
    failing = recorder.operation('a')
    failing.undo_partial = lambda: sent
    with pytest.raises(ApplyError) as info:
        apply_plan([failing], check_mode=False)
    assert words in info.value.msg


def test_a_failed_partial_undo_is_reported():
    recorder = Recorder(fail_on=('a',))
    failing = recorder.operation('a')

    def refuse():
        raise NetlinkOperationError('kernel said no again')
    failing.undo_partial = refuse
    with pytest.raises(ApplyError) as info:
        apply_plan([failing], check_mode=False)
    assert info.value.details['revert_errors'] == ['undo what the kernel applied of set a: kernel said no again']
    assert 'ALSO failed' in info.value.msg


@pytest.mark.parametrize('errno', ['ENODEV', 'EADDRNOTAVAIL', 'ESRCH', 'ENOENT'])
def test_a_delete_of_something_already_gone_counts_as_done(errno):
    def delete():
        raise NetlinkOperationError('gone', errno=errno)
    already_gone_is_done(delete)()  # no exception


def test_other_delete_errors_still_fail():
    def delete():
        raise NetlinkOperationError('busy', errno='EBUSY')
    with pytest.raises(NetlinkOperationError):
        already_gone_is_done(delete)()


# ---- target Python and libraries (issue 9.9, 9.11) ------------------------------------------------------------------

class FakeModule(object):
    """The AnsibleModule surface the guards use: fail_json ends the module."""

    def __init__(self):
        self.failed = None

    def fail_json(self, **result):
        self.failed = result
        raise SystemExit(1)

    def exit_json(self, **result):
        self.exited = result
        raise SystemExit(0)


@pytest.mark.parametrize('version', [(3, 6, 15), (3, 7, 16), (2, 7, 18)])
def test_old_target_python_is_refused_naming_it(version):
    module = FakeModule()
    with pytest.raises(SystemExit):
        require_python(module, version_info=version, executable='/usr/bin/python3.7')
    assert module.failed['msg'].startswith('kvmnet.bridge needs Python >= 3.8 on the target; the interpreter Ansible'
                                           ' uses there is /usr/bin/python3.7 (Python %s).'
                                           % '.'.join(str(part) for part in version))
    assert 'ansible_python_interpreter' in module.failed['msg']
    assert module.failed['python_version'] == '.'.join(str(part) for part in version)


@pytest.mark.parametrize('version', [(3, 8, 0), (3, 9, 18), (3, 13, 0), MINIMUM_PYTHON])
def test_supported_target_python_passes(version):
    require_python(FakeModule(), version_info=version)
    assert python_refusal(version, 'python') is None


def test_the_guards_check_python_before_anything_else(monkeypatch):
    monkeypatch.setattr(_common.sys, 'version_info', (3, 7, 16, 'final', 0))
    module = FakeModule()
    with pytest.raises(SystemExit):
        require_library(module, 'pyroute2', 'ImportError: no pyroute2', None, (0, 7))
    assert 'needs Python >= 3.8' in module.failed['msg']
    module = FakeModule()
    with pytest.raises(SystemExit):
        run_module(module, lambda module: pytest.fail('the manager must not be built on an old Python'))
    assert 'needs Python >= 3.8' in module.failed['msg']


PYENV = os.path.expanduser('~/.pyenv/versions')
OLD_PYTHONS = sorted(glob.glob(os.path.join(PYENV, '3.*', 'bin', 'python3')))


@pytest.mark.skipif(not OLD_PYTHONS, reason='no pyenv interpreters under %s to run _common with' % PYENV)
def test_real_interpreters_agree_with_the_minimum():
    # _common.py has no import outside the standard library at module level: load it in each real interpreter
    path = _common.__file__
    script = ('import importlib.util, sys; spec = importlib.util.spec_from_file_location("c", sys.argv[1]);'
              ' c = importlib.util.module_from_spec(spec); spec.loader.exec_module(c);'
              ' print(c.python_refusal(sys.version_info, sys.executable) or "OK")')
    seen = {}
    for python in OLD_PYTHONS:
        out = subprocess.run([python, '-c', script, path], capture_output=True, text=True,
                             check=True).stdout.strip()
        version = tuple(int(part) for part in python.split(os.sep)[-3].split('.')[:2])
        seen[version] = out
        if version < MINIMUM_PYTHON:
            assert out.startswith('kvmnet.bridge needs Python >= 3.8') and python in out, (python, out)
        else:
            assert out == 'OK', (python, out)
    print('target Python guard under real interpreters: %s' % ', '.join(
        '%d.%d %s' % (version + ('refused' if seen[version] != 'OK' else 'ok',)) for version in sorted(seen)))


def test_missing_library_names_the_packages_and_the_interpreter():
    module = FakeModule()
    with pytest.raises(SystemExit):
        require_library(module, 'pyroute2', 'Traceback: No module named pyroute2', None, (0, 7))
    msg = module.failed['msg']
    assert ('The Python library pyroute2 is missing on the target: the interpreter Ansible uses there, %s, cannot'
            ' import it.' % sys.executable) in msg
    assert 'Debian/Ubuntu: apt install python3-pyroute2' in msg
    assert 'Fedora/RHEL: dnf install python3-pyroute2' in msg
    assert '%s -m pip install "pyroute2>=0.7"' % sys.executable in msg
    assert 'ansible_python_interpreter' in msg
    assert module.failed['exception'] == 'Traceback: No module named pyroute2'
    assert module.failed['python'] == sys.executable


def test_too_old_library_names_both_versions():
    module = FakeModule()
    with pytest.raises(SystemExit):
        require_library(module, 'pyroute2', None, (0, 6, 4), (0, 7))
    assert module.failed['msg'].startswith('pyroute2 0.6.4 is too old: kvmnet.bridge needs pyroute2 >= 0.7 on the'
                                           ' target (interpreter %s).' % sys.executable)
    assert module.failed['found_version'] == '0.6.4'


def test_libvirt_binding_words():
    msg = library_refusal('libvirt-python', '/usr/bin/python3')
    assert 'apt install python3-libvirt' in msg and 'dnf install python3-libvirt' in msg
    assert '/usr/bin/python3 -m pip install "libvirt-python"' in msg


def test_new_enough_library_passes():
    require_library(FakeModule(), 'pyroute2', None, (0, 9, 7), (0, 7))
    require_library(FakeModule(), 'pyroute2', None, None, (0, 7))  # version unknown: not refused


def test_refusal_result_has_the_success_keys():
    # issue 9.19: one shape on every path
    class Refusing(object):
        def __init__(self, module):
            self.before = dict(name='kvmbr0', state='present')

        def run(self):
            raise ValidationError('no', ports=['eth0'])
    module = FakeModule()
    with pytest.raises(SystemExit):
        run_module(module, Refusing)
    assert module.failed == dict(msg='no', changed=False, before=dict(name='kvmbr0', state='present'), operations=[],
                                 ports=['eth0'])
