# SPDX-License-Identifier: GPL-3.0-or-later
"""Multi-scale SSIM (Wang et al. 2003) of two clips, with ``pytorch-msssim``.

scikit-image has no MS-SSIM; ``pytorch_msssim.ms_ssim`` is the usual PyTorch
implementation (5 scales, Gaussian window 11 / sigma 1.5, the original
weights). It needs the smaller frame side to exceed ``(win_size - 1) * 16``
(160 pixels for the standard window): :func:`ms_ssim_window` picks the
standard window when the frames allow it and otherwise the largest odd window
that fits (reported with the score, so small test clips stay comparable among
themselves only).

>>> import numpy as np
>>> a = np.random.default_rng(0).integers(0, 256, (2, 176, 192, 3), dtype=np.uint8)
>>> round(ms_ssim_clip(a, a).mean, 6), ms_ssim_clip(a, a).win_size
(1.0, 11)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["STANDARD_WINDOW", "MsSsim", "ms_ssim_window", "ms_ssim_clip"]

STANDARD_WINDOW = 11
_SCALES = 5


def ms_ssim_window(height: int, width: int) -> int:
    """The Gaussian window for 5-scale MS-SSIM on ``height`` x ``width`` frames (11, or the largest odd fit)."""
    side = min(height, width)
    win = STANDARD_WINDOW
    while win >= 3 and side <= (win - 1) * 2 ** (_SCALES - 1):
        win -= 2
    if win < 3:
        raise ValueError(f"frames of {width}x{height} are too small for 5-scale MS-SSIM (need a side > 32)")
    return win


@dataclass(frozen=True)
class MsSsim:
    """Per-frame MS-SSIM values and the window they were computed with."""

    values: np.ndarray
    win_size: int

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values.size else float("nan")


def ms_ssim_clip(reference: np.ndarray, test: np.ndarray, batch: int = 16) -> MsSsim:
    """MS-SSIM per frame of two ``(F, H, W, 3)`` uint8 clips (RGB, data range 255)."""
    import torch
    from pytorch_msssim import ms_ssim

    if reference.shape != test.shape:
        raise ValueError(f"clips differ in shape: {reference.shape} vs {test.shape}")
    if reference.ndim != 4 or reference.shape[-1] != 3:
        raise ValueError(f"expected (F, H, W, 3) clips, got {reference.shape}")
    win = ms_ssim_window(reference.shape[1], reference.shape[2])
    out = []
    with torch.no_grad():
        for i in range(0, len(reference), batch):
            x = torch.from_numpy(np.ascontiguousarray(reference[i:i + batch])).permute(0, 3, 1, 2).float()
            y = torch.from_numpy(np.ascontiguousarray(test[i:i + batch])).permute(0, 3, 1, 2).float()
            out.append(ms_ssim(x, y, data_range=255, size_average=False, win_size=win).numpy())
    vals = np.concatenate(out) if out else np.zeros(0)
    return MsSsim(values=np.nan_to_num(vals.astype(np.float64), nan=0.0), win_size=win)
