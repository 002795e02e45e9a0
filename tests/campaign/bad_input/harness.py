# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bad-input campaign's harness (tests/campaign/bad_input/run.sh runs it inside a throwaway namespace).

- ``Scratch`` (conftest.py's ``scratch`` fixture): a network namespace of its own (inside the instance's
  private /run/netns) with a real bridge (``br-bad0``, one veth port ``veth-bad0``, an IPv4 address), a free veth
  (``veth-bad1``), and scratch directories for bridge_persist (its Host root) and net_checkpoint (state_dir,
  log_dir). IPv6 is off in it, so no duplicate address detection changes addresses while the cases run.
- ``Campaign`` (the ``campaign`` fixture): runs a module's real ``main()`` in this process (args injected as
  tests/unit does, the JSON it prints on exit parsed) between two snapshots of the scratch namespace and of this
  process's own namespace (``ip -j -d link``, ``ip -j addr``, ``ip -j route show table all``, ``bridge -j vlan``)
  and of the scratch directories; they must be equal (on a difference the scratch namespace is rebuilt, so later
  cases start clean). Every run is counted by module, family and kind (table or hypothesis); conftest.py writes
  the counts to $KVMNET_BAD_INPUT_REPORT at the end of the session.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import contextlib
import hashlib
import importlib
import io
import json
import os
import subprocess

SCRATCH = 'kvmnet-badin-scratch'
BRIDGE = 'br-bad0'
PORT = 'veth-bad0'  # a port of BRIDGE
FREE = 'veth-bad1'  # PORT's peer, in no bridge
BRIDGE_MAC = '02:00:00:ba:d0:01'
BRIDGE_ADDRESS = '192.0.2.1/24'
MISSING_NETNS = 'kvmnet-badin-no-such-netns'
TEST_URI = 'test:///default'
# A URI libvirt cannot reach: the socket does not exist (fails at once, no daemon, nothing created).
UNREACHABLE_URI = 'qemu:///system?socket=/nonexistent/kvmnet-badin/libvirt-sock'

# Keys of `ip -j -d link` that the kernel changes by itself as time passes (bridge and port timers).
VOLATILE_SUFFIX = '_timer'

COUNTS = collections.Counter()  # (module, family, kind) -> cases run
CHANGES = []  # (module, family, description of the difference): must stay empty


def _ip(*args, **kwargs):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kwargs).stdout


def inside_instance():
    """True when this process runs in the namespace scripts/netns-instance.sh made (never the root one)."""
    name = os.environ.get('KVMNET_NETNS')
    if not name:
        return False
    try:
        return os.stat('/run/netns/' + name).st_ino == os.stat('/proc/self/ns/net').st_ino
    except OSError:
        return False


def _strip_volatile(value):
    if isinstance(value, dict):
        return dict((key, _strip_volatile(item)) for key, item in value.items()
                    if not key.endswith(VOLATILE_SUFFIX))
    if isinstance(value, list):
        return [_strip_volatile(item) for item in value]
    return value


def netns_state(netns=None):
    """The kernel state of ``netns`` (None: this process's namespace) as plain data."""
    where = ['-n', netns] if netns else []
    lines = _ip('ip', *where, '-j', '-d', '-batch', '-',
                input='link show\naddr show\nroute show table all\n').splitlines()
    state = dict(zip(('link', 'addr', 'route'), (json.loads(line, strict=False) for line in lines if line.strip())))
    vlan = subprocess.run(['bridge'] + where + ['-j', 'vlan', 'show'], capture_output=True, text=True,
                          check=False)
    vlan_ok = vlan.returncode == 0 and vlan.stdout.strip()
    state['vlan'] = json.loads(vlan.stdout, strict=False) if vlan_ok else vlan.returncode
    return _strip_volatile(state)


def files_state(directory):
    """path -> (mode, sha256) of everything below ``directory``."""
    found = {}
    for base, dirs, names in os.walk(directory):
        for name in dirs + names:
            path = os.path.join(base, name)
            info = os.lstat(path)
            digest = None
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, 'rb') as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            found[os.path.relpath(path, directory)] = (info.st_mode, digest)
    return found


