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
"""

from __future__ import annotations

import numpy as np

from .base import SegmentGenerator, SegmentRequest

__all__ = ["FlowInterpolationGenerator", "interpolate"]

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
    import cv2

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
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    a = first.astype(np.float32)
    b = last.astype(np.float32)
    for i in range(1, num_frames - 1):
        t = i / (num_frames - 1)
        ft0 = -(1 - t) * t * f01 + t * t * f10
        ft1 = (1 - t) ** 2 * f01 - t * (1 - t) * f10
        wa = cv2.remap(a, gx + ft0[..., 0], gy + ft0[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        wb = cv2.remap(b, gx + ft1[..., 0], gy + ft1[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[i] = np.clip((1 - t) * wa + t * wb + 0.5, 0, 255).astype(np.uint8)
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

    def __init__(self, flow_scale: float = FLOW_SCALE) -> None:
        if not 0 < flow_scale <= 1:
            raise ValueError(f"flow_scale must lie in (0, 1], got {flow_scale}")
        self.flow_scale = float(flow_scale)

    def generate(self, request: SegmentRequest) -> np.ndarray:
        return interpolate(request.first, request.last, request.num_frames, self.flow_scale)
