"""The machine model (tests/machines/machine.sh) as seen through the testinfra backend (kvmnet_testinfra)."""

import os
import time


def test_commands_enter_the_machine_directly(host):
    # kvmnet_testinfra's backend, with the machine's init PID (not one `ansible -m shell` per command)
    assert type(host.backend).__name__ == 'NsenterAnsibleBackend'
    assert host.backend._machine_pid() > 1


def test_hostname_is_the_platform_name(host):
    assert host.run('hostname').stdout.strip() == host.backend.get_hostname()
    assert host.file('/etc/hostname').content_string.strip() == host.backend.get_hostname()


def test_etc_is_copy_on_write(host):
    probe = host.file('/etc/kvmnet-machines-probe')
    assert probe.exists
    assert probe.content_string == 'written by %s\n' % host.backend.get_hostname()
    assert not os.path.exists('/etc/kvmnet-machines-probe'), 'the write leaked into the controller'


def test_private_run_and_read_only_sys(host):
    assert host.mount_point('/run').filesystem == 'tmpfs'
    assert host.mount_point('/var/tmp').filesystem == 'tmpfs'
    assert host.mount_point('/etc').filesystem == 'overlay'
    assert host.mount_point('/var/lib').filesystem == 'overlay'
    assert 'ro' in host.mount_point('/sys').options


def test_machine_is_a_namespace_instance(host):
    # a private /run/netns (not the controller's) that names the machine's own network namespace, as in
    # scripts/netns-instance.sh, so the lab's scripts accept the machine
    netns = host.check_output('ip netns identify')
    assert netns.startswith('kvmnet-m-%s-' % host.backend.get_hostname())
    assert host.check_output('ls /run/netns') == netns
    assert host.check_output('findmnt -n -o SOURCE --mountpoint /run/netns') == 'kvmnet-netns'


def test_machine_holds_no_other_network_namespace(host):
    # copies of the controller's /run/netns mounts would keep other namespaces alive after they were deleted
    nsfs = [line.split()[4] for line in host.file('/proc/1/mountinfo').content_string.splitlines()
            if ' - nsfs ' in line]
    assert nsfs == ['/run/netns/' + host.check_output('ip netns identify')]


def test_pid_1_is_the_reaping_init(host):
    assert 'python' in host.file('/proc/1/cmdline').content_string
    # an orphan (its shell exits at once) is re-parented to PID 1, which must reap it once it is killed
    orphan = host.run('sh -c "sleep 300 >/dev/null 2>&1 & echo \\$!"').stdout.strip()
    assert host.run('cat /proc/%s/status', orphan).stdout.count('PPid:\t1\n') == 1
    host.run_test('kill -KILL %s', orphan)
    for dummy in range(50):
        if not host.file('/proc/%s' % orphan).exists:
            break
        time.sleep(0.05)
    assert not host.file('/proc/%s' % orphan).exists, 'killed orphan %s was not reaped' % orphan


def test_machines_are_cabled(machine):
    alpha, beta = machine('alpha'), machine('beta')
    assert alpha.interface('eth0').addresses[:1] == ['192.0.2.1']
    assert alpha.run_test('ping -c 1 -W 2 192.0.2.2')
    assert beta.run_test('ping -c 1 -W 2 192.0.2.1')
