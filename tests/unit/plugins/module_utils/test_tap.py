# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kvm_guest_nic backend=tap: validation, refusals and plans (pure: link dicts as _netlink returns them)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._tap import (
    check_tap_facts,
    describe_tap,
    plan_tap,
    validate_tap_static,
)

USERS = dict(alice=1000, root=0)
GROUPS = dict(kvm=104, users=100)


def params(**overrides):
    result = dict(backend='tap', target='tap0', bridge='kvmbr0', owner=None, group=None, mac=None, mtu=None,
                  state='present', netns=None, domain=None, uri='qemu:///system', scope='auto', model=None,
                  link_state=None, alias=None)
    result.update(overrides)
    return result


def valid(**overrides):
    result = params(**overrides)
    validate_tap_static(result, USERS.__getitem__, GROUPS.__getitem__)
    return result


def tap(owner=None, group=None, master=None, mac='02:00:00:00:00:07', mtu=1500, carrier=0, persist=1, kind='tun',
        tun_type=2):
    tun = dict(IFLA_TUN_TYPE=tun_type, IFLA_TUN_PI=0, IFLA_TUN_VNET_HDR=0, IFLA_TUN_PERSIST=persist,
               IFLA_TUN_MULTI_QUEUE=0)
    if owner is not None:
        tun['IFLA_TUN_OWNER'] = owner
    if group is not None:
        tun['IFLA_TUN_GROUP'] = group
    link = dict(index=7, name='tap0', kind=kind, mtu=mtu, address=mac, master=master, carrier=carrier)
    if kind == 'tun':
        link['tun'] = tun
    return link


BRIDGE = dict(index=2, name='kvmbr0', kind='bridge')
OTHER_BRIDGE = dict(index=3, name='kvmbr1', kind='bridge')


def actions(steps):
    return [(step['action'], step['attributes']) for step in steps]


# ---- validation ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('option, value', [('domain', 'web1'), ('alias', 'ua-lan0'), ('model', 'virtio'),
                                           ('link_state', 'up'), ('scope', 'live'), ('uri', 'qemu:///session')])
def test_libvirt_options_are_refused(option, value):
    with pytest.raises(ValidationError) as caught:
        valid(**{option: value})
    assert option in caught.value.msg and 'backend=libvirt' in caught.value.msg


def test_target_is_required_and_checked():
    with pytest.raises(ValidationError, match='needs target'):
        valid(target=None)
    with pytest.raises(ValidationError, match='Invalid interface name'):
        valid(target='tap/0')
    with pytest.raises(ValidationError, match='Invalid interface name'):
        valid(target='a-much-too-long-tap-name')


def test_owner_and_group_by_name_or_number():
    result = valid(owner='alice', group='kvm', mac='FE-54-00-00-00-01', mtu=9000)
    assert (result['owner'], result['group'], result['mac']) == (1000, 104, 'fe:54:00:00:00:01')
    result = valid(owner=1234, group='4321')
    assert (result['owner'], result['group']) == (1234, 4321)


@pytest.mark.parametrize('overrides, needle', [
    (dict(owner='nosuchuser'), "owner 'nosuchuser' does not exist"),
    (dict(group='nosuchgroup'), "group 'nosuchgroup' does not exist"),
    (dict(owner=-1), 'out of range'),
    (dict(owner=0xFFFFFFFF), 'out of range'),
    (dict(owner=True), 'not a boolean'),
    (dict(mtu=67), 'out of range'),
    (dict(mac='01:00:5e:00:00:01'), 'multicast'),
])
def test_bad_values_are_refused(overrides, needle):
    with pytest.raises(ValidationError) as caught:
        valid(**overrides)
    assert needle in caught.value.msg


# ---- refusals with the kernel's facts ------------------------------------------------------------------------

@pytest.mark.parametrize('link, needle', [
    (tap(kind='veth'), 'is not a tap (kind: veth)'),
    (tap(kind=None), 'is not a tap (kind: a physical'),
    (tap(tun_type=1), 'tun (layer 3), not tap'),
    (tap(persist=0, carrier=1), 'not persistent'),
])
def test_existing_interface_must_be_a_persistent_tap(link, needle):
    with pytest.raises(ValidationError) as caught:
        check_tap_facts(valid(), link, BRIDGE)
    assert needle in caught.value.msg


def test_bridge_missing_or_not_a_bridge():
    with pytest.raises(ValidationError, match="Bridge 'kvmbr0' does not exist in network namespace 'lab'"):
        check_tap_facts(valid(netns='lab'), None, None)
    with pytest.raises(ValidationError, match='is not a bridge'):
        check_tap_facts(valid(), None, dict(index=4, name='kvmbr0', kind='veth'))
    check_tap_facts(valid(state='absent', bridge=None), None, None)  # absent needs no bridge


