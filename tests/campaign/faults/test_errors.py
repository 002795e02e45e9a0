# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Things vanishing under a running module, on the real kernel and libvirt (issue 11): each must end in a clear
error (naming what vanished and the way out) with nothing half applied.

- a bridge deleted (``ip link del``) after the module read it, before its first write, and half way through a
  plan (after the first operations were applied: those must be reverted);
- the network namespace deleted (``ip netns del``) after the read, and half way;
- libvirtd unavailable (a URI whose socket does not exist): quick, the URI and the fix named;
- a libvirt domain vanishing (destroyed and undefined, test:///default driver) between its lookup and its read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess
import time

import faultlib
import pytest

PORT = '''ip link add eth0 address 52:54:00:aa:00:01 type veth peer name peer0 address 52:54:00:aa:00:02
ip link set peer0 up
'''
BRIDGE = 'ip link add kvmbr0 address 02:00:00:00:00:01 type bridge forward_delay 0\nip link set kvmbr0 up\n'
UPLINK = 'ip addr add 10.9.0.2/24 dev eth0\nip link set eth0 up\nip route add default via 10.9.0.1\n'
ENSLAVE = dict(name='eth0', bridge='kvmbr0', cost=10, priority=5, hairpin=True)
MIGRATE = dict(name='eth0', bridge='kvmbr0', addresses='migrate', cost=7)


def _hook(step, action):
    """Run ``action()`` in the child right before operation ``step``'s kernel request."""
    def hook(module):
        def before(number, operation):
            if number == step:
                action()
        module.apply_plan = faultlib.wrap_operations(before=before)
    return hook


def _without(state, *names):
    return dict(state, links=dict((name, link) for name, link in state['links'].items() if name not in names),
                addresses=[item for item in state['addresses'] if item.split()[0] not in names],
                routes=[item for item in state['routes'] if ' dev %s ' % names[0] not in item])


CASES = [
    # (id, setup, module, args, step the bridge vanishes before)
    ('bridge deleted before the first write (enslave)', PORT + BRIDGE, 'bridge_port', ENSLAVE, 1),
    ('bridge deleted before the second write (enslave)', PORT + BRIDGE, 'bridge_port', ENSLAVE, 2),
    ('bridge deleted after MAC and address moved to it (migrate)', PORT + UPLINK + BRIDGE, 'bridge_port', MIGRATE,
     3),
    ('bridge deleted before it is brought up (linux_bridge change)', PORT + BRIDGE + 'ip link set kvmbr0 down\n',
     'linux_bridge', dict(name='kvmbr0', mtu=1400, up=True, stp=True), 2),
]


@pytest.mark.parametrize('case', CASES, ids=[case[0] for case in CASES])
def test_bridge_deleted_between_read_and_write(case, count):
    label, setup, module, args, step = case
    with faultlib.namespace(setup) as ns:
        before = faultlib.kernel_state(ns)
        total = faultlib.plan_length(module, dict(args, netns=ns))[0]
        assert total >= step, (label, total)
        run = faultlib.run_module(module, dict(args, netns=ns), hook=_hook(
            step, lambda: faultlib.ip(ns, 'link', 'del', 'kvmbr0')))
        result = run['result']
        state = faultlib.kernel_state(ns)
    assert result['failed'], result
    msg = result['msg']
    assert "'kvmbr0' no longer exists: something else on the host deleted it after this task read it" in msg, msg
    assert result['vanished'] == ['kvmbr0'], result
    assert 'ALSO failed' not in msg, msg
    expected = 'Nothing had been changed' if step == 1 else 'were reverted'
    assert expected in msg, msg
    # everything but the deleted bridge is as it was (the port keeps its addresses, routes and no master)
    assert state == _without(before, 'kvmbr0'), (state, before)
    print(msg)
    count('error', 'bridge deleted: %s' % label, 1)


NS_CASES = [
    ('before the first write', 1),
    ('half way (after enslave and up)', 3),
]


@pytest.mark.parametrize('case', NS_CASES, ids=[case[0] for case in NS_CASES])
def test_namespace_deleted_mid_run(case, count):
    label, step = case
    with faultlib.namespace(PORT + BRIDGE) as ns:
        run = faultlib.run_module('bridge_port', dict(ENSLAVE, netns=ns), hook=_hook(
            step, lambda: subprocess.run(['ip', 'netns', 'del', ns], check=True)))
        result = run['result']
        listed = subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, check=True).stdout
    assert result['failed'], result
    assert ns in result['msg'] and 'deleted' in result['msg'], result['msg']
    assert ns not in listed.split()  # kvmnet.bridge never creates a namespace again
    print(result['msg'])
    count('error', 'namespace deleted %s' % label, 1)


def test_libvirtd_unavailable_is_a_quick_clear_error(count):
    uri = 'qemu+unix:///system?socket=/run/kvmnet-faults-no-such-dir/libvirt-sock'
    with faultlib.namespace(PORT + BRIDGE) as ns:
        start = time.monotonic()
        result = faultlib.run_module('kvm_guest_nic', dict(domain='vm1', mac='52:54:00:12:34:56', bridge='kvmbr0',
                                                           netns=ns, uri=uri))['result']
        seconds = time.monotonic() - start
    assert result['failed'], result
    assert uri in result['msg'] and 'running' in result['msg'], result['msg']
    assert seconds < 10, seconds
    print('%.2f s: %s' % (seconds, result['msg']))
    count('error', 'libvirtd unavailable', 1)


def test_domain_vanishing_between_lookup_and_read(count):
    def hook(module):
        original = module.Libvirt.domain

        def domain(self, name):
            found = original(self, name)
            found.destroy()  # another admin, at the worst moment
            found.undefine()
            return found
        module.Libvirt.domain = domain
    with faultlib.namespace(PORT + BRIDGE) as ns:
        before = faultlib.kernel_state(ns)
        result = faultlib.run_module('kvm_guest_nic', dict(domain='test', mac='52:54:00:12:34:56', bridge='kvmbr0',
                                                           netns=ns, uri='test:///default'), hook=hook)['result']
        state = faultlib.kernel_state(ns)
    assert result['failed'], result
    assert "'test'" in result['msg'] and 'test:///default' in result['msg'], result['msg']
    assert result['operations'] == [] and state == before, result
    print(result['msg'])
    count('error', 'domain vanished', 1)
