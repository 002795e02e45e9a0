# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._bridge import (
    KERNEL_DEFAULTS,
    STATE_OPTIONS,
    bridge_state,
    facts_needed,
    kernel_request,
    normalise,
    parse_seconds,
    partial_undo,
    plan,
    random_local_mac,
    validate,
    validate_static,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._names import normalise_mac, validate_ifname

OPTIONS = ('name', 'state', 'force', 'addresses', 'migrate_to', 'up', 'stp', 'forward_delay', 'hello_time',
           'max_age', 'ageing_time', 'priority', 'mcast_snooping', 'vlan_filtering', 'group_fwd_mask', 'mtu', 'mac',
           'netns')


def params(**kwargs):
    """The module's parameters as AnsibleModule hands them over: unset options are None, force defaults false."""
    result = dict((option, None) for option in OPTIONS)
    result.update(name='kvmbr0', state='present', force=False)
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

# What the module reads for a delete: a bridge that carries what bridge_port addresses: migrate gave it.
V4 = dict(family=4, address='10.0.0.2', prefixlen=24, scope=0, flags=0)
V6 = dict(family=6, address='fd00::2', prefixlen=64, scope=0, flags=0)
DEFAULT_V4 = dict(family=4, oif=7, dst=None, dst_len=0, gateway='10.0.0.1', prefsrc=None, priority=None, table=254,
                  protocol=3, scope=0, type=1)
DEFAULT_V6 = dict(family=6, oif=7, dst=None, dst_len=0, gateway='fd00::1', prefsrc=None, priority=1024, table=254,
                  protocol=3, scope=0, type=1)
STATIC = dict(family=4, oif=7, dst='10.8.0.0', dst_len=16, gateway='10.0.0.254', prefsrc=None, priority=None,
              table=254, protocol=4, scope=0, type=1)


def port_link(name, index, address, master=7, up=True):
    return dict(index=index, name=name, kind='veth', mtu=1500, address=address, perm_address=None, up=up,
                operstate='UP', master=master, bridge={})


ETH0 = port_link('eth0', 2, '52:54:00:00:00:01')  # the uplink: the bridge has its MAC (migrate gave it)
VNET0 = port_link('vnet0', 3, 'fe:54:00:00:00:33')


def read(addresses=(V4, V6), routes=(DEFAULT_V4, DEFAULT_V6), ports=(ETH0, VNET0), migrate_to=None,
         migrate_to_master=None, migrate_to_addresses=(), migrate_to_routes=(), bridge=None):
    """The facts LinuxBridgeManager.facts reads for a delete (``bridge``: the bridge's link, default link())."""
    return dict(link=bridge or link(), ports=list(ports), addresses=list(addresses), routes=list(routes),
                migrate_to=migrate_to, migrate_to_master=migrate_to_master,
                migrate_to_addresses=list(migrate_to_addresses), migrate_to_routes=list(migrate_to_routes))


def deleting(facts, **kwargs):
    """(params, have, facts) of a delete, as the module builds them."""
    return params(state='absent', **kwargs), bridge_state('kvmbr0', facts), facts


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
    assert validate_static(values) == []
    assert values['mac'] == '52:54:00:aa:bb:cc'


@pytest.mark.parametrize('mac, words', [
    # YAML 1.1 reads an unquoted 52:54:00:12:34:56 as a base-60 integer; AnsibleModule hands over its digits
    (str(((((52 * 60 + 54) * 60 + 0) * 60 + 12) * 60 + 34) * 60 + 56),
     'read an unquoted 52:54:00:12:34:56 as a base-60 number (41135085296): quote the MAC, mac: "52:54:00:12:34:56"'),
    (525400123456, 'It is a plain number: an unquoted MAC of digits only becomes one in YAML. Quote the MAC'),
])
def test_unquoted_mac_gets_a_quoting_hint(mac, words):
    with pytest.raises(ValidationError) as info:
        validate_static(params(mac=str(mac)))
    assert words in info.value.msg
    assert 'Invalid MAC address' in info.value.msg


