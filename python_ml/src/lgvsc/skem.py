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

__all__ = ["DEFAULT_THRESHOLD", "CANDIDATE_PERIOD_S", "KeyframeSelection", "SkemStream", "candidate_step", "skem",
           "skim"]

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
    """Semantic keyframe extraction (see the module docstring) of a whole clip: :class:`SkemStream` fed
    every frame (only frame 0 and the candidates are read).

    :param batch_size: candidates per speculative window when the judge has no ``batch_size`` of its own.
    :param progress: called with the number of candidates just judged (for a progress bar).
    :param speculative: ``False`` compares one candidate at a time (the reference the batched form must equal).

    >>> from lgvsc.samples import drawn_scene
    >>> from lgvsc.backends.classical_judge import ClassicalJudge
    >>> clip = drawn_scene(num_frames=96, cuts=(50,))
    >>> skem(clip.frames, ClassicalJudge(), fps=24).indices
    [0, 52, 95]
    """
    if len(frames) == 0:
        raise ValueError("no frames")
    run = SkemStream(judge, fps, threshold, focus, batch_size, progress, speculative)
    for i in range(len(frames)):
        run.push(frames[i] if run.needs(i) else None)
    return run.finish()


class SkemStream:
    """SKEM over frames as they come (live input, any length): :meth:`push` each frame in order, then
    :meth:`finish`. It holds the last keyframe's description and the candidates not judged yet (at most
    one speculative window of frames), nothing per frame of the clip but the candidates' scores.

    The keyframes are exactly :func:`skem`'s: a candidate counts once the frame after it has come (the
    last frame is never a candidate), and a window is judged when it is full, or at the end, so the
    windows are the batch form's. A keyframe is known at most one window (``B`` candidates) after it.

    >>> from lgvsc.samples import drawn_scene
    >>> from lgvsc.backends.classical_judge import ClassicalJudge
    >>> run = SkemStream(ClassicalJudge(), fps=24)
    >>> new = [k for f in drawn_scene(num_frames=96, cuts=(50,)).frames for k in run.push(f)]
    >>> new, run.finish().indices
    ([52], [0, 52, 95])
    """

    def __init__(self, judge: SemanticJudge, fps: float, threshold: float = DEFAULT_THRESHOLD,
                 focus: Focus | str = Focus.GENERAL, batch_size: int = 16,
                 progress: Callable[[int], None] | None = None, speculative: bool = True) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must lie in [-1, 1], got {threshold}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.judge, self.threshold, self.focus = judge, float(threshold), Focus(focus)
        self.batch_size, self.progress, self.speculative = batch_size, progress, speculative
        self.step = candidate_step(fps)
        self.num_frames = 0
        self.indices: list[int] = [0]
        self.scores: dict[int, float] = {}
        self._last_desc: Any = None
        self._held: tuple[int, np.ndarray] | None = None  # a candidate until the next frame shows it is not the last
        self._queue: list[list] = []  # [index, frame, description] of the candidates not judged yet

    def needs(self, i: int) -> bool:
        """Whether frame ``i`` is read at all (frame 0 and the candidates); others may be pushed as ``None``."""
        return i == 0 or i % self.step == 0

    def push(self, frame: np.ndarray | None) -> list[int]:
        """Take the next frame; returns the keyframes decided by it (usually none)."""
        i = self.num_frames
        self.num_frames += 1
        if i == 0:
            (self._last_desc,) = self.judge.describe([frame], self.focus)
            return []
        new: list[int] = []
        if self._held is not None:  # frame i exists, so the held candidate i - 1 ... is not the last frame
            self._queue.append([*self._held, None])
            self._held = None
            new = self._judge(final=False)
        if i % self.step == 0:
            if frame is None:
                raise ValueError(f"frame {i} is a SKEM candidate and cannot be None")
            self._held = (i, frame)
        return new

    def finish(self) -> KeyframeSelection:
        """Judge the candidates left, close with the last frame; the whole :class:`KeyframeSelection`."""
        if self.num_frames == 0:
            raise ValueError("no frames")
        self._held = None  # the last frame is a keyframe, not a candidate
        self._judge(final=True)
        n = self.num_frames
        sel = KeyframeSelection(indices=list(self.indices), method="skem", num_frames=n, threshold=self.threshold,
                                focus=self.focus, scores=dict(self.scores))
        if n > 1:
            sel.indices.append(n - 1)
        return sel

    def _judge(self, final: bool) -> list[int]:
        new: list[int] = []
        while self._queue:
            size = _window(self.judge, self.batch_size) if self.speculative else 1
            if len(self._queue) < size and not final:
                break
            window = self._queue[:size]
            todo = [c for c in window if c[2] is None]
            if todo:
                for c, d in zip(todo, self.judge.describe([c[1] for c in todo], self.focus), strict=True):
                    c[1], c[2] = None, d  # described: the frame is not needed any more
            scores = _compare_many(self.judge, self._last_desc, [c[2] for c in window], self.focus)
            hit = next((k for k, s in enumerate(scores) if s > self.threshold), None)
            used = window if hit is None else window[:hit + 1]
            for c, s in zip(used, scores, strict=False):
                self.scores[c[0]] = s
            if hit is not None:
                i = window[hit][0]
                self.indices.append(i)
                new.append(i)
                self._last_desc = window[hit][2]
                log.debug("SKEM: keyframe at %d (S_rel %.3f)", i, scores[hit])
            del self._queue[:len(used)]  # behind the window now: never needed again
            if self.progress is not None:
                self.progress(len(used))
        return new


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
