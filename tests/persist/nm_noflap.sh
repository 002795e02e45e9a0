#!/usr/bin/env bash
# Check an `ip -ts monitor link` log for a flap of the bridge while NetworkManager took it over.
#
#   tests/persist/nm_noflap.sh LOG BRIDGE PORT [PIDFILE]
#
# LOG is what `ip -ts monitor link` printed from before converge on (molecule.yml's kvmnet_setup starts it). From the
# first event that shows PORT in BRIDGE (the role's apply phase enslaving it over netlink) on, fails (exit 1, the
# offending lines on stderr) when PORT leaves BRIDGE (a `Deleted N: PORT: ... master BRIDGE` event: NetworkManager
# released the port), when BRIDGE shows another ifindex (re-created), or when BRIDGE loses carrier after it had it
# with the port in (NO-CARRIER after LOWER_UP). Exit 1 too when the port never joined (a check that saw nothing).
# With PIDFILE, the monitor named there is stopped first. Prints the number of events checked.
set -euo pipefail

LOG="${1:?usage: nm_noflap.sh LOG BRIDGE PORT [PIDFILE]}" BRIDGE="${2:?}" PORT="${3:?}" PIDFILE="${4:-}"
if [[ -n "$PIDFILE" && -s "$PIDFILE" ]]; then
    pid="$(cat "$PIDFILE")"
    # only the monitor that kvmnet_setup started (the PID file is the machine's: its own PID namespace)
    if [[ "$pid" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '^ip -ts monitor link'; then
        kill "$pid"
    fi
    rm -f "$PIDFILE"
fi
[[ -r "$LOG" ]] || { echo "nm_noflap: no monitor log $LOG" >&2; exit 1; }

awk -v br="$BRIDGE" -v port="$PORT" '
    # event lines: "[TIMESTAMP] [Deleted ]INDEX: NAME[@PEER]: <FLAGS> ..."
    /^\[/ {
        line = $0
        deleted = (index(line, "] Deleted ") > 0)
        sub(/^\[[^]]*\] (Deleted )?/, "", line)
        split(line, word, ": ")
        ifindex = word[1]; name = word[2]; sub(/@.*/, "", name)
        if (!joined) {
            if (name == port && !deleted && index($0, " master " br " ")) { joined = 1 }
            next
        }
        events++
        if (name == port && deleted && index($0, " master " br " ")) { bad = bad "\n  port released: " $0 }
        if (name == br) {
            if (deleted) { bad = bad "\n  bridge deleted: " $0 }
            if (brindex == "") { brindex = ifindex } else if (ifindex != brindex) { bad = bad "\n  new ifindex: " $0 }
            lost = (index($0, "NO-CARRIER") > 0)
            if (!lost && index($0, "LOWER_UP")) { carrier = 1 }
            else if (carrier && lost) { bad = bad "\n  bridge lost carrier: " $0 }
        }
    }
    END {
        if (!joined) { print "nm_noflap: " port " never joined " br " in the log: nothing was checked" > "/dev/stderr"; exit 1 }
        if (bad != "") { print "nm_noflap: " br " flapped after " port " joined it:" bad > "/dev/stderr"; exit 1 }
        printf "nm_noflap: %d link events after %s joined %s, no release, no carrier loss, one ifindex\n", events, port, br
    }' "$LOG"
