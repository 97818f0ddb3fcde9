# SPDX-License-Identifier: GPL-3.0-or-later
"""``lgvsc channel``: streaming Sionna channel emulator between two flowgraphs (ZeroMQ IQ)."""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading

from lgvsc.errors import UserError

__all__ = ["add_parser", "run"]


def _snr(text: str) -> float | None:
    if text.lower() in ("inf", "none", "off"):
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of dB: {text!r}") from exc
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number of dB: {text!r}")
    return value


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "channel",
        help="streaming channel emulator: gr-zeromq IQ in -> Sionna fading/noise -> IQ out",
        description=(
            "Receive complex64 IQ from a gr-zeromq stream sink (--in, connected), apply a Sionna channel "
            "(fading, CFO, AWGN) and send it to a gr-zeromq stream source (--out, bound). SNR is Es/N0 per "
            "sample: Es is the mean power of the non-zero input samples (exponential window), or "
            "--ref-power if given. Fading is continuous: the impulse response is evaluated every "
            "--update-interval samples and interpolated linearly. See docs/channels.md."
        ),
    )
    p.add_argument("--model", default="awgn",
                   help="awgn, rayleigh, rician, tdl-a..tdl-e, tdl-a30, tdl-b100, tdl-c300, ..., cdl-a..cdl-e "
                        "(default awgn)")
    p.add_argument("--snr", type=_snr, required=True, help="Es/N0 per sample in dB ('inf' for no noise)")
    p.add_argument("--doppler", type=float, default=0.0, help="maximum Doppler shift [Hz] (fading models)")
    p.add_argument("--delay-spread", type=float, default=None, help="RMS delay spread [s] (tdl-a..e, cdl-a..e, default 100e-9)")
    p.add_argument("--carrier-frequency", type=float, default=3.5e9,
                   help="carrier [Hz] for tdl/cdl: converts --doppler to the UT speed (default 3.5e9)")
    p.add_argument("--k-factor", type=float, default=10.0, help="Rician K factor [dB] (rician)")
    p.add_argument("--sample-rate", type=float, default=1e6, help="stream sample rate [Hz] (default 1e6)")
    p.add_argument("--cfo", type=float, default=0.0, help="carrier frequency offset [Hz]")
    p.add_argument("--update-interval", type=int, default=100, help="samples between CIR updates (default 100)")
    p.add_argument("--interpolation", choices=("linear", "hold"), default="linear",
                   help="CIR between updates (default linear)")
    p.add_argument("--ref-power", type=float, default=None,
                   help="fixed reference signal power Es (default: measured on non-zero input samples)")
    p.add_argument("--power-window", type=int, default=100_000, help="measured-power window [active samples]")
    p.add_argument("--in", dest="in_endpoint", default="tcp://127.0.0.1:5560",
                   help="endpoint of the TX zeromq sink to connect to (default tcp://127.0.0.1:5560)")
    p.add_argument("--out", dest="out_endpoint", default="tcp://127.0.0.1:5561",
                   help="endpoint to bind for the RX zeromq source (default tcp://127.0.0.1:5561)")
    p.add_argument("--in-socket", choices=("pull", "sub"), default="pull", help="pull (push_sink) or sub (pub_sink)")
    p.add_argument("--out-socket", choices=("push", "pub"), default="push",
                   help="push (for pull_source) or pub (for sub_source)")
    p.add_argument("--tag-header", action="store_true",
                   help="input frames carry the gr-zeromq tag header (TX sink has Pass Tags on); tags are dropped")
    p.add_argument("--max-pending", type=int, default=64, help="output queue bound in blocks (oldest dropped)")
    p.add_argument("--seed", type=int, default=0, help="seed of fading and noise (same seed, same channel)")
    p.add_argument("--max-samples", type=int, default=None, help="exit after this many input samples")
    p.add_argument("--idle-timeout", type=float, default=None, help="exit after this many seconds without input")
    p.add_argument("--stats-interval", type=float, default=10.0, help="log statistics every S seconds (-v)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.set_defaults(func=run)


def build(args: argparse.Namespace):
    """The emulator for parsed arguments (raises UserError on bad parameters)."""
    import torch
    from sionna.phy import config as sn_config

    from lgvsc.channels.emulator import ChannelEmulator
    from lgvsc.channels.models import ChannelSpec, StreamingChannel
    from lgvsc.channels.noise import StreamingNoise

    torch.set_num_threads(max(1, args.threads))
    if args.seed < 0:
        raise UserError("--seed must be >= 0")
    sn_config.seed = args.seed + 1  # noise; the fading uses its own generator seeded with --seed
    try:
        spec = ChannelSpec(model=args.model, sample_rate=args.sample_rate, doppler=args.doppler,
                           delay_spread=args.delay_spread, k_factor_db=args.k_factor, cfo=args.cfo,
                           carrier_frequency=args.carrier_frequency,
                           update_interval=args.update_interval, interpolation=args.interpolation,
                           seed=args.seed)
        channel = StreamingChannel(spec)
        noise = StreamingNoise(args.snr, args.ref_power, args.power_window)
        return ChannelEmulator(channel, noise, args.in_endpoint, args.out_endpoint, in_socket=args.in_socket,
                               out_socket=args.out_socket, tag_header=args.tag_header,
                               max_pending=args.max_pending)
    except ValueError as exc:
        raise UserError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    emu = build(args)
    stop = threading.Event()

    def _stop(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    ch = emu.channel

    def _ready():
        print(json.dumps({"event": "ready", "model": ch.spec.model, "in": args.in_endpoint,
                          "out": args.out_endpoint, "latency_samples": ch.latency, "taps": ch.num_taps}), flush=True)

    try:
        stats = emu.run(stop, max_samples=args.max_samples, idle_timeout=args.idle_timeout,
                        stats_interval=args.stats_interval, on_ready=_ready)
    except OSError as exc:
        raise UserError(str(exc)) from exc
    print(json.dumps({"event": "stats", **stats}), flush=True)
    sys.stdout.flush()
    return 0
