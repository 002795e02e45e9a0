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


def require_bridge(name, link, netns, needed_for, option='bridge'):
    """Refuse unless ``link`` (the ``_netlink`` link dict of ``name``, None if absent) is a Linux bridge.

    The one wording of "bridge missing" and "not a bridge"; ``needed_for`` says what needs it, e.g. 'the tap'.
    """
    if link is None:
        raise ValidationError(
            'Bridge %r does not exist%s. Create it first (kvmnet.bridge.linux_bridge name=%s), or fix the name: %s'
            ' needs an existing Linux bridge.' % (name, where(netns), name, needed_for), **{option: name})
    if link['kind'] != 'bridge':
        raise ValidationError(
            'Interface %r is not a bridge (kind: %s)%s: %s needs a Linux bridge; %s must name one.'
            % (name, link['kind'] or 'a physical or unnamed-kind device', where(netns), needed_for, option),
            kind=link['kind'], **{option: name})


class Operation(object):
    """One step of a plan: what it does (for ``operations``) and how to do and undo it.

    ``apply`` and ``revert`` are callables without arguments; ``revert`` may be None when the operation has no
    effect to undo (it is then the last operation of its plan by construction, e.g. a delete).
    """

    def __init__(self, action, target, attributes=None, apply=None, revert=None):
        self.action = action
        self.target = target
        self.attributes = dict(attributes or {})
        self.apply = apply
        self.revert = revert

    def describe(self):
        result = dict(action=self.action, interface=self.target)
        if self.attributes:
            result['attributes'] = dict(self.attributes)
        return result

    def __repr__(self):
        return 'Operation(%r, %r, %r)' % (self.action, self.target, self.attributes)


def apply_plan(operations, check_mode):
    """The one check-mode gate. Apply ``operations`` in order, all or nothing.

    In check mode nothing runs. If an operation fails, the operations already applied are reverted in reverse
    order and :class:`ApplyError` names the failed operation, the kernel's reason and any revert that failed.
    """
    if check_mode:
        return
    applied = []
    for operation in operations:
        try:
            operation.apply()
        except KvmnetError as exc:
            revert_errors = []
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
                msg += ' The %d operation(s) applied before it were reverted; the host is as it was.' % len(applied)
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


def run_module(module, manager_factory):
    """The exception boundary: build the manager, run it, turn collection errors into ``fail_json``.

    ``manager_factory(module)`` returns an object whose ``run()`` returns the result dict.
    """
    manager = None
    try:
        manager = manager_factory(module)
        result = manager.run()
    except KvmnetError as exc:
        # one shape on every path: a refusal or a failed change still says what was there and what ran
        details = dict(changed=False, before=getattr(manager, 'before', None), operations=[])
        details.update(exc.details)
        module.fail_json(msg=exc.msg, **details)
    module.exit_json(**result)


def require_library(module, library, import_error, found_version, minimum_version, url=None):
    """Dependency guard: fail with ``missing_required_lib`` when ``library`` is absent, or with a clear refusal
    naming the found version when it is older than ``minimum_version`` (tuples of ints)."""
    from ansible.module_utils.basic import missing_required_lib

    if import_error is not None:
        module.fail_json(msg=missing_required_lib(library, url=url), exception=import_error)
    if found_version is not None and found_version < minimum_version:
        module.fail_json(
            msg='%s %s is too old: kvmnet.bridge needs %s >= %s on the target. Install a newer one (for example'
            ' `pip install "%s>=%s"` in the interpreter Ansible uses, or your distribution\'s newer package).'
            % (
                library,
                '.'.join(str(part) for part in found_version),
                library,
                '.'.join(str(part) for part in minimum_version),
                library,
                '.'.join(str(part) for part in minimum_version),
            ),
            found_version='.'.join(str(part) for part in found_version),
        )
