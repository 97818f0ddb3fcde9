# SPDX-License-Identifier: GPL-3.0-or-later
"""Encoder -> wire -> decoder round trips, CBR-targeted budgets, concealment and the incremental API."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from lgvsc.backends.base import Focus
from lgvsc.decoder import GREY, SegmentDecoder, SemanticDecoder
from lgvsc.encoder import EncoderConfig, SemanticEncoder, payload_bytes_for_cbr
from lgvsc.profiles import build_backends
from lgvsc.samples import carphone_path, drawn_scene, sample_path, splice
from lgvsc.stream import Segment, SemanticStream
from lgvsc.video import VideoClip, read_video
from lgvsc.wire import stream_from_bytes, stream_to_bytes


@pytest.fixture(scope="module")
def backends():
    return build_backends("classical")


@pytest.fixture(scope="module")
def spliced():
    a = read_video(carphone_path(), max_frames=48).frames
    b = read_video(sample_path("bigbuckbunny.mp4"), max_frames=48).frames
    frames, cut = splice(a, b)
    return VideoClip(frames, fps=24, name="spliced"), cut


@pytest.fixture(scope="module")
def stream(backends, spliced):
    return SemanticEncoder(backends).encode(spliced[0])


def psnr(a, b):
    return 10 * np.log10(255**2 / np.mean((a.astype(float) - b) ** 2))


def test_encoded_stream_structure(stream, spliced):
    clip, cut = spliced
    idx = stream.keyframe_indices()
    assert idx[0] == 0 and idx[-1] == clip.num_frames - 1
    assert any(cut <= k <= cut + 4 for k in idx)
    assert [(s.start_frame, s.end_frame) for s in stream.segments] == list(zip(idx, idx[1:], strict=False))
    assert all(s.caption for s in stream.segments)
    assert stream.method == "skem" and stream.focus == "general" and stream.threshold == 0.35
    assert (stream.video.width, stream.video.height, stream.video.fps, stream.video.num_frames) == (576, 320, 24, 96)


def test_default_budget_meets_the_papers_cbr(stream):
    size = len(stream_to_bytes(stream))
    assert size <= payload_bytes_for_cbr(6e-4, 576, 320, 96)
    assert size > 0.5 * payload_bytes_for_cbr(6e-4, 576, 320, 96)  # the budget is used, not wasted


def test_fixed_keyframe_budget(backends, spliced):
    s = SemanticEncoder(backends, EncoderConfig(keyframe_bytes=700)).encode(spliced[0])
    assert all(0 < len(k.data) <= 700 for k in s.keyframes)


def test_skim_matches_skem_count_or_given_count(backends, spliced, stream):
    s = SemanticEncoder(backends, EncoderConfig(method="skim")).encode(spliced[0])
    assert len(s.keyframes) == len(stream.keyframes) and s.method == "skim"
    s = SemanticEncoder(backends, EncoderConfig(method="skim", skim_count=5)).encode(spliced[0])
    assert s.keyframe_indices() == [0, 24, 48, 71, 95]


def test_round_trip_through_wire_gives_full_length_video(backends, stream, spliced):
    back = stream_from_bytes(stream_to_bytes(stream))
    frames, report = SemanticDecoder(backends.generator).decode(back)
    assert frames.shape == (96, 320, 576, 3)
    assert not report.concealed and report.keyframes_decoded == stream.keyframe_indices()
    clip = spliced[0]
    for k in stream.keyframe_indices():  # keyframes come back as coded
        assert psnr(clip.frames[k], frames[k]) > 21
    assert np.mean([psnr(a, b) for a, b in zip(clip.frames, frames, strict=True)]) > 18


def test_lost_keyframe_is_concealed_from_neighbours(backends):
    d = drawn_scene(num_frames=72, cuts=(), speed=3.0)
    s = SemanticEncoder(backends, EncoderConfig(method="skim", skim_count=4, keyframe_bytes=3000)).encode(
        VideoClip(d.frames, d.fps))
    assert s.keyframe_indices() == [0, 24, 47, 71]
    full, _ = SemanticDecoder(backends.generator).decode(s)
    lost = copy.deepcopy(s)
    lost.keyframes[1].data = b""
    lost.keyframes[2].data = b"\x00garbage"
    frames, report = SemanticDecoder(backends.generator).decode(lost)
    assert frames.shape == full.shape
    assert report.keyframes_concealed == [24, 47] and report.keyframes_undecodable == [47]
    assert report.keyframes_decoded == [0, 71] and report.concealed
    # the concealed frame lies between its neighbours: closer to the true frame than either neighbour
    assert psnr(d.frames[24], frames[24]) > max(psnr(d.frames[24], frames[0]), psnr(d.frames[24], frames[71]))


def test_lost_captions_and_segments_come_from_the_previous_one(backends, stream):
    lost = copy.deepcopy(stream)
    lost.segments[-1].caption = ""
    frames, report = SemanticDecoder(backends.generator).decode(lost)
    n = len(stream.segments)
    assert report.captions_concealed == [n - 1] and len(frames) == 96
    lost.segments = lost.segments[:1]  # all later segment metadata lost
    frames, report = SemanticDecoder(backends.generator).decode(lost)
    assert report.segments_missing == list(range(1, n)) and len(frames) == 96


def test_no_keyframe_at_all_gives_grey_full_length(backends, stream):
    lost = copy.deepcopy(stream)
    for k in lost.keyframes:
        k.data = b""
    frames, report = SemanticDecoder(backends.generator).decode(lost)
    assert frames.shape == (96, 320, 576, 3) and np.all(frames == GREY) and report.all_grey
    empty = SemanticStream(video=stream.video, keyframes=[], segments=[])
    frames, report = SemanticDecoder(backends.generator).decode(empty)
    assert len(frames) == 96 and report.all_grey and "grey" in report.summary()


def test_incremental_segment_decoder_matches_whole_decode(backends, stream):
    whole, _ = SemanticDecoder(backends.generator).decode(stream)
    dec = SegmentDecoder(stream.video, backends.generator)
    kf = {k.frame_index: dec.decode_keyframe(k) for k in reversed(stream.keyframes)}  # any arrival order
    objs = {k.frame_index: k for k in stream.keyframes}
    parts = []
    for i, seg in enumerate(stream.segments):
        out = dec.decode_segment(seg.start_frame, seg.end_frame, kf[seg.start_frame], kf[seg.end_frame],
                                 seg.caption, seg.motion_score,
                                 refinements=dec.decode_refinements(objs[seg.start_frame], seg))
        assert len(out) == seg.num_frames
        parts.append(SegmentDecoder.frames_to_emit(out, i == 0))
    assert np.array_equal(np.concatenate(parts), whole)


def test_long_segments_are_generated_in_bounded_chunks(backends):
    d = drawn_scene(num_frames=50, cuts=(), speed=1.0)
    dec = SegmentDecoder(VideoClip(d.frames, d.fps).info(), backends.generator, max_chunk_frames=16)
    chunks = list(dec.iter_segment(0, 49, d.frames[0], d.frames[49]))
    assert max(len(c) for c in chunks) <= 16 and sum(len(c) for c in chunks) == 50


def test_decoder_bounds_untrusted_sizes(backends, stream):
    huge = copy.deepcopy(stream)
    huge.video.num_frames = 10**9
    with pytest.raises(ValueError, match="frames"):
        SemanticDecoder(backends.generator).decode_iter(huge)
    with pytest.raises(ValueError):
        SegmentDecoder(stream.video, backends.generator).decode_segment(
            0, 500, np.zeros((320, 576, 3), np.uint8), np.zeros((320, 576, 3), np.uint8))


def test_focus_and_captions_file_reach_the_stream(tmp_path, spliced):
    p = tmp_path / "c.txt"
    p.write_text("a man talks in a car\na rabbit wakes up\n")
    be = build_backends("classical", captions=str(p))
    s = SemanticEncoder(be, EncoderConfig(focus=Focus.MAIN_OBJECT)).encode(spliced[0])
    assert s.focus == "main object"
    assert s.segments[0].caption == "a man talks in a car" and s.segments[-1].caption == "a rabbit wakes up"
    assert isinstance(s.segments[0], Segment)


@pytest.mark.parametrize("module", ["lgvsc.video", "lgvsc.skem", "lgvsc.encoder", "lgvsc.decoder", "lgvsc.profiles",
                                    "lgvsc.backends.classical_judge", "lgvsc.backends.classical_keyframe",
                                    "lgvsc.backends.classical_motion", "lgvsc.backends.classical_generator",
                                    "lgvsc.backends.classical_captioner"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


def test_hf_profile_is_lazy_and_keeps_classical_codec_and_motion():
    be = build_backends("hf", device="cpu")
    assert be.profile == "hf" and be.keyframe_codec.codec_id == "av1" and be.motion.name == "dis"
    assert be.judge._mapping.loaded() == []  # nothing loaded until used


def test_unknown_profile_is_a_user_error():
    from lgvsc.errors import UserError

    with pytest.raises(UserError, match="profile"):
        build_backends("quantum")


def test_lost_keyframe_between_two_scenes_is_copied_not_blended(backends):
    d = drawn_scene(num_frames=72, cuts=(30,), speed=1.0)
    s = SemanticEncoder(backends, EncoderConfig(method="skim", skim_count=4, keyframe_bytes=3000)).encode(
        VideoClip(d.frames, d.fps))
    assert s.keyframe_indices() == [0, 24, 47, 71]
    s.keyframes[1].data = b""  # frame 24: neighbours 0 (scene A) and 47 (scene B); 0 is not nearer
    frames, report = SemanticDecoder(backends.generator).decode(s)
    assert report.keyframes_concealed == [24]
    assert np.array_equal(frames[24], frames[47])  # the nearer neighbour (23 frames away vs 24), exactly
