# SPDX-License-Identifier: GPL-3.0-or-later
"""Fuzz targets: every parser that reads bytes from a socket, the air or a file.

Each target is ``(seeds, call, expected)``: valid inputs to mutate from, a function of one
``bytes`` input, and the exception types that are the parser's *named* refusal. Anything else
raised is an uncaught exception (a bug). Runs in the ML venv; the radio side's PMT validator is
pure Python and is imported from the source tree.
"""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

__all__ = ["TARGETS", "load"]

ROOT = Path(__file__).resolve().parents[1]


def _pmt_frame():
    spec = importlib.util.spec_from_file_location("pmt_frame", ROOT / "gr-lgvsc/python/lgvsc/pmt_frame.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _stream():
    import numpy as np
    from lgvsc.encoder import SemanticEncoder
    from lgvsc.profiles import build_backends
    from lgvsc.samples import drawn_scene
    from lgvsc.video import VideoClip

    d = drawn_scene(num_frames=12, width=64, height=48, fps=24, cuts=())
    s = SemanticEncoder(build_backends("classical")).encode(VideoClip(np.asarray(d.frames), fps=Fraction(24)))
    s.segments[0].side_info = {"a": [1, 2.5, "x"], "b": {"c": None}}
    return s


def load(name: str):
    """``(seeds, call, expected)`` for target ``name``."""
    from lgvsc.errors import PacketError
    from lgvsc.pmt_codec import UniformVector, decode, decode_pdu, encode, encode_pdu

    pdus = [encode_pdu({"seq": 1, "snr": 3.5, "ok": True}, b"\x01\x02\x03"), encode_pdu(None, b""),
            encode([1, (2, "x"), UniformVector("f32", (1.0, 2.0)), {"k": complex(1, 2)}])]
    if name == "pmt_frame":
        m = _pmt_frame()

        def call(b):
            try:
                m.check_pdu_frame(b)
            except m.MalformedFrame:
                pass
            m.check_frame(b)
        return pdus, call, (m.MalformedFrame,)
    if name == "pmt_codec":
        def call(b):
            try:
                decode_pdu(b)
            except PacketError:
                pass
            decode(b)
        return pdus, call, (PacketError,)
    from lgvsc.packets import Reassembler, packetize, parse_pdu
    from lgvsc.wire import stream_to_bytes

    stream = _stream()
    if name == "wire_binary":
        from lgvsc.wire import decode_header, decode_keyframe, decode_segment, read_stream_bytes

        def call(b):
            for f in (decode_header, decode_keyframe, decode_segment):
                try:
                    f(b[4:])
                except PacketError:
                    pass
            read_stream_bytes(b)
        return [stream_to_bytes(stream)], call, (PacketError,)
    if name == "wire_json":
        from lgvsc.stream_json import StreamJsonError, parse_stream_json

        return [stream.to_json(include_data=True).encode()], parse_stream_json, (StreamJsonError,)
    wire_pdus = packetize(stream, 96)
    if name == "pdu_header":
        return wire_pdus[:20], parse_pdu, (PacketError,)
    if name == "reassembler":
        state = {"rx": Reassembler(), "n": 0}

        def call(b):
            # one long-lived reassembler (its bounds are what is tested), renewed every 50,000 inputs
            state["n"] += 1
            if state["n"] % 50_000 == 0:
                state["rx"] = Reassembler()
            state["rx"].feed(b)
            state["rx"].snapshot()
        return wire_pdus, call, (PacketError,)
    raise KeyError(name)


TARGETS = ["pmt_frame", "pmt_codec", "wire_binary", "wire_json", "reassembler", "pdu_header"]
