# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._bridge import (
    kernel_request,
    normalise,
    plan,
    random_local_mac,
    validate,
    validate_static,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._names import normalise_mac, validate_ifname

OPTIONS = ('name', 'state', 'force', 'up', 'stp', 'forward_delay', 'hello_time', 'max_age', 'ageing_time',
           'priority', 'mcast_snooping', 'vlan_filtering', 'group_fwd_mask', 'mtu', 'mac', 'netns')


def params(**kwargs):
    result = dict((option, None) for option in OPTIONS)
    result.update(name='kvmbr0', state='present', force=False, up=True)
    result.update(kwargs)
    return result


def link(**bridge):
    raw = dict(IFLA_BR_STP_STATE=0, IFLA_BR_FORWARD_DELAY=1500, IFLA_BR_HELLO_TIME=200, IFLA_BR_MAX_AGE=2000,
               IFLA_BR_AGEING_TIME=30000, IFLA_BR_PRIORITY=32768, IFLA_BR_MCAST_SNOOPING=1,
               IFLA_BR_VLAN_FILTERING=0, IFLA_BR_GROUP_FWD_MASK=0)
    raw.update(bridge)
    return dict(index=7, name='kvmbr0', kind='bridge', mtu=1500, address='52:54:00:00:00:01', perm_address=None,
                up=True, operstate='UP', master=None, bridge=raw)


ABSENT = dict(name='kvmbr0', state='absent')


def fixed_mac():
    return '02:00:00:00:00:99'


# ---- validation ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('name', ['kvmbr0', 'a', 'x' * 15, 'br-lab.10', u'br\u00e90'])
def test_valid_names(name):
    validate_ifname(name)


@pytest.mark.parametrize('name, words', [
    ('', 'must not be empty'),
    ('x' * 16, '16 bytes long, the kernel allows at most 15'),
    (u'\u00e9' * 8, '16 bytes long'),
    ('kvm/br', "contains '/'"),
    ('kvm br', "contains ' '"),
    ('kvm\tbr', "contains '\\t'"),
    ('kvm:br', "contains ':'"),
    ('.', "'.' and '..' are reserved"),
    ('..', "'.' and '..' are reserved"),
])
def test_invalid_names_name_the_value(name, words):
    with pytest.raises(ValidationError) as info:
        validate_ifname(name)
    assert words in info.value.msg
    assert repr(name) in info.value.msg or name == ''


@pytest.mark.parametrize('mac, expected', [
    ('52:54:00:AB:cd:EF', '52:54:00:ab:cd:ef'),
    ('52-54-00-ab-cd-ef', '52:54:00:ab:cd:ef'),
    (' 02:00:00:00:00:01 ', '02:00:00:00:00:01'),
])
def test_mac_normalised(mac, expected):
    assert normalise_mac(mac) == expected


@pytest.mark.parametrize('mac, words', [
    ('52:54:00:ab:cd', 'Invalid MAC address'),
    ('52:54:00:ab:cd:ef:01', 'Invalid MAC address'),
    ('52:54:00:zz:cd:ef', 'Invalid MAC address'),
    ('52:54-00:ab:cd:ef', 'Invalid MAC address'),
    ('525400abcdef', 'Invalid MAC address'),
    ('01:00:5e:00:00:01', 'multicast'),
    ('ff:ff:ff:ff:ff:ff', 'multicast'),
    ('33:33:00:00:00:01', 'multicast'),
    ('00:00:00:00:00:00', 'all zeros'),
])
def test_bad_macs(mac, words):
    with pytest.raises(ValidationError) as info:
        normalise_mac(mac)
    assert words in info.value.msg
    assert mac in info.value.msg


def test_static_validation_normalises_mac_in_place():
    values = params(mac='52:54:00:AA:BB:CC')
    validate_static(values)
    assert values['mac'] == '52:54:00:aa:bb:cc'


