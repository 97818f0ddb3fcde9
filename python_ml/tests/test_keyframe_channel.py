# SPDX-License-Identifier: GPL-3.0-or-later
"""The keyframe channel: exact byte budget, AV1 keyframes with refinement frames, loss confined to a segment,
old streams, the JSON form."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from lgvsc.backends.av1_keyframe import av1_available, luma_mse
from lgvsc.backends.base import SegmentRequest
from lgvsc.backends.classical_generator import FlowInterpolationGenerator
from lgvsc.decoder import SemanticDecoder
from lgvsc.encoder import BUDGET_TOLERANCE, EncoderConfig, SemanticEncoder
from lgvsc.profiles import build_backends
from lgvsc.samples import bikes_path
from lgvsc.video import read_video
from lgvsc.wire import stream_from_bytes, stream_to_bytes

needs_av1 = pytest.mark.skipif(not av1_available(), reason="PyAV lacks libsvtav1 or libdav1d")


@pytest.fixture(scope="module")
def clip():
    return read_video(bikes_path(), max_frames=96)  # 4 s, one shot cut


@pytest.fixture(scope="module")
def av1_stream(clip):
    enc = SemanticEncoder(build_backends(keyframe_codec="av1"))
    return enc.encode(clip), enc


def psnr_y(a, b):
    return 10 * np.log10(255**2 / np.mean([luma_mse(x, y) for x, y in zip(a, b, strict=True)]))


@needs_av1
def test_av1_stream_holds_its_budget_with_refinements(clip, av1_stream):
    stream, enc = av1_stream
    size = len(stream_to_bytes(stream))
    budget = enc.stream_budget(stream.video)
    assert enc.stats.budget_bytes == budget and enc.stats.stream_bytes == size
    assert (1 - BUDGET_TOLERANCE) * budget <= size <= budget
    assert all(k.codec_id == "av1" for k in stream.keyframes)
    refs = [i for s in stream.segments for i in s.refinement_indices()]
    assert refs and enc.stats.refinements == len(refs)
    assert stream_from_bytes(stream_to_bytes(stream)) == stream
    frames, report = SemanticDecoder(build_backends().generator).decode(stream)
    assert sorted(report.refinements_decoded) == sorted(refs) and not report.refinements_unusable
    assert psnr_y(frames, clip.frames) > 18


@needs_av1
@pytest.mark.parametrize("target_cbr", [3e-4, 1.2e-3])
def test_budget_held_at_other_rates_and_paper_mode(clip, target_cbr):
    for refine in ("auto", "none"):
        enc = SemanticEncoder(build_backends(keyframe_codec="av1"), EncoderConfig(target_cbr=target_cbr,
                                                                                  refine=refine))
        s = enc.encode(clip)
        size = len(stream_to_bytes(s))
        assert (1 - BUDGET_TOLERANCE) * enc.stats.budget_bytes <= size <= enc.stats.budget_bytes
        if refine == "none":
            assert not any(seg.refinements for seg in s.segments)


@pytest.mark.parametrize("codec", ["webp", "jpeg"])
def test_still_image_codecs_hold_the_budget(clip, codec):
    enc = SemanticEncoder(build_backends(keyframe_codec=codec))
    s = enc.encode(clip)
    size = len(stream_to_bytes(s))
    assert {k.codec_id for k in s.keyframes} == {codec}
    assert (1 - BUDGET_TOLERANCE) * enc.stats.budget_bytes <= size <= enc.stats.budget_bytes


@pytest.mark.parametrize("codec", ["av1", "webp"])
def test_impossible_budget_is_loud(clip, codec):
    if codec == "av1" and not av1_available():
        pytest.skip("no AV1")
    enc = SemanticEncoder(build_backends(keyframe_codec=codec), EncoderConfig(target_cbr=2e-5, strict_budget=True))
    with pytest.raises(ValueError, match="cannot hold this stream"):
        enc.encode(clip)


@needs_av1
def test_json_form_names_semantic_and_refinement_frames(av1_stream):
    stream, _ = av1_stream
    d = json.loads(stream.to_json())
    kinds = {c["kind"] for c in d["coded_frames"]}
    assert kinds == {"semantic", "refinement"}
    assert [c["frame_index"] for c in d["coded_frames"] if c["kind"] == "semantic"] == stream.keyframe_indices()
    assert all(r["kind"] == "refinement" and r["bytes"] > 0 for s in d["segments"] for r in s["refinements"])
    back = type(stream).from_dict(json.loads(stream.to_json(include_data=True)))
    assert back == stream


@needs_av1
def test_loss_inside_a_segment_stays_inside_it(av1_stream):
    stream, _ = av1_stream
    gen = FlowInterpolationGenerator()
    ok, _ = SemanticDecoder(gen).decode(stream)
    k = next(i for i, s in enumerate(stream.segments) if s.refinements and i < len(stream.segments) - 1)
    seg = stream.segments[k]
    # a corrupted refinement unit, then a lost start keyframe: only segment k (and, for the keyframe, the segment
    # that ends on it) may change; everything from the next segment on is bit-identical
    bad_ref = dataclasses.replace(stream, segments=[
        dataclasses.replace(s, refinements=[dataclasses.replace(s.refinements[0], data=b"\x12\x00\x32garbage")]
                            + s.refinements[1:]) if s.index == k else s for s in stream.segments])
    lost_kf = dataclasses.replace(stream, keyframes=[kf for kf in stream.keyframes if kf.frame_index != seg.start_frame])
    for damaged in (bad_ref, lost_kf):
        out, report = SemanticDecoder(gen).decode(damaged)
        assert report.refinements_unusable == seg.refinement_indices()
        assert np.array_equal(out[seg.end_frame:], ok[seg.end_frame:])
        assert not np.array_equal(out[seg.start_frame + 1 : seg.end_frame], ok[seg.start_frame + 1 : seg.end_frame])


def test_old_webp_stream_decodes():
    data = (Path(__file__).parent / "data" / "stream_v1_webp.lgvs").read_bytes()  # written by wire version 1
    s = stream_from_bytes(data)
    frames, report = SemanticDecoder(FlowInterpolationGenerator()).decode(s)
    assert frames.shape == (36, 64, 96, 3) and report.keyframes_decoded == [0, 20, 35] and not report.concealed
    from lgvsc.samples import drawn_scene

    src = drawn_scene(num_frames=36, width=96, height=64, cuts=(18,)).frames
    assert psnr_y(frames[:18], src[:18]) > 15


def test_classical_generator_passes_through_refinements():
    rng = np.random.default_rng(0)
    a, b, r = (rng.integers(0, 255, (32, 48, 3), dtype=np.uint8) for _ in range(3))
    out = FlowInterpolationGenerator(cut_threshold=None).generate(SegmentRequest(a, b, 9, refinements=[(3, r)]))
    assert out.shape == (9, 32, 48, 3)
    assert np.array_equal(out[0], a) and np.array_equal(out[3], r) and np.array_equal(out[8], b)
    with pytest.raises(ValueError, match="refinement"):
        SegmentRequest(a, b, 9, refinements=[(8, r)])


def test_impossible_budget_without_strict_warns_and_codes_small_keyframes(clip, caplog):
    enc = SemanticEncoder(build_backends(keyframe_codec="webp"), EncoderConfig(target_cbr=2e-5))
    with caplog.at_level("WARNING"):
        s = enc.encode(clip)
    assert "BUDGET EXCEEDED" in caplog.text
    assert all(0 < len(k.data) <= 400 for k in s.keyframes)


def test_classical_profile_sends_compact_captions_hf_keeps_text(clip):
    from lgvsc.backends.classical_captioner import expand_caption

    s = SemanticEncoder(build_backends(keyframe_codec="webp")).encode(clip)
    assert all(seg.caption.startswith("~") and len(seg.caption) <= 8 for seg in s.segments)
    assert all("scene" in expand_caption(seg.caption) for seg in s.segments)
    full = SemanticEncoder(build_backends(keyframe_codec="webp"), EncoderConfig(compact_captions=False)).encode(clip)
    assert all("scene" in seg.caption for seg in full.segments)
    assert len(stream_to_bytes(full)) - sum(len(k.data) for k in full.keyframes) > (
        len(stream_to_bytes(s)) - sum(len(k.data) for k in s.keyframes) + 50 * len(s.segments))
