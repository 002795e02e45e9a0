# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hold tap argv[1] open like QEMU does (open /dev/net/tun, TUNSETIFF IFF_TAP|IFF_NO_PI), write this process's
PID to argv[2], then sleep until killed. Run it inside the namespace (ip netns exec).

With argv[3] == 'carrier-off', also turn the carrier off (TUNSETCARRIER 0), so the tap looks unused from outside
and only the kernel's EBUSY tells that it is held."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import os
import struct
import sys
import time

TUNSETIFF, TUNSETCARRIER, IFF_TAP, IFF_NO_PI = 0x400454ca, 0x400454e2, 0x0002, 0x1000

fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack('=16sH22x', sys.argv[1].encode(), IFF_TAP | IFF_NO_PI))
if sys.argv[3:] == ['carrier-off']:
    fcntl.ioctl(fd, TUNSETCARRIER, struct.pack('=i', 0))  # takes a pointer to an int
with open(sys.argv[2] + '.tmp', 'w') as handle:
    handle.write('%d\n' % os.getpid())
os.rename(sys.argv[2] + '.tmp', sys.argv[2])
time.sleep(900)
