# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_libvirt_network: XML building, normalisation and takeover detection, plans, and the module libvirt_network run
for real (its main(), check and diff mode) against libvirt's test driver."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import io
import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.kvmnet.bridge.plugins.module_utils import _libvirt_network
from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError
from ansible_collections.kvmnet.bridge.plugins.module_utils._libvirt import LibvirtOperationError, to_xml
from ansible_collections.kvmnet.bridge.plugins.module_utils._libvirt_network import (
    canonical,
    describe_network,
    desired_element,
    diff_text,
    foreign_parts,
    parse,
    plan_network,
    same,
    validate_network_static,
)

UUID = '6e5c4cc5-da24-407a-a24e-621c3ab4138f'

# what libvirt 9.0's net-dumpxml prints for a network this module defined
PLAIN = '''<network>
  <name>kvmbr0</name>
  <uuid>%s</uuid>
  <forward mode='bridge'/>
  <bridge name='%%s'/>
</network>
''' % UUID

# libvirt's own NAT network "default" (as the test driver ships it)
NAT = '''<network>
  <name>kvmbr0</name>
  <uuid>%s</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
''' % UUID


def params(**overrides):
    result = dict(name='kvmbr0', bridge='kvmbr0', state='present', active=True, autostart=True, takeover=False,
                  uri='qemu:///system')
    result.update(overrides)
    return result


def have(config=PLAIN % 'kvmbr0', live=None, active=True, persistent=True, autostart=True):
    return dict(uuid=UUID, active=active, persistent=persistent, autostart=autostart, config=parse(config),
                live=parse(live or config))


def actions(steps):
    return [step['action'] for step in steps]


# ---- validation -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('overrides, words, key', [
    (dict(name=''), 'Invalid network name', 'name'),
    (dict(name='a/b'), 'Invalid network name', 'name'),
    (dict(name=' kvmbr0'), 'surrounding spaces', 'name'),
    (dict(name='kvm\nbr0'), 'control characters', 'name'),
    (dict(bridge='br/0'), 'Invalid interface name', 'bridge'),
    (dict(bridge='a-very-long-bridge-name'), 'at most 15 bytes', 'bridge'),
])
def test_validate_refusals(overrides, words, key):
    with pytest.raises(ValidationError) as info:
        validate_network_static(params(**overrides))
    assert words in info.value.msg
    assert key in info.value.details


def test_validate_absent_needs_no_bridge():
    validate_network_static(params(state='absent', bridge=None))


# ---- XML --------------------------------------------------------------------------------------------------------

def test_desired_element():
    assert to_xml(desired_element('kvmbr0', 'kvmbr1')) == (
        '<network><name>kvmbr0</name><forward mode="bridge" /><bridge name="kvmbr1" /></network>')
    with_uuid = desired_element('kvmbr0', 'kvmbr1', UUID)
    assert [child.tag for child in with_uuid] == ['name', 'uuid', 'forward', 'bridge']
    assert with_uuid.findtext('uuid') == UUID


def test_input_cannot_inject_xml():
    element = ET.fromstring(to_xml(desired_element("x</name><ip address='1.2.3.4'/><name>", "br'/><ip/>")))
    assert [child.tag for child in element] == ['name', 'forward', 'bridge']
    assert element.findtext('name') == "x</name><ip address='1.2.3.4'/><name>"


def test_normalisation_ignores_what_libvirt_adds():
    ours = desired_element('kvmbr0', 'kvmbr0')
    assert same(parse(PLAIN % 'kvmbr0'), ours)  # uuid, whitespace and quoting do not count
    live = "<network connections='2'><name>kvmbr0</name><forward mode='bridge'/><bridge name='kvmbr0'/></network>"
    assert same(parse(live), ours)
    assert not same(parse(PLAIN % 'kvmbr1'), ours)
    assert not same(parse(NAT), ours)
    reordered = "<network><name>n</name><bridge macTableManager='libvirt' name='b'/></network>"
    assert canonical(parse(reordered)) == canonical(parse(
        "<network><name>n</name><bridge name='b' macTableManager='libvirt'/></network>"))
    assert canonical(None) is None


