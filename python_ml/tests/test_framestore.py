# SPDX-License-Identifier: GPL-3.0-or-later
"""The disk-backed frame store behaves like the in-memory clip: same frames, same encoded stream."""

from __future__ import annotations

import numpy as np
import pytest

from lgvsc.encoder import SemanticEncoder
from lgvsc.framestore import FrameStore, read_video_store
from lgvsc.profiles import build_backends
from lgvsc.samples import drawn_scene
from lgvsc.video import read_video, write_video
from lgvsc.wire import stream_to_bytes


def test_store_reads_back_what_was_written():
    frames = np.random.default_rng(0).integers(0, 256, (7, 6, 8, 3), dtype=np.uint8)
    fs = FrameStore.from_frames(frames)
    assert fs.shape == frames.shape and len(fs) == 7
    assert np.array_equal(fs[3], frames[3]) and np.array_equal(fs[-1], frames[-1])
    view = fs[2:6]
    assert len(view) == 4 and np.array_equal(view[1], frames[3]) and np.array_equal(np.asarray(view), frames[2:6])
    assert np.array_equal(np.stack(list(fs)), frames)
    fs[0][:] = 0  # a read is a copy: the store is not changed by it
    assert np.array_equal(fs[0], frames[0])
    with pytest.raises(IndexError):
        fs[7]
    with pytest.raises(ValueError):
        fs.append(frames[0, :3])
    fs.close()


def test_encoding_from_the_store_gives_the_same_stream(tmp_path):
    path = tmp_path / "c.mp4"
    write_video(path, drawn_scene(num_frames=60, width=96, height=64, fps=24, cuts=(30,)).frames, 24)
    mem = read_video(path, width=96, height=64)
    disk = read_video_store(path, width=96, height=64)
    assert disk.frames.shape == mem.frames.shape and disk.fps == mem.fps
    assert np.array_equal(np.asarray(disk.frames), mem.frames)
    b = build_backends("classical")
    assert stream_to_bytes(SemanticEncoder(b).encode(disk)) == stream_to_bytes(SemanticEncoder(b).encode(mem))
    disk.frames.close()
