# SPDX-License-Identifier: GPL-3.0-or-later
"""Video I/O: normalisation, metadata from the stream, errors, atomic H.264 writing."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from lgvsc.errors import VideoError
from lgvsc.samples import carphone_path, lavfi_frames, write_lavfi
from lgvsc.video import VideoWriter, probe_video, read_video, write_video


def test_probe_reads_metadata_from_the_stream():
    p = probe_video(carphone_path())
    assert (p.width, p.height) == (176, 144)
    assert p.fps == Fraction(30000, 1001)
    assert p.num_frames == 120
    assert p.duration_s == pytest.approx(4.0, abs=0.01)


def test_read_normalises_to_576x320_at_24fps():
    clip = read_video(carphone_path())
    assert clip.frames.shape == (96, 320, 576, 3)  # 4.0 s at 24 fps
    assert clip.frames.dtype == np.uint8
    assert clip.fps == 24
    info = clip.info()
    assert (info.width, info.height, info.num_frames, info.fps) == (576, 320, 96, 24.0)


def test_read_keeps_source_geometry_and_rate():
    clip = read_video(carphone_path(), width=None, height=None, fps=None)
    assert clip.frames.shape == (120, 144, 176, 3)
    assert clip.fps == Fraction(30000, 1001)


def test_fit_modes_keep_content_where_expected(tmp_path):
    # a 4:3 source with a white left half: stretch keeps half white, pad adds black bars
    frames = np.zeros((4, 240, 320, 3), np.uint8)
    frames[:, :, :160] = 255
    src = tmp_path / "half.mp4"
    write_video(src, frames, 24)
    stretch = read_video(src, 64, 32, fit="stretch").frames[0]
    pad = read_video(src, 64, 32, fit="pad").frames[0]
    assert stretch[:, :28].mean() > 200 and stretch[:, 36:].mean() < 50
    assert pad[:, :8].mean() < 30  # left bar is black, not white


def test_roundtrip_write_read(tmp_path):
    frames = lavfi_frames("testsrc2", 12, 128, 64)
    out = tmp_path / "x.mp4"
    assert write_video(out, frames, 24) == 12
    back = read_video(out, width=None, height=None, fps=None)
    assert back.frames.shape == frames.shape
    assert np.abs(back.frames.astype(int) - frames).mean() < 6  # crf 18


def test_preview_writer_converts_like_swscale_within_rounding(tmp_path):
    frames = lavfi_frames("testsrc2", 12, 128, 64)
    backs = []
    for method in ("write", "write_preview"):
        with VideoWriter(tmp_path / f"{method}.mp4", 24) as w:
            for f in frames:
                getattr(w, method)(f)
        backs.append(read_video(tmp_path / f"{method}.mp4", width=None, height=None, fps=None).frames)
    assert backs[1].shape == frames.shape
    assert np.abs(backs[1].astype(int) - frames).mean() < 6  # crf 18, as write
    assert abs(float(np.mean(backs[1].astype(int) - backs[0]))) < 1  # same colours (BT.601 limited range)
    with pytest.raises(ValueError, match="even"), VideoWriter(tmp_path / "odd.mp4", 24) as w:
        w.write_preview(np.zeros((31, 32, 3), np.uint8))


@pytest.mark.parametrize("content,msg", [(None, "no such file"), (b"not a video at all", "not a readable video")])
def test_bad_inputs_raise_video_error(tmp_path, content, msg):
    p = tmp_path / "in.mp4"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(VideoError, match=msg):
        read_video(p)


def test_audio_only_file_has_no_video_stream(tmp_path):
    import av

    p = tmp_path / "audio.m4a"
    with av.open(str(p), "w") as c:
        s = c.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for pkt in s.encode(frame):
            c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    with pytest.raises(VideoError, match="no video stream"):
        read_video(p)


def test_writer_leaves_nothing_behind_on_error(tmp_path):
    out = tmp_path / "o.mp4"
    with pytest.raises(ValueError), VideoWriter(out, 24) as w:
        w.write(np.zeros((32, 32, 3), np.uint8))
        w.write(np.zeros((16, 16, 3), np.uint8))  # size change
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="no frames"):
        write_video(out, [], 24)
    assert list(tmp_path.iterdir()) == []


def test_write_lavfi_clip_is_readable(tmp_path):
    p = write_lavfi(tmp_path / "m.mp4", "mandelbrot", 10, 64, 48)
    assert read_video(p, None, None, None).num_frames == 10
