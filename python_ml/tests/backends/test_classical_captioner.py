# SPDX-License-Identifier: GPL-3.0-or-later
"""Classical captioners: measured features and user-supplied files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lgvsc.backends.classical_captioner import FeatureCaptioner, FileCaptioner, load_captions
from lgvsc.errors import UserError
from lgvsc.samples import carphone_path, pan_clip
from lgvsc.video import read_video


def test_feature_caption_names_colours_light_and_motion():
    red = np.zeros((64, 96, 3), np.uint8)
    red[..., 0] = 200
    red[..., 1:] = 30
    assert FeatureCaptioner().caption([red, red]) == "dim scene; mostly red; static"
    img = read_video(carphone_path(), max_frames=1).frames[0]
    clip = pan_clip(img, num_frames=48, speed=3.0).frames
    cap = FeatureCaptioner().caption([clip[0], clip[24], clip[47]])
    assert "camera moving right" in cap and "movement" in cap


def test_file_captions_in_order_and_timed(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("a dog runs\n\na cat sleeps\n")
    fc = FileCaptioner(p)
    assert [fc.caption_segment([], i, 0, 1) for i in range(3)] == ["a dog runs", "a cat sleeps", "a cat sleeps"]
    j = tmp_path / "c.json"
    j.write_text(json.dumps([{"start": 0, "end": 2, "text": "first"}, {"start": 2, "text": "second"}]))
    fc = FileCaptioner(j)
    assert fc.caption_segment([], 0, 0.0, 1.5) == "first"
    assert fc.caption_segment([], 1, 1.5, 4.0) == "second"


@pytest.mark.parametrize("content", ["", "{not json", json.dumps({"a": 1}), json.dumps([{"text": "x"}]),
                                     json.dumps([{"start": 3, "end": 1, "text": "x"}])])
def test_bad_caption_files(tmp_path, content):
    p = tmp_path / ("c.json" if content.startswith(("{", "[")) else "c.txt")
    p.write_text(content)
    with pytest.raises(UserError):
        load_captions(p)
    with pytest.raises(UserError, match="cannot read"):
        load_captions(tmp_path / "missing.txt")


def test_compact_caption_round_trips_the_feature_grammar():
    from lgvsc.backends.classical_captioner import compact_caption, expand_caption

    for text in ("dim scene; mostly green and dark green; little movement, camera moving left; the scene changes",
                 "bright scene; mostly gray, green and blue; large movement", "dark scene; mostly black; static",
                 "well-lit scene; mostly beige; very large movement, camera moving down"):
        code = compact_caption(text)
        assert code.startswith("~") and len(code) <= 8 and expand_caption(code) == text
    for other in ("a dog runs on a beach", "dim scene; mostly teal; static", "~nonsense", "~"):
        assert compact_caption(other) == other and expand_caption(other) == other
