# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for lgvsc.packets: PDU header, packetiser and the loss-tolerant reassembler."""

from __future__ import annotations

import dataclasses
import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stream_strategies import example_stream, streams

from lgvsc.errors import PacketError
from lgvsc.packets import (
    HEADER_SIZE,
    MIN_MTU,
    OBJECT_OVERHEAD,
    PDU_MAGIC,
    Kind,
    Packetizer,
    PduHeader,
    Priority,
    Reassembler,
    ReassemblerConfig,
    WireObject,
    packetize,
    parse_pdu,
    stream_objects,
)
from lgvsc.wire import encode_keyframe, encode_segment, stream_to_bytes

MTU = 96


def _feed_all(rx: Reassembler, pdus):
    events = []
    for p in pdus:
        events.extend(rx.feed(p))
    return events


def _originals(stream):
    """(kind, object_id) -> payload bytes of every object of ``stream``."""
    return {(o.kind, o.object_id): o.payload for o in stream_objects(stream)}


# -- header ---------------------------------------------------------------------
def test_header_layout_is_17_bytes_big_endian():
    h = PduHeader(Kind.KEYFRAME, 2, stream_id=0x0102, seq=0x03040506, object_id=7, frag_index=8, frag_count=9)
    raw = h.pack()
    assert HEADER_SIZE == 17 and len(raw) == 17
    assert raw == b"LP" + bytes([1, 2, 2]) + b"\x01\x02" + b"\x03\x04\x05\x06" + b"\x00\x07\x00\x08\x00\x09"
    parsed, payload = parse_pdu(raw + b"xyz")
    assert parsed == h and payload == b"xyz"


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda b: b[:HEADER_SIZE], "too short"),
        (lambda b: b"XX" + b[2:], "bad magic"),
        (lambda b: b[:2] + b"\x02" + b[3:], "version 2"),
        (lambda b: b[:3] + b"\x00" + b[4:], "unknown PDU kind 0"),
        (lambda b: b[:3] + b"\x09" + b[4:], "unknown PDU kind 9"),
        (lambda b: b[:4] + b"\x08" + b[5:], "priority"),
        (lambda b: b[:13] + b"\x00\x05\x00\x05" + b[17:], "not below"),
        (lambda b: b[:13] + b"\x00\x00\x00\x00" + b[17:], "not below"),
        (lambda b: b[:3] + b"\x01" + b[4:11] + b"\x00\x03" + b[13:], "id 0"),
    ],
)
def test_parse_rejects(mutate, match):
    good = PduHeader(Kind.KEYFRAME, 2, 1, 0, 3, 0, 2).pack() + b"payload"
    with pytest.raises(PacketError, match=match):
        parse_pdu(mutate(good))


def test_parse_rejects_oversized_and_non_bytes():
    with pytest.raises(PacketError, match="exceeds"):
        parse_pdu(PduHeader(Kind.HEADER, 0, 1, 0, 0, 0, 1).pack() + bytes(100), max_pdu_bytes=64)
    with pytest.raises(PacketError, match="bytes"):
        parse_pdu("text")  # type: ignore[arg-type]


