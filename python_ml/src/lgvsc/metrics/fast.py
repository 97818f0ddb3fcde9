# SPDX-License-Identifier: GPL-3.0-or-later
"""PSNR, SSIM and MS-SSIM of whole clips, fast: vectorised per frame with OpenCV's filters, bounded memory.

Two conventions, both per frame, named in every table that shows them:

* **Y (BT.601)** — luma as FFmpeg computes it: the RGB frames are converted to
  8-bit limited-range BT.601 Y' with swscale's own integer arithmetic
  (:func:`luma_bt601`, bit-exact with ``format=yuv444p`` over all 2^24 colours),
  PSNR = 10·log10(255² / MSE) as the ``psnr`` filter reports ``psnr_y``, SSIM as
  the ``ssim`` filter (x264's: 4x4 block sums, 8x8 windows at stride 4, its
  constants). Reference: FFmpeg's filters themselves
  (:func:`lgvsc.metrics.reference.ffmpeg_luma_quality`).
* **RGB** — PSNR over the three channels (MSE of all values), SSIM as
  scikit-image's ``structural_similarity(channel_axis=-1, data_range=255)``
  (7x7 uniform window, sample covariance, the mean over the valid region, the
  mean over channels). Reference: :func:`lgvsc.metrics.quality.frame_quality`.
* **MS-SSIM** (RGB) — ``pytorch_msssim.ms_ssim`` (5 scales, Gaussian window
  11 / sigma 1.5, its weights and pooling), window as
  :func:`lgvsc.metrics.ms_ssim.ms_ssim_window`. Reference:
  :func:`lgvsc.metrics.ms_ssim.ms_ssim_clip`.

Window sums come from OpenCV (``integral``, ``boxFilter``) in float64, exact for
8-bit data, so the SSIMs do not suffer the E[x²]−E[x]² cancellation; MS-SSIM's
Gaussian is OpenCV's separable filter. Everything runs one frame at a time: the
arrays stay cache-sized, which on a CPU measured several times faster than batched
torch convolutions (and torch's OpenMP workers would compete with OpenCV's threads
on a small machine). :class:`QualityAccumulator` takes the clips in chunks or frame
by frame, so a caller can stream them from files.

>>> import numpy as np
>>> a = np.random.default_rng(0).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
>>> s = clip_quality(a, a, ms_ssim=False)
>>> float(s.psnr_y.mean()), float(s.ssim_rgb.mean())
(100.0, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lgvsc.metrics.ms_ssim import ms_ssim_window
from lgvsc.metrics.quality import PSNR_CAP_DB

__all__ = ["ClipScores", "QualityAccumulator", "clip_quality", "luma_bt601", "CONVENTIONS"]

#: How each reported number is computed (for table headers and docs).
CONVENTIONS = {
    "psnr_y": "PSNR on Y' (BT.601 limited range, as FFmpeg's psnr filter), dB, mean of frames",
    "ssim_y": "SSIM on Y' (BT.601, as FFmpeg's ssim filter), mean of frames",
    "psnr_rgb": "PSNR on RGB (all three channels), dB, mean of frames",
    "ssim_rgb": "SSIM on RGB (scikit-image: 7x7 uniform window, mean of channels), mean of frames",
    "ms_ssim": "MS-SSIM on RGB (pytorch-msssim: 5 scales, Gaussian window), mean of frames",
}

# swscale's BT.601 RGB -> limited-range Y' coefficients (RGB2YUV_SHIFT = 15) and its rounding.
_SHIFT = 15
_RY = int(0.299 * 219 / 255 * (1 << _SHIFT) + 0.5)
_BY = int(0.114 * 219 / 255 * (1 << _SHIFT) + 0.5)
_GY = int((1 - 0.299 - 0.114) * 219 / 255 * (1 << _SHIFT) + 0.5)

_MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
# x264 / FFmpeg ssim constants (sums over 64 pixels).
_SSIM_C1 = int(0.01 * 0.01 * 255 * 255 * 64 + 0.5)
_SSIM_C2 = int(0.03 * 0.03 * 255 * 255 * 64 * 63 + 0.5)
_C1, _C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def luma_bt601(frame: np.ndarray) -> np.ndarray:
    """``(..., H, W, 3)`` uint8 RGB -> ``(..., H, W)`` int32 Y' (16..235) exactly as swscale converts rgb24 to yuv."""
    x = frame.astype(np.int32)
    t = _RY * x[..., 0]
    t += _GY * x[..., 1]
    t += _BY * x[..., 2]
    t += (32 << (_SHIFT - 1)) + (1 << (_SHIFT - 7))
    t >>= _SHIFT - 6
    t += 32
    t >>= 6
    return t


