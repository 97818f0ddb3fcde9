# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-frame PSNR and SSIM between a source clip and its reconstruction (scikit-image)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

__all__ = ["FrameQuality", "frame_quality", "PSNR_CAP_DB"]

# Identical frames have infinite PSNR; cap it so means stay finite (a common convention).
PSNR_CAP_DB = 100.0


@dataclass
class FrameQuality:
    """Per-frame PSNR (dB) and SSIM arrays, with their means."""

    psnr: np.ndarray
    ssim: np.ndarray

    @property
    def mean_psnr(self) -> float:
        return float(np.mean(self.psnr)) if self.psnr.size else float("nan")

    @property
    def mean_ssim(self) -> float:
        return float(np.mean(self.ssim)) if self.ssim.size else float("nan")


def frame_quality(reference: np.ndarray, test: np.ndarray) -> FrameQuality:
    """PSNR/SSIM per frame of two ``(F, H, W, 3)`` uint8 clips of the same shape.

    >>> import numpy as np
    >>> a = np.zeros((2, 16, 16, 3), np.uint8)
    >>> q = frame_quality(a, a)
    >>> float(q.mean_psnr), float(q.mean_ssim)
    (100.0, 1.0)
    """
    if reference.shape != test.shape:
        raise ValueError(f"clips differ in shape: {reference.shape} vs {test.shape}")
    if reference.ndim != 4 or reference.shape[-1] != 3:
        raise ValueError(f"expected (F, H, W, 3) clips, got {reference.shape}")
    psnr = np.empty(len(reference))
    ssim = np.empty(len(reference))
    for i, (r, t) in enumerate(zip(reference, test, strict=True)):
        if np.array_equal(r, t):
            psnr[i] = PSNR_CAP_DB
        else:
            psnr[i] = min(PSNR_CAP_DB, peak_signal_noise_ratio(r, t, data_range=255))
        ssim[i] = structural_similarity(r, t, channel_axis=-1, data_range=255)
    return FrameQuality(psnr=psnr, ssim=ssim)
