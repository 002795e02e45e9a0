# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persistent taps (``kvm_guest_nic`` backend ``tap``): /dev/net/tun ioctls inside a namespace, no `ip` fork.

Numbers from include/uapi/linux/if_tun.h (x86_64/arm64/most: ``_IOW('T', nr, int)`` = 0x400454xx). The tap's
facts (IFLA_TUN_*) are read by :mod:`_netlink` like any link; this file only makes and changes taps.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import struct

from ansible_collections.kvmnet.bridge.plugins.module_utils._kernel_errors import kernel_error
from ansible_collections.kvmnet.bridge.plugins.module_utils._netns import entered

TUN_DEVICE = '/dev/net/tun'
IFF_TUN, IFF_TAP, IFF_MULTI_QUEUE, IFF_NO_PI, IFF_VNET_HDR = 0x0001, 0x0002, 0x0100, 0x1000, 0x4000
TUNSETIFF, TUNSETPERSIST, TUNSETOWNER, TUNSETGROUP = 0x400454ca, 0x400454cb, 0x400454cc, 0x400454ce
_IFREQ = struct.Struct('=16sH22x')  # struct ifreq: ifr_name, ifr_flags, the rest of the union (40 bytes)


def tap_flags(tun=None):
    """TUNSETIFF flags for a tap: IFF_TAP | IFF_NO_PI for a new one; for an existing one (``tun`` = its IFLA_TUN_*
    dict) the flags it has, because TUNSETIFF on an existing tap rewrites them (packet info, vnet header)."""
    if tun is None:
        return IFF_TAP | IFF_NO_PI
    flags = IFF_TAP
    flags |= 0 if tun.get('IFLA_TUN_PI') else IFF_NO_PI
    flags |= IFF_VNET_HDR if tun.get('IFLA_TUN_VNET_HDR') else 0
    flags |= IFF_MULTI_QUEUE if tun.get('IFLA_TUN_MULTI_QUEUE') else 0
    return flags


def tun_ioctl(netns, name, flags, owner=None, group=None, persist=None, what=None):
    """Inside ``netns`` (:func:`_netns.entered`): open /dev/net/tun, TUNSETIFF ``name`` with ``flags`` (creates
    the device, or attaches to an existing one: EBUSY while another process holds it), then TUNSETOWNER /
    TUNSETGROUP when given, TUNSETPERSIST when given (1 keeps the device after close, 0 lets the close delete
    it), and close. Errors raise :class:`NetlinkOperationError` naming ``what`` and the errno."""
    import fcntl

    what = what or 'configure tap %r' % name
    with entered(netns):
        try:
            fd = os.open(TUN_DEVICE, os.O_RDWR)
            try:
                fcntl.ioctl(fd, TUNSETIFF, _IFREQ.pack(name.encode('utf-8'), flags))
                if owner is not None:
                    fcntl.ioctl(fd, TUNSETOWNER, owner)
                if group is not None:
                    fcntl.ioctl(fd, TUNSETGROUP, group)
                if persist is not None:
                    fcntl.ioctl(fd, TUNSETPERSIST, 1 if persist else 0)
            finally:
                os.close(fd)
        except OSError as exc:
            raise kernel_error(what, netns, exc.errno or errno.EIO)