@pytest.mark.parametrize('xml, expected', [
    (PLAIN % 'kvmbr1', []),
    ("<network connections='1'><name>n</name><forward mode='bridge'/><bridge name='b'/></network>", []),
    (NAT, ["forward mode 'nat'", "<bridge> attributes delay='0', stp='on'", 'elements <ip>']),
    ("<network><name>n</name><bridge name='virbr1'/></network>",
     ['no <forward> (an isolated network: libvirt creates its bridge itself)']),
    ("<network><name>n</name><forward/><ip address='10.0.0.1'/></network>", ["forward mode 'nat'", 'elements <ip>']),
    ("<network><name>n</name><forward mode='bridge'><interface dev='eth0'/></forward></network>",
     ['<forward> children <interface>']),
    ("<network><name>n</name><forward mode='bridge' managed='yes'/><bridge name='b'/></network>",
     ["<forward> attributes managed='yes'"]),
    ("<network ipv6='yes'><name>n</name><forward mode='bridge'/><bridge name='b'/><portgroup name='p'/>"
     "<portgroup name='q'/><bandwidth/></network>",
     ["network attributes ipv6='yes'", 'elements <portgroup>, <bandwidth>']),
])
def test_foreign_parts(xml, expected):
    assert foreign_parts(parse(xml)) == expected


def test_describe_network():
    assert describe_network('kvmbr0', None) == dict(name='kvmbr0', state='absent')
    described = describe_network('kvmbr0', have(NAT, autostart=False))
    assert (described['uuid'], described['forward'], described['bridge'], described['active'],
            described['autostart'], described['persistent']) == (UUID, 'nat', 'virbr0', True, False, True)
    assert described['xml'].startswith('<network>\n  <name>kvmbr0</name>\n  <uuid>')
    isolated = describe_network('n', have("<network><name>n</name></network>", active=False))
    assert (isolated['forward'], isolated['bridge']) == (None, None)


def test_diff_text():
    assert diff_text(dict(name='kvmbr0', state='absent')) == '<!-- network kvmbr0: absent -->\n'
    current = have(PLAIN % 'kvmbr1', live=PLAIN % 'kvmbr0')
    text = diff_text(describe_network('kvmbr0', current), current['live'])
    assert text.startswith('<!-- network kvmbr0: persistent, active, autostart -->\n<network>')
    assert 'kvmbr1' in text.split('running until')[0]
    assert '<!-- running until the network is restarted -->' in text
    assert 'kvmbr0" />' in text.split('running until')[1]
    stopped = diff_text(describe_network('kvmbr0', have(active=False, autostart=False)))
    assert stopped.startswith('<!-- network kvmbr0: persistent, inactive, no autostart -->')
    assert 'running until' not in stopped


# ---- plans ------------------------------------------------------------------------------------------------------

def test_plan_new_network():
    steps, predicted = plan_network(params(), None)
    assert actions(steps) == ['define', 'start', 'autostart']
    assert same(steps[0]['xml'], desired_element('kvmbr0', 'kvmbr0'))
    assert steps[0]['xml'].find('uuid') is None
    assert steps[0]['revert'] is None  # undone by undefining it
    assert steps[2]['attributes'] == dict(autostart=True) and steps[2]['revert'] is False
    assert (predicted['state'], predicted['uuid'], predicted['bridge'], predicted['active'],
            predicted['autostart']) == ('present', None, 'kvmbr0', True, True)


@pytest.mark.parametrize('overrides, state', [
    (dict(), dict()),
    (dict(active=False), dict(active=False)),
    (dict(active=False, autostart=False), dict(active=False, autostart=False)),
    (dict(autostart=False), dict(autostart=False)),
])
def test_plan_noop(overrides, state):
    assert plan_network(params(**overrides), have(**state))[0] == []


