# SPDX-License-Identifier: GPL-3.0-or-later
"""Keyframe selection: SKEM (semantic, the paper's method) and SKIM (uniform baseline).

SKEM, exactly as the paper: candidate frames every ``int(0.2 * fps)`` frames;
each candidate is compared with the *last keyframe* by the judge's PSSS
``S_rel``; it becomes a keyframe when ``S_rel > threshold`` (0.35). The first
and last frames are always keyframes.

Speculative batches (docs/models.md): the last keyframe is compared with the
next ``B`` candidates at once (their round-1 descriptions in one batch, the
``B`` round-2 compares in another, :meth:`compare_batch` where the judge has
one). The first candidate over the threshold becomes the keyframe and the
window restarts right after it, so the keyframes are exactly those of the
one-candidate-at-a-time algorithm; compares made past that candidate are
discarded, their descriptions are kept. Every frame is described once (read
and resized once by the judge), and a keyframe's description is the one it
got as a candidate. ``B`` is the judge's ``batch_size`` when it has one (the
hf judge's ``--psss-batch``, which may adapt to memory), else ``batch_size``.

SKIM spreads a given number of keyframes uniformly (first and last included).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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


def _window(judge: SemanticJudge, batch_size: int) -> int:
    b = getattr(judge, "batch_size", None)
    return int(b) if isinstance(b, int) and not isinstance(b, bool) and b >= 1 else batch_size


def _compare_many(judge: SemanticJudge, ref: Any, descs: Sequence[Any], focus: Focus) -> list[float]:
    batch = getattr(judge, "compare_batch", None)
    if batch is not None:
        return [float(v) for v in batch([(ref, d) for d in descs], focus)]
    return [float(judge.compare(ref, d, focus)) for d in descs]


def skem(
    frames: Sequence[np.ndarray] | np.ndarray,
    judge: SemanticJudge,
    fps: float,
    threshold: float = DEFAULT_THRESHOLD,
    focus: Focus | str = Focus.GENERAL,
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
    speculative: bool = True,
) -> KeyframeSelection:
    """Semantic keyframe extraction (see the module docstring).

    :param batch_size: candidates per speculative window when the judge has no ``batch_size`` of its own.
    :param progress: called with the number of candidates just judged (for a progress bar).
    :param speculative: ``False`` compares one candidate at a time (the reference the batched form must equal).

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
    descs: dict[int, Any] = {}  # candidate -> its round-1 description (computed once)
    pos = 0
    while pos < len(candidates):
        window = candidates[pos:pos + (_window(judge, batch_size) if speculative else 1)]
        todo = [i for i in window if i not in descs]
        if todo:
            descs.update(zip(todo, judge.describe([frames[i] for i in todo], focus), strict=True))
        scores = _compare_many(judge, last_desc, [descs[i] for i in window], focus)
        hit = next((k for k, s in enumerate(scores) if s > threshold), None)
        used = window if hit is None else window[:hit + 1]
        for i, s in zip(used, scores, strict=False):
            sel.scores[i] = s
        if hit is not None:
            i = window[hit]
            sel.indices.append(i)
            last_desc = descs[i]
            log.debug("SKEM: keyframe at %d (S_rel %.3f)", i, scores[hit])
        for i in used:
            descs.pop(i, None)  # behind the window now: never needed again
        pos += len(used)
        if progress is not None:
            progress(len(used))
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
