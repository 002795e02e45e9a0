# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The namespace door (_netns): the missing-namespace wording for a name and for a path, and entered() with a
recording stand-in for setns (entering a real namespace needs root; the integration targets do that)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _netns
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import NetlinkOperationError, ValidationError


def test_name_and_path():
    assert _netns.netns_path('lab') == '/run/netns/lab'
    assert _netns.netns_path('/proc/1/ns/net') == '/proc/1/ns/net'
    assert _netns.netns_path('lab', run_dir='/tmp/x') == '/tmp/x/lab'


def test_missing_name_suggests_ip_netns_add(tmp_path):
    with pytest.raises(ValidationError) as caught:
        _netns.existing_netns_path('lab', run_dir=str(tmp_path))
    assert caught.value.msg == (
        "Network namespace 'lab' does not exist (no '%s/lab'). Create it first (for example `ip netns add lab`):"
        " kvmnet.bridge never creates a namespace implicitly." % tmp_path)
    assert caught.value.details == dict(netns='lab')


def test_missing_path_does_not_suggest_ip_netns_add(tmp_path):
    missing = str(tmp_path / 'no-such-ns')
    with pytest.raises(ValidationError) as caught:
        _netns.existing_netns_path(missing, run_dir=str(tmp_path))
    assert 'ip netns add' not in caught.value.msg
    assert caught.value.msg.startswith("Network namespace path %r does not exist. netns takes the name" % missing)
    assert '/proc/PID/ns/net' in caught.value.msg


def test_existing_name_and_path(tmp_path):
    (tmp_path / 'lab').write_text('')
    assert _netns.existing_netns_path('lab', run_dir=str(tmp_path)) == str(tmp_path / 'lab')
    assert _netns.existing_netns_path(str(tmp_path / 'lab')) == str(tmp_path / 'lab')


class RecordingSetns(object):
    """setns stand-in: records which file each call entered (by the fd's path), can fail on one call."""

    def __init__(self, fail_on=None, code=errno.EINVAL):
        self.entered = []
        self.fail_on = fail_on
        self.code = code

    def __call__(self, fd):
        self.entered.append(os.readlink('/proc/self/fd/%d' % fd))
        if len(self.entered) == self.fail_on:
            raise OSError(self.code, os.strerror(self.code))


@pytest.fixture
def lab(tmp_path):
    (tmp_path / 'lab').write_text('')
    return str(tmp_path)


def open_fds():
    return sorted(os.listdir('/proc/self/fd'))


def test_entered_switches_in_and_back(lab):
    setns = RecordingSetns()
    before = open_fds()
    with _netns.entered('lab', run_dir=lab, setns=setns):
        assert setns.entered == [os.path.join(lab, 'lab')]
    assert setns.entered[1] == os.readlink(_netns.OWN_NETNS)
    assert open_fds() == before


def test_entered_returns_when_the_block_fails(lab):
    setns = RecordingSetns()
    with pytest.raises(KeyError):
        with _netns.entered('lab', run_dir=lab, setns=setns):
            raise KeyError('the block')
    assert len(setns.entered) == 2


def test_entered_without_netns_does_nothing():
    setns = RecordingSetns()
    with _netns.entered(None, setns=setns):
        pass
    with _netns.entered('', setns=setns):
        pass
    assert setns.entered == []


def test_a_file_that_is_not_a_namespace(lab):
    before = open_fds()
    with pytest.raises(NetlinkOperationError) as caught:
        with _netns.entered('lab', run_dir=lab, setns=RecordingSetns(fail_on=1)):
            pytest.fail('the block must not run')
    assert caught.value.msg == "Cannot enter network namespace 'lab': it is not a network namespace file (EINVAL)."
    assert caught.value.details == dict(netns='lab', errno='EINVAL')
    assert open_fds() == before


def test_entering_without_permission(lab):
    with pytest.raises(NetlinkOperationError) as caught:
        with _netns.entered('lab', run_dir=lab, setns=RecordingSetns(fail_on=1, code=errno.EPERM)):
            pass
    assert 'run the task as root' in caught.value.msg and caught.value.details['errno'] == 'EPERM'


def test_missing_namespace_is_refused_before_anything(tmp_path):
    setns = RecordingSetns()
    with pytest.raises(ValidationError):
        with _netns.entered('lab', run_dir=str(tmp_path), setns=setns):
            pass
    assert setns.entered == []