@pytest.mark.parametrize('value, expected', [
    (0, (0, False)), (15, (15, False)), (2.5, (2.5, False)), ('15', (15, False)), ('2.5', (2.5, False)),
    ('0s', (0, True)), (' 2.5 s ', (2.5, True)), ('.5', (0.5, False)), ('-1', (-1, False)), (None, (None, False)),
])
def test_timers_take_numbers_and_seconds(value, expected):
    assert parse_seconds('forward_delay', value) == expected


@pytest.mark.parametrize('value', ['0ms', '15 sec', '1m', 'fast', '', True, [15], {'s': 1}, '1.2.3'])
def test_timers_refuse_other_units_naming_value_and_unit(value):
    # issue 9.9: ansible-core's type float said only "unable to convert to float"
    with pytest.raises(ValidationError) as info:
        validate_static(params(forward_delay=value))
    assert 'forward_delay=%r is not a number of seconds' % (value,) in info.value.msg
    assert 'with the unit s (forward_delay: "2.5s")' in info.value.msg
    assert info.value.details == dict(forward_delay=value)


def test_static_validation_turns_timers_into_numbers():
    values = params(forward_delay='0s', hello_time='2.5', max_age=12, ageing_time='300s')
    validate_static(values)
    assert (values['forward_delay'], values['hello_time'], values['max_age'], values['ageing_time']) == (0, 2.5,
                                                                                                         12, 300)


def test_ageing_time_that_looks_like_hundredths_warns():
    # issue 9.8: 30000 is what `ip -d link` prints for the default 300 s; the kernel accepts it as 30000 s
    warnings = validate_static(params(ageing_time=30000))
    assert len(warnings) == 1
    assert 'ageing_time=30000 s is 8.3 hours' in warnings[0]
    assert 'set ageing_time: 300' in warnings[0]
    assert 'ageing_time: "30000s"' in warnings[0]


@pytest.mark.parametrize('value', [9999, 300, 0, '30000s', '86400 s'])
def test_plausible_or_explicit_ageing_time_does_not_warn(value):
    assert validate_static(params(ageing_time=value)) == []


@pytest.mark.parametrize('kwargs, words', [
    (dict(addresses='migrate'), 'only applies to state: absent'),
    (dict(migrate_to='eth0', addresses='migrate'), 'addresses only applies to state: absent'),
    (dict(state='absent', addresses='migrate'), 'addresses: migrate needs migrate_to'),
    (dict(state='absent', migrate_to='eth0'), 'migrate_to=eth0 is only used with addresses: migrate (addresses is'
                                              ' unset, that is fail)'),
    (dict(state='absent', migrate_to='eth0', addresses='flush'), 'addresses is flush'),
    (dict(state='absent', migrate_to='kvmbr0', addresses='migrate'), 'migrate_to=kvmbr0 is the bridge being deleted'),
    (dict(state='absent', migrate_to='eth/0', addresses='migrate'), "Invalid interface name 'eth/0' for migrate_to"),
])
def test_addresses_options_are_checked_before_anything(kwargs, words):
    with pytest.raises(ValidationError) as info:
        validate_static(params(**kwargs))
    assert words in info.value.msg


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
    # issue 9.8: values that look like the kernel's hundredths say so
    (dict(forward_delay=1500), ABSENT, 'accepts 0..30 s. It looks like hundredths of a second, the unit `ip -d link`'
                                       ' and sysfs print: 15 s? Set forward_delay: 15.'),
    (dict(stp=True, forward_delay=400), ABSENT, 'while STP is on (stp: true); to use a shorter delay set stp: false.'
                                                ' It looks like hundredths of a second'),
    (dict(hello_time=200), ABSENT, 'hundredths of a second, the unit `ip -d link` and sysfs print: 2 s?'),
    (dict(max_age=2000), ABSENT, ': 20 s? Set max_age: 20.'),
    (dict(hello_time=250), ABSENT, ': 2.5 s? Set hello_time: 2.5.'),
    (dict(ageing_time=30000000), ABSENT, ': 300000 s? Set ageing_time: 300000.'),
    # STP state of the existing bridge decides the range when stp is not given
    (dict(forward_delay=0), normalise('kvmbr0', link(IFLA_BR_STP_STATE=1)), 'STP is on on the existing bridge'),
])
def test_out_of_range_values_are_refused(kwargs, have, words):
    with pytest.raises(ValidationError) as info:
        validate(params(**kwargs), have)
    assert words in info.value.msg