@pytest.mark.parametrize('kwargs, have, words', [
    (dict(stp=True, forward_delay=1), ABSENT, 'forward_delay=1 is out of range: the kernel accepts 2..30 s while STP'),
    (dict(stp=True, forward_delay=31), ABSENT, 'accepts 2..30 s'),
    (dict(forward_delay=31), ABSENT, 'accepts 0..30 s'),
    (dict(forward_delay=-1), ABSENT, 'accepts 0..30 s'),
    (dict(hello_time=0.99), ABSENT, 'hello_time=0.99 is out of range: the kernel accepts 1..10 s'),
    (dict(hello_time=10.01), ABSENT, 'accepts 1..10 s'),
    (dict(max_age=5.99), ABSENT, 'accepts 6..40 s'),
    (dict(max_age=40.5), ABSENT, 'accepts 6..40 s'),
    (dict(priority=65536), ABSENT, 'accepts 0..65535'),
    (dict(priority=-1), ABSENT, 'accepts 0..65535'),
    (dict(ageing_time=-1), ABSENT, 'ageing_time=-1'),
    (dict(mtu=67), ABSENT, 'mtu=67 is out of range: the kernel accepts 68..65535'),
    (dict(mtu=65536), ABSENT, 'accepts 68..65535'),
    (dict(group_fwd_mask=0x10000), ABSENT, 'accepts 0..65535'),
    (dict(group_fwd_mask=0x1), ABSENT, 'restricted bits 0x0001'),
    (dict(group_fwd_mask=0x0006), ABSENT, 'restricted bits 0x0006'),
    (dict(forward_delay=0.125), ABSENT, 'more precision than the kernel keeps'),
    # STP state of the existing bridge decides the range when stp is not given
    (dict(forward_delay=0), normalise('kvmbr0', link(IFLA_BR_STP_STATE=1)), 'STP is on on the existing bridge'),
])
def test_out_of_range_values_are_refused(kwargs, have, words):
    with pytest.raises(ValidationError) as info:
        validate(params(**kwargs), have)
    assert words in info.value.msg


@pytest.mark.parametrize('kwargs, have', [
    (dict(stp=True, forward_delay=2), ABSENT),
    (dict(stp=True, forward_delay=30), ABSENT),
    (dict(stp=False, forward_delay=0), normalise('kvmbr0', link(IFLA_BR_STP_STATE=1))),
    (dict(forward_delay=0), normalise('kvmbr0', link(IFLA_BR_STP_STATE=0))),
    (dict(hello_time=1, max_age=6, priority=0, mtu=68, group_fwd_mask=0xfff8, ageing_time=0), ABSENT),
    (dict(hello_time=10, max_age=40, priority=65535, mtu=65535, forward_delay=0.25), ABSENT),
    (dict(state='absent', forward_delay=99), ABSENT),
])
def test_in_range_values_pass(kwargs, have):
    validate(params(**kwargs), have)


# ---- normalisation -------------------------------------------------------------------------------------------

def test_normalise_converts_units():
    ports = [dict(name='vnet1'), dict(name='eth0')]
    state = normalise('kvmbr0', link(IFLA_BR_FORWARD_DELAY=250, IFLA_BR_STP_STATE=2), ports)
    assert state['forward_delay'] == 2.5
    assert state['hello_time'] == 2 and isinstance(state['hello_time'], int)
    assert state['ageing_time'] == 300
    assert state['stp'] is True  # 2 = user-space STP, still "on"
    assert state['mcast_snooping'] is True
    assert state['vlan_filtering'] is False
    assert state['ports'] == ['eth0', 'vnet1']
    assert state['state'] == 'present'


def test_normalise_absent():
    assert normalise('kvmbr0', None) == ABSENT


def test_random_mac_is_unicast_and_locally_administered():
    for dummy in range(200):
        mac = random_local_mac()
        first = int(mac[:2], 16)
        assert first & 0x01 == 0
        assert first & 0x02 == 0x02
        assert normalise_mac(mac) == mac


# ---- plan ----------------------------------------------------------------------------------------------------

def test_create_uses_vm_host_defaults_and_pins_a_mac():
    steps, after = plan(params(), ABSENT, mac_factory=fixed_mac)
    assert steps == [
        dict(action='create', interface='kvmbr0', revert=None,
             attributes=dict(stp=False, forward_delay=0, mac='02:00:00:00:00:99')),
        dict(action='set', interface='kvmbr0', attributes=dict(up=True), revert=dict(up=False)),
    ]
    assert after['mac'] == '02:00:00:00:00:99'
    assert after['stp'] is False and after['forward_delay'] == 0 and after['up'] is True


