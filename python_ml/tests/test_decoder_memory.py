# SPDX-License-Identifier: GPL-3.0-or-later
"""Bounded decoder memory: boundary keyframes are decoded in a small window while frames are
generated (never all at once), and chunks of big geometries hold few frames. The RSS numbers
for 10 / 1,000 / 10,000 keyframes are bench/decoder_memory.py's."""

from __future__ import annotations

import weakref

import numpy as np

from lgvsc.backends.classical_generator import FlowInterpolationGenerator
from lgvsc.decoder import KEYFRAME_WINDOW, MAX_CHUNK_BYTES, PIECE_FRAMES, SegmentDecoder, SemanticDecoder
from lgvsc.stream import Keyframe, Segment, SemanticStream, VideoInfo


class CountingCodec:
    """A keyframe codec whose frames are tracked: how many decoded frames are alive at once."""

    codec_id = "count"

    def __init__(self):
        self.alive: list[weakref.ref] = []
        self.most_alive = 0
        self.calls = 0

    def decode(self, data, width, height):
        self.calls += 1
        f = np.full((height, width, 3), data[0], np.uint8)
        self.alive = [r for r in self.alive if r() is not None] + [weakref.ref(f)]
        self.most_alive = max(self.most_alive, len(self.alive))
        return f

    def encode(self, frame, byte_budget):  # pragma: no cover - not used
        raise NotImplementedError


def _stream(n_kf, lost=()):
    idx = list(range(0, 2 * n_kf, 2))
    kfs = [Keyframe(i, "count", b"" if k in lost else bytes([k % 256])) for k, i in enumerate(idx)]
    segs = [Segment(k, a, b, caption="x") for k, (a, b) in enumerate(zip(idx, idx[1:], strict=False))]
    return SemanticStream(video=VideoInfo(32, 16, 24, 1, idx[-1] + 1), keyframes=kfs, segments=segs)


def test_keyframes_are_decoded_in_a_window_not_all_at_once():
    codec = CountingCodec()
    stream = _stream(400, lost=set(range(100, 140)))  # a run of lost keyframes: concealed from far neighbours
    report, frames = SemanticDecoder(FlowInterpolationGenerator(), codecs={"count": codec}).decode_iter(stream)
    assert codec.calls == 0  # learnt on the way: nothing decoded before the first frame
    n = sum(1 for _ in frames)
    assert n == stream.video.num_frames
    assert len(report.keyframes_concealed) == 40 and len(report.keyframes_decoded) == 360
    assert codec.most_alive <= KEYFRAME_WINDOW + 2, codec.most_alive  # not 400
    assert codec.calls == 360, codec.calls  # each decodable keyframe decoded once (was twice: 720)


def test_report_first_and_known_decodability():
    """report_first: the report is complete when decode_iter returns; with every keyframe's decodability known
    (the decoder worker's case) that costs no decode at all, and the frames are the same."""
    stream = _stream(60, lost=set(range(10, 14)))
    plain = CountingCodec()
    r0, it0 = SemanticDecoder(FlowInterpolationGenerator(), codecs={"count": plain}).decode_iter(stream)
    f0 = np.stack(list(it0))
    codec = CountingCodec()
    r1, it1 = SemanticDecoder(FlowInterpolationGenerator(), codecs={"count": codec}).decode_iter(
        stream, report_first=True)
    assert r1.to_dict() == r0.to_dict()
    assert np.array_equal(np.stack(list(it1)), f0)
    known = {b: b in r0.keyframes_decoded for b in r0.keyframes_expected}
    codec = CountingCodec()
    r2, it2 = SemanticDecoder(FlowInterpolationGenerator(), codecs={"count": codec}).decode_iter(stream, known=known)
    assert codec.calls == 0 and r2.to_dict() == r0.to_dict()
    assert np.array_equal(np.stack(list(it2)), f0)
    assert codec.calls == len(r0.keyframes_decoded)


def test_big_geometry_gets_short_chunks():
    dec = SegmentDecoder(VideoInfo(4096, 4096, 24, 1, 172_800), FlowInterpolationGenerator())
    assert dec.max_chunk_frames * 4096 * 4096 * 3 <= MAX_CHUNK_BYTES
    assert 2 <= dec.max_chunk_frames <= 5
    assert SegmentDecoder(VideoInfo(576, 320, 24, 1, 100), FlowInterpolationGenerator()).max_chunk_frames == 240


class TrackingGenerator(FlowInterpolationGenerator):
    """The classical generator, counting the frames of its pieces alive at once."""

    def __init__(self):
        super().__init__()
        self.alive: list[weakref.ref] = []
        self.most_frames = 0

    def generate_pieces(self, request, max_frames):
        for piece in super().generate_pieces(request, max_frames):
            self.alive = [r for r in self.alive if r() is not None] + [weakref.ref(piece)]
            self.most_frames = max(self.most_frames, sum(len(r()) for r in self.alive if r() is not None))
            yield piece


def test_a_long_segment_is_held_a_piece_at_a_time():
    """A 600-frame segment (chunks of 240) streams in pieces: a few PIECE_FRAMES held, not a chunk or the segment;
    the frames are those of one whole-chunk generation."""
    a = np.zeros((16, 32, 3), np.uint8)
    b = np.full((16, 32, 3), 200, np.uint8)
    gen = TrackingGenerator()
    dec = SegmentDecoder(VideoInfo(32, 16, 24, 1, 600), gen)
    n = 0
    for chunk in dec.iter_segment(0, 599, a, b):
        n += len(chunk)
    assert n == 600
    assert gen.most_frames <= 3 * PIECE_FRAMES, gen.most_frames
    whole = SegmentDecoder(VideoInfo(32, 16, 24, 1, 600), FlowInterpolationGenerator())
    whole.piece_frames = whole.max_chunk_frames
    assert np.array_equal(dec.decode_segment(0, 599, a, b), whole.decode_segment(0, 599, a, b))


def test_refinement_frames_are_decoded_a_chunk_at_a_time():
    """A segment with 60 refinements: the lazy form is pulled a chunk's worth at a time (at most
    MAX_CHUNK_REFINEMENTS + 1 frames held), and the frames are those of the whole list at once."""
    from lgvsc.decoder import MAX_CHUNK_REFINEMENTS, RefinementFrames

    n, w, h = 200, 32, 16
    a = np.zeros((h, w, 3), np.uint8)
    b = np.full((h, w, 3), 200, np.uint8)
    idx = list(range(3, 183, 3))
    refs = [(i, np.full((h, w, 3), i, np.uint8)) for i in idx]
    dec = SegmentDecoder(VideoInfo(w, h, 24, 1, n), FlowInterpolationGenerator())
    whole = dec.decode_segment(0, n - 1, a, b, refinements=refs)
    given: list[int] = []
    most = 0

    def frames():
        nonlocal most
        for i, f in refs:
            given.append(i)
            yield i, f

    lazy = RefinementFrames(idx, frames())
    out = []
    for chunk in dec.iter_segment(0, n - 1, a, b, refinements=lazy):
        most = max(most, len(given) - sum(len(c) for c in out) // 3)  # pulled ahead of what was emitted
        out.append(chunk)
    assert np.array_equal(np.concatenate(out), whole)
    assert most <= MAX_CHUNK_REFINEMENTS + 1, most