@pytest.mark.parametrize('kwargs', [dict(forward_delay=31), dict(hello_time=11), dict(hello_time=99),
                                    dict(max_age=50), dict(forward_delay=5000)])
def test_no_hundredths_hint_when_it_would_not_fit_either(kwargs):
    with pytest.raises(ValidationError) as info:
        validate(params(**kwargs), ABSENT)
    assert 'hundredths' not in info.value.msg


@pytest.mark.parametrize('kwargs, have', [
    (dict(stp=True, forward_delay=2), ABSENT),
    (dict(stp=True, forward_delay=30), ABSENT),
    (dict(stp=False, forward_delay=0), normalise('kvmbr0', link(IFLA_BR_STP_STATE=1))),
    (dict(forward_delay=0), normalise('kvmbr0', link(IFLA_BR_STP_STATE=0))),
    (dict(hello_time=1, max_age=6, priority=0, mtu=68, group_fwd_mask=0xfff8, ageing_time=0), ABSENT),
    (dict(hello_time=10, max_age=40, priority=65535, mtu=65535, forward_delay=0.25), ABSENT),
    (dict(state='absent', forward_delay=99), ABSENT),
    (dict(state='absent', force=True), normalise('kvmbr0', link(), [dict(name='eth0')])),  # carries nothing
])
def test_in_range_values_pass(kwargs, have):
    assert validate(params(**kwargs), have) == []


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
        dict(action='create', interface='kvmbr0', revert=None, data={},
             attributes=dict(stp=False, forward_delay=0, mac='02:00:00:00:00:99')),
        dict(action='set', interface='kvmbr0', attributes=dict(up=True), revert=dict(up=False), data={}),
    ]
    assert after['mac'] == '02:00:00:00:00:99'
    assert after['stp'] is False and after['forward_delay'] == 0 and after['up'] is True


def test_check_mode_predicts_the_kernel_defaults_of_a_new_bridge():
    # issue 9.6: a dry run showed null for hello_time, max_age, mtu and priority where the real run shows values
    dummy, after = plan(params(), ABSENT, mac_factory=fixed_mac)
    assert sorted(after) == sorted(STATE_OPTIONS + ('name', 'state', 'ports'))
    assert [key for key, value in after.items() if value is None] == []
    assert dict((key, after[key]) for key in ('hello_time', 'max_age', 'mtu', 'priority', 'ageing_time')) == dict(
        hello_time=2, max_age=20, mtu=1500, priority=32768, ageing_time=300)


def test_predicted_new_bridge_equals_a_fresh_bridge_read_back():
    # link() holds the kernel's values of a fresh bridge as `ip -j -d link` shows them (measured)
    fresh = normalise('kvmbr0', dict(link(), address='02:00:00:00:00:99'))
    dummy, after = plan(params(forward_delay=15), ABSENT, mac_factory=fixed_mac)
    assert after == fresh
    assert dict((key, fresh[key]) for key in KERNEL_DEFAULTS) == KERNEL_DEFAULTS


def test_create_with_explicit_values_predicts_them():
    dummy, after = plan(params(hello_time=4, mtu=9000, up=False, mac='52:54:00:00:00:09'), ABSENT)
    assert (after['hello_time'], after['mtu'], after['up'], after['max_age']) == (4, 9000, False, 20)
    assert after['mac'] == '52:54:00:00:00:09'


def test_create_with_stp_keeps_the_kernel_forward_delay():
    steps, after = plan(params(stp=True), ABSENT, mac_factory=fixed_mac)
    assert 'forward_delay' not in steps[0]['attributes']
    assert after['forward_delay'] == 15


def test_create_down_has_no_up_step():
    steps, after = plan(params(up=False, mac='52:54:00:00:00:09'), ABSENT)
    assert [step['action'] for step in steps] == ['create']
    assert steps[0]['attributes']['mac'] == '52:54:00:00:00:09'
    assert after['up'] is False


