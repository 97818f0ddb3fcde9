# SPDX-License-Identifier: GPL-3.0-or-later
"""The explicit semantic stream: what the transmitter sends about a video.

A stream is a header (:class:`VideoInfo` + how it was made) and, per
variable-length segment, its two boundary keyframes (by frame index), a
caption and a motion score. Keyframes are stored once and shared by the two
segments they bound. Beyond the paper, a segment may carry *refinement
frames* (:class:`Refinement`) strictly inside it: extra coded frames the
encoder adds where its own simulated decode is worst (docs/keyframe-channel.md).
SKEM's semantic keyframes are never changed by them. The JSON form (:meth:`SemanticStream.to_json`) is for
people (``lgvsc inspect``); the compact binary form lives in
:mod:`lgvsc.wire` and its PDUs in :mod:`lgvsc.packets` (see docs/PROTOCOL.md).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

__all__ = ["STREAM_VERSION", "REFINEMENT_CODEC", "VideoInfo", "Keyframe", "Refinement", "Segment", "SemanticStream"]

#: Stream schema version (docs/PROTOCOL.md). 2: refinement frames, one-byte motion score and no motion
#: magnitude on the wire; streams of version 1 still decode.
STREAM_VERSION = 2
#: The only refinement coding: AV1 inter frames predicted from the segment's start keyframe (itself AV1 intra).
REFINEMENT_CODEC = "av1"


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
class Refinement:
    """A refinement frame strictly inside a segment (beyond the paper; docs/keyframe-channel.md).

    ``data`` is one AV1 temporal unit of the segment's sub-stream: the segment's
    start keyframe (AV1 intra, the keyframe object's data) followed by its
    refinements in order, each inter-predicted from the frames before it in the
    same segment. Decoding refinement ``k`` therefore needs the start keyframe and
    refinements ``0..k-1`` of the same segment, and nothing from other segments:
    a loss stays inside its segment.
    """

    frame_index: int
    data: bytes


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
    #: Refinement frames, frame indices strictly increasing and strictly inside the segment.
    refinements: list[Refinement] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return self.end_frame - self.start_frame + 1

    def refinement_indices(self) -> list[int]:
        return [r.frame_index for r in self.refinements]


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
            ri = s.refinement_indices()
            if ri != sorted(set(ri)) or (ri and not s.start_frame < ri[0] <= ri[-1] < s.end_frame):
                raise ValueError(f"segment {s.index}: refinement frames must be unique, increasing and inside "
                                 f"{s.start_frame}..{s.end_frame}, got {ri}")

    # -- JSON form, for people ------------------------------------------------
    def to_dict(self, include_data: bool = False) -> dict[str, Any]:
        """The JSON form. Every coded frame says its ``kind``: ``semantic`` (a SKEM/SKIM keyframe, in
        ``keyframes``) or ``refinement`` (in its segment's ``refinements``); ``coded_frames`` lists both
        in frame order."""
        d = asdict(self)
        coded = []
        for k in d["keyframes"]:
            raw = k.pop("data")
            k["kind"] = "semantic"
            k["bytes"] = len(raw)
            if include_data:
                k["data_b64"] = base64.b64encode(raw).decode("ascii")
            coded.append({"frame_index": k["frame_index"], "kind": "semantic", "bytes": len(raw)})
        for s in d["segments"]:
            for r in s["refinements"]:
                raw = r.pop("data")
                r["kind"] = "refinement"
                r["bytes"] = len(raw)
                if include_data:
                    r["data_b64"] = base64.b64encode(raw).decode("ascii")
                coded.append({"frame_index": r["frame_index"], "kind": "refinement", "bytes": len(raw),
                              "segment": s["index"]})
        d["coded_frames"] = sorted(coded, key=lambda c: c["frame_index"])
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
        segs = []
        for s in d["segments"]:
            refs = [Refinement(frame_index=int(r["frame_index"]), data=base64.b64decode(r.get("data_b64", "")))
                    for r in s.get("refinements", [])]
            segs.append(Segment(**{k: v for k, v in s.items() if k != "refinements"}, refinements=refs))
        rest = {k: v for k, v in d.items() if k not in ("video", "keyframes", "segments", "coded_frames")}
        return cls(video=VideoInfo(**d["video"]), keyframes=kfs, segments=segs, **rest)
