# SPDX-License-Identifier: GPL-3.0-or-later
"""The streaming encoder (frames as they come, segments as SKEM closes them) gives the batch encoder's
stream byte for byte, and holds a window, not the clip (issue 17)."""

from __future__ import annotations

import numpy as np
import pytest

from lgvsc.backends.classical_judge import ClassicalJudge
from lgvsc.encoder import EncoderConfig, SemanticEncoder, StreamingEncode
from lgvsc.errors import VideoError
from lgvsc.framestore import read_video_store, video_frames
from lgvsc.profiles import build_backends
from lgvsc.samples import drawn_scene
from lgvsc.skem import SkemStream, skem
from lgvsc.video import VideoClip, write_video
from lgvsc.wire import stream_to_bytes


@pytest.fixture(scope="module")
def scene():
    """Three scenes (two hard cuts) at a small size: several SKEM segments."""
    d = drawn_scene(num_frames=120, width=128, height=80, fps=24, cuts=(40, 85))
    return VideoClip(d.frames, fps=24, name="cuts")


def _one_by_one(frames):
    yield from frames  # a generator: nothing but the next frame is available (a decoder, live input)


@pytest.mark.parametrize("backend_opts,config", [
    ({}, {}),  # AV1 keyframes, refinements, whole-stream budget (the default)
    ({}, {"refine": "none"}),
    ({"keyframe_codec": "webp"}, {}),
    ({"keyframe_codec": "webp"}, {"keyframe_bytes": 600}),
    ({"keyframe_codec": "webp"}, {"method": "skim"}),
    ({"keyframe_codec": "webp"}, {"method": "skim", "skim_count": 4}),
])
def test_streaming_stream_equals_batch_stream(scene, backend_opts, config):
    b = build_backends("classical", **backend_opts)
    batch = SemanticEncoder(b, EncoderConfig(**config)).encode(scene)
    assert len(batch.segments) >= 2
    enc = SemanticEncoder(b, EncoderConfig(**config))
    seen = []
    streamed = enc.encode_frames(_one_by_one(scene.frames), scene.fps, scene.name,
                                 on_segment=lambda seg, n: seen.append((seg.index, seg.end_frame, n)))
    assert stream_to_bytes(streamed) == stream_to_bytes(batch)
    assert streamed == batch
    assert [s[0] for s in seen] == list(range(len(batch.segments)))
    if config.get("method", "skem") == "skem":
        # every segment but the last came out while the video was still being read
        first = seen[0]
        assert first[2] < scene.num_frames and first[1] < first[2]
        assert all(n < scene.num_frames for _, _, n in seen[:-1])


def test_segments_come_out_as_skem_closes_them(scene):
    run = StreamingEncode(SemanticEncoder(build_backends("classical")), scene.fps, "cuts")
    try:
        out = []
        for i, f in enumerate(scene.frames):
            for seg in run.push(f):
                out.append((i, seg))
        last = run.finish()
        # a segment closes at most one speculative window (16 candidates, 4 frames apart) after its end keyframe
        assert out and all(i - seg.end_frame <= 16 * 4 + 1 for i, seg in out)
        segs = [s for _, s in out] + last
        assert [s.index for s in segs] == list(range(len(segs))) and segs[-1].end_frame == scene.num_frames - 1
        assert run.stream().segments == segs
    finally:
        run.close()


@pytest.mark.parametrize("batch_size", [1, 3, 16])
@pytest.mark.parametrize("speculative", [True, False])
def test_skem_stream_equals_batch_skem(scene, batch_size, speculative):
    j = ClassicalJudge()
    ref = skem(scene.frames, j, 24, batch_size=batch_size, speculative=speculative)
    run = SkemStream(j, 24, batch_size=batch_size, speculative=speculative)
    found = []
    for f in scene.frames:
        found += run.push(f)
        assert len(run._queue) <= batch_size  # never more than one window of candidates held
    sel = run.finish()
    assert sel.indices == ref.indices and sel.scores == ref.scores and sel.num_frames == ref.num_frames
    assert found == ref.indices[1:len(found) + 1]