def test_new_bridge_comes_up_when_up_is_unset():
    steps, after = plan(params(up=None), ABSENT, mac_factory=fixed_mac)
    assert steps[-1]['attributes'] == dict(up=True) and after['up'] is True


def test_up_unset_leaves_a_bridge_an_operator_set_down_alone():
    # issue 9.7: up defaulted to true, so a task that set only mtu brought the bridge up
    have = dict(normalise('kvmbr0', link()), up=False)
    steps, after = plan(params(mtu=1400), have)
    assert [step['attributes'] for step in steps] == [dict(mtu=1400)]
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
        dict(action='set', interface='kvmbr0', attributes=dict(up=False), revert=dict(up=True), data={}),
        dict(action='set', interface='kvmbr0', attributes=dict(mtu=9000), revert=dict(mtu=1500), data={}),
        dict(action='set', interface='kvmbr0', attributes=dict(priority=4096), revert=dict(priority=32768), data={}),
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


def test_several_attributes_with_mac_and_vlan_filtering():
    # one request for the link attributes, one for the bridge's (the real-kernel rollback case in the integration
    # target: the kernel keeps the priority when it refuses vlan_filtering in the same request)
    have = normalise('kvmbr0', link())
    steps, dummy = plan(params(mac='52:54:00:00:00:42', mtu=1300, priority=4096, vlan_filtering=True), have)
    assert [step['attributes'] for step in steps] == [dict(mac='52:54:00:00:00:42', mtu=1300),
                                                      dict(priority=4096, vlan_filtering=True)]


# ---- undo of a request the kernel applied in part (issue 9.3) ---------------------------------------------------

def test_partial_undo_sets_back_only_what_changed():
    step = dict(action='set', interface='kvmbr0', attributes=dict(priority=4096, vlan_filtering=True),
                revert=dict(priority=32768, vlan_filtering=False), data={})
    now = normalise('kvmbr0', link(IFLA_BR_PRIORITY=4096))  # the kernel kept the priority, refused the rest
    assert partial_undo(step, now) == dict(priority=32768)


def test_partial_undo_of_nothing_applied_sends_nothing():
    # setting vlan_filtering back to 0 is refused too on a kernel without it: nothing may be sent then
    step = dict(action='set', interface='kvmbr0', attributes=dict(vlan_filtering=True),
                revert=dict(vlan_filtering=False), data={})
    assert partial_undo(step, normalise('kvmbr0', link())) == {}
    assert partial_undo(step, ABSENT) == {}


# ---- delete: ports, addresses and routes (issue 9.1) --------------------------------------------------------------

def test_delete_of_a_bridge_with_addresses_is_refused_even_with_force():
    args = deleting(read(), force=True)
    with pytest.raises(ValidationError) as info:
        validate(*args)
    msg = info.value.msg
    assert ("Bridge 'kvmbr0' carries IP addresses (10.0.0.2/24, fd00::2/64) and routes (default via 10.0.0.1,"
            " default via fd00::1), including the host's IPv4 and IPv6 default route: they would be deleted with"
            " it, which can cut this host off the network (and Ansible's connection to it); force: true does not"
            " cover that.") in msg
    assert ('set addresses: migrate with migrate_to: eth0 (the port whose MAC the bridge has) to move them there'
            ' first (make-before-break), or addresses: flush') in msg
    assert 'still has ports' not in msg
    assert info.value.details == dict(ports=['eth0', 'vnet0'], addresses=['10.0.0.2/24', 'fd00::2/64'],
                                      routes=['default via 10.0.0.1', 'default via fd00::1'])


def test_refusal_without_force_names_ports_and_addresses_and_routes():
    with pytest.raises(ValidationError) as info:
        validate(*deleting(read(), netns='lab'))
    msg = info.value.msg
    assert msg.startswith("Bridge 'kvmbr0' in network namespace 'lab' still has ports (eth0, vnet0): deleting it"
                          " would release them (and cut off guests on its taps); it also carries IP addresses")
    assert 'To delete it, remove the ports first or set force: true, and set addresses: migrate' in msg


