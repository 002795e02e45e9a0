# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host-side watchdog of ``net_checkpoint``: its files, how it is started and stopped, and the watchdog
process itself (:func:`main`).

Files (root only: directories 0700, files 0600; a state or log directory that is a symlink, not owned by root or
writable by others is refused):

- ``STATE_DIR/ID/checkpoint.json``: the checkpoint (id, netns and the namespace's identity, interfaces, deadline,
  snapshot, log path, watchdog kind/pid/unit). Its presence means "armed"; commit renames it away first.
- ``STATE_DIR/ID/ready.json``: written by the watchdog once it runs (pid, start time): PIDs are trusted only while
  the start time matches (/proc/PID/stat field 22), so a recycled PID is never signalled.
- ``STATE_DIR/ID/lock``: flock between the watchdog at its deadline and a commit (whoever holds it decides).
- ``STATE_DIR/ID/run.py`` and ``lib/ansible_collections/kvmnet/bridge/plugins/module_utils/*.py``: the watchdog's
  program, copied from the module's own module_utils (the AnsiballZ directory is gone when the module returns),
  run with the module's interpreter (``python -I``).
- ``LOG_DIR/ID.log``: what happened, timestamped; kept after the checkpoint is gone. Its last ``RESULT:`` line
  says how it ended (armed, committed, restored, restore incomplete, not restored, removed).

Start: a detached process (double fork, setsid, stdin/stdout on /dev/null, stderr into the log, every other file
descriptor closed, cwd /, umask 077), or, where systemd is PID 1 of this host and this process shares its mount
and network namespaces, a transient unit ``kvmnet-checkpoint-ID`` (``systemd-run --collect``), outside the SSH
session's cgroup.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import fcntl
import importlib
import json
import os
import random
import re
import shutil
import signal
import stat
import sys
import time

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import KvmnetError, ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._netns import OWN_NETNS, existing_netns_path

DEFAULT_STATE_DIR = '/run/kvmnet-checkpoint'
DEFAULT_LOG_DIR = '/var/log/kvmnet-checkpoint'
UNIT_PREFIX = 'kvmnet-checkpoint-'
PACKAGE = 'ansible_collections.kvmnet.bridge.plugins.module_utils'
# The watchdog's program: this file and what it imports (tests/unit check the copy runs on its own).
PROGRAM_MODULES = ('_bridge', '_checkpoint', '_common', '_iface', '_kernel_errors', '_names', '_netlink', '_netns',
                   '_nlcodec', '_port', '_watchdog')
READY_TIMEOUT = 30.0  # seconds for the watchdog to be ready (pyroute2's import alone takes 0.6-1.4 s cold)
LOCK_TIMEOUT = 60.0  # seconds a commit waits for a restore that is running
STALE_GRACE = 120  # seconds past its deadline after which a live watchdog is stale (hung)
STOP_TIMEOUT = 5.0
ID_RE = re.compile(r'^[0-9]{8}T[0-9]{6}-[0-9a-f]{6}$')
RESULT = 'RESULT: '

ENTRY = '''import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from ansible_collections.kvmnet.bridge.plugins.module_utils._watchdog import main  # noqa: E402

sys.exit(main(sys.argv))
'''


class WatchdogError(KvmnetError):
    """The watchdog could not be started, stopped or found in a usable state."""


# ---- small helpers -------------------------------------------------------------------------------------------

def utc(epoch):
    """ISO 8601 UTC with milliseconds: ``2026-12-05T10:15:00.123Z``."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (moment.microsecond // 1000)


def new_id(now=None, rng=None):
    """``20261205T101500-a1b2c3``: sortable, unique enough, valid in a systemd unit name and a file name."""
    now = time.time() if now is None else now
    rng = rng or random.SystemRandom()
    return '%s-%06x' % (time.strftime('%Y%m%dT%H%M%S', time.gmtime(now)), rng.randint(0, 0xFFFFFF))


def validate_id(value):
    if not ID_RE.match(value or ''):
        raise ValidationError('id=%r is not a checkpoint id (they look like 20261205T101500-a1b2c3: use the id that'
                              ' state: armed returned).' % (value,), id=value)


def netns_identity(netns):
    """``'DEV:INODE'`` of the network namespace ``netns`` (None: this process's own). A name can be reused by a new
    namespace; the identity cannot."""
    path = existing_netns_path(netns) if netns else OWN_NETNS
    info = os.stat(path)
    return '%d:%d' % (info.st_dev, info.st_ino)


def start_time(pid, proc='/proc'):
    """Field 22 of /proc/PID/stat (clock ticks after boot), None when there is no such process."""
    try:
        with open(os.path.join(proc, str(pid), 'stat')) as handle:
            text = handle.read()
    except (OSError, ValueError):
        return None
    fields = text.rsplit(')', 1)[-1].split()  # after "pid (comm)": comm may hold spaces and parentheses
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def alive(pid, starttime, proc='/proc'):
    """The process ``pid`` exists, is not a zombie, and started at ``starttime`` (not a recycled PID)."""
    if not pid or starttime is None or start_time(pid, proc) != starttime:
        return False
    try:
        with open(os.path.join(proc, str(pid), 'stat')) as handle:
            return handle.read().rsplit(')', 1)[-1].split()[0] != 'Z'
    except (OSError, IndexError):
        return False


def secure_dir(path, option, create=True, euid=None):
    """``path`` as a root-only directory (created 0700 with its parents when missing). Refuses a relative path,
    a symlink, a directory not owned by this user (root), or one that others can write to."""
    euid = os.geteuid() if euid is None else euid
    if not os.path.isabs(path or ''):
        raise ValidationError('%s=%r must be an absolute path.' % (option, path), **{option: path})
    if create and not os.path.lexists(path):
        os.makedirs(path, 0o700)
        os.chmod(path, 0o700)
    try:
        info = os.lstat(path)
    except OSError:
        return False
    problem = None
    if stat.S_ISLNK(info.st_mode):
        problem = 'is a symbolic link'
    elif not stat.S_ISDIR(info.st_mode):
        problem = 'is not a directory'
    elif info.st_uid != euid:
        problem = 'is owned by uid %d, not by uid %d (root)' % (info.st_uid, euid)
    elif info.st_mode & 0o022:
        problem = 'can be written by others (mode %04o)' % stat.S_IMODE(info.st_mode)
    if problem:
        raise ValidationError(
            '%s %s %s: the checkpoint\'s files decide what the watchdog does as root, so they must be root-only.'
            ' Use a directory owned by root with mode 0700 (or remove it: it is created so).'
            % (option, path, problem), **{option: path})
    return True


def write_file(path, text, mode=0o600):
    """Write ``text`` to ``path`` atomically (a temporary file in the same directory, then rename)."""
    temporary = '%s.%d.tmp' % (path, os.getpid())
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.rename(temporary, path)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise


def read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def log_line(path, text, clock=time.time):
    """Append one timestamped line to the log ``path`` (created 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, ('%s %s\n' % (utc(clock()), text)).encode('utf-8', 'replace'))
    finally:
        os.close(fd)


def log_result(path):
    """The last ``RESULT:`` of a log (None when there is no log or no result yet)."""
    try:
        with open(path, errors='replace') as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if RESULT in line:
            return line.split(RESULT, 1)[1].strip()
    return None


def log_text(path, limit=16000):
    try:
        with open(path, errors='replace') as handle:
            text = handle.read()
    except OSError:
        return ''
    return text if len(text) <= limit else '...' + text[-limit:]


# ---- checkpoints on disk -------------------------------------------------------------------------------------

class Checkpoint(object):
    """One directory of the state dir: its record, the watchdog's ready file, and its status."""

    def __init__(self, directory):
        self.directory = directory
        self.id = os.path.basename(directory)
        self.record = read_json(os.path.join(directory, 'checkpoint.json'))
        self.ready = read_json(os.path.join(directory, 'ready.json'))

    @property
    def path(self):
        return os.path.join(self.directory, 'checkpoint.json')

    def pid(self):
        return (self.ready or {}).get('pid')

    def watchdog_alive(self, proc='/proc'):
        ready = self.ready or {}
        return alive(ready.get('pid'), ready.get('starttime'), proc)

    def status(self, now=None, proc='/proc'):
        """``arming`` (being armed right now by a live task), ``armed``, ``stale`` (the watchdog lives long past its
        deadline: hung), or ``orphaned`` (no watchdog runs for it, the task arming it died, or the record is
        incomplete)."""
        now = time.time() if now is None else now
        record = self.record
        if record is None:
            try:
                young = now - os.lstat(self.directory).st_mtime < READY_TIMEOUT
            except OSError:
                young = False
            return 'arming' if young and self.ready is None else 'orphaned'
        if self.ready is None:
            armer = record.get('armer')
            if armer and not alive(armer.get('pid'), armer.get('starttime'), proc):
                return 'orphaned'  # the task that armed it died before its watchdog was ready
            return 'arming' if now - record.get('armed_at', 0) < READY_TIMEOUT else 'orphaned'
        if not self.watchdog_alive(proc):
            return 'orphaned'
        if now > record.get('expires_at', 0) + STALE_GRACE:
            return 'stale'
        return 'armed'

    def describe(self, now=None, proc='/proc'):
        record = self.record or {}
        return dict(id=self.id, status=self.status(now, proc), netns=record.get('netns'),
                    interfaces=record.get('interfaces'), expires_at=record.get('expires_at_text'),
                    log=record.get('log'), watchdog=record.get('watchdog'))


def checkpoints(state_dir):
    """The checkpoints in ``state_dir`` (sorted by id; none when the directory does not exist)."""
    try:
        names = sorted(os.listdir(state_dir))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return []
        raise
    return [Checkpoint(os.path.join(state_dir, name)) for name in names
            if ID_RE.match(name) and os.path.isdir(os.path.join(state_dir, name))]


def of_netns(found, netns_id):
    """The checkpoints of the namespace ``netns_id`` (records not readable count for every namespace)."""
    return [checkpoint for checkpoint in found
            if checkpoint.record is None or checkpoint.record.get('netns_id') == netns_id]


# ---- the watchdog's program ----------------------------------------------------------------------------------

def module_source(name):
    """The source text of module_utils file ``name`` as this process loaded it (also from AnsiballZ's zip)."""
    full = '%s.%s' % (PACKAGE, name)
    module = importlib.import_module(full)
    loader = getattr(module, '__loader__', None)
    source = None
    if loader is not None and hasattr(loader, 'get_source'):
        source = loader.get_source(full)
    if source is None:
        with open(module.__file__) as handle:
            source = handle.read()
    return source


def write_program(directory, source_of=module_source):
    """The watchdog's entry ``run.py`` and its module_utils under ``directory/lib``; returns the entry's path."""
    package = os.path.join(directory, 'lib', *PACKAGE.split('.'))
    os.makedirs(package, 0o700)
    parts = PACKAGE.split('.')
    for depth in range(1, len(parts) + 1):
        write_file(os.path.join(directory, 'lib', *(parts[:depth] + ['__init__.py'])), '')
    for name in PROGRAM_MODULES:
        write_file(os.path.join(package, name + '.py'), source_of(name))
    entry = os.path.join(directory, 'run.py')
    write_file(entry, ENTRY)
    os.chmod(directory, 0o700)
    for root, dirs, dummy in os.walk(directory):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o700)
    return entry


# ---- starting it ---------------------------------------------------------------------------------------------

def _same_namespace(kind, proc='/proc'):
    try:
        return os.stat(os.path.join(proc, 'self', 'ns', kind)).st_ino == os.stat(
            os.path.join(proc, '1', 'ns', kind)).st_ino
    except OSError:
        return False


def systemd_probe(which, proc='/proc'):
    """What decides between a transient unit and a detached process. ``which(name)`` finds a program (None)."""
    try:
        with open(os.path.join(proc, '1', 'comm')) as handle:
            pid1 = handle.read().strip()
    except OSError:
        pid1 = None
    return dict(pid1=pid1, booted=os.path.isdir('/run/systemd/system'), systemd_run=which('systemd-run'),
                same_mount=_same_namespace('mnt', proc), same_net=_same_namespace('net', proc))


def choose(mode, probe, netns):
    """``('systemd' | 'detached', reason)`` for ``watchdog: mode``; :class:`ValidationError` when systemd is asked
    for and cannot serve."""
    if mode == 'detached':
        return 'detached', 'detached process (watchdog: detached)'
    problems = []
    if probe.get('pid1') != 'systemd' or not probe.get('booted'):
        problems.append('PID 1 is %s, not systemd' % (probe.get('pid1') or 'unknown'))
    if not probe.get('systemd_run'):
        problems.append('systemd-run is not installed')
    if not probe.get('same_mount'):
        problems.append('this process is in another mount namespace than PID 1 (a unit would not see the same'
                        ' files and namespace names)')
    if not netns and not probe.get('same_net'):
        problems.append('this process is in another network namespace than PID 1 (a unit would restore the'
                        ' wrong one)')
    if not problems:
        return 'systemd', 'systemd is PID 1: transient unit (outside the session\'s cgroup)'
    if mode == 'systemd':
        raise ValidationError('watchdog=systemd cannot be used here: %s. Use watchdog: auto or detached.'
                              % '; '.join(problems), watchdog=mode)
    return 'detached', 'detached process (%s)' % '; '.join(problems)


def program_argv(python, entry, directory):
    return [python, '-I', entry, directory]


def systemd_argv(systemd_run, checkpoint_id, argv):
    return [systemd_run, '--unit', UNIT_PREFIX + checkpoint_id, '--collect', '--quiet',
            '--description', 'kvmnet.bridge net_checkpoint %s (restores the network unless committed)'
            % checkpoint_id, '--'] + list(argv)


def launch_detached(argv, log_path):
    """Start ``argv`` detached: double fork with setsid in between (own session and process group, no
    controlling terminal, not a child of this process), stdio closed (stdin/stdout /dev/null, stderr appended to
    ``log_path``), every other descriptor closed (Ansible waits for EOF on the module's pipes). Returns its PID."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        try:
            os.close(read_end)
            os.setsid()
            grandchild = os.fork()
            if grandchild:
                os.write(write_end, str(grandchild).encode('ascii'))
                os._exit(0)
            os.chdir('/')
            os.umask(0o077)
            null = os.open(os.devnull, os.O_RDWR)
            log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            os.dup2(null, 0)
            os.dup2(null, 1)
            os.dup2(log, 2)
            os.closerange(3, 65536)
            for number in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
                signal.signal(number, signal.SIG_DFL)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    os.close(write_end)
    data = b''
    while True:
        chunk = os.read(read_end, 64)
        if not chunk:
            break
        data += chunk
    os.close(read_end)
    os.waitpid(child, 0)
    if not data.strip().isdigit():
        raise WatchdogError('The watchdog could not be started (fork failed).')
    return int(data)


def wait_ready(directory, pid=None, timeout=READY_TIMEOUT, clock=time.monotonic, sleep=time.sleep, proc='/proc'):
    """The watchdog's ready record once it wrote it; None when it did not within ``timeout`` or (``pid`` known)
    the process ended first."""
    deadline = clock() + timeout
    path = os.path.join(directory, 'ready.json')
    while True:
        ready = read_json(path)
        if ready is not None:
            return ready
        if pid is not None and start_time(pid, proc) is None:
            return None
        if clock() > deadline:
            return None
        sleep(0.02)


def stop_process(pid, starttime, clock=time.monotonic, sleep=time.sleep, proc='/proc'):
    """SIGTERM the watchdog (only while its start time still matches), SIGKILL after :data:`STOP_TIMEOUT`."""
    if not alive(pid, starttime, proc):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = clock() + STOP_TIMEOUT
    while alive(pid, starttime, proc):
        if clock() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        sleep(0.02)
    return True


def locked(directory, timeout=LOCK_TIMEOUT, clock=time.monotonic, sleep=time.sleep):
    """An open descriptor of ``directory/lock`` holding an exclusive flock (None if the directory is gone).
    Raises :class:`WatchdogError` when a restore keeps it longer than ``timeout``."""
    try:
        fd = os.open(os.path.join(directory, 'lock'), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    deadline = clock() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES) or clock() > deadline:
                os.close(fd)
                raise WatchdogError('Checkpoint %s is locked by its watchdog for more than %d s (a restore that'
                                    ' hangs?). See its log.' % (os.path.basename(directory), timeout))
            sleep(0.05)


def disarm(checkpoint, result, note, proc='/proc'):
    """Take ``checkpoint`` down without restoring: under the lock, its record is renamed away (the watchdog then
    knows it is not to restore), the watchdog is stopped (PID checked against its start time), the log gets
    ``note`` and ``RESULT: result``, the directory goes. Returns the log's result when the watchdog had already
    finished it (restored) instead, else None."""
    fd = locked(checkpoint.directory)
    if fd is None:
        return 'gone'
    try:
        record = read_json(checkpoint.path)
        log = (record or checkpoint.record or {}).get('log')
        if record is None and checkpoint.record is not None:
            return log_result(log) or 'gone'  # the watchdog restored it while we waited for the lock
        if os.path.exists(checkpoint.path):
            os.rename(checkpoint.path, os.path.join(checkpoint.directory, 'disarmed.json'))
        ready = read_json(os.path.join(checkpoint.directory, 'ready.json')) or {}
        stopped = stop_process(ready.get('pid'), ready.get('starttime'), proc=proc)
        if log:
            log_line(log, note + ('' if stopped else ' (its watchdog was not running)'))
            log_line(log, RESULT + result)
    finally:
        os.close(fd)
    shutil.rmtree(checkpoint.directory, ignore_errors=True)
    return None


# ---- the watchdog process ------------------------------------------------------------------------------------

class _Stopped(Exception):
    pass


def _raise_stopped(signum, frame):
    raise _Stopped(signum)


def main(argv):
    """The watchdog: ``run.py DIRECTORY`` (``--check``: import everything, exit 0; for the tests)."""
    if len(argv) == 2 and argv[1] == '--check':
        from ansible_collections.kvmnet.bridge.plugins.module_utils import _checkpoint  # noqa: F401
        from ansible_collections.kvmnet.bridge.plugins.module_utils._netlink import preload_writer
        preload_writer()
        return 0
    directory = argv[1]
    record = read_json(os.path.join(directory, 'checkpoint.json'))
    if record is None:
        sys.stderr.write('no checkpoint record in %s\n' % directory)
        return 2
    log_path = record['log']

    def log(text):
        log_line(log_path, text)

    for number in (signal.SIGHUP, signal.SIGINT, signal.SIGPIPE):
        signal.signal(number, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        from ansible_collections.kvmnet.bridge.plugins.module_utils._checkpoint import restore
        from ansible_collections.kvmnet.bridge.plugins.module_utils._netlink import Netlink, preload_writer
        preload_writer()  # pyroute2's import (0.6-1.4 s) is paid now, not after the deadline
        if netns_identity(record.get('netns')) != record['netns_id']:
            log('network namespace %r is not the one the checkpoint was armed in any more: not restoring.'
                % record.get('netns'))
            log(RESULT + 'not restored (namespace gone)')
            return 3
        pid = os.getpid()
        write_file(os.path.join(directory, 'ready.json'), json.dumps(dict(pid=pid, starttime=start_time(pid))))
        log('watchdog running (pid %d, %s); restores at %s unless committed' % (
            pid, record.get('watchdog_kind', 'detached'), record['expires_at_text']))
        remaining = record['expires_at'] - time.time()
        end = time.monotonic() + remaining
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, 1.0))
    except _Stopped:
        if os.path.exists(os.path.join(directory, 'checkpoint.json')):
            log('watchdog stopped by SIGTERM before its deadline (system shutdown, or killed): NOT restoring.'
                ' The checkpoint is orphaned: state: absent cleans it.')
            log(RESULT + 'not restored (watchdog stopped)')
        return 0
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a restore that has begun finishes
    deadline = time.time()
    fd = locked(directory, timeout=3600)
    if fd is None or not os.path.exists(os.path.join(directory, 'checkpoint.json')):
        return 0  # committed meanwhile
    try:
        log('deadline reached (%s), not committed: restoring the snapshot of %s%s'
            % (record['expires_at_text'], ', '.join(record['interfaces']),
               ' in network namespace %r' % record['netns'] if record.get('netns') else ''))
        started = time.time()
        try:
            with Netlink(record.get('netns')) as netlink:
                outcome = restore(netlink, record['snapshot'], log)
        except KvmnetError as exc:
            outcome = dict(applied=0, failed=1, notes=[], remaining=['cannot read or write: %s' % exc.msg])
        took = time.time() - started
        for line in outcome['remaining']:
            log('  still different: %s' % line)
        log('restore took %.3f s (%.3f s after the deadline): %d request(s) sent, %d refused'
            % (took, time.time() - deadline, outcome['applied'], outcome['failed']))
        log(RESULT + ('restored' if not outcome['remaining'] else 'restore incomplete (%d difference(s) left)'
                      % len(outcome['remaining'])))
        os.rename(os.path.join(directory, 'checkpoint.json'), os.path.join(directory, 'restored.json'))
        log('watchdog removed itself')
    finally:
        os.close(fd)
    shutil.rmtree(directory, ignore_errors=True)
    return 0 if not outcome['remaining'] else 1
