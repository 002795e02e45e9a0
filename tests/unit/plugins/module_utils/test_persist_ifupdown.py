# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ifupdown backend (_persist_ifupdown) against a temporary root (the Host seam) and a recording
run_command. ifupdown itself (its parser, ifup on a live bridge, the boot replay) runs in the molecule scenario
roles/kvm_bridge_host/molecule/persist_ifupdown and through tests/persist/validate_ifupdown.sh there."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _persist_apply, _persist_ifupdown, _persist_model
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ApplyError
from ansible_collections.kvmnet.bridge.plugins.module_utils._persist import MARKER, Host, PersistError

STANZA = '/etc/network/interfaces.d/kvmnet-kvmbr0'
DEBIAN_MAIN = (
    '# interfaces(5) file used by ifup(8) and ifdown(8)\n'
    'source /etc/network/interfaces.d/*\n'
    '\n'
    'auto lo\n'
    'iface lo inet loopback\n'
    '\n'
    '# The primary network interface\n'
    'allow-hotplug eth0\n'
    'iface eth0 inet static\n'
    '    address 192.0.2.10/24\n'
    '    gateway 192.0.2.1\n'
    '\n'
    'iface wlan0 inet dhcp\n')


def model(bridge=None, port=None, addressing=None):
    return _persist_model.validate(dict(dict(name='kvmbr0', mac='52:54:00:12:34:56', stp=False, forward_delay=0),
                                        **(bridge or {})),
                                   dict(dict(name='eth0'), **(port or {})), addressing or {})


class Recorder(object):
    """run_command: records argv, answers from ``answers`` (argv tuple -> (rc, out, err)), default (0, '', '')."""

    def __init__(self, answers=None):
        self.calls = []
        self.answers = answers or {}

    def __call__(self, argv, data=None):
        self.calls.append(argv)
        return self.answers.get(tuple(argv), (0, '', ''))


def write(root, path, text, mode=0o644):
    full = os.path.join(str(root), path.lstrip('/'))
    if not os.path.isdir(os.path.dirname(full)):
        os.makedirs(os.path.dirname(full))
    with open(full, 'w') as handle:
        handle.write(text)
    os.chmod(full, mode)
    return full


def programs(root, *names):
    for name in names:
        write(root, '/sbin/' + name, '#!/bin/sh\n', 0o755)


@pytest.fixture
def host(tmp_path):
    """A Debian-like host with ifupdown 0.8 and bridge-utils installed, ifupdown up since boot."""
    programs(tmp_path, 'ifup', 'ifdown', 'ifquery', 'brctl')
    write(tmp_path, '/lib/bridge-utils/ifupdown.sh', '#!/bin/sh\n', 0o755)
    write(tmp_path, '/etc/network/interfaces', 'source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\n')
    os.makedirs(str(tmp_path / 'etc/network/interfaces.d'))
    write(tmp_path, '/run/network/ifstate', 'lo=lo\n')
    recorder = Recorder()
    result = Host(recorder, root=str(tmp_path))
    result.recorder = recorder
    return result


def backend(host):
    return _persist_ifupdown.BACKEND(host, {})


def text(the_model):
    files = _persist_ifupdown.BACKEND(None, {}).render(the_model)
    assert len(files) == 1
    return files[0].content


# ---- render ---------------------------------------------------------------------------------------------------

def test_render_the_vm_host_defaults():
    files = backend(None).render(model())
    assert [(f.path, f.mode) for f in files] == [(STANZA, 0o644)]
    assert files[0].content == (
        '# ' + MARKER + '\n'
        '# ifupdown (bridge-utils) configuration of bridge kvmbr0 and its port eth0: docs/persist/ifupdown.md.\n'
        '\n'
        'auto kvmbr0\n'
        'iface kvmbr0 inet manual\n'
        '    bridge_ports eth0\n'
        '    bridge_hw 52:54:00:12:34:56\n'
        '    bridge_stp off\n'
        '    bridge_fd 0\n'
        '    bridge_maxwait 0\n'
        '    post-up test ! -d /proc/sys/net/ipv6/conf/eth0 || { ip link set dev eth0 addrgenmode none;'
        ' ip -6 addr flush dev eth0 scope link; }\n'
        '    post-up test ! -d /proc/sys/net/ipv6/conf/kvmbr0 || { echo 0 >/proc/sys/net/ipv6/conf/kvmbr0/accept_ra;'
        ' echo 0 >/proc/sys/net/ipv6/conf/kvmbr0/autoconf; }\n'
        '\n'
        '# eth0 is a port of kvmbr0 and has no address of its own (bridge_ports brings it up).\n'
        'iface eth0 inet manual\n')


