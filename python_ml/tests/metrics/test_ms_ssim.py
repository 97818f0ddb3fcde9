# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import numpy as np
import pytest

from lgvsc.metrics.ms_ssim import ms_ssim_clip, ms_ssim_window


def test_window_is_standard_when_frames_allow_and_shrinks_otherwise():
    assert ms_ssim_window(320, 576) == 11
    assert ms_ssim_window(161, 200) == 11
    assert ms_ssim_window(160, 200) == 9
    with pytest.raises(ValueError, match="too small"):
        ms_ssim_window(32, 64)


def test_identical_is_one_and_noise_lowers_it():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (3, 176, 176, 3), dtype=np.uint8)
    assert ms_ssim_clip(a, a).mean == pytest.approx(1.0, abs=1e-6)
    mild = np.clip(a + rng.normal(0, 8, a.shape), 0, 255).astype(np.uint8)
    strong = np.clip(a + rng.normal(0, 60, a.shape), 0, 255).astype(np.uint8)
    assert 1.0 > ms_ssim_clip(a, mild).mean > ms_ssim_clip(a, strong).mean
    with pytest.raises(ValueError, match="differ in shape"):
        ms_ssim_clip(a, a[:2])
