# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one door into a network namespace: the ``netns`` option -> the namespace file, the one wording of "that
namespace does not exist", and :func:`entered`, which runs a block with this thread inside the namespace and
brings it back.

Whatever is created inside (a netlink socket, a tun file descriptor) stays bound to that namespace after the
thread has left it. A namespace is never created: pyroute2 would create a missing one unless told ``flags=0``,
this door only opens existing files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import errno
import os
from contextlib import contextmanager

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._kernel_errors import kernel_error

NETNS_RUN_DIR = '/run/netns'
CLONE_NEWNET = 0x40000000
OWN_NETNS = '/proc/self/ns/net'


def netns_path(netns, run_dir=NETNS_RUN_DIR):
    """The namespace file of ``netns``: an absolute path as given, a name under ``run_dir`` (``ip netns``)."""
    return netns if netns.startswith('/') else os.path.join(run_dir, netns)


def existing_netns_path(netns, run_dir=NETNS_RUN_DIR):
    """:func:`netns_path`, or :class:`ValidationError` when there is no such file (nothing is created)."""
    if any(ord(char) < 32 or ord(char) == 127 for char in netns):
        raise ValidationError(
            'Network namespace %r has a control character: no namespace can have that name. Give the name as'
            ' `ip netns list` shows it, or the path of a namespace file such as /proc/PID/ns/net.' % netns,
            netns=netns)
    path = netns_path(netns, run_dir)
    if os.path.exists(path):
        return path
    if netns.startswith('/'):
        raise ValidationError(
            'Network namespace path %r does not exist. netns takes the name of a namespace (as `ip netns list`'
            ' shows it, a file in %s) or the path of an existing namespace file (for example /proc/PID/ns/net of'
            ' a process inside it); kvmnet.bridge never creates a namespace.' % (netns, run_dir), netns=netns)
    raise ValidationError(
        'Network namespace %r does not exist (no %r). Create it first (for example `ip netns add %s`):'
        ' kvmnet.bridge never creates a namespace implicitly.' % (netns, path, netns), netns=netns)


def _setns(fd):
    """Move this thread into the network namespace behind ``fd`` (os.setns from Python 3.12, else libc)."""
    if hasattr(os, 'setns'):
        os.setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


@contextmanager
def entered(netns, run_dir=NETNS_RUN_DIR, setns=_setns):
    """Run the ``with`` block inside network namespace ``netns`` (nothing to do when it is empty or None).

    A missing namespace raises :class:`ValidationError` (:func:`existing_netns_path`); a file that cannot be
    entered raises :class:`NetlinkOperationError` before the block runs. Errors of the block itself pass through
    unchanged, after this thread is back in its own namespace. ``setns`` is a seam for tests.
    """
    if not netns:
        yield
        return
    path = existing_netns_path(netns, run_dir)
    own = target = None
    try:
        own = os.open(OWN_NETNS, os.O_RDONLY)
        target = os.open(path, os.O_RDONLY)
        setns(target)
    except OSError as exc:
        for fd in (own, target):
            if fd is not None:
                os.close(fd)
        code = exc.errno or errno.EIO
        words = 'it is not a network namespace file' if code == errno.EINVAL else None
        raise kernel_error('enter network namespace %r' % netns, None, code, words=words, netns=netns)
    os.close(target)
    try:
        yield
    finally:
        try:
            setns(own)
        except OSError as exc:  # practically impossible (our own namespace); never carry on in the wrong one
            raise kernel_error('return from network namespace %r to the original one' % netns, None,
                               exc.errno, netns=netns)
        finally:
            os.close(own)
