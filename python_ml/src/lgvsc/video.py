# SPDX-License-Identifier: GPL-3.0-or-later
"""Video input/output with PyAV (FFmpeg).

:func:`read_video` decodes any FFmpeg-readable file and normalises it, by
default, to 576x320 @ 24 fps (the paper's working format) with FFmpeg's own
``scale``/``crop``/``fps`` filters; :func:`write_video` writes H.264 mp4
(yuv420p) atomically (temp name, renamed when complete). Problems a user can
fix (missing file, not a video, no video stream, zero frames) raise
:class:`lgvsc.errors.VideoError`.

Example:

>>> from lgvsc.samples import carphone_path
>>> clip = read_video(carphone_path())
>>> clip.frames.shape, float(clip.fps)
((96, 320, 576, 3), 24.0)
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from lgvsc.errors import VideoError
from lgvsc.stream import VideoInfo

__all__ = [
    "DEFAULT_WIDTH",
    "DEFAULT_HEIGHT",
    "DEFAULT_FPS",
    "VideoProbe",
    "VideoClip",
    "probe_video",
    "iter_video",
    "read_video",
    "write_video",
    "VideoWriter",
    "sigterm_as_exit",
]

log = logging.getLogger(__name__)

DEFAULT_WIDTH = 576
DEFAULT_HEIGHT = 320
DEFAULT_FPS = 24
FIT_MODES = ("crop", "stretch", "pad")


@dataclass(frozen=True)
class VideoProbe:
    """What the container says about the first video stream."""

    path: str
    width: int
    height: int
    fps: Fraction
    num_frames: int  # from the stream header, or estimated from the duration (0 if unknown)
    duration_s: float
    codec: str


@dataclass
class VideoClip:
    """Decoded frames ``(F, H, W, 3)`` uint8 RGB with their frame rate."""

    frames: np.ndarray
    fps: Fraction
    name: str = ""
    source: VideoProbe | None = None

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def duration_s(self) -> float:
        return self.num_frames / float(self.fps)

    def info(self) -> VideoInfo:
        """The :class:`lgvsc.stream.VideoInfo` header that describes this clip."""
        return VideoInfo(
            width=self.width,
            height=self.height,
            fps_num=self.fps.numerator,
            fps_den=self.fps.denominator,
            num_frames=self.num_frames,
            name=self.name,
        )


def _open(path: str | os.PathLike):
    import av

    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: no such file")
    if p.is_dir():
        raise VideoError(f"{p}: is a directory, not a video file")
    try:
        container = av.open(str(p))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise VideoError(f"{p}: not a readable video file ({exc})") from exc
    if not container.streams.video:
        container.close()
        raise VideoError(f"{p}: contains no video stream")
    return container


def _stream_fps(stream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or rate <= 0:
        return Fraction(DEFAULT_FPS)
    return Fraction(rate).limit_denominator(1001)


def probe_video(path: str | os.PathLike) -> VideoProbe:
    """Read the header of the first video stream (no decoding).

    :raises VideoError: missing file, not a media file, or no video stream.
    """
    container = _open(path)
    try:
        s = container.streams.video[0]
        fps = _stream_fps(s)
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        frames = int(s.frames or 0) or int(round(duration * float(fps)))
        return VideoProbe(
            path=str(path),
            width=int(s.codec_context.width),
            height=int(s.codec_context.height),
            fps=fps,
            num_frames=frames,
            duration_s=duration,
            codec=s.codec_context.name,
        )
    finally:
        container.close()


def _filter_spec(src_w: int, src_h: int, width: int | None, height: int | None, fit: str) -> list[tuple[str, str]]:
    if width is None or height is None:
        return []
    if width % 2 or height % 2 or width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive and even (H.264 yuv420p), got {width}x{height}")
    if fit == "stretch":
        return [("scale", f"{width}:{height}:flags=area")]
    if fit == "crop":
        return [
            ("scale", f"{width}:{height}:force_original_aspect_ratio=increase:flags=area"),
            ("crop", f"{width}:{height}"),
        ]
    if fit == "pad":
        return [
            ("scale", f"{width}:{height}:force_original_aspect_ratio=decrease:flags=area"),
            ("pad", f"{width}:{height}:(ow-iw)/2:(oh-ih)/2"),
        ]
    raise ValueError(f"fit must be one of {FIT_MODES}, got {fit!r}")


def iter_video(
    path: str | os.PathLike,
    width: int | None = DEFAULT_WIDTH,
    height: int | None = DEFAULT_HEIGHT,
    fps: float | Fraction | None = DEFAULT_FPS,
    fit: str = "crop",
    max_frames: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield normalised RGB frames one at a time (constant memory).

    :param width, height: output size; ``None`` keeps the source geometry.
    :param fps: output frame rate (FFmpeg ``fps`` filter: frames dropped or
        repeated on the output time grid); ``None`` keeps the source rate.
    :param fit: ``crop`` (scale to cover, centre crop; default, no distortion),
        ``stretch`` or ``pad``.
    :param max_frames: stop after this many output frames.
    """
    import av

    if fit not in FIT_MODES:
        raise ValueError(f"fit must be one of {FIT_MODES}, got {fit!r}")
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        cc = stream.codec_context
        graph = av.filter.Graph()
        nodes = [graph.add_buffer(template=stream)]
        specs = _filter_spec(cc.width, cc.height, width, height, fit)
        if fps is not None:
            f = Fraction(fps).limit_denominator(1001)
            if f <= 0:
                raise ValueError(f"fps must be positive, got {fps}")
            specs.append(("fps", f"{f.numerator}/{f.denominator}"))
        specs.append(("format", "rgb24"))
        for name, arg in specs:
            nodes.append(graph.add(name, arg))
        nodes.append(graph.add("buffersink"))
        for a, b in zip(nodes, nodes[1:], strict=False):
            a.link_to(b)
        graph.configure()
        count = 0

        def drain() -> Iterator[np.ndarray]:
            nonlocal count
            while True:
                try:
                    out = graph.pull()
                except (av.BlockingIOError, av.EOFError):
                    return
                count += 1
                yield out.to_ndarray()

        try:
            for frame in container.decode(stream):
                graph.push(frame)
                for arr in drain():
                    yield arr
                    if max_frames is not None and count >= max_frames:
                        return
            graph.push(None)
            for arr in drain():
                yield arr
                if max_frames is not None and count >= max_frames:
                    return
        except av.FFmpegError as exc:
            if count == 0:
                raise VideoError(f"{path}: cannot decode video ({exc})") from exc
            log.warning("%s: decoding stopped after %d frames: %s", path, count, exc)
    finally:
        container.close()