def _psnr(sse: float, count: int) -> float:
    if sse <= 0:
        return PSNR_CAP_DB
    return min(PSNR_CAP_DB, 10.0 * math.log10(255.0 ** 2 * count / sse))


def _block4(x: np.ndarray) -> np.ndarray:
    """Sums of the 4x4 blocks of ``x`` (int32, sides multiples of 4) by strided adds (no slow axis reduce)."""
    r = x[0::4] + x[1::4]
    r += x[2::4]
    r += x[3::4]
    c = r[:, 0::4] + r[:, 1::4]
    c += r[:, 2::4]
    c += r[:, 3::4]
    return c


def _ssim_ffmpeg(a: np.ndarray, b: np.ndarray) -> float:
    """FFmpeg's ``ssim`` filter on one 8-bit plane (int32 arrays): 8x8 windows at stride 4, x264's formula.

    The sums are exact integers, as FFmpeg's; only the final ratio is floating point.
    """
    h4, w4 = a.shape[0] // 4, a.shape[1] // 4
    a, b = a[:4 * h4, :4 * w4], b[:4 * h4, :4 * w4]

    def win(x):  # 2x2 blocks = 8x8 pixels, stride 4
        x = _block4(x).astype(np.float64)
        return x[:-1, :-1] + x[1:, :-1] + x[:-1, 1:] + x[1:, 1:]

    s1, s2 = win(a), win(b)
    ss, s12 = win(a * a + b * b), win(a * b)
    p = s1 * s2
    var = ss * 64 - s1 * s1 - s2 * s2
    cov = s12 * 64 - p
    v = ((2 * p + _SSIM_C1) * (2 * cov + _SSIM_C2)) / ((s1 * s1 + s2 * s2 + _SSIM_C1) * (var + _SSIM_C2))
    return float(v.mean())


class _SsimWork:
    """Buffers for :func:`_ssim_skimage` on one frame shape: allocated once, every step in place.

    Fresh multi-megabyte temporaries per frame cost more in page faults than the arithmetic itself.
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.f = [np.empty(shape, np.float32) for _ in range(8)]
        self.i = [np.empty(shape, np.int32) for _ in range(6)]


def _ssim_skimage(a: np.ndarray, b: np.ndarray, work: _SsimWork | None = None, win: int = 7) -> float:
    """scikit-image's default SSIM of one ``(H, W, C)`` uint8 frame pair (mean of channels).

    Window sums by OpenCV's box filter on float32 holding integers below 2^24 (exact), the
    cancellation-prone differences n·Σxy − Σx·Σy and n·Σ(x²+y²) − (Σx)² − (Σy)² in exact int32, the
    rest in float32 (relative error ~1e-7). Maps stay full size and only the valid region, which
    scikit-image keeps, is averaged.
    """
    import cv2

    w = work if work is not None else _SsimWork(a.shape)
    A, B, T, U, SX, SY, SS, SXY = w.f
    IX, IY, IS, IXY, P, Q = w.i
    n = win * win
    cn = n / (n - 1.0)  # sample covariance
    pad = (win - 1) // 2
    np.copyto(A, a)
    np.copyto(B, b)

    def box(x, out):
        cv2.boxFilter(x, -1, (win, win), dst=out, normalize=False, borderType=cv2.BORDER_REFLECT)

    box(A, SX)
    box(B, SY)
    np.multiply(A, A, out=T)
    np.multiply(B, B, out=U)
    np.add(T, U, out=T)
    box(T, SS)
    np.multiply(A, B, out=T)
    box(T, SXY)
    for src, dst in ((SX, IX), (SY, IY), (SS, IS), (SXY, IXY)):
        np.copyto(dst, src, casting="unsafe")  # exact integers
    np.multiply(IX, IY, out=P)  # Σx·Σy
    np.multiply(IXY, n, out=IXY)
    np.subtract(IXY, P, out=IXY)  # n²·cov·(n-1)/n
    np.multiply(IX, IX, out=Q)
    np.multiply(IY, IY, out=IX)
    np.add(Q, IX, out=Q)  # (Σx)² + (Σy)²
    np.multiply(IS, n, out=IS)
    np.subtract(IS, Q, out=IS)  # n²·(var x + var y)·(n-1)/n
    n2 = float(n * n)
    # Numerator and denominator both multiplied by n²·n².
    np.multiply(P, 2.0, out=T)
    T += _C1 * n2
    np.multiply(IXY, 2.0 * cn, out=U)
    U += _C2 * n2
    T *= U  # numerator
    np.copyto(U, Q)
    U += _C1 * n2
    np.multiply(IS, cn, out=A)
    A += _C2 * n2
    U *= A  # denominator
    T /= U
    return float(np.mean(cv2.mean(T[pad:-pad, pad:-pad])[:a.shape[2]]))


def _gauss(win: int, sigma: float = 1.5) -> np.ndarray:
    import torch

    coords = torch.arange(win, dtype=torch.float) - win // 2  # pytorch-msssim's window, float32
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    g /= g.sum()
    return g.numpy()


def _pool2(x: np.ndarray) -> np.ndarray:
    """pytorch-msssim's ``avg_pool2d(kernel 2, padding = side % 2)`` of an ``(H, W, C)`` frame (zeros counted)."""
    ph, pw = x.shape[0] % 2, x.shape[1] % 2
    if ph or pw:
        x = np.pad(x, ((ph, ph), (pw, pw), (0, 0)))
    h2, w2 = x.shape[0] // 2, x.shape[1] // 2
    x = x[:2 * h2, :2 * w2]
    return (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]) * np.float32(0.25)


