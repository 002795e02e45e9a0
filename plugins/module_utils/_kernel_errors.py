# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel error codes in words: the one wording of "Cannot <do what><where>: <why> (ERRNO)." for every netlink
request, namespace switch and tun ioctl the collection makes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import NetlinkOperationError, where

_ERRNO_WORDS = {
    errno.ENODEV: 'no such interface',
    errno.EEXIST: 'it already exists',
    errno.EINVAL: 'the kernel rejected a value as invalid',
    errno.ERANGE: 'a value is outside the range the kernel accepts',
    errno.EOPNOTSUPP: 'this kernel (or this kind of interface) does not support it',
    errno.EBUSY: 'the device is busy (another process, for example QEMU, holds it)',
    errno.EPERM: 'permission denied: run the task as root (become: true)',
    errno.EACCES: 'access denied (not root? For an IPv6 address: IPv6 may be disabled on the interface,'
                  ' sysctl net.ipv6.conf.<interface>.disable_ipv6)',
}


def errno_name(code):
    if code == errno.EOPNOTSUPP:
        return 'EOPNOTSUPP'  # same number as ENOTSUP, which errorcode picks; netlink users know this name
    return errno.errorcode.get(code, str(code))


def describe_errno(code):
    words = _ERRNO_WORDS.get(code) or os.strerror(code)
    return '%s (%s)' % (words, errno_name(code))


def kernel_error(what, in_netns, code, words=None, **details):
    """:class:`NetlinkOperationError` "Cannot ``what`` <in network namespace ``in_netns``>: <words> (ERRNO)."
    with the errno name in ``details['errno']``. ``words`` replaces the generic words of ``code`` when the caller knows
    better what the code means there."""
    code = code or errno.EIO
    reason = '%s (%s)' % (words, errno_name(code)) if words else describe_errno(code)
    details.setdefault('errno', errno_name(code))
    return NetlinkOperationError('Cannot %s%s: %s.' % (what, where(in_netns), reason), **details)
