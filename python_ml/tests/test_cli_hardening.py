# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad JSON stream files end in a named error and exit status 2, never a traceback; an interrupted
``lgvsc decode`` (SIGINT or SIGTERM) leaves no hidden ``.part`` file. Real subprocesses."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import time
from fractions import Fraction

import pytest

from lgvsc.encoder import SemanticEncoder
from lgvsc.profiles import build_backends
from lgvsc.samples import drawn_scene
from lgvsc.stream_json import StreamJsonError, parse_stream_json
from lgvsc.video import VideoClip

CODE = "import sys; from lgvsc.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def stream():
    d = drawn_scene(num_frames=12, width=64, height=48, fps=24, cuts=())
    return SemanticEncoder(build_backends("classical")).encode(VideoClip(d.frames, fps=Fraction(24)))


def test_json_form_round_trips(stream):
    assert parse_stream_json(stream.to_json(include_data=True)) == stream


def _bad_docs(stream):
    good = json.loads(stream.to_json(include_data=True))
    float_width = json.loads(json.dumps(good))
    float_width["video"]["width"] = 64.5
    inf_index = json.dumps(good).replace('"frame_index": 0', '"frame_index": Infinity', 1)
    huge_index = json.dumps(good).replace('"frame_index": 0', '"frame_index": 1e999', 1)
    bool_frames = json.loads(json.dumps(good))
    bool_frames["video"]["num_frames"] = True
    return {
        "deep nesting": '{"video": ' + "[" * 200_000 + "]" * 200_000 + "}",
        "float width": json.dumps(float_width),
        "infinite frame_index": inf_index,
        "overflowing frame_index": huge_index,
        "boolean num_frames": json.dumps(bool_frames),
        "unknown field": json.dumps({**good, "widht": 3}),
    }


def test_bad_json_streams_named_error_no_traceback(stream, tmp_path):
    for what, text in _bad_docs(stream).items():
        with pytest.raises(StreamJsonError):
            parse_stream_json(text)
        path = tmp_path / "bad.json"
        path.write_text(text)
        r = subprocess.run([sys.executable, "-c", CODE, "decode", str(path), "-o", str(tmp_path / "o.mp4")],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, (what, r.stderr[-1500:])
        assert "malformed JSON semantic stream" in r.stderr and "Traceback" not in r.stderr, (what, r.stderr[-1500:])
        assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_decode_leaves_no_part_file(stream, tmp_path, sig):
    # a long stream (one 6,000-frame segment), so the decode is surely mid-write when signalled
    n = 6000
    kfs = [stream.keyframes[0], dataclasses.replace(stream.keyframes[-1], frame_index=n - 1)]
    seg = dataclasses.replace(stream.segments[0], start_frame=0, end_frame=n - 1)
    long = dataclasses.replace(stream, video=dataclasses.replace(stream.video, num_frames=n), keyframes=kfs,
                               segments=[seg])
    src = tmp_path / "long.json"
    src.write_text(long.to_json(include_data=True))
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", CODE, "decode", str(src), "-o", str(out / "v.mp4")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120  # progress: until the writer's temporary file exists
    while time.monotonic() < deadline and proc.poll() is None and not list(out.glob(".*part*")):
        time.sleep(0.02)
    assert proc.poll() is None, "the decode ended before it could be interrupted"
    time.sleep(0.2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == (130 if sig == signal.SIGINT else 128 + signal.SIGTERM), err[-1500:]
    assert "Traceback" not in err, err[-1500:]
    assert list(out.iterdir()) == [], list(out.iterdir())
