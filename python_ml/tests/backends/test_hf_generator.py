# SPDX-License-Identifier: GPL-3.0-or-later
"""HF DSA generator with tiny random Wan 2.1 FLF2V and LTX pipelines: frame counts, sizes, prompt, conditioning
(both keyframes, the previous tail, refinements), chunked long segments, per-segment seeds."""

import numpy as np
import pytest

from lgvsc.backends.base import SegmentRequest
from lgvsc.backends.hf_generator import (
    HFSegmentGenerator,
    chunk_spans,
    derive_seed,
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


def test_chunk_spans_share_boundaries_and_respect_limits():
    for n, first, rest, breaks in [(23, 8, 8, ()), (20, 12, 8, ()), (81, 80, 80, ()), (30, 12, 8, (5, 17))]:
        spans = chunk_spans(n, first, rest, breaks)
        assert spans[0][0] == 0 and spans[-1][1] == n - 1
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
        assert spans[0][1] - spans[0][0] <= first and all(e - s <= rest for s, e in spans[1:])
        assert set(breaks) <= {e for _, e in spans}


def test_long_wan_segment_is_generated_in_chunks_joined_at_shared_frames(tiny_wan, request_of):
    g = HFSegmentGenerator(tiny_wan, num_inference_steps=1, max_frames=9, size=(32, 32), max_sequence_length=16)
    out = g.generate(request_of(23))
    assert out.shape == (23, 40, 56, 3)
    calls = g.last_calls
    assert [c["span"] for c in calls] == [(0, 7), (7, 14), (14, 22)]
    assert all(c["num_frames"] == 9 and (c["height"], c["width"]) == (32, 32) for c in calls)
    # first keyframe -> flow-interpolated anchor -> ... -> last keyframe; later chunks start on the shared frame
    assert [c["conditions"] for c in calls] == [[("first", 0), ("interpolated", 8)], [("shared", 0), ("interpolated", 8)],
                                                [("shared", 0), ("last", 8)]]
    assert len({c["seed"] for c in calls}) == 3
def test_deterministic_and_conditioned_on_keyframes(gen, request_of, frames):
    a = gen.generate(request_of(5))
    assert np.array_equal(a, gen.generate(request_of(5)))
    other = SegmentRequest(np.zeros_like(frames[0]), frames[1], 5, caption="a dog runs on a beach.", motion_score=2.5)
    assert not np.array_equal(a, gen.generate(other))


def test_wan_keeps_the_first_keyframe_with_a_tail_and_pastes_keyframes(tiny_wan, request_of, frames):
    g = HFSegmentGenerator(tiny_wan, num_inference_steps=2, max_sequence_length=16, use_prev_tail=True,
                           paste_keyframes=True)
    assert g.tail_frames == 0  # FLF2V conditions on two images: the tail never replaces the first keyframe
    with_tail = g.generate(request_of(5, prev_tail=np.stack(frames[2:5])))
    assert g.last_call["tail_frames"] == 0 and g.last_call["conditions"] == [("first", 0), ("last", 4)]
    assert np.array_equal(with_tail[0], frames[0]) and np.array_equal(with_tail[-1], frames[1])
    assert np.array_equal(with_tail, g.generate(request_of(5)))


def test_changing_the_last_keyframe_changes_the_segment(gen, ltx, frames):
    for g in (gen, ltx):
        a = g.generate(SegmentRequest(frames[0], frames[1], 7, caption="x"))
        b = g.generate(SegmentRequest(frames[0], np.zeros_like(frames[1]), 7, caption="x"))
        assert not np.array_equal(a[:-1], b[:-1]), g.kind


def test_each_segment_gets_its_own_seed(gen, frames):
    def run(index):
        out = gen.generate(SegmentRequest(frames[0], frames[1], 5, caption="x", segment_index=index))
        return out, gen.last_call["seed"]

    a, seed_a = run(0)
    b, seed_b = run(1)
    again, _ = run(1)
    assert seed_a == derive_seed(0, 0, 0, 0) and seed_b == derive_seed(0, 1, 0, 0) and seed_a != seed_b
    assert not np.array_equal(a, b) and np.array_equal(b, again)


def test_wan_splits_a_segment_at_its_refinements(gen, frames):
    req = SegmentRequest(frames[0], frames[1], 9, caption="x", refinements=[(3, frames[2])])
    out = gen.generate(req)
    assert out.shape == (9, 40, 56, 3)
    assert [c["span"] for c in gen.last_calls] == [(0, 3), (3, 8)]
    assert [c["conditions"] for c in gen.last_calls] == [[("first", 0), ("refinement", 4)],
                                                         [("refinement", 0), ("last", 8)]]
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


def test_ltx_conditions_on_the_first_keyframe_and_the_previous_tail(tiny_ltx, request_of, frames):
    g = HFSegmentGenerator(tiny_ltx, num_inference_steps=2, guidance_scale=1.0, max_sequence_length=16,
                           use_prev_tail=True)
    assert g.tail_frames == 5  # t + 1 with t = 4
    tail = np.stack(frames[2:5] * 3)  # 9 frames; the last 5 are used
    with_tail = g.generate(request_of(6, prev_tail=tail))
    assert with_tail.shape == (6, 40, 56, 3)
    # 5 tail frames end at the segment's frame 0: 4 + 6 = 10 frames -> 13 generated, the first 4 cut off;
    # the first keyframe is a condition at that frame too, the last keyframe at the last.
    assert (g.last_call["tail_frames"], g.last_call["num_frames"]) == (5, 13)
    assert g.last_call["conditions"] == [("tail", 0), ("first", 4), ("last", 12)]
    other_tail = g.generate(request_of(6, prev_tail=tail[::-1].copy()))
    assert not np.array_equal(with_tail, other_tail)
    g.generate(request_of(6, prev_tail=tail[:3]))  # shorter than t + 1: no tail condition
    assert g.last_call["tail_frames"] == 0 and g.last_call["conditions"] == [("first", 0), ("last", 8)]


def test_long_ltx_segment_chunks_join_on_the_previous_chunks_frames(tiny_ltx, request_of, frames):
    g = HFSegmentGenerator(tiny_ltx, num_inference_steps=1, guidance_scale=1.0, max_sequence_length=16,
                           max_frames=13, use_prev_tail=True)
    out = g.generate(request_of(20, prev_tail=np.stack(frames[:5]), refinements=[(10, frames[3])]))
    assert out.shape == (20, 40, 56, 3)
    calls = g.last_calls
    assert all(c["num_frames"] <= 13 for c in calls) and len(calls) == 3
    assert [c["span"] for c in calls] == [(0, 6), (6, 12), (12, 19)]
    assert all(c["tail_frames"] == 5 for c in calls)
    assert calls[0]["conditions"][:2] == [("tail", 0), ("first", 4)]
    assert ("refinement", 4 + round(4 * 8 / 6)) in calls[1]["conditions"]
    assert calls[-1]["conditions"][-1] == ("last", calls[-1]["num_frames"] - 1)
    assert "last" not in {k for c in calls[:-1] for k, _ in c["conditions"]}

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


# -- the DSA fast path: presets, custom timesteps, scheduler ------------------------------------------


def test_ltx_distilled_preset_passes_its_timesteps_and_options(tiny_models, request_of):
    from lgvsc.backends.hf_common import load_diffusers_pipeline

    pipe, _ = load_diffusers_pipeline(tiny_models["ltx_condition"], device="cpu", dtype="float32")  # own copy
    seen = {}

    def spy(**kwargs):  # records what the generator passes, then runs the real pipeline
        seen.update(kwargs)
        return pipe(**kwargs)

    g = HFSegmentGenerator(pipe, preset="ltx-distilled", max_sequence_length=16,
                           scheduler="FlowMatchEulerDiscreteScheduler")
    assert g.guidance_scale == 1.0 and len(g.timesteps) == 8
    g.pipe = spy
    assert g.generate(request_of(5)).shape == (5, 40, 56, 3)
    assert seen["timesteps"] == g.timesteps and seen["guidance_scale"] == 1.0
    assert seen["decode_timestep"] == 0.05 and seen["image_cond_noise_scale"] == 0.0
    g2 = HFSegmentGenerator(pipe, preset="ltx-distilled", guidance_scale=3.0, num_inference_steps=4)
    assert g2.guidance_scale == 3.0 and g2.num_inference_steps == 4  # explicit values win over the preset


def test_fast_path_options_are_checked(tiny_wan, tiny_ltx):
    with pytest.raises(UserError, match="no custom timesteps"):
        HFSegmentGenerator(tiny_wan, preset="ltx-distilled")
    with pytest.raises(UserError, match="unknown DSA preset"):
        HFSegmentGenerator(tiny_wan, preset="fastest")
    with pytest.raises(UserError, match="takes no decode_timestep"):
        HFSegmentGenerator(tiny_wan, pipeline_options={"decode_timestep": 0.05})
    with pytest.raises(UserError, match="unknown diffusers scheduler"):
        HFSegmentGenerator(tiny_ltx, scheduler="NoSuchScheduler")
    g = HFSegmentGenerator(tiny_wan, preset="wan")
    assert (g.num_inference_steps, g.guidance_scale, g.timesteps) == (30, 5.0, None)


def test_whole_decoder_hands_ltx_the_last_emitted_frames(tiny_ltx):
    """SemanticDecoder -> HFSegmentGenerator: the second segment is conditioned on segment 0's last t+1 frames."""
    from lgvsc.backends.classical_keyframe import keyframe_codec_for
    from lgvsc.decoder import SemanticDecoder
    from lgvsc.stream import Keyframe, Segment, SemanticStream, VideoInfo

    g = HFSegmentGenerator(tiny_ltx, num_inference_steps=1, guidance_scale=1.0, max_sequence_length=16,
                           use_prev_tail=True)
    codec = keyframe_codec_for("webp")
    rng = np.random.default_rng(5)
    kfs = [Keyframe(i, "webp", codec.encode(rng.integers(0, 256, (32, 64, 3), dtype=np.uint8), 600)) for i in (0, 6, 12)]
    segs = [Segment(index=0, start_frame=0, end_frame=6, caption="a"), Segment(index=1, start_frame=6, end_frame=12,
                                                                                caption="b")]
    seen = []
    real = g.generate
    g.generate = lambda req: (seen.append(req), real(req))[1]
    frames, _ = SemanticDecoder(g).decode(SemanticStream(VideoInfo(64, 32, 24, 1, 13), kfs, segs))
    assert frames.shape == (13, 32, 64, 3)
    assert seen[0].prev_tail is None and np.array_equal(seen[1].prev_tail, frames[2:7])
    assert [r.segment_index for r in seen] == [0, 1] and g.last_call["conditions"][:2] == [("tail", 0), ("first", 4)]


def test_ltx_chunks_after_a_short_first_chunk_join_on_its_shared_frame(tiny_ltx, request_of):
    # max_frames 9 with t = 4: later chunks add at most 4 frames after a 5-frame tail, so 10 frames are split
    # 3 + 3 + 3; the first chunk has only 4 frames, too few for a video condition: chunk 1 joins on one frame
    g = HFSegmentGenerator(tiny_ltx, num_inference_steps=1, guidance_scale=1.0, max_sequence_length=16,
                           max_frames=9)
    out = g.generate(request_of(10))
    assert out.shape == (10, 40, 56, 3)
    assert [c["span"] for c in g.last_calls] == [(0, 3), (3, 6), (6, 9)]
    assert all(c["num_frames"] <= 9 for c in g.last_calls)
    assert g.last_calls[1]["conditions"][0] == ("shared", 0) and g.last_calls[2]["conditions"][0] == ("tail", 0)
