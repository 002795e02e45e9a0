# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module plumbing shared by every kvmnet.bridge module.

One place for: the shared options (``netns``), the collection's exceptions, the single check-mode gate with
all-or-nothing rollback (:func:`apply_plan`), and the exception boundary (:func:`run_module`), the only place
where an error becomes ``fail_json``.

Private to the collection: no compatibility promise for code outside it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import json
import os
import sys
import time

# The oldest target Python the modules run on. Every module refuses an older one in words before anything else
# (:func:`require_python`): reading pyroute2's version for the ``>= 0.7`` guard needs ``importlib.metadata``
# (3.8; Debian 12's pyroute2 reports ``__version__ == 'unknown'``), and ansible-core 2.18+ itself needs 3.8.
MINIMUM_PYTHON = (3, 8)

# Where each target-side library comes from, for the "missing library" message.
LIBRARY_SOURCES = {
    'pyroute2': dict(
        debian='python3-pyroute2', fedora='python3-pyroute2', pip='pyroute2>=0.7',
        note='Debian 12+, Ubuntu 24.04+, Fedora and EPEL 10 ship 0.7 or newer; Ubuntu 22.04 (0.6) and EPEL 9'
             ' (0.5) are too old: use pip there.'),
    'libvirt-python': dict(
        debian='python3-libvirt', fedora='python3-libvirt', pip='libvirt-python',
        note='pip builds it from source: it needs the libvirt development files (libvirt-dev / libvirt-devel)'
             ' and pkg-config.'),
}

NETNS_ARGSPEC = dict(
    netns=dict(type='str'),
)


class KvmnetError(Exception):
    """Base of every error the collection raises on purpose.

    ``details`` is merged into the failure result so a user (or a test) sees the offending values.
    """

    def __init__(self, msg, **details):
        super(KvmnetError, self).__init__(msg)
        self.msg = msg
        self.details = details


class ValidationError(KvmnetError):
    """The input is wrong; nothing was changed."""


class DependencyError(KvmnetError):
    """A Python library the module needs on the target is missing or too old."""


class NetlinkOperationError(KvmnetError):
    """The kernel refused a request (already translated into words)."""


class ApplyError(KvmnetError):
    """An operation of the plan failed; what had been applied was reverted."""


def where(netns):
    """`` in network namespace 'lab'`` (or nothing): the one wording of "where" in every message."""
    return ' in network namespace %r' % netns if netns else ''


def require_bridge(name, link, netns, needed_for, option='bridge', fix=None):
    """Refuse unless ``link`` (the ``_netlink`` link dict of ``name``, None if absent) is a Linux bridge.

    The one wording of "bridge missing" and "not a bridge"; ``needed_for`` says what needs it, e.g. 'the tap'.
    ``fix`` replaces the default way out of "not a bridge" (e.g. for a module that would create the bridge).
    """
    if link is None:
        raise ValidationError(
            'Bridge %r does not exist%s. Create it first (kvmnet.bridge.linux_bridge name=%s), or fix the name: %s'
            ' needs an existing Linux bridge.' % (name, where(netns), name, needed_for), **{option: name})
    if link['kind'] != 'bridge':
        raise ValidationError(
            'Interface %r is not a bridge (kind: %s)%s: %s'
            % (name, link['kind'] or 'a physical or unnamed-kind device', where(netns),
               fix or '%s needs a Linux bridge; %s must name one.' % (needed_for, option)),
            kind=link['kind'], **{option: name})


# errno names of "what this request would remove is not there": ENODEV (interface), EADDRNOTAVAIL (address),
# ESRCH (route), ENOENT (VLAN entry, FDB entry).
GONE_ERRNOS = ('ENODEV', 'EADDRNOTAVAIL', 'ESRCH', 'ENOENT')


def already_gone_is_done(delete, errnos=GONE_ERRNOS):
    """Wrap a delete request (a callable) so that "it is already gone" counts as done.

    A plan is made from a read; between the read and the request something else may have removed the object (a
    released port, an address a DHCP client dropped). The request's goal is reached either way, so it must not
    fail the plan nor make the revert of an earlier step fail.
    """
    def run():
        try:
            delete()
        except NetlinkOperationError as exc:
            if exc.details.get('errno') not in errnos:
                raise
    return run