def test_render_every_bridge_and_port_field():
    content = text(model(
        dict(stp=True, forward_delay=4, hello_time=2.5, max_age=20, ageing_time=300, priority=4096,
             mtu=9000, mcast_snooping=False, vlan_filtering=True, group_fwd_mask=8),
        dict(cost=100, priority=40, hairpin=True, learning=False, unicast_flood=True, mcast_flood=False,
             bpdu_guard=True, root_block=False, isolated=True, neigh_suppress=False)))
    options = [line.strip() for line in content.splitlines() if line.startswith('    ')]
    assert options[:-1] == [
        'bridge_ports eth0', 'bridge_hw 52:54:00:12:34:56', 'bridge_stp on', 'bridge_fd 4', 'bridge_hello 2.5',
        'bridge_maxage 20', 'bridge_ageing 300', 'bridge_bridgeprio 4096', 'bridge_pathcost eth0 100',
        'bridge_portprio eth0 40', 'bridge_vlan_aware yes', 'bridge_maxwait 0', 'mtu 9000',
        'post-up ip link set dev kvmbr0 type bridge mcast_snooping 0 group_fwd_mask 8',
        'post-up bridge link set dev eth0 hairpin on learning off flood on mcast_flood off guard on root_block off'
        ' isolated on neigh_suppress off',
        'post-up test ! -d /proc/sys/net/ipv6/conf/eth0 || { ip link set dev eth0 addrgenmode none;'
        ' ip -6 addr flush dev eth0 scope link; }']
    assert options[-1].startswith('post-up test ! -d /proc/sys/net/ipv6/conf/kvmbr0 ')


def test_render_unset_fields_are_absent():
    content = text(model(dict(mac=None)))
    for key in ('bridge_hw', 'bridge_hello', 'bridge_maxage', 'bridge_ageing', 'bridge_bridgeprio', 'bridge_pathcost',
                'bridge_portprio', 'bridge_vlan_aware', '    mtu ', 'type bridge', 'bridge link', '    address',
                '    gateway'):
        assert key not in content


def test_render_vlan_filtering_off_is_written_and_none_is_not():
    assert 'type bridge vlan_filtering 0' in text(model(dict(vlan_filtering=False)))
    assert 'vlan_filtering' not in text(model())


def test_render_dhcp():
    content = text(model(addressing=dict(mode='dhcp')))
    assert 'iface kvmbr0 inet dhcp\n    bridge_ports eth0\n' in content
    assert 'accept_ra' not in content  # a DHCP host keeps IPv6 autoconfiguration
    assert content.count('iface kvmbr0') == 1


def test_render_static_one_stanza_per_address_gateway_in_the_first():
    content = text(model(addressing=dict(mode='static', gateway4='192.0.2.1', gateway6='2001:db8::1',
                                         addresses=['2001:db8::10/64', '192.0.2.10/24', '192.0.2.11/24'])))
    body = content.split('auto kvmbr0\n')[1]
    headers = [line for line in body.splitlines() if line.startswith('iface kvmbr0')]
    assert headers == ['iface kvmbr0 inet static', 'iface kvmbr0 inet static', 'iface kvmbr0 inet6 static']
    assert '    address 192.0.2.10/24\n    gateway 192.0.2.1\n' in content
    assert '    address 192.0.2.11/24\n\n' in content
    assert '    address 2001:db8::10/64\n    gateway 2001:db8::1\n' in content
    first = body.split('\n\n')[0]
    assert 'bridge_ports eth0' in first and 'accept_ra' in first
    assert body.count('    bridge_ports') == 1


def test_render_static_ipv6_only_has_a_manual_inet_stanza_with_the_bridge_keys():
    content = text(model(addressing=dict(mode='static', addresses=['2001:db8::10/64'])))
    headers = [line for line in content.splitlines() if line.startswith('iface kvmbr0')]
    assert headers == ['iface kvmbr0 inet manual', 'iface kvmbr0 inet6 static']
    assert content.index('bridge_ports') < content.index('inet6 static')


