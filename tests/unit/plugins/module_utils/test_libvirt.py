# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_libvirt, the pure part (no libvirt binding needed, so these always run): XML identity and building, plans per
side, validation, and the guest agent's replies (recorded from the lab guest's qemu-ga 7.2).

The calls through the binding (test:///default) are in test_libvirt_binding.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import xml.etree.ElementTree as ET

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._libvirt import (
    agent_channel,
    agent_interfaces,
    describe_nic,
    desired_element,
    differences,
    domain_nics,
    find_nic,
    flags_for,
    guest_interface,
    guest_view,
    mirrored,
    parse_nic,
    plan_nic,
    scope_sides,
    tap_mac,
    to_xml,
    unmatched_bytes,
    validate_nic_static,
)

LIVE_NIC = '''<interface type='bridge'>
  <mac address='52:54:00:AA:00:02'/>
  <source bridge='br0'/>
  <target dev='vnet7'/>
  <model type='virtio'/>
  <driver name='vhost' queues='2'/>
  <alias name='net1'/>
  <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
</interface>'''

CONFIG_NIC = '''<interface type='bridge'>
  <mac address='52:54:00:aa:00:02'/>
  <source bridge='br0'/>
  <model type='virtio'/>
  <driver name='vhost' queues='2'/>
  <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
</interface>'''

OTHER_NIC = '''<interface type='network'>
  <mac address='52:54:00:aa:00:01'/>
  <source network='default'/>
  <model type='e1000e'/>
  <alias name='ua-mgmt'/>
</interface>'''


def domain_xml(*interfaces):
    return "<domain type='qemu'><name>g1</name><devices>%s</devices></domain>" % ''.join(interfaces)


def params(**overrides):
    result = dict(domain='g1', mac='52:54:00:aa:00:02', alias=None, bridge='br0', model=None, link_state=None,
                  mtu=None, target=None, state='present', scope='auto')
    result.update(overrides)
    return result


# ---- pure helpers -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('mac, expected', [
    ('52:54:00:12:34:56', 'fe:54:00:12:34:56'),
    ('02:aa:bb:cc:dd:ee', 'fe:aa:bb:cc:dd:ee'),
    (None, None),
])
def test_tap_mac(mac, expected):
    assert tap_mac(mac) == expected


@pytest.mark.parametrize('sides, flags', [(('live',), 1), (('config',), 2), (('live', 'config'), 3), ((), 0)])
def test_flags_for(sides, flags):
    assert flags_for(sides) == flags


@pytest.mark.parametrize('scope, active, persistent, sides', [
    ('auto', True, True, ('live', 'config')),
    ('auto', False, True, ('config',)),
    ('auto', True, False, ('live',)),
    ('live', True, True, ('live',)),
    ('config', True, True, ('config',)),
    ('config', False, True, ('config',)),
    ('both', True, True, ('live', 'config')),
])
def test_scope_sides(scope, active, persistent, sides):
    assert scope_sides(scope, active, persistent, 'g1') == sides


@pytest.mark.parametrize('scope, active, persistent, words', [
    ('live', False, True, 'needs a running domain'),
    ('both', False, True, 'needs a running domain'),
    ('config', True, False, 'transient'),
    ('both', True, False, 'transient'),
])
def test_scope_refusals(scope, active, persistent, words):
    with pytest.raises(ValidationError) as info:
        scope_sides(scope, active, persistent, 'g1')
    assert words in info.value.msg
    assert info.value.details['scope'] == scope


# ---- validation -------------------------------------------------------------------------------------------------

def test_validate_normalises_mac():
    given = params(mac='52-54-00-AA-00-02')
    validate_nic_static(given)
    assert given['mac'] == '52:54:00:aa:00:02'


@pytest.mark.parametrize('overrides, words, key', [
    (dict(mac='01:00:5e:00:00:01'), 'multicast', 'mac'),
    (dict(mac='52:54:00:zz:00:02'), 'Invalid MAC', 'mac'),
    (dict(mac='52:54:00:aa:00'), 'Invalid MAC', 'mac'),
    (dict(mac=None, alias=None), 'Give mac', 'domain'),
    (dict(alias='lan0'), 'ua-', 'alias'),
    (dict(alias='ua-lan 0'), 'ua-', 'alias'),
    (dict(target='vnet3'), 'reserves', 'target'),
    (dict(target='macvtap0'), 'reserves', 'target'),
    (dict(target='a-very-long-tap-name'), 'at most 15 bytes', 'target'),
    (dict(bridge='br/0'), 'Invalid interface name', 'bridge'),
    (dict(model='virtio"/><x'), 'Invalid model', 'model'),
    (dict(mtu=67), 'out of range', 'mtu'),
    (dict(mtu=65536), 'out of range', 'mtu'),
])
def test_validate_refusals(overrides, words, key):
    with pytest.raises(ValidationError) as info:
        validate_nic_static(params(**overrides))
    assert words in info.value.msg
    assert key in info.value.details


