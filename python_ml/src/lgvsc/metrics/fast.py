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

Each frame pair becomes x + y − 255, x − y and their squares once, in 16 bits; scikit-image's
7x7 window sums of those come from OpenCV's box filter straight into int32, so the SSIMs'
cancellation-prone differences (n·Σs² − (Σs)²) are exact integers; MS-SSIM's first scale
Gaussian-filters the same four maps, the lower scales the pooled frames; the full-resolution
windows run strip by strip (their maps stay in cache). Luma is one ``cv2.transform`` that float32
holds exactly. Every frame is scored in buffers allocated once, only the valid region is
carried past the filters, and frames are spread over a few threads (OpenCV and numpy release
the GIL): on a CPU this measured several times faster than batched torch convolutions over
whole clips (memory traffic; torch's OpenMP workers also compete with the threads).
:class:`QualityAccumulator` takes the clips in chunks or frame by frame, so a caller can
stream them from files.

>>> import numpy as np
>>> a = np.random.default_rng(0).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
>>> s = clip_quality(a, a, ms_ssim=False)
>>> float(s.psnr_y.mean()), float(s.ssim_rgb.mean())
(100.0, 1.0)
"""

from __future__ import annotations

import math
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from lgvsc.metrics.ms_ssim import ms_ssim_window
from lgvsc.metrics.quality import PSNR_CAP_DB

__all__ = ["ClipScores", "QualityAccumulator", "clip_quality", "default_threads", "luma_bt601", "CONVENTIONS"]

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


def _ssim_ffmpeg(a: np.ndarray, b: np.ndarray, work: tuple[np.ndarray, ...] | None = None) -> float:
    """FFmpeg's ``ssim`` filter on one 8-bit plane: 8x8 windows at stride 4, x264's formula.

    ``a``, ``b``: float32 arrays holding the integers. The 4x4 block sums of ``a``, ``b``, ``a·b`` and
    ``a² + b²`` are two 2x2 area resizes of each map (means of 4 values that are multiples of 1/4 or
    integers, below 2^24: exact in float32, as FFmpeg's integer sums), times 16; the 8x8 windows (2x2 blocks)
    and x264's ratio are float64 on the small block grid. ``work``: three float32 buffers of the plane's
    shape cut to multiples of 4 (the products go there instead of into fresh arrays).
    """
    import cv2

    h4, w4 = a.shape[0] // 4, a.shape[1] // 4
    a, b = a[:4 * h4, :4 * w4], b[:4 * h4, :4 * w4]
    if work is None:
        work = tuple(np.empty(a.shape, np.float32) for _ in range(3))
    ab, sq, _ = work
    cv2.multiply(a, b, dst=ab)
    cv2.multiply(a, a, dst=sq)
    cv2.accumulateSquare(b, sq)

    def blocks(x):
        x = cv2.resize(x, (2 * w4, 2 * h4), interpolation=cv2.INTER_AREA)
        return cv2.resize(x, (w4, h4), interpolation=cv2.INTER_AREA).astype(np.float64) * 16.0

    def win(x):  # 2x2 blocks = 8x8 pixels, stride 4
        x = blocks(x)
        return x[:-1, :-1] + x[1:, :-1] + x[:-1, 1:] + x[1:, 1:]

    s1, s2 = win(a), win(b)
    ss, s12 = win(sq), win(ab)
    p = s1 * s2
    var = ss * 64 - s1 * s1 - s2 * s2
    cov = s12 * 64 - p
    v = ((2 * p + _SSIM_C1) * (2 * cov + _SSIM_C2)) / ((s1 * s1 + s2 * s2 + _SSIM_C1) * (var + _SSIM_C2))
    return float(v.mean())


def _gauss(win: int, sigma: float = 1.5) -> np.ndarray:
    import torch

    coords = torch.arange(win, dtype=torch.float) - win // 2  # pytorch-msssim's window, float32
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    g /= g.sum()
    return g.numpy()


# Y' of RGB frames centred at 128, as float32: swscale's t = RY·R + GY·G + BY·B + 2^19 + 2^8, then >> 9,
# + 32, >> 6 — one floor division by 2^15 once the + 32 is moved inside (+ 2^14). With the coefficients
# scaled by 2^-15 every product and partial sum is an integer multiple of 2^-15 of magnitude below 2^8, so
# float32 holds each exactly (cv2.transform, with or without FMA) and floor() gives swscale's integer.
# Checked against luma_bt601 on all 2^24 colours (tests/metrics/test_fast.py).
_Y_OFFSET = (32 << (_SHIFT - 1)) + (1 << (_SHIFT - 7)) + (32 << (_SHIFT - 6)) + 128 * (_RY + _GY + _BY)
_Y_MATRIX = np.array([[_RY, _GY, _BY, _Y_OFFSET]], np.float64) / (1 << _SHIFT)
_CENTRE = (128.0, 128.0, 128.0, 0.0)


def _luma_centred(xf: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`luma_bt601` of an RGB frame given as float32 ``x − 128``: ``(H, W)`` float32 holding Y' exactly."""
    import cv2

    out = cv2.transform(xf, _Y_MATRIX, dst=out)
    return np.floor(out, out=out)
_BOX = 7  # scikit-image's default window
_MS_CAP = 4 * 1024 * 1024  # bytes of frames queued for the scoring threads (a few 576x320 pairs)
_STRIP = 48  # rows of the full-resolution box and Gaussian windows per pass (their maps stay in cache)


class _Pool:
    """Contiguous float32 / int32 arrays of any shape up to ``size`` elements, carved from buffers allocated once."""

    def __init__(self, size: int, count: int) -> None:
        self._bufs = [np.empty(size, np.float32) for _ in range(count)]

    def get(self, i: int, shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
        n = math.prod(shape)
        return self._bufs[i][:n].view(dtype).reshape(shape)


class _FrameScorer:
    """Scores frame pairs of one shape; every buffer allocated once and each step written in place.

    Fresh multi-megabyte temporaries per frame cost more in page faults than the arithmetic itself, and maps
    of whole frames spill the caches, so the full-resolution windows run over strips of :data:`_STRIP` rows.
    Each frame becomes four 16-bit maps once: s = x + y − 255, d = x − y (int16), s², d² (uint16; exact);
    n·Σ(x+y)² − (Σ(x+y))² = var' + 2·cov' and the same of x − y = var' − 2·cov', so scikit-image's
    contrast-structure term needs only the box sums of those four, and its luminance term
    (Σx+Σy)² ∓ (Σx−Σy)² = 4·ΣxΣy, 2·((Σx)² + (Σy)²). OpenCV's box filter sums them straight into int32 and
    the cancellation-prone n·Σs² − (Σs)² is exact int32 arithmetic;
    every later rounding is relative to a denominator that holds the same terms. MS-SSIM's first scale
    Gaussian-filters the same four maps (converted per strip to float32, OpenCV's fastest path); its lower scales filter the pooled frames (float32, centred at
    128). Only the valid region, which both references average, is carried past the filters.
    """

    def __init__(self, shape: tuple[int, ...], ms_win: int | None, strip: int = _STRIP) -> None:
        h, w, c = shape
        self.shape = shape
        self.xf = np.empty(shape, np.float32)  # x − 128
        self.yf = np.empty(shape, np.float32)
        self.ya = np.empty((h, w), np.float32)  # Y'
        self.yb = np.empty((h, w), np.float32)
        h4, w4 = h - h % 4, w - w % 4
        self.yw = tuple(np.empty((h4, w4), np.float32) for _ in range(3))
        sc, dc, qs, qd = (np.empty(shape, np.int16) for _ in range(4))
        self.i16 = (sc, dc, qs, qd)  # s = x + y − 255, d = x − y, s², d² (uint16 views of the last two)
        self.maps = (sc, dc, qs.view(np.uint16), qd.view(np.uint16))
        self.g = _gauss(ms_win) if ms_win else None
        q = _BOX // 2
        p = (len(self.g) - 1) // 2 if self.g is not None else 0
        self.strip = max(1, int(strip))
        rows = self.strip + 2 * max(q, p)
        self.filtered = _Pool(rows * w * c, 4)  # the filters' output per strip (int32 box sums / float32)
        self.inputs = _Pool(rows * w * c, 4)  # a strip of the four maps as float32 (OpenCV's fastest Gaussian)
        self.work = _Pool(self.strip * w * c, 8)  # the arithmetic on the valid part of a strip
        self._levels: dict[tuple[int, ...], list[np.ndarray]] = {}

    def _level(self, shape: tuple[int, ...]) -> list[np.ndarray]:
        """Float32 buffers of one MS-SSIM scale: 4 filtered maps and 2 products full size, 3 of the valid
        size, 2 for the pooled frames of this scale."""
        if shape not in self._levels:
            p = (len(self.g) - 1) // 2
            vshape = (max(shape[0] - 2 * p, 0), max(shape[1] - 2 * p, 0), shape[2])
            self._levels[shape] = ([np.empty(shape, np.float32) for _ in range(6)]
                                   + [np.empty(vshape, np.float32) for _ in range(3)]
                                   + [np.empty(shape, np.float32) for _ in range(2)])
        return self._levels[shape]

    def score(self, a: np.ndarray, b: np.ndarray, ssim: bool = True) -> tuple[float, float, float, float, float]:
        """(PSNR-Y, SSIM-Y, PSNR-RGB, SSIM-RGB, MS-SSIM) of one ``(H, W, 3)`` uint8 pair (NaN: not computed)."""
        import cv2

        xf, yf, ya, yb = self.xf, self.yf, self.ya, self.yb
        cv2.subtract(a, _CENTRE, dst=xf, dtype=cv2.CV_32F)
        cv2.subtract(b, _CENTRE, dst=yf, dtype=cv2.CV_32F)
        _luma_centred(xf, ya)
        _luma_centred(yf, yb)
        psnr_y = _psnr(cv2.norm(ya, yb, cv2.NORM_L2SQR), ya.size)
        psnr_rgb = _psnr(cv2.norm(a, b, cv2.NORM_L2SQR), a.size)
        if not ssim:
            return psnr_y, math.nan, psnr_rgb, math.nan, math.nan
        ssim_y = _ssim_ffmpeg(ya, yb, self.yw)

        sc, dc, qs, qd = self.i16
        cv2.addWeighted(a, 1.0, b, 1.0, -255.0, dst=sc, dtype=cv2.CV_16S)  # x + y − 255
        cv2.subtract(a, b, dst=dc, dtype=cv2.CV_16S)
        np.multiply(sc, sc, out=qs)  # ≤ 255² < 2^16: the wrapped int16 viewed as uint16
        np.multiply(dc, dc, out=qd)
        ssim_rgb, cs0 = self._full_resolution()
        ms = self._ms_ssim(cs0) if self.g is not None else float("nan")
        return psnr_y, ssim_y, psnr_rgb, ssim_rgb, ms

    def _full_resolution(self) -> tuple[float, np.ndarray | None]:
        """scikit-image's default SSIM (7x7 uniform window, sample covariance, valid region, mean of channels)
        and MS-SSIM's first-scale contrast-structure means per channel, strip by strip."""
        import cv2

        h, w, c = self.shape
        q = _BOX // 2
        p = (len(self.g) - 1) // 2 if self.g is not None else None
        n = _BOX * _BOX
        cn = n / (n - 1.0)
        k1, k2 = 2 * _C1 * n * n, 2 * _C2 * n * n
        ssim_sum = 0.0
        cs_sum = np.zeros(4)
        lo = q if p is None else min(q, p)
        f, t = self.filtered, self.work
        for r0 in range(lo, h - lo, self.strip):
            r1 = min(r0 + self.strip, h - lo)
            c0, c1 = max(r0, q), min(r1, h - q)
            if c1 > c0 and w > 2 * q:  # box windows centred on rows c0..c1
                sums = []
                for i, src in enumerate(self.maps):
                    dst = f.get(i, (c1 - c0 + 2 * q, w, c), np.int32)
                    cv2.boxFilter(src[c0 - q:c1 + q], cv2.CV_32S, (_BOX, _BOX), dst=dst, normalize=False,
                                  borderType=cv2.BORDER_REFLECT)
                    sums.append(dst[q:-q, q:w - q])
                s, d, ps, pd = sums
                vs = s.shape
                s2, d2, al, be = (t.get(i, vs, np.int32) for i in range(4))
                np.multiply(s, s, out=s2)  # (Σs)² ≤ (49·255)²
                np.multiply(d, d, out=d2)
                np.multiply(ps, n, out=al)
                al -= s2  # n·Σs² − (Σs)² = var' + 2cov', exact
                np.multiply(pd, n, out=be)
                be -= d2  # var' − 2cov'
                fa, fb, lum, lud = (t.get(4 + i, vs) for i in range(4))
                np.copyto(fa, al, casting="unsafe")  # rounded once, after the cancellation
                np.copyto(fb, be, casting="unsafe")
                cv2.addWeighted(fa, cn, fb, -cn, k2, dst=lum)  # 2(2·cn·cov' + C2n²)
                cv2.addWeighted(fa, cn, fb, cn, k2, dst=fa)  # 2(cn·var' + C2n²)
                np.copyto(lud, s, casting="unsafe")
                lud += np.float32(255 * n)  # Σx + Σy
                cv2.multiply(lud, lud, dst=lud)
                np.copyto(fb, d2, casting="unsafe")  # (Σx − Σy)²
                num = t.get(0, vs)  # s2's buffer, done with
                cv2.addWeighted(lud, 1.0, fb, -1.0, k1, dst=num)  # 2(2ΣxΣy + C1n²)
                cv2.addWeighted(lud, 1.0, fb, 1.0, k1, dst=lud)  # 2((Σx)² + (Σy)² + C1n²)
                cv2.multiply(num, lum, dst=num)
                cv2.multiply(lud, fa, dst=lud)
                cv2.divide(num, lud, dst=num)
                ssim_sum += sum(cv2.sumElems(num)[:c])
            if p is None:
                continue
            g0, g1 = max(r0, p), min(r1, h - p)
            if g1 > g0:  # MS-SSIM's first scale: Gaussian windows centred on rows g0..g1
                maps = []
                for i, src in enumerate(self.maps):
                    shape = (g1 - g0 + 2 * p, w, c)
                    x, dst = self.inputs.get(i, shape), f.get(i, shape)
                    np.copyto(x, src[g0 - p:g1 + p])
                    cv2.sepFilter2D(x, cv2.CV_32F, self.g, self.g, dst=dst, borderType=cv2.BORDER_REFLECT)
                    maps.append(dst[p:-p, p:w - p])
                ms, md, es, ed = maps
                vs = ms.shape
                a2, b2 = t.get(0, vs), t.get(1, vs)
                cv2.multiply(ms, ms, dst=a2)
                cv2.subtract(es, a2, dst=a2)  # n²·var s = σx² + σy² + 2σxy
                cv2.multiply(md, md, dst=b2)
                cv2.subtract(ed, b2, dst=b2)
                num, den = t.get(2, vs), t.get(3, vs)
                cv2.addWeighted(a2, 1.0, b2, -1.0, 2 * _C2, dst=num)  # 2(2σxy + C2)
                cv2.addWeighted(a2, 1.0, b2, 1.0, 2 * _C2, dst=den)  # 2(σx² + σy² + C2)
                cv2.divide(num, den, dst=num)
                cs_sum += cv2.sumElems(num)
        valid = (h - 2 * q) * (w - 2 * q)
        ssim_rgb = ssim_sum / (valid * c) if valid > 0 and h > 2 * q else float("nan")
        if p is None:
            return ssim_rgb, None
        return ssim_rgb, cs_sum[:c] / ((h - 2 * p) * (w - 2 * p))

    def _ms_ssim(self, cs0: np.ndarray) -> float:
        """MS-SSIM as ``pytorch_msssim.ms_ssim`` (mean of channels); the first scale's contrast-structure means
        ``cs0`` come from :meth:`_full_resolution`; the lower scales' moments are about 128 (no float32
        cancellation on 0..255 data) and the contrast-structure term needs only ``σx² + σy²``, so ``x² + y²``
        is one map."""
        import cv2

        g = self.g
        p = (len(g) - 1) // 2
        c = self.shape[2]
        vals = [np.maximum(cs0, 0.0)]
        last = len(_MS_WEIGHTS) - 1
        nxt = self._level(((self.shape[0] + 1) // 2, (self.shape[1] + 1) // 2, c))
        x, y = _pool2(self.xf, nxt[9]), _pool2(self.yf, nxt[10])
        for level in range(1, len(_MS_WEIGHTS)):
            buf = self._level(x.shape)
            m1, m2, s12, ss, t, u, w0, w1, w2 = buf[:9]
            np.multiply(x, y, out=t)
            np.multiply(x, x, out=u)
            cv2.accumulateSquare(y, u)
            for src, dst in zip((x, y, t, u), (m1, m2, s12, ss), strict=True):
                cv2.sepFilter2D(src, cv2.CV_32F, g, g, dst=dst, borderType=cv2.BORDER_REFLECT)
            m1v, m2v, s12v, ssv = (z[p:-p, p:-p] for z in (m1, m2, s12, ss))
            cv2.multiply(m1v, m2v, dst=w0)
            cv2.addWeighted(s12v, 2.0, w0, -2.0, _C2, dst=w1)  # 2σxy + C2
            cv2.multiply(m1v, m1v, dst=w2)
            cv2.accumulateSquare(m2v, w2)
            cv2.addWeighted(ssv, 1.0, w2, -1.0, _C2, dst=w2)  # σx² + σy² + C2
            cv2.divide(w1, w2, dst=w1)  # cs map
            if level < last:
                vals.append(np.maximum(cv2.mean(w1)[:c], 0.0))
                nxt = self._level(((x.shape[0] + 1) // 2, (x.shape[1] + 1) // 2, c))
                x, y = _pool2(x, nxt[9]), _pool2(y, nxt[10])
            else:
                mu1, mu2 = m1v + 128.0, m2v + 128.0
                lum = (2.0 * mu1 * mu2 + _C1) / (mu1 * mu1 + mu2 * mu2 + _C1)
                lum *= w1  # ssim map
                vals.append(np.maximum(cv2.mean(lum)[:c], 0.0))
        wts = np.array(_MS_WEIGHTS).reshape(-1, 1)
        v = float(np.prod(np.stack(vals) ** wts, axis=0).mean())
        return 0.0 if v != v else v  # NaN -> 0, as the reference's nan_to_num


def _pool2(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """pytorch-msssim's ``avg_pool2d(kernel 2, padding = side % 2)`` of a centred ``(H, W, C)`` float32 frame.

    Its zero padding (counted in the mean) is −128 here; only the leading pad of an odd side is ever pooled.
    A linear resize to exactly half the size is the mean of each 2x2 block (weights 1/2, 1/2 each way).
    """
    import cv2

    ph, pw = x.shape[0] % 2, x.shape[1] % 2
    if ph or pw:
        x = cv2.copyMakeBorder(x, ph, 0, pw, 0, cv2.BORDER_CONSTANT, value=(-128.0,) * 4)
    return cv2.resize(x, (x.shape[1] // 2, x.shape[0] // 2), dst=out, interpolation=cv2.INTER_LINEAR)


def default_threads() -> int:
    """Scoring threads: ``LGVSC_SCORE_THREADS``, else the CPUs this process may use (at most 4)."""
    env = os.environ.get("LGVSC_SCORE_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"LGVSC_SCORE_THREADS must be an integer, got {env!r}") from None
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


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

    Frames are scored on ``threads`` worker threads (OpenCV and numpy release the GIL), a few frames in
    flight at most; each frame's numbers do not depend on the thread or on the chunking. The frames
    given are copied, so a caller may reuse its buffers at once.

    :param ms_ssim: also compute MS-SSIM (needs frames with a side > 32)
    :param threads: scoring threads (default :func:`default_threads`); 1 scores in the caller's thread
    :param ssim: ``False``: PSNRs only (SSIM and MS-SSIM left empty), e.g. to rank encodes by PSNR
    """

    def __init__(self, ms_ssim: bool = True, threads: int | None = None, ssim: bool = True) -> None:
        self.ssim = bool(ssim)
        self.ms_ssim = bool(ms_ssim) and self.ssim
        self.threads = default_threads() if threads is None else max(1, int(threads))
        self._rows: list[tuple[float, ...]] = []
        self._shape: tuple[int, ...] | None = None
        self._win: int | None = None
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[Future, tuple[np.ndarray, np.ndarray]]] = deque()
        self._free: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, reference: np.ndarray, test: np.ndarray) -> None:
        """Score the next ``(F, H, W, 3)`` uint8 frames of both clips."""
        if reference.shape != test.shape:
            raise ValueError(f"clips differ in shape: {reference.shape} vs {test.shape}")
        if reference.ndim != 4 or reference.shape[-1] != 3:
            raise ValueError(f"expected (F, H, W, 3) clips, got {reference.shape}")
        if self._shape is None:
            self._set_shape(reference.shape[1:])
        elif reference.shape[1:] != self._shape:
            raise ValueError(f"frame size changed from {self._shape} to {reference.shape[1:]}")
        for a, b in zip(reference, test, strict=True):
            self.add_frame(a, b)

    def _set_shape(self, shape: tuple[int, ...]) -> None:
        self._shape = tuple(shape)
        if self.ms_ssim:
            self._win = ms_ssim_window(shape[0], shape[1])

    def _scorer(self, shape: tuple[int, ...]) -> _FrameScorer:
        """This thread's scorer (its own buffers) for ``shape``."""
        sc = getattr(self._local, "scorer", None)
        if sc is None or sc.shape != shape:
            win = ms_ssim_window(shape[0], shape[1]) if self.ms_ssim else None
            sc = self._local.scorer = _FrameScorer(shape, win)
        return sc

    def _score(self, a: np.ndarray, b: np.ndarray) -> tuple[float, ...]:
        return self._scorer(a.shape).score(a, b, self.ssim)

    def add_frame(self, a: np.ndarray, b: np.ndarray) -> None:
        """Score one ``(H, W, 3)`` uint8 frame pair (no shape checks: :meth:`add` makes them)."""
        if self._shape is None:
            self._set_shape(a.shape)
        if self.threads == 1:
            self._rows.append(self._score(np.ascontiguousarray(a), np.ascontiguousarray(b)))
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="lgvsc-score")
        # The copies go into buffers that come back when their frame is scored (fresh frame-sized arrays
        # per frame cost page faults).
        for i, pair in enumerate(self._free):
            if pair[0].shape == a.shape:
                bufs = self._free.pop(i)
                break
        else:
            bufs = (np.empty(a.shape, np.uint8), np.empty(a.shape, np.uint8))
        np.copyto(bufs[0], a)
        np.copyto(bufs[1], b)
        self._pending.append((self._pool.submit(self._score, *bufs), bufs))
        depth = max(2 * self.threads, _MS_CAP // max(1, 2 * a.nbytes))
        while len(self._pending) > depth:
            self._collect()

    def _collect(self) -> None:
        fut, bufs = self._pending.popleft()
        self._rows.append(fut.result())
        self._free.append(bufs)

    def _drain(self) -> None:
        try:
            while self._pending:
                self._collect()
        finally:
            for fut, _ in self._pending:
                fut.cancel()
            self._pending.clear()
            self._free.clear()
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def result(self) -> ClipScores:
        """Everything added so far."""
        self._drain()
        cols = np.array(self._rows, dtype=np.float64).reshape(-1, 5).T
        names = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "ms_ssim")
        cat = dict(zip(names, cols, strict=True))
        if not self.ms_ssim:
            cat["ms_ssim"] = np.zeros(0)
        if not self.ssim:
            cat["ssim_y"] = cat["ssim_rgb"] = np.zeros(0)
        return ClipScores(ms_ssim_window=self._win, **cat)


def clip_quality(reference: np.ndarray, test: np.ndarray, ms_ssim: bool = True, threads: int | None = None
                 ) -> ClipScores:
    """Per-frame scores of two ``(F, H, W, 3)`` uint8 clips of the same shape (see :data:`CONVENTIONS`)."""
    acc = QualityAccumulator(ms_ssim=ms_ssim, threads=threads)
    acc.add(reference, test)
    return acc.result()
