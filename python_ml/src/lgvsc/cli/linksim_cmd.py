# SPDX-License-Identifier: GPL-3.0-or-later
"""``lgvsc linksim``: a payload through 5G LDPC + QAM + a Sionna channel (see :mod:`lgvsc.linksim`)."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from lgvsc.errors import UserError

__all__ = ["add_parser", "run"]

_MAX_PAYLOAD = 64 * 1024 * 1024


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "linksim",
        help="link-level simulation: payload -> 5G LDPC -> QAM -> channel -> decoded payload",
        description=(
            "Send a payload through Sionna's 5G LDPC encoder/decoder, QAM mapper/demapper and a "
            "channel. SNR is Es/N0 per channel symbol (unit-energy constellation). The code and "
            "modulation come from --design-snr (the paper's table), --preset, or --k/--n/--modulation; "
            "--snr is the actual channel SNR (give several to sweep). Prints one JSON object per SNR."
        ),
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--input", "-i", help="payload file (bytes)")
    src.add_argument("--random-bits", type=int, default=None, help="send N random bits instead of a file")
    p.add_argument("--output", "-o", help="write the decoded payload here (only with one --snr)")
    code = p.add_argument_group("code and modulation")
    code.add_argument("--design-snr", type=float, default=None,
                      help="pick the paper's preset for this design SNR in dB (default: the channel SNR)")
    code.add_argument("--preset", default=None, help="paper preset by name, e.g. paper-4dB")
    code.add_argument("--k", type=int, default=None, help="custom: information bits per block")
    code.add_argument("--n", type=int, default=None, help="custom: coded bits per block")
    code.add_argument("--modulation", default="qpsk", help="custom: qpsk, 16qam, 64qam or 256qam")
    code.add_argument("--uncoded", action="store_true", help="no LDPC (bits straight onto symbols)")
    code.add_argument("--num-iter", type=int, default=20, help="LDPC decoder iterations")
    ch = p.add_argument_group("channel")
    ch.add_argument("--snr", type=float, nargs="+", required=True, help="channel Es/N0 in dB (one or more)")
    ch.add_argument("--channel", default="awgn",
                    help="awgn, rayleigh, rayleigh-block, tdl-a .. tdl-e, cdl-a .. cdl-e (default awgn)")
    ch.add_argument("--delay-spread", type=float, default=300e-9, help="TDL/CDL RMS delay spread [s]")
    ch.add_argument("--doppler", type=float, default=10.0, help="TDL/CDL maximum Doppler [Hz]")
    ch.add_argument("--carrier-frequency", type=float, default=3.5e9,
                    help="TDL/CDL carrier [Hz]: converts --doppler to the UT speed (default 3.5e9)")
    p.add_argument("--seed", type=int, default=0, help="random seed (noise, fading, random payload)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.set_defaults(func=run)


def _config(args, snr_db: float):
    from lgvsc.linksim import PAPER_PRESETS, LinkConfig, preset_for_design_snr

    try:
        if args.uncoded:
            return LinkConfig.uncoded(args.n or 9216, args.modulation)
        if args.k is not None or args.n is not None:
            if args.k is None or args.n is None:
                raise UserError("--k and --n go together")
            return LinkConfig(args.k, args.n, args.modulation, name="custom")
        if args.preset is not None:
            by_name = {c.name: c for c in PAPER_PRESETS.values()}
            if args.preset not in by_name:
                raise UserError(f"unknown preset {args.preset!r}; choose one of {', '.join(by_name)}")
            return by_name[args.preset]
        return preset_for_design_snr(args.design_snr if args.design_snr is not None else snr_db)
    except ValueError as exc:
        raise UserError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from lgvsc.linksim import LINK_CHANNELS, LinkSimulator

    if args.channel not in LINK_CHANNELS:
        raise UserError(f"unknown channel {args.channel!r}; choose one of {', '.join(LINK_CHANNELS)}")
    if any(not math.isfinite(s) for s in args.snr):
        raise UserError("--snr values must be finite numbers")
    if args.output and len(args.snr) != 1:
        raise UserError("--output needs exactly one --snr")
    if args.input:
        try:
            if os.path.getsize(args.input) > _MAX_PAYLOAD:
                raise UserError(f"{args.input}: larger than {_MAX_PAYLOAD} bytes")
            with open(args.input, "rb") as fh:
                payload = fh.read()
        except OSError as exc:
            raise UserError(f"cannot read {args.input}: {exc.strerror}") from exc
        bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
    else:
        nbits = args.random_bits if args.random_bits is not None else 8 * 1024
        if nbits <= 0 or nbits > 8 * _MAX_PAYLOAD:
            raise UserError(f"--random-bits must be in 1..{8 * _MAX_PAYLOAD}")
        bits = np.random.default_rng(args.seed).integers(0, 2, nbits, dtype=np.uint8)
    torch.set_num_threads(max(1, args.threads))
    for snr in args.snr:
        cfg = _config(args, snr)
        try:
            sim = LinkSimulator(cfg, args.channel, num_iter=args.num_iter,
                                delay_spread=args.delay_spread, doppler=args.doppler,
                                carrier_frequency=args.carrier_frequency)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        res = sim.run_bits(bits, snr, seed=args.seed)
        out = res.summary()
        out["preset"] = cfg.name
        print(json.dumps(out), flush=True)
        if args.output:
            if bits.size % 8:
                raise UserError("--output needs a whole number of bytes (use --input)")
            tmp = args.output + ".part"
            with open(tmp, "wb") as fh:
                fh.write(res.payload)
            os.replace(tmp, args.output)
    sys.stdout.flush()
    return 0
