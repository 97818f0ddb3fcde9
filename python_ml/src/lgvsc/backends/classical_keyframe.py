# SPDX-License-Identifier: GPL-3.0-or-later
"""Classical keyframe codecs: WebP and JPEG through Pillow, with a byte budget; :func:`keyframe_codec_for`.

The default keyframe codec is AV1 (:mod:`lgvsc.backends.av1_keyframe`, raw OBUs);
WebP and JPEG stay selectable and streams coded with them still decode.

:meth:`PillowKeyframeCodec.encode` binary-searches the largest quality whose
output fits the budget at full resolution; when even that quality is below
``min_quality`` (the picture would be mostly artefacts), it scales the frame
down (x0.8 per step, INTER_AREA) and searches again, so a small budget buys a
smaller but cleaner picture that the receiver upscales. The coded size
travels inside the image header; :meth:`decode` resizes to the requested
size. Undecodable or oversized data raises ``ValueError``.
"""

from __future__ import annotations

import io

import numpy as np

from .base import KeyframeCodec

__all__ = ["PillowKeyframeCodec", "WebPKeyframeCodec", "JpegKeyframeCodec", "keyframe_codec_for", "KEYFRAME_CODECS",
           "MAX_CODED_SIDE", "default_keyframe_codec"]

MAX_CODED_SIDE = 4096  # never decode anything larger (untrusted input)
MIN_SIDE = 16
SCALE_STEP = 0.8


class PillowKeyframeCodec(KeyframeCodec):
    """A Pillow still-image codec with a byte budget and resolution scaling.

    >>> import numpy as np
    >>> from lgvsc.samples import lavfi_frames
    >>> codec = WebPKeyframeCodec()
    >>> frame = lavfi_frames("testsrc2", 1)[0]
    >>> data = codec.encode(frame, 1500)
    >>> len(data) <= 1500, codec.decode(data, 576, 320).shape
    (True, (320, 576, 3))
    """

    pil_format = "WEBP"
    codec_id = "pillow"
    q_lo, q_hi = 0, 100

    def __init__(self, min_quality: int = 10, method: int = 4) -> None:
        if not self.q_lo <= min_quality <= self.q_hi:
            raise ValueError(f"min_quality must lie in [{self.q_lo}, {self.q_hi}], got {min_quality}")
        self.min_quality = int(min_quality)
        self.method = int(method)

    def _save(self, img, quality: int) -> bytes:
        buf = io.BytesIO()
        if self.pil_format == "WEBP":
            img.save(buf, format="WEBP", quality=quality, method=self.method)
        else:
            img.save(buf, format="JPEG", quality=quality, optimize=True, subsampling=2)
        return buf.getvalue()

    def _best_fit(self, img, budget: int) -> tuple[int, bytes] | None:
        lo, hi = self.q_lo, self.q_hi
        best = None
        data = self._save(img, lo)
        if len(data) > budget:
            return None
        best = (lo, data)
        while lo < hi:  # invariant: quality lo fits
            mid = (lo + hi + 1) // 2
            data = self._save(img, mid)
            if len(data) <= budget:
                lo, best = mid, (mid, data)
            else:
                hi = mid - 1
        return best

    def encode(self, frame: np.ndarray, byte_budget: int) -> bytes:
        import cv2
        from PIL import Image

        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 frame, got {frame.shape} {frame.dtype}")
        if byte_budget <= 0:
            raise ValueError(f"byte_budget must be positive, got {byte_budget}")
        h, w = frame.shape[:2]
        scale = 1.0
        fallback: bytes | None = None
        while True:
            sw, sh = max(MIN_SIDE, round(w * scale)), max(MIN_SIDE, round(h * scale))
            small = frame if scale == 1.0 else cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA)
            fit = self._best_fit(Image.fromarray(np.ascontiguousarray(small)), byte_budget)
            if fit is not None:
                q, data = fit
                if q >= self.min_quality:
                    return data
                fallback = fallback or data
            if sw == MIN_SIDE or sh == MIN_SIDE:
                break
            scale *= SCALE_STEP
        if fallback is not None:
            return fallback
        raise ValueError(f"{self.codec_id}: cannot code a keyframe in {byte_budget} bytes, even at {MIN_SIDE} px")

    def decode(self, data: bytes, width: int, height: int) -> np.ndarray:
        import cv2
        from PIL import Image, UnidentifiedImageError

        if width <= 0 or height <= 0:
            raise ValueError(f"invalid target size {width}x{height}")
        if not data:
            raise ValueError(f"{self.codec_id}: empty keyframe data")
        try:
            with Image.open(io.BytesIO(bytes(data)), formats=[self.pil_format]) as img:
                if max(img.size) > MAX_CODED_SIDE or min(img.size) < 1:
                    raise ValueError(f"{self.codec_id}: coded size {img.size} out of bounds")
                arr = np.asarray(img.convert("RGB"))
        except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
            raise ValueError(f"{self.codec_id}: undecodable keyframe ({exc})") from exc
        if arr.shape[:2] != (height, width):
            interp = cv2.INTER_CUBIC if arr.shape[1] < width else cv2.INTER_AREA
            arr = cv2.resize(arr, (width, height), interpolation=interp)
        return np.ascontiguousarray(arr, dtype=np.uint8)

    @staticmethod
    def coded_size(data: bytes) -> tuple[int, int]:
        """``(width, height)`` stored in the image header (0, 0 if unreadable)."""
        from PIL import Image

        try:
            with Image.open(io.BytesIO(bytes(data))) as img:
                return img.size
        except Exception:  # noqa: BLE001 - any failure means "unknown"
            return (0, 0)


class WebPKeyframeCodec(PillowKeyframeCodec):
    """WebP (lossy, libwebp through Pillow); the default keyframe codec."""

    pil_format = "WEBP"
    codec_id = "webp"
    q_lo, q_hi = 0, 100


class JpegKeyframeCodec(PillowKeyframeCodec):
    """Baseline JPEG (libjpeg through Pillow); the fallback where WebP is unavailable."""

    pil_format = "JPEG"
    codec_id = "jpeg"
    q_lo, q_hi = 1, 95


def _av1() -> KeyframeCodec:
    import av

    from .av1_keyframe import Av1KeyframeCodec

    if "libdav1d" not in av.codecs_available:  # decoding needs only dav1d; encoding checks for SVT-AV1 itself
        raise ValueError("keyframe codec 'av1' needs PyAV with libdav1d")
    return Av1KeyframeCodec()


def default_keyframe_codec() -> str:
    """``av1`` where this PyAV can encode and decode it (libsvtav1, libdav1d), else ``webp``."""
    from .av1_keyframe import av1_available

    return "av1" if av1_available() else "webp"


_CODECS = {"av1": _av1, "webp": WebPKeyframeCodec, "jpeg": JpegKeyframeCodec}
#: Keyframe codec ids, default first.
KEYFRAME_CODECS = tuple(_CODECS)


def keyframe_codec_for(codec_id: str) -> KeyframeCodec:
    """The codec for a stream's ``codec_id`` (``av1``, ``webp`` or ``jpeg``); ``ValueError`` if unknown."""
    try:
        factory = _CODECS[codec_id]
    except KeyError:
        raise ValueError(f"unknown keyframe codec {codec_id!r} (known: {sorted(_CODECS)})") from None
    return factory()
