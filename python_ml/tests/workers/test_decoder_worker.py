# SPDX-License-Identifier: GPL-3.0-or-later
"""The decoder worker as a real process on real 127.0.0.1 sockets: full delivery, PDUs lost on
purpose (concealment), malformed input, a stream whose header never arrived, reset, finish-on-end."""

from __future__ import annotations

import copy
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import zmq

from lgvsc.decoder import SemanticDecoder
from lgvsc.encoder import SemanticEncoder
from lgvsc.packets import Kind, packetize, parse_pdu
from lgvsc.pmt_codec import encode, encode_pdu
from lgvsc.profiles import build_backends
from lgvsc.samples import drawn_scene
from lgvsc.video import VideoClip, probe_video, read_video
from lgvsc.workers.client import FREE, StatusSubscriber, WorkerProcess

MTU = 400


@pytest.fixture(scope="module")
def clip():
    d = drawn_scene(num_frames=36, width=128, height=72, fps=24, cuts=(18,))
    return VideoClip(d.frames, fps=Fraction(24))


@pytest.fixture(scope="module")
def stream(clip):
    # WebP keyframes: the thresholds below (35 dB after the worker's H.264 file) were measured with them
    s = SemanticEncoder(build_backends("classical", keyframe_codec="webp")).encode(clip)
    assert len(s.segments) >= 2
    return s


@pytest.fixture(scope="module")
def pdus(stream):
    return [encode_pdu({"seq": i}, p) for i, p in enumerate(packetize(stream, MTU))]


@pytest.fixture
def worker(tmp_path):
    w = WorkerProcess.spawn(["decode", "--pdu-in", FREE, "--out-dir", str(tmp_path / "out")])
    yield w
    assert w.stop() == 0


@pytest.fixture
def push():
    ctx = zmq.Context()
    socks = []

    def connect(endpoint):
        s = ctx.socket(zmq.PUSH)
        s.connect(endpoint)
        socks.append(s)
        return s

    yield connect
    ctx.destroy(linger=0)


def _send_all(sock, msgs):
    for m in msgs:
        sock.send(m)