def test_validate_alias_without_mac_is_an_identity():
    given = params(mac=None, alias='ua-lan0', target='tap-g1')
    validate_nic_static(given)
    assert given['mac'] is None


# ---- XML: parse and identity ------------------------------------------------------------------------------------

def test_parse_nic_reads_every_managed_field():
    nic = parse_nic(ET.fromstring(LIVE_NIC))
    assert nic == dict(type='bridge', mac='52:54:00:aa:00:02', bridge='br0', network=None, model='virtio',
                       link_state='up', mtu=None, target='vnet7', alias='net1')


def test_parse_nic_link_down_mtu_and_network():
    element = ET.fromstring("<interface type='network'><source network='default'/><link state='down'/>"
                            "<mtu size='9000'/></interface>")
    nic = parse_nic(element)
    assert (nic['type'], nic['network'], nic['bridge'], nic['link_state'], nic['mtu'], nic['mac']) == (
        'network', 'default', None, 'down', 9000, None)


def test_domain_nics_in_document_order():
    nics = domain_nics(domain_xml(OTHER_NIC, LIVE_NIC))
    assert [nic['mac'] for nic, dummy in nics] == ['52:54:00:aa:00:01', '52:54:00:aa:00:02']
    assert domain_nics("<domain><name>x</name></domain>") == []


@pytest.mark.parametrize('mac, alias, expected', [
    ('52:54:00:aa:00:02', None, '52:54:00:aa:00:02'),
    ('52:54:00:aa:00:09', None, None),
    (None, 'ua-mgmt', '52:54:00:aa:00:01'),
    ('52:54:00:aa:00:01', 'ua-mgmt', '52:54:00:aa:00:01'),
    (None, 'ua-none', None),
])
def test_find_nic(mac, alias, expected):
    found = find_nic(domain_nics(domain_xml(OTHER_NIC, LIVE_NIC)), mac, alias, 'g1')
    assert (found[0]['mac'] if found else None) == expected


def test_find_nic_refuses_duplicate_macs():
    with pytest.raises(ValidationError) as info:
        find_nic(domain_nics(domain_xml(LIVE_NIC, CONFIG_NIC)), '52:54:00:aa:00:02', None, 'g1')
    assert 'used by 2 NICs' in info.value.msg


def test_find_nic_refuses_a_mac_of_another_nic():
    with pytest.raises(ValidationError) as info:
        find_nic(domain_nics(domain_xml(OTHER_NIC, LIVE_NIC)), '52:54:00:aa:00:01', 'ua-new', 'g1')
    assert 'already used by another NIC' in info.value.msg
    assert 'ua-mgmt' in info.value.msg


def test_find_nic_refuses_alias_with_other_mac():
    with pytest.raises(ValidationError) as info:
        find_nic(domain_nics(domain_xml(OTHER_NIC)), '52:54:00:aa:00:05', 'ua-mgmt', 'g1')
    assert 'cannot be changed in place' in info.value.msg


# ---- XML: building ----------------------------------------------------------------------------------------------

def test_desired_element_new_nic():
    element = desired_element(dict(mac='52:54:00:aa:00:02', bridge='br0', model='virtio', link_state='up',
                                   mtu=9000, target='tap-g1', alias='ua-lan0'))
    assert [child.tag for child in element] == ['mac', 'source', 'target', 'model', 'link', 'mtu', 'alias']
    assert parse_nic(element) == dict(type='bridge', mac='52:54:00:aa:00:02', bridge='br0', network=None,
                                      model='virtio', link_state='up', mtu=9000, target='tap-g1', alias='ua-lan0')


def test_desired_element_keeps_everything_it_does_not_manage():
    base = ET.fromstring(LIVE_NIC)
    element = desired_element(dict(mac='52:54:00:aa:00:02', bridge='br1', link_state='down'), base)
    nic = parse_nic(element)
    assert (nic['bridge'], nic['link_state'], nic['model'], nic['target'], nic['alias']) == (
        'br1', 'down', 'virtio', 'vnet7', 'net1')
    assert element.find('address').get('slot') == '0x04'
    assert element.find('driver').get('queues') == '2'
    assert parse_nic(base)['bridge'] == 'br0'  # the base is not modified


