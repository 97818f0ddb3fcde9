# SPDX-License-Identifier: GPL-3.0-or-later
"""The decoder worker locks onto the first stream whose *header* validates, or onto the stream
id of the session description: a stray PDU (or a whole stray stream) from another session
cannot lock the real stream out. Real worker process, real 127.0.0.1 sockets."""

from __future__ import annotations

import dataclasses
import time
from fractions import Fraction

import pytest
import zmq

from lgvsc.encoder import SemanticEncoder
from lgvsc.packets import Kind, packetize, parse_pdu
from lgvsc.pmt_codec import encode_pdu
from lgvsc.profiles import build_backends
from lgvsc.samples import drawn_scene
from lgvsc.video import VideoClip, probe_video
from lgvsc.workers.client import FREE, WorkerProcess

MTU = 400


@pytest.fixture(scope="module")
def streams():
    d = drawn_scene(num_frames=24, width=96, height=64, fps=24, cuts=())
    real = SemanticEncoder(build_backends("classical")).encode(VideoClip(d.frames, fps=Fraction(24)))
    stray = dataclasses.replace(real, stream_id=7)
    wrap = lambda s: [encode_pdu({}, p) for p in packetize(s, MTU)]  # noqa: E731
    return real, wrap(real), wrap(stray)


@pytest.fixture
def worker(tmp_path):
    w = WorkerProcess.spawn(["decode", "--pdu-in", FREE, "--out-dir", str(tmp_path / "out")])
    yield w
    assert w.stop() == 0


def _send(worker, msgs):
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.connect(worker.endpoints["pdu_in"])
    for m in msgs:
        s.send(m)
    deadline = time.monotonic() + 30  # progress: until the worker has taken every PDU
    while time.monotonic() < deadline:
        st = worker.control({"op": "status"})
        if st["pdus_received"] >= len(msgs) and st["backlog"] == 0:
            break
        time.sleep(0.05)
    ctx.destroy(0)
    return st


def _is_header(wire):
    from lgvsc.pmt_codec import decode_pdu

    return parse_pdu(decode_pdu(wire)[1])[0].kind == Kind.HEADER


def test_a_stray_pdu_first_does_not_lock_the_real_stream_out(worker, streams):
    real, pdus, stray = streams
    first_stray = next(p for p in stray if not _is_header(p))  # no header: it must not take the lock
    st = _send(worker, [first_stray, *pdus])
    assert st["stream_id"] == real.stream_id and st["header_received"]
    reply = worker.control({"op": "finish", "timeout": 2}, timeout=60)
    assert reply["ok"] and not reply["concealed"], reply
    assert probe_video(reply["video"]).num_frames == real.video.num_frames


def test_session_stream_id_wins_over_an_earlier_stray_header(worker, streams):
    real, pdus, stray = streams
    v = real.video
    session = {"width": v.width, "height": v.height, "fps_num": v.fps_num, "fps_den": v.fps_den,
               "num_frames": v.num_frames, "stream_id": real.stream_id}
    assert worker.control({"op": "session", "session": session})["stream_id"] == real.stream_id
    bad = worker.control({"op": "session", "session": {**session, "stream_id": 70000}})
    assert not bad["ok"] and "stream_id" in bad["error"]
    st = _send(worker, [*stray, *pdus])  # a complete stray stream, header and all, comes first
    assert st["stream_id"] == real.stream_id and st["other_streams"] == len(stray)
    reply = worker.control({"op": "finish", "timeout": 2}, timeout=60)
    assert reply["ok"] and not reply["concealed"], reply


def test_without_a_session_the_first_valid_header_locks(worker, streams):
    real, pdus, stray = streams
    st = _send(worker, [*stray, *pdus])
    assert st["stream_id"] == 7 and st["other_streams"] == len(pdus)