# -- packetiser -------------------------------------------------------------------
def test_pdus_fit_mtu_and_object_order():
    s = example_stream(kf_bytes=500)
    pdus = packetize(s, MTU, header_every=0)
    assert all(HEADER_SIZE < len(p) <= MTU for p in pdus)
    heads = [parse_pdu(p)[0] for p in pdus]
    assert [h.seq for h in heads] == list(range(len(pdus)))
    objs = []
    for h in heads:
        if h.frag_index == 0:
            objs.append((h.kind, h.object_id))
    K, S = Kind.KEYFRAME, Kind.SEGMENT
    assert objs == [(Kind.HEADER, 0), (K, 0), (K, 1), (S, 0), (K, 2), (S, 1), (K, 3), (S, 2), (Kind.END, 0)]
    prio = {h.kind: h.priority for h in heads}
    assert prio == {Kind.HEADER: 0, Kind.KEYFRAME: 2, Kind.SEGMENT: 1, Kind.END: 3}
    # Full fragments use the whole MTU: a 500 B keyframe at 79 B/fragment needs ceil(~520/79) PDUs.
    kf_pdus = [p for p, h in zip(pdus, heads, strict=True) if h.kind == K and h.object_id == 1]
    assert len(kf_pdus) == -(-len(encode_keyframe(s.keyframes[1])) // (MTU - HEADER_SIZE))
    assert all(len(p) == MTU for p in kf_pdus[:-1])


def test_header_repeats():
    s = example_stream(kf_bytes=10)
    kinds = [o.kind for o in stream_objects(s, header_every=2)]
    assert kinds[0] == Kind.HEADER
    # 7 data objects: first, after objects 2, 4 and 6, and once more after the last.
    assert kinds.count(Kind.HEADER) == 5 and kinds[-1] == Kind.HEADER
    assert [o.kind for o in stream_objects(s, header_every=0)].count(Kind.HEADER) == 1
    with pytest.raises(ValueError):
        stream_objects(s, header_every=-1)


def test_packetizer_limits():
    with pytest.raises(ValueError, match="mtu"):
        Packetizer(0, MIN_MTU - 1)
    with pytest.raises(ValueError, match="stream_id"):
        Packetizer(70000, MTU)
    p = Packetizer(0, MIN_MTU)
    with pytest.raises(ValueError, match="fragments"):
        p.fragment(WireObject(Kind.KEYFRAME, 0, bytes(15 * 65536), Priority.KEYFRAME))
    with pytest.raises(ValueError):
        packetize(dataclasses.replace(example_stream(), stream_id=1 << 16), MTU)


def test_end_counts_pdus():
    s = example_stream(kf_bytes=300)
    pdus = packetize(s, MTU)
    rx = Reassembler()
    events = _feed_all(rx, pdus)
    assert events[-1].kind == Kind.END and events[-1].value.pdus_sent == len(pdus)
    _, rep = rx.snapshot()
    assert rep.pdus_received == rep.pdus_expected == len(pdus) and rep.pdus_lost == 0
    rx2 = Reassembler()
    _feed_all(rx2, pdus[:3] + pdus[5:])
    d = rx2.snapshot()[1].to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["pdus_lost"] == 2 and d["missing_keyframes"] == [0] and d["complete"] is False


# -- reassembler: full delivery -----------------------------------------------------
def test_in_order_round_trip_and_early_segment_decode():
    s = example_stream(kf_bytes=700)
    rx = Reassembler()
    done: set[tuple[Kind, int]] = set()
    for p in packetize(s, MTU):
        for ev in rx.feed(p):
            if ev.kind == Kind.SEGMENT:
                # A segment completes only after its header and both boundary keyframes.
                j = ev.object_id
                assert {(Kind.HEADER, 0), (Kind.KEYFRAME, j), (Kind.KEYFRAME, j + 1)} <= done
            done.add((ev.kind, ev.object_id))
    got, rep = rx.snapshot()
    assert got == s
    assert rep.complete and rep.end_received and rep.missing_keyframes == () and rep.missing_segments == ()
    assert stream_to_bytes(got) == stream_to_bytes(s)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    streams(max_keyframes=5, max_kf_bytes=400), st.integers(MIN_MTU, 300), st.randoms(use_true_random=False)
)
def test_any_order_with_duplicates_gives_identical_stream(s, mtu, rnd):
    pdus = packetize(s, mtu, header_every=rnd.choice([0, 1, 3]))
    pdus = pdus + rnd.sample(pdus, k=min(len(pdus), 5))
    rnd.shuffle(pdus)
    rx = Reassembler()
    _feed_all(rx, pdus)
    got, rep = rx.snapshot(s.stream_id)
    assert got == s and rep.complete and rep.partial_objects == 0
    # what it holds: the payload, plus the per-object bookkeeping it now counts honestly
    objects = 2 + len(s.keyframes) + len(s.segments)
    assert rx.memory_bytes() <= sum(len(p) for p in pdus) + objects * OBJECT_OVERHEAD


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    streams(max_keyframes=5, max_kf_bytes=300),
    st.floats(0.0, 0.6),
    st.randoms(use_true_random=False),
)
def test_loss_dup_reorder_completed_objects_are_exact(s, loss, rnd):
    pdus = packetize(s, 64)
    kept = [p for p in pdus if rnd.random() >= loss]
    kept += [rnd.choice(kept) for _ in range(len(kept) // 4)] if kept else []
    rnd.shuffle(kept)
    originals = _originals(s)
    rx = Reassembler()
    events = _feed_all(rx, kept)
    seen = set()
    for ev in events:
        if ev.kind != Kind.END:
            assert ev.payload == originals[(ev.kind, ev.object_id)]
        assert (ev.kind, ev.object_id) not in seen  # each object reported once
        seen.add((ev.kind, ev.object_id))
    got, rep = rx.snapshot(s.stream_id)
    if (Kind.HEADER, 0) not in seen:
        assert got is None and not rep.header_received
        return
    kf_ids = {oid for k, oid in seen if k == Kind.KEYFRAME}
    seg_ids = {oid for k, oid in seen if k == Kind.SEGMENT}
    assert got.keyframes == [s.keyframes[i] for i in sorted(kf_ids)]
    assert got.segments == [s.segments[j] for j in sorted(seg_ids)]
    all_kf = s.keyframe_indices()
    assert rep.missing_keyframes == tuple(all_kf[i] for i in range(len(all_kf)) if i not in kf_ids)
    assert rep.missing_segments == tuple(j for j in range(len(s.segments)) if j not in seg_ids)
    assert rep.complete == (len(kf_ids) == len(all_kf) and len(seg_ids) == len(s.segments))


# -- reassembler: hostile input -----------------------------------------------------
_SMALL = ReassemblerConfig(
    max_fragments=64,
    max_object_bytes=4096,
    max_partial_objects=8,
    max_partial_bytes=8192,
    max_streams=3,
    max_stream_bytes=16384,
    max_tracked_seq=4096,
)
_SMALL_BOUND = (
    _SMALL.max_streams * (_SMALL.max_stream_bytes + _SMALL.max_tracked_seq // 8) + _SMALL.max_partial_bytes
)


def _check_bounded(rx: Reassembler):
    assert rx.memory_bytes() <= _SMALL_BOUND
    assert len(rx._partials) <= _SMALL.max_partial_objects
    assert len(rx.stream_ids()) <= _SMALL.max_streams


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=120), max_size=30))
def test_random_bytes_only_packet_error(blobs):
    rx = Reassembler(_SMALL)
    for b in blobs:
        for data in (b, PDU_MAGIC + b"\x01" + b):  # half of them get past the magic/version check
            try:
                rx.feed(data)
            except PacketError:
                pass
            _check_bounded(rx)
        rx.snapshot()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(max_keyframes=4, max_kf_bytes=200), st.data())