def test_skem_stream_short_clips():
    j = ClassicalJudge()
    frames = drawn_scene(num_frames=6, width=64, height=48, cuts=()).frames
    for n in (1, 2, 5, 6):
        run = SkemStream(j, 24)
        for f in frames[:n]:
            run.push(f)
        assert run.finish().indices == skem(frames[:n], j, 24).indices
    with pytest.raises(ValueError):
        SkemStream(j, 24).finish()


def test_no_frames_is_a_video_error():
    run = StreamingEncode(SemanticEncoder(build_backends("classical")), 24, "empty.mp4")
    with pytest.raises(VideoError, match="no decodable frames"):
        run.finish()


def test_decoder_iterator_gives_the_stored_clips_stream(tmp_path, scene):
    """What the CLI and the encoder worker do (frames from the PyAV iterator) == the store's batch encode."""
    path = tmp_path / "c.mp4"
    write_video(path, scene.frames, 24)
    b = build_backends("classical", keyframe_codec="webp")
    disk = read_video_store(path, width=128, height=80)
    try:
        batch = SemanticEncoder(b).encode(disk)
    finally:
        disk.frames.close()
    frames, fps, name, _probe = video_frames(path, width=128, height=80)
    streamed = SemanticEncoder(b).encode_frames(frames, fps, name)
    assert stream_to_bytes(streamed) == stream_to_bytes(batch)
    assert np.isclose(float(fps), 24.0) and streamed.video.name == "c.mp4"


def test_encoder_worker_streams_and_sends_the_batch_stream(tmp_path):
    """The encoder worker reads its job through the streaming encoder: segments are reported while the
    frames are read, and the stream it sends is the batch encoder's."""
    from lgvsc.workers.client import FREE, StatusSubscriber, WorkerProcess, request

    path = tmp_path / "c.mp4"
    d = drawn_scene(num_frames=120, width=192, height=108, fps=24, cuts=(30, 80))
    write_video(path, d.frames, 24)
    opts = {"width": 192, "height": 108, "fps": 24}
    w = WorkerProcess.spawn(["encode", "--pdu-out", FREE])
    sub = StatusSubscriber(w.endpoints["status"])
    try:
        assert sub.wait_for(lambda ev: True, timeout=30) is not None  # subscribed (a heartbeat came)
        reply = request(w.endpoints["control"], {"op": "job", "video": str(path), "video_options": opts,
                                                 "encoder": {"refine": "none"}, "stream_out": str(tmp_path / "s")})
        assert reply["ok"], reply
        events = []
        done = sub.wait_for(lambda ev: events.append(ev) or ev.get("event") in ("job_encoded", "job_failed"),
                            timeout=300)
        assert done is not None and done["event"] == "job_encoded", events[-3:]
        segs = [ev for ev in events if ev.get("event") == "job_progress" and ev.get("stage") == "encode"]
        assert [ev["segments"] for ev in segs] == list(range(1, done["segments"] + 1))
        assert segs[0]["frames_done"] < 120  # the first segment went out before the last frame was read
        # the keyframe coding reports its codec calls (the orchestrator's liveness in a long segment's coding)
        code = [ev for ev in events if ev.get("event") == "job_progress" and ev.get("stage") == "code"]
        assert code and code[0]["encodes"] == 1 and 0 < code[0]["frames_done"] <= 120, events[-5:]
    finally:
        sub.close()
        assert w.stop() == 0
    clip = read_video_store(path, **opts)
    try:
        batch = SemanticEncoder(build_backends("classical"), EncoderConfig(refine="none")).encode(clip)
    finally:
        clip.frames.close()
    assert (tmp_path / "s" / "stream.lgvs").read_bytes() == stream_to_bytes(batch)
