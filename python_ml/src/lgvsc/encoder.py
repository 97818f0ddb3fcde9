# SPDX-License-Identifier: GPL-3.0-or-later
"""Semantic encoder: video -> :class:`~lgvsc.stream.SemanticStream`.

Keyframes are chosen by SKEM (or SKIM), coded with the keyframe codec under a
byte budget, and every segment between two keyframes gets a caption and a
motion score.

**Keyframe byte budget.** By default (``keyframe_bytes=None``) the budget
follows a target CBR: the paper's full-system figure 6e-4 with QPSK rate 1/2
(one information bit per channel symbol), i.e. a stream of at most
``target_cbr * 3*W*H*F / 8`` bytes (about 4 kB for 4 s, 10 kB for 10 s at
576x320). What the header, captions and motion scores take is subtracted and
the rest is shared equally by the keyframes, clamped to
[:data:`MIN_KEYFRAME_BYTES`, :data:`MAX_KEYFRAME_BYTES`]. A fixed
``keyframe_bytes`` overrides this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lgvsc.backends.base import Focus
from lgvsc.profiles import Backends
from lgvsc.skem import DEFAULT_THRESHOLD, KeyframeSelection, skem, skim
from lgvsc.stream import Keyframe, Segment, SemanticStream
from lgvsc.video import VideoClip

__all__ = [
    "DEFAULT_TARGET_CBR",
    "MIN_KEYFRAME_BYTES",
    "MAX_KEYFRAME_BYTES",
    "EncoderConfig",
    "SemanticEncoder",
    "payload_bytes_for_cbr",
]

log = logging.getLogger(__name__)

DEFAULT_TARGET_CBR = 6e-4
MIN_KEYFRAME_BYTES = 400
MAX_KEYFRAME_BYTES = 4000


def payload_bytes_for_cbr(cbr: float, width: int, height: int, num_frames: int, modulation: str = "qpsk",
                          code_rate: float = 0.5) -> int:
    """Payload bytes whose paper CBR (channel symbols / (3·H·W·F)) is at most ``cbr``."""
    from lgvsc.accounting import payload_bits_for_cbr

    return payload_bits_for_cbr(cbr, width, height, num_frames, modulation, code_rate) // 8


@dataclass
class EncoderConfig:
    """How to encode (see :class:`SemanticEncoder`)."""

    method: str = "skem"  # "skem" or "skim"
    threshold: float = DEFAULT_THRESHOLD
    focus: Focus = Focus.GENERAL
    keyframe_bytes: int | None = None  # None: from target_cbr
    target_cbr: float = DEFAULT_TARGET_CBR
    skim_count: int | None = None  # SKIM keyframes; None: as many as SKEM would choose
    caption_frames: int = 3
    batch_size: int = 16
    stream_id: int = 0

    def __post_init__(self) -> None:
        self.focus = Focus(self.focus)
        if self.method not in ("skem", "skim"):
            raise ValueError(f"method must be 'skem' or 'skim', got {self.method!r}")
        if self.keyframe_bytes is not None and self.keyframe_bytes < 64:
            raise ValueError(f"keyframe_bytes must be >= 64, got {self.keyframe_bytes}")
        if not self.target_cbr > 0:
            raise ValueError(f"target_cbr must be positive, got {self.target_cbr}")
        if self.skim_count is not None and self.skim_count < 2:
            raise ValueError(f"skim_count must be >= 2, got {self.skim_count}")
        if self.caption_frames < 1:
            raise ValueError(f"caption_frames must be >= 1, got {self.caption_frames}")


class SemanticEncoder:
    """Turn a normalised :class:`~lgvsc.video.VideoClip` into a :class:`~lgvsc.stream.SemanticStream`.

    >>> from lgvsc.profiles import build_backends
    >>> from lgvsc.samples import drawn_scene
    >>> from lgvsc.video import VideoClip
    >>> d = drawn_scene(num_frames=48, cuts=(24,))
    >>> s = SemanticEncoder(build_backends()).encode(VideoClip(d.frames, d.fps))
    >>> s.keyframe_indices(), len(s.segments)
    ([0, 24, 47], 2)
    """

    def __init__(self, backends: Backends, config: EncoderConfig | None = None) -> None:
        self.backends = backends
        self.config = config or EncoderConfig()

    def select(self, clip: VideoClip, progress: Callable[[int], None] | None = None) -> KeyframeSelection:
        """Choose the keyframes (SKEM, or SKIM with ``skim_count`` or SKEM's count)."""
        c = self.config
        if c.method == "skem" or c.skim_count is None:
            sel = skem(clip.frames, self.backends.judge, float(clip.fps), c.threshold, c.focus, c.batch_size, progress)
            if c.method == "skem":
                return sel
            count = len(sel.indices)
        else:
            count = c.skim_count
        out = skim(clip.num_frames, count)
        out.focus, out.threshold = c.focus, c.threshold
        return out

    def _segments(self, clip: VideoClip, sel: KeyframeSelection) -> list[Segment]:
        fps = float(clip.fps)
        segs = []
        for i, (a, b) in enumerate(sel.segments):
            picks = np.unique(np.linspace(a, b, self.config.caption_frames).round().astype(int))
            frames = [clip.frames[k] for k in picks]
            caption = self.backends.captioner.caption_segment(frames, index=i, start_s=a / fps, end_s=(b + 1) / fps)
            mag = float(self.backends.motion.magnitude(clip.frames[a : b + 1]))
            segs.append(Segment(index=i, start_frame=a, end_frame=b, caption=caption,
                                motion_score=float(self.backends.motion.score(mag)), motion_magnitude=mag))
        return segs

    def keyframe_budget(self, stream_without_keyframes: SemanticStream, num_keyframes: int) -> int:
        """Bytes per keyframe: fixed, or what the target CBR leaves after the rest of the stream."""
        if self.config.keyframe_bytes is not None:
            return int(self.config.keyframe_bytes)
        from lgvsc.wire import stream_to_bytes

        v = stream_without_keyframes.video
        total = payload_bytes_for_cbr(self.config.target_cbr, v.width, v.height, v.num_frames)
        overhead = len(stream_to_bytes(stream_without_keyframes))
        per = (total - overhead) // max(1, num_keyframes)
        return int(min(MAX_KEYFRAME_BYTES, max(MIN_KEYFRAME_BYTES, per)))

    def encode(self, clip: VideoClip, progress: bool = False) -> SemanticStream:
        """Encode ``clip``; ``progress`` shows tqdm bars on stderr."""
        from tqdm import tqdm

        c = self.config
        step_total = max(0, (clip.num_frames - 2) // max(1, int(0.2 * float(clip.fps))))
        with tqdm(total=step_total, desc="keyframes", unit="cand", disable=not progress, leave=False) as bar:
            sel = self.select(clip, bar.update)
        log.info("%s chose %d keyframes: %s", sel.method, len(sel.indices), sel.indices)
        segs = self._segments(clip, sel)
        codec = self.backends.keyframe_codec
        stream = SemanticStream(video=clip.info(), keyframes=[
            Keyframe(frame_index=i, codec_id=codec.codec_id, data=b"") for i in sel.indices
        ], segments=segs, stream_id=c.stream_id, method=sel.method, focus=c.focus.value, threshold=c.threshold,
            profile=getattr(self.backends, "profile", "classical"))
        budget = self.keyframe_budget(stream, len(sel.indices))
        log.info("keyframe budget: %d bytes", budget)
        kfs = []
        for i in tqdm(sel.indices, desc="keyframe coding", unit="kf", disable=not progress, leave=False):
            data = codec.encode(clip.frames[i], budget)
            w, h = codec.coded_size(data) if hasattr(codec, "coded_size") else (0, 0)
            kfs.append(Keyframe(frame_index=i, codec_id=codec.codec_id, data=data, coded_width=w, coded_height=h))
        stream.keyframes = kfs
        stream.validate()
        return stream