def test_mutated_pdus_only_packet_error(s, data):
    pdus = packetize(s, 48)
    rx = Reassembler(_SMALL)
    for p in pdus:
        raw = bytearray(p)
        if data.draw(st.booleans()):
            for _ in range(data.draw(st.integers(1, 3))):
                pos = data.draw(st.integers(0, len(raw) - 1))
                raw[pos] = data.draw(st.integers(0, 255))
        if data.draw(st.integers(0, 9)) == 0:
            raw = raw[: data.draw(st.integers(0, len(raw)))]
        try:
            for ev in rx.feed(bytes(raw)):
                assert ev.value is not None
        except PacketError:
            pass
        _check_bounded(rx)
    got, rep = rx.snapshot()
    if got is not None:
        assert rep.header_received


def test_claimed_huge_fragment_count_and_object_size_bounded():
    rx = Reassembler(_SMALL)
    with pytest.raises(PacketError, match="fragment count"):
        rx.feed(PduHeader(Kind.KEYFRAME, 2, 1, 0, 0, 0, 65535).pack() + b"x")
    # 64 fragments of 200 B would be 12800 B > max_object_bytes 4096 (the 21st crosses it, before the
    # partial budget of 8192 B, which counts each fragment's overhead too).
    with pytest.raises(PacketError, match="beyond"):
        for i in range(64):
            rx.feed(PduHeader(Kind.KEYFRAME, 2, 1, i, 0, i, 64).pack() + bytes(200))
    _check_bounded(rx)
    assert rx.snapshot(1)[1].partial_objects == 0


def test_conflicting_fragments_rejected():
    rx = Reassembler()
    rx.feed(PduHeader(Kind.KEYFRAME, 2, 1, 0, 0, 0, 3).pack() + b"aaa")
    with pytest.raises(PacketError, match="disagrees"):
        rx.feed(PduHeader(Kind.KEYFRAME, 2, 1, 1, 0, 1, 4).pack() + b"bbb")
    with pytest.raises(PacketError, match="different bytes"):
        rx.feed(PduHeader(Kind.KEYFRAME, 2, 1, 2, 0, 0, 3).pack() + b"zzz")
    assert rx.feed(PduHeader(Kind.KEYFRAME, 2, 1, 3, 0, 0, 3).pack() + b"aaa") == []
    _, rep = rx.snapshot(1)
    assert rep.duplicates == 1 and rep.rejected == 2


