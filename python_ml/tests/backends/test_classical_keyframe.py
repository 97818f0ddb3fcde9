# SPDX-License-Identifier: GPL-3.0-or-later
"""Classical keyframe codecs: byte budget, resolution scaling, decode size, bad data."""

from __future__ import annotations

import numpy as np
import pytest

from lgvsc.backends.classical_keyframe import JpegKeyframeCodec, WebPKeyframeCodec, keyframe_codec_for
from lgvsc.samples import carphone_path
from lgvsc.video import read_video


@pytest.fixture(scope="module")
def frame():
    return read_video(carphone_path(), max_frames=1).frames[0]


def psnr(a, b):
    return 10 * np.log10(255**2 / np.mean((a.astype(float) - b) ** 2))


@pytest.mark.parametrize("codec", [WebPKeyframeCodec(), JpegKeyframeCodec()])
@pytest.mark.parametrize("budget", [400, 1000, 3000, 20000])
def test_budget_is_respected_and_decode_has_target_size(codec, frame, budget):
    data = codec.encode(frame, budget)
    assert 0 < len(data) <= budget
    out = codec.decode(data, 576, 320)
    assert out.shape == (320, 576, 3) and out.dtype == np.uint8
    assert psnr(frame, out) > (18 if budget < 1000 else 22)


@pytest.mark.parametrize("codec", [WebPKeyframeCodec(), JpegKeyframeCodec()])
def test_more_bytes_buy_more_quality_and_resolution(codec, frame):
    small, big = codec.encode(frame, 600), codec.encode(frame, 8000)
    assert codec.coded_size(small)[0] < codec.coded_size(big)[0] <= 576
    assert psnr(frame, codec.decode(big, 576, 320)) > psnr(frame, codec.decode(small, 576, 320)) + 3


def test_impossible_budget_and_bad_data_raise_value_error(frame):
    codec = WebPKeyframeCodec()
    with pytest.raises(ValueError):
        codec.encode(frame, 10)
    data = codec.encode(frame, 1000)
    for bad in (b"", b"garbage", data[: len(data) // 2], JpegKeyframeCodec().encode(frame, 1000)):
        with pytest.raises(ValueError):
            codec.decode(bad, 576, 320)


def test_codec_lookup():
    assert keyframe_codec_for("webp").codec_id == "webp"
    assert keyframe_codec_for("jpeg").codec_id == "jpeg"
    with pytest.raises(ValueError, match="unknown"):
        keyframe_codec_for("png")