def test_render_is_deterministic_and_pure():
    the_model = model(dict(priority=8192, ageing_time=10), dict(cost=5))
    assert text(the_model) == text(_persist_model.validate(
        dict(name='kvmbr0', mac='52:54:00:12:34:56', stp=False, forward_delay=0, priority=8192, ageing_time=10),
        dict(name='eth0', cost=5), {}))
    assert backend(None).render(the_model) == backend(None).render(the_model)  # Host None: no host read at all


def test_render_marker_is_the_first_line():
    assert text(model()).splitlines()[0] == '# ' + MARKER


@pytest.mark.parametrize('bridge, name', [('kvmbr0', 'kvmnet-kvmbr0'), ('br.lan', 'kvmnet-br_lan'),
                                          ('br@x+1', 'kvmnet-br_x_1'), ('vm_br-1', 'kvmnet-vm_br-1')])
def test_file_name_passes_run_parts_rules(bridge, name):
    path = _persist_ifupdown.file_name(bridge)
    assert path == '/etc/network/interfaces.d/' + name
    assert _persist_ifupdown._RUN_PARTS_CHARS.search(os.path.basename(path)) is None


# ---- limits ---------------------------------------------------------------------------------------------------

def test_limits_none_for_any_model():
    everything = model(
        dict(stp=True, forward_delay=2, hello_time=1, max_age=6, ageing_time=0, priority=0, mtu=1280,
             mcast_snooping=True, vlan_filtering=False, group_fwd_mask=0),
        dict(cost=1, priority=0, hairpin=False, learning=True, unicast_flood=False, mcast_flood=True,
             bpdu_guard=False, root_block=True, isolated=False, neigh_suppress=True),
        dict(mode='static', addresses=['192.0.2.10/24'], gateway4='192.0.2.1'))
    assert backend(None).limits(model()) == []
    assert backend(None).limits(everything) == []


# ---- stale ----------------------------------------------------------------------------------------------------

def test_stale_lists_only_our_marked_files_of_other_bridges(host):
    write(host.root, STANZA, text(model()))
    write(host.root, '/etc/network/interfaces.d/kvmnet-oldbr', text(model(dict(name='oldbr'))))
    write(host.root, '/etc/network/interfaces.d/kvmnet-admin', 'auto br9\niface br9 inet manual\n')
    write(host.root, '/etc/network/interfaces.d/other', '# ' + MARKER + '\n')
    assert backend(host).stale(model()) == ['/etc/network/interfaces.d/kvmnet-oldbr']


# ---- preflight ------------------------------------------------------------------------------------------------

def test_preflight_passes_on_debian_defaults(host):
    backend(host).preflight(model())
    assert host.recorder.calls == []  # read-only: runs nothing


@pytest.mark.parametrize('main', [
    'source /etc/network/interfaces.d/*\n',
    'source-directory /etc/network/interfaces.d\n',
    'source-directory interfaces.d/\n',
    'source interfaces.d/kvmnet-*\n',
    'source /etc/network/interfaces.d/kvm*\\\n',
    '# comment\nsource /etc/network/extra\n',
])
def test_preflight_accepts_every_include_form(host, main):
    write(host.root, '/etc/network/interfaces', main)
    write(host.root, '/etc/network/extra', 'source-directory /etc/network/interfaces.d\n')
    backend(host).preflight(model())


@pytest.mark.parametrize('main', [
    'auto lo\niface lo inet loopback\n',
    '# source /etc/network/interfaces.d/*\n',
    'source /etc/network/interfaces.d/*.cfg\n',
    'source-directory /etc/network/other.d\n',
])
def test_preflight_refuses_a_main_file_that_does_not_include_the_directory(host, main):
    write(host.root, '/etc/network/interfaces', main)
    with pytest.raises(PersistError) as error:
        backend(host).preflight(model())
    assert error.value.msg == (
        'ifupdown backend: /etc/network/interfaces (and the files it sources) does not include'
        ' /etc/network/interfaces.d/kvmnet-kvmbr0: ifup would never read the stanza of kvmbr0. Add the line'
        ' "source /etc/network/interfaces.d/*" (Debian\'s default) or "source-directory /etc/network/interfaces.d"'
        ' to /etc/network/interfaces.')


