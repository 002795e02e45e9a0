# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Netlink's reads against a fake kernel at the collection's own seam (``socket_factory``): requests are checked
with pyroute2's decoder, replies are encoded by pyroute2. Covers strict checking (kernel-filtered address and
route dumps, with the Python filter for kernels without it), interrupted dumps, error and truncated replies."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import socket
import struct

import pytest
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from ansible_collections.kvmnet.bridge.plugins.module_utils import _netlink
from ansible_collections.kvmnet.bridge.plugins.module_utils import _nlcodec as nl
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import NetlinkOperationError

MULTI = nl.NLM_F_MULTI
INTR = nl.NLM_F_DUMP_INTR


def message(cls, msg_type, sequence, fields, attrs, flags=MULTI):
    """One reply message encoded by pyroute2."""
    msg = cls()
    for key, value in fields.items():
        msg[key] = value
    msg['attrs'] = attrs
    msg['header']['type'] = msg_type
    msg['header']['flags'] = flags
    msg['header']['sequence_number'] = sequence
    msg.encode()
    return msg.data


def done(sequence, flags=MULTI, code=0):
    return struct.pack('=LHHLLi', 20, nl.NLMSG_DONE, flags, sequence, 0, -code)


def error(sequence, code):
    return struct.pack('=LHHLLi', 36, nl.NLMSG_ERROR, 0, sequence, 0, -code) + b'\0' * 16


def address(sequence, index, text, family=socket.AF_INET, flags=MULTI):
    attrs = [('IFA_ADDRESS', text)] + ([('IFA_LOCAL', text)] if family == socket.AF_INET else [])
    return message(ifaddrmsg, nl.RTM_NEWADDR, sequence, dict(family=family, prefixlen=24, index=index), attrs, flags)


def route(sequence, family, oif, dst=None, dst_len=0, table=254, flags=0, extra=()):
    attrs = [('RTA_TABLE', table), ('RTA_OIF', oif)] + ([('RTA_DST', dst)] if dst else []) + list(extra)
    return message(rtmsg, nl.RTM_NEWROUTE, sequence, dict(family=family, dst_len=dst_len, table=min(table, 252),
                                                          proto=3, type=1, flags=flags), attrs)


class FakeKernel(object):
    """A netlink socket stand-in. ``answer(kernel, request)`` returns the datagrams (bytes) the kernel sends back
    to one request; ``request`` is a dict (type, flags, sequence, data, strict: strict checking was on)."""

    def __init__(self, answer, strict_supported=True):
        self.answer = answer
        self.strict_supported = strict_supported
        self.strict = False
        self.requests = []
        self.pending = []

    def send(self, data):
        length, kind, flags, sequence, dummy = struct.unpack_from('=LHHLL', data)
        request = dict(type=kind, flags=flags, sequence=sequence, data=data, strict=self.strict)
        self.requests.append(request)
        self.pending.extend(self.answer(self, request))
        return len(data)

    def recv(self, size):
        return self.pending.pop(0)

    def setsockopt(self, level, name, value):
        if (level, name) == (_netlink.SOL_NETLINK, _netlink.NETLINK_GET_STRICT_CHK):
            if not self.strict_supported:
                raise OSError(errno.ENOPROTOOPT, 'Protocol not available')
            self.strict = bool(value)

    def close(self):
        pass


def opened(kernel):
    netlink = _netlink.Netlink(None, socket_factory=lambda: kernel)
    netlink.open()
    return netlink


def parsed(cls, request):
    msg = cls(request['data'])
    msg.decode()
    return msg


# ---- point 12: kernel-filtered addresses and routes --------------------------------------------------------

def test_addresses_are_filtered_by_the_kernel_under_strict_checking():
    def answer(kernel, request):
        return [address(request['sequence'], 9, '10.0.0.1') + done(request['sequence'])]

    kernel = FakeKernel(answer)
    assert opened(kernel).addresses(9) == [dict(family=4, address='10.0.0.1', prefixlen=24, scope=0, flags=0)]
    request = kernel.requests[0]
    assert request['strict'] is True and kernel.strict is False  # on for this request only
    assert request['type'] == nl.RTM_GETADDR and request['flags'] & nl.NLM_F_DUMP == nl.NLM_F_DUMP
    assert parsed(ifaddrmsg, request)['index'] == 9


