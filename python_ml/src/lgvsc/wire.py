# SPDX-License-Identifier: GPL-3.0-or-later
"""The compact, versioned binary form of a :class:`~lgvsc.stream.SemanticStream`.

Two layers, both msgpack (no ext types, strict limits on every length):

* **objects** — the units the packetiser sends: the stream *header* (video
  info, how the stream was made, the list of keyframe frame indices and the
  segment count, so a receiver knows the whole structure from the header
  alone), one object per *keyframe* and one per *segment meta* (boundaries,
  caption, motion score, side info). Each is a msgpack array with fields in a
  fixed order (see docs/PROTOCOL.md).
* **the stream file** — ``MAGIC + version byte + msgpack [header, [keyframes],
  [segments]]``; this is what ``lgvsc encode`` writes. In version 2 each object is a
  msgpack ``bin`` holding the object's bytes followed by their CRC-32 (big-endian,
  :func:`zlib.crc32`), checked on read: :func:`read_stream_bytes` drops a damaged
  keyframe or segment and names it (the decoder conceals it), a damaged header is an
  error. Over the air the PHY's CRC does this job, so PDUs carry no CRC of ours.

Version 2 (this build writes it; version 1 still reads): the segment meta carries
the motion score as one byte (steps of :data:`MOTION_STEP`) instead of two
float64s, and the segment's refinement frames (AV1 inter temporal units).

Everything decoded here is treated as untrusted: sizes are bounded before
allocation (msgpack's own limits), every field is type-checked and range
checked, and any problem raises :class:`~lgvsc.errors.PacketError`.

Example::

    >>> data = stream_to_bytes(stream)
    >>> stream_from_bytes(data) == stream
    True
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from lgvsc.errors import PacketError
from lgvsc.stream import STREAM_VERSION, Keyframe, Refinement, Segment, SemanticStream, VideoInfo

__all__ = [
    "MAGIC",
    "WIRE_VERSION",
    "DEFAULT_MAX_SIZE",
    "MAX_KEYFRAMES",
    "MAX_SEGMENTS",
    "MAX_REFINEMENTS",
    "MOTION_STEP",
    "READABLE_WIRE_VERSIONS",
    "quantise_motion",
    "StreamHeader",
    "header_of",
    "check_segment_bounds",
    "validate_for_wire",
    "encode_header",
    "decode_header",
    "encode_keyframe",
    "decode_keyframe",
    "encode_segment",
    "decode_segment",
    "stream_to_bytes",
    "stream_from_bytes",
    "DamagedObject",
    "read_stream_bytes",
]

#: File/stream magic: ASCII "LGVS".
MAGIC = b"LGVS"
#: Version of the binary layout (bumped on any incompatible change); 2: one-byte motion, refinements.
WIRE_VERSION = 2
#: Layouts this build reads (stream file version byte and header stream_version).
READABLE_WIRE_VERSIONS = (1, 2)
#: The motion score travels as ``round(score / MOTION_STEP)`` in one byte (0..255).
MOTION_STEP = 0.5
#: At most this many refinement frames per segment.
MAX_REFINEMENTS = 4096
#: Default upper bound on a whole binary stream (bytes).
DEFAULT_MAX_SIZE = 64 * 1024 * 1024
#: Object ids are 16-bit in the PDU header, so at most this many of each.
MAX_KEYFRAMES = 65535
MAX_SEGMENTS = 65534
#: Bounds on free-form fields.
MAX_TEXT_BYTES = 16 * 1024  # captions, names
MAX_SHORT_TEXT = 64  # method, focus, profile, codec id
MAX_SIDE_INFO_ITEMS = 64
MAX_SIDE_INFO_DEPTH = 4
_MAX_DIM = 1 << 16
_MAX_FRAMES = 1 << 31
_U32 = (1 << 32) - 1

# Positional field counts of each object array (checked on decode).
_HEADER_FIELDS = 14
_KEYFRAME_FIELDS = 5
_SEGMENT_FIELDS = 7  # both versions; v1 has floats at 4 and 5, v2 a byte at 4 and the side-info map at 5


@dataclass(frozen=True)
class StreamHeader:
    """Object 0 of a stream: everything but keyframe data and segment metas.

    ``keyframe_indices`` lists every keyframe's frame index (increasing) and
    ``num_segments`` the number of segment metas, so a receiver that has the
    header knows exactly which objects it is missing.
    """

    stream_id: int
    video: VideoInfo
    method: str
    focus: str
    threshold: float
    profile: str
    version: int
    keyframe_indices: tuple[int, ...]
    num_segments: int

    def empty_stream(self) -> SemanticStream:
        """A :class:`SemanticStream` with this header and no keyframes/segments."""
        return SemanticStream(
            video=VideoInfo(**vars(self.video)),
            keyframes=[],
            segments=[],
            stream_id=self.stream_id,
            method=self.method,
            focus=self.focus,
            threshold=self.threshold,
            profile=self.profile,
            version=self.version,
        )


# ----------------------------------------------------------------------------
# msgpack with limits
# ----------------------------------------------------------------------------
def _pack(obj: Any) -> bytes:
    try:
        return msgpack.packb(obj, use_bin_type=True, strict_types=False, datetime=False)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"cannot serialise stream field: {e}") from e


def _unpack(data: bytes, max_size: int, what: str) -> Any:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise PacketError(f"{what}: expected bytes, got {type(data).__name__}")
    if len(data) > max_size:
        raise PacketError(f"{what}: {len(data)} bytes exceeds the limit of {max_size}")
    try:
        return msgpack.unpackb(
            bytes(data),
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_bin_len=max_size,
            max_str_len=min(max_size, MAX_TEXT_BYTES),
            max_array_len=min(max_size, MAX_KEYFRAMES + 1),
            max_map_len=MAX_SIDE_INFO_ITEMS,
            max_ext_len=0,
            timestamp=0,
        )
    except (
        msgpack.ExtraData,
        msgpack.FormatError,
        msgpack.StackError,
        msgpack.OutOfData,
        ValueError,
        TypeError,
        UnicodeDecodeError,
    ) as e:  # msgpack raises a zoo of types on bad input
        raise PacketError(f"{what}: malformed msgpack ({type(e).__name__}: {e})") from e


# ----------------------------------------------------------------------------
# field checks (decode side)
# ----------------------------------------------------------------------------
def _int(v: Any, name: str, lo: int, hi: int) -> int:
    if type(v) is not int:
        raise PacketError(f"{name}: expected an integer, got {type(v).__name__}")
    if not lo <= v <= hi:
        raise PacketError(f"{name}: {v} outside [{lo}, {hi}]")
    return v


def _float(v: Any, name: str) -> float:
    if type(v) is int:
        v = float(v)
    if type(v) is not float:
        raise PacketError(f"{name}: expected a number, got {type(v).__name__}")
    if not math.isfinite(v):
        raise PacketError(f"{name}: not finite ({v})")
    return v


def _str(v: Any, name: str, max_len: int) -> str:
    if type(v) is not str:
        raise PacketError(f"{name}: expected a string, got {type(v).__name__}")
    if len(v.encode("utf-8")) > max_len:
        raise PacketError(f"{name}: longer than {max_len} bytes")
    return v


def _array(v: Any, name: str, n: int) -> list[Any]:
    if type(v) is not list:
        raise PacketError(f"{name}: expected an array, got {type(v).__name__}")
    if len(v) != n:
        raise PacketError(f"{name}: expected {n} fields, got {len(v)}")
    return v


def _side_value(v: Any, name: str, depth: int) -> Any:
    if depth > MAX_SIDE_INFO_DEPTH:
        raise PacketError(f"{name}: nested deeper than {MAX_SIDE_INFO_DEPTH}")
    if v is None or type(v) in (bool, int, str, bytes):
        return v
    if type(v) is float:
        return v
    if type(v) is list:
        if len(v) > MAX_SIDE_INFO_ITEMS:
            raise PacketError(f"{name}: more than {MAX_SIDE_INFO_ITEMS} items")
        return [_side_value(x, name, depth + 1) for x in v]
    if type(v) is dict:
        return _side_dict(v, name, depth + 1)
    raise PacketError(f"{name}: unsupported value type {type(v).__name__}")


def _side_dict(v: Any, name: str, depth: int = 0) -> dict[str, Any]:
    if type(v) is not dict:
        raise PacketError(f"{name}: expected a map, got {type(v).__name__}")
    if len(v) > MAX_SIDE_INFO_ITEMS:
        raise PacketError(f"{name}: more than {MAX_SIDE_INFO_ITEMS} entries")
    out: dict[str, Any] = {}
    for k, x in v.items():
        if type(k) is not str:
            raise PacketError(f"{name}: keys must be strings")
        out[k] = _side_value(x, name, depth)
    return out


def _check_side_info_encodable(v: Any, depth: int = 0) -> None:
    """Encode-side mirror of :func:`_side_value` so a stream we write always reads back."""
    if depth > MAX_SIDE_INFO_DEPTH + 1:
        raise ValueError(f"side_info nested deeper than {MAX_SIDE_INFO_DEPTH}")
    if v is None or type(v) in (bool, int, float, str, bytes):
        return
    if type(v) in (list, tuple):
        if len(v) > MAX_SIDE_INFO_ITEMS:
            raise ValueError(f"side_info list longer than {MAX_SIDE_INFO_ITEMS}")
        for x in v:
            _check_side_info_encodable(x, depth + 1)
        return
    if type(v) is dict:
        if len(v) > MAX_SIDE_INFO_ITEMS:
            raise ValueError(f"side_info map larger than {MAX_SIDE_INFO_ITEMS}")
        for k, x in v.items():
            if type(k) is not str:
                raise ValueError("side_info keys must be strings")
            _check_side_info_encodable(x, depth + 1)
        return
    raise ValueError(f"side_info value of unsupported type {type(v).__name__}")


# ----------------------------------------------------------------------------
# header object
# ----------------------------------------------------------------------------
def header_of(stream: SemanticStream) -> StreamHeader:
    """The :class:`StreamHeader` describing ``stream``."""
    v = stream.video
    return StreamHeader(
        stream_id=stream.stream_id,
        video=VideoInfo(v.width, v.height, v.fps_num, v.fps_den, v.num_frames, v.name),
        method=stream.method,
        focus=stream.focus,
        threshold=float(stream.threshold),
        profile=stream.profile,
        version=stream.version,
        keyframe_indices=tuple(stream.keyframe_indices()),
        num_segments=len(stream.segments),
    )


def encode_header(stream: SemanticStream | StreamHeader) -> bytes:
    """msgpack bytes of the header object (object 0).

    Field order: ``[stream_version, stream_id, width, height, fps_num,
    fps_den, num_frames, name, method, focus, threshold, profile,
    [keyframe frame indices], num_segments]`` — see docs/PROTOCOL.md.
    """
    h = stream if isinstance(stream, StreamHeader) else header_of(stream)
    if len(h.keyframe_indices) > MAX_KEYFRAMES or h.num_segments > MAX_SEGMENTS:
        raise ValueError("too many keyframes or segments for the wire format")
    v = h.video
    body = [
        STREAM_VERSION,  # what this build writes, whatever version the stream was read in
        h.stream_id,
        v.width,
        v.height,
        v.fps_num,
        v.fps_den,
        v.num_frames,
        v.name,
        h.method,
        h.focus,
        float(h.threshold),
        h.profile,
        list(h.keyframe_indices),
        h.num_segments,
    ]
    return _pack(body)


def decode_header(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> StreamHeader:
    """Parse and validate a header object; raise :class:`PacketError` if malformed."""
    a = _array(_unpack(data, max_size, "header"), "header", _HEADER_FIELDS)
    version = _int(a[0], "header.version", 1, 255)
    if version not in READABLE_WIRE_VERSIONS:
        raise PacketError(f"header.version: unsupported stream version {version} (this build reads "
                          f"{', '.join(map(str, READABLE_WIRE_VERSIONS))})")
    video = VideoInfo(
        width=_int(a[2], "header.width", 1, _MAX_DIM),
        height=_int(a[3], "header.height", 1, _MAX_DIM),
        fps_num=_int(a[4], "header.fps_num", 1, _U32),
        fps_den=_int(a[5], "header.fps_den", 1, _U32),
        num_frames=_int(a[6], "header.num_frames", 1, _MAX_FRAMES),
        name=_str(a[7], "header.name", MAX_TEXT_BYTES),
    )
    kfi = a[12]
    if type(kfi) is not list or len(kfi) > MAX_KEYFRAMES:
        raise PacketError("header.keyframe_indices: expected an array of at most 65535 entries")
    indices = tuple(_int(x, "header.keyframe_indices[]", 0, video.num_frames - 1) for x in kfi)
    if any(b <= a_ for a_, b in zip(indices, indices[1:], strict=False)):
        raise PacketError("header.keyframe_indices: not strictly increasing")
    num_segments = _int(a[13], "header.num_segments", 0, MAX_SEGMENTS)
    if num_segments > max(len(indices) - 1, 0):
        raise PacketError(
            f"header.num_segments: {num_segments} segments need more than {len(indices)} keyframes"
        )
    return StreamHeader(
        stream_id=_int(a[1], "header.stream_id", 0, _U32),
        video=video,
        method=_str(a[8], "header.method", MAX_SHORT_TEXT),
        focus=_str(a[9], "header.focus", MAX_SHORT_TEXT),
        threshold=_float(a[10], "header.threshold"),
        profile=_str(a[11], "header.profile", MAX_SHORT_TEXT),
        version=version,
        keyframe_indices=indices,
        num_segments=num_segments,
    )


# ----------------------------------------------------------------------------
# keyframe object
# ----------------------------------------------------------------------------
def encode_keyframe(kf: Keyframe) -> bytes:
    """msgpack bytes of one keyframe: ``[frame_index, codec_id, coded_width, coded_height, data]``."""
    if not isinstance(kf.data, bytes | bytearray):
        raise ValueError("keyframe data must be bytes")
    return _pack([kf.frame_index, kf.codec_id, kf.coded_width, kf.coded_height, bytes(kf.data)])


def decode_keyframe(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> Keyframe:
    """Parse and validate a keyframe object; raise :class:`PacketError` if malformed."""
    a = _array(_unpack(data, max_size, "keyframe"), "keyframe", _KEYFRAME_FIELDS)
    payload = a[4]
    if type(payload) is not bytes:
        raise PacketError(f"keyframe.data: expected bytes, got {type(payload).__name__}")
    return Keyframe(
        frame_index=_int(a[0], "keyframe.frame_index", 0, _MAX_FRAMES),
        codec_id=_str(a[1], "keyframe.codec_id", MAX_SHORT_TEXT),
        coded_width=_int(a[2], "keyframe.coded_width", 0, _MAX_DIM),
        coded_height=_int(a[3], "keyframe.coded_height", 0, _MAX_DIM),
        data=payload,
    )


# ----------------------------------------------------------------------------
# segment object
# ----------------------------------------------------------------------------
def quantise_motion(score: float) -> int:
    """The one-byte wire form of a motion score: ``round(score / MOTION_STEP)`` clipped to 0..255."""
    if not math.isfinite(score):
        raise ValueError(f"motion_score must be finite, got {score}")
    return int(min(255, max(0, round(score / MOTION_STEP))))


def encode_segment(seg: Segment) -> bytes:
    """msgpack bytes of one segment meta (version 2).

    ``[index, start_frame, end_frame, caption, motion_byte, side_info, [[frame_index, data], ...]]``:
    the motion score as ``quantise_motion`` (its decoded value is ``byte * MOTION_STEP``), then the
    refinement frames. ``motion_magnitude`` is not sent (version 1 sent it as a float64).
    """
    _check_side_info_encodable(seg.side_info)
    if len(seg.refinements) > MAX_REFINEMENTS:
        raise ValueError(f"segment {seg.index}: more than {MAX_REFINEMENTS} refinement frames")
    refs = []
    for r in seg.refinements:
        if not isinstance(r.data, bytes | bytearray) or not r.data:
            raise ValueError(f"segment {seg.index}: refinement data must be non-empty bytes")
        refs.append([r.frame_index, bytes(r.data)])
    return _pack([seg.index, seg.start_frame, seg.end_frame, seg.caption, quantise_motion(seg.motion_score),
                  seg.side_info, refs])


def decode_segment(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> Segment:
    """Parse and validate a segment-meta object; raise :class:`PacketError` if malformed."""
    a = _array(_unpack(data, max_size, "segment"), "segment", _SEGMENT_FIELDS)
    start = _int(a[1], "segment.start_frame", 0, _MAX_FRAMES)
    end = _int(a[2], "segment.end_frame", 0, _MAX_FRAMES)
    if end <= start:
        raise PacketError(f"segment: end_frame {end} not after start_frame {start}")
    index = _int(a[0], "segment.index", 0, MAX_SEGMENTS - 1)
    caption = _str(a[3], "segment.caption", MAX_TEXT_BYTES)
    if type(a[5]) is not dict:  # version 1: [.., motion_score f64, motion_magnitude f64, side_info]
        return Segment(index=index, start_frame=start, end_frame=end, caption=caption,
                       motion_score=_float(a[4], "segment.motion_score"),
                       motion_magnitude=_float(a[5], "segment.motion_magnitude"),
                       side_info=_side_dict(a[6], "segment.side_info"))
    refs_raw = a[6]
    if type(refs_raw) is not list or len(refs_raw) > MAX_REFINEMENTS:
        raise PacketError(f"segment.refinements: expected an array of at most {MAX_REFINEMENTS} entries")
    refs = []
    for r in refs_raw:
        r = _array(r, "segment.refinements[]", 2)
        fi = _int(r[0], "segment.refinements[].frame_index", start + 1, end - 1)
        if type(r[1]) is not bytes or not r[1]:
            raise PacketError("segment.refinements[].data: expected non-empty bytes")
        if refs and fi <= refs[-1].frame_index:
            raise PacketError("segment.refinements: frame indices not strictly increasing")
        refs.append(Refinement(frame_index=fi, data=r[1]))
    return Segment(index=index, start_frame=start, end_frame=end, caption=caption,
                   motion_score=_int(a[4], "segment.motion_byte", 0, 255) * MOTION_STEP,
                   side_info=_side_dict(a[5], "segment.side_info"), refinements=refs)


# ----------------------------------------------------------------------------
# whole stream
# ----------------------------------------------------------------------------
def _check_consistent(h: StreamHeader, kfs: Sequence[Keyframe], segs: Sequence[Segment]) -> None:
    """Cross-object checks shared by the file reader and the reassembler."""
    if tuple(k.frame_index for k in kfs) != h.keyframe_indices:
        raise PacketError("keyframes do not match the header's keyframe indices")
    if len(segs) != h.num_segments:
        raise PacketError(f"expected {h.num_segments} segments, got {len(segs)}")
    for i, s in enumerate(segs):
        if s.index != i:
            raise PacketError(f"segment {i} carries index {s.index}")
        check_segment_bounds(h, s)


def check_segment_bounds(h: StreamHeader, seg: Segment) -> None:
    """Segment ``i`` must run from keyframe ``i`` to keyframe ``i + 1`` of the header's list."""
    kfi = h.keyframe_indices
    if seg.index >= h.num_segments:
        raise PacketError(f"segment {seg.index} but the header lists {h.num_segments} segments")
    if (seg.start_frame, seg.end_frame) != (kfi[seg.index], kfi[seg.index + 1]):
        raise PacketError(
            f"segment {seg.index} spans {seg.start_frame}..{seg.end_frame}, "
            f"but its keyframes are {kfi[seg.index]} and {kfi[seg.index + 1]}"
        )


