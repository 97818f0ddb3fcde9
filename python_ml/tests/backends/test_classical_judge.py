# SPDX-License-Identifier: GPL-3.0-or-later
"""Classical PSSS judge: contract, calibration at the paper's threshold, focus regions."""

from __future__ import annotations

import numpy as np
import pytest

from lgvsc.backends.base import Focus
from lgvsc.backends.classical_judge import ClassicalJudge, focus_weights
from lgvsc.samples import bikes_path, carphone_path, drawn_scene, pan_clip
from lgvsc.video import read_video

THR = 0.35


@pytest.fixture(scope="module")
def judge():
    return ClassicalJudge()


@pytest.fixture(scope="module")
def car():
    return read_video(carphone_path()).frames


@pytest.fixture(scope="module")
def bikes():
    return read_video(bikes_path()).frames


def test_identical_frames_score_low_and_range_holds(judge, car):
    s = judge.score(car[0], car[0])
    assert s == pytest.approx(-0.9, abs=0.01)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, car[0].shape, dtype=np.uint8)
    for f in Focus:
        v = judge.score(car[0], noise, f)
        assert -1.0 <= v <= 1.0 and v > THR


def test_same_shot_small_motion_is_below_threshold(judge, car, bikes):
    for a, b in [(0, 4), (0, 16), (40, 72)]:
        assert judge.score(car[a], car[b]) < THR
    assert judge.score(bikes[140], bikes[160]) < THR  # within the fence shot
    pan = pan_clip(car[0], num_frames=97, speed=1.0).frames
    assert judge.score(pan[0], pan[96]) < THR  # 96 px pan


def test_different_scenes_are_above_threshold(judge, car, bikes):
    assert judge.score(car[10], bikes[150]) > THR
    assert judge.score(bikes[20], bikes[40]) > THR  # across the first real cut (~frame 29)
    assert judge.score(bikes[150], bikes[200]) > THR  # across the cut at ~frame 180


def test_new_central_object_seen_by_main_object_focus_not_background(judge, bikes):
    frame = bikes[150]
    with_obj = frame.copy()
    with_obj[80:240, 150:430] = bikes[10][80:240, 150:430]  # a different scene over 24% of the frame, centred
    assert judge.score(frame, with_obj, Focus.MAIN_OBJECT) > THR
    assert judge.score(frame, with_obj, Focus.BACKGROUND) < -0.5
    assert judge.score(frame, with_obj, Focus.MAIN_OBJECT) > judge.score(frame, with_obj, Focus.GENERAL)


def test_describe_is_batched_and_compare_checks_focus(judge, car):
    descs = judge.describe(list(car[:5]), Focus.GENERAL)
    assert len(descs) == 5
    with pytest.raises(ValueError, match="focus"):
        judge.compare(descs[0], descs[1], Focus.BACKGROUND)


def test_focus_weights_are_normalised_and_placed():
    g, m, b = (focus_weights(80, 144, f) for f in Focus)
    for w in (g, m, b):
        assert w.sum() == pytest.approx(1.0)
    assert m[40, 72] > m[0, 0] * 100  # centre-weighted
    assert b[40, 72] == 0 and b[0, 0] > 0  # border ring


def test_drawn_cut_is_detected_at_any_focus(judge):
    d = drawn_scene(num_frames=60, cuts=(30,))
    for f in Focus:
        assert judge.score(d.frames[0], d.frames[20], f) < THR < judge.score(d.frames[20], d.frames[40], f)


def test_bad_parameters():
    with pytest.raises(ValueError):
        ClassicalJudge(analysis_width=8)
    with pytest.raises(ValueError):
        ClassicalJudge(d_threshold=1.5)
