#!/usr/bin/env bash
# Print the skipped cases recorded in test logs: one line per skipped case, its reason.
#
#   scripts/skips.sh LOG...
#
# The one rule for "a skipped case" (scripts/test.sh and scripts/integration.sh both use it): a line that contains
# the marker `KVMNET-SKIP: <reason>` counts once, wherever it comes from:
#   - scripts/unit.sh prints `KVMNET-SKIP: <test id>: <pytest's reason>` for each skipped pytest case;
#   - an integration target, role or playbook prints it with a debug task whose msg starts with the marker, e.g.
#       - name: Say why the VLAN case does not run here
#         ansible.builtin.debug:
#           msg: "KVMNET-SKIP: module_bridge_port: VLAN filtering unsupported by this kernel ({{ reason }})"
#     which ansible shows as `"msg": "KVMNET-SKIP: ..."` (the quote and a trailing comma are stripped here);
#   - any script: `echo "KVMNET-SKIP: <reason>"`.
# Task headers (`TASK [... KVMNET-SKIP ...]`) do not count: ansible prints the name before the task runs, also when
# the task is then skipped by `when:`.
set -euo pipefail

(($#)) || { echo "usage: $0 LOG..." >&2; exit 2; }
sed -n -e '/^TASK \[/d' \
    -e 's/.*KVMNET-SKIP: \(.*\)$/\1/' \
    -e 't found' -e 'd' \
    -e ':found' -e 's/",\{0,1\}[[:space:]]*$//' -e 's/\\"/"/g' -e 'p' "$@"
