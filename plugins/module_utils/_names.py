# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Interface-name and MAC rules shared by every module: validate names as the kernel does, normalise MACs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError

IFNAME_MAX_BYTES = 15
_MAC_RE = re.compile(r'^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$')


# Bytes of a name's UTF-8 encoding that the kernel's isspace() refuses (lib/ctype.c: Latin-1 table, so 0xa0, the
# no-break space, counts too: 'à' is c3 a0 and the kernel answers EINVAL).
_KERNEL_SPACE_BYTES = frozenset(b'\t\n\v\f\r \xa0')


def _name_problem_char(char):
    """Why one character cannot be in an interface name, or None."""
    if char in '/:':
        return 'the kernel refuses it'
    if char == '%':
        return 'the kernel reads "%d" as a template and picks a name itself (br%d -> br0)'
    if char.isspace() or ord(char) < 32 or 127 <= ord(char) < 160:
        return 'whitespace or a control character'
    if 0xa0 in char.encode('utf-8', 'surrogatepass'):
        return 'its UTF-8 encoding has byte 0xa0, which the kernel reads as a space'
    return None


def validate_ifname(name, option='name'):
    """Linux interface name rules (dev_valid_name): 1..15 bytes, not '.' or '..', no '/', ':' or whitespace.

    Also refused, although dev_valid_name() lets them through: '%' (the kernel treats a name with it as a template
    and creates another name, so a second run would create another interface), control characters (NUL would
    truncate the name on the wire) and characters whose UTF-8 encoding contains byte 0xa0 (the kernel's isspace()
    is Latin-1: EINVAL).
    """
    if not name:
        raise ValidationError('%s must not be empty: give the name of an interface, for example "kvmbr0".'
                              % option, **{option: name})
    encoded = name.encode('utf-8', 'surrogatepass')
    problems = []
    if len(encoded) > IFNAME_MAX_BYTES:
        problems.append('it is %d bytes long, the kernel allows at most %d' % (len(encoded), IFNAME_MAX_BYTES))
    if name in ('.', '..'):
        problems.append("'.' and '..' are reserved")
    bad = {}
    for char in name:
        why = _name_problem_char(char)
        if why is not None:
            bad.setdefault(why, set()).add(char)
    for why, chars in sorted(bad.items()):
        problems.append('it contains %s (%s)' % (', '.join(repr(char) for char in sorted(chars)), why))
    if problems:
        raise ValidationError(
            'Invalid interface name %r for %s: %s. Use at most 15 bytes without "/", ":", "%%", whitespace or'
            ' control characters, for example "kvmbr0".' % (name, option, '; '.join(problems)),
            **{option: name}
        )


def _mac_number_hint(mac, option):
    """For a MAC that YAML turned into a number (unquoted): what was probably written, and how to fix it."""
    text = str(mac).strip()
    if not text.isdigit():
        return ''
    number, groups = int(text), []
    while number:
        number, digit = divmod(number, 60)
        groups.insert(0, digit)
    if len(groups) == 6:
        return (' It looks like YAML 1.1 read an unquoted %s as a base-60 number (%s): quote the MAC,'
                ' %s: "%s".' % (':'.join('%02d' % group for group in groups), text, option,
                                ':'.join('%02d' % group for group in groups)))
    return (' It is a plain number: an unquoted MAC of digits only becomes one in YAML. Quote the MAC and'
            ' separate its bytes, for example %s: "52:54:00:12:34:56".' % option)


def normalise_mac(mac, option='mac'):
    """Lower-case, colon-separated; refuses malformed, multicast and all-zero addresses."""
    text = str(mac).strip().lower()
    if not _MAC_RE.match(text):
        raise ValidationError(
            'Invalid MAC address %r for %s: use six hexadecimal byte pairs separated by ":", for example'
            ' "52:54:00:12:34:56".%s' % (mac, option, _mac_number_hint(mac, option)),
            **{option: mac}
        )
    text = text.replace('-', ':')
    first = int(text[:2], 16)
    if first & 0x01:
        raise ValidationError(
            'MAC address %r for %s is a multicast address (the lowest bit of the first byte is set); an interface'
            ' needs a unicast MAC. Use an even first byte, for example a locally administered "02:..." address.'
            % (mac, option),
            **{option: mac}
        )
    if text == '00:00:00:00:00:00':
        raise ValidationError('MAC address %r for %s is all zeros; use a real unicast MAC.' % (mac, option),
                              **{option: mac})
    return text
