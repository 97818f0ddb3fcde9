#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: ``lgvsc channel`` throughput end to end through ZeroMQ on this machine.

For each model the emulator runs as its own process (1 torch thread); a pyzmq TX
(PUSH, bind, like gr-zeromq push_sink) streams complex64 blocks and a pyzmq RX
(PULL, connect, like pull_source) receives them. Throughput = samples / (time from
first send to last receive), printed in MS/s and as a ratio to a 1 MS/s real-time
stream. Also printed: the in-process (no socket) rate of the same channel, Sionna's
per-sample TDL-C and CDL-C reference rates, and the NMSE of the CIR update interval
against the per-sample channel (TDL-C and CDL-C).

Targets: AWGN and flat Rayleigh >= 5x real time, TDL-C (and CDL-C) >= 1x with continuous fading.

Usage: .venv/bin/python bench/channel_emulator.py [--samples N] [--block N]
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
import zmq

LGVSC = str(Path(sys.executable).parent / "lgvsc")
MODELS = {
    "awgn": [],
    "rayleigh": ["--doppler", "100"],
    "tdl-c": ["--doppler", "100", "--delay-spread", "300e-9"],
    "cdl-c": ["--doppler", "100", "--delay-spread", "300e-9"],
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def end_to_end(model: str, extra: list[str], total: int, block: int) -> float:
    pin, pout = _port(), _port()
    ctx = zmq.Context()
    tx = ctx.socket(zmq.PUSH)
    tx.bind(f"tcp://127.0.0.1:{pin}")
    proc = subprocess.Popen([LGVSC, "channel", "--model", model, "--snr", "10", "--sample-rate", "1e6",
                             "--in", f"tcp://127.0.0.1:{pin}", "--out", f"tcp://127.0.0.1:{pout}",
                             "--max-pending", "100000", *extra],
                            stdout=subprocess.PIPE, text=True)
    json.loads(proc.stdout.readline())
    rx = ctx.socket(zmq.PULL)
    rx.setsockopt(zmq.RCVTIMEO, 60_000)
    rx.connect(f"tcp://127.0.0.1:{pout}")
    time.sleep(0.3)
    r = np.random.default_rng(0)
    x = ((r.standard_normal(block) + 1j * r.standard_normal(block)) / math.sqrt(2)).astype(np.complex64).tobytes()
    # warm up (first call builds Sionna blocks)
    tx.send(x)
    rx.recv()
    n_blocks = total // block

    def sender():
        for _ in range(n_blocks):
            tx.send(x)

    t0 = time.perf_counter()
    th = threading.Thread(target=sender)
    th.start()
    got = 0
    while got < n_blocks * block:
        got += len(rx.recv()) // 8
    dt = time.perf_counter() - t0
    th.join()
    proc.terminate()
    proc.wait(20)
    tx.close(0)
    rx.close(0)
    ctx.term()
    return got / dt


def in_process(model: str, extra: list[str], total: int, block: int) -> float:
    from lgvsc.channels.emulator import ChannelEmulator
    from lgvsc.channels.models import ChannelSpec, StreamingChannel
    from lgvsc.channels.noise import StreamingNoise

    kw = {"doppler": 100.0} if model != "awgn" else {}
    if model in ("tdl-c", "cdl-c"):
        kw["delay_spread"] = 300e-9
    emu = ChannelEmulator(StreamingChannel(ChannelSpec(model, sample_rate=1e6, **kw)), StreamingNoise(10.0),
                          "tcp://127.0.0.1:1", "tcp://127.0.0.1:2")
    x = np.ones(block, np.complex64)
    emu.process(x)
    t0 = time.perf_counter()
    for _ in range(total // block):
        emu.process(x)
    return (total // block) * block / (time.perf_counter() - t0)


def sionna_per_sample_tdl_c(n: int = 20_000) -> float:
    from sionna.phy.channel import (
        ApplyTimeChannel,
        cir_to_time_channel,
        time_lag_discrete_time_channel,
    )
    from sionna.phy.channel.tr38901 import TDL

    fs = 1e6
    tdl = TDL("C", delay_spread=300e-9, carrier_frequency=3.5e9, min_speed=8.6, max_speed=8.6)
    l_min, l_max = time_lag_discrete_time_channel(fs, 300e-9 * 8.6523)
    apply = ApplyTimeChannel(n, l_max - l_min + 1)
    x = torch.ones(1, 1, 1, n, dtype=torch.complex64)
    t0 = time.perf_counter()
    a, tau = tdl(1, n + l_max - l_min, fs)
    h = cir_to_time_channel(fs, a, tau, l_min, l_max)
    apply(x, h)
    return n / (time.perf_counter() - t0)


def sionna_per_sample_cdl_c(n: int = 20_000) -> float:
    from lgvsc.channels.cdl import make_sionna_cdl
    from sionna.phy.channel import (
        ApplyTimeChannel,
        cir_to_time_channel,
        time_lag_discrete_time_channel,
    )

    fs = 1e6
    cdl = make_sionna_cdl("C", 300e-9, 3.5e9, 100.0)
    l_min, l_max = time_lag_discrete_time_channel(fs, 300e-9 * 8.6523)
    apply = ApplyTimeChannel(n, l_max - l_min + 1)
    x = torch.ones(1, 1, 1, n, dtype=torch.complex64)
    t0 = time.perf_counter()
    a, tau = cdl(1, n + l_max - l_min, fs)
    h = cir_to_time_channel(fs, a, tau, l_min, l_max)
    apply(x, h)
    return n / (time.perf_counter() - t0)


def update_error_db(interval: int, interp: str, doppler: float = 100.0, n: int = 20_000,
                    model: str = "tdl-c") -> float:
    from lgvsc.channels.models import ChannelSpec, StreamingChannel

    ch = StreamingChannel(ChannelSpec(model, sample_rate=1e6, doppler=doppler, delay_spread=300e-9, seed=1,
                                      update_interval=interval, interpolation=interp))
    r = np.random.default_rng(1)
    x = ((r.standard_normal(n) + 1j * r.standard_normal(n)) / math.sqrt(2)).astype(np.complex64)
    y = ch.process(x)
    taps = ch.cir_at(torch.arange(n, dtype=torch.float64)).numpy()
    xe = np.concatenate([np.zeros(ch.num_taps - 1, np.complex64), x])
    win = np.lib.stride_tricks.sliding_window_view(xe, ch.num_taps)[:, ::-1]
    ref = np.einsum("nl,nl->n", taps, win)
    return 10 * math.log10(np.mean(np.abs(y - ref) ** 2) / np.mean(np.abs(ref) ** 2))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=4_000_000)
    ap.add_argument("--block", type=int, default=16384)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"# {args.samples} samples in blocks of {args.block}; reference: 1 MS/s real time")
    print(f"{'model':10s} {'end-to-end MS/s':>16s} {'x real time':>12s} {'in-process MS/s':>16s}")
    for model, extra in MODELS.items():
        e2e = end_to_end(model, extra, args.samples, args.block)
        inp = in_process(model, extra, min(args.samples, 2_000_000), args.block)
        print(f"{model:10s} {e2e / 1e6:16.2f} {e2e / 1e6:12.2f} {inp / 1e6:16.2f}", flush=True)
    ref = sionna_per_sample_tdl_c()
    print(f"Sionna TDL-C with a per-sample CIR (TDL + cir_to_time_channel + ApplyTimeChannel): {ref / 1e6:.3f} MS/s")
    ref = sionna_per_sample_cdl_c()
    print(f"Sionna CDL-C with a per-sample CIR (CDL + cir_to_time_channel + ApplyTimeChannel): {ref / 1e6:.3f} MS/s")
    for model in ("tdl-c", "cdl-c"):
        print(f"CIR update error vs per-sample channel, {model.upper()} 300 ns, 1 MS/s, Doppler 100 Hz (NMSE):")
        for interval in (10, 100, 1000):
            for interp in ("linear", "hold"):
                err = update_error_db(interval, interp, model=model)
                print(f"  every {interval:5d} samples, {interp:6s}: {err:7.1f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
