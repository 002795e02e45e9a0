# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_tun: TUNSETIFF flags that keep those of an existing tap; the ioctl numbers against the kernel's formula."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _tun
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError


def test_tap_flags_keep_those_of_an_existing_tap():
    assert _tun.tap_flags() == _tun.IFF_TAP | _tun.IFF_NO_PI
    assert _tun.tap_flags(dict(IFLA_TUN_PI=1, IFLA_TUN_VNET_HDR=1)) == _tun.IFF_TAP | _tun.IFF_VNET_HDR
    assert _tun.tap_flags(dict(IFLA_TUN_PI=0, IFLA_TUN_MULTI_QUEUE=1)) == (
        _tun.IFF_TAP | _tun.IFF_NO_PI | _tun.IFF_MULTI_QUEUE)


@pytest.mark.parametrize('name, number', [('TUNSETIFF', 202), ('TUNSETPERSIST', 203), ('TUNSETOWNER', 204),
                                          ('TUNSETGROUP', 206)])
def test_ioctl_numbers_are_iow_t_int(name, number):
    # _IOW('T', nr, int) on the generic ioctl layout: direction write (1) << 30 | size 4 << 16 | 'T' << 8 | nr
    assert getattr(_tun, name) == (1 << 30) | (4 << 16) | (ord('T') << 8) | number


def test_a_missing_namespace_is_refused_before_any_ioctl():
    with pytest.raises(ValidationError, match="Network namespace 'kvmnet-unit-no-such-ns' does not exist"):
        _tun.tun_ioctl('kvmnet-unit-no-such-ns', 'tap0', _tun.tap_flags())
