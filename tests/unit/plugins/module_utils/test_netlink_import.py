# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How _netlink imports pyroute2 (issue 9 point 14 and the import cost of decision 6), each case in a fresh
interpreter: the test process itself has long imported pyroute2 the ordinary way."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

PRELUDE = '''
import json, sys
from ansible_collections.kvmnet.bridge.plugins.module_utils import _netlink
EAGER = ('pyroute2.ndb', 'pyroute2.ipdb', 'pyroute2.conntrack', 'pyroute2.ipset', 'pyroute2.iwutil')
def eager():
    return sorted(name for name in EAGER if name in sys.modules)
'''


def run(code):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, '-c', PRELUDE + code], env=env, capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_netlink_imports_no_pyroute2():
    result = run('print(json.dumps(sorted(name for name in sys.modules if name.startswith("pyroute2"))))')
    assert result == []


def test_version_and_writer_parts_do_not_run_the_package_init():
    result = run('''
version = _netlink.pyroute2_version()
ipr, netlink_error = _netlink._writer_parts()
print(json.dumps(dict(version=version, eager=eager(), ipr=ipr.__name__, error=netlink_error.__name__)))
''')
    assert result['version'] and tuple(result['version']) >= (0, 7)
    assert result['eager'] == []  # NDB, IPDB... (pyroute2's __init__) were not imported
    assert (result['ipr'], result['error']) == ('IPRoute', 'NetlinkError')


def test_ordinary_pyroute2_imports_keep_working_afterwards():
    """Point 14: after _netlink's imports, `from pyroute2 import IPRoute` in the same process works and gives
    the same classes (the bare package completes itself with pyroute2's own __init__)."""
    result = run('''
_netlink.pyroute2_version()
ipr, netlink_error = _netlink._writer_parts()
from pyroute2 import IPRoute, NetlinkError
import pyroute2
import pyroute2.netlink.rtnl
print(json.dumps(dict(same=IPRoute is ipr and NetlinkError is netlink_error, eager=eager(),
                      version=pyroute2.__version__, ndb=hasattr(pyroute2, 'NDB'),
                      rtnl=pyroute2.netlink.rtnl.__name__)))
''')
    assert result['same'] is True
    assert result['eager'], 'the package __init__ ran: NDB and friends are imported now'
    assert result['version'] and result['ndb'] is True and result['rtnl'] == 'pyroute2.netlink.rtnl'


def test_special_name_probes_do_not_import_the_whole_package():
    result = run('''
_netlink._writer_parts()
import pyroute2
probes = [hasattr(pyroute2, name) for name in ('__wrapped__', '__test__')]
print(json.dumps(dict(probes=probes, eager=eager())))
''')
    assert result == dict(probes=[False, False], eager=[])


def test_a_pyroute2_imported_before_is_used_as_it_is():
    result = run('''
import pyroute2
before = pyroute2
ipr, netlink_error = _netlink._writer_parts()
import pyroute2
print(json.dumps(dict(same=pyroute2 is before, ipr=ipr is pyroute2.IPRoute)))
''')
    assert result == dict(same=True, ipr=True)


def test_version_is_read_without_importing_pyroute2():
    result = run('''
from importlib.metadata import version
print(json.dumps(dict(ours=_netlink.pyroute2_version(), metadata=version('pyroute2'),
                      imported=sorted(name for name in sys.modules if name.startswith('pyroute2')))))
''')
    assert '.'.join(str(part) for part in result['ours']) == result['metadata']
    assert result['imported'] == []


def test_version_file_of_a_package_without_one(tmp_path):
    from ansible_collections.kvmnet.bridge.plugins.module_utils import _netlink

    (tmp_path / 'config').mkdir()
    assert _netlink._version_file([str(tmp_path)]) is None  # Debian 12's package: metadata is read instead
    (tmp_path / 'config' / 'version.py').write_text("__version__ = '0.7.12'\n")
    assert _netlink._version_file([str(tmp_path)]) == '0.7.12'
