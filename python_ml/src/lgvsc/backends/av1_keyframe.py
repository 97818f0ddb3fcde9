# SPDX-License-Identifier: GPL-3.0-or-later
"""AV1 keyframes as raw OBUs (no container): SVT-AV1 to encode, dav1d to decode, both through PyAV.

A keyframe is one AV1 *temporal unit* in the low-overhead bitstream format
(sequence header + one intra frame): about 20 bytes of headers, where an
AVIF/HEIF container costs about 300 (docs/keyframe-channel.md). The coded
size lives in the sequence header; :meth:`Av1KeyframeCodec.decode` scales
the picture to the size the stream asks for.

Beyond single keyframes, :meth:`Av1KeyframeCodec.encode_sequence` codes a
segment's sub-stream: the start keyframe intra and the refinement frames
after it inter-predicted (SVT-AV1 low-delay prediction structure, so every
input frame gives exactly one temporal unit, no hidden frames), and
:meth:`Av1KeyframeCodec.decode_sequence` decodes one. The first temporal
unit of a sub-stream is a complete keyframe by itself.

:meth:`Av1KeyframeCodec.encode` with a byte budget chooses the coded
resolution by *measured* quality: for each size of a ladder it finds the
lowest quantiser whose output fits the budget, decodes it, and keeps the
size whose luma PSNR against the source is highest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from fractions import Fraction

import numpy as np

from .base import KeyframeCodec

__all__ = ["Av1KeyframeCodec", "QP_MIN", "QP_MAX", "LADDER", "ladder_sizes", "luma", "luma_mse", "luma_ssim",
           "av1_available"]

# SVT-AV1 prints its configuration on stderr for every encoder it opens; errors only.
os.environ.setdefault("SVT_LOG", "1")

QP_MIN, QP_MAX = 10, 63
#: Coded sizes tried, as fractions of the video width and height.
LADDER = (1.0, 0.75, 0.5, 5 / 12, 1 / 3, 0.25, 1 / 6, 1 / 9)
MIN_SIDE = 16
MAX_CODED_SIDE = 4096  # never decode anything larger (untrusted input)
PRESET = 10  # SVT-AV1 speed preset: fast enough for >= 1x real time on 2 cores with the searches


def av1_available() -> bool:
    """Whether this PyAV has both libsvtav1 (encode) and libdav1d (decode)."""
    import av

    return {"libsvtav1", "libdav1d"} <= set(av.codecs_available)


def ladder_sizes(width: int, height: int, ladder: Sequence[float] = LADDER) -> list[tuple[int, int]]:
    """Even coded sizes ``(w, h)`` for each ladder fraction of ``width x height`` (largest first, unique)."""
    out: list[tuple[int, int]] = []
    for f in ladder:
        w = max(MIN_SIDE, 2 * round(width * f / 2))
        h = max(MIN_SIDE, 2 * round(height * f / 2))
        if (w, h) not in out:
            out.append((w, h))
    return out


def luma_mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error of the BT.601 luma of two RGB uint8 frames of the same shape."""
    import cv2

    ya = cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGB2GRAY).astype(np.float32)
    yb = cv2.cvtColor(np.ascontiguousarray(b), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.mean((ya - yb) ** 2))