def test_a_route_alone_is_enough_to_refuse():
    with pytest.raises(ValidationError) as info:
        validate(*deleting(read(addresses=(), routes=(STATIC,), ports=()), force=True))
    assert 'carries routes (10.8.0.0/16 via 10.0.0.254): they would be deleted' in info.value.msg
    assert 'migrate_to: <interface>' in info.value.msg


def test_ports_only_refusal_keeps_its_words():
    with pytest.raises(ValidationError) as info:
        validate(*deleting(read(addresses=(), routes=())))
    assert "Bridge 'kvmbr0' still has ports (eth0, vnet0): deleting it would release them" in info.value.msg
    assert 'carries' not in info.value.msg and 'force: true' in info.value.msg


def test_ports_are_still_refused_without_force_when_addresses_are_handled():
    with pytest.raises(ValidationError) as info:
        validate(*deleting(read(), addresses='flush'))
    assert 'still has ports (eth0, vnet0)' in info.value.msg and 'carries' not in info.value.msg


def test_flush_lists_what_goes_with_the_bridge():
    args = deleting(read(), force=True, addresses='flush')
    assert validate(*args) == []
    steps, after = plan(args[0], args[1], facts=args[2])
    assert steps == [dict(action='delete', interface='kvmbr0', revert=None, data={}, attributes=dict(
        addresses=['10.0.0.2/24', 'fd00::2/64'], routes=['default via 10.0.0.1', 'default via fd00::1']))]
    assert after == ABSENT


def test_delete_without_anything_carried():
    args = deleting(read(addresses=(), routes=()), force=True)
    assert validate(*args) == []
    assert plan(args[0], args[1], facts=args[2]) == (
        [dict(action='delete', interface='kvmbr0', attributes={}, revert=None, data={})], ABSENT)


def test_migrate_is_make_before_break():
    args = deleting(read(migrate_to=dict(ETH0), routes=(DEFAULT_V4, STATIC, DEFAULT_V6)), force=True,
                    addresses='migrate', migrate_to='eth0')
    assert validate(*args) == []
    steps, after = plan(args[0], args[1], facts=args[2])
    assert [(step['action'], step['interface'], step['attributes']) for step in steps] == [
        ('add_address', 'eth0', dict(address='10.0.0.2/24')),
        ('add_address', 'eth0', dict(address='fd00::2/64')),
        ('move_route', 'kvmbr0', dict(route='default via 10.0.0.1', to='eth0')),
        ('move_route', 'kvmbr0', dict(route='10.8.0.0/16 via 10.0.0.254', to='eth0')),
        ('move_route', 'kvmbr0', dict(route='default via fd00::1', to='eth0')),
        ('delete', 'kvmbr0', {}),
    ]
    assert [step['data'] for step in steps[:5]] == [V4, V6, DEFAULT_V4, STATIC, DEFAULT_V6]
    assert args[1]['migrate_to'] == dict(name='eth0', addresses=[], routes=[])
    assert after == dict(name='kvmbr0', state='absent', migrate_to=dict(
        name='eth0', addresses=['10.0.0.2/24', 'fd00::2/64'],
        routes=['10.8.0.0/16 via 10.0.0.254', 'default via 10.0.0.1', 'default via fd00::1']))


def test_migrate_skips_addresses_the_target_has():
    args = deleting(read(migrate_to=dict(ETH0), migrate_to_addresses=[V4]), force=True, addresses='migrate',
                    migrate_to='eth0')
    steps, after = plan(args[0], args[1], facts=args[2])
    assert [step['attributes'].get('address') for step in steps if step['action'] == 'add_address'] == ['fd00::2/64']
    assert after['migrate_to']['addresses'] == ['10.0.0.2/24', 'fd00::2/64']


def test_migrate_to_another_mac_warns():
    other = port_link('eth1', 5, '52:54:00:00:00:05', master=None)
    warnings = validate(*deleting(read(migrate_to=other), force=True, addresses='migrate', migrate_to='eth1'))
    assert len(warnings) == 1
    assert "migrate_to 'eth1' has the MAC 52:54:00:00:00:05, bridge 'kvmbr0' has 52:54:00:00:00:01" in warnings[0]


