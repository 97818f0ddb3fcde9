# SPDX-License-Identifier: GPL-3.0-or-later
"""Classical PSSS judge: ``S_rel`` in [-1, 1] from measurable image features, no weights.

Round 1 (:meth:`ClassicalJudge.describe`, batched) reduces each frame to a
small record: a grey image at the analysis width (144 px), and an HSV colour
histogram (12 hue x 4 saturation x 4 value bins) weighted by the focus
region. Round 2 (:meth:`ClassicalJudge.compare`) measures two distances
within the focus region:

* ``d_color``: Hellinger (Bhattacharyya) distance of the colour histograms, in [0, 1];
* ``d_struct``: 1 - SSIM of the grey images after motion compensation (a
  global shift by phase correlation, then DIS optical flow, warping b onto
  a; pixels that came from outside b are left out), clipped to [0, 1]. The SSIM of
  the uncompensated pair is used instead when it is better, so a failed flow
  never makes two frames look *more* different.

and maps their weighted sum ``d = W_COLOR * d_color + W_STRUCT * d_struct``
through a logistic curve onto the PSSS range::

    S_rel = 2 / (1 + exp(-SLOPE * (d - D_MID))) - 1

``D_MID`` and ``SLOPE`` are set per focus so that ``S_rel = 0.35`` (the
paper's threshold) at the decision distance ``D_THRESHOLD[focus]`` measured
on real and synthetic data, and identical frames score -0.9. See
docs/calibration.md for the data, the measured distributions and the choice.

Focus regions (weights over the frame): ``general`` uniform; ``main object``
a centred elliptical Gaussian (sigma = 0.22 of width and height);
``background`` the complement of a centred ellipse covering the middle
60% x 70% of the frame (a border ring).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .base import Focus, SemanticJudge
from .classical_motion import ANALYSIS_WIDTH, dis_flow, to_gray_small

__all__ = ["ClassicalJudge", "FrameFeatures", "focus_weights", "D_THRESHOLD", "W_COLOR", "W_STRUCT"]

H_BINS, S_BINS, V_BINS = 12, 4, 4
# Calibrated in docs/calibration.md (bench/judge_calibration.py).
W_COLOR = 0.5
W_STRUCT = 0.5
# Combined distance where S_rel = 0.35, per focus: in the gap between the largest "same shot" distance and
# the smallest "different scene" one (general 0.34 | 0.58, background 0.33 | 0.58); main object sits
# lower (same-shot max 0.41, different min 0.59) to catch more new central objects (median 0.43).
D_THRESHOLD = {Focus.GENERAL: 0.45, Focus.MAIN_OBJECT: 0.42, Focus.BACKGROUND: 0.45}
S_AT_ZERO = -0.9  # S_rel of identical frames


def _logistic_params(d_thr: float, s_thr: float = 0.35, s0: float = S_AT_ZERO) -> tuple[float, float]:
    # Solve 2*sigmoid(k*(d - m)) - 1 = s at (0, s0) and (d_thr, s_thr).
    def logit(s: float) -> float:
        p = (s + 1) / 2
        return math.log(p / (1 - p))

    k = (logit(s_thr) - logit(s0)) / d_thr
    m = -logit(s0) / k
    return k, m


def focus_weights(height: int, width: int, focus: Focus | str) -> np.ndarray:
    """Per-pixel weights ``(H, W)`` float32 summing to 1 for a focus region."""
    f = Focus(focus)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    u = (xx + 0.5) / width - 0.5
    v = (yy + 0.5) / height - 0.5
    if f is Focus.GENERAL:
        w = np.ones((height, width), np.float32)
    elif f is Focus.MAIN_OBJECT:
        w = np.exp(-0.5 * ((u / 0.22) ** 2 + (v / 0.22) ** 2)).astype(np.float32)
    else:  # background: outside a centred ellipse of 60% x 70%
        w = (((u / 0.30) ** 2 + (v / 0.35) ** 2) > 1.0).astype(np.float32)
    return w / w.sum()


@dataclass
class FrameFeatures:
    """Round-1 description of one frame for one focus (opaque to callers)."""

    focus: Focus
    gray: np.ndarray  # (h, w) uint8 at the analysis width
    hist: np.ndarray  # (H_BINS*S_BINS*V_BINS,) float64, sums to 1, focus-weighted


def _ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # The standard SSIM (Wang et al. 2004, Gaussian window sigma 1.5) as a map, so that it can be
    # weighted by the focus region; skimage's version is slower at this size and not a dependency.
    import cv2

    a = a.astype(np.float32)
    b = b.astype(np.float32)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (7, 7), 1.5, borderType=cv2.BORDER_REFLECT)

    ma, mb = blur(a), blur(b)
    saa = blur(a * a) - ma * ma
    sbb = blur(b * b) - mb * mb
    sab = blur(a * b) - ma * mb
    return ((2 * ma * mb + c1) * (2 * sab + c2)) / ((ma * ma + mb * mb + c1) * (saa + sbb + c2))


class ClassicalJudge(SemanticJudge):
    """PSSS from colour and motion-compensated structure (see the module docstring).

    >>> import numpy as np
    >>> from lgvsc.samples import drawn_scene
    >>> clip = drawn_scene(num_frames=60, cuts=(30,))
    >>> j = ClassicalJudge()
    >>> j.score(clip.frames[0], clip.frames[5]) < 0.35 < j.score(clip.frames[25], clip.frames[30])
    True
    """

    name = "classical"

    def __init__(self, analysis_width: int = ANALYSIS_WIDTH, w_color: float = W_COLOR, w_struct: float = W_STRUCT,
                 d_threshold: dict[Focus, float] | float | None = None) -> None:
        if analysis_width < 32:
            raise ValueError(f"analysis_width must be >= 32, got {analysis_width}")
        if w_color < 0 or w_struct < 0 or w_color + w_struct <= 0:
            raise ValueError("weights must be >= 0 and not both zero")
        if d_threshold is None:
            d_threshold = dict(D_THRESHOLD)
        elif not isinstance(d_threshold, dict):
            d_threshold = dict.fromkeys(Focus, float(d_threshold))
        for f in Focus:
            if not 0 < d_threshold.get(f, -1) < 1:
                raise ValueError(f"d_threshold for focus {f.value!r} must lie in (0, 1), got {d_threshold.get(f)}")
        self.analysis_width = int(analysis_width)
        total = w_color + w_struct
        self.w_color = w_color / total
        self.w_struct = w_struct / total
        self.d_threshold = {f: float(d_threshold[f]) for f in Focus}
        self._curve = {f: _logistic_params(self.d_threshold[f]) for f in Focus}
        self._weights: dict[tuple[int, int, Focus], np.ndarray] = {}
        self._hanns: dict[tuple[int, int], np.ndarray] = {}

    def _focus(self, h: int, w: int, focus: Focus) -> np.ndarray:
        key = (h, w, focus)
        if key not in self._weights:
            self._weights[key] = focus_weights(h, w, focus)
        return self._weights[key]

    def _hann(self, h: int, w: int) -> np.ndarray:
        import cv2

        key = (h, w)
        if key not in self._hanns:
            self._hanns[key] = cv2.createHanningWindow((w, h), cv2.CV_32F)
        return self._hanns[key]

    def describe(self, frames: Sequence[np.ndarray], focus: Focus = Focus.GENERAL) -> list[FrameFeatures]:
        import cv2

        focus = Focus(focus)
        out = []
        for frame in frames:
            if frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(f"expected (H, W, 3) frames, got {frame.shape}")
            gray = to_gray_small(frame, self.analysis_width)
            h, w = gray.shape
            small = cv2.resize(np.ascontiguousarray(frame), (w, h), interpolation=cv2.INTER_AREA)
            hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)  # H in [0, 180)
            hb = np.minimum(hsv[..., 0].astype(np.int32) * H_BINS // 180, H_BINS - 1)
            sb = hsv[..., 1].astype(np.int32) * S_BINS // 256
            vb = hsv[..., 2].astype(np.int32) * V_BINS // 256
            idx = (hb * S_BINS + sb) * V_BINS + vb
            hist = np.bincount(idx.ravel(), weights=self._focus(h, w, focus).ravel(),
                               minlength=H_BINS * S_BINS * V_BINS)
            out.append(FrameFeatures(focus=focus, gray=gray, hist=hist / max(hist.sum(), 1e-12)))
        return out

    def distances(self, a: FrameFeatures, b: FrameFeatures) -> tuple[float, float]:
        """``(d_color, d_struct)`` of two descriptions, each in [0, 1]."""
        import cv2

        if a.gray.shape != b.gray.shape:
            b_gray = cv2.resize(b.gray, a.gray.shape[::-1], interpolation=cv2.INTER_AREA)
        else:
            b_gray = b.gray
        bc = float(np.sum(np.sqrt(a.hist * b.hist)))
        d_color = math.sqrt(max(0.0, 1.0 - min(bc, 1.0)))
        h, w = a.gray.shape
        wts = self._focus(h, w, a.focus)
        # Motion compensation: a global translation first (phase correlation: pans larger than DIS's
        # search range), then DIS flow for the residual local motion. Pixels whose source falls outside
        # b are not compared (they are new content from a pan, not a change of scene).
        fa, fb = a.gray.astype(np.float32), b_gray.astype(np.float32)
        (sx, sy), response = cv2.phaseCorrelate(fa, fb, self._hann(h, w))
        if response < 0.05 or abs(sx) > w / 2 or abs(sy) > h / 2:
            sx = sy = 0.0
        grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        shifted = cv2.remap(b_gray, grid_x + np.float32(sx), grid_y + np.float32(sy), cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
        flow = dis_flow(a.gray, shifted)
        map_x = grid_x + np.float32(sx) + flow[..., 0]
        map_y = grid_y + np.float32(sy) + flow[..., 1]
        warped = cv2.remap(b_gray, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        inside = ((map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)).astype(np.float32)
        wc = wts * inside
        wc = wc / wc.sum() if wc.sum() > 0.25 * wts.sum() else wts  # mostly outside: compare everything
        s_comp = float(np.sum(_ssim_map(a.gray, warped) * wc))
        s_raw = float(np.sum(_ssim_map(a.gray, b_gray) * wts))
        d_struct = float(np.clip(1.0 - max(s_comp, s_raw), 0.0, 1.0))
        return d_color, d_struct

    def distance(self, a: FrameFeatures, b: FrameFeatures) -> float:
        """The combined distance ``d`` in [0, 1]."""
        dc, ds = self.distances(a, b)
        return self.w_color * dc + self.w_struct * ds

    def compare(self, a: FrameFeatures, b: FrameFeatures, focus: Focus = Focus.GENERAL) -> float:
        if Focus(focus) is not a.focus or a.focus is not b.focus:
            raise ValueError(f"descriptions were made for focus {a.focus.value}/{b.focus.value}, not {Focus(focus).value}")
        slope, d_mid = self._curve[a.focus]
        d = self.distance(a, b)
        return float(2.0 / (1.0 + math.exp(-slope * (d - d_mid))) - 1.0)