class Scratch(object):
    """The scratch namespace and directories (see the module docstring)."""

    def __init__(self, base):
        self.netns = SCRATCH
        self.bridge, self.port, self.free = BRIDGE, PORT, FREE
        self.persist_root = os.path.join(base, 'persist-root')
        self.state_dir = os.path.join(base, 'checkpoint-state')
        self.log_dir = os.path.join(base, 'checkpoint-log')
        self.directories = (self.persist_root, self.state_dir, self.log_dir)

    def build(self):
        for directory in self.directories:
            os.makedirs(directory)
        _ip('ip', 'netns', 'add', SCRATCH)
        _ip('ip', 'netns', 'exec', SCRATCH, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1',
            'net.ipv6.conf.default.disable_ipv6=1')
        ns = ('ip', '-n', SCRATCH)
        _ip(*ns, 'link', 'set', 'lo', 'up')
        _ip(*ns, 'link', 'add', BRIDGE, 'address', BRIDGE_MAC, 'type', 'bridge', 'stp_state', '0',
            'forward_delay', '0')
        _ip(*ns, 'link', 'add', PORT, 'type', 'veth', 'peer', 'name', FREE)
        _ip(*ns, 'link', 'set', PORT, 'master', BRIDGE)
        for name in (BRIDGE, PORT, FREE):
            _ip(*ns, 'link', 'set', name, 'up')
        _ip(*ns, 'address', 'add', BRIDGE_ADDRESS, 'dev', BRIDGE)
        self.settle()

    def settle(self, tries=50):
        """Wait until the carrier and port states stop moving (two equal snapshots)."""
        import time
        last = self.snapshot()
        for dummy in range(tries):
            time.sleep(0.1)
            now = self.snapshot()
            if now == last:
                return
            last = now
        raise AssertionError('the scratch namespace did not settle')

    def snapshot(self):
        state = dict(scratch=netns_state(SCRATCH), instance=netns_state())
        for directory in self.directories:
            state[directory] = files_state(directory)
        return state

    def rebuild(self):
        self.remove()
        for directory in self.directories:
            subprocess.run(['rm', '-rf', directory], check=True)
        self.build()

    def remove(self):
        subprocess.run(['ip', 'netns', 'delete', SCRATCH], check=False, capture_output=True)


def run_main(module_name, args, check=False):
    """Run module ``module_name``'s main() in this process; its result dict (what Ansible would get)."""
    from ansible.module_utils import _internal
    from ansible.module_utils.common import warnings
    from ansible.module_utils.testing import patch_module_args

    module = importlib.import_module('ansible_collections.kvmnet.bridge.plugins.modules.' + module_name)
    warnings._global_warnings = {}
    # a test that imported controller code flips this and sends module warnings to a display: run as a module
    _internal.is_controller = False
    args = dict(args, _ansible_check_mode=check, _ansible_diff=True)
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
        else:
            raise AssertionError('%s.main() returned without exit_json/fail_json' % module_name)
    return json.loads(out.getvalue())


def describe_difference(before, after):
    parts = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            was, now = (json.dumps(side.get(key), sort_keys=True)[:600] for side in (before, after))
            parts.append('%s: before %s, after %s' % (key, was, now))
    return '; '.join(parts)


class Campaign(object):
    """Runs cases between snapshots and counts them."""

    def __init__(self, box):
        self.box = box

    def run(self, module_name, args, family, kind='table', check=False):
        before = self.box.snapshot()
        result = run_main(module_name, args, check=check)
        after = self.box.snapshot()
        COUNTS[(module_name, family, kind)] += 1
        if after != before:
            difference = describe_difference(before, after)
            CHANGES.append((module_name, family, difference))
            self.box.rebuild()  # the next cases start from the same state again
            raise AssertionError('%s changed the host on bad input %r: %s' % (module_name, args, difference))
        return result

    def refused(self, module_name, args, family, needles, hints, kind='table', check=False):
        """Run a case that must fail; see :func:`assert_refused`. Returns the result."""
        result = self.run(module_name, args, family, kind=kind, check=check)
        assert_refused(result, needles, hints)
        return result

    def accepted(self, module_name, args, family, kind='hypothesis'):
        """Run a case that must pass in check mode, changing nothing (the snapshot); returns the result."""
        result = self.run(module_name, args, family, kind=kind, check=True)
        assert not result.get('failed'), result.get('msg')
        return result


def shown(value):
    """How a message must show ``value``: as given when it is printable, else escaped (repr)."""
    text = value if isinstance(value, str) else str(value)
    return text if text.isprintable() else repr(text)[1:-1]


def assert_refused(result, needles, hints):
    """failed, not changed, every needle shown in the message (repr-safe), at least one hint word (the way out);
    a raw control character never reaches the message."""
    msg = result.get('msg', '')
    assert result.get('failed') is True, 'not refused: %r' % (result,)
    assert result.get('changed', False) is False, result
    assert 'Traceback' not in msg and 'exception' not in result, result
    for needle in needles:
        assert shown(needle) in msg, 'message does not show %r: %s' % (needle, msg)
    assert any(hint.lower() in msg.lower() for hint in hints), 'message says no way out (%s): %s' % (hints, msg)
    assert not any(ord(char) < 32 for char in msg), 'raw control character in the message: %r' % msg
