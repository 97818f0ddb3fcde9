#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: link-level simulation speed (information bits/s) for the paper's presets.

Each preset sends ``--blocks`` code blocks of random bits at its own design SNR over
AWGN (1 torch thread unless --threads) and prints information bits/s, channel
symbols/s and BLER. The reference row is the uncoded QPSK link (mapper + AWGN +
demapper only) over the same number of symbols, so the ratio shows what LDPC
encoding/decoding (20 iterations) costs.

Usage: .venv/bin/python bench/linksim.py [--blocks N] [--channel awgn|rayleigh|tdl-c]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
from lgvsc.linksim import PAPER_PRESETS, LinkConfig, LinkSimulator


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=32)
    ap.add_argument("--channel", default="awgn")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"# {args.blocks} code blocks per preset, channel {args.channel}, {args.threads} torch thread(s)")
    print(f"{'preset':12s} {'k':>5s} {'n':>5s} {'mod':>6s} {'info kbit/s':>12s} {'ksym/s':>9s} {'BLER':>6s}")
    for snr, cfg in sorted(PAPER_PRESETS.items()):
        sim = LinkSimulator(cfg, args.channel, batch_blocks=args.blocks)
        bits = rng.integers(0, 2, cfg.k * args.blocks)
        sim.run_bits(bits[: cfg.k], snr, seed=0)  # warm-up
        t0 = time.perf_counter()
        res = sim.run_bits(bits, snr, seed=1)
        dt = time.perf_counter() - t0
        print(f"{cfg.name:12s} {cfg.k:5d} {cfg.n:5d} {cfg.modulation:>6s} {res.num_bits / dt / 1e3:12.1f} "
              f"{res.num_channel_symbols / dt / 1e3:9.1f} {res.bler:6.3f}", flush=True)
    unc = LinkConfig.uncoded(9216)
    sim = LinkSimulator(unc, args.channel, batch_blocks=args.blocks)
    bits = rng.integers(0, 2, 9216 * args.blocks)
    sim.run_bits(bits[:9216], 4.0, seed=0)
    t0 = time.perf_counter()
    res = sim.run_bits(bits, 4.0, seed=1)
    dt = time.perf_counter() - t0
    print(f"{'uncoded-ref':12s} {9216:5d} {9216:5d} {'qpsk':>6s} {res.num_bits / dt / 1e3:12.1f} "
          f"{res.num_channel_symbols / dt / 1e3:9.1f} {'-':>6s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
