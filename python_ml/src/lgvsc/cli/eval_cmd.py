# SPDX-License-Identifier: GPL-3.0-or-later
"""``lgvsc eval VIDEO... -o OUTDIR``: the paper's comparisons with plots and a report (see docs/evaluation.md)."""

from __future__ import annotations

import argparse
import sys

from lgvsc.cli._profile_args import add_profile_arguments, profile_options
from lgvsc.errors import UserError

__all__ = ["add_parser", "run"]

_SCHEMES = ("lgvsc", "skim", "h264", "h265", "h264-matched", "h265-matched", "av1-matched", "text-only")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluate lgvsc against SKIM, H.264/H.265 (paper QP 51 and equal bytes), AV1 and text-only over a "
             "simulated link",
        description=(
            "For every video, scheme, SNR and seed: send the scheme's payload through the paper's 5G LDPC + QAM "
            "link (Sionna) over the chosen channel, rebuild the video and score it (PSNR, SSIM, MS-SSIM; CLIP "
            "score with --clip-model). Writes results.csv, summary.csv, metadata.json, plots/ and report.md "
            "into OUTDIR; computed cells are cached in OUTDIR/cells, so a rerun resumes."
        ),
    )
    p.add_argument("videos", nargs="*", metavar="VIDEO", help="video files or folders of videos")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder (created if missing)")
    p.add_argument("--snr", type=float, nargs="*", default=[0, 2, 4, 6, 8, 10],
                   help="channel SNRs, Es/N0 in dB (default 0 2 4 6 8 10)")
    p.add_argument("--schemes", nargs="*", default=list(_SCHEMES), metavar="SCHEME",
                   help=f"schemes to compare: {', '.join(_SCHEMES)} (default all)")
    p.add_argument("--channel", default="awgn", help="awgn (default), rayleigh, rayleigh-block, tdl-a .. tdl-e")
    p.add_argument("--transport", default="linksim",
                   help="linksim (Sionna link level, default) or phy (lgvsc and skim through the GNU Radio PHY "
                        "and channel via the loopback; H.26x PDUs through the same PHY)")
    p.add_argument("--phy", default="ofdm", help="phy transport: gr-lgvsc PHY, ofdm (default) or psk")
    p.add_argument("--fec", default="none", help="phy transport: PHY FEC, none (default) or cc; the MCS (--mcs) decides the code")
    p.add_argument("--mcs", default="auto",
                   help="phy transport: the MCS of every cell, auto (default: the highest paper preset whose "
                        "SNR <= the cell's SNR) or none, cc, paper-0dB .. paper-10dB (docs/PHY.md); PSK: none, cc, "
                        "paper-0dB .. paper-6dB, auto caps at paper-6dB")
    p.add_argument("--gr-python", default="/usr/bin/python3",
                   help="phy transport: the interpreter with GNU Radio and gr-lgvsc (default /usr/bin/python3)")
    p.add_argument("--loss", type=float, nargs="+", default=[0.0], metavar="RATE",
                   help="PDU loss rates after the link, a sweep (e.g. 0 0.1 0.3; default 0): i.i.d., or bursty "
                        "with --burst-loss")
    p.add_argument("--burst-loss", type=float, default=None, metavar="PDUS",
                   help="make the --loss sweep bursty: Gilbert-Elliott with this mean burst length in PDUs")
    p.add_argument("--design-snr", type=float, default=None,
                   help="choose the LDPC/QAM preset for this SNR at every channel SNR (cliff effect); "
                        "default: the preset of each channel SNR")
    p.add_argument("--seeds", type=int, default=1, help="channel realisations per cell (default 1)")
    p.add_argument("--h264-gop", type=int, default=None, help="H.264 GOP in frames (paper: 400, 80, 20; default 400)")
    p.add_argument("--h265-gop", type=int, default=None, help="H.265 GOP in frames (paper: 400, 50, 13; default 400)")
    p.add_argument("--width", type=int, default=576, help="normalised width (default 576)")
    p.add_argument("--height", type=int, default=320, help="normalised height (default 320)")
    p.add_argument("--fps", type=float, default=24.0, help="normalised frame rate (default 24)")
    p.add_argument("--max-frames", type=int, default=None, help="use at most this many frames of each video")
    p.add_argument("--clip-model", default=None, help="CLIP weights (local folder or hub id) for the CLIP score; "
                                                      "without it the CLIP score is reported unavailable")
    p.add_argument("--lpips-weights", nargs="+", default=None, metavar="PATH",
                   help="local LPIPS-VGG weights (files or folders): torchvision's VGG16 (features.*) and the "
                        "lpips package's heads (lin0..lin4); .safetensors, or .pth read tensors-only. "
                        "Without it LPIPS is reported unavailable")
    p.add_argument("--dists-weights", nargs="+", default=None, metavar="PATH",
                   help="local DISTS weights (files or folders): torchvision's VGG16 and DISTS alpha/beta; "
                        "without it DISTS is reported unavailable")
    p.add_argument("--perceptual-frames", type=int, default=16,
                   help="frames per clip scored by LPIPS/DISTS, evenly spaced (default 16)")
    p.add_argument("--num-iter", type=int, default=20, help="LDPC decoder iterations (default 20)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_profile_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lgvsc.evaluation.report import write_outputs
    from lgvsc.evaluation.runner import EvalConfig, find_videos, run_evaluation

    gops = {k: v for k, v in (("h264", args.h264_gop), ("h265", args.h265_gop)) if v is not None}
    if args.max_frames is not None and args.max_frames < 2:
        raise UserError("--max-frames must be >= 2")
    if args.threads is not None and args.threads < 1:
        raise UserError("--threads must be >= 1")
    config = EvalConfig(snrs=tuple(float(s) for s in args.snr), schemes=tuple(args.schemes), channel=args.channel,
                        losses=tuple(float(x) for x in args.loss), burst=args.burst_loss,
                        transport=args.transport, design_snr=args.design_snr, seeds=args.seeds,
                        profile=args.profile, profile_options=profile_options(args), width=args.width,
                        height=args.height, fps=args.fps, max_frames=args.max_frames, gops=gops,
                        num_iter=args.num_iter, clip_model=args.clip_model, threads=args.threads,
                        lpips_weights=tuple(args.lpips_weights) if args.lpips_weights else None,
                        dists_weights=tuple(args.dists_weights) if args.dists_weights else None,
                        perceptual_frames=args.perceptual_frames, phy=args.phy, fec=args.fec, mcs=args.mcs,
                        gr_python=args.gr_python)
    config.validate()  # before touching the videos: bad options fail fast
    videos = find_videos(args.videos)
    run_ = run_evaluation(videos, args.output, config, progress=not args.no_progress and sys.stderr.isatty())
    argv = sys.argv[2:] if len(sys.argv) > 2 and sys.argv[1] == "eval" else None
    paths = write_outputs(args.output, run_, config, argv)
    print(f"{len(run_.rows)} cells ({run_.computed} computed, {run_.cached} cached) in "
          f"{run_.timings.get('total', 0):.1f} s; report: {paths['report.md']}")
    return 0
