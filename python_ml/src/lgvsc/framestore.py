# SPDX-License-Identifier: GPL-3.0-or-later
"""Frames of any length at bounded memory: a disk-backed frame sequence.

A 10-minute clip at 576x320 is 8 GB of RGB frames; held in RAM (``read_video``) it does not fit a
24 GB machine twice. :class:`FrameStore` writes the normalised frames to an anonymous temporary
file as they are decoded and reads one back (``os.preadv`` into a fresh array) each time it is
indexed, so a process holds a frame per access, not the video. It behaves like the ``(F, H, W, 3)``
uint8 array the code used to get (``len``, ``shape``, ``store[i]``, ``store[a:b]`` as a lazy view,
iteration in order), so :class:`~lgvsc.video.VideoClip` users (SKEM, captioning, motion, keyframe
coding, scoring) need no change. Reads go through the page cache, which the kernel reclaims; they
are not part of the process's resident set.

>>> import numpy as np
>>> fs = FrameStore(4, 6)
>>> for v in range(3):
...     fs.append(np.full((4, 6, 3), v, np.uint8))
>>> fs.shape, int(fs[2].max()), [int(f[0, 0, 0]) for f in fs[1:]]
((3, 4, 6, 3), 2, [1, 2])
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = ["FrameStore", "FrameView", "read_video_store", "video_frames"]


class FrameStore:
    """Append-only ``(F, H, W, 3)`` uint8 frames in an unlinked temporary file (see the module docstring).

    :param height, width: frame size
    :param directory: where the temporary file lives (default: ``$TMPDIR``); it has no name and is freed
        when the store is closed or the process ends, however it ends
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, height: int, width: int, directory: str | os.PathLike | None = None) -> None:
        if height <= 0 or width <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        self.frame_shape = (int(height), int(width), 3)
        self.frame_bytes = int(height) * int(width) * 3
        self._file = tempfile.TemporaryFile(prefix="lgvsc-frames-", dir=directory)
        self._fd = self._file.fileno()
        self._n = 0

    # -- writing ---------------------------------------------------------------------------------
    def append(self, frame: np.ndarray) -> None:
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if frame.shape != self.frame_shape:
            raise ValueError(f"frame is {frame.shape}, the store holds {self.frame_shape}")
        view = memoryview(frame).cast("B")
        done = 0
        while done < self.frame_bytes:
            done += os.pwrite(self._fd, view[done:], self._n * self.frame_bytes + done)
        self._n += 1

    @classmethod
    def from_frames(cls, frames, directory: str | os.PathLike | None = None) -> FrameStore:
        """A store of an iterable of equal-size frames (at least one)."""
        it = iter(frames)
        first = next(it)
        store = cls(first.shape[0], first.shape[1], directory)
        store.append(first)
        for f in it:
            store.append(f)
        return store

    def close(self) -> None:
        self._file.close()

    # -- reading ---------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self._n, *self.frame_shape)

    @property
    def nbytes(self) -> int:
        return self._n * self.frame_bytes

    def __len__(self) -> int:
        return self._n

    def read(self, i: int) -> np.ndarray:
        """Frame ``i`` (negative counts from the end) as a new writable array."""
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"frame {i} outside 0..{self._n - 1}")
        out = np.empty(self.frame_shape, np.uint8)
        view = memoryview(out).cast("B")
        done = 0
        while done < self.frame_bytes:
            got = os.preadv(self._fd, [view[done:]], i * self.frame_bytes + done)
            if got <= 0:
                raise OSError(f"frame store: short read of frame {i}")
            done += got
        return out

    def __getitem__(self, key):
        if isinstance(key, slice):
            return FrameView(self, range(self._n)[key])
        if isinstance(key, (int, np.integer)):
            return self.read(int(key))
        raise TypeError(f"frame store indices are integers or slices, not {type(key).__name__}")

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self._n):
            yield self.read(i)

    def __array__(self, dtype=None, copy=None):  # whole-array use still works (it costs the whole video)
        out = np.stack(list(self)) if self._n else np.empty((0, *self.frame_shape), np.uint8)
        return out if dtype is None else out.astype(dtype)


class FrameView:
    """Frames ``indices`` of a :class:`FrameStore`, read on access (what slicing a store returns)."""

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, store: FrameStore, indices: range) -> None:
        self.store, self.indices = store, indices

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.indices), *self.store.frame_shape)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return FrameView(self.store, self.indices[key])
        return self.store.read(self.indices[int(key)])

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in self.indices:
            yield self.store.read(i)

    def __array__(self, dtype=None, copy=None):
        out = np.stack(list(self)) if len(self) else np.empty((0, *self.store.frame_shape), np.uint8)
        return out if dtype is None else out.astype(dtype)


def video_frames(path: str | os.PathLike, width: int | None = 576, height: int | None = 320,
                 fps: float | Fraction | None = 24, fit: str = "crop", max_frames: int | None = None):
    """``(frames, fps, name, probe)`` of a video as it is decoded: ``frames`` iterates the normalised frames
    (:func:`lgvsc.video.iter_video`, one at a time), ``fps`` is the clip's rate, as :func:`read_video_store`
    gives them; what the streaming encoder (:meth:`lgvsc.encoder.SemanticEncoder.encode_frames`) reads.

    :raises VideoError: missing/unreadable file, no video stream.
    """
    from lgvsc.video import iter_video, probe_video

    probe = probe_video(path)
    out_fps = probe.fps if fps is None else Fraction(fps).limit_denominator(1001)
    return iter_video(path, width, height, fps, fit, max_frames), out_fps, Path(path).name, probe


def read_video_store(path: str | os.PathLike, width: int | None = 576, height: int | None = 320,
                     fps: float | Fraction | None = 24, fit: str = "crop", max_frames: int | None = None,
                     progress=None):
    """:func:`lgvsc.video.read_video` into a :class:`FrameStore`: the same clip, bounded memory.

    :param progress: called with the number of frames read so far, now and then
    :raises VideoError: missing/unreadable file, no video stream, zero frames.
    """
    from lgvsc.errors import VideoError
    from lgvsc.video import VideoClip

    frames, out_fps, name, probe = video_frames(path, width, height, fps, fit, max_frames)
    store = None
    for f in frames:
        if store is None:
            store = FrameStore(f.shape[0], f.shape[1])
        store.append(f)
        if progress is not None and len(store) % 24 == 0:
            progress(len(store))
    if store is None:
        raise VideoError(f"{path}: the video stream has no decodable frames")
    return VideoClip(frames=store, fps=out_fps, name=name, source=probe)  # type: ignore[arg-type]
