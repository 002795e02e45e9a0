# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_libvirt through the libvirt binding, against libvirt's test driver (test:///default: no daemon, no root):
lookups, errors in words, the bounded detach wait, counters, and the guest agent seam.

Each case is skipped, with the reason, when the binding is missing (the pure cases in test_libvirt.py run anyway).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _libvirt
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._libvirt import (
    desired_element,
    parse_nic,
    plan_nic,
    scope_sides,
    to_xml,
    validate_nic_static,
)

pytestmark = pytest.mark.skipif(
    _libvirt.libvirt is None,
    reason='the libvirt binding (libvirt-python) is not importable: install it (scripts/bootstrap.sh does) to run'
           ' the cases that call libvirt\'s test driver')

# a transient guest with a NIC and the guest agent's channel (the test driver keeps no channel state)
AGENT_DOMAIN = """<domain type='test'><name>kvmnet-agent</name><memory>65536</memory><os><type>hvm</type></os>
<devices>
  <interface type='bridge'><mac address='52:54:00:77:09:10'/><source bridge='kvmbr0'/></interface>
  <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
</devices></domain>"""
# the shape qemu-ga sends (qga/qapi-schema.json GuestNetworkInterface), trimmed to one interface
AGENT_REPLY = json.dumps({'return': [{
    'name': 'eth0', 'hardware-address': '52:54:00:77:09:10',
    'ip-addresses': [{'ip-address-type': 'ipv4', 'ip-address': '192.168.77.136', 'prefix': 24}],
    'statistics': {'rx-bytes': 2186, 'rx-packets': 19, 'rx-errs': 0, 'rx-dropped': 0, 'tx-bytes': 950,
                   'tx-packets': 5, 'tx-errs': 0, 'tx-dropped': 0}}]})


@pytest.fixture
def conn():
    with _libvirt.Libvirt('test:///default') as connection:
        yield connection


def test_lookup_and_state(conn):
    domain = conn.domain('test')
    assert conn.state(domain) == (True, True)
    assert conn.domain_names() == ['test']
    nic, element = conn.nics(domain, 'live')[0]
    assert (nic['type'], nic['mac'], nic['network'], nic['target']) == (
        'network', 'aa:bb:cc:dd:ee:ff', 'default', 'testnet0')


def test_unknown_domain_names_the_known_ones(conn):
    with pytest.raises(ValidationError) as info:
        conn.domain('nope')
    assert "Domain 'nope' is not defined at test:///default. Known domains: test." in info.value.msg


def test_plan_against_the_test_driver(conn):
    domain = conn.domain('test')
    sides = scope_sides('auto', *conn.state(domain), domain='test')
    given = dict(domain='test', mac='AA:BB:CC:DD:EE:FF', alias=None, bridge='kvmbr0', model=None, link_state=None,
                 mtu=None, target=None, state='present', scope='auto')
    validate_nic_static(given)
    steps, dummy, dummy = plan_nic(given, sides, dict((side, conn.nics(domain, side)) for side in sides))
    assert [(step['action'], step['sides']) for step in steps] == [('update', ['live']), ('update', ['config'])]
    assert steps[0]['changes'] == dict(bridge=dict(before=None, after='kvmbr0'))
    assert parse_nic(steps[0]['element'])['target'] == 'testnet0'


def test_driver_errors_become_collection_errors(conn):
    domain = conn.domain('test')
    element = desired_element(dict(mac='52:54:00:00:00:09', bridge='br0', model='virtio'))
    with pytest.raises(_libvirt.LibvirtOperationError) as info:
        conn.attach(domain, element, ('live',))
    assert 'Cannot attach the NIC 52:54:00:00:00:09' in info.value.msg
    assert 'not supported' in info.value.msg
    assert info.value.details['xml'] == to_xml(element)


def test_wait_gone_is_bounded(conn):
    domain = conn.domain('test')
    now = [0.0]
    waiting = _libvirt.Libvirt('test:///default', sleep=lambda seconds: now.__setitem__(0, now[0] + seconds),
                               clock=lambda: now[0])
    waiting._conn = conn._conn
    with pytest.raises(_libvirt.LibvirtOperationError) as info:
        waiting.wait_gone(domain, 'aa:bb:cc:dd:ee:ff', timeout=1.0)
    assert 'still attached' in info.value.msg
    assert 1.0 <= now[0] < 1.2
    waiting.wait_gone(domain, '52:54:00:00:00:09')  # not there: returns at once


def test_interface_stats_keys(conn):
    stats = conn.interface_stats(conn.domain('test'), 'testnet0')
    assert set(stats) >= {'rx_bytes', 'tx_bytes', 'rx_packets', 'tx_packets'}


@pytest.fixture
def agent_domain(conn):
    domain = conn._conn.createXML(AGENT_DOMAIN, 0)
    yield domain
    domain.destroy()


def test_guest_interfaces_through_the_agent_seam(agent_domain):
    sent = []

    def agent(domain, command, timeout):
        sent.append((domain.name(), json.loads(command), timeout))
        return AGENT_REPLY

    with _libvirt.Libvirt('test:///default', agent_command=agent) as conn:
        interfaces, reason = conn.guest_interfaces(conn.domain('kvmnet-agent'))
    assert reason is None
    assert sent == [('kvmnet-agent', {'execute': 'guest-network-get-interfaces'}, _libvirt.AGENT_TIMEOUT)]
    assert [(i['name'], i['mac'], i['counters']['rx_bytes'], i['addresses']) for i in interfaces] == [
        ('eth0', '52:54:00:77:09:10', 2186, ['192.168.77.136/24'])]


def test_guest_interfaces_without_a_channel_never_asks_the_agent(conn):
    def agent(domain, command, timeout):
        raise AssertionError('the agent must not be asked without its channel')

    with _libvirt.Libvirt('test:///default', agent_command=agent) as other:
        interfaces, reason = other.guest_interfaces(other.domain('test'))
    assert interfaces is None
    assert "domain 'test' has no guest agent channel: add <channel type='unix'>" in reason


def test_guest_interfaces_through_libvirt_qemu(conn, agent_domain):
    # the default agent command: libvirt_qemu.qemuAgentCommand, which the test driver does not implement
    interfaces, reason = conn.guest_interfaces(conn.domain('kvmnet-agent'))
    assert interfaces is None
    assert "the guest agent of domain 'kvmnet-agent' did not answer guest-network-get-interfaces" in reason
    assert 'virDomainQemuAgentCommand' in reason


def test_guest_interfaces_with_an_unreadable_reply(agent_domain):
    with _libvirt.Libvirt('test:///default', agent_command=lambda *args: '{"return": 1}') as conn:
        interfaces, reason = conn.guest_interfaces(conn.domain('kvmnet-agent'))
    assert interfaces is None
    assert 'sent an unreadable reply (no "return" list in the agent reply)' in reason
