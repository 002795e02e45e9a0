# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The persistence model (_persist_model) and the all-or-nothing engine (_persist_apply), with a toy backend
that writes into a temporary root (the Host seam) and a recording run_command. The real backends and stacks run
in the molecule scenarios roles/kvm_bridge_host/molecule/persist_*."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _persist_apply, _persist_model
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ApplyError, ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._persist import (
    Backend,
    Command,
    Host,
    Limit,
    PersistError,
    PersistFile,
)

BRIDGE = dict(name='kvmbr0', mac='52:54:00:AA:BB:CC', stp=False, forward_delay=0)
PORT = dict(name='eth0')


def model(**bridge):
    return _persist_model.validate(dict(BRIDGE, **bridge), PORT, {})


# ---- the model ----------------------------------------------------------------------------------------------

def test_model_normalises_and_converts_times_to_kernel_units():
    result = _persist_model.validate(
        dict(name='kvmbr0', mac='52-54-00-AA-BB-CC', stp=True, forward_delay='4s', hello_time=2.5,
             ageing_time=300, priority=4096),
        dict(name='eth0', cost=10, hairpin=True),
        dict(mode='static', addresses=['192.0.2.10/24', '2001:db8::10/64'], gateway4='192.0.2.1'))
    assert result['bridge'] == dict(name='kvmbr0', mac='52:54:00:aa:bb:cc', stp=True, forward_delay=400,
                                    hello_time=250, max_age=None, ageing_time=30000, priority=4096, mtu=None,
                                    mcast_snooping=None, vlan_filtering=None, group_fwd_mask=None)
    assert result['port']['cost'] == 10 and result['port']['hairpin'] is True and result['port']['learning'] is None
    assert result['addressing'] == dict(mode='static', addresses=['192.0.2.10/24', '2001:db8::10/64'],
                                        gateway4='192.0.2.1', gateway6=None)


@pytest.mark.parametrize('value, text', [(1500, '15'), (250, '2.5'), (1, '0.01'), (0, '0'), (30000, '300'),
                                         (205, '2.05')])
def test_seconds_text(value, text):
    assert _persist_model.seconds(value) == text


@pytest.mark.parametrize('bridge, port, addressing, needle', [
    (dict(name='kvm\nbr0'), PORT, {}, "bridge: Invalid interface name 'kvm\\nbr0'"),
    (dict(name='[Match]'), PORT, {}, "bridge: name '[Match]' cannot be written into a network configuration file: '['"),
    (dict(name='kvmbr0'), dict(name='eth#0'), {}, "port: name 'eth#0' cannot be written"),
    (dict(name='-br'), PORT, {}, 'its first character'),
    (dict(name='kvmbr0', mac='52:54:00:aa:bb:cc\n[x]'), PORT, {}, 'bridge: Invalid MAC address'),
    (dict(name='kvmbr0'), dict(name='eth0 #x'), {}, "port: Invalid interface name 'eth0 #x'"),
    (dict(name='kvmbr0'), dict(name='kvmbr0'), {}, 'port: Interface'),
    (dict(name='kvmbr0', forward_delay='15 min'), PORT, {}, 'bridge: forward_delay'),
    (dict(name='kvmbr0', stp=True, forward_delay=0), PORT, {}, 'out of range'),
    (dict(name='kvmbr0'), dict(name='eth0', priority=64), {}, 'port: priority=64 is out of range'),
    (dict(name='kvmbr0'), PORT, dict(mode='static'), 'needs addresses'),
    (dict(name='kvmbr0'), PORT, dict(mode='static', addresses=['192.0.2.10']), 'has no prefix length'),
    (dict(name='kvmbr0'), PORT, dict(mode='static', addresses=['192.0.2.10/24\nDNS=1.1.1.1']), 'is not an IP'),
    (dict(name='kvmbr0'), PORT, dict(mode='static', addresses=['192.0.2.10/24'], gateway4='198.51.100.1'),
     'is not on a subnet'),
    (dict(name='kvmbr0'), PORT, dict(mode='static', addresses=['192.0.2.10/24'], gateway4='2001:db8::1'),
     'is an IPv6 address'),
    (dict(name='kvmbr0'), PORT, dict(mode='dhcp', addresses=['192.0.2.10/24']), 'only used with addressing mode'),
    (dict(name='kvmbr0'), {}, {}, 'port.name is required'),
])
def test_model_refusals_name_the_value(bridge, port, addressing, needle):
    with pytest.raises(ValidationError) as error:
        _persist_model.validate(bridge, port, addressing)
    assert needle in error.value.msg


