# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for lgvsc.wire: the binary stream form and per-object encoders."""

from __future__ import annotations

import dataclasses

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stream_strategies import example_stream, streams

from lgvsc.errors import PacketError
from lgvsc.stream import Keyframe, Segment
from lgvsc.wire import (
    MAGIC,
    WIRE_VERSION,
    decode_header,
    decode_keyframe,
    decode_segment,
    encode_header,
    encode_keyframe,
    encode_segment,
    header_of,
    stream_from_bytes,
    stream_to_bytes,
)


def test_round_trip_example():
    s = example_stream()
    data = stream_to_bytes(s)
    assert data[:4] == MAGIC and data[4] == WIRE_VERSION
    back = stream_from_bytes(data)
    assert back == s
    assert stream_to_bytes(back) == data


def test_compact():
    """Everything but keyframe bytes and captions costs little: no field names on the air."""
    s = example_stream(kf_bytes=0)
    data = stream_to_bytes(s)
    as_json = s.to_json(indent=None)
    assert len(data) < 0.6 * len(as_json), (len(data), len(as_json))
    kf = example_stream(kf_bytes=3000).keyframes[1]
    assert len(encode_keyframe(kf)) - len(kf.data) <= 16


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_round_trip_property(s):
    data = stream_to_bytes(s)
    assert stream_from_bytes(data) == s


def test_header_lists_structure():
    s = example_stream()
    h = decode_header(encode_header(s))
    assert h == header_of(s)
    assert h.keyframe_indices == (0, 60, 150, 239)
    assert h.num_segments == 3
    e = h.empty_stream()
    assert e.video == s.video and e.keyframes == [] and e.segments == []


def test_object_round_trips():
    s = example_stream()
    assert decode_keyframe(encode_keyframe(s.keyframes[1])) == s.keyframes[1]
    assert decode_segment(encode_segment(s.segments[2])) == s.segments[2]


@pytest.mark.parametrize(
    "data, match",
    [
        (b"", "bad magic"),
        (b"LGV", "bad magic"),
        (b"XXXX\x01\x93", "bad magic"),
        (MAGIC + b"\x09" + b"\x93", "wire version 9"),
        (MAGIC + bytes([WIRE_VERSION]), "malformed msgpack"),
        (MAGIC + bytes([WIRE_VERSION]) + b"\xc1", "malformed msgpack"),
        (MAGIC + bytes([WIRE_VERSION]) + msgpack.packb([1, 2]), "expected 3 fields"),
        (MAGIC + bytes([WIRE_VERSION]) + msgpack.packb({"a": 1}), "expected an array"),
    ],
)
def test_malformed_streams(data, match):
    with pytest.raises(PacketError, match=match):
        stream_from_bytes(data)


def test_truncated_stream_rejected_at_every_length():
    data = stream_to_bytes(example_stream(kf_bytes=50))
    for n in range(len(data)):
        with pytest.raises(PacketError):
            stream_from_bytes(data[:n])
    with pytest.raises(PacketError, match="malformed"):
        stream_from_bytes(data + b"\x00")


def test_max_size_enforced():
    data = stream_to_bytes(example_stream(kf_bytes=5000))
    with pytest.raises(PacketError, match="exceeds the limit"):
        stream_from_bytes(data, max_size=1000)


def test_declared_huge_bin_not_allocated():
    # bin32 claiming 4 GiB with 3 bytes behind it: msgpack's limit rejects it before allocating.
    evil = MAGIC + bytes([WIRE_VERSION]) + b"\x93\xc6\xff\xff\xff\xff abc"
    with pytest.raises(PacketError):
        stream_from_bytes(evil)


def test_ext_types_rejected():
    bad = msgpack.packb([0, "webp", 0, 0, msgpack.ExtType(5, b"xx")])
    with pytest.raises(PacketError):
        decode_keyframe(bad)


def test_field_types_checked():
    good = msgpack.unpackb(encode_header(example_stream()))
    for i, bad_value in [(2, True), (2, 0), (2, "576"), (6, -1), (10, float("nan")), (8, 5)]:
        fields = list(good)
        fields[i] = bad_value
        with pytest.raises(PacketError, match="header"):
            decode_header(msgpack.packb(fields))
    fields = list(good)
    fields[12] = [0, 60, 60, 239]
    with pytest.raises(PacketError, match="increasing"):
        decode_header(msgpack.packb(fields))
    fields = list(good)
    fields[13] = 10
    with pytest.raises(PacketError, match="num_segments"):
        decode_header(msgpack.packb(fields))


def test_segment_checks():
    with pytest.raises(PacketError, match="not after"):
        decode_segment(msgpack.packb([0, 10, 10, "", 0.0, 0.0, {}]))
    with pytest.raises(PacketError, match="map key"):
        decode_segment(msgpack.packb([0, 0, 10, "", 0.0, 0.0, {1: 2}]))
    with pytest.raises(PacketError, match="keys must be strings"):
        decode_segment(msgpack.packb([0, 0, 10, "", 0.0, 0.0, {b"k": 2}]))
    deep = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    with pytest.raises(PacketError, match="nested deeper"):
        decode_segment(msgpack.packb([0, 0, 10, "", 0.0, 0.0, deep]))
    with pytest.raises(ValueError, match="nested deeper"):
        encode_segment(Segment(0, 0, 10, side_info=deep))
    with pytest.raises(ValueError, match="unsupported"):
        encode_segment(Segment(0, 0, 10, side_info={"x": object()}))


