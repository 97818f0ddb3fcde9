# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference implementations the fast metrics (:mod:`lgvsc.metrics.fast`) are checked and timed against.

* RGB PSNR / SSIM: :func:`lgvsc.metrics.quality.frame_quality` (scikit-image, per frame),
  the implementation the evaluation and the loopback used before.
* MS-SSIM: :func:`lgvsc.metrics.ms_ssim.ms_ssim_clip` (``pytorch_msssim``).
* Luma PSNR / SSIM: FFmpeg's own ``psnr`` and ``ssim`` filters through PyAV
  (:func:`ffmpeg_luma_quality`), the RGB frames converted by FFmpeg's
  ``format=yuv444p`` (swscale, BT.601 limited range).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from lgvsc.metrics.quality import PSNR_CAP_DB

__all__ = ["ffmpeg_luma_quality", "reference_quality"]


def _filter_metadata(reference: np.ndarray, test: np.ndarray, name: str) -> list[dict[str, str]]:
    import av

    h, w = reference.shape[1:3]
    g = av.filter.Graph()
    srcs = [g.add_buffer(width=w, height=h, format="rgb24", time_base=Fraction(1, 24)) for _ in range(2)]
    fmts = [g.add("format", "yuv444p") for _ in range(2)]
    metric = g.add(name)
    sink = g.add("buffersink")
    for i, (s, f) in enumerate(zip(srcs, fmts, strict=True)):
        s.link_to(f)
        f.link_to(metric, 0, i)
    metric.link_to(sink)
    g.configure()
    out = []
    for i, (a, b) in enumerate(zip(test, reference, strict=True)):  # main = test, ref = reference
        for s, x in zip(srcs, (a, b), strict=True):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(x), format="rgb24")
            vf.pts = i
            s.push(vf)
        while True:
            try:
                fr = sink.pull()
            except (av.BlockingIOError, av.EOFError):
                break
            out.append(dict(fr.metadata))
    for s in srcs:
        s.push(None)
    while True:
        try:
            out.append(dict(sink.pull().metadata))
        except (av.BlockingIOError, av.EOFError):
            break
    return out


def ffmpeg_luma_quality(reference: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (PSNR_Y dB, SSIM_Y) of two ``(F, H, W, 3)`` uint8 clips from FFmpeg's ``psnr``/``ssim`` filters.

    Identical frames (infinite PSNR) are capped at :data:`lgvsc.metrics.quality.PSNR_CAP_DB`.
    """
    psnr_md = _filter_metadata(reference, test, "psnr")
    ssim_md = _filter_metadata(reference, test, "ssim")
    if len(psnr_md) != len(reference) or len(ssim_md) != len(reference):
        raise RuntimeError(f"FFmpeg scored {len(psnr_md)}/{len(ssim_md)} frames of {len(reference)}")
    psnr = np.array([min(PSNR_CAP_DB, float(m["lavfi.psnr.psnr.y"])) for m in psnr_md])
    ssim = np.array([float(m["lavfi.ssim.Y"]) for m in ssim_md])
    return psnr, ssim


def reference_quality(reference: np.ndarray, test: np.ndarray, ms_ssim: bool = True) -> dict[str, np.ndarray]:
    """The reference per-frame scores, keyed as :class:`lgvsc.metrics.fast.ClipScores`."""
    from lgvsc.metrics.ms_ssim import ms_ssim_clip
    from lgvsc.metrics.quality import frame_quality

    q = frame_quality(reference, test)
    py, sy = ffmpeg_luma_quality(reference, test)
    out = {"psnr_y": py, "ssim_y": sy, "psnr_rgb": q.psnr, "ssim_rgb": q.ssim}
    if ms_ssim:
        out["ms_ssim"] = ms_ssim_clip(reference, test).values
    return out