class Operation(object):
    """One step of a plan: what it does (for ``operations``) and how to do and undo it.

    ``apply`` and ``revert`` are callables without arguments, each sending ONE kernel request; ``revert`` may be
    None when the operation has no effect to undo (it is then the last operation of its plan by construction,
    e.g. a delete).

    ``undo_partial`` (optional callable) is for a request the kernel may apply in part before it fails: one
    RTM_NEWLINK sets the MAC before it refuses the MTU, and a bridge's ``priority`` before it refuses
    ``vlan_filtering``. When ``apply`` fails, :func:`apply_plan` calls it first: it reads the object back and
    sends one request setting back only what changed (nothing when nothing did), and returns whether it sent one.
    A plain ``revert`` cannot do that: it would repeat the refused value too (``vlan_filtering 0`` is as
    unsupported as ``1``).
    """

    def __init__(self, action, target, attributes=None, apply=None, revert=None, undo_partial=None):
        self.action = action
        self.target = target
        self.attributes = dict(attributes or {})
        self.apply = apply
        self.revert = revert
        self.undo_partial = undo_partial

    def describe(self):
        result = dict(action=self.action, interface=self.target)
        if self.attributes:
            result['attributes'] = dict(self.attributes)
        return result

    def __repr__(self):
        return 'Operation(%r, %r, %r)' % (self.action, self.target, self.attributes)


def _vanished(watch, exists):
    """The names of ``watch`` that no longer exist (``exists(name)`` False); a read that fails counts as unknown."""
    gone = []
    for name in watch or ():
        try:
            if not exists(name):
                gone.append(name)
        except KvmnetError:
            pass
    return gone


def apply_plan(operations, check_mode, watch=None, exists=None):
    """The one check-mode gate. Apply ``operations`` in order, all or nothing.

    In check mode nothing runs. If an operation fails, what the kernel applied of that operation is undone
    (``undo_partial``), then the operations already applied are reverted in reverse order, and
    :class:`ApplyError` names the failed operation, the kernel's reason and any undo that failed.

    ``watch`` (names) and ``exists`` (name -> bool, a read) are for objects the plan relies on that something
    else may delete between the read and the write (``ip link del`` of the bridge): when an operation fails,
    the ones gone are named as the cause (the kernel's own errno is often EINVAL or EOPNOTSUPP then), and the
    revert of an operation on an object that is gone counts as done (there is nothing left to set back).
    """
    if check_mode:
        return
    journal = RunJournal.active()
    if journal is not None:
        journal.begin([operation.describe() for operation in operations])
    applied = []
    for operation in operations:
        if journal is not None:
            journal.sending(len(applied) + 1)
        try:
            operation.apply()
        except KvmnetError as exc:
            gone = _vanished(watch, exists) if exists is not None else []
            revert_errors = []
            undone = False
            if operation.undo_partial is not None:
                try:
                    undone = bool(operation.undo_partial())
                except KvmnetError as undo_exc:
                    revert_errors.append('undo what the kernel applied of %s %s: %s'
                                         % (operation.action, operation.target, undo_exc.msg))
            for done in reversed(applied):
                if done.revert is None:
                    continue
                try:
                    done.revert()
                except KvmnetError as revert_exc:
                    if done.target in gone and revert_exc.details.get('errno') == 'ENODEV':
                        continue  # deleted meanwhile: nothing of it is left to set back
                    revert_errors.append('%s %s: %s' % (done.action, done.target, revert_exc.msg))
            msg = 'Operation %s on %s failed: %s' % (operation.action, operation.target, exc.msg)
            if gone:
                msg += (' %s no longer exist%s: something else on the host deleted %s after this task read it'
                        ' (the cause of the failure). Find what removes %s, then run the task again.'
                        % (', '.join(repr(name) for name in gone), 's' if len(gone) == 1 else '',
                           'it' if len(gone) == 1 else 'them', 'it' if len(gone) == 1 else 'them'))
            if revert_errors:
                msg += ' Reverting the operations already applied ALSO failed: %s' % '; '.join(revert_errors)
            elif applied:
                msg += ' The %d operation(s) applied before it were reverted%s; the host is as it was.' % (
                    len(applied), ', and what the kernel had applied of it was undone' if undone else '')
            elif undone:
                msg += ' The kernel had applied part of it; that was undone, the host is as it was.'
            else:
                msg += ' Nothing had been changed.'
            if journal is not None and not revert_errors:
                journal.end()  # reverted: nothing half done stays behind
            details = dict(failed_operation=operation.describe(),
                           reverted_operations=[done.describe() for done in reversed(applied)],
                           revert_errors=revert_errors)
            if gone:
                details['vanished'] = gone
            raise ApplyError(msg, **details)
        applied.append(operation)
    if journal is not None:
        journal.end()