def test_plan_bridge_change_of_a_running_network_restarts_it():
    steps, predicted = plan_network(params(bridge='kvmbr1'), have())
    assert actions(steps) == ['destroy', 'define', 'start']
    assert steps[0]['attributes']['reason'].startswith(
        "restart: the running network uses bridge kvmbr0 (forward mode 'bridge'), the definition bridge kvmbr1")
    assert steps[1]['xml'].findtext('uuid') == UUID  # libvirt refuses a redefinition without it
    assert steps[1]['attributes'] == dict(bridge='kvmbr1', forward='bridge', uuid=UUID)
    assert same(steps[1]['revert'], parse(PLAIN % 'kvmbr0'))
    assert (predicted['uuid'], predicted['bridge']) == (UUID, 'kvmbr1')


def test_plan_bridge_change_of_a_stopped_network_only_redefines_it():
    assert actions(plan_network(params(bridge='kvmbr1', active=False), have(active=False))[0]) == ['define']
    assert actions(plan_network(params(bridge='kvmbr1'), have(active=False))[0]) == ['define', 'start']


def test_plan_restarts_a_network_that_runs_an_older_definition():
    current = have(PLAIN % 'kvmbr1', live=PLAIN % 'kvmbr0')
    assert actions(plan_network(params(bridge='kvmbr1'), current)[0]) == ['destroy', 'start']
    # what runs is already right: only the definition is written, no restart
    assert actions(plan_network(params(bridge='kvmbr0'), current)[0]) == ['define']


def test_plan_autostart_and_active_changes():
    steps = plan_network(params(autostart=False), have())[0]
    assert actions(steps) == ['autostart'] and steps[0]['revert'] is True
    steps = plan_network(params(active=False), have())[0]
    assert actions(steps) == ['destroy'] and steps[0]['attributes']['reason'] == 'active=false'
    assert actions(plan_network(params(), have(active=False, autostart=False))[0]) == ['start', 'autostart']


def test_plan_makes_a_transient_network_persistent_before_stopping_it():
    # a transient network vanishes when destroyed: define first
    current = have(PLAIN % 'kvmbr0', persistent=False, autostart=False)
    assert actions(plan_network(params(), current)[0]) == ['define', 'autostart']
    assert actions(plan_network(params(bridge='kvmbr1'), current)[0]) == ['define', 'destroy', 'start', 'autostart']
    assert plan_network(params(), current)[0][0]['revert'] is None


@pytest.mark.parametrize('current', [
    have(NAT),
    have(NAT, active=False),
    have(PLAIN % 'kvmbr0', live=NAT),  # redefined by hand, the NAT network still runs
    have("<network><name>kvmbr0</name><forward mode='bridge'/><bridge name='kvmbr0'/><portgroup name='p'/>"
         "</network>"),
])
def test_plan_refuses_to_take_over(current):
    with pytest.raises(ValidationError) as info:
        plan_network(params(), current)
    assert "Network 'kvmbr0' at qemu:///system is not a plain bridge network" in info.value.msg
    assert 'takeover: true' in info.value.msg
    assert info.value.details['found']


def test_plan_takeover_names_what_it_drops():
    steps, predicted = plan_network(params(takeover=True), have(NAT))
    assert actions(steps) == ['destroy', 'define', 'start']
    assert steps[1]['attributes']['replaces'] == (
        "forward mode 'nat'; <bridge> attributes delay='0', stp='on'; elements <ip>")
    assert "uses bridge virbr0 (forward mode 'nat')" in steps[0]['attributes']['reason']
    assert predicted['forward'] == 'bridge'


@pytest.mark.parametrize('current, expected', [
    (None, []),
    (have(), ['destroy', 'undefine']),
    (have(active=False), ['undefine']),
    (have(persistent=False), ['destroy']),
    (have(NAT), ['destroy', 'undefine']),  # absent is explicit: any network of that name goes
])
def test_plan_absent(current, expected):
    steps, predicted = plan_network(params(state='absent', bridge=None), current)
    assert actions(steps) == expected
    assert predicted == dict(name='kvmbr0', state='absent')


