# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The host lock and run record of every changing module (module_utils/_common.py: HostLock, RunJournal).
    DOCUMENTATION = r'''
options: {}
notes:
  - One kvmnet.bridge task at a time per network namespace. A task holds a lock on C(/run/kvmnet/<namespace>.lock)
    from before it reads the host to after it applied its plan, so two plays racing on one host run their tasks one
    after the other. A task that waits longer than 300 seconds fails, naming the holder. The kernel drops the
    lock of a killed task, so a lock is never stale.
  - While a task applies its plan it keeps a small record in C(/run/kvmnet/). The next run of that task after one
    that was killed half way warns and returns RV(interrupted_runs). Each record has C(module), C(target) (the
    bridge, port, tap, network or backend), C(pid), C(applied) and C(total) (operations applied of the plan), and
    C(operations) (the plan, as in RV(operations)). The warning says whether this run repaired what the killed run
    left half done.
'''
