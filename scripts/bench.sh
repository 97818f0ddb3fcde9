#!/usr/bin/env bash
# All benchmarks; each prints its ratios against a reference measured in the same run.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mkdir -p out/bench
rc=0
for b in bench/*.py; do
    echo "=== $b"
    # Radio-side benchmarks import GNU Radio: they run under the system python3.
    if grep -q "^from gnuradio\|^import gnuradio\|^    from gnuradio" "$b"; then py=/usr/bin/python3; else py=.venv/bin/python; fi
    "$py" "$b" --out out/bench || rc=1
done
exit $rc
