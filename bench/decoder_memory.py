# SPDX-License-Identifier: GPL-3.0-or-later
"""Decoder memory vs keyframe count: peak RSS of ``lgvsc decode`` on streams of the same video
(``--frames`` frames of ``--size``) with 10, 1,000 and 10,000 keyframes (issue-13 target: the
10,000-keyframe peak within 1.2x of the 10-keyframe one). Keyframes are real WebP frames of a
moving square; segments run between consecutive keyframes. Peak RSS is the child's own
(``os.wait4`` rusage), so the runs do not disturb each other.

Run: ``.venv/bin/python bench/decoder_memory.py [--frames 12000 --size 256x144]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from lgvsc.backends.classical_keyframe import keyframe_codec_for
from lgvsc.cli.streamfile import write_stream_file
from lgvsc.stream import Keyframe, Segment, SemanticStream, VideoInfo

CODE = "import sys; from lgvsc.cli import main; sys.exit(main(sys.argv[1:]))"


def make_stream(n_frames: int, w: int, h: int, n_kf: int) -> SemanticStream:
    codec = keyframe_codec_for("webp")
    idx = sorted(set(np.linspace(0, n_frames - 1, n_kf).round().astype(int).tolist()))
    kfs, xx = [], np.arange(w)[None, :]
    for k, fi in enumerate(idx):
        f = np.empty((h, w, 3), np.uint8)
        f[...] = (40 + (xx * 200) // w)[..., None]
        x0 = (fi * 3) % (w - 24)
        f[h // 3:h // 3 + 24, x0:x0 + 24] = (255, 64 + k % 128, 0)
        kfs.append(Keyframe(frame_index=fi, codec_id=codec.codec_id, data=codec.encode(f, 1500),
                            coded_width=w, coded_height=h))
    segs = [Segment(index=i, start_frame=a, end_frame=b, caption="a red square moves right", motion_score=1.0)
            for i, (a, b) in enumerate(zip(idx, idx[1:], strict=False))]
    return SemanticStream(video=VideoInfo(w, h, 24, 1, n_frames, "bench"), keyframes=kfs, segments=segs)


def peak_rss_of_decode(path: Path, out: Path) -> tuple[int, float, int]:
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-c", CODE, "decode", str(path), "-o", str(out), "--no-progress"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode()[-2000:]
    if p.returncode != 0:
        raise SystemExit(f"lgvsc decode failed ({p.returncode}): {err}")
    return usage.ru_maxrss * 1024, time.monotonic() - t0, p.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=12000)
    ap.add_argument("--size", default="256x144")
    ap.add_argument("--counts", default="10,1000,10000")
    args = ap.parse_args()
    w, h = map(int, args.size.split("x"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in map(int, args.counts.split(",")):
            s = make_stream(args.frames, w, h, n)
            path = Path(tmp) / f"s{n}.lgvs"
            size = write_stream_file(path, s)
            rss, secs, _ = peak_rss_of_decode(path, Path(tmp) / f"o{n}.mp4")
            rows.append({"keyframes": len(s.keyframes), "stream_bytes": size, "peak_rss_mb": round(rss / 2**20, 1),
                         "decode_s": round(secs, 1)})
            print(json.dumps(rows[-1]), flush=True)
    ref = rows[0]["peak_rss_mb"]
    for r in rows:
        r["ratio_vs_fewest"] = round(r["peak_rss_mb"] / ref, 3)
    print(json.dumps({"frames": args.frames, "size": args.size, "runs": rows,
                      "worst_ratio": max(r["ratio_vs_fewest"] for r in rows), "target": 1.2}, indent=2))
    return 0 if max(r["ratio_vs_fewest"] for r in rows) <= 1.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
