# SPDX-License-Identifier: GPL-3.0-or-later
"""The stream file's per-object CRC-32: a bit flipped inside an object is found, named and concealed by
``lgvsc decode`` (never "nothing concealed"); a flip anywhere else is a clear error; v1 files still read."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from lgvsc.cli import main
from lgvsc.encoder import EncoderConfig, SemanticEncoder
from lgvsc.errors import PacketError
from lgvsc.profiles import build_backends
from lgvsc.samples import drawn_scene
from lgvsc.video import VideoClip
from lgvsc.wire import read_stream_bytes, stream_from_bytes, stream_to_bytes

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def stream():
    d = drawn_scene(num_frames=48, width=64, height=48, fps=24, cuts=(16, 32))
    cfg = EncoderConfig(method="skim", skim_count=5, keyframe_bytes=200, refine="none")
    s = SemanticEncoder(build_backends("classical", keyframe_codec="webp"), cfg).encode(
        VideoClip(d.frames, fps=Fraction(24)))
    assert len(s.keyframes) == 5
    return s


def _flip(raw: bytes, pos: int, bit: int = 0) -> bytes:
    out = bytearray(raw)
    out[pos] ^= 1 << bit
    return bytes(out)


def test_a_flipped_bit_in_a_keyframe_is_named_and_concealed(stream, tmp_path, capsys):
    raw = stream_to_bytes(stream)
    assert stream_from_bytes(raw) == stream  # the CRCs of an intact file check out
    kf = stream.keyframes[2]
    bad = _flip(raw, raw.index(kf.data) + len(kf.data) // 2, 3)
    with pytest.raises(PacketError, match="damaged keyframe 2"):
        stream_from_bytes(bad)  # the strict reader refuses it, naming the object
    got, damaged = read_stream_bytes(bad)
    assert [(d.kind, d.position, d.frame_index) for d in damaged] == [("keyframe", 2, kf.frame_index)]
    assert "CRC-32" in damaged[0].reason and kf.frame_index not in got.keyframe_indices()

    path, out, rep = tmp_path / "bad.lgvs", tmp_path / "out.mp4", tmp_path / "report.json"
    path.write_bytes(bad)
    assert main(["decode", str(path), "-o", str(out), "--report", str(rep), "--no-progress"]) == 0
    cap = capsys.readouterr()
    assert f"damaged keyframe 2 (frame {kf.frame_index}): CRC-32 mismatch" in cap.err
    assert "nothing concealed" not in cap.out
    report = json.loads(rep.read_text())
    assert report["concealed"] and kf.frame_index in report["keyframes_concealed"]
    assert report["keyframes_expected"] == stream.keyframe_indices()
    assert report["damaged_objects"][0]["position"] == 2


def test_no_bit_flip_passes_for_an_intact_file(stream, tmp_path, capsys):
    """12 seeded single-bit flips anywhere: each one is either a named, concealed object or a clear
    error (header or file structure hit); none decodes as "nothing concealed"."""
    raw = stream_to_bytes(stream)
    rng = np.random.default_rng(3)
    concealed = errors = 0
    for k in range(12):
        path = tmp_path / f"f{k}.lgvs"
        path.write_bytes(_flip(raw, int(rng.integers(0, len(raw))), int(rng.integers(0, 8))))
        code = main(["decode", str(path), "-o", str(tmp_path / f"f{k}.mp4"), "--no-progress"])
        cap = capsys.readouterr()
        assert "Traceback" not in cap.err
        if code == 0:
            assert "nothing concealed" not in cap.out and "damaged" in cap.err, (k, cap.out)
            concealed += 1
        else:
            assert code == 2 and "lgvsc decode: error:" in cap.err, cap.err
            errors += 1
    assert concealed >= 6  # the keyframe data is most of the file


def test_version_1_files_still_read():
    s = stream_from_bytes((DATA / "stream_v1_webp.lgvs").read_bytes())
    assert s.keyframes and s.version == 1
