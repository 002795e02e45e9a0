"""pytest plugin: testinfra on kvmnet namespace machines, without one `ansible` run per command.

Loaded by every scenario's verifier (`-p kvmnet_testinfra` in tests/molecule/shared/base.yml). molecule runs testinfra
with `--connection=ansible` and its inventory; for hosts whose connection is ``community.docker.nsenter``
testinfra's ansible backend knows no native equivalent and runs `ansible -m shell` for every command (about 9 s for
three checks here). This plugin replaces that backend with a subclass that runs such hosts' commands through
``nsenter --all --target PID`` (all the machine's namespaces: network, mount, PID, UTS, IPC), and leaves every other
host, and ``host.ansible(...)``, to testinfra's own code.

The PID comes from molecule's instance config (written by tests/molecule/shared/create.yml) and is checked once
per host with ``machine.sh pid``, which refuses a PID that no longer belongs to the machine (PID reuse).

Fixtures:
    machine(name) -> testinfra Host of another machine of the scenario (e.g. the router a test pings from).
    figures(text) -> record a measured figure; printed at the end of the run as a line "kvmnet figure: TEXT"
                     (scripts/molecule.sh repeats these lines in its summary).
"""

import os
import subprocess

import pytest
import testinfra
import testinfra.backend
import yaml
from testinfra.backend.ansible import AnsibleBackend

NSENTER_CONNECTION = 'community.docker.nsenter'


def _instances():
    path = os.environ.get('MOLECULE_INSTANCE_CONFIG', '')
    if not path or not os.path.exists(path):
        return {}
    with open(path, encoding='utf-8') as stream:
        return {item['instance']: item for item in yaml.safe_load(stream) or []}


class NsenterAnsibleBackend(AnsibleBackend):
    """testinfra's ansible backend, with a direct nsenter path for namespace machines."""

    _pid = None

    def _machine_pid(self):
        if self._pid is None:
            instance = _instances().get(self.host)
            if not instance or instance.get('connection') != NSENTER_CONNECTION:
                self._pid = 0
            else:
                self._pid = self._checked_pid(instance)
        return self._pid

    def _checked_pid(self, instance):
        machine = os.environ.get('KVMNET_MACHINE')
        if not machine:
            raise RuntimeError('KVMNET_MACHINE (tests/machines/machine.sh) is not set: run through scripts/molecule.sh')
        out = subprocess.run([machine, 'pid', instance['machine_state'], self.host],
                             capture_output=True, text=True, check=False)
        if out.returncode != 0 or out.stdout.strip() != str(instance['nsenter_pid']):
            raise RuntimeError(
                'machine %s: PID %s from the instance config is not its running init (%s); '
                'recreate the scenario (molecule destroy/create)'
                % (self.host, instance['nsenter_pid'], (out.stderr or out.stdout).strip()))
        return int(instance['nsenter_pid'])

    def run(self, command, *args, **kwargs):
        pid = self._machine_pid()
        if not pid:
            return super().run(command, *args, **kwargs)
        command = self.get_command(command, *args)
        out = subprocess.run(['nsenter', '--all', '--target=%d' % pid, '--', '/bin/sh', '-c', command],
                             stdin=subprocess.DEVNULL, capture_output=True, check=False)
        return self.result(out.returncode, self.encode(command), out.stdout, out.stderr)


_FIGURES = []


def pytest_configure(config):
    testinfra.backend.BACKENDS['ansible'] = '%s.%s' % (__name__, NsenterAnsibleBackend.__name__)


def pytest_terminal_summary(terminalreporter):
    for text in _FIGURES:
        terminalreporter.write_line('kvmnet figure: %s' % text)


@pytest.fixture(scope='session')
def figures():
    """Record a measured figure (printed at the end of the run, whatever the tests' outcome)."""
    return _FIGURES.append


@pytest.fixture(scope='module')
def machine(request):
    """Factory: the testinfra Host of the scenario's machine NAME (any platform, not only the tested ones)."""
    inventory = request.config.option.ansible_inventory
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = testinfra.get_host(name, connection='ansible', ansible_inventory=inventory)
        return cache[name]

    return get
