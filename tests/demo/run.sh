#!/usr/bin/env bash
# The `make test` check of the built-in lab: runs `scripts/demo.sh` once (it builds the lab, runs the fleet playbook,
# observes, draws and removes the lab) and checks what a user would look at:
#   - the demo exits 0 and its report has exactly five PASS lines, (1) to (5), no FAIL line, and the total time;
#   - build/demo/topology.svg is SVG (XML) and topology.png a PNG of non-zero size, both written by this run;
#   - the picture shows the real topology of this run: the SVG names the tap, the guest's MAC and leased address, the
#     tap's MAC and eth0's MAC as the report's observations saw them (read from the report, not from the picture's
#     own source), and every machine and interface the lab is made of (kvmbr0, eth0, wlan0, router, internet);
#   - the lab is gone afterwards: no machine directory, no network namespace of its machines.
#
#   tests/demo/run.sh       (root; heavy: ~1 min warm; run it under `flock /tmp/kvmnet-heavy.lock`)
#
# Last line: "demo: passed" or "demo: FAILED: <reasons>"; exit status 0 or 1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
STATE="$ROOT/build/demo"
OUT="$ROOT/build/demo-test.log"

failed=()
fail() { echo "demo test: FAILED: $*" >&2; failed+=("$*"); }

start=$(date +%s)
rc=0
# KEEP from the caller's environment would leave the lab up and fail the last check: the test always cleans up
env -u KEEP scripts/demo.sh 2>&1 | tee "$OUT" || rc=$?
((rc == 0)) || fail "scripts/demo.sh exited $rc"

report="$STATE/report.txt"
if [[ ! -f "$report" ]]; then
    fail "no report ($report)"
    report=/dev/null
fi
for n in 1 2 3 4 5; do
    count=$(grep -c "^PASS ($n) " "$report" || true)
    [[ "$count" == 1 ]] || fail "observation ($n): $count PASS lines in the report (want 1)"
done
[[ "$(grep -c '^PASS (' "$report" || true)" == 5 ]] || fail "the report does not have exactly five PASS lines"
! grep -q '^FAIL (' "$report" || fail "the report has FAIL lines: $(grep '^FAIL (' "$report" | cut -c1-80)"
grep -Eq '^Total: [0-9.]+ s$' "$report" || fail "the report has no total time"
grep -Eq '^\[demo\] total [0-9.]+ s; demo passed$' "$OUT" || fail "the demo's last line is not its total and 'demo passed'"

# what the observations saw (the report's lines), to find in the picture
tap=$(sed -n 's/^PASS (1) .*: tap \(vnet[0-9]*\) \([0-9a-f:]*\) .*/\1/p' "$report")
tap_mac=$(sed -n 's/^PASS (1) .*: tap vnet[0-9]* \([0-9a-f:]*\) .*/\1/p' "$report")
guest_mac=$(sed -n 's/^PASS (1) .* <-> guest [a-z0-9]* \([0-9a-f:]*\) .*/\1/p' "$report")
lease=$(sed -n 's/^PASS (3) .*: dnsmasq lease \([0-9.]*\) .*/\1/p' "$report")
eth0_mac=$(sed -n 's/^PASS (4) .*: eth0 \([0-9a-f:]*\) .*/\1/p' "$report")
for v in tap tap_mac guest_mac lease eth0_mac; do
    [[ -n "${!v}" ]] || fail "could not read $v from the report"
done

svg="$STATE/topology.svg"
png="$STATE/topology.png"
for f in "$svg" "$png"; do
    if [[ ! -s "$f" ]]; then
        fail "$f missing or empty"
    elif (($(stat -c %Y "$f") < start)); then
        fail "$f is older than this run"
    fi
    grep -qF "$f" "$report" || fail "the report does not print the path $f"
done
if [[ -s "$png" ]]; then
    python3 - "$png" <<'PY' || fail "$png is not a PNG with a non-zero size"
import struct, sys
data = open(sys.argv[1], 'rb').read(32)
assert data[:8] == b'\x89PNG\r\n\x1a\n' and data[12:16] == b'IHDR', 'not a PNG'
width, height = struct.unpack('>II', data[16:24])
assert width > 0 and height > 0, 'empty PNG'
print('demo test: %s is a %dx%d PNG' % (sys.argv[1], width, height))
PY
fi
if [[ -s "$svg" ]]; then
    # the SVG's text, entities decoded: the names and addresses drawn
    text=$(python3 - "$svg" <<'PY'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
print('\n'.join(''.join(e.itertext()) for e in root.iter('{http://www.w3.org/2000/svg}text')))
PY
    ) || { fail "$svg is not well-formed SVG"; text=""; }
    for want in "$tap" "$tap_mac" "$guest_mac" "$lease" "$eth0_mac" kvmbr0 eth0 wlan0 router internet laptop; do
        [[ -z "$want" ]] || grep -qF -- "$want" <<<"$text" || fail "the picture does not show $want"
    done
fi

# the lab is gone
[[ ! -d "$STATE/machines" ]] || fail "the lab's machines are still there ($STATE/machines)"
netns=$(sed -n 's/^Machines (.*): //p' "$report" | grep -o 'kvmnet-m-[a-z0-9-]*' || true)
[[ -n "$netns" ]] || fail "the report names no network namespace of the lab's machines"
for ns in $netns; do
    ! ip netns list | awk '{print $1}' | grep -qxF "$ns" || fail "network namespace $ns of the lab is left"
done

if ((${#failed[@]})); then
    echo "demo: FAILED: ${failed[*]}"
    exit 1
fi
echo "demo: passed (five PASS lines; the picture names $tap $tap_mac, guest $guest_mac $lease, eth0 $eth0_mac)"
