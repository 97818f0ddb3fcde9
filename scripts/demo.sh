#!/usr/bin/env bash
# The main job on the embedded (weights-free) classical profile: a real clip through
# the semantic encoder, the OFDM PHY and a noisy channel, rebuilt by the decoder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/out/demo}"
SNR="${SNR:-12}"
if [ -f python_ml/src/lgvsc/cli/loopback_cmd.py ]; then
    CLIP="$(.venv/bin/python -c 'from lgvsc.samples import carphone_path; print(carphone_path())')"
    .venv/bin/lgvsc loopback "$CLIP" --snr "$SNR" --profile classical -o "$OUT"
else
    scripts/demo_phy.sh
fi
