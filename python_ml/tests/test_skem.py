# SPDX-License-Identifier: GPL-3.0-or-later
"""SKEM/SKIM on real and synthetic clips with the classical judge."""

from __future__ import annotations

import numpy as np
import pytest

from lgvsc.backends.base import Focus, SemanticJudge
from lgvsc.backends.classical_judge import ClassicalJudge
from lgvsc.samples import BIKES_CUTS_25FPS, bikes_path, carphone_path, pan_clip, sample_path, splice
from lgvsc.skem import candidate_step, skem, skim
from lgvsc.video import read_video

FPS = 24
STEP = candidate_step(FPS)


@pytest.fixture(scope="module")
def judge():
    return ClassicalJudge()


@pytest.fixture(scope="module")
def carphone():
    return read_video(carphone_path()).frames


@pytest.fixture(scope="module")
def bunny():
    return read_video(sample_path("bigbuckbunny.mp4")).frames


def test_candidate_step_is_the_papers():
    assert candidate_step(24) == 4 and candidate_step(30) == 6 and candidate_step(25) == 5 and candidate_step(3) == 1


def test_spliced_real_shots_get_a_keyframe_within_one_step_after_the_cut(judge, carphone, bunny):
    for a, b in [(carphone, bunny), (bunny[:70], carphone)]:
        clip, cut = splice(a, b)
        sel = skem(clip, judge, FPS)
        after = [k for k in sel.indices if cut <= k <= cut + STEP]
        assert after, f"no keyframe in [{cut}, {cut + STEP}]: {sel.indices}"
        assert sel.indices[0] == 0 and sel.indices[-1] == len(clip) - 1


def test_real_cuts_of_bikes_are_found(judge):
    frames = read_video(bikes_path()).frames
    sel = skem(frames, judge, FPS)
    for c25 in BIKES_CUTS_25FPS:
        cut = int(np.ceil(c25 * 24 / 25))  # first frame of the new shot at 24 fps
        assert any(cut - 1 <= k <= cut + STEP for k in sel.indices), (cut, sel.indices)


@pytest.mark.parametrize("speed", [0.0, 1.0])
def test_static_or_slow_pan_adds_no_keyframe(judge, carphone, bunny, speed):
    for src in (carphone[0], bunny[60]):
        clip = pan_clip(src, num_frames=120, speed=speed).frames
        assert skem(clip, judge, FPS).indices == [0, 119]


def test_single_shot_real_clip_keeps_only_the_ends(judge, carphone):
    assert skem(carphone, judge, FPS).indices == [0, len(carphone) - 1]


class CountingJudge(SemanticJudge):
    """Records calls; a frame's 'description' is its mean value; S_rel = 1 when they differ by > 10."""

    name = "counting"

    def __init__(self):
        self.describe_calls: list[int] = []
        self.compared: list[tuple[float, float]] = []

    def describe(self, frames, focus=Focus.GENERAL):
        self.describe_calls.append(len(frames))
        return [float(f.mean()) for f in frames]

    def compare(self, a, b, focus=Focus.GENERAL):
        self.compared.append((a, b))
        return 1.0 if abs(a - b) > 10 else -1.0


def test_describe_is_batched_and_last_keyframe_description_reused():
    frames = np.zeros((100, 4, 4, 3), np.uint8)
    frames[50:] = 100
    j = CountingJudge()
    sel = skem(frames, j, fps=24, batch_size=8)
    cands = list(range(4, 99, 4))
    assert sel.indices == [0, 52, 99]
    assert j.describe_calls[0] == 1  # the first keyframe, once
    assert sum(j.describe_calls) == 1 + len(cands)  # every candidate described exactly once
    assert max(j.describe_calls[1:]) == 8
    # after the keyframe at 52, candidates are compared with its description (100), not frame 0's (0);
    # the speculative compares past 52 made against frame 0 are discarded
    after = len(cands) - cands.index(52) - 1
    assert all(a == 100.0 for a, b in j.compared[-after:])
    assert sorted(sel.scores) == cands


def test_threshold_is_strictly_greater():
    frames = np.zeros((20, 4, 4, 3), np.uint8)

    class Fixed(CountingJudge):
        def compare(self, a, b, focus=Focus.GENERAL):
            return 0.35

    assert skem(frames, Fixed(), fps=24).indices == [0, 19]
    assert skem(frames, Fixed(), fps=24, threshold=0.3).indices == [0, 4, 8, 12, 16, 19]


def test_focus_is_passed_to_the_judge(judge):
    frames = np.zeros((10, 32, 32, 3), np.uint8)
    seen = []

    class Spy(CountingJudge):
        def describe(self, frames, focus=Focus.GENERAL):
            seen.append(focus)
            return super().describe(frames, focus)

    skem(frames, Spy(), fps=24, focus="background")
    assert set(seen) == {Focus.BACKGROUND}


def test_skim_uniform_and_edge_cases():
    assert skim(97, 5).indices == [0, 24, 48, 72, 96]
    assert skim(10, 2).indices == [0, 9]
    assert skim(3, 10).indices == [0, 1, 2]
    assert skim(1, 2).indices == [0]
    with pytest.raises(ValueError):
        skim(10, 1)


def test_one_frame_and_empty_clips():
    j = CountingJudge()
    assert skem(np.zeros((1, 4, 4, 3), np.uint8), j, 24).indices == [0]
    with pytest.raises(ValueError):
        skem(np.zeros((0, 4, 4, 3), np.uint8), j, 24)


# -- speculative batches pick exactly the sequential keyframes ----------------------------------------


def test_speculative_batches_pick_the_sequential_keyframes_on_real_cuts(judge):
    frames = read_video(bikes_path()).frames[:150]  # two of bikes' cuts, ~37 candidates
    seq = skem(frames, judge, FPS, speculative=False)
    assert len(seq.indices) > 2
    for b in (3, 16):
        spec = skem(frames, judge, FPS, batch_size=b)
        assert spec.indices == seq.indices and spec.scores == seq.scores, b


class BatchJudge(CountingJudge):
    """A CountingJudge with a batched round 2 and a speculative window of its own."""

    batch_size = 5

    def __init__(self):
        super().__init__()
        self.batches: list[int] = []

    def compare_batch(self, pairs, focus=Focus.GENERAL):
        self.batches.append(len(pairs))
        return [self.compare(a, b, focus) for a, b in pairs]


def test_window_follows_the_judge_and_restarts_after_a_keyframe():
    frames = np.zeros((100, 4, 4, 3), np.uint8)
    frames[50:] = 100
    j = BatchJudge()
    progress = []
    sel = skem(frames, j, fps=24, batch_size=16, progress=progress.append)
    cands = list(range(4, 99, 4))
    assert sel.indices == [0, 52, 99] and sorted(sel.scores) == cands
    assert max(j.batches) == 5  # the judge's batch_size, not the argument
    assert sum(j.describe_calls) == 1 + len(cands)  # speculated descriptions are kept, never redone
    assert sum(progress) == len(cands)
    # the window ending at the keyframe 52 restarts at 56, compared with 52's description
    assert j.compared[sum(j.batches[:cands.index(52) // 5 + 1])] == (100.0, 100.0)