def _ms_ssim_frame(x: np.ndarray, y: np.ndarray, g: np.ndarray, work: dict | None = None) -> float:
    """MS-SSIM of one ``(H, W, C)`` float32 frame pair, as ``pytorch_msssim.ms_ssim`` (mean of channels).

    The valid Gaussian filter is OpenCV's separable filter (full size; only the valid region is averaged);
    moments are taken about 128 (the same variances, without float32 cancellation on 0..255 data); the
    contrast-structure term needs only ``σx² + σy²``, so ``x² + y²`` is filtered as one map. ``work``
    caches one set of buffers per scale's shape (every step in place).
    """
    import cv2

    work = {} if work is None else work
    p = (len(g) - 1) // 2
    nch = x.shape[2]
    vals = []
    for level in range(len(_MS_WEIGHTS)):
        if x.shape not in work:
            work[x.shape] = [np.empty(x.shape, np.float32) for _ in range(8)]
        XC, YC, T, M1, M2, S12, SS, U = work[x.shape]

        def gf(v, out):
            cv2.sepFilter2D(v, -1, g, g, dst=out, borderType=cv2.BORDER_REFLECT)

        np.subtract(x, 128.0, out=XC)
        np.subtract(y, 128.0, out=YC)
        gf(XC, M1)
        gf(YC, M2)
        np.multiply(XC, YC, out=T)
        gf(T, S12)
        np.multiply(XC, XC, out=T)
        np.multiply(YC, YC, out=U)
        T += U
        gf(T, SS)
        np.multiply(M1, M2, out=T)
        S12 -= T  # σxy
        np.multiply(M1, M1, out=T)
        np.multiply(M2, M2, out=U)
        T += U
        SS -= T  # σx² + σy²
        S12 *= 2.0
        S12 += _C2
        SS += _C2
        S12 /= SS  # cs map
        if level < len(_MS_WEIGHTS) - 1:
            vals.append(np.maximum(cv2.mean(S12[p:-p, p:-p])[:nch], 0.0))
            x, y = _pool2(x), _pool2(y)
        else:
            M1 += 128.0
            M2 += 128.0
            np.multiply(M1, M2, out=T)
            T *= 2.0
            T += _C1
            np.multiply(M1, M1, out=U)
            np.multiply(M2, M2, out=M1)
            U += M1
            U += _C1
            T /= U
            T *= S12  # ssim map
            vals.append(np.maximum(cv2.mean(T[p:-p, p:-p])[:nch], 0.0))
    w = np.array(_MS_WEIGHTS).reshape(-1, 1)
    v = float(np.prod(np.stack(vals) ** w, axis=0).mean())
    return 0.0 if v != v else v  # NaN -> 0, as the reference's nan_to_num


