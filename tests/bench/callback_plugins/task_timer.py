# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark helper: records each task's wall time (start of task -> its result) into $KVMNET_BENCH_OUT."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: task_timer
type: aggregate
short_description: write per-task wall times to a JSON file (benchmarks only)
description:
  - Used by C(make bench); not part of the collection's public content.
options: {}
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'task_timer'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._started = {}
        self._records = []

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started[task._uuid] = time.monotonic()

    def _record(self, result, status):
        task = result._task
        started = self._started.get(task._uuid)
        if started is not None:
            self._records.append(dict(name=task.get_name(), action=task.action, status=status,
                                      changed=bool(result._result.get('changed')),
                                      seconds=time.monotonic() - started))

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_playbook_on_stats(self, stats):
        with open(os.environ['KVMNET_BENCH_OUT'], 'w') as handle:
            json.dump(self._records, handle, indent=1)
