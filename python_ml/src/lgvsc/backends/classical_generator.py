# SPDX-License-Identifier: GPL-3.0-or-later
"""Classical DSA segment generator: bidirectional optical-flow interpolation between two keyframes.

The flows first->last and last->first are computed with OpenCV DIS (preset
``MEDIUM``) at half the frame width, upsampled, and used to warp both
keyframes to each intermediate time ``t = i / (n - 1)``; the two warps are
blended with weights ``1 - t`` and ``t``. The intermediate flows follow the
usual linear-motion approximation (Jiang et al., Super SloMo, CVPR 2018)::

    F_t->0 = -(1 - t) t F_0->1 + t^2 F_1->0
    F_t->1 = (1 - t)^2 F_0->1 - t (1 - t) F_1->0

Frame 0 is exactly the first keyframe and frame ``n - 1`` exactly the last,
so consecutive segments meet on the shared keyframe.

**Cuts.** Interpolating between two different scenes gives a ghostly
cross-fade. When the classical PSSS judge scores the two keyframes above the
paper's threshold (0.35, general focus) the segment is treated as containing
a cut: SKEM puts a keyframe at most one candidate step (``int(0.2 * fps)``
frames) after a change, so the first keyframe is held and the picture
switches to the last keyframe half a step before the end.

**Refinement frames** (beyond the paper, docs/keyframe-channel.md) split the
segment: each span between consecutive anchors (first keyframe, refinements,
last keyframe) is interpolated, or held and cut, on its own, so the output
passes exactly through every refinement frame.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np

from .base import SegmentGenerator, SegmentRequest

__all__ = ["FlowInterpolationGenerator", "interpolate", "interpolate_at", "hold_and_cut"]

FLOW_SCALE = 0.5


def _flows(first: np.ndarray, last: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    h, w = first.shape[:2]
    sw, sh = max(16, round(w * scale)), max(16, round(h * scale))
    ga = cv2.resize(cv2.cvtColor(first, cv2.COLOR_RGB2GRAY), (sw, sh), interpolation=cv2.INTER_AREA)
    gb = cv2.resize(cv2.cvtColor(last, cv2.COLOR_RGB2GRAY), (sw, sh), interpolation=cv2.INTER_AREA)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    f01 = dis.calc(ga, gb, None)
    f10 = dis.calc(gb, ga, None)

    def up(f: np.ndarray) -> np.ndarray:
        f = cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)
        f[..., 0] *= w / sw
        f[..., 1] *= h / sh
        return f

    return up(f01), up(f10)


def interpolate(first: np.ndarray, last: np.ndarray, num_frames: int, flow_scale: float = FLOW_SCALE) -> np.ndarray:
    """``(num_frames, H, W, 3)`` uint8 frames from ``first`` to ``last`` by flow interpolation."""

    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if first.shape != last.shape:
        raise ValueError(f"keyframes differ in shape: {first.shape} vs {last.shape}")
    h, w = first.shape[:2]
    out = np.empty((num_frames, h, w, 3), np.uint8)
    out[0] = first
    if num_frames == 1:
        return out
    out[-1] = last
    if num_frames == 2:
        return out
    if np.array_equal(first, last):
        out[1:-1] = first
        return out
    f01, f10 = _flows(first, last, flow_scale)
    for i in range(1, num_frames - 1):
        out[i] = _warp_blend(first, last, f01, f10, i / (num_frames - 1))
    return out


@functools.lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinate grids, built once per size (read only)."""
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.setflags(write=False)
    gy.setflags(write=False)
    return gx, gy


