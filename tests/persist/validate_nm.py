# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Strict check of NetworkManager keyfiles with NetworkManager's own parser (libnm), without a daemon.

    /usr/bin/python3 validate_nm.py [--no-owner-check] FILE.nmconnection...
        exit 0: every file is clean; 1: problems (one line each on stdout, FILE: problem); 2: usage or libnm missing

NetworkManager's daemon drops invalid values and unknown keys silently when it loads a keyfile, and `nmcli con load`
exits 0 even when it could not load the file (LAB-NOTES), so neither of them validates. This script uses libnm, the
library the daemon's keyfile plugin is built on:
  1. the file as GLib parses key files (syntax: groups, keys, escapes);
  2. ``NM.keyfile_read`` with a warning handler: every warning (a value of the wrong type, an invalid MAC, a bad
     address) fails the file, where the daemon would only drop the value;
  3. every key of every group must be a property of the setting the group names (the keyfile writer's own names,
     read back from libnm's settings: ``ethernet`` is ``802-3-ethernet``; ipv4/ipv6 ``addressN``/``routeN``/
     ``gateway`` and ``[ethernet] mac-address``-style keys are handled by keyfile_read itself), so a typo such as
     ``forward_delay=`` or ``stpp=`` fails instead of vanishing;
  4. ``normalize()`` then ``verify()`` of the connection (ranges, a port's ``master``/``slave-type``, ids);
  5. the file is a regular file owned by root with no group/other permission bits (NetworkManager refuses to load
     a keyfile that others can read or write), unless --no-owner-check.
Runs with the system python3 and gir1.2-nm-1.0 (python3-gi); 50-65 ms a file (LAB-NOTES).
"""

import os
import stat
import sys

# keyfile group names that are not setting names (libnm's keyfile writer uses these aliases)
ALIASES = {
    'ethernet': '802-3-ethernet', 'wifi': '802-11-wireless', 'wifi-security': '802-11-wireless-security',
    '802-1x': '802-1x', 'gsm': 'gsm', 'cdma': 'cdma', 'vpn': 'vpn',
}
# groups keyfile_read consumes itself (not settings)
NON_SETTING_GROUPS = {'vpn-secrets', 'ethernet-s390-options', 'user', 'tc', 'ovs-external-ids'}
# keys keyfile_read maps onto a property of another name
IP_KEY_PREFIXES = ('address', 'route', 'routing-rule')
IP_EXTRA_KEYS = {'gateway', 'dns', 'dns-search', 'dns-options', 'addresses', 'routes'}


def load_libnm():
    try:
        import gi
        gi.require_version('NM', '1.0')
        from gi.repository import NM, GLib
    except (ImportError, ValueError) as error:
        sys.stderr.write('validate_nm: libnm for Python is missing (%s): install gir1.2-nm-1.0 and python3-gi\n'
                         % error)
        sys.exit(2)
    return GLib, NM


def setting_classes(NM):
    """Setting name (``bridge``, ``802-3-ethernet``...) -> its libnm class, from every NM.Setting subclass."""
    classes = {}
    for attribute in dir(NM):
        cls = getattr(NM, attribute)
        if isinstance(cls, type) and issubclass(cls, NM.Setting) and cls is not NM.Setting:
            try:
                classes[cls().get_name()] = cls
            except TypeError:  # abstract classes (NM.SettingIPConfig) cannot be instantiated
                continue
    return classes


def setting_properties(classes, group):
    """The property names of the setting a keyfile group names, or None when the group names no setting."""
    cls = classes.get(ALIASES.get(group, group))
    if cls is None:
        return None
    return {spec.name for spec in cls.list_properties()} - {'name'}


def key_allowed(group, key, properties):
    if key in properties:
        return True
    if group in ('ipv4', 'ipv6'):
        base = key.split('_', 1)[0].rstrip('0123456789')
        return key in IP_EXTRA_KEYS or (base in IP_KEY_PREFIXES and key[len(base):].split('_')[0].isdigit())
    return False


def check_file(path, GLib, NM, classes, owner_check=True):
    problems = []
    try:
        info = os.lstat(path)
    except OSError as error:
        return ['cannot read: %s' % error.strerror]
    if not stat.S_ISREG(info.st_mode):
        return ['not a regular file']
    if owner_check:
        if info.st_uid != 0:
            problems.append('owned by uid %d, NetworkManager loads only root-owned keyfiles' % info.st_uid)
        if info.st_mode & 0o077:
            problems.append('mode %04o: group/other bits set, NetworkManager refuses such keyfiles (want 0600)'
                            % stat.S_IMODE(info.st_mode))
    keyfile = GLib.KeyFile.new()
    try:
        keyfile.load_from_file(path, GLib.KeyFileFlags.NONE)
    except GLib.Error as error:
        return problems + ['key file syntax: %s' % error.message]

    for group in keyfile.get_groups()[0]:
        if group in NON_SETTING_GROUPS:
            continue
        properties = setting_properties(classes, group)
        if properties is None:
            problems.append('[%s]: no such setting' % group)
            continue
        for key in keyfile.get_keys(group)[0]:
            if not key_allowed(group, key, properties):
                problems.append('[%s] %s: no such property of the %s setting'
                                % (group, key, ALIASES.get(group, group)))

    warnings = []

    def handler(keyfile_, connection, handler_type, handler_data, user_data):
        if handler_type == NM.KeyfileHandlerType.WARN:
            message = handler_data.warn_get()[0]  # (message, severity) in PyGObject
            context = handler_data.get_context()  # (group, setting, property name)
            group_name, prop = context[0], context[-1]
            warnings.append('[%s] %s: %s' % (group_name or '?', prop or '?', message))
        return True  # keep reading: report every problem of the file, not just the first

    try:
        connection = NM.keyfile_read(keyfile, os.path.dirname(os.path.abspath(path)), NM.KeyfileHandlerFlags.NONE,
                                     handler, None)
    except GLib.Error as error:
        return problems + warnings + ['libnm keyfile_read: %s' % error.message]
    problems.extend(warnings)
    try:
        connection.normalize()
        connection.verify()
    except GLib.Error as error:
        problems.append('libnm verify: %s' % error.message)
    return problems


def main(argv):
    owner_check = '--no-owner-check' not in argv
    files = [arg for arg in argv if arg != '--no-owner-check']
    if not files or any(arg.startswith('-') for arg in files):
        sys.stderr.write(__doc__.split('\n\n')[1] + '\n')
        return 2
    GLib, NM = load_libnm()
    classes = setting_classes(NM)
    failed = 0
    for path in files:
        problems = check_file(path, GLib, NM, classes, owner_check)
        for problem in problems:
            print('%s: %s' % (path, problem))
        if problems:
            failed += 1
        else:
            print('%s: ok (libnm %d.%d.%d keyfile_read, normalize, verify)'
                  % (path, NM.MAJOR_VERSION, NM.MINOR_VERSION, NM.MICRO_VERSION))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
