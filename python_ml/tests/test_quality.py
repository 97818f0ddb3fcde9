import numpy as np
import pytest

from lgvsc.metrics.quality import PSNR_CAP_DB, frame_quality


def test_identical_frames_are_capped_and_perfect():
    a = np.random.default_rng(0).integers(0, 256, (3, 24, 32, 3), dtype=np.uint8)
    q = frame_quality(a, a.copy())
    assert np.all(q.psnr == PSNR_CAP_DB)
    assert np.allclose(q.ssim, 1.0)


def test_psnr_matches_closed_form_for_constant_error():
    a = np.full((2, 16, 16, 3), 100, np.uint8)
    b = a + 10  # MSE = 100 -> PSNR = 10 log10(255^2 / 100)
    q = frame_quality(a, b)
    assert q.mean_psnr == pytest.approx(10 * np.log10(255**2 / 100), abs=1e-6)


def test_noise_lowers_ssim_and_psnr_monotonically():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    mild = np.clip(a + rng.normal(0, 5, a.shape), 0, 255).astype(np.uint8)
    strong = np.clip(a + rng.normal(0, 40, a.shape), 0, 255).astype(np.uint8)
    qm, qs = frame_quality(a, mild), frame_quality(a, strong)
    assert qm.mean_psnr > qs.mean_psnr
    assert qm.mean_ssim > qs.mean_ssim


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in shape"):
        frame_quality(np.zeros((1, 8, 8, 3), np.uint8), np.zeros((2, 8, 8, 3), np.uint8))
