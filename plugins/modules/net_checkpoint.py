#!/usr/bin/python
# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: net_checkpoint
short_description: Commit-confirm for risky network changes, with a host-side watchdog that restores them
version_added: 0.1.0
description:
  - V(armed) snapshots the runtime network state of O(interfaces) and starts a watchdog on the host that outlives the
    module, the connection and the controller. If the checkpoint is not committed within O(timeout) seconds, the
    watchdog restores the snapshot by itself, logs what it did, and removes itself.
  - The snapshot holds, for every interface in O(interfaces), whether it exists and its kind, its master, admin state,
    MAC, MTU, global addresses, the routes through it (default routes included), bridge attributes and bridge-port
    attributes. It also holds the namespace's default routes through interfaces that are not covered.
  - The restore is make-before-break, in the order M(kvmnet.bridge.bridge_port) uses with C(addresses=migrate). A
    deleted bridge is created again and the MAC, MTU and attributes are set back. Then the addresses come back on
    their interface (IPv6 without duplicate address detection), ports go back into their bridge, and the routes are
    replaced onto their interface. Only then is what the snapshot did not have removed, with the ports released
    last. A bridge that did not exist at the checkpoint is deleted last of all, and only when no other port is left
    in it.
  - V(committed) stops the watchdog and removes the checkpoint, so the current state stays. If the watchdog restored
    the snapshot already (the controller came back too late), the commit fails and returns the watchdog's log.
  - V(absent) removes the checkpoints of the namespace without restoring anything. This includes armed ones, orphaned
    ones (their watchdog is gone, for example killed) and stale ones (their watchdog hangs long past its deadline).
  - There is at most one armed checkpoint per network namespace. A second V(armed) is refused and names the armed
    one (commit it or wait for it). Nesting is not supported, see C(docs/net_checkpoint.md) for why.
  - The watchdog is a transient systemd unit C(kvmnet-checkpoint-ID) where systemd is PID 1 and the module runs in
    PID 1's mount and network namespaces. Elsewhere it is a detached process in its own session, with its stdio
    closed. Either way, killing the SSH session or the module does not kill it.
author:
  - kvmnet.bridge maintainers (@kvmnet)
extends_documentation_fragment:
  - kvmnet.bridge.attributes
  - kvmnet.bridge.attributes.NETLINK_GROUP
  - kvmnet.bridge.netns
  - kvmnet.bridge.run_lock
attributes:
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: partial
    details:
      - V(committed) and V(absent) are idempotent.
      - A second V(armed) while the first is armed is refused; it never arms twice.