# ---- against libvirt's test driver: the connection and the module itself ----------------------------------------

libvirt = pytest.importorskip('libvirt')
TEST_URI = 'test:///default'


@pytest.fixture
def conn():
    """A connection to the test driver. It keeps the driver's state alive between the module's own connections
    (the state of test:///default lives as long as one connection does) and removes the networks a test made."""
    with _libvirt_network.LibvirtNetworks(TEST_URI) as connection:
        yield connection
        for network in connection._conn.listAllNetworks():
            if network.name() != 'default':
                if network.isActive():
                    network.destroy()
                network.undefine()


def test_facts(conn):
    assert conn.facts('nope') is None
    default = conn.facts('default')
    assert (default['uuid'], default['active'], default['persistent'], default['autostart']) == (
        'dd8fe884-6c02-601e-7551-cca97df1c5df', True, True, False)
    assert foreign_parts(default['config'])[0] == "forward mode 'nat'"


def test_calls(conn):
    conn.define(desired_element('kvmbr0', 'kvmbr0'))
    conn.start('kvmbr0')
    conn.set_autostart('kvmbr0', True)
    facts = conn.facts('kvmbr0')
    assert (facts['active'], facts['autostart']) == (True, True)
    assert same(facts['config'], desired_element('kvmbr0', 'kvmbr0'))
    conn.destroy('kvmbr0')
    conn.undefine('kvmbr0')
    assert conn.facts('kvmbr0') is None


def test_driver_errors_become_collection_errors(conn):
    conn.define(desired_element('kvmbr0', 'kvmbr0'))
    with pytest.raises(LibvirtOperationError) as info:
        conn.define(desired_element('kvmbr0', 'kvmbr1'))  # same name, no uuid: libvirt refuses
    assert "Cannot define network 'kvmbr0' (libvirt at test:///default)" in info.value.msg
    assert 'already exists' in info.value.msg
    assert info.value.details['xml'].startswith('<network><name>kvmbr0</name>')
    with pytest.raises(LibvirtOperationError) as info:
        conn.start('nope')
    assert "Cannot look up network 'nope'" in info.value.msg


def test_users(conn):
    assert conn.users('default') == ['test']  # the test driver's running domain has a NIC on it
    assert conn.users('kvmbr0') == []


@pytest.fixture
def run(conn, monkeypatch):
    """Run the module's main() in this process (the test driver's state is per process) and return its result."""
    from ansible.module_utils import _internal
    from ansible.module_utils.common import warnings
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.kvmnet.bridge.plugins.modules import libvirt_network

    def run_module(check=False, **args):
        monkeypatch.setattr(warnings, '_global_warnings', {})
        # a test that imported controller code (ansible.errors, e.g. for a filter) makes module warnings go to the
        # controller's display instead of the result: run the module as a module
        monkeypatch.setattr(_internal, 'is_controller', False)
        args = dict(dict(uri=TEST_URI, _ansible_check_mode=check, _ansible_diff=True), **args)
        out = io.StringIO()
        with patch_module_args(args), contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            libvirt_network.main()
        result = json.loads(out.getvalue())
        result['warnings'] = [warning['event']['msg'] for warning in result.get('warnings', [])]
        return result
    return run_module


def four_steps(run, conn, args, changed=True):
    """Check mode, apply, check mode again, apply again; returns the four results and libvirt's facts before and
    after check mode (they must be equal)."""
    before = conn.facts(args['name'])
    check = run(check=True, **args)
    unchanged = conn.facts(args['name'])
    applied = run(**args)
    check2 = run(check=True, **args)
    applied2 = run(**args)
    assert (check['changed'], applied['changed'], check2['changed'], applied2['changed']) == (
        changed, changed, False, False), (check, applied, check2, applied2)
    assert check['operations'] == applied['operations']
    assert check2['operations'] == applied2['operations'] == []
    assert describe_network(args['name'], before) == describe_network(args['name'], unchanged)
    return check, applied, applied2