class Manager(object):
    """Base of the modules' managers: holds the module and a mutable copy of its parameters."""

    def __init__(self, module):
        self.module = module
        self.params = dict(module.params)
        self.before = None  # set by run() once the current state is read: refusals return it too

    def change_result(self, before, after, operations):
        """The result every changing module returns: changed, before, after, operations, and diff in diff mode."""
        result = dict(changed=bool(operations), before=before, after=after,
                      operations=[operation.describe() for operation in operations])
        if self.module._diff:
            result['diff'] = dict(before=before, after=after)
        return result


# The keys every failure result has besides msg (and what the error adds): nothing changed, nothing ran.
REFUSAL_SHAPE = dict(changed=False, before=None, operations=[])


def run_module(module, manager_factory):
    """The exception boundary: build the manager, run it, turn collection errors into ``fail_json``.

    ``manager_factory(module)`` returns an object whose ``run()`` returns the result dict.

    The run holds the host lock of its network namespace (:class:`HostLock`) from before the read to after the
    apply, so two plays racing on one host run their tasks one after the other (the second reads what the first
    made and has nothing left to do) instead of both planning from the same read. A record of a previous run
    that was killed while applying its plan (:class:`RunJournal`) is reported: a warning and
    ``interrupted_runs`` in the result, on success and on failure.
    """
    require_python(module)
    manager = None
    lock = journal = namespace = None
    params = {}
    result = details = None
    try:
        params = getattr(module, 'params', None) or {}
        namespace = netns_identity(params.get('netns'))
        lock = HostLock.acquire(params.get('netns'), module_name(module))
        journal = RunJournal(lock, module_name(module), run_identity(params))
        RunJournal.activate(journal)
        manager = manager_factory(module)
        result = manager.run()
    except KvmnetError as exc:
        # one shape on every path: a refusal or a failed change still says what was there and what ran
        details = dict(REFUSAL_SHAPE, before=getattr(manager, 'before', None))
        details.update(exc.details)
        details['msg'] = exc.msg
    finally:
        RunJournal.activate(None)
        interrupted = journal.close(getattr(module, 'check_mode', False)) if journal is not None else []
        if lock is not None:
            lock.release()
    if namespace is not None and netns_identity(params.get('netns')) != namespace:
        details = dict(details or dict(REFUSAL_SHAPE, before=getattr(manager, 'before', None)))
        details['msg'] = netns_vanished_message(params['netns'], details.get('msg'), result)
        details.update(netns=params['netns'], changed=False)
    outcome = result if details is None else details
    if interrupted:
        outcome['interrupted_runs'] = interrupted
        for record in interrupted:
            module.warn(interrupted_note(record, result is not None and result.get('changed')))
    if details is not None:
        module.fail_json(**details)
    module.exit_json(**result)


def netns_identity(netns):
    """``(dev, inode)`` of the namespace file of ``netns`` (None: no netns option, or no such namespace)."""
    if not netns:
        return None
    from ansible_collections.kvmnet.bridge.plugins.module_utils._netns import netns_path  # _netns imports us
    try:
        info = os.stat(netns_path(netns))
    except (OSError, ValueError):  # ValueError: a NUL in the name (refused by _netns with a clear message)
        return None
    return (info.st_dev, info.st_ino)