@dataclass
class ClipScores:
    """Per-frame scores of a clip (see :data:`CONVENTIONS`); ``ms_ssim`` is empty when not computed."""

    psnr_y: np.ndarray
    ssim_y: np.ndarray
    psnr_rgb: np.ndarray
    ssim_rgb: np.ndarray
    ms_ssim: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ms_ssim_window: int | None = None

    def means(self) -> dict[str, float]:
        """Mean of frames per metric (NaN for an empty one) and the MS-SSIM window."""
        def m(a):
            return float(np.mean(a)) if a.size else float("nan")

        return {"psnr_y": m(self.psnr_y), "ssim_y": m(self.ssim_y), "psnr_rgb": m(self.psnr_rgb),
                "ssim_rgb": m(self.ssim_rgb), "ms_ssim": m(self.ms_ssim), "ms_ssim_window": self.ms_ssim_window}


class QualityAccumulator:
    """Scores a clip pair given in chunks of frames (the order of the frames), with bounded memory.

    :param ms_ssim: also compute MS-SSIM (needs frames with a side > 32)
    """

    def __init__(self, ms_ssim: bool = True) -> None:
        self.ms_ssim = bool(ms_ssim)
        self._parts: dict[str, list[float]] = {k: [] for k in ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb",
                                                               "ms_ssim")}
        self._shape: tuple[int, ...] | None = None
        self._win: int | None = None
        self._g: np.ndarray | None = None
        self._work: _SsimWork | None = None
        self._ms_work: dict = {}

    def add(self, reference: np.ndarray, test: np.ndarray) -> None:
        """Score the next ``(F, H, W, 3)`` uint8 frames of both clips."""
        if reference.shape != test.shape:
            raise ValueError(f"clips differ in shape: {reference.shape} vs {test.shape}")
        if reference.ndim != 4 or reference.shape[-1] != 3:
            raise ValueError(f"expected (F, H, W, 3) clips, got {reference.shape}")
        if self._shape is None:
            self._shape = reference.shape[1:]
            self._work = _SsimWork(self._shape)
            if self.ms_ssim:
                self._win = ms_ssim_window(reference.shape[1], reference.shape[2])
                self._g = _gauss(self._win)
        elif reference.shape[1:] != self._shape:
            raise ValueError(f"frame size changed from {self._shape} to {reference.shape[1:]}")
        for a, b in zip(reference, test, strict=True):
            self.add_frame(np.ascontiguousarray(a), np.ascontiguousarray(b))

    def add_frame(self, a: np.ndarray, b: np.ndarray) -> None:
        """Score one ``(H, W, 3)`` uint8 frame pair (no shape checks: :meth:`add` makes them)."""
        import cv2

        ya, yb = luma_bt601(a), luma_bt601(b)
        p = self._parts
        d = (ya - yb).ravel().astype(np.float64)
        p["psnr_y"].append(_psnr(float(d @ d), ya.size))
        p["ssim_y"].append(_ssim_ffmpeg(ya, yb))
        p["psnr_rgb"].append(_psnr(cv2.norm(a, b, cv2.NORM_L2SQR), a.size))
        if self._work is None or self._work.f[0].shape != a.shape:
            self._work = _SsimWork(a.shape)
        p["ssim_rgb"].append(_ssim_skimage(a, b, self._work))
        if self.ms_ssim:
            fx, fy = self._work.f[6], self._work.f[7]  # free again after _ssim_skimage
            np.copyto(fx, a)
            np.copyto(fy, b)
            p["ms_ssim"].append(_ms_ssim_frame(fx, fy, self._g, self._ms_work))

    def result(self) -> ClipScores:
        """Everything added so far."""
        cat = {k: np.array(v, dtype=np.float64) for k, v in self._parts.items()}
        return ClipScores(ms_ssim_window=self._win, **cat)


def clip_quality(reference: np.ndarray, test: np.ndarray, ms_ssim: bool = True) -> ClipScores:
    """Per-frame scores of two ``(F, H, W, 3)`` uint8 clips of the same shape (see :data:`CONVENTIONS`)."""
    acc = QualityAccumulator(ms_ssim=ms_ssim)
    acc.add(reference, test)
    return acc.result()
