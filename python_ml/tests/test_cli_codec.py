# SPDX-License-Identifier: GPL-3.0-or-later
"""``lgvsc encode / decode / inspect`` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lgvsc.samples import carphone_path, write_lavfi
from lgvsc.video import probe_video


def lgvsc(*args, cwd=None):
    code = "import sys; from lgvsc.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_encode_inspect_decode_round_trip(tmp_path):
    stream, out, rep = tmp_path / "s.lgvs", tmp_path / "o.mp4", tmp_path / "r.json"
    r = lgvsc("encode", carphone_path(), "-o", stream)
    assert r.returncode == 0, r.stderr
    assert "CBR" in r.stdout and stream.read_bytes().startswith(b"LGVS")
    r = lgvsc("inspect", stream)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["video"]["num_frames"] == 96 and info["cbr_qpsk_r12"] <= 6e-4
    assert info["keyframes"][0]["frame_index"] == 0 and "data_b64" not in info["keyframes"][0]
    r = lgvsc("decode", stream, "-o", out, "--report", rep)
    assert r.returncode == 0, r.stderr
    p = probe_video(out)
    assert (p.width, p.height, p.fps, p.num_frames) == (576, 320, 24, 96)
    assert json.loads(rep.read_text())["concealed"] is False


def test_encode_options_json_and_geometry(tmp_path):
    src = write_lavfi(tmp_path / "t.mp4", "testsrc2", 30, 320, 240, fps=30)
    stream = tmp_path / "s.json"
    r = lgvsc("encode", src, "-o", stream, "--keep-geometry", "--keep-fps", "--method", "skim",
              "--skim-keyframes", "3", "--keyframe-bytes", "900", "--focus", "background", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(stream.read_text())
    assert (d["video"]["width"], d["video"]["height"], d["video"]["fps_num"]) == (320, 240, 30)
    assert [k["frame_index"] for k in d["keyframes"]] == [0, 14, 29] and d["focus"] == "background"
    out = tmp_path / "o.mp4"
    assert lgvsc("decode", stream, "-o", out).returncode == 0
    assert probe_video(out).num_frames == 30


@pytest.mark.parametrize("bad", ["missing", "garbage", "truncated"])
def test_bad_inputs_fail_cleanly_without_output(tmp_path, bad):
    src = tmp_path / "in.mp4"
    if bad == "garbage":
        src.write_bytes(b"\x00" * 1000)
    elif bad == "truncated":
        src.write_bytes(carphone_path().read_bytes()[:2000])
    r = lgvsc("encode", src, "-o", tmp_path / "s.lgvs")
    assert r.returncode == 2 and "error" in r.stderr and "Traceback" not in r.stderr
    stream = tmp_path / "s2.lgvs"
    stream.write_bytes(b"LGVS\x01" + b"\xff" * 50 if bad != "missing" else b"")
    r = lgvsc("decode", stream, "-o", tmp_path / "o.mp4")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["s2.lgvs"] + (["in.mp4"] if bad != "missing" else []))


def test_help_explains_options():
    r = lgvsc("encode", "--help")
    assert r.returncode == 0
    for opt in ("--method", "--threshold", "--focus", "--keyframe-bytes", "--captions", "--profile", "--keep-geometry"):
        assert opt in r.stdout


def test_encode_refine_codec_and_budget_options(tmp_path):
    auto, paper = tmp_path / "auto.json", tmp_path / "paper.json"
    r = lgvsc("encode", carphone_path(), "-o", auto, "--json")
    assert r.returncode == 0, r.stderr
    assert "refinement frames" in r.stdout and "% used" in r.stdout
    d = json.loads(auto.read_text())
    assert {k["codec_id"] for k in d["keyframes"]} == {"av1"}
    assert {c["kind"] for c in d["coded_frames"]} == {"semantic", "refinement"}
    r = lgvsc("encode", carphone_path(), "-o", paper, "--json", "--refine", "none", "--keyframe-codec", "webp")
    assert r.returncode == 0, r.stderr
    d = json.loads(paper.read_text())
    assert {k["codec_id"] for k in d["keyframes"]} == {"webp"} and not any(s["refinements"] for s in d["segments"])
    r = lgvsc("encode", carphone_path(), "-o", tmp_path / "x.lgvs", "--target-cbr", "1e-5", "--strict-budget")
    assert r.returncode != 0 and "cannot hold this stream" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.lgvs").exists()