def test_desired_element_turns_a_network_nic_into_a_bridge_nic():
    element = desired_element(dict(mac=None, bridge='kvmbr0'), ET.fromstring(OTHER_NIC))
    assert element.get('type') == 'bridge'
    assert element.find('source').attrib == {'bridge': 'kvmbr0'}
    assert [child.tag for child in element][:2] == ['mac', 'source']


def test_input_cannot_inject_xml():
    element = desired_element(dict(mac='52:54:00:aa:00:02', bridge="br0'/><evil/>", model='virtio'))
    text = to_xml(element)
    assert '<evil' not in text
    assert parse_nic(ET.fromstring(text))['bridge'] == "br0'/><evil/>"


@pytest.mark.parametrize('want, expected', [
    (dict(bridge='br0'), {}),
    (dict(bridge='br1'), dict(bridge=dict(before='br0', after='br1'))),
    (dict(bridge='br0', link_state='up'), {}),
    (dict(bridge='br0', link_state='down'), dict(link_state=dict(before='up', after='down'))),
    (dict(bridge='br0', model='e1000e'), dict(model=dict(before='virtio', after='e1000e'))),
    (dict(bridge='br0', mtu=9000), dict(mtu=dict(before=None, after=9000))),
    (dict(bridge='br0', target='tap-g1'), dict(target=dict(before='vnet7', after='tap-g1'))),
])
def test_differences(want, expected):
    assert differences(want, parse_nic(ET.fromstring(LIVE_NIC))) == expected


def test_differences_of_a_network_nic_include_the_bridge():
    assert differences(dict(bridge='default'), parse_nic(ET.fromstring(OTHER_NIC))) == dict(
        bridge=dict(before=None, after='default'))


# ---- plans ------------------------------------------------------------------------------------------------------

def nics(live=(), config=()):
    return dict(live=domain_nics(domain_xml(*live)), config=domain_nics(domain_xml(*config)))


def test_plan_attach_running_domain_is_one_request_for_both_sides():
    steps, found, predicted = plan_nic(params(), ('live', 'config'), nics())
    assert [(step['action'], step['sides']) for step in steps] == [('attach', ['live', 'config'])]
    nic = parse_nic(steps[0]['element'])
    assert (nic['mac'], nic['bridge'], nic['model'], nic['link_state']) == ('52:54:00:aa:00:02', 'br0', 'virtio', 'up')
    assert found == dict(live=None, config=None)
    assert predicted['live']['target'] is None


def test_plan_attach_shut_off_domain_config_only():
    steps, dummy, dummy = plan_nic(params(model='e1000e', link_state='down'), ('config',), nics())
    assert [(step['action'], step['sides']) for step in steps] == [('attach', ['config'])]
    assert parse_nic(steps[0]['element'])['model'] == 'e1000e'
    assert parse_nic(steps[0]['element'])['link_state'] == 'down'


@pytest.mark.parametrize('sides, live, config', [
    (('live', 'config'), (LIVE_NIC,), (CONFIG_NIC,)),
    (('config',), (), (CONFIG_NIC,)),
    (('live',), (LIVE_NIC,), ()),
])
def test_plan_noop(sides, live, config):
    steps, found, predicted = plan_nic(params(link_state='up', model='virtio'), sides, nics(live, config))
    assert steps == []
    assert predicted == found


def test_plan_update_sends_the_full_element_per_side():
    steps, dummy, predicted = plan_nic(params(bridge='br1', link_state='down'), ('live', 'config'),
                                       nics((LIVE_NIC,), (CONFIG_NIC,)))
    assert [(step['action'], step['sides']) for step in steps] == [('update', ['live']), ('update', ['config'])]
    live = parse_nic(steps[0]['element'])
    assert (live['bridge'], live['link_state'], live['model'], live['target']) == ('br1', 'down', 'virtio', 'vnet7')
    assert steps[0]['element'].find('address') is not None
    assert steps[0]['changes'] == dict(bridge=dict(before='br0', after='br1'),
                                       link_state=dict(before='up', after='down'))
    assert parse_nic(steps[0]['revert_element'])['bridge'] == 'br0'
    assert parse_nic(steps[1]['element'])['target'] is None
    assert predicted['live']['bridge'] == predicted['config']['bridge'] == 'br1'


