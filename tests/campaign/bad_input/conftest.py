# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the bad-input campaign (the harness itself is harness.py): ``scratch`` builds the scratch namespace
and directories once per session (only inside scripts/netns-instance.sh), ``campaign`` runs cases between
snapshots; the counts go to $KVMNET_BAD_INPUT_REPORT when the session ends."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest
from harness import CHANGES, COUNTS, Campaign, Scratch, inside_instance


@pytest.fixture(scope='session')
def scratch(tmp_path_factory):
    if not inside_instance():
        pytest.exit('the bad-input campaign runs only inside scripts/netns-instance.sh (run tests/campaign/'
                    'bad_input/run.sh): it builds real interfaces', returncode=2)
    box = Scratch(str(tmp_path_factory.mktemp('bad-input')))
    try:
        box.build()
        yield box
    finally:
        box.remove()


@pytest.fixture(scope='session')
def campaign(scratch):
    return Campaign(scratch)


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get('KVMNET_BAD_INPUT_REPORT')
    if not path:
        return
    rows = [dict(module=module, family=family, kind=kind, cases=count)
            for (module, family, kind), count in sorted(COUNTS.items())]
    with open(path, 'w') as handle:
        json.dump(dict(rows=rows, changes=[list(change) for change in CHANGES]), handle, indent=1)
