# SPDX-License-Identifier: GPL-3.0-or-later
"""``lgvsc loopback VIDEO --snr DB -o OUTDIR``: the main job, end to end through a GNU Radio PHY."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "loopback",
        help="send a video through the semantic encoder, a GNU Radio PHY and a channel, and rebuild it",
        description=(
            "Starts the encoder and decoder workers (this venv) and the radio flowgraph (the system python3 "
            "with GNU Radio) as real processes joined by ZeroMQ on 127.0.0.1, runs VIDEO through them and "
            "writes to OUTDIR: reconstruction.mp4, side_by_side.mp4, stream.json, report.md (CBR, packets, "
            "concealment, PSNR/SSIM, timings) with plots. Ctrl-C stops every process cleanly. Exit status: 0 done; "
            "2 bad option or input, or a worker that died, stopped answering or made no progress; 3 the radio "
            "link failed (flowgraph or channel emulator); 130 interrupted."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("video", type=Path, help="input video (anything FFmpeg reads)")
    p.add_argument("-o", "--out-dir", type=Path, required=True, help="output folder")
    p.add_argument("--snr", type=float, default=12.0, help="channel SNR in dB: Es/N0 per data subcarrier (OFDM; per symbol for PSK), the paper's convention "
                   "(docs/PHY.md)")
    p.add_argument("--channel", default="awgn",
                   help="awgn (GNU Radio channel model in the flowgraph) or a Sionna model run by `lgvsc channel`: "
                        "rayleigh, rician, tdl-a .. tdl-e, cdl-a .. cdl-e")
    p.add_argument("--doppler", type=float, default=10.0, help="maximum Doppler shift in Hz (fading channels)")
    p.add_argument("--freq-offset", type=float, default=0.0,
                   help="carrier frequency offset in Hz (awgn channel in the flowgraph; Sionna channels take it as --cfo)")
    p.add_argument("--phy", choices=("ofdm", "psk"), default="ofdm", help="PHY hier blocks to use")
    p.add_argument("--fec", choices=("none", "cc"), default="none",
                   help="FEC on the payload: none, or cc (gr-fec rate-1/2 convolutional code, soft decisions)")
    p.add_argument("--mcs", default="",
                   help="modulation and coding scheme, overrides --fec: auto (the highest paper preset whose "
                        "SNR <= the channel's), none, cc, paper-0dB, paper-2dB, paper-4dB, paper-6dB, paper-8dB, "
                        "paper-10dB (docs/PHY.md); the PSK PHY takes none, cc, paper-0dB..paper-6dB (auto caps "
                        "at paper-6dB)")
    p.add_argument("--mtu", type=int, default=1200, help="largest semantic PDU in bytes")
    p.add_argument("--samp-rate", type=float, default=1e6, help="sample rate in samples/s (air time, Doppler)")
    p.add_argument("--drop-every", type=int, default=0,
                   help="drop every Nth PDU on purpose before the PHY (loss tests); 0 drops none")
    p.add_argument("--profile", choices=("classical", "hf"), default="classical",
                   help="backends: classical (weights-free) or hf (Hugging Face models, see docs/models.md)")
    p.add_argument("--method", choices=("skem", "skim"), default="skem", help="keyframe selection")
    p.add_argument("--threshold", type=float, default=0.35, help="SKEM S_rel threshold")
    p.add_argument("--focus", choices=("general", "main object", "background"), default="general",
                   help="PSSS semantic focus")
    p.add_argument("--target-cbr", type=float, default=None,
                   help="paper CBR the encoder sizes keyframes for (default: the encoder's, 6e-4); with --mcs at "
                        "that MCS's modulation and code rate, else in the encoder's QPSK rate-1/2 units")
    p.add_argument("--width", type=int, default=576, help="normalised width")
    p.add_argument("--height", type=int, default=320, help="normalised height")
    p.add_argument("--fps", type=float, default=24.0, help="normalised frame rate")
    p.add_argument("--seed", type=int, default=1, help="channel seed (Sionna channels)")
    p.add_argument("--gr-python", default="/usr/bin/python3", help="the interpreter that has GNU Radio")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="give up when a stage (encode, on air, decode) makes no progress for this many seconds; "
                        "a dead worker is reported within seconds whatever this is (docs/architecture.md)")
    p.add_argument("--respawn", type=int, default=0, metavar="N",
                   help="respawn a dead encoder or decoder worker up to N times each on its own endpoints "
                        "(default 0: a dead worker ends the run, exit 2; docs/hardening.md)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lgvsc.accounting import encoder_target_cbr
    from lgvsc.encoder import DEFAULT_TARGET_CBR
    from lgvsc.loopback import LoopbackConfig, run_loopback
    from lgvsc.loopback_report import loopback_mcs, loopback_rate

    cfg = LoopbackConfig(
        video=args.video, out_dir=args.out_dir, snr_db=args.snr, channel=args.channel, phy=args.phy,
        fec=args.fec, mcs=args.mcs, profile=args.profile, mtu=args.mtu, width=args.width, height=args.height, fps=args.fps,
        method=args.method, threshold=args.threshold, focus=args.focus, target_cbr=args.target_cbr,
        freq_offset=args.freq_offset, doppler_hz=args.doppler, drop_every=args.drop_every, seed=args.seed,
        samp_rate=args.samp_rate, gr_python=args.gr_python, timeout_s=args.timeout, progress=not args.no_progress,
        respawn=args.respawn,
    )
    cfg.validate()  # every option, before any process starts (the messages of `lgvsc encode`)
    if cfg.mcs:  # auto resolved here: the byte budget, the PHY and the report use one MCS (docs/PHY.md)
        cfg.mcs = loopback_mcs(cfg)
        target = DEFAULT_TARGET_CBR if args.target_cbr is None else args.target_cbr
        cfg.target_cbr = encoder_target_cbr(target, *loopback_rate(cfg))
        print(f"lgvsc loopback: MCS {cfg.mcs}, encoder budget for paper CBR {target:g}", file=sys.stderr)
    print(f"lgvsc loopback: {args.video} -> {args.phy.upper()} PHY, {args.channel} {args.snr:g} dB -> {args.out_dir}",
          file=sys.stderr)
    res = run_loopback(cfg)
    q, c = res.quality, res.cbr
    print(f"frames: {res.decoder.get('num_frames')}  PSNR {q.get('psnr_mean_db', float('nan')):.2f} dB  "
          f"SSIM {q.get('ssim_mean', float('nan')):.3f}  CBR(paper) {c.get('cbr_paper', float('nan')):.3g}  "
          f"PDUs tx/rx {res.link.get('tx_pdus')}/{res.link.get('rx_ok')}")
    print("outputs:")
    for name, path in res.files.items():
        print(f"  {name:22s} {path}")
    return 0
