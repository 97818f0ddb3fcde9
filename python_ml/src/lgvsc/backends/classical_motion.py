# SPDX-License-Identifier: GPL-3.0-or-later
"""Classical motion estimator: OpenCV DIS optical flow, mean magnitude per segment.

Flow is computed on grey frames downscaled to an analysis width of
:data:`ANALYSIS_WIDTH` = 144 px (576/4; aspect kept), DIS preset ``FAST``,
between consecutive frames at up to :data:`MAX_PAIRS` evenly spaced positions
in the segment. :meth:`DisMotionEstimator.magnitude` is the mean flow
magnitude in *analysis* pixels per frame. The motion score that goes into
the prompt rescales it to a 576-px-wide reference frame and quantises it to
steps of 0.5, clipped to [0, 50]::

    score = clip(round(2 * magnitude * 576 / analysis_width) / 2, 0, 50)

so a score of 4 means "about 4 px per frame at 576x320".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import MotionEstimator

__all__ = ["ANALYSIS_WIDTH", "MAX_PAIRS", "REFERENCE_WIDTH", "to_gray_small", "dis_flow", "DisMotionEstimator"]

ANALYSIS_WIDTH = 144
REFERENCE_WIDTH = 576
MAX_PAIRS = 8
SCORE_STEP = 0.5
SCORE_MAX = 50.0


def to_gray_small(frame: np.ndarray, width: int = ANALYSIS_WIDTH) -> np.ndarray:
    """RGB uint8 frame -> grey uint8 at ``width`` px (aspect kept, INTER_AREA)."""
    import cv2

    h, w = frame.shape[:2]
    height = max(8, int(round(h * width / w)))
    gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA)


_DIS_CACHE: dict[int, object] = {}


def dis_flow(a: np.ndarray, b: np.ndarray, preset: str = "fast") -> np.ndarray:
    """Dense DIS optical flow ``a -> b`` of two grey uint8 images: ``(H, W, 2)`` float32, ``b(x+f(x)) ~ a(x)``."""
    import cv2

    code = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset]
    dis = _DIS_CACHE.get(code)
    if dis is None:
        dis = cv2.DISOpticalFlow_create(code)
        _DIS_CACHE[code] = dis
    return dis.calc(a, b, None)


class DisMotionEstimator(MotionEstimator):
    """Mean DIS optical-flow magnitude of a segment and its quantised motion score.

    >>> import numpy as np
    >>> from lgvsc.samples import drawn_scene
    >>> m = DisMotionEstimator()
    >>> clip = drawn_scene(num_frames=24, cuts=(), speed=0.0)
    >>> m.score(m.magnitude(clip.frames))
    0.0
    """

    name = "dis"

    def __init__(self, analysis_width: int = ANALYSIS_WIDTH, max_pairs: int = MAX_PAIRS) -> None:
        if analysis_width < 16:
            raise ValueError(f"analysis_width must be >= 16, got {analysis_width}")
        if max_pairs < 1:
            raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
        self.analysis_width = int(analysis_width)
        self.max_pairs = int(max_pairs)

    def magnitude(self, frames: Sequence[np.ndarray]) -> float:
        n = len(frames)
        if n < 2:
            return 0.0
        starts = np.unique(np.linspace(0, n - 2, min(self.max_pairs, n - 1)).round().astype(int))
        mags = []
        for i in starts:
            a = to_gray_small(frames[i], self.analysis_width)
            b = to_gray_small(frames[i + 1], self.analysis_width)
            f = dis_flow(a, b)
            mags.append(float(np.mean(np.hypot(f[..., 0], f[..., 1]))))
        return float(np.mean(mags))

    def score(self, magnitude: float) -> float:
        if not np.isfinite(magnitude) or magnitude < 0:
            raise ValueError(f"magnitude must be finite and >= 0, got {magnitude}")
        ref = magnitude * REFERENCE_WIDTH / self.analysis_width
        return float(min(SCORE_MAX, round(ref / SCORE_STEP) * SCORE_STEP))