def validate_for_wire(stream: SemanticStream) -> None:
    """Raise ``ValueError`` unless ``stream`` can be sent: :meth:`SemanticStream.validate`,
    at most 65535 keyframes, and segment ``i`` running from keyframe ``i`` to ``i + 1``."""
    stream.validate()
    if len(stream.keyframes) > MAX_KEYFRAMES or len(stream.segments) > MAX_SEGMENTS:
        raise ValueError("too many keyframes or segments for the wire format")
    kfi = stream.keyframe_indices()
    if len(stream.segments) > max(len(kfi) - 1, 0):
        raise ValueError(f"{len(stream.segments)} segments need more than {len(kfi)} keyframes")
    for i, s in enumerate(stream.segments):
        if s.index != i:
            raise ValueError(f"segment at position {i} has index {s.index}")
        if (s.start_frame, s.end_frame) != (kfi[i], kfi[i + 1]):
            raise ValueError(
                f"segment {i} spans {s.start_frame}..{s.end_frame}, not keyframes {kfi[i]}..{kfi[i + 1]}"
            )


def stream_to_bytes(stream: SemanticStream) -> bytes:
    """Serialise ``stream`` to the binary stream form (``MAGIC``, version, msgpack body).

    Raises ``ValueError`` if the stream is inconsistent (see
    :meth:`SemanticStream.validate`; besides, segment ``i`` must run from
    keyframe ``i`` to keyframe ``i + 1``) or holds values the format cannot carry.
    """
    validate_for_wire(stream)
    # Objects are packed individually with the same encoders the packetiser uses; each goes
    # into the file body [header, [kf...], [seg...]] as a bin of its bytes and their CRC-32,
    # so a flipped bit inside an object damages that object only, and is detected.
    parts = [
        b"\x93",  # fixarray of 3
        _crc_record(encode_header(stream)),
        _array_prefix(len(stream.keyframes)),
        *(_crc_record(encode_keyframe(k)) for k in stream.keyframes),
        _array_prefix(len(stream.segments)),
        *(_crc_record(encode_segment(s)) for s in stream.segments),
    ]
    return MAGIC + bytes([WIRE_VERSION]) + b"".join(parts)


