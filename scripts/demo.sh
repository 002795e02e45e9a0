#!/usr/bin/env bash
# `make demo`: the built-in lab. A thin wrapper over the lab's playbooks (docs/lab.md):
#
#   scripts/demo.sh            bootstrap, then playbooks/lab.yml: namespace machines internet, router (dnsmasq) and
#                              laptop (own uplink wlan0, wired eth0 on the router's LAN, libvirtd, a tiny guest), the
#                              fleet playbook kvmnet.bridge.kvm_bridge against the laptop, the five observations,
#                              the picture; then playbooks/lab_destroy.yml removes the lab (also after a failure or
#                              Ctrl-C). Exit status: the lab's (non-zero when an observation fails).
#   KEEP=1 scripts/demo.sh     keep the lab afterwards, to look around (see docs/lab.md), then:
#   scripts/demo.sh clean      remove it (playbooks/lab_destroy.yml; `make demo-clean`)
#   scripts/demo.sh [clean] ANSIBLE-PLAYBOOK-OPTIONS...   passed to both playbooks, e.g. -v, or -e with a variable of
#                              tests/lab/demo/vars.yml (-e lab_guest_cache=DIR: build the guest afresh in DIR)
#
# Root, this machine's kind (Debian 12). Nothing happens in the root network namespace: the machines have their own
# namespaces (tests/machines/machine.sh); scripts/root-netns-guard.sh proves the root namespace unchanged at the end.
# The report, the picture and the full Ansible log stay in build/demo/ (report.txt, topology.{dot,svg,png}, lab.log).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

STATE="$ROOT/build/demo"
INVENTORY="$STATE/inventory.yml"
usage() { echo "usage: $0 [clean] [ANSIBLE-PLAYBOOK-OPTIONS...]   (KEEP=1 $0 keeps the lab)" >&2; exit 2; }
ACTION=run
if [[ "${1:-}" == clean ]]; then
    ACTION=clean
    shift
fi
[[ $# -eq 0 || "$1" == -* ]] || usage
OPTIONS=("$@")
[[ $(id -u) -eq 0 ]] || { echo "demo: needs root (namespaces, libvirtd, QEMU)" >&2; exit 1; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }
say() { printf '[demo] %s\n' "$*"; }

# The lab runs on its own copy of the collection (build/demo/collection, made from scripts/collection-tree.sh's copy
# at the start), so a build/ansible_collections refreshed by another run meanwhile cannot change it under the lab.
export ANSIBLE_COLLECTIONS_PATH="$STATE/collection:$ROOT/build/collections"
export ANSIBLE_CALLBACK_RESULT_FORMAT=yaml ANSIBLE_DISPLAY_SKIPPED_HOSTS=false
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_RETRY_FILES_ENABLED=false
[[ -t 1 ]] || export ANSIBLE_NOCOLOR=1

# playbook NAME: ansible-playbook -i the lab's inventory playbooks/NAME, its output to the terminal and to LOG
LOG="$STATE/lab.log"
playbook() {
    "$ROOT/.venv/bin/ansible-playbook" -i "$INVENTORY" "${OPTIONS[@]}" "$ROOT/playbooks/$1" 2>&1 | tee -a "$LOG"
}

T0=$(now)
mkdir -p "$STATE"
if [[ "$ACTION" == clean ]]; then
    LOG="$STATE/lab-destroy.log"  # (lab.log stays: the kept run's output)
    : >"$LOG"
    [[ -f "$INVENTORY" ]] || printf '# no lab is up\nall: {}\n' >"$INVENTORY"
    playbook lab_destroy.yml >/dev/null || { echo "demo clean: FAILED (see $LOG)" >&2; exit 1; }
    rm -rf "$STATE/collection"
    say "lab removed in $(since "$T0") s"
    exit 0
fi

# a kept or interrupted lab: refuse before the cleanup trap exists (it would remove that lab)
if [[ -d "$STATE/machines" ]]; then
    echo "demo: a lab exists in $STATE/machines (kept with KEEP=1, or interrupted): remove it first with" \
        "scripts/demo.sh clean (make demo-clean)" >&2
    exit 1
fi

t=$(now)
scripts/bootstrap.sh
src="$(scripts/collection-tree.sh)"
rm -rf "$STATE/collection"
mkdir -p "$STATE/collection/ansible_collections/kvmnet"
cp -a "$src" "$STATE/collection/ansible_collections/kvmnet/bridge"
say "bootstrap and collection copy: $(since "$t") s"

: >"$LOG"
# the lab writes its inventory during the run; until then an empty one (no parse warning)
[[ -f "$INVENTORY" ]] || printf '# no lab is up\nall: {}\n' >"$INVENTORY"
rm -f "$STATE/report.txt" "$STATE"/topology.*
GUARD="$STATE/root-netns.json"
scripts/root-netns-guard.sh snapshot "$GUARD"

finish() {
    local rc=$? t
    trap - EXIT INT TERM
    if [[ -n "${KEEP:-}" && "${KEEP}" != 0 ]]; then
        say "KEEP=1: the lab stays up (machines in $STATE/machines, inventory $INVENTORY); remove it with" \
            "scripts/demo.sh clean (make demo-clean)"
    else
        t=$(now)
        if playbook lab_destroy.yml >/dev/null; then
            rm -rf "$STATE/collection"
            say "lab removed in $(since "$t") s"
        else
            say "removing the lab FAILED (see $LOG); try again: scripts/demo.sh clean"
            rc=1
        fi
    fi
    if ! scripts/root-netns-guard.sh check "$GUARD"; then
        say "the root network namespace changed (diff above)"
        rc=1
    fi
    rm -f "$GUARD"
    if [[ -f "$STATE/report.txt" ]]; then
        echo
        cat "$STATE/report.txt"
    fi
    echo
    say "full log: $LOG"
    say "total $(since "$T0") s; $( ((rc == 0)) && echo "demo passed" || echo "demo FAILED (exit $rc)")"
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# pipefail: the playbook's status, not tee's
playbook lab.yml