def test_addresses_without_strict_checking_are_filtered_here():
    def answer(kernel, request):  # an old kernel ignores ifa_index and dumps every address
        sequence = request['sequence']
        return [address(sequence, 3, '10.3.0.1') + address(sequence, 9, '10.9.0.1')
                + address(sequence, 9, 'fd00::9', socket.AF_INET6), done(sequence)]

    kernel = FakeKernel(answer, strict_supported=False)
    assert [entry['address'] for entry in opened(kernel).addresses(9)] == ['10.9.0.1', 'fd00::9']
    assert kernel.requests[0]['strict'] is False


def test_routes_are_filtered_by_output_interface_in_the_kernel():
    def answer(kernel, request):
        family = parsed(rtmsg, request)['family']
        sequence = request['sequence']
        dst = '10.9.0.0' if family == socket.AF_INET else 'fd09::'
        return [route(sequence, family, 9, dst, 16) + route(sequence, family, 9, dst, 16, table=nl.RT_TABLE_LOCAL)
                + route(sequence, family, 9, dst, 32, flags=nl.RTM_F_CLONED) + done(sequence)]

    kernel = FakeKernel(answer)
    routes = opened(kernel).routes(9)
    found = [(entry['family'], entry['dst'], entry['table']) for entry in routes]
    assert found == [(4, '10.9.0.0', 254), (6, 'fd09::', 254)]
    assert sorted(routes[0]) == ['dst', 'dst_len', 'family', 'gateway', 'oif', 'prefsrc', 'priority', 'protocol',
                                 'scope', 'table', 'type']
    for request in kernel.requests:
        assert request['strict'] is True and request['type'] == nl.RTM_GETROUTE
        assert parsed(rtmsg, request).get_attr('RTA_OIF') == 9
    assert [parsed(rtmsg, request)['family'] for request in kernel.requests] == [socket.AF_INET, socket.AF_INET6]


def test_routes_without_strict_checking_are_filtered_here():
    def answer(kernel, request):
        family = parsed(rtmsg, request)['family']
        sequence = request['sequence']
        if family != socket.AF_INET:
            return [done(sequence)]
        return [route(sequence, family, 3, '10.3.0.0', 16) + route(sequence, family, 9, '10.9.0.0', 16)
                + route(sequence, family, 9, '10.9.9.9', 32, flags=nl.RTM_F_CLONED) + done(sequence)]

    routes = opened(FakeKernel(answer, strict_supported=False)).routes(9)
    assert [entry['dst'] for entry in routes] == ['10.9.0.0']


def test_multipath_routes_are_left_out():
    multipath = [('RTA_MULTIPATH', [{'oif': 9, 'attrs': [('RTA_GATEWAY', '10.0.0.1')]}])]

    def answer(kernel, request):
        sequence = request['sequence']
        return [route(sequence, socket.AF_INET, 9, '10.7.0.0', 16, extra=multipath) + done(sequence)]

    assert opened(FakeKernel(answer)).routes(9) == []


def test_default_routes_decode_only_default_routes():
    def answer(kernel, request):
        family = parsed(rtmsg, request)['family']
        sequence = request['sequence']
        if family != socket.AF_INET:
            return [done(sequence)]
        # a non-default route with a broken attribute: decoding it would raise, so it must not be decoded
        broken = bytearray(route(sequence, family, 3, '10.3.0.0', 16))
        struct.pack_into('=H', broken, nl.HEADER.size + nl.RTMSG.size, 200)
        return [route(sequence, family, 5) + bytes(broken) + route(sequence, family, 5, table=100) + done(sequence)]

    kernel = FakeKernel(answer)
    routes = opened(kernel).default_routes()
    assert [(entry['oif'], entry['table'], entry['dst_len']) for entry in routes] == [(5, 254, 0), (5, 100, 0)]
    assert all(request['strict'] for request in kernel.requests)  # no exceptions (cached routes) from the kernel


# ---- point 13: interrupted dumps, errors, truncation -------------------------------------------------------

def test_an_interrupted_dump_is_read_again():
    def answer(kernel, request):
        sequence = request['sequence']
        if len(kernel.requests) == 1:  # the table changed during the first dump
            return [address(sequence, 9, '10.0.0.1', flags=MULTI | INTR), done(sequence, MULTI | INTR)]
        return [address(sequence, 9, '10.0.0.2') + done(sequence)]

    kernel = FakeKernel(answer)
    assert [entry['address'] for entry in opened(kernel).addresses(9)] == ['10.0.0.2']
    assert [request['sequence'] for request in kernel.requests] == [1, 2]


def test_a_dump_flagged_only_on_done_counts_as_interrupted():
    def answer(kernel, request):
        sequence = request['sequence']
        flags = MULTI | INTR if len(kernel.requests) < 3 else MULTI
        return [address(sequence, 9, '10.0.0.%d' % len(kernel.requests)) + done(sequence, flags)]

    kernel = FakeKernel(answer)
    assert [entry['address'] for entry in opened(kernel).addresses(9)] == ['10.0.0.3']