def test_completed_garbage_object_is_rejected_and_dropped():
    rx = Reassembler()
    with pytest.raises(PacketError, match="malformed"):
        rx.feed(PduHeader(Kind.SEGMENT, 1, 5, 0, 0, 0, 1).pack() + b"\xc1garbage")
    with pytest.raises(PacketError, match="magic"):
        rx.feed(b"garbage" * 4)
    got, rep = rx.snapshot(5)
    assert got is None and rep.rejected == 1 and rep.partial_objects == 0
    assert rx.errors == 2


def test_segment_with_wrong_bounds_rejected():
    s = example_stream(kf_bytes=20)
    p = Packetizer(s.stream_id, MTU)
    rx = Reassembler()
    _feed_all(rx, p.fragment(stream_objects(s)[0]))
    bad = dataclasses.replace(s.segments[1], end_frame=149)
    with pytest.raises(PacketError, match="its keyframes are 60 and 150"):
        _feed_all(rx, p.fragment(WireObject(Kind.SEGMENT, 1, encode_segment(bad), Priority.SEGMENT)))
    assert rx.snapshot()[1].missing_segments == (0, 1, 2)


def test_objects_contradicting_header_are_dropped():
    s = example_stream(kf_bytes=20)
    p = Packetizer(s.stream_id, MTU)
    bad_kf = dataclasses.replace(s.keyframes[1], frame_index=61)
    before = p.fragment(WireObject(Kind.KEYFRAME, 1, encode_keyframe(bad_kf), 2))
    rx = Reassembler()
    _feed_all(rx, before)  # accepted for now: nothing to check against
    assert len(rx._streams[s.stream_id].keyframes) == 1
    objs = {(o.kind, o.object_id): o for o in stream_objects(s)}
    _feed_all(rx, p.fragment(objs[(Kind.HEADER, 0)]))
    _, rep = rx.snapshot()
    assert rep.rejected == 1 and 60 in rep.missing_keyframes
    with pytest.raises(PacketError, match="header says"):
        _feed_all(
            rx,
            Packetizer(s.stream_id, MTU).fragment(WireObject(Kind.KEYFRAME, 2, encode_keyframe(bad_kf), 2)),
        )
    _feed_all(rx, p.fragment(objs[(Kind.KEYFRAME, 1)]))
    assert 60 not in rx.snapshot()[1].missing_keyframes


def test_partial_objects_evicted_oldest_first():
    rx = Reassembler(_SMALL)
    for oid in range(20):
        rx.feed(PduHeader(Kind.KEYFRAME, 2, 1, oid, oid, 0, 2).pack() + b"first-half")
    assert len(rx._partials) == _SMALL.max_partial_objects
    assert rx.evicted_partials == 20 - _SMALL.max_partial_objects
    assert sorted(k[2] for k in rx._partials) == list(range(12, 20))


def test_multiple_streams_interleaved():
    a, b = example_stream(kf_bytes=300, stream_id=1), example_stream(kf_bytes=200, stream_id=2)
    b.segments[0].caption = "something else"
    pa, pb = packetize(a, MTU), packetize(b, MTU)
    mixed = [x for pair in zip(pa, pb, strict=False) for x in pair] + pa[len(pb) :] + pb[len(pa) :]
    rx = Reassembler()
    _feed_all(rx, mixed)
    assert sorted(rx.stream_ids()) == [1, 2]
    assert rx.snapshot(1)[0] == a and rx.snapshot(2)[0] == b
    rx.forget(1)
    assert rx.stream_ids() == [2] and rx.snapshot(1) == (None, rx.snapshot(1)[1])


def test_stream_limit_evicts_or_rejects():
    pdus = {sid: packetize(example_stream(kf_bytes=10, stream_id=sid), MTU) for sid in range(5)}
    rx = Reassembler(_SMALL)
    for sid in range(5):
        rx.feed(pdus[sid][0])
    assert rx.stream_ids() == [2, 3, 4] and rx.evicted_streams == 2
    strict = Reassembler(dataclasses.replace(_SMALL, reject_new_streams=True))
    for sid in range(3):
        strict.feed(pdus[sid][0])
    with pytest.raises(PacketError, match="stream 3 refused"):
        strict.feed(pdus[3][0])
    assert strict.stream_ids() == [0, 1, 2]


def test_header_under_wrong_stream_id_rejected():
    s = example_stream(stream_id=9)
    hdr = packetize(s, MTU)[0]
    forged = hdr[:5] + struct.pack("!H", 10) + hdr[7:]
    with pytest.raises(PacketError, match="stream id 10"):
        Reassembler().feed(forged)


def test_snapshot_empty():
    got, rep = Reassembler().snapshot()
    assert got is None and rep.stream_id is None and not rep.complete
