# SPDX-License-Identifier: GPL-3.0-or-later
"""HF captioner with a tiny random LLaVA: frames shown, prompt, fallback to one frame."""

import numpy as np
import pytest

from lgvsc.backends.hf_captioner import CAPTION_PROMPT, HFCaptioner, pick_frames


def test_pick_frames_spreads_over_the_segment():
    fr = [np.full((2, 2, 3), i, np.uint8) for i in range(10)]
    assert [int(f[0, 0, 0]) for f in pick_frames(fr, 3)] == [0, 4, 9]
    assert [int(f[0, 0, 0]) for f in pick_frames(fr, 1)] == [5]
    assert len(pick_frames(fr[:2], 5)) == 2
    with pytest.raises(ValueError):
        pick_frames([], 3)


def test_caption_from_three_frames_in_one_prompt(tiny_vlm, frames):
    cap = HFCaptioner(tiny_vlm, num_frames=3, max_new_tokens=6)
    text = cap.caption(frames)
    assert isinstance(text, str) and "\n" not in text
    assert cap.last_text == "USER: " + "<image>\n" * 3 + CAPTION_PROMPT.format(n=3) + " ASSISTANT:"
    assert cap.num_frames == 3


def test_caption_is_deterministic_and_depends_on_frames(tiny_vlm, frames):
    cap = HFCaptioner(tiny_vlm, num_frames=1, max_new_tokens=8)
    assert cap.caption(frames) == cap.caption(frames)
    assert cap.last_text.count("<image>") == 1
    others = [np.zeros_like(f) for f in frames]
    assert cap.caption(others) != cap.caption(frames)


def test_falls_back_to_the_middle_frame_when_multi_image_is_refused(tiny_vlm, frames, monkeypatch, caplog):
    cap = HFCaptioner(tiny_vlm, num_frames=3, max_new_tokens=4)
    real = tiny_vlm.generate
    seen = []

    def single_image_only(texts, images=None, max_new_tokens=64):
        seen.append(len(images))
        if len(images) > 1:  # what a single-image processor does
            raise ValueError("Image features and image tokens do not match")
        return real(texts, images, max_new_tokens)

    monkeypatch.setattr(tiny_vlm, "generate", single_image_only)
    cap.caption(frames)
    cap.caption(frames)
    assert seen == [3, 1, 1]
    assert cap.num_frames == 1
    assert "middle frame" in caplog.text
