# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a persistence backend's output all or nothing: its files, its commands, its activation.

:func:`plan` asks the backend (preflight, render, stale, prepare, limits) and compares with the host: which files
are created, updated (content, mode or owner), unchanged or removed, with a diff for each. :func:`apply` writes
them (temporary file in the same directory, mode and owner before the content is visible, fsync, rename), runs the
commands, then lets the running stack take the files (``activate``). When any step fails, everything done is taken
back in reverse order (old contents with their modes, removed files restored, each command's undo) and the stack
is activated once more on the restored files; the error then says what failed and that the host is as it was.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import tempfile

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ApplyError, RunJournal
from ansible_collections.kvmnet.bridge.plugins.module_utils._persist import PersistError

ROOT_UID = ROOT_GID = 0


class FileChange(object):
    """One file of the plan: ``state`` is created, updated, unchanged or removed; ``before`` is what the host has
    (content, mode, uid, gid) or None."""

    def __init__(self, path, state, wanted, before):
        self.path = path
        self.state = state
        self.wanted = wanted  # PersistFile, None for removed
        self.before = before  # dict(content, mode, uid, gid) or None

    def as_dict(self):
        mode = self.wanted.mode if self.wanted is not None else None
        result = dict(path=self.path, state=self.state, mode='%04o' % mode if mode is not None else None)
        if self.before is not None and self.state == 'updated' and self.before['mode'] != mode:
            result['mode_before'] = '%04o' % self.before['mode']
        return result

    def diff(self):
        before = self.before['content'] if self.before is not None else ''
        after = self.wanted.content if self.wanted is not None else ''
        header = self.path
        if self.before is not None and self.wanted is not None and (
                self.before['mode'], self.before['uid'], self.before['gid']) != (self.wanted.mode, 0, 0):
            header = '%s (mode %04o uid %d gid %d -> mode %04o root:root)' % (
                self.path, self.before['mode'], self.before['uid'], self.before['gid'], self.wanted.mode)
        return dict(before=before, after=after, before_header=header if self.before is not None else '/dev/null',
                    after_header=header if self.wanted is not None else '/dev/null')


class Plan(object):
    def __init__(self, files, commands, limits):
        self.files = files
        self.commands = commands
        self.limits = limits

    @property
    def changes(self):
        return [change for change in self.files if change.state != 'unchanged']

    @property
    def changed(self):
        return bool(self.changes or self.commands)


def _current(host, path):
    """What the host has at ``path``: dict(content, mode, uid, gid), or None when there is no file."""
    full = host.path(path)
    try:
        info = os.lstat(full)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise PersistError('%s exists and is not a regular file (%s): move it away; this module only writes'
                           ' regular files.' % (path, 'a symlink' if stat.S_ISLNK(info.st_mode) else 'not a file'),
                           path=path)
    with open(full, 'rb') as handle:
        raw = handle.read()
    try:
        content = raw.decode('utf-8')
    except UnicodeDecodeError:
        content = raw.decode('latin-1')
    return dict(content=content, mode=stat.S_IMODE(info.st_mode), uid=info.st_uid, gid=info.st_gid, raw=raw)


def plan(backend, model):
    """Ask the backend and compare with the host. Read-only; raises PersistError/ValidationError on refusals."""
    backend.preflight(model)
    wanted = backend.render(model)
    paths = [item.path for item in wanted]
    duplicated = sorted(set(path for path in paths if paths.count(path) > 1))
    if duplicated:
        raise PersistError('backend %s renders %s more than once (a bug: please report it).'
                           % (backend.name, ', '.join(duplicated)))
    files = []
    for item in wanted:
        before = _current(backend.host, item.path)
        if before is None:
            state = 'created'
        elif (before['raw'] == item.content.encode('utf-8') and before['mode'] == item.mode
              and (before['uid'], before['gid']) == (ROOT_UID, ROOT_GID)):
            state = 'unchanged'
        else:
            state = 'updated'
        files.append(FileChange(item.path, state, item, before))
    for path in backend.stale(model):
        if path in paths:
            continue
        before = _current(backend.host, path)
        if before is not None:
            files.append(FileChange(path, 'removed', None, before))
    return Plan(files, backend.prepare(model), backend.limits(model))


TEMPORARY_PREFIX = '.kvmnet-'


def leftovers(directories):
    """Temporary files of :func:`_write` in ``directories`` (sorted full paths): a run killed between creating
    one and renaming it left them. Callers hold the host lock (``_common.HostLock``), so none is in use."""
    found = []
    for directory in sorted(set(directories)):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        found += [os.path.join(directory, name) for name in sorted(names) if name.startswith(TEMPORARY_PREFIX)]
    return found


def _write(full, content, mode, uid=ROOT_UID, gid=ROOT_GID):
    directory = os.path.dirname(full)
    handle, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=directory)
    try:
        os.fchmod(handle, mode)
        if os.geteuid() == 0:
            os.fchown(handle, uid, gid)
        os.write(handle, content)
        os.fsync(handle)
        os.close(handle)
        handle = None
        os.rename(temporary, full)
    except BaseException:
        if handle is not None:
            os.close(handle)
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise
    directory_handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_handle)
    finally:
        os.close(directory_handle)