@pytest.mark.parametrize('overrides, option', [
    (dict(model='e1000e'), 'model'),
    (dict(mtu=9000), 'mtu'),
    (dict(target='tap-g1'), 'target'),
])
def test_plan_refuses_what_libvirt_cannot_change_live(overrides, option):
    with pytest.raises(ValidationError) as info:
        plan_nic(params(**overrides), ('live', 'config'), nics((LIVE_NIC,), (CONFIG_NIC,)))
    assert 'cannot change %s' % option in info.value.msg
    assert 'scope=config' in info.value.msg


@pytest.mark.parametrize('overrides', [dict(model='e1000e'), dict(mtu=9000), dict(target='tap-g1')])
def test_plan_changes_fixed_options_in_the_config(overrides):
    steps, dummy, dummy = plan_nic(params(**overrides), ('config',), nics((), (CONFIG_NIC,)))
    assert [(step['action'], step['sides']) for step in steps] == [('update', ['config'])]
    assert list(steps[0]['changes']) == list(overrides)


def test_plan_unset_model_is_left_alone_on_an_existing_nic():
    steps, dummy, dummy = plan_nic(params(model=None), ('config',),
                                   nics((), (CONFIG_NIC.replace('virtio', 'e1000e'),)))
    assert steps == []


def test_plan_plugs_a_configured_nic_into_the_running_guest():
    steps, dummy, dummy = plan_nic(params(), ('live', 'config'), nics((), (CONFIG_NIC,)))
    assert [(step['action'], step['sides']) for step in steps] == [('attach', ['live'])]
    assert steps[0]['element'].find('address').get('slot') == '0x04'


def test_plan_writes_a_live_only_nic_into_the_config_without_runtime_parts():
    steps, dummy, dummy = plan_nic(params(), ('live', 'config'), nics((LIVE_NIC,), ()))
    assert [(step['action'], step['sides']) for step in steps] == [('attach', ['config'])]
    nic = parse_nic(steps[0]['element'])
    assert (nic['target'], nic['alias'], nic['mac']) == (None, None, '52:54:00:aa:00:02')


def test_plan_alias_identity_takes_the_mac_from_the_other_side():
    live = LIVE_NIC.replace("name='net1'", "name='ua-lan0'")
    steps, dummy, dummy = plan_nic(params(mac=None, alias='ua-lan0'), ('live', 'config'), nics((live,), ()))
    assert parse_nic(steps[0]['element'])['mac'] == '52:54:00:aa:00:02'
    assert parse_nic(steps[0]['element'])['alias'] == 'ua-lan0'


def test_plan_detach_live_first_then_config():
    steps, found, predicted = plan_nic(params(state='absent', bridge=None), ('live', 'config'),
                                       nics((LIVE_NIC,), (CONFIG_NIC,)))
    assert [(step['action'], step['sides']) for step in steps] == [('detach', ['live']), ('detach', ['config'])]
    assert predicted == dict(live=None, config=None)
    assert found['live']['target'] == 'vnet7'


def test_plan_detach_of_an_absent_nic_is_a_noop():
    steps, dummy, dummy = plan_nic(params(state='absent', bridge=None), ('live', 'config'), nics((OTHER_NIC,)))
    assert steps == []


def test_plan_refuses_duplicate_mac_before_anything():
    with pytest.raises(ValidationError):
        plan_nic(params(), ('live', 'config'), nics((LIVE_NIC, LIVE_NIC), ()))


def test_describe_nic_prefers_live_and_drops_generated_aliases():
    live = parse_nic(ET.fromstring(LIVE_NIC))
    config = parse_nic(ET.fromstring(CONFIG_NIC))
    result = describe_nic('g1', ('live', 'config'), dict(live=live, config=config))
    assert result == dict(domain='g1', state='present', live=True, config=True, sides=['live', 'config'],
                          mac='52:54:00:aa:00:02', alias=None, bridge='br0', model='virtio', link_state='up',
                          mtu=None, tap='vnet7', tap_mac='fe:54:00:aa:00:02')
    absent = describe_nic('g1', ('config',), dict(config=None))
    assert (absent['state'], absent['tap'], absent['mac']) == ('absent', None, None)


# ---- the guest agent (replies recorded from the lab guest: qemu-ga 7.2 via virsh qemu-agent-command) ------------