def test_create_with_stp_keeps_the_kernel_forward_delay():
    steps, dummy = plan(params(stp=True), ABSENT, mac_factory=fixed_mac)
    assert 'forward_delay' not in steps[0]['attributes']


def test_create_down_has_no_up_step():
    steps, after = plan(params(up=False, mac='52:54:00:00:00:09'), ABSENT)
    assert [step['action'] for step in steps] == ['create']
    assert steps[0]['attributes']['mac'] == '52:54:00:00:00:09'
    assert after['up'] is False


def test_no_change_when_equal_in_kernel_units():
    have = normalise('kvmbr0', link(IFLA_BR_FORWARD_DELAY=400, IFLA_BR_HELLO_TIME=250))
    steps, after = plan(params(forward_delay=4.0, hello_time=2.5, mtu=1500, mac='52:54:00:00:00:01'), have)
    assert steps == []
    assert after == have


def test_unset_options_are_left_alone():
    have = normalise('kvmbr0', link(IFLA_BR_STP_STATE=1, IFLA_BR_VLAN_FILTERING=1))
    steps, dummy = plan(params(), have)
    assert steps == []


def test_in_place_change_has_revert_values_and_order():
    have = normalise('kvmbr0', link(IFLA_BR_PRIORITY=32768))
    steps, after = plan(params(priority=4096, mtu=9000, up=False), have)
    assert steps == [
        dict(action='set', interface='kvmbr0', attributes=dict(up=False), revert=dict(up=True)),
        dict(action='set', interface='kvmbr0', attributes=dict(mtu=9000), revert=dict(mtu=1500)),
        dict(action='set', interface='kvmbr0', attributes=dict(priority=4096), revert=dict(priority=32768)),
    ]
    assert after['priority'] == 4096 and after['mtu'] == 9000 and after['up'] is False


def test_stp_off_goes_first_so_a_short_forward_delay_is_accepted():
    have = normalise('kvmbr0', link(IFLA_BR_STP_STATE=1, IFLA_BR_FORWARD_DELAY=1500))
    steps, dummy = plan(params(stp=False, forward_delay=0), have)
    assert [step['attributes'] for step in steps] == [dict(stp=False), dict(forward_delay=0)]


def test_stp_on_is_one_request():
    have = normalise('kvmbr0', link(IFLA_BR_FORWARD_DELAY=0))
    steps, dummy = plan(params(stp=True, forward_delay=4), have)
    assert [step['attributes'] for step in steps] == [dict(stp=True, forward_delay=4)]


def test_bringing_up_goes_last():
    have = dict(normalise('kvmbr0', link()), up=False)
    steps, dummy = plan(params(up=True, mtu=1400), have)
    assert [step['attributes'] for step in steps] == [dict(mtu=1400), dict(up=True)]


def test_absent_refuses_ports_without_force():
    have = normalise('kvmbr0', link(), [dict(name='eth0'), dict(name='vnet0')])
    with pytest.raises(ValidationError) as info:
        plan(params(state='absent'), have)
    assert "still has ports (eth0, vnet0)" in info.value.msg
    assert 'force: true' in info.value.msg


def test_absent_with_force_deletes():
    have = normalise('kvmbr0', link(), [dict(name='eth0')])
    steps, after = plan(params(state='absent', force=True), have)
    assert steps == [dict(action='delete', interface='kvmbr0', attributes={}, revert=None)]
    assert after == ABSENT


def test_absent_when_absent_is_a_no_op():
    assert plan(params(state='absent'), ABSENT) == ([], ABSENT)


def test_kernel_request_translates_units_and_names():
    request = kernel_request(dict(stp=True, forward_delay=2.5, ageing_time=300, priority=1, mac='02:00:00:00:00:01',
                                  mtu=1400, up=True, mcast_snooping=False, group_fwd_mask=8, vlan_filtering=True))
    assert request == dict(
        address='02:00:00:00:00:01', mtu=1400, up=True,
        kind_data=dict(br_stp_state=1, br_forward_delay=250, br_ageing_time=30000, br_priority=1,
                       br_mcast_snooping=0, br_group_fwd_mask=8, br_vlan_filtering=1),
    )


def test_kernel_request_refuses_unknown_names():
    # pyroute2 silently ignores unknown keywords (e.g. a typo like br_fwd_delay): we never pass one through.
    with pytest.raises(ValueError):
        kernel_request(dict(fwd_delay=1))
