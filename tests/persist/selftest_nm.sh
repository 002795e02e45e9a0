#!/usr/bin/env bash
# Prove that tests/persist/validate_nm.py fails on broken keyfiles (a validator that cannot fail is no check).
#
#   tests/persist/selftest_nm.sh GOOD.nmconnection    run inside a machine with libnm (python3-gi, gir1.2-nm-1.0)
#
# From a file the validator accepts, makes broken copies in a temporary directory and requires, for each, exit 1
# and the expected words: a misspelt key (forward_delay=), a value libnm refuses (priority=70000), a timer outside
# NetworkManager's range (forward-delay=1), an invalid MAC, a broken group line, and mode 0644. Exit 0 when every
# broken copy was refused and the original passed.
set -euo pipefail

GOOD="${1:?usage: selftest_nm.sh GOOD.nmconnection}"
VALIDATE="$(dirname "${BASH_SOURCE[0]}")/validate_nm.py"
PYTHON=/usr/bin/python3
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT

"$PYTHON" "$VALIDATE" "$GOOD" >"$dir/out" || { cat "$dir/out"; echo "selftest_nm: $GOOD itself fails" >&2; exit 1; }

# broken NAME SED-SCRIPT EXPECTED [MODE]
broken() {
    local name="$1" script="$2" expected="$3" mode="${4:-0600}" file="$dir/$1.nmconnection"
    sed "$script" "$GOOD" >"$file"
    chmod "$mode" "$file"
    if cmp -s "$GOOD" "$file" && [[ "$mode" == 0600 ]]; then
        echo "selftest_nm: $name: the edit '$script' changed nothing in $GOOD" >&2
        exit 1
    fi
    if "$PYTHON" "$VALIDATE" "$file" >"$dir/out" 2>&1; then
        echo "selftest_nm: $name: the validator accepted a broken file:" >&2
        cat "$dir/out" >&2
        exit 1
    fi
    if ! grep -q -- "$expected" "$dir/out"; then
        echo "selftest_nm: $name: refused, but without '$expected':" >&2
        cat "$dir/out" >&2
        exit 1
    fi
    echo "selftest_nm: $name refused: $(head -n 1 "$dir/out")"
}

broken misspelt-key 's/^stp=/stpp=/' 'no such property of the bridge setting'
broken bad-value 's/^priority=.*/priority=70000/' 'out of range'
broken out-of-range-timer 's/^forward-delay=.*/forward-delay=1/' 'out of range <2-30>'
broken bad-mac 's/^cloned-mac-address=.*/cloned-mac-address=52:54:00:zz/' 'invalid MAC'
broken broken-group 's/^\[bridge\]$/[bridge/' 'key file syntax'
broken world-readable 's/^$//' 'mode 0644' 0644
