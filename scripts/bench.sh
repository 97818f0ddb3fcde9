#!/usr/bin/env bash
# Benchmarks (issue targets); each prints its ratios against a reference measured in the same
# run or the target it is held to. Not timed tests: numbers vary with machine load.
#   make bench              all of them
#   BENCH="phy bridge" make bench   a subset: phy bridge codec channel linksim eval
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/out/bench}"
mkdir -p "$OUT"
VPY="$ROOT/.venv/bin/python"
GRPY="${GR_PYTHON:-/usr/bin/python3}"
declare -A CMD=(
    [phy]="$GRPY bench/phy_loopback.py --out $OUT"
    [bridge]="$VPY bench/bridge.py"
    [codec]="$VPY bench/codec_throughput.py"
    [channel]="$VPY bench/channel_emulator.py"
    [linksim]="$VPY bench/linksim.py"
    [eval]="$VPY bench/eval_wall_time.py"
)
rc=0
for name in ${BENCH:-phy bridge codec channel linksim eval}; do
    [ -n "${CMD[$name]:-}" ] || { echo "unknown benchmark $name"; rc=1; continue; }
    echo "=== bench: $name  (${CMD[$name]})"
    ${CMD[$name]} || { echo "bench $name FAILED"; rc=1; }
done
exit $rc