def luma(frame: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB uint8 frame as float32."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY).astype(np.float32)


def luma_ssim(ya: np.ndarray, yb: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5) of two float32 luma images."""
    import cv2

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda x: cv2.GaussianBlur(x, (11, 11), 1.5)  # noqa: E731
    ma, mb = blur(ya), blur(yb)
    va, vb, cov = blur(ya * ya) - ma * ma, blur(yb * yb) - mb * mb, blur(ya * yb) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(s.mean())


def _resize(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    if frame.shape[:2] == (height, width):
        return frame
    interp = cv2.INTER_CUBIC if frame.shape[1] < width else cv2.INTER_AREA
    return cv2.resize(frame, (width, height), interpolation=interp)


class Av1KeyframeCodec(KeyframeCodec):
    """AV1 intra keyframes and per-segment inter sub-streams as raw OBUs (see the module docstring).

    >>> from lgvsc.samples import lavfi_frames
    >>> codec = Av1KeyframeCodec()
    >>> frame = lavfi_frames("testsrc2", 1)[0]
    >>> data = codec.encode(frame, 800)
    >>> len(data) <= 800, codec.decode(data, 576, 320).shape
    (True, (320, 576, 3))
    """

    codec_id = "av1"

    def __init__(self, preset: int = PRESET, ladder: Sequence[float] = LADDER) -> None:
        if not 0 <= preset <= 13:
            raise ValueError(f"SVT-AV1 preset must lie in 0..13, got {preset}")
        self.preset = int(preset)
        self.ladder = tuple(ladder)

    # -- encoding ------------------------------------------------------------
    def encode_sequence(self, frames: Sequence[np.ndarray], width: int, height: int, qp: int,
                        preset: int | None = None) -> list[bytes]:
        """Code ``frames`` at ``width x height`` and quantiser ``qp``: frame 0 intra, the rest inter
        (low delay). Returns one temporal unit per frame. ``preset`` overrides the codec's SVT-AV1 preset."""
        import av

        if not QP_MIN <= qp <= QP_MAX:
            raise ValueError(f"qp must lie in {QP_MIN}..{QP_MAX}, got {qp}")
        if width < MIN_SIDE or height < MIN_SIDE or width % 2 or height % 2:
            raise ValueError(f"coded size must be even and at least {MIN_SIDE}, got {width}x{height}")
        if "libsvtav1" not in av.codecs_available:
            raise ValueError("av1: encoding needs PyAV with libsvtav1 (SVT-AV1); choose --keyframe-codec webp")
        cc = av.CodecContext.create("libsvtav1", "w")
        cc.width, cc.height, cc.pix_fmt = width, height, "yuv420p"
        cc.time_base = Fraction(1, 24)
        # pred-struct=1: low delay (one temporal unit per input frame, in order); no scene-change keyframes,
        # so only frame 0 is intra; CQP at ``qp``.
        cc.options = {"preset": str(self.preset if preset is None else int(preset)), "qp": str(int(qp)),
                      "svtav1-params": "pred-struct=1:scd=0:keyint=-1:enable-tf=0:lookahead=0:lp=1"}
        out: list[bytes] = []
        for i, f in enumerate(frames):
            if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
                raise ValueError(f"expected (H, W, 3) uint8 frames, got {f.shape} {f.dtype}")
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(_resize(f, width, height)), format="rgb24")
            vf = vf.reformat(format="yuv420p")
            vf.pts = i
            out.extend(bytes(p) for p in cc.encode(vf))
        out.extend(bytes(p) for p in cc.encode(None))
        if len(out) != len(frames):  # low delay gives one packet per frame; anything else is a bug here
            raise RuntimeError(f"SVT-AV1 returned {len(out)} temporal units for {len(frames)} frames")
        return out

    def encode_intra(self, frame: np.ndarray, width: int, height: int, qp: int) -> bytes:
        """One intra temporal unit of ``frame`` at ``width x height`` and quantiser ``qp``."""
        return self.encode_sequence([frame], width, height, qp)[0]

    def fit_qp(self, frame: np.ndarray, width: int, height: int, byte_budget: int) -> tuple[int, bytes] | None:
        """The lowest qp (best quality) whose intra unit fits ``byte_budget``, or ``None``."""
        data = self.encode_intra(frame, width, height, QP_MAX)
        if len(data) > byte_budget:
            return None
        lo, hi, best = QP_MIN, QP_MAX, (QP_MAX, data)
        while lo < hi:  # invariant: hi fits
            mid = (lo + hi) // 2
            data = self.encode_intra(frame, width, height, mid)
            if len(data) <= byte_budget:
                hi, best = mid, (mid, data)
            else:
                lo = mid + 1
        return best

    def encode(self, frame: np.ndarray, byte_budget: int) -> bytes:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 frame, got {frame.shape} {frame.dtype}")
        if byte_budget <= 0:
            raise ValueError(f"byte_budget must be positive, got {byte_budget}")
        h, w = frame.shape[:2]
        best: tuple[float, bytes] | None = None
        worse = 0
        for cw, ch in ladder_sizes(w, h, self.ladder):
            fit = self.fit_qp(frame, cw, ch, byte_budget)
            if fit is None:
                continue
            mse = luma_mse(self.decode(fit[1], w, h), frame)
            if best is None or mse < best[0]:
                best, worse = (mse, fit[1]), 0
            else:
                worse += 1
                if worse >= 2:  # quality falls off on both sides of the best size
                    break
        if best is None:
            raise ValueError(f"av1: cannot code a keyframe in {byte_budget} bytes, even at {MIN_SIDE} px")
        return best[1]

    # -- decoding ------------------------------------------------------------
    def iter_decode_sequence(self, units: Sequence[bytes], width: int, height: int) -> Iterator[np.ndarray]:
        """:meth:`decode_sequence` one frame at a time (memory: a frame, not the sub-stream); a bad
        sub-stream raises ``ValueError`` where it is found, possibly after some frames."""
        import av

        if width <= 0 or height <= 0:
            raise ValueError(f"invalid target size {width}x{height}")
        if not units or any(not u for u in units):
            raise ValueError("av1: empty temporal unit")
        cc = av.CodecContext.create("libdav1d", "r")
        cc.options = {"max_pixels": str(MAX_CODED_SIDE * MAX_CODED_SIDE)}
        count = 0

        def convert(fr) -> np.ndarray:
            if not 1 <= fr.width <= MAX_CODED_SIDE or not 1 <= fr.height <= MAX_CODED_SIDE:
                raise ValueError(f"av1: coded size {fr.width}x{fr.height} out of bounds")
            return np.ascontiguousarray(_resize(fr.to_ndarray(format="rgb24"), width, height), dtype=np.uint8)

        for u in [*units, None]:
            try:
                got = cc.decode(None if u is None else av.Packet(bytes(u)))
            except (av.error.FFmpegError, ValueError) as exc:
                raise ValueError(f"av1: undecodable temporal unit ({exc})") from exc
            for fr in got:
                count += 1
                if count > len(units):
                    break
                yield convert(fr)
        if count != len(units):
            raise ValueError(f"av1: {len(units)} temporal units gave {count} frames")

    def decode_sequence(self, units: Sequence[bytes], width: int, height: int) -> list[np.ndarray]:
        """Decode a sub-stream (first unit intra) to frames at ``width x height``; ``ValueError`` if bad."""
        import av

        if width <= 0 or height <= 0:
            raise ValueError(f"invalid target size {width}x{height}")
        if not units or any(not u for u in units):
            raise ValueError("av1: empty temporal unit")
        cc = av.CodecContext.create("libdav1d", "r")
        cc.options = {"max_pixels": str(MAX_CODED_SIDE * MAX_CODED_SIDE)}
        frames = []
        try:
            for u in units:
                frames.extend(cc.decode(av.Packet(bytes(u))))
            frames.extend(cc.decode(None))
        except (av.error.FFmpegError, ValueError) as exc:
            raise ValueError(f"av1: undecodable temporal unit ({exc})") from exc
        if len(frames) != len(units):
            raise ValueError(f"av1: {len(units)} temporal units gave {len(frames)} frames")
        out = []
        for fr in frames:
            if not 1 <= fr.width <= MAX_CODED_SIDE or not 1 <= fr.height <= MAX_CODED_SIDE:
                raise ValueError(f"av1: coded size {fr.width}x{fr.height} out of bounds")
            out.append(np.ascontiguousarray(_resize(fr.to_ndarray(format="rgb24"), width, height), dtype=np.uint8))
        return out

    def decode(self, data: bytes, width: int, height: int) -> np.ndarray:
        if not data:
            raise ValueError("av1: empty keyframe data")
        return self.decode_sequence([data], width, height)[0]

    def coded_size(self, data: bytes) -> tuple[int, int]:
        """``(width, height)`` of the coded picture (0, 0 if undecodable)."""
        import av

        try:
            cc = av.CodecContext.create("libdav1d", "r")
            cc.options = {"max_pixels": str(MAX_CODED_SIDE * MAX_CODED_SIDE)}
            frames = list(cc.decode(av.Packet(bytes(data)))) + list(cc.decode(None))
            return (frames[0].width, frames[0].height) if frames else (0, 0)
        except Exception:  # noqa: BLE001 - any failure means "unknown"
            return (0, 0)