def _crc_record(obj: bytes) -> bytes:
    """msgpack ``bin`` of ``obj + crc32(obj)`` (4 bytes, big-endian)."""
    return _pack(obj + zlib.crc32(obj).to_bytes(4, "big"))


def _array_prefix(n: int) -> bytes:
    if n < 16:
        return bytes([0x90 | n])
    if n < 1 << 16:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


@dataclass(frozen=True)
class DamagedObject:
    """An object of a stream file whose CRC-32 (or content) did not check out; it was left out."""

    kind: str  # "keyframe" or "segment"
    position: int  # its place in the file's list (keyframe object id, segment index)
    frame_index: int | None  # keyframe: its frame index, from the header
    reason: str

    def describe(self) -> str:
        where = f" (frame {self.frame_index})" if self.frame_index is not None else ""
        return f"{self.kind} {self.position}{where}: {self.reason}"


def stream_from_bytes(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> SemanticStream:
    """Parse the binary stream form; raise :class:`PacketError` for anything malformed or damaged.

    ``max_size`` bounds the whole input and every byte string inside it. :func:`read_stream_bytes`
    is the tolerant reader (damaged objects left out and named).
    """
    stream, damaged = read_stream_bytes(data, max_size)
    if damaged:
        raise PacketError(f"damaged {damaged[0].describe()}")
    return stream


def read_stream_bytes(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> tuple[SemanticStream, list[DamagedObject]]:
    """Parse the binary stream form, leaving out (and listing) keyframes and segments that are damaged.

    A version-2 file checks every object's CRC-32; an object that fails it, or does not decode, or
    contradicts the header, is left out of the stream and listed, so the decoder conceals it like a
    lost one. A damaged header, or a file whose structure is broken (a length prefix hit), raises
    :class:`PacketError`: nothing can be decoded then. Version-1 files (no CRC) read as before.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise PacketError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_size:
        raise PacketError(f"stream of {len(data)} bytes exceeds the limit of {max_size}")
    if len(data) < len(MAGIC) + 1 or data[: len(MAGIC)] != MAGIC:
        raise PacketError("not an LGVSC semantic stream (bad magic)")
    version = data[len(MAGIC)]
    if version not in READABLE_WIRE_VERSIONS:
        raise PacketError(f"unsupported stream wire version {version} (this build reads "
                          f"{', '.join(map(str, READABLE_WIRE_VERSIONS))})")
    body = _array(_unpack(data[len(MAGIC) + 1 :], max_size, "stream"), "stream", 3)
    if type(body[1]) is not list or type(body[2]) is not list:
        raise PacketError("stream: keyframes and segments must be arrays")
    # Each object goes through the per-object decoder so there is exactly one validation path per
    # object type: CRC records (version 2) are checked and decoded, raw objects (version 1, and
    # version-2 files written before the CRC) re-packed first.
    checked = type(body[0]) is bytes
    if checked and version < 2:
        raise PacketError("stream: CRC records in a version-1 file")
    try:
        header = _decode_obj(body[0], decode_header, max_size, checked)
    except PacketError as e:
        raise PacketError(f"stream header damaged, nothing can be decoded without it ({e})") from e
    if len(body[1]) != len(header.keyframe_indices) or len(body[2]) != header.num_segments:
        raise PacketError(f"the file does not match the header's keyframe indices and segment count: "
                          f"{len(header.keyframe_indices)} keyframes and {header.num_segments} segments listed, "
                          f"{len(body[1])} and {len(body[2])} held")
    damaged: list[DamagedObject] = []
    kfs, segs = [], []
    for i, k in enumerate(body[1]):
        try:
            kf = _decode_obj(k, decode_keyframe, max_size, checked)
            if kf.frame_index != header.keyframe_indices[i]:
                raise PacketError(f"is frame {kf.frame_index}, the header says {header.keyframe_indices[i]}")
            kfs.append(kf)
        except PacketError as e:
            damaged.append(DamagedObject("keyframe", i, header.keyframe_indices[i], str(e)))
    for i, x in enumerate(body[2]):
        try:
            seg = _decode_obj(x, decode_segment, max_size, checked)
            if seg.index != i:
                raise PacketError(f"carries index {seg.index}")
            check_segment_bounds(header, seg)
            segs.append(seg)
        except PacketError as e:
            damaged.append(DamagedObject("segment", i, None, str(e)))
    if not checked and damaged:  # no CRC to tell damage from a malformed file: as strict as before
        raise PacketError(f"{damaged[0].kind} {damaged[0].position}: {damaged[0].reason}")
    stream = header.empty_stream()
    stream.keyframes = kfs
    stream.segments = segs
    try:
        stream.validate()
    except ValueError as e:
        raise PacketError(f"inconsistent stream: {e}") from e
    return stream, damaged


def _decode_obj(obj: Any, decoder: Any, max_size: int, checked: bool = False) -> Any:
    if checked:
        if type(obj) is not bytes or len(obj) < 5:
            raise PacketError("not a CRC record")
        raw, crc = obj[:-4], int.from_bytes(obj[-4:], "big")
        if zlib.crc32(raw) != crc:
            raise PacketError("CRC-32 mismatch (damaged)")
        return decoder(raw, max_size)
    try:
        raw = msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as e:  # pragma: no cover - came from unpackb
        raise PacketError(f"stream: unencodable object ({e})") from e
    return decoder(raw, max_size)
