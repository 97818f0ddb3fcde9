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

The frames are centred at 128 once, into int16; scikit-image's 7x7 window sums come from
OpenCV's box filter straight into int32, so the SSIMs' cancellation-prone differences
(n·Σxy − Σx·Σy) are exact integers; MS-SSIM's Gaussian is OpenCV's separable filter on the
same int16 maps at the first scale, float32 below it. Luma is one ``cv2.transform`` that float32
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


def _block4(x: np.ndarray) -> np.ndarray:
    """Sums of the 4x4 blocks of ``x`` (sides multiples of 4) by strided adds (no slow axis reduce)."""
    r = x[0::4] + x[1::4]
    r += x[2::4]
    r += x[3::4]
    c = r[:, 0::4] + r[:, 1::4]
    c += r[:, 2::4]
    c += r[:, 3::4]
    return c


def _ssim_ffmpeg(a: np.ndarray, b: np.ndarray, work: tuple[np.ndarray, ...] | None = None) -> float:
    """FFmpeg's ``ssim`` filter on one 8-bit plane: 8x8 windows at stride 4, x264's formula.

    ``a``, ``b``: int32 arrays, or float32 holding the integers. The sums are exact integers, as FFmpeg's
    (float32 is exact below 2^24: a 4x4 block of ``a² + b²`` is at most 16·2·255²); only the final ratio is
    floating point. ``work``: three float32 buffers of the plane's shape cut to multiples of 4 (the
    products go there instead of into fresh arrays).
    """
    h4, w4 = a.shape[0] // 4, a.shape[1] // 4
    a, b = a[:4 * h4, :4 * w4], b[:4 * h4, :4 * w4]
    if work is None:
        work = tuple(np.empty(a.shape, np.float32) for _ in range(3))
    ab, sq, t = work

    def win(x):  # 2x2 blocks = 8x8 pixels, stride 4
        x = _block4(x).astype(np.float64)
        return x[:-1, :-1] + x[1:, :-1] + x[:-1, 1:] + x[1:, 1:]

    np.multiply(a, b, out=ab)
    np.multiply(a, a, out=sq)
    np.multiply(b, b, out=t)
    sq += t
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
_SQ_OFFSET = 1 << 14  # x'² + y'² ≤ 32768 is one more than int16 holds
_MS_CAP = 4 * 1024 * 1024  # bytes of frames queued for the scoring threads (a few 576x320 pairs)