@pytest.mark.parametrize('target, master, words', [
    (None, None, "migrate_to: interface 'eth0' does not exist in network namespace 'lab'"),
    (dict(ETH0, up=False), None, "migrate_to: interface 'eth0' is down"),
    (dict(ETH0, master=9), dict(port_link('kvmbr1', 9, '02:00:00:00:00:09', master=None), kind='bridge'),
     "migrate_to: interface 'eth0' is enslaved to 'kvmbr1' (kind: bridge)"),
])
def test_migrate_to_must_be_able_to_carry_them(target, master, words):
    with pytest.raises(ValidationError) as info:
        validate(*deleting(read(migrate_to=target, migrate_to_master=master), force=True, addresses='migrate',
                           migrate_to='eth0', netns='lab'))
    assert words in info.value.msg


def test_migrate_to_a_port_of_this_bridge_is_fine():
    warnings = validate(*deleting(read(migrate_to=dict(ETH0), migrate_to_master=link()), force=True,
                                  addresses='migrate', migrate_to='eth0'))
    assert warnings == []


def test_absent_when_absent_is_a_no_op():
    assert validate(params(state='absent'), ABSENT) == []
    assert plan(params(state='absent'), ABSENT) == ([], ABSENT)


def test_state_has_carried_keys_only_when_read():
    assert sorted(bridge_state('kvmbr0', read(migrate_to=ETH0))) == sorted(
        STATE_OPTIONS + ('name', 'state', 'ports', 'addresses', 'routes', 'migrate_to'))
    assert 'addresses' not in bridge_state('kvmbr0', dict(read(), addresses=[V4], routes=None))


@pytest.mark.parametrize('kwargs, bridge, needed', [
    (dict(), link(), dict(carried=False, addresses=False, migrate_to=False)),  # a no-op run reads no dumps
    (dict(mac='52:54:00:00:00:01'), link(), dict(carried=False, addresses=False, migrate_to=False)),
    (dict(mac='52:54:00:00:00:02'), link(), dict(carried=False, addresses=True, migrate_to=False)),
    (dict(state='absent'), link(), dict(carried=True, addresses=False, migrate_to=False)),
    (dict(state='absent', migrate_to='eth0'), None, dict(carried=False, addresses=False, migrate_to=True)),
])
def test_what_a_run_reads(kwargs, bridge, needed):
    assert facts_needed(params(**kwargs), bridge) == needed


# ---- the MAC and bridge_port addresses: migrate (issue 9.4) -------------------------------------------------------

def test_changing_the_mac_migrate_gave_the_bridge_is_refused():
    facts = dict(read(), ports=[ETH0, VNET0], routes=None)
    have = normalise('kvmbr0', link(), facts['ports'])
    with pytest.raises(ValidationError) as info:
        validate(params(mac='02:00:00:00:00:77'), have, facts)
    msg = info.value.msg
    assert ("Bridge 'kvmbr0' carries IP addresses (10.0.0.2/24, fd00::2/64) and has the MAC of its port 'eth0'"
            " (52:54:00:00:00:01)") in msg
    assert 'Set mac: "52:54:00:00:00:01" (the port\'s MAC), or leave mac unset.' in msg
    assert info.value.details['port'] == 'eth0' and info.value.details['current_mac'] == '52:54:00:00:00:01'


def test_changing_the_mac_of_an_addressed_bridge_otherwise_warns():
    facts = dict(read(), ports=[VNET0], routes=None)
    warnings = validate(params(mac='02:00:00:00:00:77'), normalise('kvmbr0', link(), facts['ports']), facts)
    assert len(warnings) == 1 and 'while it carries IP addresses (10.0.0.2/24, fd00::2/64)' in warnings[0]


@pytest.mark.parametrize('kwargs, addresses', [
    (dict(mac='52:54:00:00:00:01'), [V4]),  # the port's MAC: no change, no refusal
    (dict(mac='02:00:00:00:00:77'), []),     # no addresses: nothing to lose
])
def test_mac_rule_lets_harmless_cases_pass(kwargs, addresses):
    facts = dict(read(addresses=addresses), routes=None)
    assert validate(params(**kwargs), normalise('kvmbr0', link(), facts['ports']), facts) == []


# ---- kernel requests ---------------------------------------------------------------------------------------------

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