def _warp_blend(first: np.ndarray, last: np.ndarray, f01: np.ndarray, f10: np.ndarray, t: float) -> np.ndarray:
    import cv2

    h, w = first.shape[:2]
    gx, gy = _grid(h, w)
    ft0 = -(1 - t) * t * f01 + t * t * f10
    ft1 = (1 - t) ** 2 * f01 - t * (1 - t) * f10
    wa = cv2.remap(first, gx + ft0[..., 0], gy + ft0[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    wb = cv2.remap(last, gx + ft1[..., 0], gy + ft1[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.addWeighted(wa, 1 - t, wb, t, 0.0)


def interpolate_at(first: np.ndarray, last: np.ndarray, t: float, flow_scale: float = FLOW_SCALE) -> np.ndarray:
    """The single interpolated frame at time ``t`` in [0, 1] between ``first`` (0) and ``last`` (1)."""
    if first.shape != last.shape:
        raise ValueError(f"keyframes differ in shape: {first.shape} vs {last.shape}")
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must lie in [0, 1], got {t}")
    if t == 0.0 or np.array_equal(first, last):
        return first.copy()
    if t == 1.0:
        return last.copy()
    f01, f10 = _flows(first, last, flow_scale)
    return _warp_blend(first, last, f01, f10, t)


def hold_and_cut(first: np.ndarray, last: np.ndarray, num_frames: int, fps: float) -> np.ndarray:
    """Hold ``first``, switch to ``last`` half a candidate step (``int(0.2 * fps) // 2``) before the end."""
    out = np.empty((num_frames, *first.shape), np.uint8)
    tail = max(1, max(1, int(0.2 * fps)) // 2)
    switch = max(1, num_frames - tail)
    out[:switch] = first
    out[switch:] = last
    return out


class FlowInterpolationGenerator(SegmentGenerator):
    """DSA without weights: bidirectional DIS-flow interpolation (see the module docstring).

    ``caption``, ``motion_score`` and ``prev_tail`` of the request are not used: the
    keyframes alone define the motion.

    >>> import numpy as np
    >>> from lgvsc.backends.base import SegmentRequest
    >>> a = np.zeros((32, 48, 3), np.uint8); b = np.full((32, 48, 3), 200, np.uint8)
    >>> FlowInterpolationGenerator().generate(SegmentRequest(a, b, num_frames=5)).shape
    (5, 32, 48, 3)
    """

    name = "flow-interpolation"

    def __init__(self, flow_scale: float = FLOW_SCALE, cut_threshold: float | None = 0.35) -> None:
        if not 0 < flow_scale <= 1:
            raise ValueError(f"flow_scale must lie in (0, 1], got {flow_scale}")
        self.flow_scale = float(flow_scale)
        self.cut_threshold = cut_threshold
        self._judge = None

    def is_cut(self, first: np.ndarray, last: np.ndarray) -> bool:
        """Whether the classical judge sees different scenes (``S_rel > cut_threshold``)."""
        if self.cut_threshold is None:
            return False
        if self._judge is None:
            from .classical_judge import ClassicalJudge

            self._judge = ClassicalJudge()
        return self._judge.score(first, last) > self.cut_threshold

    def frames_at(self, first: np.ndarray, last: np.ndarray, num_frames: int, fps: float,
                  offsets: list[int], flow_scale: float | None = None) -> list[np.ndarray]:
        """Only the frames at ``offsets`` (``0 < k < num_frames - 1``) of the span ``first..last``, as
        :meth:`generate` would make them (cut or flow); the encoder's simulated decode uses it."""
        if not offsets:
            return []
        if num_frames > 2 and self.is_cut(first, last):
            tail = max(1, max(1, int(0.2 * fps)) // 2)
            switch = max(1, num_frames - tail)
            return [first if k < switch else last for k in offsets]
        if np.array_equal(first, last):
            return [first for _ in offsets]
        f01, f10 = _flows(first, last, flow_scale or self.flow_scale)
        return [_warp_blend(first, last, f01, f10, k / (num_frames - 1)) for k in offsets]

    def _span(self, first: np.ndarray, last: np.ndarray, num_frames: int, fps: float) -> np.ndarray:
        if num_frames > 2 and self.is_cut(first, last):
            return hold_and_cut(first, last, num_frames, fps)
        return interpolate(first, last, num_frames, self.flow_scale)

    def _span_frames(self, first: np.ndarray, last: np.ndarray, num_frames: int, fps: float) -> Iterator[np.ndarray]:
        """The frames of :meth:`_span`, one at a time (the flows are computed once, each frame on demand)."""
        if num_frames == 1:
            yield first
            return
        if num_frames > 2 and self.is_cut(first, last):
            tail = max(1, max(1, int(0.2 * fps)) // 2)
            switch = max(1, num_frames - tail)
            for k in range(num_frames):
                yield first if k < switch else last
            return
        yield first
        if num_frames > 2:
            if np.array_equal(first, last):
                for _ in range(num_frames - 2):
                    yield first
            else:
                f01, f10 = _flows(first, last, self.flow_scale)
                for i in range(1, num_frames - 1):
                    yield _warp_blend(first, last, f01, f10, i / (num_frames - 1))
        yield last

    def generate_pieces(self, request: SegmentRequest, max_frames: int) -> Iterator[np.ndarray]:
        """:meth:`generate`'s frames, the same values, in pieces of at most ``max_frames`` frames (each made
        when asked for), so the decoder never holds a whole segment."""
        max_frames = max(1, int(max_frames))
        anchors = [(0, request.first), *getattr(request, "refinements", ()), (request.num_frames - 1, request.last)]

        def frames() -> Iterator[np.ndarray]:
            for s, ((a, fa), (b, fb)) in enumerate(zip(anchors, anchors[1:], strict=False)):
                it = self._span_frames(fa, fb, b - a + 1, request.fps)
                if s:
                    next(it)  # the anchor shared with the previous span: its frame is the same
                yield from it

        left = request.num_frames
        it = frames()
        while left:
            piece = np.empty((min(max_frames, left), *request.first.shape), np.uint8)
            for k in range(len(piece)):
                piece[k] = next(it)
            left -= len(piece)
            yield piece

    def generate(self, request: SegmentRequest) -> np.ndarray:
        refs = getattr(request, "refinements", ())
        if not refs:
            return self._span(request.first, request.last, request.num_frames, request.fps)
        anchors = [(0, request.first), *refs, (request.num_frames - 1, request.last)]
        out = np.empty((request.num_frames, *request.first.shape), np.uint8)
        for (a, fa), (b, fb) in zip(anchors, anchors[1:], strict=False):
            out[a : b + 1] = self._span(fa, fb, b - a + 1, request.fps)
        return out
