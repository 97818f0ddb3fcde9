# SPDX-License-Identifier: GPL-3.0-or-later
"""Schemes and link on their own: H.26x concealment policy, unit framing, CLIP loading in the scorer."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from lgvsc.evaluation.link import Link
from lgvsc.evaluation.schemes import H26xScheme, make_scheme
from lgvsc.samples import drawn_scene
from lgvsc.video import VideoClip


@pytest.fixture(scope="module")
def clip():
    d = drawn_scene(num_frames=12, width=64, height=48, cuts=(), speed=2.0)
    return VideoClip(d.frames, Fraction(24))


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_h26x_clean_and_lost_units(clip, codec):
    s = H26xScheme(codec, gop=4)
    prep = s.prepare(clip)
    assert prep.payload_bytes == sum(map(len, prep.units)) and prep.info["access_units"] == 12
    assert max(map(len, prep.units)) <= 1500  # access units travel as PDUs of at most the MTU
    clean = s.receive(clip, prep, list(prep.units))
    assert clean.stats["decode_failures"] == 0 and clean.frames.shape == clip.frames.shape
    assert np.abs(clean.frames.astype(int) - clip.frames).mean() < 40  # QP 51: coarse but the right picture
    lost = s.receive(clip, prep, [None] * len(prep.units))
    assert lost.stats["decode_failures"] == 12 and not lost.frames.any()  # nothing ever decoded: black
    # The second half of the access units (decode order) lost: the player repeats the last delivered frame.
    owner = prep.context[2]
    keep = [u if owner[i] < 6 else None for i, u in enumerate(prep.units)]
    part = s.receive(clip, prep, keep)
    assert 6 <= part.stats["decode_failures"] < 12
    assert part.frames[0].any() and np.array_equal(part.frames[-1], part.frames[-2])


def test_unknown_scheme_and_bad_gop():
    with pytest.raises(ValueError, match="unknown scheme"):
        make_scheme("mpeg2", None)
    with pytest.raises(ValueError, match="GOP"):
        H26xScheme("h264", gop=0)


def test_link_returns_units_at_their_boundaries():
    rng = np.random.default_rng(1)
    units = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (100, 1, 700, 33)]
    link = Link("awgn")
    good = link.send(units, 10.0, seed=1)
    assert good.units == units and not any(good.errored) and good.stats["preset"] == "paper-10dB"
    bad = Link("awgn", design_snr_db=10.0).send(units, 0.0, seed=1)
    assert [len(u) for u in bad.units] == [len(u) for u in units]
    assert bad.errored == [a != b for a, b in zip(bad.units, units, strict=True)] and any(bad.errored)
    assert bad.stats["block_errors"] > 0


def test_clip_score_is_computed_from_given_weights(tmp_path):
    from lgvsc.evaluation.runner import _score
    from lgvsc.metrics.clip_score import ClipScorer
    from lgvsc.testing.tiny_models import build_tiny_clip

    scorer = ClipScorer(build_tiny_clip(tmp_path / "clip"), device="cpu")
    a = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    same = _score(a, a, scorer)
    assert same["clip_score"] == pytest.approx(1.0, abs=1e-5) and same["psnr_y"] == same["psnr_rgb"] == 100.0
    none = _score(a, a, None)
    assert np.isnan(none["clip_score"]) and np.isnan(none["lpips"]) and np.isnan(none["dists"])
