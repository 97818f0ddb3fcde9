# SPDX-License-Identifier: GPL-3.0-or-later
"""``lgvsc encode VIDEO -o STREAM``: video -> semantic stream file."""

from __future__ import annotations

import argparse
import logging
import sys

from lgvsc.cli._profile_args import add_profile_arguments, profile_options
from lgvsc.errors import UserError

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def _positive_int(text: str) -> int:
    v = int(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return v


def _threshold(text: str) -> float:
    v = float(text)
    if not -1.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"S_rel thresholds lie in [-1, 1], got {text}")
    return v


def add_parser(subparsers) -> None:
    from lgvsc.backends.classical_keyframe import KEYFRAME_CODECS
    from lgvsc.encoder import REFINE_MODES

    p = subparsers.add_parser(
        "encode",
        help="encode a video into a semantic stream (keyframes + captions + motion scores)",
        description=(
            "Read VIDEO (anything FFmpeg reads), normalise it (576x320 @ 24 fps by default), choose keyframes "
            "with SKEM (semantic: a candidate every 0.2 s becomes a keyframe when its PSSS score against the "
            "last keyframe exceeds --threshold) or SKIM (uniform), code the keyframes under a byte budget, "
            "caption each segment and measure its motion. Writes the compact binary stream (or JSON with "
            "--json) and prints its size and CBR."
        ),
    )
    p.add_argument("video", help="input video file")
    p.add_argument("-o", "--output", required=True, help="output stream file (binary LGVS, or JSON with --json)")
    k = p.add_argument_group("keyframe selection")
    k.add_argument("--method", choices=("skem", "skim"), default="skem",
                   help="skem: semantic keyframes (paper); skim: uniform keyframes (baseline). Default skem")
    k.add_argument("--threshold", type=_threshold, default=0.35,
                   help="SKEM: new keyframe when S_rel(last keyframe, candidate) > this (default 0.35, the paper's)")
    k.add_argument("--focus", choices=("general", "main-object", "background"), default="general",
                   help="PSSS semantic focus: the whole frame, the main (central) object, or the background")
    k.add_argument("--skim-keyframes", type=_positive_int, default=None,
                   help="SKIM: number of keyframes, first and last included (default: as many as SKEM chooses)")
    v = p.add_argument_group("video normalisation")
    v.add_argument("--width", type=_positive_int, default=576, help="output width in pixels, even (default 576)")
    v.add_argument("--height", type=_positive_int, default=320, help="output height in pixels, even (default 320)")
    v.add_argument("--fps", type=float, default=24.0, help="output frame rate (default 24)")
    v.add_argument("--keep-geometry", action="store_true", help="keep the source width and height")
    v.add_argument("--keep-fps", action="store_true", help="keep the source frame rate")
    v.add_argument("--fit", choices=("crop", "stretch", "pad"), default="crop",
                   help="how to reach --width x --height: crop (scale to cover, centre crop; default), stretch, pad")
    v.add_argument("--max-frames", type=_positive_int, default=None, help="encode at most this many frames")
    c = p.add_argument_group("coding")
    c.add_argument("--keyframe-bytes", type=_positive_int, default=None,
                   help="fixed byte budget per keyframe, no refinement frames (default: the whole stream follows "
                        "--target-cbr)")
    c.add_argument("--target-cbr", type=float, default=6e-4,
                   help="target channel bandwidth ratio with QPSK rate 1/2: the whole binary stream is filled to "
                        "within 3%% of it (default 6e-4, the paper's full-system figure)")
    c.add_argument("--keyframe-codec", choices=KEYFRAME_CODECS, default="av1",
                   help="keyframe codec: av1 (raw AV1 OBUs, SVT-AV1/dav1d; default), webp or jpeg")
    c.add_argument("--refine", choices=REFINE_MODES, default="auto",
                   help="auto: add AV1 refinement frames inside SKEM's segments where the encoder's simulated "
                        "decode is worst, as many as buy quality within the budget (beyond the paper; av1 only); "
                        "none: the paper's stream, semantic keyframes only")
    c.add_argument("--strict-budget", action="store_true",
                   help="fail when the budget cannot hold the stream (default: warn and code small keyframes)")
    c.add_argument("--captions", help="captions written by you instead of generated ones: a .json list of strings "
                                      "(one per segment) or of {start, end, text} (seconds), or a text file with "
                                      "one caption per line")
    c.add_argument("--stream-id", type=int, default=0, help="stream id carried in the header (0..65535)")
    c.add_argument("--json", action="store_true", help="write the JSON form (keyframes in base64) instead of binary")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_profile_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lgvsc.accounting import cbr_for_bits
    from lgvsc.backends.base import Focus
    from lgvsc.cli.streamfile import write_stream_file
    from lgvsc.encoder import EncoderConfig, SemanticEncoder, limit_native_heap
    from lgvsc.framestore import video_frames
    from lgvsc.profiles import build_backends
    from lgvsc.wire import stream_to_bytes

    limit_native_heap()  # peak RSS bounded whatever the length (lgvsc.encoder.limit_native_heap)

    if args.keyframe_bytes is not None and args.keyframe_bytes < 64:
        raise UserError("--keyframe-bytes must be at least 64")
    if not args.target_cbr > 0:
        raise UserError("--target-cbr must be positive")
    if not args.keep_geometry and (args.width % 2 or args.height % 2):
        raise UserError(f"--width and --height must be even (H.264 yuv420p), got {args.width}x{args.height}")
    if not args.keep_fps and not 0 < args.fps <= 240:
        raise UserError(f"--fps must lie in (0, 240], got {args.fps}")
    if not 0 <= args.stream_id <= 65535:
        raise UserError(f"--stream-id must lie in 0..65535, got {args.stream_id}")
    focus = Focus(args.focus.replace("-", " "))
    backends = build_backends(args.profile, captions=args.captions, keyframe_codec=args.keyframe_codec,
                              **profile_options(args))
    # frames as they are decoded (lgvsc.framestore.video_frames): SKEM, captions and motion run as they come,
    # the frames wait on disk for the keyframe coding; memory bounded by a window, not by the length (issue 17)
    frames, fps, name, probe = video_frames(args.video, None if args.keep_geometry else args.width,
                                            None if args.keep_geometry else args.height,
                                            None if args.keep_fps else args.fps, fit=args.fit,
                                            max_frames=args.max_frames)
    if args.keep_geometry and (probe.width % 2 or probe.height % 2):
        raise UserError(f"the source is {probe.width}x{probe.height}; odd sizes cannot be decoded to H.264, "
                        "use --width/--height")
    config = EncoderConfig(method=args.method, threshold=args.threshold, focus=focus,
                           keyframe_bytes=args.keyframe_bytes, target_cbr=args.target_cbr,
                           skim_count=args.skim_keyframes, stream_id=args.stream_id, refine=args.refine,
                           strict_budget=args.strict_budget)
    encoder = SemanticEncoder(backends, config)

    def segment_done(seg, frames_read: int) -> None:
        log.debug("segment %d: frames %d..%d (%d frames read)", seg.index, seg.start_frame, seg.end_frame,
                  frames_read)

    try:
        stream = encoder.encode_frames(frames, fps, name, progress=not args.no_progress and sys.stderr.isatty(),
                                       on_segment=segment_done)
    except ValueError as exc:
        raise UserError(f"cannot encode: {exc}") from exc
    v = stream.video
    log.info("read %s: %d frames %dx%d @ %s fps", args.video, v.num_frames, v.width, v.height, fps)
    size = write_stream_file(args.output, stream, as_json=args.json)
    binary = len(stream_to_bytes(stream))
    cbr = cbr_for_bits(binary * 8, stream.video, "qpsk", 0.5)
    refs = sum(len(s.refinements) for s in stream.segments)
    st = encoder.stats
    budget = (f"; budget {st.budget_bytes} B, {100.0 * binary / st.budget_bytes:.1f} % used"
              + (" (EXCEEDED)" if binary > st.budget_bytes else "") if st.budget_bytes else "")
    print(f"{args.output}: {len(stream.keyframes)} {stream.keyframes[0].codec_id if stream.keyframes else ''} "
          f"keyframes {stream.keyframe_indices()}, {refs} refinement frames, "
          f"{len(stream.segments)} segments, {size} bytes written; binary stream {binary} bytes = "
          f"{binary * float(fps) / v.num_frames:.0f} B/s of video, CBR {cbr:.3g} (QPSK rate 1/2){budget}")
    return 0
