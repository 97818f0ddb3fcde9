#!/usr/bin/env bash
# The main job on the embedded (weights-free) classical profile: a real clip with scene
# cuts through the semantic encoder, the OFDM PHY (rate-1/2 convolutional code) and an
# AWGN channel, rebuilt by the decoder. Override with VIDEO=..., SNR=..., FEC=..., OUT=...
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/out/demo}"
SNR="${SNR:-10}"
FEC="${FEC:-cc}"
VIDEO="${VIDEO:-$(.venv/bin/python -c 'from lgvsc.samples import bikes_path; print(bikes_path())')}"
.venv/bin/lgvsc loopback "$VIDEO" --snr "$SNR" --fec "$FEC" --profile classical -o "$OUT"
echo
echo "Open $OUT/report.md (plots and sample frames) and $OUT/side_by_side.mp4 (source | reconstruction)."
