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

import sys

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


def apply_plan(operations, check_mode):
    """The one check-mode gate. Apply ``operations`` in order, all or nothing.

    In check mode nothing runs. If an operation fails, what the kernel applied of that operation is undone
    (``undo_partial``), then the operations already applied are reverted in reverse order, and
    :class:`ApplyError` names the failed operation, the kernel's reason and any undo that failed.
    """
    if check_mode:
        return
    applied = []
    for operation in operations:
        try:
            operation.apply()
        except KvmnetError as exc:
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
                    revert_errors.append('%s %s: %s' % (done.action, done.target, revert_exc.msg))
            msg = 'Operation %s on %s failed: %s' % (operation.action, operation.target, exc.msg)
            if revert_errors:
                msg += ' Reverting the operations already applied ALSO failed: %s' % '; '.join(revert_errors)
            elif applied:
                msg += ' The %d operation(s) applied before it were reverted%s; the host is as it was.' % (
                    len(applied), ', and what the kernel had applied of it was undone' if undone else '')
            elif undone:
                msg += ' The kernel had applied part of it; that was undone, the host is as it was.'
            else:
                msg += ' Nothing had been changed.'
            raise ApplyError(
                msg,
                failed_operation=operation.describe(),
                reverted_operations=[done.describe() for done in reversed(applied)],
                revert_errors=revert_errors,
            )
        applied.append(operation)


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
    """
    require_python(module)
    manager = None
    try:
        manager = manager_factory(module)
        result = manager.run()
    except KvmnetError as exc:
        # one shape on every path: a refusal or a failed change still says what was there and what ran
        details = dict(REFUSAL_SHAPE, before=getattr(manager, 'before', None))
        details.update(exc.details)
        module.fail_json(msg=exc.msg, **details)
    module.exit_json(**result)


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
