# SPDX-License-Identifier: GPL-3.0-or-later
"""HF DSA generator with a tiny random Wan 2.1 FLF2V pipeline: frame counts, sizes, prompt."""

import numpy as np
import pytest

from lgvsc.backends.base import SegmentRequest
from lgvsc.backends.hf_generator import (
    HFSegmentGenerator,
    pipeline_frame_count,
    resample_frames,
    segment_prompt,
)
from lgvsc.errors import UserError


@pytest.fixture(scope="module")
def gen(tiny_wan):
    return HFSegmentGenerator(tiny_wan, num_inference_steps=2, max_sequence_length=16)


@pytest.fixture
def request_of(frames):
    def make(n, **kw):
        return SegmentRequest(frames[0], frames[1], n, caption="a dog runs on a beach.", motion_score=2.5, **kw)
    return make


def test_prompt_is_caption_aesthetic_and_motion():
    assert segment_prompt("a dog runs on a beach.", 2.5) == "a dog runs on a beach, aesthetic score 6.5, motion score 2.5"
    assert segment_prompt("", 0) == "aesthetic score 6.5, motion score 0"
    assert segment_prompt("x", 1.23456) == "x, aesthetic score 6.5, motion score 1.23"


@pytest.mark.parametrize(("n", "expected"), [(2, 5), (5, 5), (6, 9), (9, 9), (10, 13), (49, 49), (50, 53), (500, 81)])
def test_pipeline_frame_count_is_4k_plus_1_and_covers_the_segment(n, expected):
    got = pipeline_frame_count(n, 4, 81)
    assert got == expected and got % 4 == 1 and got > 1
    assert got >= n or got == 81


def test_resample_keeps_ends_and_length():
    clip = np.random.default_rng(1).random((9, 2, 3, 3)).astype(np.float32)
    for n in (2, 5, 9, 20):
        out = resample_frames(clip, n)
        assert out.shape == (n, 2, 3, 3)
        np.testing.assert_allclose(out[0], clip[0])
        np.testing.assert_allclose(out[-1], clip[-1], atol=1e-6)
    np.testing.assert_allclose(resample_frames(clip, 5), clip[::2], atol=1e-6)


@pytest.mark.parametrize(("n", "n_gen"), [(2, 5), (6, 9), (9, 9)])
def test_output_has_exact_length_and_source_size(gen, request_of, frames, n, n_gen):
    out = gen.generate(request_of(n))
    assert out.shape == (n, 40, 56, 3) and out.dtype == np.uint8
    assert gen.last_call["num_frames"] == n_gen
    assert gen.last_call["height"] % 16 == 0 and gen.last_call["width"] % 16 == 0
    assert (gen.last_call["height"], gen.last_call["width"]) == (48, 64)  # 40x56 rounded (half up) to multiples of 16
    assert gen.last_call["prompt"] == "a dog runs on a beach, aesthetic score 6.5, motion score 2.5"
    assert out.std() > 0  # a real decoded video, not a blank buffer


def test_long_segment_is_capped_then_resampled(tiny_wan, request_of):
    g = HFSegmentGenerator(tiny_wan, num_inference_steps=1, max_frames=9, size=(32, 32), max_sequence_length=16)
    out = g.generate(request_of(23))
    assert out.shape == (23, 40, 56, 3)
    assert (g.last_call["num_frames"], g.last_call["height"], g.last_call["width"]) == (9, 32, 32)


def test_deterministic_and_conditioned_on_keyframes(gen, request_of, frames):
    a = gen.generate(request_of(5))
    assert np.array_equal(a, gen.generate(request_of(5)))
    other = SegmentRequest(np.zeros_like(frames[0]), frames[1], 5, caption="a dog runs on a beach.", motion_score=2.5)
    assert not np.array_equal(a, gen.generate(other))


def test_prev_tail_and_paste_keyframes(tiny_wan, request_of, frames):
    g = HFSegmentGenerator(tiny_wan, num_inference_steps=2, max_sequence_length=16, use_prev_tail=True,
                           paste_keyframes=True)
    tail = np.stack([frames[3], frames[4]])
    with_tail = g.generate(request_of(5, prev_tail=tail))
    without = g.generate(request_of(5))
    assert np.array_equal(with_tail[0], frames[0]) and np.array_equal(with_tail[-1], frames[1])
    assert not np.array_equal(with_tail[1:-1], without[1:-1])


def test_loads_from_folder_and_refuses_non_flf_pipelines(tiny_models):
    g = HFSegmentGenerator(tiny_models["wan_flf2v"], device="cpu", dtype="float32", num_inference_steps=1)
    assert type(g.pipe).__name__ == "WanImageToVideoPipeline"

    class TextToVideo:  # a pipeline without first/last-frame conditioning
        def __call__(self, prompt, num_frames=9):
            raise AssertionError("never called")

    with pytest.raises(UserError, match="first/last-frame conditioning"):
        HFSegmentGenerator(TextToVideo())


