# SPDX-License-Identifier: GPL-3.0-or-later
"""Property tests of lgvsc.pmt_codec on its own (the cross-interpreter check against GNU Radio's
pmt lives in tests/test_pmt_wire.py)."""

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgvsc.errors import PacketError
from lgvsc.pmt_codec import (
    MAX_DEPTH,
    Pair,
    Uint64,
    UniformVector,
    decode,
    decode_pdu,
    encode,
    encode_pdu,
)

symbols = st.text(max_size=20)
scalars = st.one_of(
    st.none(), st.booleans(), symbols,
    st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
    st.integers(min_value=0, max_value=(1 << 64) - 1).map(Uint64),
    st.floats(allow_nan=False), st.complex_numbers(allow_nan=False),
    st.binary(max_size=64),
    st.lists(st.floats(width=32, allow_nan=False), max_size=8).map(lambda v: UniformVector("f32", v)),
    st.lists(st.integers(-(1 << 15), (1 << 15) - 1), max_size=8).map(lambda v: UniformVector("s16", v)),
)
keys = st.one_of(symbols, st.integers(min_value=2, max_value=1000))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.dictionaries(keys, inner, max_size=5),
        st.builds(Pair, inner, inner),
        st.lists(inner, max_size=4),
        st.lists(inner, min_size=1, max_size=4).map(tuple),
    ),
    max_leaves=20,
)


def _same(a, b):
    """Equality that treats NaN-free floats exactly and dict order as significant."""
    if a == {} and b is None:  # the empty dict is PMT_NIL on the wire
        return True
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, Pair):
        return isinstance(b, Pair) and _same(a.car, b.car) and _same(a.cdr, b.cdr)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


@given(values)
@settings(max_examples=300, deadline=None)
def test_round_trip_is_exact(value):
    wire = encode(value)
    back = decode(wire)
    if value == {}:  # the empty dict is PMT_NIL on the wire
        assert back is None
    else:
        assert encode(back) == wire
        if not isinstance(value, UniformVector):
            assert _same(value, back)


@given(st.dictionaries(symbols, scalars, max_size=6), st.binary(max_size=2000))
@settings(max_examples=200, deadline=None)
def test_pdu_round_trip(meta, payload):
    meta_back, payload_back = decode_pdu(encode_pdu(meta, payload))
    assert payload_back == payload
    assert list(meta_back) == list(meta)


def test_known_bytes_match_gnuradio():
    # Captured from GNU Radio 3.10.5: pmt.serialize_str(pmt.cons(d, pmt.init_u8vector(2, [9, 9])))
    # with d = dict_add(dict_add(make_dict(), 'a', 1), 'b', PMT_T) (dict_add prepends: b first).
    wire = bytes.fromhex("07 09 07 02 00 01 62 00 09 07 02 00 01 61 03 00 00 00 01 06 0a 00 00 00 00 02 01 00 09 09")
    assert decode_pdu(wire) == ({"b": True, "a": 1}, b"\x09\x09")
    assert encode_pdu({"b": True, "a": 1}, b"\x09\x09") == wire
    assert encode(1 << 40).hex() == "0d0000010000000000"
    assert encode(-5).hex() == "03fffffffb"
    assert encode(Uint64(7)).hex() == "0b0000000000000007"
    assert encode(UniformVector("c32", [1j])).hex() == "0a0a00000001010000000000" + "3f800000"


@given(values, st.data())
@settings(max_examples=300, deadline=None)
def test_mutated_bytes_raise_only_packet_error(value, data):
    wire = bytearray(encode(value))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(0, len(wire) - 1)))
        if op == "flip" and wire:
            wire[pos] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del wire[pos:]
        else:
            wire[pos:pos] = data.draw(st.binary(min_size=1, max_size=6))
    try:
        decode(bytes(wire))
    except PacketError:
        pass


@pytest.mark.parametrize(
    "wire, problem",
    [
        (b"", "empty"),
        (b"\x02\x00\x05ab", "truncated"),
        (b"\x08\xff\xff\xff\xff\x06", "claims"),
        (b"\x0a\x00\x7f\xff\xff\xff\x01\x00", "claims"),
        (b"\x0a\x0f\x00\x00\x00\x00\x01\x00", "uniform vector type"),
        (b"\x42", "type tag"),
        (b"\x06\x06", "trailing"),
        (b"\x09\x02\x00\x01a\x06", "not a pair"),
        (b"\x09\x07\x02\x00\x01a\x06\x09\x07\x02\x00\x01a\x06\x06", "duplicate"),
    ],
)
def test_malformed_is_named(wire, problem):
    with pytest.raises(PacketError, match=problem):
        decode(wire)


def test_depth_and_size_caps():
    deep = b"\x07" * (MAX_DEPTH + 5) + b"\x06" * (MAX_DEPTH + 6)
    with pytest.raises(PacketError, match="deeper"):
        decode(deep)
    with pytest.raises(PacketError, match="exceeds the cap"):
        decode(encode(b"x" * 100), max_bytes=50)
    with pytest.raises(ValueError, match="above the cap"):
        encode(b"x" * 100, max_bytes=50)
    # A long dict chain is read iteratively, not recursively.
    big = {f"k{i}": i for i in range(5000)}
    assert decode(encode(big)) == big


def test_pdu_shape_errors():
    with pytest.raises(PacketError, match="must be a PMT pair"):
        decode_pdu(encode(b"abc"))
    with pytest.raises(PacketError, match="payload must be a u8vector"):
        decode_pdu(encode(Pair({}, "sym")))
    with pytest.raises(PacketError, match="metadata must be a PMT dict"):
        decode_pdu(encode(Pair(3, b"")))
    assert decode_pdu(encode(Pair(None, b"\x01"))) == ({}, b"\x01")


def test_encode_rejects_out_of_model():
    with pytest.raises(TypeError, match="set"):
        encode({1, 2})
    with pytest.raises(ValueError, match="int64"):
        encode(1 << 64)
    with pytest.raises(ValueError):
        Uint64(-1)
    with pytest.raises(ValueError, match="kind"):
        UniformVector("u128", [])
    assert struct.unpack(">d", encode(1.5)[1:])[0] == 1.5


def test_empty_tuple_refused():
    with pytest.raises(ValueError, match="empty PMT tuple"):
        encode(())