def test_preflight_refuses_a_missing_main_file(host):
    os.unlink(host.path('/etc/network/interfaces'))
    with pytest.raises(PersistError, match='/etc/network/interfaces does not exist or cannot be read'):
        backend(host).preflight(model())


@pytest.mark.parametrize('program, needle', [('ifup', 'ifup not found'), ('brctl', 'bridge-utils is not installed')])
def test_preflight_refuses_missing_programs(host, program, needle):
    os.unlink(host.path('/sbin/' + program))
    with pytest.raises(PersistError, match=needle):
        backend(host).preflight(model())


def test_preflight_refuses_ifupdown2(host):
    os.makedirs(host.path('/usr/share/ifupdown2'))
    with pytest.raises(PersistError, match='ifupdown2 ignores bridge_hw'):
        backend(host).preflight(model())


def test_preflight_dhcp_needs_a_dhcp_client(host):
    with pytest.raises(PersistError, match='Install isc-dhcp-client'):
        backend(host).preflight(model(addressing=dict(mode='dhcp')))
    programs(host.root, 'dhclient')
    backend(host).preflight(model(addressing=dict(mode='dhcp')))


def test_preflight_refuses_an_auto_line_shared_with_other_interfaces(host):
    write(host.root, '/etc/network/interfaces', 'source /etc/network/interfaces.d/*\nauto lo eth0\n'
          'iface eth0 inet dhcp\n')
    with pytest.raises(PersistError) as error:
        backend(host).preflight(model())
    assert error.value.msg.startswith(
        'ifupdown backend: /etc/network/interfaces:2 "auto lo eth0" brings eth0 up together with other interfaces')


# ---- prepare --------------------------------------------------------------------------------------------------

def test_prepare_disables_the_old_uplink_stanza_and_undo_takes_exactly_it_back(host):
    main = write(host.root, '/etc/network/interfaces', DEBIAN_MAIN)
    commands = backend(host).prepare(model())
    assert len(commands) == 1
    command = commands[0]
    prefix = _persist_ifupdown.DISABLED
    assert command.argv == ['sed', '-i', '-e', '8s/^/%s/' % prefix, '-e', '9s/^/%s/' % prefix,
                            '-e', '10s/^/%s/' % prefix, '-e', '11s/^/%s/' % prefix, '/etc/network/interfaces']
    assert 'allow-hotplug eth0; iface eth0 inet static' in command.why
    # the commands really do it (GNU sed on the file below the root)
    subprocess.check_call(command.argv[:-1] + [main])
    disabled = open(main).read()
    assert disabled.splitlines()[7:11] == [prefix + line for line in DEBIAN_MAIN.splitlines()[7:11]]
    assert disabled.splitlines()[12] == 'iface wlan0 inet dhcp'
    assert backend(host).prepare(model()) == []  # idempotent: nothing left to disable
    subprocess.check_call(command.undo[:-1] + [main])
    assert open(main).read() == DEBIAN_MAIN


def test_prepare_disables_a_foreign_bridge_stanza_in_an_included_file(host):
    write(host.root, '/etc/network/interfaces.d/admin', 'auto kvmbr0\niface kvmbr0 inet dhcp\n  bridge_ports eth1\n'
          '\nauto wlan0\niface wlan0 inet dhcp\n')
    write(host.root, STANZA, text(model()))  # ours is never touched
    commands = backend(host).prepare(model())
    assert [c.argv[-1] for c in commands] == ['/etc/network/interfaces.d/admin']
    assert [a for a in commands[0].argv if a.startswith(('1s', '2s', '3s', '4s', '5s', '6s'))] == [
        '1s/^/%s/' % _persist_ifupdown.DISABLED, '2s/^/%s/' % _persist_ifupdown.DISABLED,
        '3s/^/%s/' % _persist_ifupdown.DISABLED]


def test_prepare_nothing_on_a_clean_host(host):
    assert backend(host).prepare(model()) == []


# ---- running and activate -------------------------------------------------------------------------------------

def test_running_needs_ifup_and_its_state_since_boot(host):
    assert backend(host).running()
    os.unlink(host.path('/run/network/ifstate'))
    assert not backend(host).running()


