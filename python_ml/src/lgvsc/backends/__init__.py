# SPDX-License-Identifier: GPL-3.0-or-later
"""Backends of the semantic codec: interfaces in :mod:`.base`, classical and Hugging Face implementations."""

from .base import (
    Captioner,
    Focus,
    KeyframeCodec,
    MotionEstimator,
    SegmentGenerator,
    SegmentRequest,
    SemanticJudge,
)

__all__ = ["Captioner", "Focus", "KeyframeCodec", "MotionEstimator", "SegmentGenerator", "SegmentRequest", "SemanticJudge"]
