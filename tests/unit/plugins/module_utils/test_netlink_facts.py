# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _netlink


@pytest.mark.parametrize('wire, priority', [(b'\x80\x00', 0x8000), (b'\x10\x00', 0x1000), (b'\x00\x01', 1),
                                            (b'\xff\xfe', 0xfffe)])
def test_bridge_id_priority_in_network_byte_order(wire, priority):
    """Decode a bridge ID as the kernel sends it (priority big-endian) with pyroute2's own decoder, then fix it."""
    codec = _netlink._facts_codec()
    nla = codec['ifla_bridge_id'](struct.pack('=HH', 12, 1) + wire + b'\x52\x54\x00\xaa\xbb\xcc')
    nla.decode()
    assert _netlink._bridge_id(nla.value) == dict(priority=priority, address='52:54:00:aa:bb:cc')


def test_fix_bridge_ids_leaves_other_attributes():
    prio = 0x0080 if _netlink._facts_codec()['prio_swapped'] else 0x8000  # as pyroute2 decodes 0x8000
    raw = dict(IFLA_BRPORT_COST=2, IFLA_BRPORT_ROOT_ID=dict(prio=prio, addr='02:00:00:00:00:01'))
    fixed = _netlink._fix_bridge_ids(raw)
    assert fixed == dict(IFLA_BRPORT_COST=2, IFLA_BRPORT_ROOT_ID=dict(priority=0x8000, address='02:00:00:00:00:01'))
    assert raw['IFLA_BRPORT_ROOT_ID'] != fixed['IFLA_BRPORT_ROOT_ID']  # a copy
