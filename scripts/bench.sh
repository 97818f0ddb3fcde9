#!/usr/bin/env bash
# Benchmarks (issue targets); each prints its ratios against a reference measured in the same
# run or the target it is held to. Not timed tests: numbers vary with machine load.
#   make bench              all but memory and gpu
#   BENCH="phy bridge" make bench   a subset: phy per bridge codec quality channel linksim eval
#                                   control decmem memory gpu; memory (a 10-minute clip, ~45 min
#                                   on 2 cores) and gpu (--tiny on a CPU; run
#                                   bench/gpu_profile.py without it on a GPU machine) run only by name
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
    [per]="$GRPY bench/phy_per.py --out $OUT"
    [quality]="$VPY bench/quality_matched.py"
    [control]="$VPY bench/control_plane.py"
    [decmem]="$VPY bench/decoder_memory.py"
    [memory]="$VPY bench/memory_length.py"
    [gpu]="$VPY bench/gpu_profile.py --tiny"
)
rc=0
for name in ${BENCH:-phy per bridge codec quality channel linksim eval control decmem}; do
    [ -n "${CMD[$name]:-}" ] || { echo "unknown benchmark $name"; rc=1; continue; }
    echo "=== bench: $name  (${CMD[$name]})"
    ${CMD[$name]} || { echo "bench $name FAILED"; rc=1; }
done
exit $rc