def netns_vanished_message(netns, error, result):
    """The failure of a task whose network namespace was deleted (or replaced) while it ran."""
    msg = ('Network namespace %r was deleted (or replaced by another of that name) while this task ran in it.'
           % netns)
    if error:
        msg += ' The task failed: %s' % error
    elif result is not None and result.get('changed'):
        msg += (' What the task changed went with the namespace (a deleted namespace\'s interfaces are destroyed'
                ' once nothing holds it); nothing was changed anywhere else.')
    return msg + (' Find what deletes it, create the namespace again (ip netns add %s, and its interfaces), then'
                  ' run the task again.' % netns)


# ---- one task at a time per network namespace, and what a killed run left -------------------------------------

RUN_DIR_ENV = 'KVMNET_RUN_DIR'  # where the locks and run records live (default /run/kvmnet); a seam for tests
DEFAULT_RUN_DIR = '/run/kvmnet'
LOCK_TIMEOUT = 300  # seconds a task waits for another kvmnet.bridge task on the same namespace
LOCK_POLL = 0.05


def module_name(module):
    """The task's module name as Ansible passes it (``kvmnet.bridge.linux_bridge``), or the file's name."""
    return getattr(module, '_name', None) or 'kvmnet.bridge'


def run_identity(params):
    """What a task is about, for its run record: its name / id / domain / bridge (first one set), else ''."""
    for key in ('name', 'id', 'domain'):
        if isinstance(params.get(key), str) and params[key]:
            return params[key]
    bridge = params.get('bridge')
    if isinstance(bridge, dict):
        return str(bridge.get('name') or '')
    return str(bridge or '')


def _lock_key(netns):
    """File-name-safe key of a network namespace (the host's own: ``host``)."""
    if not netns:
        return 'host'
    return 'netns-' + ''.join(char if char.isalnum() or char in '-_.' else '_' for char in netns)


class HostLock(object):
    """An exclusive POSIX lock (``lockf``) on ``RUN_DIR/<netns key>.lock`` held by one task at a time.

    POSIX record locks belong to the process: the kernel drops them when it dies (SIGKILL included), so a killed
    task never leaves a stale lock, and forked helpers (pyroute2's namespace proxy, the checkpoint watchdog) do
    not inherit it. The lock file holds who has it, for the message of a task that waited too long; the holder
    removes it when done (a waiter that then holds a removed file retries on the new one). Where the run
    directory cannot be made (no root, read-only /run) the module runs without lock and record: ``path`` None.
    """

    def __init__(self, path, handle, directory):
        self.path = path
        self.handle = handle
        self.directory = directory

    @classmethod
    def acquire(cls, netns, who, directory=None, timeout=LOCK_TIMEOUT, clock=time.monotonic, sleep=time.sleep):
        directory = directory or os.environ.get(RUN_DIR_ENV) or DEFAULT_RUN_DIR
        path = os.path.join(directory, _lock_key(netns) + '.lock')
        try:
            os.makedirs(directory, 0o700, exist_ok=True)
        except OSError:
            return cls(None, None, None)
        deadline = clock() + timeout
        handle = None
        while True:
            if handle is None:
                try:
                    handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                except OSError:
                    return cls(None, None, None)
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EAGAIN):
                    os.close(handle)
                    raise
            else:
                if cls._current_file(handle, path):
                    break
                os.close(handle)  # the holder removed this file when it was done: lock the one at the path
                handle = None
                continue
            if clock() >= deadline:
                holder = cls._holder(handle)
                os.close(handle)
                raise KvmnetError(
                    'Another kvmnet.bridge task (%s) has held the lock %s%s for more than %d s, so this task did'
                    ' not start: wait until it ends and run again (tasks on one host run one at a time, each on'
                    ' what the one before made).' % (holder or 'unknown', path, where(netns), timeout),
                    lock=path, holder=holder)
            sleep(LOCK_POLL)
        os.ftruncate(handle, 0)
        os.pwrite(handle, ('pid %d, %s' % (os.getpid(), who)).encode('utf-8'), 0)
        return cls(path, handle, directory)

    @staticmethod
    def _current_file(handle, path):
        """Whether ``handle`` is still the file at ``path`` (a holder unlinks it on release)."""
        try:
            mine, there = os.fstat(handle), os.stat(path)
        except OSError:
            return False
        return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)

    @staticmethod
    def _holder(handle):
        try:
            return os.pread(handle, 512, 0).decode('utf-8', 'replace').strip()
        except OSError:
            return None

    def release(self):
        """Remove the lock file (no lock files pile up per namespace), then drop the lock. A task waiting on the
        removed file sees it is gone once it gets the lock and locks the path's new file instead."""
        if self.handle is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            os.close(self.handle)  # closing the descriptor drops the POSIX lock
            self.handle = None


