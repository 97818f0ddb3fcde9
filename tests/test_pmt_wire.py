# SPDX-License-Identifier: GPL-3.0-or-later
"""lgvsc.pmt_codec (venv, no GNU Radio) against GNU Radio's real pmt module (/usr/bin/python3).

Both directions, byte for byte and by meaning: PMTs built with the pmt API are decoded by our
codec, and values encoded by our codec are read back by pmt.deserialize_str.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lgvsc.pmt_codec import (
    Pair,
    Uint64,
    UniformVector,
    decode,
    decode_pdu,
    encode,
    encode_pdu,
)

GR_PYTHON = os.environ.get("GR_PYTHON", "/usr/bin/python3")
PEER = Path(__file__).with_name("pmt_peer.py")

pytestmark = pytest.mark.skipif(shutil.which(GR_PYTHON) is None, reason="GNU Radio interpreter not found")


def gr(request: dict) -> list:
    proc = subprocess.run([GR_PYTHON, str(PEER)], input=json.dumps(request), capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def describe(v):
    """Our value in pmt_peer.describe's format."""
    if v is None:
        return ["nil"]
    if isinstance(v, bool):
        return ["bool", v]
    if isinstance(v, str):
        return ["sym", v.encode("utf-8", "surrogateescape").hex()]
    if isinstance(v, Uint64):
        return ["u64", int(v)]
    if isinstance(v, int):
        return ["long", v]
    if isinstance(v, complex):
        return ["complex", v.real, v.imag]
    if isinstance(v, float):
        return ["double", v]
    if isinstance(v, bytes):
        return ["u8", v.hex()]
    if isinstance(v, UniformVector):
        if v.kind.startswith("c"):
            return ["uv", v.kind, [[c.real, c.imag] for c in v.values]]
        return ["uv", v.kind, list(v.values)]
    if isinstance(v, dict):
        return ["dict", [[describe(k), describe(x)] for k, x in v.items()]] if v else ["nil"]
    if isinstance(v, Pair):
        return ["pair", describe(v.car), describe(v.cdr)]
    if isinstance(v, list):
        return ["vector", [describe(x) for x in v]]
    if isinstance(v, tuple):
        return ["tuple", [describe(x) for x in v]]
    raise TypeError(type(v))


def jsonable(desc):
    return json.loads(json.dumps(desc))


def test_pmt_built_by_gnuradio_decodes_exactly():
    items = gr({"mode": "generate", "seed": 20261127, "n": 600})
    kinds = set()
    for item in items:
        wire = bytes.fromhex(item["hex"])
        value = decode(wire)
        assert jsonable(describe(value)) == item["desc"], item["hex"]
        assert encode(value) == wire, item["hex"]
        kinds.add(item["desc"][0])
    assert {"dict", "pair", "vector", "tuple", "u8", "uv", "long", "u64", "double", "complex", "sym"} <= kinds


scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=12),
    st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
    st.integers(min_value=0, max_value=(1 << 64) - 1).map(Uint64),
    st.floats(allow_nan=False), st.complex_numbers(allow_nan=False, allow_infinity=False),
    st.binary(max_size=64),
    st.lists(st.integers(0, 255), max_size=5).map(lambda v: UniformVector("u16", v)),
    st.lists(st.floats(width=32, allow_nan=False), max_size=5).map(lambda v: UniformVector("f32", v)),
    st.lists(st.complex_numbers(allow_nan=False, allow_infinity=False, width=64), max_size=3)
    .map(lambda v: UniformVector("c32", v)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
        st.builds(Pair, inner, inner),
        st.lists(inner, max_size=3),
        st.lists(inner, min_size=1, max_size=3).map(tuple),
    ),
    max_leaves=12,
)


@given(st.lists(values, min_size=30, max_size=30))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.data_too_large])
def test_our_bytes_read_back_by_gnuradio(batch):
    wires = [encode(v) for v in batch]
    answers = gr({"mode": "reserialize", "hex": [w.hex() for w in wires]})
    for value, wire, ans in zip(batch, wires, answers, strict=True):
        assert ans["hex"] == wire.hex()
        # GNU Radio read the same meaning (our re-decode normalises f32/c32 rounding and {} -> nil).
        assert ans["desc"] == jsonable(describe(decode(wire))), value


def test_pdus_both_ways():
    pdus = [({}, b""), ({"seq": 7, "crc_ok": True, "snr": 12.5}, bytes(range(256)) * 4),
            ({"packet_num": Uint64(2**40), "name": "x" * 300}, b"\x00")]
    answers = gr({"mode": "reserialize", "hex": [encode_pdu(m, p).hex() for m, p in pdus]})
    for (meta, payload), ans in zip(pdus, answers, strict=True):
        assert ans["desc"][0] == "pair" and ans["desc"][2] == ["u8", payload.hex()]
        assert decode_pdu(bytes.fromhex(ans["hex"])) == (meta, payload)
