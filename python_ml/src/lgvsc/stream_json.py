# SPDX-License-Identifier: GPL-3.0-or-later
"""Strict reading of the JSON form of a semantic stream (``SemanticStream.to_json(include_data=True)``).

A JSON stream file is as untrusted as the air: every field is checked for its type and
range *before* anything is built from it, so bad input ends in one named error
(:class:`StreamJsonError`, a ``ValueError``) that says which field is wrong, never in a
``RecursionError`` (deep nesting), an ``OverflowError`` (``Infinity`` as a frame index) or a
failure deep inside OpenCV (a width of ``576.5``). Rules:

- ``NaN``/``Infinity`` and numbers that overflow a double are refused at parse time; nesting
  beyond the parser's recursion limit is refused, and side info deeper than :data:`MAX_DEPTH`;
- integers must be JSON integers (not ``576.0``, not ``true``) within the bounds below;
  scores must be finite numbers; strings are length-capped; base64 must be canonical;
- unknown keys are refused (a typo would otherwise be dropped silently); ``kind``, ``bytes`` and
  ``coded_frames`` (written by ``to_dict`` for people) are accepted and ignored.

Example::

    >>> parse_stream_json('{"video": {"width": 64.5}}')
    Traceback (most recent call last):
    ...
    lgvsc.stream_json.StreamJsonError: video.width: expected an integer, got float
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from lgvsc.stream import Keyframe, Refinement, Segment, SemanticStream, VideoInfo

__all__ = ["StreamJsonError", "parse_stream_json", "MAX_DEPTH"]

#: Deepest JSON nesting accepted (the stream form needs 5; side info adds a few).
MAX_DEPTH = 16
_MAX_DIM = 1 << 16
_MAX_INT = (1 << 31) - 1
_MAX_TEXT = 16 * 1024
_MAX_SHORT = 64


class StreamJsonError(ValueError):
    """The JSON stream form is malformed; the message names the field."""


def _no_constant(name: str) -> Any:
    raise StreamJsonError(f"{name} is not a number a stream may carry")


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise StreamJsonError(f"number {text[:40]} overflows a double")
    return v


def _side(v: Any, path: str, depth: int = 0) -> Any:
    """Side info: plain JSON values, nested at most MAX_DEPTH levels (json.loads already refused deeper)."""
    if depth > MAX_DEPTH:
        raise StreamJsonError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if type(v) is dict:
        return {k: _side(x, path, depth + 1) for k, x in v.items()}
    if type(v) is list:
        return [_side(x, path, depth + 1) for x in v]
    return v


def _int(d: dict, key: str, path: str, lo: int, hi: int, default: int | None = None) -> int:
    if key not in d:
        if default is None:
            raise StreamJsonError(f"{path}.{key}: missing")
        return default
    v = d[key]
    if type(v) is not int:
        raise StreamJsonError(f"{path}.{key}: expected an integer, got {type(v).__name__}")
    if not lo <= v <= hi:
        raise StreamJsonError(f"{path}.{key}: {v} outside [{lo}, {hi}]")
    return v


def _num(d: dict, key: str, path: str, default: float) -> float:
    v = d.get(key, default)
    if type(v) not in (int, float):
        raise StreamJsonError(f"{path}.{key}: expected a number, got {type(v).__name__}")
    return float(v)


def _str(d: dict, key: str, path: str, max_len: int, default: str | None = None) -> str:
    if key not in d:
        if default is None:
            raise StreamJsonError(f"{path}.{key}: missing")
        return default
    v = d[key]
    if type(v) is not str:
        raise StreamJsonError(f"{path}.{key}: expected a string, got {type(v).__name__}")
    if len(v) > max_len:
        raise StreamJsonError(f"{path}.{key}: longer than {max_len} characters")
    return v


def _b64(d: dict, path: str) -> bytes:
    v = _str(d, "data_b64", path, 1 << 27, default="")
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise StreamJsonError(f"{path}.data_b64: not base64 ({exc})") from None


def _map(v: Any, path: str, allowed: set[str]) -> dict:
    if type(v) is not dict:
        raise StreamJsonError(f"{path}: expected an object, got {type(v).__name__}")
    extra = set(v) - allowed
    if extra:
        raise StreamJsonError(f"{path}: unknown field(s) {sorted(extra)[:5]}")
    return v


def _list(d: dict, key: str, path: str) -> list:
    v = d.get(key, [])
    if type(v) is not list:
        raise StreamJsonError(f"{path}.{key}: expected an array, got {type(v).__name__}")
    return v


_SHOWN = {"kind", "bytes"}  # written by to_dict for people, ignored on read


def _video(v: Any) -> VideoInfo:
    d = _map(v, "video", {"width", "height", "fps_num", "fps_den", "num_frames", "name"})
    return VideoInfo(width=_int(d, "width", "video", 1, _MAX_DIM), height=_int(d, "height", "video", 1, _MAX_DIM),
                     fps_num=_int(d, "fps_num", "video", 1, _MAX_INT), fps_den=_int(d, "fps_den", "video", 1, _MAX_INT),
                     num_frames=_int(d, "num_frames", "video", 1, _MAX_INT),
                     name=_str(d, "name", "video", _MAX_TEXT, default=""))


def _keyframe(v: Any, i: int) -> Keyframe:
    p = f"keyframes[{i}]"
    d = _map(v, p, {"frame_index", "codec_id", "data_b64", "coded_width", "coded_height"} | _SHOWN)
    return Keyframe(frame_index=_int(d, "frame_index", p, 0, _MAX_INT), codec_id=_str(d, "codec_id", p, _MAX_SHORT),
                    data=_b64(d, p), coded_width=_int(d, "coded_width", p, 0, _MAX_DIM, default=0),
                    coded_height=_int(d, "coded_height", p, 0, _MAX_DIM, default=0))


def _segment(v: Any, i: int) -> Segment:
    p = f"segments[{i}]"
    d = _map(v, p, {"index", "start_frame", "end_frame", "caption", "motion_score", "motion_magnitude",
                    "side_info", "refinements"})
    side = d.get("side_info", {})
    if type(side) is not dict:
        raise StreamJsonError(f"{p}.side_info: expected an object, got {type(side).__name__}")
    side = _side(side, f"{p}.side_info")
    refs = []
    for j, r in enumerate(_list(d, "refinements", p)):
        rp = f"{p}.refinements[{j}]"
        rd = _map(r, rp, {"frame_index", "data_b64"} | _SHOWN)
        refs.append(Refinement(frame_index=_int(rd, "frame_index", rp, 0, _MAX_INT), data=_b64(rd, rp)))
    return Segment(index=_int(d, "index", p, 0, _MAX_INT), start_frame=_int(d, "start_frame", p, 0, _MAX_INT),
                   end_frame=_int(d, "end_frame", p, 0, _MAX_INT), caption=_str(d, "caption", p, _MAX_TEXT, ""),
                   motion_score=_num(d, "motion_score", p, 0.0), motion_magnitude=_num(d, "motion_magnitude", p, 0.0),
                   side_info=side, refinements=refs)


def parse_stream_json(data: str | bytes) -> SemanticStream:
    """The stream in ``data`` (the JSON form), checked field by field and with :meth:`SemanticStream.validate`.

    :raises StreamJsonError: anything malformed, out of range or inconsistent
    """
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StreamJsonError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        doc = json.loads(data, parse_constant=_no_constant, parse_float=_finite_float)
    except StreamJsonError:
        raise
    except RecursionError:
        raise StreamJsonError("JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and integers of more than 4300 digits
        raise StreamJsonError(f"not valid JSON ({exc})") from None
    d = _map(doc, "stream", {"video", "keyframes", "segments", "stream_id", "method", "focus", "threshold",
                             "profile", "version", "coded_frames"})
    if "video" not in d:
        raise StreamJsonError("stream.video: missing")
    stream = SemanticStream(
        video=_video(d["video"]),
        keyframes=[_keyframe(k, i) for i, k in enumerate(_list(d, "keyframes", "stream"))],
        segments=[_segment(s, i) for i, s in enumerate(_list(d, "segments", "stream"))],
        stream_id=_int(d, "stream_id", "stream", 0, 0xFFFF, default=0),
        method=_str(d, "method", "stream", _MAX_SHORT, default="skem"),
        focus=_str(d, "focus", "stream", _MAX_SHORT, default="general"),
        threshold=_num(d, "threshold", "stream", 0.35),
        profile=_str(d, "profile", "stream", _MAX_SHORT, default="classical"),
        version=_int(d, "version", "stream", 1, 255, default=1),
    )
    try:
        stream.validate()
    except ValueError as exc:
        raise StreamJsonError(str(exc)) from None
    return stream
