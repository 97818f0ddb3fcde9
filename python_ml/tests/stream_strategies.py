# SPDX-License-Identifier: GPL-3.0-or-later
"""Hypothesis strategies and a fixed example for :class:`lgvsc.stream.SemanticStream` (shared by the
wire and packet tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from lgvsc.stream import Keyframe, Refinement, Segment, SemanticStream, VideoInfo

__all__ = ["example_stream", "streams"]

_text = st.text(max_size=40)
_finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
_side = st.dictionaries(
    st.text(max_size=8),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        _finite,
        st.text(max_size=8),
        st.binary(max_size=8),
        st.lists(st.integers(0, 9), max_size=4),
    ),
    max_size=3,
)


@st.composite
def streams(draw, max_keyframes: int = 6, max_kf_bytes: int = 300) -> SemanticStream:
    """Valid streams: increasing keyframes, contiguous segments between consecutive keyframes."""
    num_frames = draw(st.integers(2, 500))
    n_kf = draw(st.integers(2, min(max_keyframes, num_frames)))
    inner = (
        draw(st.lists(st.integers(1, num_frames - 2), unique=True, max_size=n_kf - 2))
        if num_frames > 2
        else []
    )
    idx = sorted({0, num_frames - 1, *inner})
    kfs = [
        Keyframe(
            frame_index=i,
            codec_id=draw(st.sampled_from(["webp", "jpeg", "avif"])),
            data=draw(st.binary(max_size=max_kf_bytes)),
            coded_width=draw(st.integers(0, 1024)),
            coded_height=draw(st.integers(0, 1024)),
        )
        for i in idx
    ]
    segs = [
        Segment(
            index=j,
            start_frame=a,
            end_frame=b,
            caption=draw(_text),
            motion_score=draw(st.integers(0, 255)) * 0.5,  # the wire's one-byte motion score
            side_info=draw(_side),
            refinements=[
                Refinement(k, draw(st.binary(min_size=1, max_size=40)))
                for k in draw(st.lists(st.integers(a + 1, b - 1), unique=True, max_size=3)) if b - a > 1
            ]
            if b - a > 1
            else [],
        )
        for j, (a, b) in enumerate(zip(idx, idx[1:], strict=False))
    ]
    for seg in segs:
        seg.refinements.sort(key=lambda r: r.frame_index)
    return SemanticStream(
        video=VideoInfo(
            width=draw(st.integers(1, 4096)),
            height=draw(st.integers(1, 4096)),
            fps_num=draw(st.integers(1, 120000)),
            fps_den=draw(st.integers(1, 1001)),
            num_frames=num_frames,
            name=draw(_text),
        ),
        keyframes=kfs,
        segments=segs,
        stream_id=draw(st.integers(0, 65535)),
        method=draw(st.sampled_from(["skem", "skim"])),
        focus=draw(st.sampled_from(["general", "main_object", "background"])),
        threshold=draw(_finite),
        profile=draw(st.sampled_from(["classical", "hf"])),
    )


def example_stream(kf_bytes: int = 2000, stream_id: int = 7) -> SemanticStream:
    """A realistic 10 s stream at 576x320@24 with four keyframes of ``kf_bytes`` bytes each."""
    idx = [0, 60, 150, 239]
    kfs = [Keyframe(i, "webp", bytes((i + j) % 256 for j in range(kf_bytes)), 576, 320) for i in idx]
    caps = ["a red car drives along a coastal road", "the car stops at a junction", "a cyclist passes"]
    segs = [
        Segment(
            j, a, b, caps[j], motion_score=1.5 + j, side_info={"focus": "general"}
        )
        for j, (a, b) in enumerate(zip(idx, idx[1:], strict=False))
    ]
    return SemanticStream(VideoInfo(576, 320, 24, 1, 240, "car.mp4"), kfs, segs, stream_id=stream_id)
