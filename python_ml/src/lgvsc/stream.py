# SPDX-License-Identifier: GPL-3.0-or-later
"""The explicit semantic stream: what the transmitter sends about a video.

A stream is a header (:class:`VideoInfo` + how it was made) and, per
variable-length segment, its two boundary keyframes (by frame index), a
caption and a motion score. Keyframes are stored once and shared by the two
segments they bound. The JSON form (:meth:`SemanticStream.to_json`) is for
people (``lgvsc inspect``); the compact binary form lives in
:mod:`lgvsc.wire` and its PDUs in :mod:`lgvsc.packets` (see docs/PROTOCOL.md).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

__all__ = ["STREAM_VERSION", "VideoInfo", "Keyframe", "Segment", "SemanticStream"]

STREAM_VERSION = 1


@dataclass
class VideoInfo:
    """Geometry and timing of the (normalised) video the stream describes."""

    width: int
    height: int
    fps_num: int
    fps_den: int
    num_frames: int
    name: str = ""

    @property
    def fps(self) -> float:
        return self.fps_num / self.fps_den

    @property
    def fps_fraction(self) -> Fraction:
        return Fraction(self.fps_num, self.fps_den)

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps


@dataclass
class Keyframe:
    """One coded keyframe. ``frame_index`` is its position in the video."""

    frame_index: int
    codec_id: str
    data: bytes
    coded_width: int = 0
    coded_height: int = 0


@dataclass
class Segment:
    """Frames ``start_frame..end_frame`` inclusive; both ends are keyframes."""

    index: int
    start_frame: int
    end_frame: int
    caption: str = ""
    motion_score: float = 0.0
    motion_magnitude: float = 0.0
    side_info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return self.end_frame - self.start_frame + 1


@dataclass
class SemanticStream:
    """Everything the receiver needs to rebuild a video."""

    video: VideoInfo
    keyframes: list[Keyframe]
    segments: list[Segment]
    stream_id: int = 0
    method: str = "skem"  # "skem" or "skim"
    focus: str = "general"
    threshold: float = 0.35
    profile: str = "classical"
    version: int = STREAM_VERSION

    def keyframe_indices(self) -> list[int]:
        return [k.frame_index for k in self.keyframes]

    def keyframe_at(self, frame_index: int) -> Keyframe | None:
        for k in self.keyframes:
            if k.frame_index == frame_index:
                return k
        return None

    def validate(self) -> None:
        """Raise ``ValueError`` if the stream is inconsistent."""
        v = self.video
        if v.width <= 0 or v.height <= 0 or v.fps_num <= 0 or v.fps_den <= 0 or v.num_frames <= 0:
            raise ValueError(f"invalid video info: {v}")
        idx = self.keyframe_indices()
        if idx != sorted(set(idx)):
            raise ValueError("keyframe indices must be unique and increasing")
        if idx and (idx[0] < 0 or idx[-1] >= v.num_frames):
            raise ValueError("keyframe index outside the video")
        prev_end = None
        for s in self.segments:
            if not 0 <= s.start_frame < s.end_frame < v.num_frames:
                raise ValueError(f"segment {s.index} spans invalid frames {s.start_frame}..{s.end_frame}")
            if prev_end is not None and s.start_frame != prev_end:
                raise ValueError(f"segment {s.index} does not start where the previous one ended")
            prev_end = s.end_frame

    # -- JSON form, for people ------------------------------------------------
    def to_dict(self, include_data: bool = False) -> dict[str, Any]:
        d = asdict(self)
        for k in d["keyframes"]:
            raw = k.pop("data")
            k["bytes"] = len(raw)
            if include_data:
                k["data_b64"] = base64.b64encode(raw).decode("ascii")
        return d

    def to_json(self, include_data: bool = False, indent: int = 2) -> str:
        return json.dumps(self.to_dict(include_data=include_data), indent=indent)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SemanticStream:
        kfs = [
            Keyframe(
                frame_index=int(k["frame_index"]),
                codec_id=str(k["codec_id"]),
                data=base64.b64decode(k.get("data_b64", "")),
                coded_width=int(k.get("coded_width", 0)),
                coded_height=int(k.get("coded_height", 0)),
            )
            for k in d["keyframes"]
        ]
        segs = [Segment(**s) for s in d["segments"]]
        rest = {k: v for k, v in d.items() if k not in ("video", "keyframes", "segments")}
        return cls(video=VideoInfo(**d["video"]), keyframes=kfs, segments=segs, **rest)