def _wait_received(worker, n, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = worker.control({"op": "status"})
        if st["pdus_received"] + st["counters"].get("malformed", 0) >= n:
            return st
        time.sleep(0.05)
    raise AssertionError(f"worker saw fewer than {n} messages: {st}")


def test_full_delivery_gives_full_video_decoded_incrementally(worker, push, pdus, clip, stream):
    sub = StatusSubscriber(worker.endpoints["status"])
    try:
        _send_all(push(worker.endpoints["pdu_in"]), pdus)
        st = _wait_received(worker, len(pdus))
        # segments were decoded and written while PDUs arrived, before any finish
        assert st["header_received"] and st["end_received"]
        assert st["segments_written"] == st["num_segments"] and st["frames_written"] == clip.num_frames
        reply = worker.control({"op": "finish", "timeout": 5}, timeout=60)
        assert reply["ok"], reply
        assert reply["num_frames"] == clip.num_frames and not reply["concealed"]
        got = read_video(reply["video"], width=None, height=None, fps=None)
        assert got.num_frames == clip.num_frames and (got.width, got.height) == (clip.width, clip.height)
        assert got.fps == clip.fps
        # the incremental decode equals the whole-stream decoder (up to the H.264 coding of the file)
        ref, _ = SemanticDecoder(build_backends("classical").generator).decode(stream)
        mse = ((got.frames.astype(float) - ref) ** 2).mean()
        assert 10 * np.log10(255**2 / mse) > 35
        doc = json.loads(Path(reply["report"]).read_text())
        assert doc["missing"]["complete"] and doc["counters"]["pdus_received"] == len(pdus)
        assert "data" not in doc["stream"]["keyframes"][0]  # no keyframe bytes in the JSON
        assert sub.wait_for(lambda e: e.get("event") == "segment", timeout=5) is not None
        # finish is idempotent
        assert worker.control({"op": "finish"})["video"] == reply["video"]
    finally:
        sub.close()


def test_pdus_dropped_on_purpose_still_full_length_with_concealment(worker, push, pdus, clip):
    # drop every PDU of the second keyframe object and of segment 0's meta
    def lost(wire):
        from lgvsc.pmt_codec import decode_pdu

        h, _ = parse_pdu(decode_pdu(wire)[1])
        return (h.kind == Kind.KEYFRAME and h.object_id == 1) or (h.kind == Kind.SEGMENT and h.object_id == 0)

    kept = [p for p in pdus if not lost(p)]
    assert len(kept) < len(pdus)
    _send_all(push(worker.endpoints["pdu_in"]), kept)
    _wait_received(worker, len(kept))
    reply = worker.control({"op": "finish", "timeout": 2}, timeout=60)
    assert reply["ok"], reply
    assert reply["concealed"] and reply["missing_keyframes"] and 0 in reply["missing_segments"]
    assert probe_video(reply["video"]).num_frames == clip.num_frames
    doc = json.loads(Path(reply["report"]).read_text())
    assert doc["decode"]["keyframes_concealed"] and doc["missing"]["pdus_lost"] == len(pdus) - len(kept)


def test_malformed_pdus_counted_never_fatal(worker, push, pdus, clip):
    s = push(worker.endpoints["pdu_in"])
    bad = [b"\x42 not a pmt", encode(b"a u8vector, not a PDU"), encode_pdu({}, b"LP\x09garbage header"),
           encode_pdu({}, b"")]
    _send_all(s, bad[:2])
    s.send_multipart([pdus[0], b"extra frame"])
    _send_all(s, bad[2:] + pdus)
    st = _wait_received(worker, len(pdus) + 5)
    assert st["counters"]["malformed"] == 3           # not PDUs at all
    assert st["pdus_invalid"] == 2                     # PDUs whose payload the reassembler refuses
    reply = worker.control({"op": "finish", "timeout": 2}, timeout=60)
    assert reply["ok"] and reply["num_frames"] == clip.num_frames


def test_no_header_means_no_video_then_reset_for_a_new_stream(worker, push, pdus, clip, tmp_path):
    def is_header(wire):
        from lgvsc.pmt_codec import decode_pdu

        return parse_pdu(decode_pdu(wire)[1])[0].kind == Kind.HEADER

    s = push(worker.endpoints["pdu_in"])
    without = [p for p in pdus if not is_header(p)]
    _send_all(s, without)
    _wait_received(worker, len(without))
    reply = worker.control({"op": "finish"}, timeout=30)
    assert reply == {**reply, "ok": False, "error": "no stream header received"}
    assert not (tmp_path / "out" / "reconstruction.mp4").exists()
    assert not list((tmp_path / "out").glob("*.mp4"))  # no half-written file either
    assert worker.control({"op": "reset"})["ok"]
    _send_all(s, pdus)
    _wait_received(worker, len(pdus))
    reply = worker.control({"op": "finish", "timeout": 2}, timeout=60)
    assert reply["ok"] and reply["num_frames"] == clip.num_frames


def test_finish_on_end_and_exit(tmp_path, push, pdus, clip):
    w = WorkerProcess.spawn(["decode", "--pdu-in", FREE, "--out-dir", str(tmp_path), "--finish-on-end",
                             "--exit-on-finish"])
    try:
        _send_all(push(w.endpoints["pdu_in"]), pdus)
        w.proc.wait(timeout=60)
    finally:
        code = w.stop()
    assert code == 0
    assert w.exit_line is not None and w.exit_line["status"]["finished"]
    assert probe_video(tmp_path / "reconstruction.mp4").num_frames == clip.num_frames
    assert json.loads((tmp_path / "decode_report.json").read_text())["num_frames"] == clip.num_frames


def test_tail_after_incremental_prefix_matches_whole_stream_decoder(worker, push, pdus, stream, clip):
    # lose the last segment's meta: the first segments are written as they arrive, the rest at finish
    last = len(stream.segments) - 1

    def lost(wire):
        from lgvsc.pmt_codec import decode_pdu

        h, _ = parse_pdu(decode_pdu(wire)[1])
        return h.kind == Kind.SEGMENT and h.object_id == last

    kept = [p for p in pdus if not lost(p)]
    _send_all(push(worker.endpoints["pdu_in"]), kept)
    st = _wait_received(worker, len(kept))
    assert 0 < st["frames_written"] < clip.num_frames
    reply = worker.control({"op": "finish", "timeout": 2}, timeout=60)
    assert reply["ok"] and reply["concealed"] and reply["missing_segments"] == [last]
    got = read_video(reply["video"], width=None, height=None, fps=None)
    lossy = copy.deepcopy(stream)
    lossy.segments = [s for s in lossy.segments if s.index != last]
    ref, report = SemanticDecoder(build_backends("classical").generator).decode(lossy)
    assert got.num_frames == len(ref) == clip.num_frames
    mse = ((got.frames.astype(float) - ref) ** 2).mean()
    assert 10 * np.log10(255**2 / mse) > 35
    assert json.loads(Path(reply["report"]).read_text())["decode"]["captions_concealed"] == report.captions_concealed


def test_session_description_gives_full_grey_video_when_every_header_is_lost(worker, push, pdus, clip, tmp_path):
    def is_header(wire):
        from lgvsc.pmt_codec import decode_pdu

        return parse_pdu(decode_pdu(wire)[1])[0].kind == Kind.HEADER

    s = push(worker.endpoints["pdu_in"])
    without = [p for p in pdus if not is_header(p)]
    _send_all(s, without)
    _wait_received(worker, len(without))
    bad = worker.control({"op": "finish", "session": {"width": 3, "height": 2, "fps_num": 24, "fps_den": 1,
                                                       "num_frames": 10}}, timeout=30)
    assert bad["ok"] is False and "session" in bad["error"]
    session = {"width": clip.width, "height": clip.height, "fps_num": 24, "fps_den": 1, "num_frames": clip.num_frames}
    reply = worker.control({"op": "finish", "session": session}, timeout=60)
    assert reply["ok"] and reply["num_frames"] == clip.num_frames
    doc = json.loads(Path(reply["report"]).read_text())
    assert doc["header_lost"] is True and doc["decode"]["all_grey"] is True
