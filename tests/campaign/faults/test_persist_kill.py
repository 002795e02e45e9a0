# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bridge_persist (networkd backend) SIGKILLed between its file writes, then re-run (issue 11).

The files go below a scratch root (the module's ``Host`` seam, given a root: the host's own /etc is never written);
the root holds links to this machine's systemd-networkd and networkctl so the backend's preflight finds its stack,
and no networkd runs in it (activation is pending, as at a host's first boot). The host starts with the files of an
older model (another MAC, forward delay and MTU): the change updates several of them. For every file k the run is
killed right before its write, in the middle of it (the temporary file written, not yet renamed) and right after it.
Then: every persisted file is whole, either its old or its new content; a re-run says the previous run was
interrupted, removes the temporary file left (``removed_leftovers``) and converges; a third run is unchanged; no
temporary file is left.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

import faultlib

OLD = dict(backend='networkd', bridge=dict(name='kvmbr0', mac='02:00:00:00:00:01', forward_delay=4),
           port=dict(name='eth0'))
NEW = dict(backend='networkd', bridge=dict(name='kvmbr0', mac='02:00:00:00:00:02', forward_delay=0, mtu=1400),
           port=dict(name='eth0', cost=7))
TOOLS = ('/lib/systemd/systemd-networkd', '/usr/bin/networkctl')


def _root():
    root = tempfile.mkdtemp(prefix='kvmnet-faults-root-')
    for tool in TOOLS:
        os.makedirs(os.path.dirname(root + tool), exist_ok=True)
        os.symlink(tool, root + tool)
    os.makedirs(root + '/etc/systemd/network')
    return root


def _rooted(root, kill=None):
    """A child hook: the module's Host below ``root``; ``kill`` = (k, when) SIGKILLs around the k-th file write."""
    from ansible_collections.kvmnet.bridge.plugins.module_utils import _persist_apply

    def hook(module):
        original_host = module.Host
        module.Host = lambda run_command: original_host(run_command, root=root)
        if kill is None:
            return
        step, when = kill
        writes = [0]
        write, rename = _persist_apply._write, os.rename

        def counted(full, *args, **kwargs):
            if full.startswith(root + '/etc/systemd/network/'):
                writes[0] += 1
            if writes[0] == step and when == 'before':
                faultlib.Killed.now()
            write(full, *args, **kwargs)
            if writes[0] == step and when == 'after':
                faultlib.Killed.now()

        def renaming(source, target):
            if writes[0] == step and when == 'mid':
                faultlib.Killed.now()
            rename(source, target)
        _persist_apply._write = counted
        _persist_apply.os.rename = renaming
    return hook


def _files(root):
    directory = root + '/etc/systemd/network'
    return dict((name, open(os.path.join(directory, name)).read()) for name in sorted(os.listdir(directory)))


def _run(root, args, kill=None):
    return faultlib.run_module('bridge_persist', args, hook=_rooted(root, kill))


def _warned(result):
    texts = [item['event']['msg'] if isinstance(item, dict) else item for item in result.get('warnings') or []]
    return [text for text in texts if 'interrupted' in text]


def test_kill_between_files_then_rerun_converges(count):
    base = _root()
    try:
        first = _run(base, OLD)['result']
        assert first['changed'] and not first.get('failed'), first
        old = _files(base)
        new_run = _run(base, NEW)['result']
        assert new_run['changed'] and not new_run.get('failed'), new_run
        new = _files(base)
        total = len([change for change in new_run['files'] if change['state'] != 'unchanged'])
        changed = [name for name in new if old.get(name) != new[name]]
        assert total >= 2 and set(old) == set(new) and len(changed) == total, (old, new)
    finally:
        shutil.rmtree(base)
    problems = []
    points = 0
    for step in range(1, total + 1):
        for when in ('before', 'mid', 'after'):
            where = 'bridge_persist: SIGKILL %s file write %d of %d' % (when, step, total)
            root = _root()
            try:
                assert not _run(root, OLD)['result'].get('failed')
                killed = _run(root, NEW, kill=(step, when))
                assert killed['signal'] == 9, (where, killed)
                points += 1
                left = _files(root)
                temporary = [name for name in left if name.startswith('.kvmnet-')]
                torn = [name for name in new if left.get(name) not in (old[name], new[name])]
                rerun = _run(root, NEW)['result']
                final = _run(root, NEW)['result']
                after = _files(root)
                checks = [
                    (not torn, 'files neither old nor new after the kill: %s' % torn),
                    ((when == 'mid') == bool(temporary), 'temporary files after the kill: %s' % temporary),
                    (not rerun.get('failed'), 're-run failed: %s' % rerun.get('msg')),
                    (after == new, 'files after the re-run differ from the reference: %s' % sorted(after)),
                    (final['changed'] is False, 'third run changed: %s' % final.get('operations')),
                    (len(_warned(rerun)) == 1 and 'interrupted after %d of %d' % (step - 1, total)
                     in _warned(rerun)[0], 're-run does not say it was interrupted: %s' % rerun.get('warnings')),
                    (not _warned(final), 'third run still warns: %s' % final.get('warnings')),
                    (len(rerun.get('removed_leftovers') or []) == len(temporary),
                     'removed_leftovers %s, temporary files were %s' % (rerun.get('removed_leftovers'), temporary)),
                    (rerun['changed'] == (left != new), 're-run changed=%s' % rerun['changed']),
                ]
                problems += ['%s: %s' % (where, text) for ok, text in checks if not ok]
            finally:
                shutil.rmtree(root)
    count('kill', 'bridge_persist-networkd', points)
    assert points == 3 * total
    assert not problems, '\n'.join(problems)