def test_a_dump_interrupted_every_time_fails_with_a_clear_error():
    def answer(kernel, request):
        sequence = request['sequence']
        return [address(sequence, 9, '10.0.0.1', flags=MULTI | INTR) + done(sequence, MULTI | INTR)]

    kernel = FakeKernel(answer)
    with pytest.raises(NetlinkOperationError) as caught:
        opened(kernel).addresses(9)
    assert len(kernel.requests) == _netlink.DUMP_ATTEMPTS
    assert 'NLM_F_DUMP_INTR' in caught.value.msg and 'Run the task again' in caught.value.msg
    assert 'list the addresses of interface #9' in caught.value.msg
    assert caught.value.details['errno'] == 'EINTR'
    assert kernel.strict is False  # strict checking is switched off again on the error path too


def test_replies_to_an_earlier_request_are_skipped():
    def answer(kernel, request):
        sequence = request['sequence']
        stale = address(sequence - 1, 9, '10.0.0.99') + done(sequence - 1)
        return [stale, address(sequence, 9, '10.0.0.1') + done(sequence)]

    netlink = opened(FakeKernel(answer))
    netlink._sequence = 5
    assert [entry['address'] for entry in netlink.addresses(9)] == ['10.0.0.1']


def test_truncated_reply_is_a_clear_error():
    def answer(kernel, request):
        return [address(request['sequence'], 9, '10.0.0.1')[:30]]

    with pytest.raises(NetlinkOperationError) as caught:
        opened(FakeKernel(answer)).addresses(9)
    assert "the kernel's reply could not be read" in caught.value.msg
    assert caught.value.details['errno'] == 'EBADMSG'


def test_a_dump_that_fails_in_nlmsg_done_is_an_error():
    def answer(kernel, request):
        return [address(request['sequence'], 9, '10.0.0.1') + done(request['sequence'], code=errno.ENOBUFS)]

    with pytest.raises(NetlinkOperationError) as caught:
        opened(FakeKernel(answer)).addresses(9)
    assert caught.value.details['errno'] == 'ENOBUFS'


def test_missing_link_is_none_other_errors_have_words():
    def answer(kernel, request):
        name = parsed(ifinfmsg, request).get_attr('IFLA_IFNAME')
        return [error(request['sequence'], errno.ENODEV if name == 'nope' else errno.EPERM)]

    netlink = opened(FakeKernel(answer))
    assert netlink.get_link('nope') is None
    with pytest.raises(NetlinkOperationError) as caught:
        netlink.get_link('eth0')
    assert caught.value.msg == "Cannot read interface 'eth0': permission denied: run the task as root" \
                               " (become: true) (EPERM)."


def test_get_link_asks_by_name_and_returns_the_one_reply():
    def answer(kernel, request):
        return [message(ifinfmsg, nl.RTM_NEWLINK, request['sequence'], dict(index=4),
                        [('IFLA_IFNAME', 'eth0'), ('IFLA_MTU', 1500)], flags=0)]

    kernel = FakeKernel(answer)
    link = opened(kernel).get_link('eth0')
    assert (link['index'], link['name'], link['mtu']) == (4, 'eth0', 1500)
    assert kernel.requests[0]['flags'] == nl.NLM_F_REQUEST and kernel.requests[0]['strict'] is False


def test_port_vlans_decode_only_the_port_asked_for():
    def answer(kernel, request):
        sequence = request['sequence']
        other = bytearray(message(ifinfmsg, nl.RTM_NEWLINK, sequence, dict(family=7, index=3),
                                  [('IFLA_IFNAME', 'eth1'), ('IFLA_MTU', 1500)]))
        struct.pack_into('=H', other, nl.HEADER.size + nl.IFINFOMSG.size, 200)  # broken: must stay unread
        port = message(ifinfmsg, nl.RTM_NEWLINK, sequence, dict(family=7, index=4), [
            ('IFLA_AF_SPEC', {'attrs': [('IFLA_BRIDGE_VLAN_INFO', {'flags': 6, 'vid': 1})]})])
        return [bytes(other) + port + done(sequence)]

    kernel = FakeKernel(answer)
    assert opened(kernel).port_vlans(4) == [dict(vid=1, pvid=True, untagged=True)]
    request = parsed(ifinfmsg, kernel.requests[0])
    assert request['family'] == 7 and request.get_attr('IFLA_EXT_MASK') == nl.RTEXT_FILTER_BRVLAN