# two NICs, eth0 with a DHCP lease, eth1 on a bridge without a DHCP server (IPv6 link-local only)
REPLY_LEASED = (
    '{"return":[{"name":"lo","ip-addresses":[{"ip-address-type":"ipv4","ip-address":"127.0.0.1","prefix":'
    '8},{"ip-address-type":"ipv6","ip-address":"::1","prefix":128}],"statistics":{"tx-packets":0,"tx-errs'
    '":0,"rx-bytes":0,"rx-dropped":0,"rx-packets":0,"rx-errs":0,"tx-bytes":0,"tx-dropped":0},"hardware-ad'
    'dress":"00:00:00:00:00:00"},{"name":"eth0","ip-addresses":[{"ip-address-type":"ipv4","ip-address":"1'
    '92.168.77.136","prefix":24},{"ip-address-type":"ipv6","ip-address":"fe80::5054:ff:fe77:910","prefix"'
    ':64}],"statistics":{"tx-packets":5,"tx-errs":0,"rx-bytes":2186,"rx-dropped":0,"rx-packets":19,"rx-er'
    'rs":0,"tx-bytes":950,"tx-dropped":0},"hardware-address":"52:54:00:77:09:10"},{"name":"eth1","ip-addr'
    'esses":[{"ip-address-type":"ipv6","ip-address":"fe80::5054:ff:fe77:911","prefix":64}],"statistics":{'
    '"tx-packets":6,"tx-errs":0,"rx-bytes":1190,"rx-dropped":0,"rx-packets":13,"rx-errs":0,"tx-bytes":104'
    '0,"tx-dropped":0},"hardware-address":"52:54:00:77:09:11"}]}'
)
# right after boot: eth0 has no address yet, and qemu-ga gives statistics only for interfaces with an address
REPLY_BOOTING = (
    '{"return":[{"name":"lo","ip-addresses":[{"ip-address-type":"ipv4","ip-address":"127.0.0.1","prefix":'
    '8},{"ip-address-type":"ipv6","ip-address":"::1","prefix":128}],"statistics":{"tx-packets":0,"tx-errs'
    '":0,"rx-bytes":0,"rx-dropped":0,"rx-packets":0,"rx-errs":0,"tx-bytes":0,"tx-dropped":0},"hardware-ad'
    'dress":"00:00:00:00:00:00"},{"name":"eth0","hardware-address":"52:54:00:77:09:10"}]}'
)

AGENT_CHANNEL_XML = """<channel type='unix'>
  <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-1-g1/org.qemu.guest_agent.0'/>
  <target type='virtio' name='org.qemu.guest_agent.0' state='%s'/>
  <alias name='channel0'/>
  <address type='virtio-serial' controller='0' bus='0' port='1'/>
</channel>"""
OTHER_CHANNEL_XML = "<channel type='unix'><target type='virtio' name='org.example.other'/></channel>"

TAP = dict(rx_bytes=950, rx_packets=5, tx_bytes=2186, tx_packets=19, rx_dropped=0, tx_dropped=0)


@pytest.mark.parametrize('devices, expected', [
    ((AGENT_CHANNEL_XML % 'connected', LIVE_NIC), 'connected'),
    ((LIVE_NIC, AGENT_CHANNEL_XML % 'disconnected'), 'disconnected'),
    (("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>",), 'unknown'),
    ((OTHER_CHANNEL_XML, LIVE_NIC), None),
    ((), None),
])
def test_agent_channel(devices, expected):
    assert agent_channel(domain_xml(*devices)) == expected
    assert agent_channel("<domain><name>x</name></domain>") is None


def test_agent_interfaces_of_a_recorded_reply():
    interfaces = agent_interfaces(REPLY_LEASED)
    assert [(i['name'], i['mac']) for i in interfaces] == [
        ('lo', '00:00:00:00:00:00'), ('eth0', '52:54:00:77:09:10'), ('eth1', '52:54:00:77:09:11')]
    eth0 = interfaces[1]
    assert eth0['addresses'] == ['192.168.77.136/24', 'fe80::5054:ff:fe77:910/64']
    assert eth0['counters'] == dict(rx_bytes=2186, rx_packets=19, tx_bytes=950, tx_packets=5, rx_dropped=0,
                                    tx_dropped=0, rx_errors=0, tx_errors=0)


def test_agent_interfaces_without_statistics():
    interfaces = agent_interfaces(REPLY_BOOTING)
    assert (interfaces[1]['name'], interfaces[1]['counters'], interfaces[1]['addresses']) == ('eth0', None, [])


