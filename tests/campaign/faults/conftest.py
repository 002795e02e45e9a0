# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared set-up of the fault campaign's pytest files (see faultlib.py and run.sh)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# The modules' host locks and run records go to a directory of this run, not to the host's /run/kvmnet.
os.environ.setdefault('KVMNET_RUN_DIR', tempfile.mkdtemp(prefix='kvmnet-faults-run-'))

# Imported once here, so every forked child starts with pyroute2 and the modules loaded (a child then runs in
# milliseconds instead of paying the 1 s import each time).
import faultlib  # noqa: E402  pylint: disable=wrong-import-position

for _name in ('linux_bridge', 'bridge_port', 'bridge_persist', 'kvm_guest_nic', 'net_checkpoint'):
    __import__('%s.modules.%s' % (faultlib.COLLECTION, _name))


def pytest_configure(config):
    if os.geteuid() != 0:
        raise pytest.UsageError('the fault campaign needs root (it creates network namespaces): run run.sh')


@pytest.fixture
def count():
    """count(kind, plan, n): adds n cases of ``kind`` (kill / error) for ``plan`` to the stage's counts file."""
    path = os.environ.get('KVMNET_FAULTS_COUNTS')

    def add(kind, plan, number):
        print('faults: %s %s: %d' % (kind, plan, number))
        if path:
            with open(path, 'a') as handle:
                handle.write(json.dumps(dict(kind=kind, plan=plan, n=number)) + '\n')
    return add