def test_no_model_string_can_break_a_line_or_open_a_section():
    """Every string in a valid model is a file-safe interface name, a MAC or an address: nothing any stack's
    syntax treats specially (the kernel would accept most of these names)."""
    for name in ('kvm br0', 'kvm\tbr0', 'kvmbr0\r', 'a/b', 'a:b', 'br[0]', 'br;0', 'br=0', 'br"0', "br'0", 'br*',
                 'br$x', 'br#0', 'br,0', '{br}'):
        with pytest.raises(ValidationError):
            _persist_model.validate(dict(name=name), PORT, {})


# ---- the engine ---------------------------------------------------------------------------------------------

class Recorder(object):
    def __init__(self, fail=None):
        self.calls = []
        self.fail = fail or {}

    def __call__(self, argv, data=None):
        self.calls.append(list(argv))
        return self.fail.get(tuple(argv), (0, '', ''))


class ToyBackend(Backend):
    """Two files from the model, one optional stale file, one prepare command, activation recorded."""

    name = 'toy'

    def __init__(self, host, options=None, commands=(), is_running=True, activation_fails=False):
        super(ToyBackend, self).__init__(host, options)
        self.commands = list(commands)
        self.is_running = is_running
        self.activation_fails = activation_fails
        self.activations = []

    def render(self, model):
        bridge = model['bridge']
        return [PersistFile('/etc/toy/%s.conf' % bridge['name'],
                            '# marker\nname=%s\nfd=%s\n' % (bridge['name'], bridge['forward_delay'])),
                PersistFile('/etc/toy/ports/%s.conf' % model['port']['name'], 'port=%s' % model['port']['name'],
                            mode=0o644)]

    def stale(self, model):
        return [path for path in self.host.glob('/etc/toy/*.conf')
                if path != '/etc/toy/%s.conf' % model['bridge']['name']]

    def limits(self, model):
        return [Limit('bridge.forward_delay', 0, 1500, 'toy applies 15 s')] if model and not model['bridge'][
            'forward_delay'] else []

    def prepare(self, model):
        return list(self.commands)

    def running(self):
        return self.is_running

    def activate(self, model, changed):
        self.activations.append((model is not None, list(changed)))
        if self.activation_fails and model is not None:
            raise PersistError('toy refused the files')
        return [['toyctl', 'reload']] if changed else []


@pytest.fixture
def root(tmp_path):
    (tmp_path / 'etc').mkdir()
    return tmp_path


def snapshot(root):
    found = {}
    for directory, _subdirectories, names in os.walk(str(root)):
        for name in names:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            with open(path, 'rb') as handle:
                found[os.path.relpath(path, str(root))] = (handle.read(), stat.S_IMODE(info.st_mode))
        if directory != str(root):
            found.setdefault(os.path.relpath(directory, str(root)) + '/', None)
    return found


def test_first_run_creates_files_with_modes_and_parent_dirs_then_nothing_changes(root):
    backend = ToyBackend(Host(Recorder(), str(root)))
    the_plan = _persist_apply.plan(backend, model())
    assert [(change.path, change.state) for change in the_plan.files] == [
        ('/etc/toy/kvmbr0.conf', 'created'), ('/etc/toy/ports/eth0.conf', 'created')]
    assert the_plan.files[0].diff()['before_header'] == '/dev/null'
    done = _persist_apply.apply(backend, model(), the_plan)
    assert done == dict(activation=[['toyctl', 'reload']], activated=True)
    assert stat.S_IMODE(os.stat(str(root / 'etc/toy/kvmbr0.conf')).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(root / 'etc/toy/ports/eth0.conf')).st_mode) == 0o644
    assert (root / 'etc/toy/ports/eth0.conf').read_text() == 'port=eth0\n'
    again = _persist_apply.plan(backend, model())
    assert not again.changed and [change.state for change in again.files] == ['unchanged', 'unchanged']
    assert not [name for name in os.listdir(str(root / 'etc/toy')) if name.startswith('.kvmnet-')]


def test_a_mode_change_alone_is_an_update_with_the_mode_in_the_diff_header(root):
    backend = ToyBackend(Host(Recorder(), str(root)))
    _persist_apply.apply(backend, model(), _persist_apply.plan(backend, model()))
    os.chmod(str(root / 'etc/toy/kvmbr0.conf'), 0o644)
    the_plan = _persist_apply.plan(backend, model())
    change = the_plan.changes[0]
    assert change.state == 'updated' and change.as_dict()['mode_before'] == '0644'
    assert 'mode 0644' in change.diff()['after_header'] and '-> mode 0600' in change.diff()['after_header']


def test_renamed_bridge_removes_the_stale_file(root):
    backend = ToyBackend(Host(Recorder(), str(root)))
    _persist_apply.apply(backend, model(), _persist_apply.plan(backend, model()))
    renamed = model(name='br1')
    the_plan = _persist_apply.plan(backend, renamed)
    assert sorted((change.path, change.state) for change in the_plan.changes) == [
        ('/etc/toy/br1.conf', 'created'), ('/etc/toy/kvmbr0.conf', 'removed')]
    _persist_apply.apply(backend, renamed, the_plan)
    assert sorted(os.listdir(str(root / 'etc/toy'))) == ['br1.conf', 'ports']


