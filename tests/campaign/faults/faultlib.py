# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the fault campaign (tests/campaign/faults/run.sh): namespaces, a module run in a forked child with
a hook at the collection's own seam, and the canonical kernel state read with ``ip -j``.

A module runs the way Ansible runs it (``main()`` with the task's arguments, its JSON result on stdout), but in a
child forked from the test process, so a hook can SIGKILL it at an exact point of its plan: the hook wraps the
operations the module hands to ``_common.apply_plan`` (the module's own binding of the name, the seam every
changing module goes through), or, for the persistence module, the file writes of ``_persist_apply``.

Everything runs inside network namespaces this file creates (``kvmnet-f<pid>-<n>``) and removes; the modules get
them through their ``netns`` option. The stage runs the tests inside a ``scripts/netns-instance.sh`` instance, so
those names live in the instance's private /run/netns.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import importlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback

COLLECTION = 'ansible_collections.kvmnet.bridge.plugins'
_counter = [0]


# ---- namespaces ----------------------------------------------------------------------------------------------------

def ip(netns, *args, check=True):
    """``ip -n NETNS ARGS`` (text output)."""
    done = subprocess.run(['ip', '-n', netns] + list(args), capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError('ip -n %s %s: rc %d: %s' % (netns, ' '.join(args), done.returncode, done.stderr))
    return done.stdout


def sh(netns, script):
    """A shell script inside ``netns`` (setup only, never the thing under test)."""
    subprocess.run(['ip', 'netns', 'exec', netns, 'sh', '-ec', script], check=True)


@contextlib.contextmanager
def namespace(setup=''):
    """A fresh network namespace (IPv6 off: no DAD timing in the comparisons), ``setup`` run in it; removed after."""
    _counter[0] += 1
    name = 'kvmnet-f%d-%d' % (os.getpid(), _counter[0])
    subprocess.run(['ip', 'netns', 'add', name], check=True)
    try:
        sh(name, 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1\n'
                 'ip link set lo up\n' + setup)
        yield name
    finally:
        subprocess.run(['ip', 'netns', 'del', name], check=False, capture_output=True)


# ---- the kernel state, from ip -j (the independent source) ---------------------------------------------------------

BRIDGE_KEYS = ('stp_state', 'forward_delay', 'hello_time', 'max_age', 'priority', 'ageing_time', 'mcast_snooping',
               'group_fwd_mask', 'vlan_filtering')
PORT_KEYS = ('cost', 'priority', 'hairpin', 'learning', 'flood', 'mcast_flood', 'guard', 'root_block', 'isolated',
             'neigh_suppress')


def _json(netns, *args):
    text = ip(netns, '-j', *args)
    return json.loads(text) if text.strip() else []


def kernel_state(netns):
    """Links (by name, no ifindex), addresses and routes of ``netns``: what a converged host must show."""
    links = _json(netns, '-d', 'link', 'show')
    state = dict(links={}, addresses=[], routes=[])
    for link in links:
        info = link.get('linkinfo') or {}
        entry = dict(kind=info.get('info_kind'), master=link.get('master'), mtu=link['mtu'],
                     mac=link.get('address'), up='UP' in link.get('flags', []))
        if info.get('info_kind') == 'bridge':
            data = info.get('info_data') or {}
            entry['bridge'] = dict((key, data.get(key)) for key in BRIDGE_KEYS)
        if info.get('info_slave_kind') == 'bridge':
            data = info.get('info_slave_data') or {}
            entry['port'] = dict((key, data.get(key)) for key in PORT_KEYS)
        state['links'][link['ifname']] = entry
    for link in _json(netns, 'addr', 'show'):
        for address in link.get('addr_info', []):
            state['addresses'].append('%s %s/%s' % (link['ifname'], address['local'], address['prefixlen']))
    for route in _json(netns, 'route', 'show', 'table', 'all'):
        if route.get('table') == 'local':
            continue
        state['routes'].append('%s via %s dev %s proto %s metric %s table %s' % (
            route.get('dst'), route.get('gateway'), route.get('dev'), route.get('protocol'),
            route.get('metric'), route.get('table', 'main')))
    state['addresses'].sort()
    state['routes'].sort()
    return state


# ---- a module run in a forked child --------------------------------------------------------------------------------

class Killed(object):
    """What a hook uses to end the child as SIGKILL would: no cleanup, no exit handler, no result."""

    @staticmethod
    def now():
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def wrap_operations(before=None, after=None):
    """An ``apply_plan`` replacement factory: calls ``before(k, operation)`` / ``after(k, operation)`` around the
    k-th (1-based) operation's kernel request, then the real applier does its work (revert included)."""
    from ansible_collections.kvmnet.bridge.plugins.module_utils import _common

    def hooked(operations, check_mode, **kwargs):
        for number, operation in enumerate(operations, 1):
            original = operation.apply

            def apply(number=number, operation=operation, original=original):
                if before is not None:
                    before(number, operation)
                original()
                if after is not None:
                    after(number, operation)
            operation.apply = apply
        return _common.apply_plan(operations, check_mode, **kwargs)
    return hooked


def run_module(name, args, hook=None, env=None, timeout=60):
    """Run module ``name`` (e.g. ``linux_bridge``) with ``args`` in a forked child. ``hook(module_object)`` runs in
    the child before ``main()`` (to patch its seams). Returns dict(result=<JSON or None>, signal=<N or None>)."""
    out = tempfile.NamedTemporaryFile(prefix='kvmnet-fault-', suffix='.json', delete=False)
    out.close()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 70
        try:
            os.environ.update(env or {})
            from ansible.module_utils.testing import patch_module_args
            module = importlib.import_module('%s.modules.%s' % (COLLECTION, name))
            if hook is not None:
                hook(module)
            buffer = io.StringIO()
            arguments = dict(args, _ansible_module_name='kvmnet.bridge.%s' % name)
            with patch_module_args(arguments), contextlib.redirect_stdout(buffer):
                try:
                    module.main()
                except SystemExit:
                    pass
            with open(out.name, 'w') as handle:
                handle.write(buffer.getvalue())
            code = 0
        except BaseException:  # the child's own failure: said on stderr, the parent sees no result
            traceback.print_exc()
        finally:
            os._exit(code)
    status = _wait(pid, timeout)[1]
    with open(out.name) as handle:
        text = handle.read()
    os.unlink(out.name)
    result = None
    if text.strip():
        result = json.loads(text[text.index('{'):])
    return dict(result=result, signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                exit=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None)


def _wait(pid, timeout):
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return done, status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)
        time.sleep(0.01)


def kill_at(step, when):
    """A hook that SIGKILLs the child right ``before`` or ``after`` the kernel request of operation ``step``."""
    def hook(module):
        def at(number, operation):
            if number == step:
                Killed.now()
        module.apply_plan = wrap_operations(**{when: at})
    return hook


def plan_length(name, args, env=None):
    """The number of operations a check-mode run predicts (the plan the kill points are placed on)."""
    run = run_module(name, dict(args, _ansible_check_mode=True), env=env)
    assert run['result'] is not None and not run['result'].get('failed'), run
    return len(run['result']['operations']), run['result']['operations']
