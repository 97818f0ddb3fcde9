# SPDX-License-Identifier: GPL-3.0-or-later
"""Backend interfaces of the semantic codec.

Every interface has an offline classical implementation (no weights, the
embedded default) and a Hugging Face one (``from_pretrained``). Frames are
``numpy.ndarray`` of shape ``(H, W, 3)``, dtype ``uint8``, RGB. Clips are
``(F, H, W, 3)`` uint8 arrays.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from enum import StrEnum
from typing import Any

import numpy as np

__all__ = [
    "Focus",
    "SemanticJudge",
    "Captioner",
    "KeyframeCodec",
    "MotionEstimator",
    "SegmentGenerator",
    "SegmentRequest",
]


class Focus(StrEnum):
    """The paper's semantic focus prompts for PSSS."""

    GENERAL = "general"
    MAIN_OBJECT = "main object"
    BACKGROUND = "background"


class SemanticJudge(ABC):
    """PSSS: ``S_rel(a, b, focus) = P("No") - P("Yes")`` in [-1, 1]; higher = more different.

    The paper's two rounds are exposed separately so that the first round
    (describe each frame, independent per frame) runs in batches and the last
    keyframe's description is reused; only :meth:`compare` runs in sequence.
    A description is opaque: text for a VLM, a feature record for the classical judge.
    """

    name: str = "judge"

    @abstractmethod
    def describe(self, frames: Sequence[np.ndarray], focus: Focus = Focus.GENERAL) -> list[Any]:
        """Round 1, batched: one description per frame."""

    @abstractmethod
    def compare(self, a: Any, b: Any, focus: Focus = Focus.GENERAL) -> float:
        """Round 2: ``S_rel`` of two descriptions, in [-1, 1]."""

    def score(self, a: np.ndarray, b: np.ndarray, focus: Focus = Focus.GENERAL) -> float:
        """``S_rel`` of two frames (both rounds)."""
        da, db = self.describe([a, b], focus)
        return self.compare(da, db, focus)


class Captioner(ABC):
    """One caption per segment."""

    name: str = "captioner"

    @abstractmethod
    def caption(self, frames: Sequence[np.ndarray]) -> str:
        """Caption for a segment given a few of its frames (first, middle, last...)."""

    def caption_segment(self, frames: Sequence[np.ndarray], index: int, start_s: float, end_s: float) -> str:
        """Caption for segment ``index`` spanning ``[start_s, end_s]`` seconds; defaults to :meth:`caption`.

        Captioners that need to know where the segment lies (user-supplied captions) override this.
        """
        return self.caption(frames)


class KeyframeCodec(ABC):
    """A digital image codec with a byte budget, so keyframes travel as bits."""

    codec_id: str = "codec"

    @abstractmethod
    def encode(self, frame: np.ndarray, byte_budget: int) -> bytes:
        """Encode ``frame`` in at most ``byte_budget`` bytes (resolution may be scaled)."""

    @abstractmethod
    def decode(self, data: bytes, width: int, height: int) -> np.ndarray:
        """Decode to an ``(height, width, 3)`` uint8 frame; raises ``ValueError`` on bad data."""


class MotionEstimator(ABC):
    """Mean optical-flow magnitude of a segment, and its quantised motion score."""

    name: str = "motion"

    @abstractmethod
    def magnitude(self, frames: Sequence[np.ndarray]) -> float:
        """Mean flow magnitude in pixels per frame at the analysis resolution."""

    @abstractmethod
    def score(self, magnitude: float) -> float:
        """The scalar motion score that goes into the prompt (quantised)."""


class SegmentRequest:
    """What the DSA decoder knows of one segment when it generates it.

    ``refinements`` are decoded refinement frames inside the segment (beyond the paper,
    docs/keyframe-channel.md): ``(offset, frame)`` pairs, ``offset`` counted from the first
    frame of this request, strictly increasing and in ``1..num_frames - 2``; each frame has the
    keyframes' shape. A generator should pass through them (the classical one interpolates
    piecewise; the hf one conditions on them at their offsets).

    ``segment_index`` (the segment's index in the stream) and ``chunk_index`` (which piece of a
    segment the decoder split for memory) let a generator derive a seed per segment and piece.
    """

    __slots__ = ("first", "last", "num_frames", "caption", "motion_score", "prev_tail", "fps", "refinements",
                 "segment_index", "chunk_index")

    def __init__(
        self,
        first: np.ndarray,
        last: np.ndarray,
        num_frames: int,
        caption: str = "",
        motion_score: float = 0.0,
        prev_tail: np.ndarray | None = None,
        fps: float = 24.0,
        refinements: Sequence[tuple[int, np.ndarray]] = (),
        segment_index: int = 0,
        chunk_index: int = 0,
    ) -> None:
        if num_frames < 2:
            raise ValueError(f"a segment spans at least its two boundary keyframes, got num_frames={num_frames}")
        if first.shape != last.shape:
            raise ValueError(f"boundary keyframes differ in shape: {first.shape} vs {last.shape}")
        self.first = first
        self.last = last
        self.num_frames = int(num_frames)
        self.caption = caption
        self.motion_score = float(motion_score)
        self.prev_tail = prev_tail
        self.fps = float(fps)
        refs = [(int(k), f) for k, f in refinements]
        offsets = [k for k, _ in refs]
        if offsets != sorted(set(offsets)) or (offsets and not 1 <= offsets[0] <= offsets[-1] <= num_frames - 2):
            raise ValueError(f"refinement offsets must be unique, increasing and in 1..{num_frames - 2}, got {offsets}")
        if any(f.shape != first.shape for _, f in refs):
            raise ValueError("refinement frames must have the keyframes' shape")
        self.refinements = refs
        self.segment_index = int(segment_index)
        self.chunk_index = int(chunk_index)


class SegmentGenerator(ABC):
    """DSA: rebuild one segment at its true length from both boundary keyframes."""

    name: str = "generator"

    @abstractmethod
    def generate(self, request: SegmentRequest) -> np.ndarray:
        """Return ``(num_frames, H, W, 3)`` uint8, frame 0 ~ first keyframe, frame -1 ~ last keyframe."""

    def generate_pieces(self, request: SegmentRequest, max_frames: int) -> Iterator[np.ndarray]:
        """:meth:`generate`'s frames as consecutive pieces of at most ``max_frames`` frames where the
        generator can make them that way (the classical one: each frame depends only on the keyframes),
        so a caller holds a piece, not the segment. This default yields :meth:`generate`'s array whole."""
        yield np.asarray(self.generate(request))
