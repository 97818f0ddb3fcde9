# SPDX-License-Identifier: GPL-3.0-or-later
"""Keyframe selection: SKEM (semantic, the paper's method) and SKIM (uniform baseline).

SKEM, exactly as the paper: candidate frames every ``int(0.2 * fps)`` frames;
each candidate is compared with the *last keyframe* by the judge's PSSS
``S_rel``; it becomes a keyframe when ``S_rel > threshold`` (0.35). The first
and last frames are always keyframes. The judge's round 1 (``describe``) runs
on batches of candidates; the last keyframe's description is reused, so only
``compare`` runs in sequence.

SKIM spreads a given number of keyframes uniformly (first and last included).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from lgvsc.backends.base import Focus, SemanticJudge

__all__ = ["DEFAULT_THRESHOLD", "CANDIDATE_PERIOD_S", "KeyframeSelection", "candidate_step", "skem", "skim"]

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.35
CANDIDATE_PERIOD_S = 0.2


@dataclass
class KeyframeSelection:
    """Chosen keyframe indices (sorted, first and last frame included) and how they were chosen."""

    indices: list[int]
    method: str
    num_frames: int
    threshold: float = DEFAULT_THRESHOLD
    focus: Focus = Focus.GENERAL
    #: S_rel of every SKEM candidate against the keyframe that was current when it was judged.
    scores: dict[int, float] = field(default_factory=dict)

    @property
    def segments(self) -> list[tuple[int, int]]:
        """``(start, end)`` inclusive frame ranges between consecutive keyframes."""
        return list(zip(self.indices, self.indices[1:], strict=False))


def candidate_step(fps: float) -> int:
    """The paper's candidate spacing ``int(0.2 * fps)`` (at least 1)."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return max(1, int(CANDIDATE_PERIOD_S * fps))


def skem(
    frames: Sequence[np.ndarray] | np.ndarray,
    judge: SemanticJudge,
    fps: float,
    threshold: float = DEFAULT_THRESHOLD,
    focus: Focus | str = Focus.GENERAL,
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
) -> KeyframeSelection:
    """Semantic keyframe extraction (see the module docstring).

    :param progress: called with the number of candidates just judged (for a progress bar).

    >>> from lgvsc.samples import drawn_scene
    >>> from lgvsc.backends.classical_judge import ClassicalJudge
    >>> clip = drawn_scene(num_frames=96, cuts=(50,))
    >>> skem(clip.frames, ClassicalJudge(), fps=24).indices
    [0, 52, 95]
    """
    n = len(frames)
    if n == 0:
        raise ValueError("no frames")
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [-1, 1], got {threshold}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    focus = Focus(focus)
    sel = KeyframeSelection(indices=[0], method="skem", num_frames=n, threshold=threshold, focus=focus)
    if n == 1:
        return sel
    step = candidate_step(fps)
    candidates = list(range(step, n - 1, step))
    (last_desc,) = judge.describe([frames[0]], focus)
    for b in range(0, len(candidates), batch_size):
        batch = candidates[b : b + batch_size]
        descs = judge.describe([frames[i] for i in batch], focus)
        for i, d in zip(batch, descs, strict=True):
            s = float(judge.compare(last_desc, d, focus))
            sel.scores[i] = s
            if s > threshold:
                sel.indices.append(i)
                last_desc = d
                log.debug("SKEM: keyframe at %d (S_rel %.3f)", i, s)
        if progress is not None:
            progress(len(batch))
    sel.indices.append(n - 1)
    return sel


def skim(num_frames: int, count: int) -> KeyframeSelection:
    """Uniform keyframes: ``count`` indices (>= 2, first and last included) evenly spread.

    >>> skim(97, 5).indices
    [0, 24, 48, 72, 96]
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if num_frames == 1:
        return KeyframeSelection(indices=[0], method="skim", num_frames=1)
    if count < 2:
        raise ValueError(f"SKIM needs at least 2 keyframes (first and last), got {count}")
    count = min(count, num_frames)
    idx = sorted({int(round(x)) for x in np.linspace(0, num_frames - 1, count)})
    return KeyframeSelection(indices=idx, method="skim", num_frames=num_frames)
