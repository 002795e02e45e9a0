#!/usr/bin/env bash
# The state a role-check case must leave unchanged (role_case.yml runs it inside the machine, before and after):
#
#   snapshot.sh ROOT ETC_UPPER
#
# the machine's network state (ROOT/scripts/root-netns-guard.sh show: links, addresses, routes, rules) and every
# entry of its /etc overlay's upper layer (type, mode, owner, size, mtime, path; sorted), where every write to /etc
# inside the machine lands. Read-only.
set -euo pipefail
[[ $# -eq 2 ]] || { sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
"$1/scripts/root-netns-guard.sh" show
echo "--- /etc overlay ---"
find "$2" -printf '%y %m %u %s %T@ %P\n' | LC_ALL=C sort
