# SPDX-License-Identifier: GPL-3.0-or-later
"""DIS motion estimator: magnitudes track known motion; score mapping."""

from __future__ import annotations

import numpy as np
import pytest

from lgvsc.backends.classical_motion import DisMotionEstimator
from lgvsc.samples import carphone_path, pan_clip
from lgvsc.video import read_video


@pytest.fixture(scope="module")
def image():
    return read_video(carphone_path(), max_frames=1).frames[0]


@pytest.mark.parametrize("speed", [0.0, 1.0, 2.0, 4.0])
def test_pan_speed_is_measured(image, speed):
    m = DisMotionEstimator()
    clip = pan_clip(image, num_frames=24, speed=speed).frames
    mag = m.magnitude(clip)
    # the analysis runs at 144 px wide: a pan of `speed` px at 576 px is speed/4 analysis px per frame
    assert mag == pytest.approx(speed / 4, abs=0.08)
    assert m.score(mag) == pytest.approx(speed, abs=0.5)


def test_score_quantisation_and_bounds():
    m = DisMotionEstimator()
    assert m.score(0.0) == 0.0
    assert m.score(0.3) == 1.0  # 0.3 * 576 / 144 = 1.2 -> 1.0
    assert m.score(1000.0) == 50.0
    with pytest.raises(ValueError):
        m.score(-1.0)
    assert m.magnitude([np.zeros((8, 8, 3), np.uint8)]) == 0.0