@pytest.mark.parametrize('reply', ['not json', '{"error": {"class": "GenericError", "desc": "x"}}', '[]',
                                   '{"return": [{"hardware-address": "52:54:00:00:00:01"}]}'])
def test_agent_interfaces_refuses_other_shapes(reply):
    with pytest.raises(ValueError):
        agent_interfaces(reply)


def test_agent_mac_is_lower_case():
    reply = '{"return": [{"name": "eth0", "hardware-address": "52:54:00:AA:00:02", "statistics": {}}]}'
    assert agent_interfaces(reply)[0]['mac'] == '52:54:00:aa:00:02'


@pytest.mark.parametrize('reply, mac, name, words', [
    (REPLY_LEASED, '52:54:00:77:09:10', 'eth0', None),
    (REPLY_LEASED, '52:54:00:77:09:11', 'eth1', None),
    (REPLY_LEASED, '52:54:00:77:09:99', None, 'no interface with MAC 52:54:00:77:09:99 (guest interfaces: lo'),
    (REPLY_BOOTING, '52:54:00:77:09:10', None, 'no statistics for eth0: qemu-ga gives them only for interfaces'
                                               ' with an IP address'),
])
def test_guest_interface(reply, mac, name, words):
    interface, reason = guest_interface(agent_interfaces(reply), mac)
    assert (interface['name'] if interface else None) == name
    if words is None:
        assert reason is None
    else:
        assert words in reason


def test_guest_interface_refuses_to_guess_between_interfaces_with_one_mac():
    reply = ('{"return": [{"name": "eth0", "hardware-address": "52:54:00:77:09:10", "statistics": {}},'
             ' {"name": "eth0.100", "hardware-address": "52:54:00:77:09:10", "statistics": {}}]}')
    interface, reason = guest_interface(agent_interfaces(reply), '52:54:00:77:09:10')
    assert interface is None
    assert 'several guest interfaces have MAC 52:54:00:77:09:10 (eth0, eth0.100' in reason


@pytest.mark.parametrize('tap, guest, expected', [
    (dict(tx_bytes=10, rx_bytes=20), dict(rx_bytes=10, tx_bytes=20), True),
    (dict(tx_bytes=10, rx_bytes=20), dict(rx_bytes=20, tx_bytes=10), False),  # not swapped: not mirrored
    (dict(tx_bytes=10, rx_bytes=20), dict(rx_bytes=10, tx_bytes=21), False),
    (None, dict(rx_bytes=0, tx_bytes=0), None),
    (dict(tx_bytes=10, rx_bytes=20), None, None),
])
def test_mirrored(tap, guest, expected):
    assert mirrored(tap, guest) is expected


def test_unmatched_bytes():
    assert unmatched_bytes(dict(tx_bytes=1342, rx_bytes=950), dict(rx_bytes=1000, tx_bytes=950)) == dict(
        to_guest=342, from_guest=0)
    assert unmatched_bytes(None, dict(rx_bytes=0, tx_bytes=0)) is None


def test_guest_view_mirrored_from_the_agent():
    view = guest_view(TAP, (agent_interfaces(REPLY_LEASED), None), '52:54:00:77:09:10')
    assert view == dict(guest_interface='eth0', guest_counters=agent_interfaces(REPLY_LEASED)[1]['counters'],
                        mirrored=True, mirrored_reason=None, unmatched_bytes=dict(to_guest=0, from_guest=0))


def test_guest_view_not_mirrored_says_by_how_much():
    view = guest_view(dict(TAP, tx_bytes=2528), (agent_interfaces(REPLY_LEASED), None), '52:54:00:77:09:10')
    assert (view['mirrored'], view['mirrored_reason'], view['unmatched_bytes']) == (
        False, None, dict(to_guest=342, from_guest=0))


@pytest.mark.parametrize('guest, mac, words', [
    ((None, "domain 'g1' has no guest agent channel"), '52:54:00:77:09:10', "domain 'g1' has no guest agent channel"),
    ((agent_interfaces(REPLY_BOOTING), None), '52:54:00:77:09:10', 'no statistics for eth0'),
    ((agent_interfaces(REPLY_LEASED), None), '52:54:00:aa:00:02', 'no interface with MAC 52:54:00:aa:00:02'),
])
def test_guest_view_without_the_guests_counters_is_null_with_the_reason(guest, mac, words):
    view = guest_view(TAP, guest, mac)
    assert (view['mirrored'], view['guest_counters'], view['guest_interface'], view['unmatched_bytes']) == (
        None, None, None, None)
    assert words in view['mirrored_reason']