def test_failed_activation_restores_every_file_and_undoes_commands_then_reactivates(root):
    recorder = Recorder()
    backend = ToyBackend(Host(recorder, str(root)),
                         commands=[Command(['toyctl', 'autoconnect', 'off'], undo=['toyctl', 'autoconnect', 'on'])])
    (root / 'etc/toy').mkdir()
    (root / 'etc/toy/kvmbr0.conf').write_text('old\n')
    os.chmod(str(root / 'etc/toy/kvmbr0.conf'), 0o640)
    (root / 'etc/toy/other.conf').write_text('stale\n')
    before = snapshot(root)
    backend.activation_fails = True
    with pytest.raises(ApplyError) as error:
        _persist_apply.apply(backend, model(), _persist_apply.plan(backend, model()))
    assert 'toy refused the files' in error.value.msg and 'the host is as it was' in error.value.msg
    assert '3 files restored, 1 commands undone' in error.value.msg
    assert snapshot(root) == before
    assert recorder.calls == [['toyctl', 'autoconnect', 'off'], ['toyctl', 'autoconnect', 'on']]
    assert backend.activations == [(True, ['/etc/toy/kvmbr0.conf', '/etc/toy/ports/eth0.conf',
                                           '/etc/toy/other.conf']),
                                   (False, ['/etc/toy/kvmbr0.conf', '/etc/toy/ports/eth0.conf',
                                            '/etc/toy/other.conf'])]


def test_failed_command_takes_back_files_and_earlier_commands(root):
    recorder = Recorder(fail={('toyctl', 'second'): (3, '', 'no such profile')})
    backend = ToyBackend(Host(recorder, str(root)), commands=[
        Command(['toyctl', 'first'], undo=['toyctl', 'unfirst']), Command(['toyctl', 'second'], undo=['x'])])
    before = snapshot(root)
    with pytest.raises(ApplyError) as error:
        _persist_apply.apply(backend, model(), _persist_apply.plan(backend, model()))
    assert 'toyctl second failed (rc 3): no such profile' in error.value.msg
    assert snapshot(root) == before  # the created parent directories are gone too
    assert recorder.calls == [['toyctl', 'first'], ['toyctl', 'second'], ['toyctl', 'unfirst']]


def test_a_failing_undo_says_the_host_may_be_half_changed(root):
    recorder = Recorder(fail={('toyctl', 'second'): (1, '', 'boom'), ('toyctl', 'unfirst'): (1, '', 'stuck')})
    backend = ToyBackend(Host(recorder, str(root)), commands=[
        Command(['toyctl', 'first'], undo=['toyctl', 'unfirst']), Command(['toyctl', 'second'])])
    with pytest.raises(ApplyError) as error:
        _persist_apply.apply(backend, model(), _persist_apply.plan(backend, model()))
    assert 'may be half changed' in error.value.msg and 'undo toyctl unfirst: rc 1: stuck' in error.value.msg


def test_stack_not_running_writes_files_without_activation(root):
    backend = ToyBackend(Host(Recorder(), str(root)), is_running=False)
    done = _persist_apply.apply(backend, model(), _persist_apply.plan(backend, model()))
    assert done == dict(activation=[], activated=False) and backend.activations == []
    assert (root / 'etc/toy/kvmbr0.conf').exists()


def test_refuses_to_replace_a_symlink_or_directory(root):
    (root / 'etc/toy').mkdir()
    os.symlink('/etc/passwd', str(root / 'etc/toy/kvmbr0.conf'))
    with pytest.raises(PersistError) as error:
        _persist_apply.plan(ToyBackend(Host(Recorder(), str(root))), model())
    assert '/etc/toy/kvmbr0.conf exists and is not a regular file (a symlink)' in error.value.msg


def test_limits_are_reported_in_the_plan(root):
    the_plan = _persist_apply.plan(ToyBackend(Host(Recorder(), str(root))), model())
    assert [limit.as_dict() for limit in the_plan.limits] == [
        dict(attribute='bridge.forward_delay', wanted=0, kernel=1500, why='toy applies 15 s')]


def test_host_seam(root):
    (root / 'usr/sbin').mkdir(parents=True)
    (root / 'usr/sbin/nmcli').write_text('#!/bin/sh\n')
    os.chmod(str(root / 'usr/sbin/nmcli'), 0o755)
    host = Host(Recorder(), str(root))
    assert host.which('nmcli') == '/usr/sbin/nmcli' and host.which('networkctl') is None
    assert host.read('/usr/sbin/nmcli') == '#!/bin/sh\n' and host.read('/nope') is None
    assert host.glob('/usr/sbin/*') == ['/usr/sbin/nmcli'] and host.exists('/usr/sbin')