def test_a_veth_of_that_name_is_not_deleted():
    with pytest.raises(ValidationError, match='is not a tap'):
        check_tap_facts(valid(state='absent'), tap(kind='veth'), None)


# ---- plans -----------------------------------------------------------------------------------------------------

def test_create_with_everything():
    steps, predicted = plan_tap(valid(owner='alice', group='kvm', mac='fe:54:00:00:00:01', mtu=9000), None, BRIDGE,
                                None)
    assert actions(steps) == [
        ('create', dict(type='tap', persist=True, up=True, owner=1000, group=104)),
        ('set_mac', dict(mac='fe:54:00:00:00:01')),
        ('set_mtu', dict(mtu=9000)),
        ('enslave', dict(bridge='kvmbr0')),
    ]
    assert predicted == dict(state='present', tap='tap0', tap_mac='fe:54:00:00:00:01', bridge='kvmbr0', owner=1000,
                             group=104, mtu=9000)


def test_create_minimal_leaves_the_kernel_mac():
    steps, predicted = plan_tap(valid(), None, BRIDGE, None)
    assert actions(steps) == [('create', dict(type='tap', persist=True, up=True)), ('enslave', dict(bridge='kvmbr0'))]
    assert predicted['tap_mac'] is None and predicted['owner'] is None


def test_idempotent():
    link = tap(owner=1000, group=104, master=2, mac='fe:54:00:00:00:01', mtu=9000, carrier=1)
    steps, predicted = plan_tap(valid(owner='alice', group=104, mac='fe:54:00:00:00:01', mtu=9000), link, BRIDGE,
                                'kvmbr0')
    assert steps == []
    assert predicted == describe_tap('tap0', link, 'kvmbr0')
    # options left out are not changed
    assert plan_tap(valid(), link, BRIDGE, 'kvmbr0')[0] == []


def test_in_place_changes_while_held():
    link = tap(owner=1000, master=2, carrier=1)
    steps, predicted = plan_tap(valid(bridge='kvmbr1', mac='fe:54:00:00:00:02', mtu=1400, owner=1000), link,
                                OTHER_BRIDGE, 'kvmbr0')
    assert [(step['action'], step['attributes'], step['revert']) for step in steps] == [
        ('set_mac', dict(mac='fe:54:00:00:00:02'), dict(mac='02:00:00:00:00:07')),
        ('set_mtu', dict(mtu=1400), dict(mtu=1500)),
        ('enslave', dict(bridge='kvmbr1'), dict(master_index=2)),
    ]
    assert (predicted['bridge'], predicted['tap_mac'], predicted['mtu']) == ('kvmbr1', 'fe:54:00:00:00:02', 1400)


def test_owner_change_first_with_revert():
    steps, predicted = plan_tap(valid(owner='alice', group='kvm', bridge='kvmbr1'), tap(owner=0, master=2),
                                OTHER_BRIDGE, 'kvmbr0')
    assert [step['action'] for step in steps] == ['set_owner', 'enslave']
    assert steps[0]['attributes'] == dict(owner=1000, group=104)
    assert steps[0]['revert'] == dict(owner=0, group=None)
    assert (predicted['owner'], predicted['group']) == (1000, 104)


def test_owner_change_refused_while_held():
    with pytest.raises(ValidationError) as caught:
        plan_tap(valid(owner='alice', netns='lab'), tap(owner=0, master=2, carrier=1), BRIDGE, 'kvmbr0')
    assert "Tap 'tap0' in network namespace 'lab' is held open" in caught.value.msg
    assert 'Stop the QEMU process using' in caught.value.msg


def test_unset_owner_reads_as_none():
    assert describe_tap('tap0', tap(owner=0xFFFFFFFF, group=0xFFFFFFFF), None)['owner'] is None
    assert describe_tap('tap0', tap(owner=0xFFFFFFFF, group=0xFFFFFFFF), None)['group'] is None


def test_delete():
    steps, predicted = plan_tap(valid(state='absent', bridge=None), tap(master=2), None, 'kvmbr0')
    assert actions(steps) == [('delete', dict(persist=False))]
    assert predicted == describe_tap('tap0', None, None)
    assert plan_tap(valid(state='absent', bridge=None), None, None, None)[0] == []
    with pytest.raises(ValidationError, match='deletion'):
        plan_tap(valid(state='absent', bridge=None), tap(master=2, carrier=1), None, 'kvmbr0')
