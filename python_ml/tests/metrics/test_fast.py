# SPDX-License-Identifier: GPL-3.0-or-later
"""The fast metrics equal their references: scikit-image (RGB), pytorch-msssim, FFmpeg's psnr/ssim filters (Y)."""

from __future__ import annotations

import numpy as np
import pytest

from lgvsc.metrics.fast import QualityAccumulator, _luma_centred, clip_quality, luma_bt601
from lgvsc.metrics.reference import ffmpeg_luma_quality, reference_quality
from lgvsc.samples import carphone_path
from lgvsc.video import read_video

PSNR_TOL_DB = 1e-3
SSIM_TOL = 1e-4


def _pairs():
    rng = np.random.default_rng(3)
    rnd = rng.integers(0, 256, (3, 168, 200, 3), dtype=np.uint8)
    noisy = np.clip(rnd.astype(int) + rng.integers(-40, 41, rnd.shape), 0, 255).astype(np.uint8)
    real = read_video(carphone_path(), 192, 176, None, max_frames=4).frames
    coded = np.clip(real.astype(float) + rng.normal(0, 6, real.shape), 0, 255).astype(np.uint8)
    coded[1] = real[1]  # an identical frame: PSNR capped
    shifted = np.roll(real, 3, axis=2)  # real structure, wrong alignment: low scores
    return {"random": (rnd, noisy), "real": (real, coded), "real-shifted": (real, shifted)}


@pytest.mark.parametrize("case", ["random", "real", "real-shifted"])
def test_fast_metrics_equal_the_references(case):
    ref, test = _pairs()[case]
    fast = clip_quality(ref, test)
    want = reference_quality(ref, test)
    for key in ("psnr_y", "psnr_rgb"):
        np.testing.assert_allclose(getattr(fast, key), want[key], atol=PSNR_TOL_DB, err_msg=key)
    for key in ("ssim_y", "ssim_rgb", "ms_ssim"):
        np.testing.assert_allclose(getattr(fast, key), want[key], atol=SSIM_TOL, err_msg=key)
    assert fast.ms_ssim_window == 11


def test_luma_is_ffmpeg_bt601_on_every_colour():
    # All 2^24 RGB colours in one frame, converted by FFmpeg (format=yuv444p) and by us: identical.
    import av

    v = np.arange(1 << 24, dtype=np.uint32)
    img = np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], -1).astype(np.uint8).reshape(4096, 4096, 3)
    g = av.filter.Graph()
    src = g.add_buffer(width=4096, height=4096, format="rgb24", time_base="1/24")
    fmt, sink = g.add("format", "yuv444p"), g.add("buffersink")
    src.link_to(fmt)
    fmt.link_to(sink)
    g.configure()
    frame = av.VideoFrame.from_ndarray(img, format="rgb24")
    frame.pts = 0
    g.push(frame)
    plane = g.pull().planes[0]
    y = np.frombuffer(plane, np.uint8).reshape(4096, plane.line_size)[:, :4096]
    assert np.array_equal(luma_bt601(img), y)
    for rows in range(0, 4096, 1024):  # the scorer's float32 path (centred frame, one transform): the same
        part = img[rows:rows + 1024].astype(np.float32) - 128
        assert np.array_equal(_luma_centred(part), y[rows:rows + 1024])


def test_streaming_in_chunks_equals_one_call_and_identity_is_perfect():
    ref, test = _pairs()["real"]
    whole = clip_quality(ref, test)
    acc = QualityAccumulator()
    acc.add(ref[:1], test[:1])
    for a, b in zip(ref[1:], test[1:], strict=True):
        acc.add(a[None], b[None])
    parts = acc.result()
    for key in ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "ms_ssim"):
        np.testing.assert_array_equal(getattr(parts, key), getattr(whole, key))
    same = clip_quality(ref, ref).means()
    assert same["psnr_y"] == same["psnr_rgb"] == 100.0
    assert same["ssim_y"] == pytest.approx(1.0) and same["ssim_rgb"] == pytest.approx(1.0)
    assert same["ms_ssim"] == pytest.approx(1.0, abs=1e-6)
    py, _ = ffmpeg_luma_quality(ref[1:2], test[1:2])
    assert py[0] == 100.0  # FFmpeg says inf for identical frames; both cap it


def test_scores_do_not_depend_on_the_scoring_threads():
    ref, test = _pairs()["real"]
    one = clip_quality(ref, test, threads=1)
    for threads in (2, 3):
        acc = QualityAccumulator(threads=threads)
        for a, b in zip(ref, test, strict=True):
            buf_a, buf_b = a.copy(), b.copy()
            acc.add_frame(buf_a, buf_b)
            buf_a[:] = 0  # the caller reuses its buffers at once: the accumulator copied them
            buf_b[:] = 255
        many = acc.result()
        for key in ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "ms_ssim"):
            np.testing.assert_array_equal(getattr(many, key), getattr(one, key), err_msg=f"{key}, {threads}")


def test_psnr_only_gives_the_same_psnrs():
    ref, test = _pairs()["real"]
    full = clip_quality(ref, test, ms_ssim=False)
    acc = QualityAccumulator(ssim=False)
    acc.add(ref, test)
    part = acc.result()
    np.testing.assert_array_equal(part.psnr_y, full.psnr_y)
    np.testing.assert_array_equal(part.psnr_rgb, full.psnr_rgb)
    assert part.ssim_y.size == part.ssim_rgb.size == part.ms_ssim.size == 0


def test_bad_shapes_are_named_errors():
    a = np.zeros((2, 40, 48, 3), np.uint8)
    with pytest.raises(ValueError, match="differ in shape"):
        clip_quality(a, a[:1])
    with pytest.raises(ValueError, match="expected"):
        clip_quality(a[..., 0], a[..., 0])
    acc = QualityAccumulator(ms_ssim=False)
    acc.add(a, a)
    with pytest.raises(ValueError, match="frame size changed"):
        acc.add(np.zeros((1, 42, 48, 3), np.uint8), np.zeros((1, 42, 48, 3), np.uint8))


def test_loopback_scores_and_renders_in_one_pass(tmp_path):
    from lgvsc.loopback_report import _stream_score_and_render
    from lgvsc.video import probe_video, write_video

    src = _pairs()["real"][0]
    write_video(tmp_path / "recon.mp4", src[::-1], 24, crf=30)
    recon = read_video(tmp_path / "recon.mp4", width=None, height=None, fps=None).frames
    q, count, samples, shape = _stream_score_and_render(src, tmp_path / "recon.mp4", 24, tmp_path / "sbs.mp4",
                                                        [0, 3])
    assert count == len(src) and shape == src.shape[1:] and sorted(samples) == [0, 3]
    assert np.array_equal(samples[3], recon[3])
    want = clip_quality(src, recon, ms_ssim=False)
    np.testing.assert_array_equal(q.psnr_y, want.psnr_y)
    np.testing.assert_array_equal(q.ssim_rgb, want.ssim_rgb)
    p = probe_video(tmp_path / "sbs.mp4")
    assert (p.width, p.height) == (2 * src.shape[2] + 4, src.shape[1])
