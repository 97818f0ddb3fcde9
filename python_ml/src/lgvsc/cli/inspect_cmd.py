# SPDX-License-Identifier: GPL-3.0-or-later
"""``lgvsc inspect STREAM``: print a semantic stream as JSON."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="print a semantic stream file as JSON",
        description=(
            "Print STREAM (binary or JSON) as JSON on stdout: video info, how it was made (method, focus, "
            "threshold, profile), keyframes (frame index, codec, coded size, bytes) and segments (frames, "
            "caption, motion score), plus its binary size and CBR with QPSK rate 1/2."
        ),
    )
    p.add_argument("stream", help="stream file (from lgvsc encode)")
    p.add_argument("--data", action="store_true", help="include the keyframe data in base64")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from lgvsc.accounting import cbr_for_bits
    from lgvsc.cli.streamfile import read_stream_file
    from lgvsc.wire import stream_to_bytes

    stream = read_stream_file(args.stream)
    d = stream.to_dict(include_data=args.data)
    size = len(stream_to_bytes(stream))
    d["binary_bytes"] = size
    d["cbr_qpsk_r12"] = cbr_for_bits(size * 8, stream.video, "qpsk", 0.5)
    print(json.dumps(d, indent=2))
    return 0