class _Journal(object):
    """What :func:`apply` did, to take it back in reverse order."""

    def __init__(self, host):
        self.host = host
        self.steps = []  # ('file', FileChange) | ('dir', path) | ('command', Command)

    def make_dirs(self, path):
        missing = []
        directory = os.path.dirname(self.host.path(path))
        while not os.path.isdir(directory):
            missing.append(directory)
            directory = os.path.dirname(directory)
        for directory in reversed(missing):
            os.mkdir(directory, 0o755)
            self.steps.append(('dir', directory))

    def undo(self):
        """Take every step back; returns the problems met (the undo goes on past each)."""
        problems = []
        for kind, item in reversed(self.steps):
            try:
                if kind == 'dir':
                    os.rmdir(item)
                elif kind == 'file':
                    full = self.host.path(item.path)
                    if item.before is None:
                        if os.path.lexists(full):
                            os.unlink(full)
                    else:
                        _write(full, item.before['raw'], item.before['mode'], item.before['uid'],
                               item.before['gid'])
                elif item.undo:
                    rc, out, err = self.host.run(item.undo)
                    if rc != 0:
                        problems.append('undo %s: rc %d: %s' % (' '.join(item.undo), rc, (err or out).strip()))
            except OSError as error:
                problems.append('restore %s: %s' % (getattr(item, 'path', item), error))
        return problems


def apply(backend, model, the_plan, activate=True):
    """Carry out ``the_plan``. Returns dict(activation=[argv...], activated=bool). On failure everything is taken
    back and ApplyError says what failed, what was restored, and any problem of the restore."""
    journal = _Journal(backend.host)
    run = RunJournal.active()  # the run record: a killed run is reported by the next one
    if run is not None:
        run.begin([dict(action='remove' if change.state == 'removed' else 'write', path=change.path)
                   for change in the_plan.changes]
                  + [dict(action='run', path=' '.join(command.argv)) for command in the_plan.commands])
    changed_paths = []
    removed_leftovers = []
    try:
        # only under the host lock (a run record with a path): without it a leftover may be another run's file
        locked = run is not None and run.path is not None
        for leftover in leftovers(os.path.dirname(backend.host.path(change.path)) for change in the_plan.changes
                                  if locked):
            os.unlink(leftover)
            removed_leftovers.append(leftover)
        for change in the_plan.changes:
            if run is not None:
                run.sending(len(journal.steps) + 1)
            full = backend.host.path(change.path)
            if change.state == 'removed':
                os.unlink(full)
            else:
                journal.make_dirs(change.path)
                _write(full, change.wanted.content.encode('utf-8'), change.wanted.mode)
            journal.steps.append(('file', change))
            changed_paths.append(change.path)
        for command in the_plan.commands:
            if run is not None:
                run.sending(len(journal.steps) + 1)
            rc, out, err = backend.host.run(command.argv)
            if rc != 0:
                raise PersistError('%s failed (rc %d): %s' % (' '.join(command.argv), rc, (err or out).strip()),
                                   command=command.argv, rc=rc)
            journal.steps.append(('command', command))
        ran = []
        activated = False
        if activate and backend.running():
            ran = backend.activate(model, changed_paths)
            activated = True
        if run is not None:
            run.end()
        done = dict(activation=ran, activated=activated)
        if removed_leftovers:  # temporary files a killed run left: said, as the repair they are
            done['removed_leftovers'] = removed_leftovers
        return done
    except (PersistError, OSError) as error:
        message = getattr(error, 'msg', None) or str(error)
        problems = journal.undo()
        reactivation = ''
        if activate and changed_paths and backend.running():
            try:
                backend.activate(None, changed_paths)  # None: the files on disk are the old ones again
            except PersistError as again:
                problems.append('activating the restored files: %s' % again.msg)
            else:
                reactivation = ' and %s took the restored files back' % backend.name
        if run is not None and not problems:
            run.end()  # all taken back: nothing half done stays behind
        if problems:
            raise ApplyError(
                'persist (%s) failed: %s. Taking it back hit problems, so the host may be half changed: %s.'
                ' Check these files and commands by hand.' % (backend.name, message, '; '.join(problems)),
                failed=message, restore_problems=problems)
        raise ApplyError(
            'persist (%s) failed: %s. Everything this run did was taken back (%d files restored, %d commands'
            ' undone)%s: the host is as it was.' % (
                backend.name, message, sum(1 for step in journal.steps if step[0] == 'file'),
                sum(1 for step in journal.steps if step[0] == 'command'), reactivation),
            failed=message)
