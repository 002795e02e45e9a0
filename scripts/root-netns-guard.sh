#!/usr/bin/env bash
# Record the root network namespace's configuration and later prove that a test run left it untouched.
#
#   scripts/root-netns-guard.sh snapshot FILE   write the current state to FILE
#   scripts/root-netns-guard.sh check FILE      compare the current state with FILE: exit 1 with a diff if it differs
#   scripts/root-netns-guard.sh show            print the current state
#
# The state is canonical JSON of the stable fields only, so counters, timers and address lifetimes never cause a
# difference:
#   links     name, index, type (link_type, info_kind, info_slave_kind), master, flags, mtu, MAC
#   addresses family, address, peer, prefix length, scope, label per link
#   routes    IPv4 and IPv6, every table (without `expires`), and policy rules
# Read-only: it only runs `ip -j ... show`.
set -euo pipefail

usage() { echo "usage: $0 snapshot FILE | check FILE | show" >&2; exit 2; }

state() {
    python3 - <<'PY'
import json
import subprocess


def ip(*args):
    out = subprocess.run(['ip', '-j', *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out) if out.strip() else []


def pick(entry, keys):
    return {k: entry[k] for k in keys if k in entry}


links = []
for link in ip('-d', 'link', 'show'):
    item = pick(link, ('ifname', 'ifindex', 'link_type', 'master', 'mtu', 'address'))
    item['flags'] = sorted(link.get('flags', []))
    info = link.get('linkinfo', {})
    item.update(pick(info, ('info_kind', 'info_slave_kind')))
    links.append(item)

addresses = {}
for link in ip('addr', 'show'):
    addresses[link['ifname']] = sorted(
        (pick(a, ('family', 'local', 'address', 'prefixlen', 'scope', 'label')) for a in link.get('addr_info', [])),
        key=lambda a: json.dumps(a, sort_keys=True),
    )

ROUTE_KEYS = ('type', 'dst', 'gateway', 'via', 'dev', 'table', 'protocol', 'scope', 'prefsrc', 'metric', 'flags',
              'nexthops', 'pref', 'mtu')


def routes(family):
    found = [pick(r, ROUTE_KEYS) for r in ip(family, 'route', 'show', 'table', 'all')]
    return sorted(found, key=lambda r: json.dumps(r, sort_keys=True))


def rules(family):
    return ip(family, 'rule', 'show')


state = {
    'links': sorted(links, key=lambda link: link['ifname']),
    'addresses': addresses,
    'routes': {'inet': routes('-4'), 'inet6': routes('-6')},
    'rules': {'inet': rules('-4'), 'inet6': rules('-6')},
}
print(json.dumps(state, indent=1, sort_keys=True))
PY
}

[[ $# -ge 1 ]] || usage
case "$1" in
    snapshot)
        [[ $# -eq 2 ]] || usage
        mkdir -p "$(dirname "$2")"
        state >"$2.tmp"
        mv "$2.tmp" "$2"
        echo "root-netns-guard: snapshot of the root network namespace in $2" >&2
        ;;
    check)
        [[ $# -eq 2 ]] || usage
        [[ -f "$2" ]] || { echo "root-netns-guard: no snapshot $2" >&2; exit 2; }
        if state | diff -u --label "before ($2)" --label "now" "$2" - >&2; then
            echo "root-netns-guard: root network namespace unchanged" >&2
        else
            echo "root-netns-guard: ROOT NETWORK NAMESPACE CHANGED (diff above)" >&2
            exit 1
        fi
        ;;
    show)
        state
        ;;
    *) usage ;;
esac
