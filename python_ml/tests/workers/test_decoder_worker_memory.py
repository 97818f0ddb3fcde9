# SPDX-License-Identifier: GPL-3.0-or-later
"""The decoder worker holds a bounded window of decoded keyframes: a stream that runs far ahead of
the output (here: segment 0's meta never arrives, so nothing can be written before finish) keeps
at most KEYFRAME_WINDOW + 1 keyframes decoded, not all of them; finish still gives the full video."""

from __future__ import annotations

import time

import numpy as np
import zmq

from lgvsc.backends.classical_keyframe import keyframe_codec_for
from lgvsc.packets import Kind, packetize, parse_pdu
from lgvsc.pmt_codec import decode_pdu, encode_pdu
from lgvsc.stream import Keyframe, Segment, SemanticStream, VideoInfo
from lgvsc.video import probe_video
from lgvsc.workers.client import FREE, WorkerProcess
from lgvsc.workers.decoder import KEYFRAME_WINDOW


def _stream(n_kf=120, w=64, h=48):
    codec = keyframe_codec_for("webp")
    idx = list(range(0, 2 * n_kf, 2))
    kfs = []
    for k, fi in enumerate(idx):
        f = np.full((h, w, 3), (k * 37) % 256, np.uint8)
        kfs.append(Keyframe(fi, codec.codec_id, codec.encode(f, 400), w, h))
    segs = [Segment(i, a, b, caption="grey levels") for i, (a, b) in enumerate(zip(idx, idx[1:], strict=False))]
    return SemanticStream(video=VideoInfo(w, h, 24, 1, idx[-1] + 1), keyframes=kfs, segments=segs)


def test_keyframes_ahead_of_the_output_are_not_all_held(tmp_path):
    stream = _stream()
    pdus = [encode_pdu({}, p) for p in packetize(stream, 400)]
    def seg0(p):
        h = parse_pdu(decode_pdu(p)[1])[0]
        return h.kind == Kind.SEGMENT and h.object_id == 0

    kept = [p for p in pdus if not seg0(p)]
    w = WorkerProcess.spawn(["decode", "--pdu-in", FREE, "--out-dir", str(tmp_path / "out")])
    try:
        ctx = zmq.Context()
        s = ctx.socket(zmq.PUSH)
        s.connect(w.endpoints["pdu_in"])
        for p in kept:
            s.send(p)
        deadline = time.monotonic() + 120  # progress: until every PDU is taken
        while time.monotonic() < deadline:
            st = w.control({"op": "status"})
            if st["pdus_received"] >= len(kept) and st["backlog"] == 0:
                break
            time.sleep(0.05)
        ctx.destroy(0)
        assert st["keyframes_decoded"] == len(stream.keyframes) and st["segments_written"] == 0, st
        assert st["keyframes_held"] <= KEYFRAME_WINDOW + 1, st
        reply = w.control({"op": "finish", "timeout": 2}, timeout=120)
        assert reply["ok"] and 0 in reply["missing_segments"], reply
        assert probe_video(reply["video"]).num_frames == stream.video.num_frames
    finally:
        w.stop()
