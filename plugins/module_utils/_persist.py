# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interface between the ``bridge_persist`` module and its backends (one file each, ``_persist_<name>.py``).

A backend turns the model (``_persist_model``) into its stack's files (:class:`PersistFile`, pure), says what its
stack cannot express (:class:`Limit`), checks the host read-only (``preflight``), lists the changes outside its own
files that the stack needs, each with its way back (:class:`Command`), and makes the running stack use the files
with the stack's own client (``activate``). It never writes a file itself: ``_persist_apply`` does, all or nothing.

Everything a backend reads or runs goes through :class:`Host`, the seam the unit tests replace (a temporary root
and a recording ``run_command``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import KvmnetError

MARKER = 'Managed by kvmnet.bridge (kvm_bridge_host): changes here are overwritten.'
PROGRAM_DIRS = ('/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin')
# The second comment line of our INI-style files (keyfiles, .netdev/.network): which bridge and port wrote them.
META = re.compile(r'^# kvmnet: bridge=(\S+) port=(\S+)$', re.MULTILINE)


class PersistError(KvmnetError):
    """A backend cannot go on: the host is not as the backend needs it, or its stack refused the change."""


class PersistFile(object):
    """A file a backend wants: absolute ``path`` on the host, full ``content`` (ends with a newline), ``mode``.

    The owner is always root:root. Use 0o600 for anything that can hold secrets (NetworkManager refuses keyfiles
    readable by others; netplan warns), 0o644 only for files that never can.
    """

    def __init__(self, path, content, mode=0o600):
        if not os.path.isabs(path):
            raise ValueError('PersistFile path must be absolute: %r' % (path,))
        if not content.endswith('\n'):
            content += '\n'
        self.path = path
        self.content = content
        self.mode = mode

    def __eq__(self, other):
        return isinstance(other, PersistFile) and (self.path, self.content, self.mode) == (
            other.path, other.content, other.mode)

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return 'PersistFile(%r, mode=%o, %d bytes)' % (self.path, self.mode, len(self.content))


class Limit(object):
    """A value the stack cannot express as asked: ``attribute`` (model path, e.g. ``bridge.forward_delay``),
    ``wanted`` (the model's value), ``kernel`` (what the kernel will show after this backend applied or replayed
    the files, kernel units; None when unknown) and ``why`` (one sentence)."""

    def __init__(self, attribute, wanted, kernel, why):
        self.attribute = attribute
        self.wanted = wanted
        self.kernel = kernel
        self.why = why

    def as_dict(self):
        return dict(attribute=self.attribute, wanted=self.wanted, kernel=self.kernel, why=self.why)

    def __repr__(self):
        return 'Limit(%r, wanted=%r, kernel=%r)' % (self.attribute, self.wanted, self.kernel)


class Command(object):
    """A change outside the backend's own files (``argv``), with the ``undo`` argv that takes it back, and ``why``
    in words (shown in the result and the diff)."""

    def __init__(self, argv, undo=None, why=''):
        self.argv = list(argv)
        self.undo = list(undo) if undo else None
        self.why = why

    def as_dict(self):
        return dict(argv=self.argv, undo=self.undo, why=self.why)

    def __repr__(self):
        return 'Command(%r, undo=%r)' % (self.argv, self.undo)


class Host(object):
    """Reads and commands of a backend, below ``root`` (``/`` on a real host)."""

    def __init__(self, run_command, root='/'):
        self._run_command = run_command
        self.root = root

    def path(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    def read(self, path):
        try:
            with open(self.path(path)) as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError):
            return None

    def exists(self, path):
        return os.path.lexists(self.path(path))

    def glob(self, pattern):
        root = self.root.rstrip('/')
        return sorted('/' + os.path.relpath(found, root or '/') for found in glob.glob(self.path(pattern)))

    def run(self, argv, data=None):
        return self._run_command(list(argv), data=data)

    def which(self, program):
        for directory in PROGRAM_DIRS:
            candidate = os.path.join(directory, program)
            if os.access(self.path(candidate), os.X_OK):
                return candidate
        return None


class Backend(object):
    """Base of every backend; see PERSIST.md in the developer notes and docs/persistence.md."""

    name = ''

    def __init__(self, host, options=None):
        self.host = host
        self.options = options or {}

    def render(self, model):
        """The files the model needs: a list of :class:`PersistFile`. Pure: reads nothing from the host."""
        raise NotImplementedError

    def stale(self, model):
        """Paths of this backend's own files (marked) that the model no longer needs, to be removed."""
        return []

    def limits(self, model):
        """Values of the model this stack cannot express as asked: a list of :class:`Limit`."""
        return []

    def preflight(self, model):
        """Read-only checks before anything changes; raise :class:`PersistError` naming the problem and the fix."""
        return None

    def prepare(self, model):
        """Changes outside our files that the stack needs, each a :class:`Command` with its undo; [] when done."""
        return []

    def running(self):
        """Whether the stack's daemon runs, so that :meth:`activate` can work now."""
        return False

    def activate(self, model, changed):
        """Make the running stack use the files (``changed``: paths written or removed this run). Returns the argv
        lists it ran. Raise :class:`PersistError` when the stack refuses."""
        return []


# ---- helpers for INI-style files (NetworkManager keyfiles, systemd-networkd units) --------------------------------

def ini_section(name, pairs):
    """``[name]`` and its ``key=value`` lines, leaving out None values; [] when no line is left."""
    lines = ['[%s]' % name] + ['%s=%s' % (key, value) for key, value in pairs if value is not None]
    return lines if len(lines) > 1 else []


def marked_text(model, *sections):
    """The marker, the :data:`META` line for the model's bridge and port, then the non-empty sections, each after a
    blank line."""
    lines = ['# ' + MARKER, '# kvmnet: bridge=%s port=%s' % (model['bridge']['name'], model['port']['name'])]
    for section in sections:
        if section:
            lines += [''] + section
    return '\n'.join(lines) + '\n'


def marked_files(host, paths):
    """(path, bridge, port) of each of ``paths`` that carries the marker and a :data:`META` line."""
    found = []
    for path in paths:
        text = host.read(path) or ''
        meta = META.search(text)
        if MARKER in text and meta:
            found.append((path, meta.group(1), meta.group(2)))
    return found


def stale_marked(ours, wanted, model):
    """Of our marked files ``ours`` (from :func:`marked_files`), the ones of this bridge or of this port that are not
    ``wanted``: an old uplink's port file, every file of the bridge's old name (a rename keeps the port). Files of
    another bridge with another uplink, made by another run, stay."""
    bridge, port = model['bridge']['name'], model['port']['name']
    groups = set(item[1] for item in ours if item[1] == bridge or item[2] == port)
    return sorted(item[0] for item in ours if item[1] in groups and item[0] not in set(wanted))