def read_video(
    path: str | os.PathLike,
    width: int | None = DEFAULT_WIDTH,
    height: int | None = DEFAULT_HEIGHT,
    fps: float | Fraction | None = DEFAULT_FPS,
    fit: str = "crop",
    max_frames: int | None = None,
) -> VideoClip:
    """Decode and normalise a whole video into memory (see :func:`iter_video`).

    :raises VideoError: missing/unreadable file, no video stream, zero frames.
    """
    probe = probe_video(path)
    frames = list(iter_video(path, width, height, fps, fit, max_frames))
    if not frames:
        raise VideoError(f"{path}: the video stream has no decodable frames")
    out_fps = probe.fps if fps is None else Fraction(fps).limit_denominator(1001)
    return VideoClip(frames=np.stack(frames), fps=out_fps, name=Path(path).name, source=probe)


class VideoWriter:
    """Write RGB frames to an H.264 mp4 (yuv420p) atomically.

    Frames go to a temporary file in the destination directory, renamed onto
    ``path`` by :meth:`close` only when everything was written; on error (or
    :meth:`abort`) the temporary file is removed and ``path`` is untouched.
    Use as a context manager; SIGINT (``KeyboardInterrupt``) then leaves no
    ``.part`` file, and so does SIGTERM under :func:`sigterm_as_exit`.
    """

    def __init__(self, path: str | os.PathLike, fps: float | Fraction, crf: int = 18, preset: str = "veryfast"):
        import av

        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise VideoError(f"{self.path.parent}: output directory does not exist")
        rate = Fraction(fps).limit_denominator(1001)
        if rate <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".part.mp4", dir=self.path.parent or ".")
        os.close(fd)
        self._tmp = Path(tmp)
        self._container = None
        try:  # an interrupt (or an encoder error) here must not leave the .part file behind
            self._container = av.open(str(self._tmp), mode="w", format="mp4")
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(crf), "preset": preset}
        except BaseException:
            self.abort()
            raise
        self._shape: tuple[int, int] | None = None
        self.frames_written = 0

    def _check(self, frame: np.ndarray) -> None:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 frame, got {frame.shape} {frame.dtype}")
        h, w = frame.shape[:2]
        if self._shape is None:
            if w % 2 or h % 2:
                raise ValueError(f"H.264 yuv420p needs even dimensions, got {w}x{h}")
            self._stream.width, self._stream.height = w, h
            self._shape = (h, w)
        elif (h, w) != self._shape:
            raise ValueError(f"frame size changed from {self._shape} to {(h, w)}")

    def write(self, frame: np.ndarray) -> None:
        import av

        self._check(frame)
        self._encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24"))

    def write_preview(self, frame: np.ndarray) -> None:
        """As :meth:`write`, converted to yuv420p by OpenCV (BT.601 limited range, 2x2 chroma mean) instead of
        swscale: several times cheaper, not swscale's rounding. For videos that are only looked at."""
        import av
        import cv2

        self._check(frame)
        self._yuv = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420, dst=getattr(self, "_yuv", None))  # reused
        self._encode(av.VideoFrame.from_ndarray(self._yuv, format="yuv420p"))  # (PyAV copies it)

    def _encode(self, vf) -> None:
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        """Flush, close and rename into place. Zero frames is an error (nothing is written)."""
        if self._container is None:
            return
        if self.frames_written == 0:
            self.abort()
            raise ValueError("no frames were written")
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
        except BaseException:
            self._container = None
            self._tmp.unlink(missing_ok=True)
            raise
        self._container = None
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Discard everything written so far."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - best effort on an already failing path
                pass
            self._container = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _exit_on_sigterm(signum, frame):  # noqa: ARG001 - signal handler signature
    raise SystemExit(128 + signum)


def sigterm_as_exit() -> None:
    """Make SIGTERM raise ``SystemExit(143)`` in the main thread, so ``with`` blocks (a
    :class:`VideoWriter`'s among them) clean up instead of the process dying mid-write."""
    import signal

    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray] | np.ndarray, fps: float | Fraction,
                crf: int = 18) -> int:
    """Write frames to an H.264 mp4 atomically; returns the number of frames written."""
    with VideoWriter(path, fps, crf=crf) as w:
        for f in frames:
            w.write(f)
        return w.frames_written