def test_module_create_update_delete(run, conn):
    args = dict(name='kvmbr0', bridge='kvmbr0')
    check, applied, again = four_steps(run, conn, args)
    assert [op['action'] for op in applied['operations']] == ['define', 'start', 'autostart']
    assert check['after']['uuid'] is None and applied['after']['uuid'] == conn.facts('kvmbr0')['uuid']
    assert applied['diff']['before'] == '<!-- network kvmbr0: absent -->\n'
    assert applied['diff']['after'].startswith('<!-- network kvmbr0: persistent, active, autostart -->')
    assert any("Bridge 'kvmbr0' does not exist" in warning for warning in applied['warnings'])
    assert again['after'] == applied['after'] == again['before']
    uuid = applied['after']['uuid']

    check, applied, again = four_steps(run, conn, dict(args, bridge='kvmbr1'))
    assert [op['action'] for op in applied['operations']] == ['destroy', 'define', 'start']
    facts = conn.facts('kvmbr0')
    assert (facts['uuid'], facts['active'], facts['autostart']) == (uuid, True, True)
    assert (ET.fromstring(applied['after']['xml']).find('bridge').get('name'), facts['live'].find('bridge').get(
        'name')) == ('kvmbr1', 'kvmbr1')
    assert '<bridge name="kvmbr0" />' in applied['diff']['before']
    assert '<bridge name="kvmbr1" />' in applied['diff']['after']

    check, applied, again = four_steps(run, conn, dict(args, bridge='kvmbr1', autostart=False, active=False))
    assert applied['operations'] == [
        dict(action='destroy', interface='kvmbr0', attributes=dict(reason='active=false')),
        dict(action='autostart', interface='kvmbr0', attributes=dict(autostart=False))]
    assert (conn.facts('kvmbr0')['active'], conn.facts('kvmbr0')['autostart']) == (False, False)

    check, applied, again = four_steps(run, conn, dict(name='kvmbr0', state='absent'))
    assert [op['action'] for op in applied['operations']] == ['undefine']
    assert applied['after'] == dict(name='kvmbr0', state='absent')
    assert conn.facts('kvmbr0') is None


def test_module_refuses_a_takeover_and_changes_nothing(run, conn):
    before = conn.facts('default')
    result = run(name='default', bridge='kvmbr0')
    assert result['failed'] and not result['changed']
    assert "forward mode 'nat'" in result['msg'] and 'elements <ip>' in result['msg']
    assert result['before']['forward'] == 'nat' and result['operations'] == []
    assert not any('does not exist' in warning for warning in result['warnings'])  # the refusal comes first
    assert describe_network('default', conn.facts('default')) == describe_network('default', before)


def test_module_takeover_warns_about_running_guests(run, conn):
    result = run(check=True, name='default', bridge='kvmbr0', takeover=True)
    assert result['changed']
    assert [op['action'] for op in result['operations']] == ['destroy', 'define', 'start', 'autostart']
    assert result['operations'][1]['attributes']['replaces'].startswith("forward mode 'nat'")
    assert any('Restarting network' in warning and ': test.' in warning for warning in result['warnings'])
    assert conn.facts('default')['config'].find('forward').get('mode') == 'nat'  # check mode


def test_module_refuses_an_interface_that_is_not_a_bridge(run, conn):
    result = run(name='kvmbr0', bridge='lo')
    assert result['failed'] and "Interface 'lo' is not a bridge" in result['msg']
    assert conn.facts('kvmbr0') is None


def test_module_refuses_a_missing_namespace(run, conn):
    result = run(name='kvmbr0', bridge='kvmbr0', netns='kvmnet-no-such-namespace')
    assert result['failed'] and "Network namespace 'kvmnet-no-such-namespace' does not exist" in result['msg']
    assert conn.facts('kvmbr0') is None