class RunJournal(object):
    """The record of a plan being applied: ``RUN_DIR/<netns key>.run.<module>.<identity>.json``.

    :func:`apply_plan` writes it before the first operation, updates it before each one (``applied``: the ones
    done, ``sending``: the one whose request goes out, which a kill may have stopped before or after the kernel
    took it) and removes it once the plan is applied (or fully reverted). A record found at the start of a run
    was left by a run that died while applying (SIGKILL, OOM, power): :meth:`close` returns it (and removes it
    when it belongs to this task, which has just re-read the host and converged it). Records of other tasks are
    reported, not removed.
    """

    _current = [None]

    def __init__(self, lock, module, identity):
        self.path = None
        self.found = []
        self.module = module
        self.identity = identity
        self.record = None
        if lock.path is None:
            return
        stem = lock.path[:-len('.lock')] + '.run.'
        self.path = '%s%s.%s.json' % (stem, _file_safe(module), _file_safe(identity))
        prefix = os.path.basename(stem)
        for entry in sorted(os.listdir(lock.directory)):
            if entry.startswith(prefix) and entry.endswith('.json'):
                full = os.path.join(lock.directory, entry)
                self.found.append((full, self._load(full)))

    @classmethod
    def activate(cls, journal):
        cls._current[0] = journal

    @classmethod
    def active(cls):
        return cls._current[0]

    @staticmethod
    def _load(path):
        try:
            with open(path) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return dict(module=None, target=None, note='its record is unreadable: %s' % path)

    def _write(self):
        temporary = '%s.%d.tmp' % (self.path, os.getpid())
        with open(temporary, 'w') as handle:
            json.dump(self.record, handle, sort_keys=True)
        os.rename(temporary, self.path)

    def begin(self, operations):
        if self.path is None:
            return
        self.record = dict(module=self.module, target=self.identity, pid=os.getpid(), started_at=time.time(),
                           operations=operations, applied=0, sending=None, total=len(operations))
        self._write()

    def sending(self, number):
        """Operation ``number`` (1-based) is about to be sent: the ones before it are applied."""
        if self.record is not None:
            self.record.update(applied=number - 1, sending=number)
            self._write()

    def end(self):
        if self.record is not None:
            self.record = None
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def close(self, check_mode=False):
        """The interrupted runs found at the start (each a dict). This task's own record is consumed, except in
        check mode (nothing was repaired) and when this run itself failed half way (its record stays)."""
        interrupted = []
        for path, record in self.found:
            mine = path == self.path
            interrupted.append(dict(record, this_task=mine, check_mode=bool(check_mode)))
            if mine and not check_mode and self.record is None:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        return interrupted


def _file_safe(text):
    return ''.join(char if char.isalnum() or char in '-_' else '_' for char in text)[:80] or '-'


def _operation_words(item):
    """``create kvmbr0``: an operation of a run record (a ``describe()`` dict, or a file write's action and path)."""
    return '%s %s' % (item.get('action'), item.get('interface') or item.get('path') or '')


def interrupted_note(record, changed):
    """The warning about a run that was killed while applying its plan (``record`` from :class:`RunJournal`)."""
    done = record.get('operations') or []
    applied = record.get('applied') or 0
    what = '%s on %r' % (record.get('module') or 'a kvmnet.bridge task', record.get('target') or '')
    if record.get('note'):
        return 'A previous run of %s was interrupted: %s.' % (what, record['note'])
    words = _operation_words
    text = ('A previous run of %s (pid %s) was interrupted after %d of %d operations (applied: %s)'
            % (what, record.get('pid'), applied, record.get('total') or len(done),
               ', '.join(words(item) for item in done[:applied]) or 'none'))
    sending = record.get('sending')
    if sending and sending <= len(done):
        text += ', while it sent %s (which may or may not have taken effect)' % words(done[sending - 1])
    if not record.get('this_task'):
        return text + '; run that task again to finish or repair it.'
    if record.get('check_mode'):
        return text + '; this is check mode: a run without it repairs what that run left half done.'
    if changed:
        return text + '; this run re-read the host and repaired what it left half done.'
    return text + '; this run re-read the host and found nothing left to repair.'


