# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kvm_guest_nic with ``backend: tap``: a persistent tap for QEMU without libvirt. Pure validation and planning.

The facts come from :mod:`_netlink` as plain link dicts (``tun`` holds the IFLA_TUN_* attributes of a tun/tap
device); the plan is plain data (steps), bound to netlink calls by the module. Nothing here touches the kernel.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kvmnet.bridge.plugins.module_utils._common import ValidationError, require_bridge, where
from ansible_collections.kvmnet.bridge.plugins.module_utils._names import normalise_mac, validate_ifname

IFF_TAP_TYPE = 2  # IFLA_TUN_TYPE of a tap (IFF_TAP); 1 is a tun (IFF_TUN)
ID_UNSET = 0xFFFFFFFF  # (uid_t) -1: no owner / group set
ID_MAX = 0xFFFFFFFE
LIBVIRT_ONLY = ('domain', 'alias', 'model', 'link_state')  # refused with backend tap when set
DEFAULT_URI = 'qemu:///system'


def resolve_id(value, option, lookup):
    """A uid/gid from an int, a string of digits, or a name (``lookup(name)`` returns the id or raises KeyError)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError('%s=%r: give a user/group name or a numeric id, not a boolean (quote a name such as'
                              ' "yes").' % (option, value), **{option: value})
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        number = int(value)
        if not 0 <= number <= ID_MAX:
            raise ValidationError('%s %r is out of range: numeric ids go from 0 to %d. Give an id in that range or'
                                  ' a %s name.' % (option, value, ID_MAX, 'user' if option == 'owner' else 'group'),
                                  **{option: value})
        return number
    name = str(value).strip()
    try:
        return lookup(name)
    except (KeyError, ValueError):  # ValueError: a NUL in the name (getpwnam refuses it)
        raise ValidationError(
            '%s %r does not exist on the host: create the %s first, or give a numeric id.'
            % (option, name, 'user' if option == 'owner' else 'group'), **{option: value})


def _default_lookups():
    import grp
    import pwd
    return (lambda name: pwd.getpwnam(name).pw_uid), (lambda name: grp.getgrnam(name).gr_gid)


def validate_tap_static(params, user_lookup=None, group_lookup=None):
    """Checks that need no kernel. Normalises ``mac`` and turns ``owner``/``group`` into ids, in place."""
    if user_lookup is None or group_lookup is None:
        user_lookup, group_lookup = _default_lookups()
    given = [option for option in LIBVIRT_ONLY if params.get(option) is not None]
    if params.get('scope') not in (None, 'auto'):
        given.append('scope')
    if params.get('uri') not in (None, DEFAULT_URI):
        given.append('uri')
    if given:
        raise ValidationError(
            'backend=tap manages a plain tap for QEMU run without libvirt; %s %s sense with backend=libvirt only.'
            ' Remove %s from the task (or use backend=libvirt).'
            % (', '.join(given), 'makes' if len(given) == 1 else 'make', ', '.join(given)),
            options=given)
    if not params.get('target'):
        raise ValidationError('backend=tap needs target: the name of the tap (as in QEMU\'s'
                              ' -netdev tap,ifname=NAME), for example "tap-web1".')
    validate_ifname(params['target'], 'target')
    if params.get('bridge') is not None:
        validate_ifname(params['bridge'], 'bridge')
    if params.get('mac') is not None:
        params['mac'] = normalise_mac(params['mac'])
    mtu = params.get('mtu')
    if mtu is not None and not 68 <= mtu <= 65535:
        raise ValidationError('mtu %r is out of range: use 68 to 65535.' % mtu, mtu=mtu)
    params['owner'] = resolve_id(params.get('owner'), 'owner', user_lookup)
    params['group'] = resolve_id(params.get('group'), 'group', group_lookup)


def tun_id(tun, key):
    value = (tun or {}).get(key)
    return None if value is None or value == ID_UNSET else value


def held(link):
    """A process (QEMU) has the tap open: the kernel turns the carrier on when a queue attaches, off when the
    last one detaches."""
    return bool(link and link.get('carrier'))


def check_tap_facts(params, link, bridge):
    """Refusals that need the kernel's facts, before anything changes. ``link``: the interface named ``target``
    (or None); ``bridge``: the interface named ``bridge`` (or None)."""
    name, here = params['target'], where(params.get('netns'))
    if link is not None:
        tun = link.get('tun')
        if link['kind'] != 'tun' or tun is None or tun.get('IFLA_TUN_TYPE') != IFF_TAP_TYPE:
            kind = link['kind'] or 'a physical or unnamed-kind device'
            if link['kind'] == 'tun':
                kind = 'tun (layer 3), not tap'
            raise ValidationError(
                'Interface %r%s exists and is not a tap (kind: %s). The tap backend only manages taps: choose'
                ' another target, or remove that interface yourself.' % (name, here, kind), target=name,
                kind=link['kind'])
        if params['state'] == 'present' and not tun.get('IFLA_TUN_PERSIST'):
            raise ValidationError(
                'Tap %r%s exists but is not persistent: the process that created it (QEMU?) holds it and it goes'
                ' away when that process exits. Stop the QEMU process using %r, then run the task again to create'
                ' a persistent tap.' % (name, here, name), target=name)
    if params['state'] == 'present':
        require_bridge(params['bridge'], bridge, params.get('netns'), 'the tap')


def busy_refusal(name, netns, change):
    return (
        'Tap %r%s is held open by a process, typically the QEMU process of the guest using it, so its %s cannot be'
        ' done (TUNSETIFF on the tap gives EBUSY; the kernel does not say which process holds it). Stop the QEMU'
        ' process using %r first (for example find it with `ps -ef | grep %s`), then run the task again. Bridge,'
        ' MAC and MTU changes work while it runs.' % (name, where(netns), change, name, name)
    )


def describe_tap(name, link, master_name):
    """The tap as the module reports it (``before``/``after``)."""
    if link is None:
        return dict(state='absent', tap=name, tap_mac=None, bridge=None, owner=None, group=None, mtu=None)
    tun = link.get('tun')
    return dict(state='present', tap=name, tap_mac=link['address'], bridge=master_name,
                owner=tun_id(tun, 'IFLA_TUN_OWNER'), group=tun_id(tun, 'IFLA_TUN_GROUP'), mtu=link['mtu'])


def plan_tap(params, link, bridge, master_name):
    """The steps (plain dicts: action, interface, attributes, revert) and the predicted ``after``.

    Actions: ``create`` (TUNSETIFF, owner, group, TUNSETPERSIST 1, then link up), ``set_owner`` (TUNSETIFF on
    the existing tap: refused while a process holds it), ``set_mac``, ``set_mtu`` (netlink, in place),
    ``enslave`` (netlink), ``delete`` (TUNSETIFF, TUNSETPERSIST 0).
    """
    name = params['target']
    before = describe_tap(name, link, master_name)
    predicted = dict(before)
    steps = []

    def step(action, attributes, revert=None):
        steps.append(dict(action=action, interface=name, attributes=attributes, revert=revert))

    if params['state'] == 'absent':
        if link is not None:
            if held(link):
                raise ValidationError(busy_refusal(name, params.get('netns'), 'deletion'), target=name)
            step('delete', dict(persist=False))
            predicted = describe_tap(name, None, None)
        return steps, predicted

    owner, group = params.get('owner'), params.get('group')
    if link is None:
        attributes = dict(type='tap', persist=True, up=True)
        if owner is not None:
            attributes['owner'] = owner
        if group is not None:
            attributes['group'] = group
        step('create', attributes)
        predicted.update(state='present', tap_mac=None, owner=owner, group=group, mtu=None)
        if params.get('mac') is not None:
            step('set_mac', dict(mac=params['mac']))
            predicted['tap_mac'] = params['mac']
        if params.get('mtu') is not None:
            step('set_mtu', dict(mtu=params['mtu']))
            predicted['mtu'] = params['mtu']
        step('enslave', dict(bridge=params['bridge']), dict(master_index=0))
        predicted['bridge'] = params['bridge']
        return steps, predicted

    changes, revert = {}, {}
    for key, value in (('owner', owner), ('group', group)):
        if value is not None and value != before[key]:
            changes[key] = value
            revert[key] = before[key]
    if changes:
        if held(link):
            raise ValidationError(busy_refusal(name, params.get('netns'), '%s change' % '/'.join(sorted(changes))),
                                  target=name)
        step('set_owner', changes, revert)
        predicted.update(changes)
    if params.get('mac') is not None and params['mac'] != before['tap_mac']:
        step('set_mac', dict(mac=params['mac']), dict(mac=before['tap_mac']))
        predicted['tap_mac'] = params['mac']
    if params.get('mtu') is not None and params['mtu'] != before['mtu']:
        step('set_mtu', dict(mtu=params['mtu']), dict(mtu=before['mtu']))
        predicted['mtu'] = params['mtu']
    if bridge is not None and link['master'] != bridge['index']:
        step('enslave', dict(bridge=params['bridge']), dict(master_index=link['master'] or 0))
        predicted['bridge'] = params['bridge']
    return steps, predicted
