# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property-based bad input (hypothesis, derandomized: the same examples on every run, bounded in number).

Each property has an independent reference written here over bytes and numbers, the rules the docs state:
- interface names: 1..15 bytes of UTF-8, not '.' or '..', no '/', ':', '%', no whitespace or control character,
  no byte the kernel's Latin-1 isspace() refuses (0xa0). Every name outside it is refused by the real module (not
  in check mode: a refusal comes before any change) naming it; every name inside it is accepted in check mode.
- MACs: six byte pairs with one separator (':' or '-'), any case; multicast (lowest bit of the first byte, which
  covers broadcast) and all-zero are refused; every other one is accepted in check mode, normalised.
- timers: seconds within the kernel's ranges (forward_delay 0..30 without STP), in hundredths; everything else is
  refused naming the option and the value.
Every example runs between snapshots of the scratch namespace (conftest.Campaign): no example may change it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

from harness import BRIDGE, FREE, PORT, SCRATCH, TEST_URI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = dict(bad_names=120, good_names=50, macs=80, bad_mac_text=50, timers=120)


def bounded(name):
    return settings(max_examples=EXAMPLES[name], derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# ---- names ---------------------------------------------------------------------------------------------------

KERNEL_SPACE_BYTES = b'\t\n\v\f\r \xa0'


def reference_name_ok(name):
    data = name.encode('utf-8')
    if not 1 <= len(data) <= 15 or name in ('.', '..'):
        return False
    if any(byte in b'/:%' or byte in KERNEL_SPACE_BYTES for byte in data):
        return False
    return not any(char.isspace() or ord(char) < 32 or 127 <= ord(char) < 160 for char in name)


# Characters the rules are about, mixed with any others (unicode letters, symbols, shell metacharacters).
EDGE_CHARACTERS = list('ab09-_.@+/: %\n\t\r\x00\x01\x7f\x85\xa0\u2028\u3000$;|*()[]#=\'"&<>`\\~') + [
    '\u00e0', '\u00e9', '\u0120', '\u4e2d', '\U0001f600']
NAMES = st.text(alphabet=st.one_of(st.sampled_from(EDGE_CHARACTERS), st.characters(codec='utf-8')), max_size=20)

# (module, option, base args): where a bad name goes; every one would create or change something without the check
NAME_TARGETS = [
    ('linux_bridge', 'name', dict(netns=SCRATCH)),
    ('bridge_port', 'name', dict(netns=SCRATCH, bridge=BRIDGE)),
    ('bridge_port', 'bridge', dict(netns=SCRATCH, name=FREE)),
    ('kvm_guest_nic', 'target', dict(netns=SCRATCH, backend='tap', bridge=BRIDGE)),
    ('libvirt_network', 'bridge', dict(netns=SCRATCH, uri=TEST_URI, name='kvmnet-badin-net')),
    ('linux_bridge_info', 'name', dict(netns=SCRATCH)),
]
EXISTING = ('lo', BRIDGE, PORT, FREE)


@bounded('bad_names')
@given(name=NAMES.filter(lambda name: not reference_name_ok(name)), target=st.sampled_from(NAME_TARGETS))
def test_a_name_outside_the_grammar_is_refused_naming_it(campaign, name, target):
    module, option, base = target
    result = campaign.refused(module, dict(base, **{option: name}), 'names', (name, option),
                              ('for example',), kind='hypothesis')
    assert 'Invalid interface name' in result['msg'] or name == '', result['msg']


@bounded('good_names')
@given(name=NAMES.filter(lambda name: reference_name_ok(name) and name not in EXISTING))
def test_a_name_inside_the_grammar_is_accepted_in_check_mode(campaign, name):
    result = campaign.accepted('linux_bridge', dict(name=name, netns=SCRATCH), 'names')
    assert result['changed'] is True and result['after']['name'] == name, result
    assert [op['action'] for op in result['operations']][:1] == ['create'], result['operations']


# ---- MACs ----------------------------------------------------------------------------------------------------

@st.composite
def macs(draw):
    data = draw(st.binary(min_size=6, max_size=6))
    separator = draw(st.sampled_from([':', '-']))
    text = separator.join('%02x' % byte for byte in data)
    return data, draw(st.sampled_from([text, text.upper()]))


@bounded('macs')
@given(mac=macs())
def test_a_mac_is_refused_when_multicast_or_zero_and_else_normalised(campaign, mac):
    data, text = mac
    args = dict(name='br-new0', netns=SCRATCH, mac=text)
    if data[0] & 1 or data == bytes(6):
        campaign.refused('linux_bridge', args, 'macs', (text, 'mac'), ('use',), kind='hypothesis')
    else:
        result = campaign.accepted('linux_bridge', args, 'macs')
        assert result['after']['mac'] == ':'.join('%02x' % byte for byte in data), result


MAC_SHAPE = re.compile(r'^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$')


@bounded('bad_mac_text')
@given(text=st.text(alphabet=st.one_of(st.sampled_from(list('0123456789abcdefABCDEFgG:-. \n')), st.characters()),
                    max_size=20).filter(lambda text: not MAC_SHAPE.match(text.strip())))
def test_a_mac_of_the_wrong_shape_is_refused_naming_it(campaign, text):
    campaign.refused('linux_bridge', dict(name='br-new0', netns=SCRATCH, mac=text), 'macs', ('mac',),
                     ('for example',), kind='hypothesis')


# ---- timers --------------------------------------------------------------------------------------------------

TIMER_RANGES = dict(hello_time=(1, 10), max_age=(6, 40), forward_delay=(0, 30), ageing_time=(0, 1000000))
NUMBERS = st.one_of(
    st.integers(min_value=-10 ** 7, max_value=10 ** 7),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-200, max_value=4200).map(lambda hundredths: hundredths / 100.0),
    st.floats(min_value=-1, max_value=45),
)


def reference_timer_ok(option, value):
    minimum, maximum = TIMER_RANGES[option]
    if not math.isfinite(value) or not minimum <= value <= maximum:
        return False
    return abs(round(value * 100) - value * 100) <= 1e-6


@bounded('timers')
@given(option=st.sampled_from(sorted(TIMER_RANGES)), value=NUMBERS, with_unit=st.booleans())
def test_a_timer_is_accepted_exactly_inside_its_range_in_hundredths(campaign, option, value, with_unit):
    given_value = value
    if with_unit and isinstance(value, int):
        given_value = '%ds' % value  # the unit form; floats stay numbers (their str may be in e-notation)
    args = dict(name='br-new0', netns=SCRATCH, **{option: given_value})
    if reference_timer_ok(option, value):
        result = campaign.accepted('linux_bridge', args, 'timers')
        assert abs(result['after'][option] - value) < 1e-9, result  # in hundredths, as the kernel keeps it
    else:
        campaign.refused('linux_bridge', args, 'timers', ('%s=%s' % (option, value),), ('accepts', 'round'),
                         kind='hypothesis')