def test_caption_too_long_rejected():
    with pytest.raises(PacketError):
        decode_segment(msgpack.packb([0, 0, 10, "x" * 20000, 0.0, 0.0, {}]))


def test_inconsistent_stream_rejected():
    s = example_stream()
    with pytest.raises(ValueError):
        stream_to_bytes(dataclasses.replace(s, segments=s.segments[::-1]))
    # Hand-build a body whose keyframes disagree with the header.
    body = [
        msgpack.unpackb(encode_header(s)),
        [msgpack.unpackb(encode_keyframe(k)) for k in s.keyframes[:-1]],
        [msgpack.unpackb(encode_segment(g)) for g in s.segments],
    ]
    data = MAGIC + bytes([WIRE_VERSION]) + msgpack.packb(body)
    with pytest.raises(PacketError, match="keyframe indices"):
        stream_from_bytes(data)


def test_keyframe_data_must_be_bytes():
    with pytest.raises(PacketError, match="keyframe.data"):
        decode_keyframe(msgpack.packb([0, "webp", 0, 0, "text"]))
    with pytest.raises(ValueError):
        encode_keyframe(Keyframe(0, "webp", "text"))  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_bytes_only_packet_error(data):
    for fn in (stream_from_bytes, decode_header, decode_keyframe, decode_segment):
        try:
            fn(data)
        except PacketError:
            pass
        try:
            fn(MAGIC + bytes([WIRE_VERSION]) + data)
        except PacketError:
            pass


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(streams(max_keyframes=3, max_kf_bytes=20), st.data())
def test_mutated_stream_only_packet_error(s, data):
    raw = bytearray(stream_to_bytes(s))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    try:
        out = stream_from_bytes(bytes(raw))
    except PacketError:
        return
    out.validate()  # anything accepted is a consistent stream


def test_segments_must_run_between_consecutive_keyframes():
    s = example_stream()
    moved = dataclasses.replace(s.segments[1], end_frame=149)
    s.segments[1] = moved
    s.segments[2] = dataclasses.replace(s.segments[2], start_frame=149)
    with pytest.raises(ValueError, match="not keyframes"):
        stream_to_bytes(s)
    ok = example_stream()
    body = [
        msgpack.unpackb(encode_header(ok)),
        [msgpack.unpackb(encode_keyframe(k)) for k in ok.keyframes],
        [msgpack.unpackb(encode_segment(g)) for g in s.segments],
    ]
    with pytest.raises(PacketError, match="its keyframes are"):
        stream_from_bytes(MAGIC + bytes([WIRE_VERSION]) + msgpack.packb(body))
    with pytest.raises(ValueError, match="segments need more"):
        stream_to_bytes(dataclasses.replace(ok, keyframes=[ok.keyframes[0], ok.keyframes[-1]]))


# -- version 2: one-byte motion score, refinements; version 1 still reads ---------------------------------
def test_v2_segment_is_compact_and_quantises_motion():
    seg = Segment(0, 0, 10, "", motion_score=3.4, motion_magnitude=1.234)
    raw = encode_segment(seg)
    assert len(raw) <= 10  # no float64 anywhere
    back = decode_segment(raw)
    assert back.motion_score == 3.5 and back.motion_magnitude == 0.0
    assert decode_segment(encode_segment(Segment(0, 0, 10, motion_score=500.0))).motion_score == 127.5


def test_refinements_round_trip_and_are_checked():
    from lgvsc.stream import Refinement

    seg = Segment(1, 10, 30, "c", 1.0, refinements=[Refinement(12, b"\x12\x00"), Refinement(20, b"abc")])
    assert decode_segment(encode_segment(seg)) == seg
    for refs in ([[10, b"x"]], [[30, b"x"]], [[15, b"x"], [14, b"y"]], [[15, b""]], [[15, "x"]], [[15]]):
        with pytest.raises(PacketError, match="refinements"):
            decode_segment(msgpack.packb([1, 10, 30, "c", 2, {}, refs], use_bin_type=True))


def test_version_1_stream_file_still_decodes():
    from pathlib import Path

    data = (Path(__file__).parent / "data" / "stream_v1_webp.lgvs").read_bytes()
    assert data[4] == 1
    s = stream_from_bytes(data)
    assert s.version == 1 and s.keyframe_indices() == [0, 20, 35]
    assert [k.codec_id for k in s.keyframes] == ["webp"] * 3
    assert [seg.motion_score for seg in s.segments] == [1.0, 2.5]
    assert s.segments[0].motion_magnitude > 0 and s.segments[0].caption.startswith("dim scene")
    again = stream_from_bytes(stream_to_bytes(s))  # re-written in the current layout
    assert again.keyframes == s.keyframes and again.version == 2