def test_uncached_hub_id_offline_is_a_user_error():
    with pytest.raises(UserError, match="HF_HUB_OFFLINE"):
        HFSegmentGenerator("Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers")


# -- LTX-Video (conditions at frame indices) --------------------------------------------------------


@pytest.fixture(scope="module")
def ltx(tiny_ltx):
    return HFSegmentGenerator(tiny_ltx, num_inference_steps=2, guidance_scale=1.0, max_sequence_length=16)


def test_ltx_pipeline_is_recognised_with_its_constraints(ltx, tiny_models):
    assert ltx.kind == "ltx-condition"
    assert ltx.multiple == 32 and ltx.temporal_factor == 4
    g = HFSegmentGenerator(tiny_models["ltx_condition"], device="cpu", dtype="float32", num_inference_steps=1)
    assert type(g.pipe).__name__ == "LTXConditionPipeline" and g.kind == "ltx-condition"


@pytest.mark.parametrize(("n", "n_gen"), [(2, 5), (7, 9)])
def test_ltx_output_has_exact_length_and_source_size(ltx, request_of, n, n_gen):
    out = ltx.generate(request_of(n))
    assert out.shape == (n, 40, 56, 3) and out.dtype == np.uint8
    assert (ltx.last_call["num_frames"], ltx.last_call["height"], ltx.last_call["width"]) == (n_gen, 32, 64)
    assert ltx.last_call["tail_frames"] == 0
    assert ltx.last_call["prompt"] == "a dog runs on a beach, aesthetic score 6.5, motion score 2.5"


def test_ltx_conditions_on_the_previous_tail(tiny_ltx, request_of, frames):
    g = HFSegmentGenerator(tiny_ltx, num_inference_steps=2, guidance_scale=1.0, max_sequence_length=16,
                           use_prev_tail=True)
    tail = np.stack(frames[2:5] * 3)  # 9 frames; a video condition keeps k*4+1 of them, at most 4+1
    with_tail = g.generate(request_of(6, prev_tail=tail))
    assert with_tail.shape == (6, 40, 56, 3)
    # 5 tail frames end at the segment's frame 0: 4 + 6 = 10 frames -> 13 generated, the first 4 cut off.
    assert (g.last_call["tail_frames"], g.last_call["num_frames"]) == (5, 13)
    without = g.generate(request_of(6))
    assert g.last_call["tail_frames"] == 0
    assert not np.array_equal(with_tail, without)
    g.generate(request_of(6, prev_tail=tail[:3]))  # too short for a video condition: its last frame only
    assert g.last_call["tail_frames"] == 1


def test_wan_uses_only_the_last_tail_frame(tiny_wan, request_of, frames):
    g = HFSegmentGenerator(tiny_wan, num_inference_steps=1, max_sequence_length=16, use_prev_tail=True)
    g.generate(request_of(5, prev_tail=np.stack(frames[2:5])))
    assert g.last_call["tail_frames"] == 1 and g.last_call["num_frames"] == 5


# -- text only (the paper's text-only baseline) ------------------------------------------------------


@pytest.mark.parametrize(("n", "n_gen"), [(1, 5), (7, 9), (23, 13)])
def test_ltx_text_only_has_exact_length_and_size(tiny_ltx, n, n_gen):
    g = HFSegmentGenerator(tiny_ltx, num_inference_steps=2, guidance_scale=1.0, max_sequence_length=16,
                           max_frames=13)
    assert g.supports_text_only and g.text_only_reason() == ""
    out = g.generate_text_only("a dog runs on a beach.", n, width=56, height=40, fps=12, motion_score=2.5)
    assert out.shape == (n, 40, 56, 3) and out.dtype == np.uint8 and out.std() > 0
    assert g.last_call["text_only"] and g.last_call["tail_frames"] == 0
    assert (g.last_call["num_frames"], g.last_call["height"], g.last_call["width"]) == (n_gen, 32, 64)
    assert g.last_call["prompt"] == "a dog runs on a beach, aesthetic score 6.5, motion score 2.5"


def test_ltx_text_only_follows_the_prompt_and_seed(ltx):
    a = ltx.generate_text_only("a dog runs on a beach.", 5, 56, 40)
    assert np.array_equal(a, ltx.generate_text_only("a dog runs on a beach.", 5, 56, 40))
    assert not np.array_equal(a, ltx.generate_text_only("a red car on a road at night.", 5, 56, 40))


def test_wan_has_no_text_only_mode(gen):
    assert not gen.supports_text_only and "needs first and last images" in gen.text_only_reason()
    with pytest.raises(UserError, match="no text-only mode"):
        gen.generate_text_only("a dog", 5, 56, 40)
