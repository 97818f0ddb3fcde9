# SPDX-License-Identifier: GPL-3.0-or-later
"""``lgvsc decode STREAM -o OUT.mp4``: semantic stream file -> video, with a concealment report."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from lgvsc.cli._profile_args import add_profile_arguments, profile_options
from lgvsc.errors import UserError

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "decode",
        help="decode a semantic stream into a video (full length, source frame rate, losses concealed)",
        description=(
            "Rebuild the video described by STREAM (binary or JSON): decode the keyframes and generate every "
            "segment between them (classical: optical-flow interpolation; hf: a first/last-frame video "
            "model). The output always has the source length and frame rate: lost keyframes are concealed "
            "from their neighbours, lost captions from the previous segment, and with no keyframe at all "
            "the frames are mid-grey. Prints what was concealed."
        ),
    )
    p.add_argument("stream", help="input stream file (from lgvsc encode)")
    p.add_argument("-o", "--output", required=True, help="output video (H.264 mp4)")
    p.add_argument("--report", help="also write the concealment report as JSON to this file")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality of the output file, 0..51 (default 18)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_profile_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lgvsc.cli.streamfile import read_stream_file_tolerant
    from lgvsc.decoder import SemanticDecoder, declare_keyframes
    from lgvsc.profiles import build_backends
    from lgvsc.video import VideoWriter, sigterm_as_exit

    if not 0 <= args.crf <= 51:
        raise UserError(f"--crf must lie in 0..51, got {args.crf}")
    from lgvsc.encoder import limit_native_heap

    limit_native_heap()  # peak RSS bounded whatever the length (lgvsc.encoder.limit_native_heap)
    stream, damaged = read_stream_file_tolerant(args.stream)
    for d in damaged:  # the file form's CRC-32: a damaged object is concealed like a lost one
        print(f"lgvsc decode: warning: {args.stream}: damaged {d.describe()}; concealed", file=sys.stderr)
    stream = declare_keyframes(stream, [d.frame_index for d in damaged if d.frame_index is not None])
    backends = build_backends(args.profile, keyframe_codec="webp", **profile_options(args))
    decoder = SemanticDecoder(backends.generator)
    try:
        report, frames = decoder.decode_iter(stream)
    except ValueError as exc:
        raise UserError(f"{args.stream}: cannot decode ({exc})") from exc
    v = stream.video
    if v.width % 2 or v.height % 2:
        raise UserError(f"{args.stream}: video size {v.width}x{v.height} is odd; H.264 output needs even sizes")
    show = not args.no_progress and sys.stderr.isatty()
    sigterm_as_exit()  # SIGTERM unwinds like Ctrl-C: the writer removes its .part file
    with VideoWriter(args.output, v.fps_fraction, crf=args.crf) as writer:
        for frame in tqdm(frames, total=v.num_frames, desc="decoding", unit="frame", disable=not show, leave=False):
            writer.write(frame)
    damage = f"; damaged objects concealed: {', '.join(d.describe() for d in damaged)}" if damaged else ""
    print(f"{args.output}: {report.summary()}{damage}")
    if args.report:
        from pathlib import Path

        doc = {**report.to_dict(), "damaged_objects": [vars(d) for d in damaged]}
        Path(args.report).write_text(json.dumps(doc, indent=2) + "\n")
    return 0
