# SPDX-License-Identifier: GPL-3.0-or-later
"""AV1 keyframe codec: raw-OBU round trip, byte budget, measured resolution choice, sub-streams, bad data."""

from __future__ import annotations

import numpy as np
import pytest

from lgvsc.backends.av1_keyframe import Av1KeyframeCodec, av1_available, luma_mse
from lgvsc.backends.classical_keyframe import WebPKeyframeCodec, keyframe_codec_for
from lgvsc.samples import bikes_path
from lgvsc.video import read_video

pytestmark = pytest.mark.skipif(not av1_available(), reason="PyAV lacks libsvtav1 or libdav1d")


@pytest.fixture(scope="module")
def frames():
    return read_video(bikes_path(), max_frames=40).frames


def psnr_y(a, b):
    return 10 * np.log10(255**2 / luma_mse(a, b))


@pytest.mark.parametrize("budget", [300, 600, 1500])
def test_round_trip_within_budget_and_beats_webp(frames, budget):
    codec = Av1KeyframeCodec()
    data = codec.encode(frames[20], budget)
    assert 0 < len(data) <= budget
    assert not data.startswith((b"\x00\x00\x00", b"ftyp")) and b"ftyp" not in data[:16]  # no container
    out = codec.decode(data, 576, 320)
    assert out.shape == (320, 576, 3) and out.dtype == np.uint8
    webp = WebPKeyframeCodec().encode(frames[20], budget)
    assert psnr_y(out, frames[20]) > psnr_y(WebPKeyframeCodec().decode(webp, 576, 320), frames[20])


def test_resolution_follows_the_budget(frames):
    codec = Av1KeyframeCodec()
    small, big = codec.encode(frames[0], 400), codec.encode(frames[0], 6000)
    assert codec.coded_size(small)[0] < codec.coded_size(big)[0] <= 576


def test_sub_stream_starts_with_a_standalone_keyframe(frames):
    codec = Av1KeyframeCodec()
    picks = frames[0:40:8]
    units = codec.encode_sequence(picks, 192, 106, 50)
    assert len(units) == len(picks)
    assert sum(map(len, units[1:])) < len(units[0]) * (len(units) - 1)  # inter frames are cheaper
    assert units[0] == codec.encode_intra(picks[0], 192, 106, 50)
    seq = codec.decode_sequence(units, 576, 320)
    assert np.array_equal(seq[0], codec.decode(units[0], 576, 320))
    for d, s in zip(seq, picks, strict=True):
        assert psnr_y(d, s) > 22
    with pytest.raises(ValueError):  # an inter unit without its reference
        codec.decode_sequence(units[2:], 576, 320)


def test_bad_data_and_impossible_budget_raise_value_error(frames):
    codec = keyframe_codec_for("av1")
    assert codec.codec_id == "av1"
    data = codec.encode(frames[0], 800)
    for bad in (b"", b"garbage" * 10, WebPKeyframeCodec().encode(frames[0], 800)):
        with pytest.raises(ValueError):
            codec.decode(bad, 576, 320)
    with pytest.raises(ValueError):
        codec.encode(frames[0], 5)
    assert codec.coded_size(b"garbage") == (0, 0) and codec.coded_size(data)[0] > 0