def test_activate_nothing_changed_runs_nothing(host):
    assert backend(host).activate(model(), []) == []
    assert backend(host).activate(None, [STANZA]) == []
    assert host.recorder.calls == []


def test_activate_first_time_ifup(host):
    host.recorder.answers[('/sbin/ifquery', 'kvmbr0')] = (0, 'bridge_ports: eth0\n', '')
    ran = backend(host).activate(model(), [STANZA])
    assert ran == [['/sbin/ifquery', 'kvmbr0'], ['/sbin/ifup', 'kvmbr0']]
    assert host.recorder.calls == [['/sbin/ifquery', 'kvmbr0'], ['/sbin/ifquery', '--state', 'kvmbr0'],
                                   ['/sbin/ifup', 'kvmbr0']]


def test_activate_already_up_forces_in_place(host):
    host.recorder.answers[('/sbin/ifquery', 'kvmbr0')] = (0, 'bridge_ports: eth0\n', '')
    host.recorder.answers[('/sbin/ifquery', '--state', 'kvmbr0')] = (0, 'kvmbr0=kvmbr0\n', '')
    ran = backend(host).activate(model(), [STANZA])
    assert ran[-1] == ['/sbin/ifup', '--force', 'kvmbr0']
    assert not [argv for argv in host.recorder.calls if 'ifdown' in argv[0]]


def test_activate_refuses_a_stanza_ifquery_complains_about(host):
    host.recorder.answers[('/sbin/ifquery', 'kvmbr0')] = (
        0, 'bridge_ports: eth0\n', 'ifquery: /etc/network/interfaces.d/x:1: misplaced option\n')
    with pytest.raises(PersistError, match='misplaced option'):
        backend(host).activate(model(), [STANZA])
    assert ['/sbin/ifup', 'kvmbr0'] not in host.recorder.calls


def test_activate_stops_the_old_dhcp_client_of_the_port(host):
    programs(host.root, 'dhclient')
    write(host.root, '/run/dhclient.eth0.pid', '4242\n')
    os.makedirs(host.path('/proc/4242'))  # the PID is alive (the Host reads /proc below its root)
    host.recorder.answers[('/sbin/ifquery', 'kvmbr0')] = (0, 'bridge_ports: eth0\n', '')
    ran = backend(host).activate(model(), [STANZA])
    assert ['/sbin/dhclient', '-x', '-pf', '/run/dhclient.eth0.pid', 'eth0'] in ran


def test_activate_ifup_failure_is_a_persist_error(host):
    host.recorder.answers[('/sbin/ifquery', 'kvmbr0')] = (0, 'bridge_ports: eth0\n', '')
    host.recorder.answers[('/sbin/ifup', 'kvmbr0')] = (1, '', 'ifup: failed to bring up kvmbr0\n')
    with pytest.raises(PersistError, match='failed to bring up kvmbr0'):
        backend(host).activate(model(), [STANZA])


# ---- through the engine ---------------------------------------------------------------------------------------

def test_engine_writes_the_stanza_and_a_failed_activation_restores_the_main_file(host):
    if os.getuid() != 0:
        pytest.skip('the engine writes root-owned files: needs root')
    write(host.root, '/etc/network/interfaces', DEBIAN_MAIN)
    the_backend = backend(host)
    host.recorder.answers[('/sbin/ifquery', 'kvmbr0')] = (0, 'bridge_ports: eth0\n', '')
    host.recorder.answers[('/sbin/ifup', 'kvmbr0')] = (1, '', 'ifup: boom\n')

    def run(argv, data=None):
        host.recorder.calls.append(argv)
        if argv[0] == 'sed':
            return subprocess.call(argv[:-1] + [host.path(argv[-1])]), '', ''
        return host.recorder.answers.get(tuple(argv), (0, '', ''))

    host._run_command = run
    the_plan = _persist_apply.plan(the_backend, model())
    assert [(f.path, f.state) for f in the_plan.files] == [(STANZA, 'created')]
    with pytest.raises(ApplyError, match='boom'):
        _persist_apply.apply(the_backend, model(), the_plan)
    assert not os.path.exists(host.path(STANZA))
    assert open(host.path('/etc/network/interfaces')).read() == DEBIAN_MAIN