class _FrameScorer:
    """Scores frame pairs of one shape; every buffer allocated once and each step written in place.

    Fresh multi-megabyte temporaries per frame cost more in page faults than the arithmetic itself. The
    frames are centred at 128 once, into int16 (x', y', x'y' exact; x'² + y'² ≤ 32768 exact in uint16);
    scikit-image's 7x7 box sums of those come from OpenCV's box filter straight into int32 (exact), so the
    cancellation-prone n·Σxy − Σx·Σy and n·Σ(x²+y²) − (Σx)² − (Σy)² are exact integers (shift-invariant, so
    the centred sums give them); MS-SSIM's level 0 Gaussian filters the same four int16 maps (no second
    product pass). Only the valid region, which both references average, is carried past the filters.
    """

    def __init__(self, shape: tuple[int, ...], ms_win: int | None) -> None:
        h, w, c = shape
        self.shape = shape
        self.xf = np.empty(shape, np.float32)  # x − 128
        self.yf = np.empty(shape, np.float32)
        self.ya = np.empty((h, w), np.float32)  # Y'
        self.yb = np.empty((h, w), np.float32)
        self.yw = tuple(np.empty((h - h % 4, w - w % 4), np.float32) for _ in range(3))
        self.i16 = [np.empty(shape, np.int16) for _ in range(4)]  # x', y', x'y', scratch
        self.sq = np.empty(shape, np.int16)  # x'² + y'² − 16384 (OpenCV filters int16 fast, not uint16)
        self.i32 = [np.empty(shape, np.int32) for _ in range(6)]
        q = _BOX // 2
        vshape = (max(h - 2 * q, 0), max(w - 2 * q, 0), c)
        self.fv = [np.empty(vshape, np.float32) for _ in range(4)]
        self.g = _gauss(ms_win) if ms_win else None
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
        xc, yc, xy, t16 = self.i16
        cv2.subtract(a, _CENTRE, dst=xf, dtype=cv2.CV_32F)
        cv2.subtract(b, _CENTRE, dst=yf, dtype=cv2.CV_32F)
        _luma_centred(xf, ya)
        _luma_centred(yf, yb)
        psnr_y = _psnr(cv2.norm(ya, yb, cv2.NORM_L2SQR), ya.size)
        psnr_rgb = _psnr(cv2.norm(a, b, cv2.NORM_L2SQR), a.size)
        if not ssim:
            return psnr_y, math.nan, psnr_rgb, math.nan, math.nan
        ssim_y = _ssim_ffmpeg(ya, yb, self.yw)

        cv2.subtract(a, _CENTRE, dst=xc, dtype=cv2.CV_16S)
        cv2.subtract(b, _CENTRE, dst=yc, dtype=cv2.CV_16S)
        np.multiply(xc, yc, out=xy)  # |x'y'| ≤ 16384
        sq = self.sq
        np.multiply(xc, xc, out=sq)
        sq -= _SQ_OFFSET
        np.multiply(yc, yc, out=t16)
        sq += t16  # x'² + y'² − 16384, in −16384..16384
        ssim_rgb = self._ssim_rgb()
        ms = self._ms_ssim() if self.g is not None else float("nan")
        return psnr_y, ssim_y, psnr_rgb, ssim_rgb, ms

    def _ssim_rgb(self) -> float:
        """scikit-image's default SSIM (7x7 uniform window, sample covariance, valid region, mean of channels)."""
        import cv2

        xc, yc, xy, _ = self.i16
        n = _BOX * _BOX
        q = _BOX // 2
        full = self.i32
        for src, dst in zip((xc, yc, xy, self.sq), full[:4], strict=True):
            cv2.boxFilter(src, cv2.CV_32S, (_BOX, _BOX), dst=dst, normalize=False, borderType=cv2.BORDER_REFLECT)
        sx, sy, sxy, ss, p, s2 = full  # whole maps: numpy is several times slower on strided views
        np.multiply(sx, sy, out=p)
        np.multiply(sxy, n, out=sxy)
        np.subtract(sxy, p, out=sxy)  # n·Σxy − Σx·Σy = n²·cov·(n−1)/n
        np.multiply(sx, sx, out=s2)
        np.multiply(sy, sy, out=p)
        np.add(s2, p, out=s2)
        np.multiply(ss, n, out=ss)
        np.subtract(ss, s2, out=ss)
        ss += n * n * _SQ_OFFSET  # n²·(var x + var y)·(n−1)/n
        sx += n * 128  # uncentred Σx, Σy (≤ 12495; products < 2^31)
        sy += n * 128
        np.multiply(sx, sy, out=p)  # Σx·Σy
        np.multiply(sx, sx, out=s2)
        np.multiply(sy, sy, out=sx)
        np.add(s2, sx, out=s2)  # (Σx)² + (Σy)²
        cn = n / (n - 1.0)
        n2 = float(n * n)
        # SSIM·n⁴ = (2ΣxΣy + C1n²)(2cn·cov' + C2n²) / (((Σx)²+(Σy)² + C1n²)(cn·var' + C2n²))
        #         = 4 · (ΣxΣy + C1n²/2)(cov' + C2n²/(2cn)) / (((Σx)²+(Σy)² + C1n²)(var' + C2n²/cn))
        f = self.fv
        for src, dst, c in ((p, f[0], _C1 * n2 / 2), (sxy, f[1], _C2 * n2 / (2 * cn)), (s2, f[2], _C1 * n2),
                            (ss, f[3], _C2 * n2 / cn)):
            np.copyto(dst, src[q:-q, q:-q], casting="unsafe")  # valid region; rounded once (differences were exact)
            dst += np.float32(c)
        f0 = f[0]
        f0 *= f[1]
        f[2] *= f[3]
        f0 /= f[2]
        return 4.0 * float(np.mean(cv2.mean(f0)[:f0.shape[2]]))

    def _ms_ssim(self) -> float:
        """MS-SSIM as ``pytorch_msssim.ms_ssim`` (mean of channels); moments about 128 (no float32 cancellation
        on 0..255 data); the contrast-structure term needs only ``σx² + σy²``, so ``x² + y²`` is one map."""
        import cv2

        g = self.g
        p = (len(g) - 1) // 2
        xc, yc, xy, _ = self.i16
        x, y = self.xf, self.yf
        maps: tuple[np.ndarray, ...] = (xc, yc, xy, self.sq)  # level 0: the exact int16 maps
        offset = _SQ_OFFSET * float(np.sum(g, dtype=np.float64)) ** 2  # what the filter makes of sq's offset
        vals = []
        last = len(_MS_WEIGHTS) - 1
        for level in range(len(_MS_WEIGHTS)):
            buf = self._level(x.shape)
            m1, m2, s12, ss, t, u, w0, w1, w2 = buf[:9]
            for src, dst in zip(maps, (m1, m2, s12, ss), strict=True):
                cv2.sepFilter2D(src, cv2.CV_32F, g, g, dst=dst, borderType=cv2.BORDER_REFLECT)
            m1v, m2v, s12v, ssv = (z[p:-p, p:-p] for z in (m1, m2, s12, ss))
            cv2.multiply(m1v, m2v, dst=w0)
            cv2.addWeighted(s12v, 2.0, w0, -2.0, _C2, dst=w1)  # 2σxy + C2
            cv2.multiply(m1v, m1v, dst=w2)
            cv2.accumulateSquare(m2v, w2)
            cv2.addWeighted(ssv, 1.0, w2, -1.0, _C2 + (offset if level == 0 else 0.0), dst=w2)  # σx² + σy² + C2
            cv2.divide(w1, w2, dst=w1)  # cs map
            if level < last:
                vals.append(np.maximum(cv2.mean(w1)[:x.shape[2]], 0.0))
                nxt = self._level(((x.shape[0] + 1) // 2, (x.shape[1] + 1) // 2, x.shape[2]))
                x, y = _pool2(x, nxt[9]), _pool2(y, nxt[10])
                buf = nxt
                t, u = buf[4], buf[5]
                np.multiply(x, y, out=t)
                np.multiply(x, x, out=u)
                cv2.accumulateSquare(y, u)
                maps = (x, y, t, u)
            else:
                mu1, mu2 = m1v + 128.0, m2v + 128.0
                lum = (2.0 * mu1 * mu2 + _C1) / (mu1 * mu1 + mu2 * mu2 + _C1)
                lum *= w1  # ssim map
                vals.append(np.maximum(cv2.mean(lum)[:x.shape[2]], 0.0))
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