def _dotted(version):
    return '.'.join(str(part) for part in version)


def python_refusal(version_info, executable):
    """The refusal text for a target Python older than :data:`MINIMUM_PYTHON`, or None when it is supported."""
    if tuple(version_info[:2]) >= MINIMUM_PYTHON:
        return None
    return (
        'kvmnet.bridge needs Python >= %s on the target; the interpreter Ansible uses there is %s (Python %s).'
        ' Point ansible_python_interpreter at a Python %s or newer on that host (for example /usr/bin/python3 on'
        ' a current distribution, with the modules\' libraries installed for it).'
        % (_dotted(MINIMUM_PYTHON), executable, _dotted(version_info[:3]), _dotted(MINIMUM_PYTHON))
    )


def require_python(module, version_info=None, executable=None):
    """Refuse an unsupported target Python in words (the first check of every module: :func:`require_library`
    and :func:`run_module` call it). ``version_info`` and ``executable`` are seams for the tests."""
    version_info = sys.version_info if version_info is None else version_info
    msg = python_refusal(version_info, sys.executable if executable is None else executable)
    if msg is not None:
        module.fail_json(msg=msg, python_version=_dotted(version_info[:3]), **REFUSAL_SHAPE)


def library_refusal(library, executable, found_version=None, minimum_version=None, url=None):
    """The words for a missing (``found_version`` None) or too old target-side library: which package provides
    it on Debian/Ubuntu and Fedora, the pip line, and that it must be visible to the interpreter Ansible uses."""
    sources = LIBRARY_SOURCES.get(library, dict(pip=library))
    if found_version is None:
        msg = ('The Python library %s is missing on the target: the interpreter Ansible uses there, %s, cannot'
               ' import it.' % (library, executable))
    else:
        msg = ('%s %s is too old: kvmnet.bridge needs %s >= %s on the target (interpreter %s).'
               % (library, _dotted(found_version), library, _dotted(minimum_version), executable))
    ways = []
    if sources.get('debian'):
        ways.append('Debian/Ubuntu: apt install %s' % sources['debian'])
    if sources.get('fedora'):
        ways.append('Fedora/RHEL: dnf install %s' % sources['fedora'])
    pip = sources.get('pip', library)
    if minimum_version is not None and '>=' not in pip:
        pip = '%s>=%s' % (pip, _dotted(minimum_version))
    ways.append('any system: %s -m pip install "%s"' % (executable, pip))
    msg += ' Install it for that interpreter (%s).' % '; '.join(ways)
    if sources.get('note'):
        msg += ' ' + sources['note']
    msg += (' A distribution package serves only the system Python (/usr/bin/python3): if Ansible uses another'
            ' interpreter (a virtualenv), install it there or set ansible_python_interpreter to the one that has'
            ' it.')
    if url:
        msg += ' See %s.' % url
    return msg


def require_library(module, library, import_error, found_version, minimum_version, url=None):
    """Dependency guard: refuse an unsupported target Python first (:func:`require_python`), then fail when
    ``library`` is absent, or when it is older than ``minimum_version`` (tuples of ints), saying where to get it."""
    require_python(module)
    if import_error is not None:
        module.fail_json(msg=library_refusal(library, sys.executable, url=url), exception=import_error,
                         library=library, python=sys.executable, **REFUSAL_SHAPE)
    if found_version is not None and found_version < minimum_version:
        module.fail_json(msg=library_refusal(library, sys.executable, found_version, minimum_version, url),
                         found_version=_dotted(found_version), library=library, python=sys.executable,
                         **REFUSAL_SHAPE)
