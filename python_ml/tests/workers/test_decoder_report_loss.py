# SPDX-License-Identifier: GPL-3.0-or-later
"""The decoder worker's concealment report against the ground truth of what was dropped: 30 % of the
PDUs lost at random (seeded), a real worker process on 127.0.0.1. Every keyframe object that lost a
fragment is concealed and listed, whatever else was lost with it (also when both of its segment
metas are gone), and keyframes are counted against the header's total."""

from __future__ import annotations

import json
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import zmq

from lgvsc.encoder import EncoderConfig, SemanticEncoder
from lgvsc.packets import Kind, packetize, parse_pdu
from lgvsc.pmt_codec import encode_pdu
from lgvsc.profiles import build_backends
from lgvsc.samples import drawn_scene
from lgvsc.video import VideoClip, probe_video
from lgvsc.workers.client import FREE, WorkerProcess

MTU = 400
LOSS = 0.30
SEED = 8  # chosen so that a keyframe and both its segment metas are lost together (the case once missed)


def _ground_truth(pdus: list[bytes], kept: np.ndarray) -> dict[str, set]:
    """Objects with at least one fragment dropped (the header: every copy of it dropped)."""
    lost: dict[Kind, set[int]] = {k: set() for k in Kind}
    first_header_seq: dict[int, bool] = {}
    for p, ok in zip(pdus, kept, strict=True):
        h, _ = parse_pdu(p)
        if h.kind == Kind.HEADER:
            # a header copy is lost when any of its fragments is; copies are told apart by seq runs
            key = h.seq - h.frag_index
            first_header_seq[key] = first_header_seq.get(key, True) and bool(ok)
        elif not ok:
            lost[h.kind].add(h.object_id)
    header_copies = len(first_header_seq)
    header_lost_copies = sum(not v for v in first_header_seq.values())
    return {"keyframes": lost[Kind.KEYFRAME], "segments": lost[Kind.SEGMENT],
            "header_lost": {header_copies == header_lost_copies}}


def test_report_matches_what_was_dropped_under_seeded_30_percent_loss(tmp_path):
    d = drawn_scene(num_frames=120, width=96, height=64, fps=24, cuts=(30, 60, 90))
    clip = VideoClip(d.frames, fps=Fraction(24))
    cfg = EncoderConfig(method="skim", skim_count=12, keyframe_bytes=300, refine="none")
    stream = SemanticEncoder(build_backends("classical", keyframe_codec="webp"), cfg).encode(clip)
    kfi = stream.keyframe_indices()
    assert len(kfi) == 12
    pdus = packetize(stream, MTU)
    kept = np.random.default_rng(SEED).random(len(pdus)) >= LOSS
    truth = _ground_truth(pdus, kept)
    assert truth["header_lost"] == {False}
    both = [i for i in truth["keyframes"] if 0 < i < len(kfi) - 1 and {i - 1, i} <= truth["segments"]]
    assert both, "the seed must lose a keyframe together with both of its segment metas"

    w = WorkerProcess.spawn(["decode", "--pdu-in", FREE, "--out-dir", str(tmp_path)])
    ctx = zmq.Context()
    try:
        s = ctx.socket(zmq.PUSH)
        s.connect(w.endpoints["pdu_in"])
        sent = [encode_pdu({}, p) for p, ok in zip(pdus, kept, strict=True) if ok]
        for m in sent:
            s.send(m)
        deadline = time.monotonic() + 60
        while w.control({"op": "status"})["pdus_received"] < len(sent):  # wait on the worker's progress
            assert time.monotonic() < deadline, "the worker did not receive every PDU"
            time.sleep(0.05)
        reply = w.control({"op": "finish", "timeout": 0}, timeout=120)
    finally:
        ctx.destroy(linger=0)
        assert w.stop() == 0
    assert reply["ok"], reply
    doc = json.loads(Path(reply["report"]).read_text())
    dec = doc["decode"]
    lost_frames = sorted(kfi[i] for i in truth["keyframes"])
    assert dec["keyframes_expected"] == kfi  # the header's list, not what happened to arrive
    assert dec["keyframes_concealed"] == lost_frames
    assert dec["keyframes_decoded"] == sorted(set(kfi) - set(lost_frames))
    assert dec["segments_expected"] == len(stream.segments)
    assert dec["segments_missing"] == sorted(truth["segments"])
    assert set(dec["segments_missing"]) <= set(dec["captions_concealed"])
    assert doc["missing"]["missing_keyframes"] == lost_frames
    assert f"keyframes {len(kfi) - len(lost_frames)}/{len(kfi)} decoded" in reply["summary"]
    assert f"segments {len(stream.segments) - len(truth['segments'])}/{len(stream.segments)} received" \
        in reply["summary"]
    assert probe_video(reply["video"]).num_frames == clip.num_frames