options:
  state:
    description:
      - V(armed) takes the snapshot and starts the watchdog. Orphaned or stale checkpoints of the namespace are
        removed first.
      - V(committed) disarms the armed checkpoint (O(id), or the one of the namespace) and keeps the current state.
      - V(absent) removes every checkpoint of the namespace (or O(id)) without restoring.
    type: str
    choices: [armed, committed, absent]
    default: armed
  interfaces:
    description:
      - The interfaces the change may touch, for example V([eth0, kvmbr0]). Required with O(state=armed).
      - Name interfaces that do not exist yet too (a bridge the change creates). The restore deletes a bridge that
        did not exist at the checkpoint. Other kinds of new interface are left in place and named in the log.
    type: list
    elements: str
  timeout:
    description:
      - Seconds until the watchdog restores the snapshot, from 1 to 86400.
      - Leave room for the change, for the controller to reconnect, and for STP. With STP on, a port forwards only
        after twice the bridge's C(forward_delay).
    type: int
    default: 120
  id:
    description:
      - The checkpoint to commit or remove, as returned by O(state=armed) in RV(id). Recommended with
        O(state=committed), because only then can a commit that comes too late find the watchdog's log and fail with
        it.
    type: str
  watchdog:
    description:
      - V(auto) uses a transient systemd unit where systemd can serve (see the description) and a detached process
        elsewhere.
      - V(systemd) or V(detached) force one. V(systemd) is refused, with the reason, where it cannot work.
    type: str
    choices: [auto, systemd, detached]
    default: auto
  state_dir:
    description:
      - Root-only directory of the checkpoints (records, the watchdog's program). It is created with mode 0700.
        A symlink, or a directory that others can write to or that root does not own, is refused.
      - The default is on C(/run), so a checkpoint never outlives a reboot.
    type: path
    default: /run/kvmnet-checkpoint
  log_dir:
    description:
      - Root-only directory of the watchdogs' logs, one C(ID.log) (mode 0600) per checkpoint, kept after it ended.
    type: path
    default: /var/log/kvmnet-checkpoint
notes:
  - Run as root (C(become=true)). The watchdog needs pyroute2 for the interpreter the module runs with.
  - "In a play: arm, change, then a task that needs the connection, for example M(ansible.builtin.wait_for_connection)
    with a short timeout and a real round trip, then commit with O(id). See C(docs/net_checkpoint.md)."
  - The watchdog runs in the mount, PID and network namespaces of the module (detached) or of PID 1 (systemd). A
    namespace that was deleted, or whose name now belongs to another namespace, is not restored. The log says so.
seealso:
  - module: kvmnet.bridge.bridge_port
  - module: kvmnet.bridge.linux_bridge
  - module: ansible.builtin.wait_for_connection
'''

EXAMPLES = r'''
- name: Arm a checkpoint before moving the management address onto the bridge
  kvmnet.bridge.net_checkpoint:
    interfaces: [eth0, kvmbr0]
    timeout: 90
  register: checkpoint

- name: The risky change
  kvmnet.bridge.bridge_port:
    name: eth0
    bridge: kvmbr0
    addresses: migrate

- name: The controller can still reach the host
  ansible.builtin.wait_for_connection:
    timeout: 20

- name: And a real round trip
  ansible.builtin.command: "true"
  changed_when: false

- name: Keep the change
  kvmnet.bridge.net_checkpoint:
    state: committed
    id: "{{ checkpoint.id }}"

- name: Remove orphaned or stale checkpoints (and any armed one, without restoring)
  kvmnet.bridge.net_checkpoint:
    state: absent
'''

RETURN = r'''
interrupted_runs:
  description: Earlier runs of this task killed while applying their plan (see the notes); each is also a warning.
  returned: when an earlier run was interrupted
  type: list
  elements: dict
changed:
  description: Whether a checkpoint was armed, committed or removed (in check mode, would be).
  returned: always
  type: bool
id:
  description: The checkpoint. Null in check mode for V(armed) (an id is made when it is armed).
  returned: when a checkpoint is armed, committed or removed
  type: str
  sample: 20261205T101500-a1b2c3
expires_at:
  description: When the watchdog restores the snapshot unless committed (UTC, ISO 8601).
  returned: with O(state=armed)
  type: str
  sample: "2026-12-05T10:16:30.000Z"
expires_at_epoch:
  description: The same as seconds since the epoch.
  returned: with O(state=armed)
  type: float
log:
  description: The watchdog's log (root-only). It stays after the checkpoint ended; its last C(RESULT:) line says how.
  returned: when a checkpoint is armed, committed or removed
  type: str
  sample: /var/log/kvmnet-checkpoint/20261205T101500-a1b2c3.log
watchdog:
  description: The watchdog.
  returned: with O(state=armed)
  type: dict
  contains:
    kind:
      description: V(systemd) (a transient unit) or V(detached) (a detached process).
      type: str
    reason:
      description: Why this kind was chosen.
      type: str
    pid:
      description: Its process id (null in check mode).
      type: int
    unit:
      description: The transient unit, for V(systemd).
      type: str
snapshot:
  description:
    - What the restore brings back. With O(state=armed) it is the snapshot taken; with O(state=committed) the
      snapshot of the committed checkpoint.
    - C(interfaces) maps each covered interface to C(exists), C(kind), C(master), C(up), C(mac), C(mtu),
      C(addresses), C(routes) (as C(default via 10.0.0.1 metric 50)), C(bridge) (bridge attributes, with the
      option names and units of M(kvmnet.bridge.linux_bridge)) and C(port) (bridge-port attributes, as in
      M(kvmnet.bridge.bridge_port)).
    - C(other_default_routes) lists the default routes through interfaces that are not covered.
  returned: with O(state=armed) and O(state=committed)
  type: dict
  sample:
    interfaces:
      eth0: {exists: true, kind: null, master: null, up: true, mac: "52:54:00:12:34:56", mtu: 1500,
             addresses: ["192.168.1.23/24"], routes: ["default via 192.168.1.1"]}
      kvmbr0: {exists: false}
    other_default_routes: []
differences:
  description: With O(state=committed), how the state that is kept differs from the snapshot, one sentence each.
  returned: with O(state=committed) when a checkpoint was committed
  type: list
  elements: str
  sample: ["eth0: master is kvmbr0, was None", "kvmbr0: exists (kind bridge), was absent"]
before:
  description:
    - The checkpoints of the namespace before the task, each with C(id), C(status) (V(arming), V(armed),
      V(orphaned), V(stale)), C(netns), C(interfaces), C(expires_at), C(log), C(watchdog).
  returned: always
  type: dict
  contains:
    checkpoints:
      description: The checkpoints.
      type: list
      elements: dict
after:
  description: The checkpoints of the namespace after the task (predicted in check mode), as RV(before).
  returned: success
  type: dict
operations:
  description:
    - What was done, or would be done in check mode, in order. Each entry has C(action) (V(arm), V(commit),
      V(remove)), C(checkpoint) (the id, null for an arm in check mode) and C(attributes).
  returned: always
  type: list
  elements: dict
  sample:
    - {action: remove, checkpoint: 20261205T100000-0f0f0f, attributes: {status: orphaned}}
    - {action: arm, checkpoint: 20261205T101500-a1b2c3, attributes: {interfaces: [eth0, kvmbr0], timeout: 90}}
diff:
  description: RV(before) and RV(after), in the format Ansible uses for C(--diff).
  returned: when diff mode is on
  type: dict
armed:
  description: In the refusal of a second arm, the checkpoint that is armed (as in RV(before.checkpoints)).
  returned: when refused because a checkpoint is armed
  type: dict
restored:
  description: In the failure of a commit that came too late, the watchdog's log.
  returned: when the commit found the snapshot restored
  type: str
'''

import json
import os
import shutil
import signal
import sys
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmnet.bridge.plugins.module_utils._checkpoint import (
    differences,
    read_snapshot,
    summary,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import (
    NETNS_ARGSPEC,
    KvmnetError,
    Manager,
    Operation,
    ValidationError,
    apply_plan,
    require_library,
    run_module,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._names import validate_ifname
from ansible_collections.kvmnet.bridge.plugins.module_utils._netlink import (
    PYROUTE2_IMPORT_ERROR,
    PYROUTE2_MINIMUM_VERSION,
    Netlink,
    pyroute2_version,
)
from ansible_collections.kvmnet.bridge.plugins.module_utils._watchdog import (
    RESULT,
    UNIT_PREFIX,
    WatchdogError,
    checkpoints,
    choose,
    disarm,
    launch_detached,
    log_line,
    log_result,
    log_text,
    netns_identity,
    new_id,
    of_netns,
    program_argv,
    secure_dir,
    start_time,
    stop_process,
    systemd_argv,
    systemd_probe,
    utc,
    validate_id,
    wait_ready,
    write_file,
    write_program,
)

TIMEOUT_RANGE = (1, 86400)
RESTORED_RESULTS = ('restored', 'restore incomplete', 'not restored')


def validate_static(params):
    """Checks that need no kernel and no file."""
    if params['state'] == 'armed':
        names = params.get('interfaces') or []
        if not names:
            raise ValidationError('interfaces is required with state: armed: list the interfaces the change may'
                                  ' touch, for example [eth0, kvmbr0].', interfaces=names)
        for name in names:
            validate_ifname(name, option='interfaces')
        twice = sorted(set(name for name in names if names.count(name) > 1))
        if twice:
            raise ValidationError('interfaces lists %s more than once.' % ', '.join(twice), interfaces=names)
        minimum, maximum = TIMEOUT_RANGE
        if not minimum <= params['timeout'] <= maximum:
            raise ValidationError('timeout=%s is out of range: give %d..%d seconds.'
                                  % (params['timeout'], minimum, maximum), timeout=params['timeout'])
        if params.get('id') is not None:
            raise ValidationError('id is only used with state: committed or absent; state: armed makes a new id.',
                                  id=params['id'])
    elif params.get('id') is not None:
        validate_id(params['id'])


class CheckpointOperation(Operation):

    def describe(self):
        return dict(action=self.action, checkpoint=self.target, attributes=dict(self.attributes))


class NetCheckpointManager(Manager):

    def __init__(self, module, netlink_factory=Netlink, launcher=launch_detached, probe=None):
        super(NetCheckpointManager, self).__init__(module)
        self.netlink_factory = netlink_factory  # seams for the unit tests
        self.launcher = launcher
        self.probe = probe
        self.netns_id = None

    # ---- reading -----------------------------------------------------------------------------------------

    def mine(self, netns_id):
        found = of_netns(checkpoints(self.params['state_dir']), netns_id)
        if self.params.get('id') is not None:
            found = [checkpoint for checkpoint in found if checkpoint.id == self.params['id']]
        return found

    @staticmethod
    def listing(found, drop=(), add=()):
        result = [checkpoint.describe() for checkpoint in found if checkpoint.id not in drop]
        return dict(checkpoints=result + list(add))

    def log_path(self, checkpoint_id):
        return '%s/%s.log' % (self.params['log_dir'].rstrip('/'), checkpoint_id)

    # ---- state: armed ------------------------------------------------------------------------------------

    def arm_plan(self, found, snapshot):
        params = self.params
        live = [checkpoint for checkpoint in found if checkpoint.status() in ('armed', 'arming')]
        if live:
            armed = live[0].describe()
            raise ValidationError(
                'A checkpoint is already armed%s: %s (interfaces %s, restores at %s unless committed; log %s).'
                ' Checkpoints do not nest: commit it first (state: committed, id: %s), remove it without restoring'
                ' (state: absent), or wait until its watchdog has restored the snapshot.'
                % (' in network namespace %r' % params['netns'] if params.get('netns') else '', armed['id'],
                   ', '.join(armed['interfaces'] or []), armed['expires_at'], armed['log'], armed['id']),
                armed=armed)
        kind, reason = choose(params['watchdog'], self.probe or systemd_probe(self.module.get_bin_path),
                              params.get('netns'))
        operations = [self.remove_operation(checkpoint, 'removed by a new arm (%s)' % checkpoint.status())
                      for checkpoint in found]
        checkpoint_id = None if self.module.check_mode else new_id()
        outcome = dict(watchdog=dict(kind=kind, reason=reason, pid=None,
                                     unit=UNIT_PREFIX + (checkpoint_id or 'ID') if kind == 'systemd' else None))
        expires = time.time() + params['timeout']
        outcome.update(id=checkpoint_id, expires_at_epoch=expires, expires_at=utc(expires),
                       log=self.log_path(checkpoint_id) if checkpoint_id else None)
        operations.append(CheckpointOperation(
            'arm', checkpoint_id, dict(interfaces=list(params['interfaces']), timeout=params['timeout'],
                                       watchdog=kind),
            apply=lambda: self.arm(checkpoint_id, kind, reason, snapshot, outcome)))
        return operations, outcome

    def arm(self, checkpoint_id, kind, reason, snapshot, outcome):
        params = self.params
        secure_dir(params['state_dir'], 'state_dir')
        secure_dir(params['log_dir'], 'log_dir')
        directory = '%s/%s' % (params['state_dir'].rstrip('/'), checkpoint_id)
        log = self.log_path(checkpoint_id)
        now = time.time()
        expires = now + params['timeout']
        record = dict(id=checkpoint_id, netns=params.get('netns'), netns_id=self.netns_id,
                      interfaces=list(params['interfaces']), timeout=params['timeout'], armed_at=now,
                      armed_at_text=utc(now), expires_at=expires, expires_at_text=utc(expires), snapshot=snapshot,
                      log=log, python=sys.executable, watchdog_kind=kind,
                      armer=dict(pid=os.getpid(), starttime=start_time(os.getpid())))
        pid = None
        try:
            os.mkdir(directory, 0o700)
            write_file(directory + '/checkpoint.json', json.dumps(record, sort_keys=True))
            argv = program_argv(sys.executable, write_program(directory), directory)
            log_line(log, 'armed by kvmnet.bridge.net_checkpoint (pid %d): interfaces %s%s, timeout %d s, restores'
                     ' at %s unless committed; watchdog: %s' % (
                         os.getpid(), ', '.join(params['interfaces']),
                         ' in network namespace %r' % params['netns'] if params.get('netns') else '',
                         params['timeout'], utc(expires), reason))
            log_line(log, 'snapshot: %s' % json.dumps(summary(snapshot), sort_keys=True))
            if kind == 'systemd':
                rc, out, err = self.module.run_command(
                    systemd_argv(self.module.get_bin_path('systemd-run', required=True), checkpoint_id, argv))
                if rc != 0:
                    raise WatchdogError('systemd-run failed (rc %s): %s' % (rc, (err or out).strip()))
            else:
                pid = self.launcher(argv, log)
            ready = wait_ready(directory, pid)
            if ready is None:
                raise WatchdogError('The watchdog did not report ready. Its log %s says: %s'
                                    % (log, log_text(log, 2000).strip() or '(nothing)'))
            record['watchdog'] = dict(kind=kind, pid=ready['pid'], starttime=ready['starttime'],
                                      unit=UNIT_PREFIX + checkpoint_id if kind == 'systemd' else None)
            write_file(directory + '/checkpoint.json', json.dumps(record, sort_keys=True))
            log_line(log, RESULT + 'armed')
        except (OSError, KvmnetError) as exc:
            self.undo_arm(directory, kind, checkpoint_id, pid, log, exc)
        outcome.update(id=checkpoint_id, expires_at_epoch=expires, expires_at=utc(expires), log=log)
        outcome['watchdog'].update(pid=record['watchdog']['pid'], unit=record['watchdog']['unit'])

    def undo_arm(self, directory, kind, checkpoint_id, pid, log, exc):
        """An arm that failed half way: no watchdog, no record; the log says why."""
        ready = None
        try:
            with open(directory + '/ready.json') as handle:
                ready = json.load(handle)
        except (OSError, ValueError):
            pass
        if ready is not None:
            stop_process(ready.get('pid'), ready.get('starttime'))
        if kind == 'systemd':
            self.module.run_command(['systemctl', 'stop', UNIT_PREFIX + checkpoint_id])
        elif pid is not None and ready is None:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        shutil.rmtree(directory, ignore_errors=True)
        message = exc.msg if isinstance(exc, KvmnetError) else '%s: %s' % (exc.filename or '', exc.strerror)
        try:
            log_line(log, 'arming failed: %s' % message)
            log_line(log, RESULT + 'not armed')
        except OSError:
            pass
        raise WatchdogError('Cannot arm the checkpoint: %s Nothing is armed.' % message, log=log)

    # ---- state: committed / absent -----------------------------------------------------------------------

    def remove_operation(self, checkpoint, note, result='removed'):
        def apply():
            outcome = disarm(checkpoint, result, note)
            if outcome is not None and outcome.startswith(RESTORED_RESULTS):
                self.too_late(checkpoint.id, (checkpoint.record or {}).get('log') or self.log_path(checkpoint.id))
        status = checkpoint.status()
        action = 'commit' if result == 'committed' else 'remove'
        return CheckpointOperation(action, checkpoint.id, dict(status=status), apply=apply)

    def too_late(self, checkpoint_id, log):
        text = log_text(log)
        raise WatchdogError(
            'Checkpoint %s was not committed in time: its watchdog restored the snapshot (%s). The change was undone'
            ' on the host; its log %s says:\n%s' % (checkpoint_id, log_result(log), log, text),
            id=checkpoint_id, log=log, restored=text)

    # ---- run ---------------------------------------------------------------------------------------------

    def run(self):
        params = self.params
        validate_static(params)
        self.netns_id = netns_identity(params.get('netns'))
        for option in ('state_dir', 'log_dir'):
            secure_dir(params[option], option, create=False)
        found = self.mine(self.netns_id)
        self.before = before = self.listing(found)
        result = dict(changed=False)
        if params['state'] == 'armed':
            with self.netlink_factory(params.get('netns')) as netlink:
                snapshot = read_snapshot(netlink, params['interfaces'])
            operations, outcome = self.arm_plan(found, snapshot)
            apply_plan(operations, self.module.check_mode)
            result.update(outcome, snapshot=summary(snapshot))
            new = dict(id=outcome['id'], status='armed', netns=params.get('netns'),
                       interfaces=list(params['interfaces']), expires_at=outcome['expires_at'], log=outcome['log'],
                       watchdog=outcome['watchdog'])
            after = self.listing(found, drop=[checkpoint.id for checkpoint in found], add=[new])
        elif params['state'] == 'committed':
            live = [checkpoint for checkpoint in found if checkpoint.record is not None]
            if not live and params.get('id') is not None:
                log = self.log_path(params['id'])
                if (log_result(log) or '').startswith(RESTORED_RESULTS):
                    self.too_late(params['id'], log)
            operations = [self.remove_operation(checkpoint, 'committed by kvmnet.bridge.net_checkpoint: the'
                                                ' current state stays', result='committed')
                          for checkpoint in live]
            if live:
                record = live[0].record
                with self.netlink_factory(params.get('netns')) as netlink:
                    now = read_snapshot(netlink, record['snapshot']['names'])
                result.update(id=live[0].id, log=record.get('log'), snapshot=summary(record['snapshot']),
                              differences=differences(record['snapshot'], now))
            apply_plan(operations, self.module.check_mode)
            after = self.listing(found, drop=[checkpoint.id for checkpoint in live])
        else:
            operations = [self.remove_operation(checkpoint, 'removed by kvmnet.bridge.net_checkpoint state=absent'
                                                ' (not restored)') for checkpoint in found]
            if found:
                result.update(id=found[0].id, log=(found[0].record or {}).get('log') or self.log_path(found[0].id))
            apply_plan(operations, self.module.check_mode)
            after = self.listing([])
        result.update(self.change_result(before, after, operations))
        return result


def main():
    argument_spec = dict(
        state=dict(type='str', default='armed', choices=['armed', 'committed', 'absent']),
        interfaces=dict(type='list', elements='str'),
        timeout=dict(type='int', default=120),
        id=dict(type='str'),
        watchdog=dict(type='str', default='auto', choices=['auto', 'systemd', 'detached']),
        state_dir=dict(type='path', default='/run/kvmnet-checkpoint'),
        log_dir=dict(type='path', default='/var/log/kvmnet-checkpoint'),
    )
    argument_spec.update(NETNS_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    require_library(module, 'pyroute2', PYROUTE2_IMPORT_ERROR, pyroute2_version(), PYROUTE2_MINIMUM_VERSION)
    run_module(module, NetCheckpointManager)


if __name__ == '__main__':
    main()
