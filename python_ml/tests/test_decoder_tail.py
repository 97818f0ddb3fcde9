# SPDX-License-Identifier: GPL-3.0-or-later
"""The decoders hand the generator the last frames they emitted (its ``tail_frames``) and each segment's index."""

from __future__ import annotations

import numpy as np

from lgvsc.backends.base import SegmentGenerator, SegmentRequest
from lgvsc.backends.classical_keyframe import keyframe_codec_for
from lgvsc.decoder import SegmentDecoder, SemanticDecoder
from lgvsc.stream import Keyframe, Segment, SemanticStream, VideoInfo

W, H = 32, 16


class Recorder(SegmentGenerator):
    """Every generated frame carries a fresh value; records what each request brought."""

    name = "recorder"

    def __init__(self, tail_frames: int = 5) -> None:
        self.tail_frames = tail_frames
        self.calls: list[tuple[int, int, np.ndarray | None]] = []
        self.counter = 0

    def generate(self, request: SegmentRequest) -> np.ndarray:
        tail = None if request.prev_tail is None else np.asarray(request.prev_tail).copy()
        self.calls.append((request.segment_index, request.chunk_index, tail))
        out = np.empty((request.num_frames, *request.first.shape), np.uint8)
        for i in range(request.num_frames):
            self.counter += 1
            out[i] = self.counter % 251
        return out


def _stream(boundaries: list[int]) -> SemanticStream:
    codec = keyframe_codec_for("webp")
    grey = np.full((H, W, 3), 100, np.uint8)
    kfs = [Keyframe(b, codec.codec_id, codec.encode(grey, 400)) for b in boundaries]
    segs = [Segment(index=i, start_frame=a, end_frame=b, caption="c")
            for i, (a, b) in enumerate(zip(boundaries, boundaries[1:], strict=False))]
    return SemanticStream(video=VideoInfo(W, H, 24, 1, boundaries[-1] + 1), keyframes=kfs, segments=segs)


def test_whole_stream_decoder_passes_the_last_emitted_frames_and_segment_indices():
    # short segments (3 frames) force the tail to reach back over several segments
    bounds = [0, 2, 4, 12, 30]
    gen = Recorder(tail_frames=5)
    frames, report = SemanticDecoder(gen, max_chunk_frames=8).decode(_stream(bounds))
    assert frames.shape[0] == 31 and not report.concealed
    starts = []  # the first frame of every generator call, in call order
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        starts += [(i, a + k * 7) for k in range(max(1, -(-(b - a) // 7)))]
    assert [(s, c) for s, c, _ in gen.calls] == [(i, k) for i, a in starts for k in [(a - bounds[i]) // 7]]
    for (seg, _, tail), (_, p) in zip(gen.calls, starts, strict=True):
        if p == 0:
            assert tail is None
            continue
        want = frames[max(0, p - 4):p + 1]  # up to 5 frames, ending with the boundary frame already emitted
        assert np.array_equal(tail, want), (seg, p)


def test_segment_decoder_passes_the_tail_through_its_memory_chunks():
    gen = Recorder(tail_frames=3)
    dec = SegmentDecoder(VideoInfo(W, H, 24, 1, 40), gen, max_chunk_frames=10)
    a = np.zeros((H, W, 3), np.uint8)
    prev = np.stack([np.full((H, W, 3), v, np.uint8) for v in (200, 201, 202, 203)])
    out = dec.decode_segment(0, 25, a, a, prev_tail=prev, segment_index=7)
    assert out.shape[0] == 26
    assert [(s, c) for s, c, _ in gen.calls] == [(7, 0), (7, 1), (7, 2)]
    assert np.array_equal(gen.calls[0][2], prev[-3:])
    # chunk 1 starts at frame 9: the tail is frames 7..9 of the output so far
    assert np.array_equal(gen.calls[1][2], out[7:10]) and np.array_equal(gen.calls[2][2], out[16:19])


def test_generators_without_a_tail_length_get_one_frame():
    gen = Recorder()
    del gen.tail_frames
    SemanticDecoder(gen).decode(_stream([0, 5, 9]))
    assert gen.calls[0][2] is None and len(gen.calls[1][2]) == 1
