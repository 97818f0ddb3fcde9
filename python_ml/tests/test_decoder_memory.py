# SPDX-License-Identifier: GPL-3.0-or-later
"""Bounded decoder memory: boundary keyframes are decoded in a small window while frames are
generated (never all at once), and chunks of big geometries hold few frames. The RSS numbers
for 10 / 1,000 / 10,000 keyframes are bench/decoder_memory.py's."""

from __future__ import annotations

import weakref

import numpy as np

from lgvsc.backends.classical_generator import FlowInterpolationGenerator
from lgvsc.decoder import KEYFRAME_WINDOW, MAX_CHUNK_BYTES, SegmentDecoder, SemanticDecoder
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
    assert len(report.keyframes_concealed) == 40 and len(report.keyframes_decoded) == 360
    n = sum(1 for _ in frames)
    assert n == stream.video.num_frames
    assert codec.most_alive <= KEYFRAME_WINDOW + 2, codec.most_alive  # not 400


def test_big_geometry_gets_short_chunks():
    dec = SegmentDecoder(VideoInfo(4096, 4096, 24, 1, 172_800), FlowInterpolationGenerator())
    assert dec.max_chunk_frames * 4096 * 4096 * 3 <= MAX_CHUNK_BYTES
    assert 2 <= dec.max_chunk_frames <= 5
    assert SegmentDecoder(VideoInfo(576, 320, 24, 1, 100), FlowInterpolationGenerator()).max_chunk_frames == 240
