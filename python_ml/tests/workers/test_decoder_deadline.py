# SPDX-License-Identifier: GPL-3.0-or-later
"""The decoder worker under long generator steps (deadline mode): PDUs keep being taken while a segment
generates, a segment past its deadline is reported late, its late result is used when it comes before
``finish``, and one still generating at ``finish`` is concealed. The generator here blocks on an event the
test releases, so nothing depends on the machine's speed."""

from __future__ import annotations

import threading
from fractions import Fraction

import numpy as np
import pytest

from lgvsc.backends.base import SegmentGenerator, SegmentRequest
from lgvsc.encoder import SemanticEncoder
from lgvsc.packets import packetize
from lgvsc.profiles import Backends, build_backends
from lgvsc.samples import drawn_scene
from lgvsc.video import VideoClip, read_video
from lgvsc.workers.base import WorkerOptions
from lgvsc.workers.decoder import DecoderWorker

MARK = 7  # the value every frame of the slow generator has


class Gated(SegmentGenerator):
    """A 'slow' generator: each call waits until the test opens the gate."""

    name = "gated"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.calls = 0

    def generate(self, request: SegmentRequest) -> np.ndarray:
        self.calls += 1
        self.started.set()
        if not self.gate.wait(timeout=120):
            raise RuntimeError("the test never opened the gate")
        return np.full((request.num_frames, *request.first.shape), MARK, np.uint8)


@pytest.fixture(scope="module")
def payloads():
    d = drawn_scene(num_frames=36, width=128, height=72, fps=24, cuts=(18,))
    s = SemanticEncoder(build_backends("classical", keyframe_codec="webp")).encode(VideoClip(d.frames, Fraction(24)))
    assert len(s.segments) >= 2
    return s, packetize(s, 400)


def _worker(tmp_path, gen: Gated) -> DecoderWorker:
    w = DecoderWorker(WorkerOptions(control=None, status=None), tmp_path / "out", segment_deadline_s=-1000.0)
    c = build_backends("classical", keyframe_codec="webp")
    w._backends = Backends(c.judge, c.captioner, c.keyframe_codec, c.motion, gen)  # the profile's slot
    return w


def _pump(w: DecoderWorker, until) -> None:
    for _ in range(100_000):  # progress-based: each step polls the generation thread
        if until():
            return
        w.step(0.001)
    raise AssertionError("the worker made no progress")


def test_pdus_flow_while_generating_and_a_late_result_is_used(tmp_path, payloads):
    stream, pdus = payloads
    gen = Gated()
    w = _worker(tmp_path, gen)
    for p in pdus:
        w._on_pdu(p)  # as the input thread hands them over
    assert gen.started.wait(60)  # segment 0 is generating (blocked) ...
    st = w._progress()
    assert st["pdus_received"] == len(pdus) and st["keyframes_decoded"] == len(stream.keyframes)  # ... PDUs still taken
    w.step(0)
    assert w.stats["segments_late"] == 1 and 0 in w.late and st["segments_written"] == 0
    gen.gate.set()
    _pump(w, lambda: w.stats["segments_written"] == len(stream.segments))
    res = w.handle_control({"op": "finish"})
    assert res["ok"] and res["num_frames"] == 36
    assert res["deadline"]["late_used"] == list(range(len(stream.segments))) and res["deadline"]["concealed"] == []
    frames = read_video(tmp_path / "out" / "reconstruction.mp4").frames
    assert abs(float(frames[5:-5].mean()) - MARK) < 4  # the slow generator's frames, not a concealment
    w.finish()


def test_a_segment_still_generating_at_finish_is_concealed(tmp_path, payloads):
    stream, pdus = payloads
    gen = Gated()
    w = _worker(tmp_path, gen)
    try:
        for p in pdus:
            w._on_pdu(p)
        assert gen.started.wait(60)
        res = w.handle_control({"op": "finish"})  # the output closes with segment 0 still generating
        assert res["ok"] and res["num_frames"] == 36
        d = res["deadline"]
        assert d["concealed"] == list(range(len(stream.segments))) and 0 in d["late"] and d["late_used"] == []
        frames = read_video(tmp_path / "out" / "reconstruction.mp4").frames
        assert float(frames.mean()) > MARK + 20  # concealed from the keyframes (classical interpolation)
        assert gen.calls == 1  # nothing else was handed to the slow generator
    finally:
        gen.gate.set()
        w.finish()


def test_deadline_must_be_finite(tmp_path):
    from lgvsc.errors import UserError

    with pytest.raises(UserError, match="finite"):
        DecoderWorker(WorkerOptions(control=None, status=None), tmp_path, segment_deadline_s=float("nan"))



def test_a_long_segment_is_not_held_in_memory_while_it_waits_for_its_deadline(tmp_path):
    """Deadline mode keeps a generated segment until it is written; it goes to disk, not into one array
    (a 2-minute still shot would be 1.6 GB at 576x320). The classical generator makes pieces of
    PIECE_FRAMES, so peak traced allocations stay far below the segment."""
    import tracemalloc

    d = drawn_scene(num_frames=480, width=96, height=64, fps=24, cuts=())
    s = SemanticEncoder(build_backends("classical", keyframe_codec="webp")).encode(VideoClip(d.frames, Fraction(24)))
    seg_bytes = max(g.num_frames for g in s.segments) * 96 * 64 * 3
    assert max(g.num_frames for g in s.segments) >= 200, [g.num_frames for g in s.segments]  # a long still shot
    w = DecoderWorker(WorkerOptions(control=None, status=None), tmp_path / "out", segment_deadline_s=1e6)
    pdus = packetize(s, 400)
    del d
    tracemalloc.start()
    try:
        for p in pdus:
            w._on_pdu(p)
        _pump(w, lambda: w.stats["segments_written"] == len(s.segments))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    res = w.handle_control({"op": "finish"})
    assert res["ok"] and res["num_frames"] == 480 and res["deadline"]["concealed"] == []
    assert res["deadline"]["late"] == []
    assert peak < seg_bytes / 3, (peak, seg_bytes)  # was > seg_bytes: the whole segment in one array
    w.finish()
