# SPDX-License-Identifier: GPL-3.0-or-later
"""Semantic stream ⇄ PDUs: the packetiser and the loss-tolerant reassembler.

A stream is sent as a sequence of *objects* (see :mod:`lgvsc.wire`), each
fragmented into PDUs no larger than the PHY's MTU. Every PDU starts with a
fixed 17-byte big-endian header:

====== ==== =========== ==================================================
offset size field       meaning
====== ==== =========== ==================================================
0      2    magic       ``b"LP"``
2      1    version     :data:`PDU_VERSION` (1)
3      1    kind        :class:`Kind` (1 header, 2 keyframe, 3 segment, 4 end)
4      1    priority    0 (most important) .. 7, see :class:`Priority`
5      2    stream_id   which stream (u16)
7      4    seq         PDU sequence number within the stream (u32)
11     2    object_id   0 for header/end, keyframe position, segment index
13     2    frag_index  0 .. frag_count-1
15     2    frag_count  1 .. 65535
====== ==== =========== ==================================================

Order on the air: header, kf0, kf1, seg0, kf2, seg1, …, end — each segment
meta right after the second of its keyframes, so a receiver can decode a
segment as soon as its three objects are in; the header is repeated every
``header_every`` objects because nothing decodes without it.

The :class:`Reassembler` treats every byte as untrusted (integrity is the
PHY's CRC, not ours): it tolerates loss, duplication and reordering, bounds
every count and size it reads by its :class:`ReassemblerConfig`, keeps total
memory bounded (oldest partial objects and oldest streams are evicted), and
raises :class:`~lgvsc.errors.PacketError` for malformed input (the caller
counts and carries on). See docs/PROTOCOL.md.

Example::

    >>> pdus = packetize(stream, mtu=96)
    >>> rx = Reassembler()
    >>> for p in pdus:
    ...     rx.feed(p)
    >>> got, missing = rx.snapshot()
    >>> got == stream and missing.complete
    True
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from typing import Any

import msgpack

from lgvsc.errors import PacketError
from lgvsc.stream import Keyframe, Segment, SemanticStream
from lgvsc.wire import (
    StreamHeader,
    check_segment_bounds,
    decode_header,
    decode_keyframe,
    decode_segment,
    encode_header,
    encode_keyframe,
    encode_segment,
    validate_for_wire,
)

__all__ = [
    "PDU_MAGIC",
    "PDU_VERSION",
    "HEADER_SIZE",
    "MIN_MTU",
    "Kind",
    "Priority",
    "PduHeader",
    "parse_pdu",
    "WireObject",
    "stream_objects",
    "Packetizer",
    "FRAGMENT_OVERHEAD",
    "PARTIAL_OVERHEAD",
    "OBJECT_OVERHEAD",
    "packetize",
    "ReassemblerConfig",
    "ObjectEvent",
    "EndInfo",
    "MissingReport",
    "Reassembler",
]

PDU_MAGIC = b"LP"
PDU_VERSION = 1
_HDR = struct.Struct("!2sBBBHIHHH")
#: Bytes of our header at the start of every PDU.
HEADER_SIZE = _HDR.size
#: Smallest MTU the packetiser accepts (header + 15 bytes of payload).
MIN_MTU = HEADER_SIZE + 15
_MAX_U16 = 0xFFFF
_MAX_U32 = 0xFFFFFFFF
_MAX_PRIORITY = 7


class Kind(IntEnum):
    """What an object is. 0 is invalid so an all-zero buffer never parses."""

    HEADER = 1
    KEYFRAME = 2
    SEGMENT = 3
    END = 4


class Priority(IntEnum):
    """Importance for queues and unequal protection: lower is more important.

    The header is needed for anything to decode; a lost segment meta is
    concealed from the previous caption (cheap), a lost keyframe from its
    neighbours (costly, but keyframes are most of the bytes).
    """

    HEADER = 0
    SEGMENT = 1
    KEYFRAME = 2
    END = 3


_DEFAULT_PRIORITY = {
    Kind.HEADER: Priority.HEADER,
    Kind.KEYFRAME: Priority.KEYFRAME,
    Kind.SEGMENT: Priority.SEGMENT,
    Kind.END: Priority.END,
}


@dataclass(frozen=True)
class PduHeader:
    """The parsed fixed header of one PDU."""

    kind: Kind
    priority: int
    stream_id: int
    seq: int
    object_id: int
    frag_index: int
    frag_count: int
    version: int = PDU_VERSION

    def pack(self) -> bytes:
        return _HDR.pack(
            PDU_MAGIC,
            self.version,
            int(self.kind),
            self.priority,
            self.stream_id,
            self.seq,
            self.object_id,
            self.frag_index,
            self.frag_count,
        )


def parse_pdu(pdu: bytes, max_pdu_bytes: int = 65535) -> tuple[PduHeader, bytes]:
    """Split a PDU into its validated header and payload; :class:`PacketError` if malformed."""
    if not isinstance(pdu, bytes | bytearray | memoryview):
        raise PacketError(f"PDU must be bytes, got {type(pdu).__name__}")
    n = len(pdu)
    if n > max_pdu_bytes:
        raise PacketError(f"PDU of {n} bytes exceeds the limit of {max_pdu_bytes}")
    if n <= HEADER_SIZE:
        raise PacketError(
            f"PDU of {n} bytes is too short (header is {HEADER_SIZE}, payload must not be empty)"
        )
    magic, version, kind, prio, sid, seq, oid, fidx, fcnt = _HDR.unpack_from(pdu)
    if magic != PDU_MAGIC:
        raise PacketError("not an LGVSC PDU (bad magic)")
    if version != PDU_VERSION:
        raise PacketError(f"unsupported PDU version {version} (this build reads {PDU_VERSION})")
    try:
        k = Kind(kind)
    except ValueError:
        raise PacketError(f"unknown PDU kind {kind}") from None
    if prio > _MAX_PRIORITY:
        raise PacketError(f"priority {prio} above {_MAX_PRIORITY}")
    if fcnt == 0 or fidx >= fcnt:
        raise PacketError(f"fragment index {fidx} not below fragment count {fcnt}")
    if k in (Kind.HEADER, Kind.END) and oid != 0:
        raise PacketError(f"{k.name} object must have id 0, got {oid}")
    return PduHeader(k, prio, sid, seq, oid, fidx, fcnt, version), bytes(pdu[HEADER_SIZE:])


# ----------------------------------------------------------------------------
# packetiser
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class WireObject:
    """One object ready to fragment."""

    kind: Kind
    object_id: int
    payload: bytes
    priority: int


def _encode_end(pdus_sent: int) -> bytes:
    return msgpack.packb([pdus_sent])


def stream_objects(stream: SemanticStream, header_every: int = 4) -> list[WireObject]:
    """The stream's objects in send order (without the end marker).

    Order: header, kf0, kf1, seg0, kf2, seg1, …; the header again after every
    ``header_every`` data objects (0 = only once) and, if it was repeated at
    all, once more near the end.
    """
    if header_every < 0:
        raise ValueError("header_every must be >= 0")
    validate_for_wire(stream)
    hdr = WireObject(Kind.HEADER, 0, encode_header(stream), Priority.HEADER)
    data: list[WireObject] = []
    for i, kf in enumerate(stream.keyframes):
        data.append(WireObject(Kind.KEYFRAME, i, encode_keyframe(kf), Priority.KEYFRAME))
        if 1 <= i <= len(stream.segments):
            seg = stream.segments[i - 1]
            data.append(WireObject(Kind.SEGMENT, i - 1, encode_segment(seg), Priority.SEGMENT))
    out = [hdr]
    for n, obj in enumerate(data, 1):
        out.append(obj)
        if header_every and n % header_every == 0 and n != len(data):
            out.append(hdr)
    if header_every and len(data) > header_every and out[-1] is not hdr:
        out.append(hdr)
    return out


class Packetizer:
    """Fragments objects of one stream into PDUs, numbering them.

    :param stream_id: 0..65535, written into every PDU.
    :param mtu: largest PDU in bytes, our header included (>= :data:`MIN_MTU`).
    :param first_seq: sequence number of the first PDU.
    """

    def __init__(self, stream_id: int, mtu: int, first_seq: int = 0) -> None:
        if not 0 <= stream_id <= _MAX_U16:
            raise ValueError(f"stream_id {stream_id} outside 0..65535")
        if mtu < MIN_MTU:
            raise ValueError(f"mtu {mtu} below the minimum of {MIN_MTU} bytes")
        if not 0 <= first_seq <= _MAX_U32:
            raise ValueError("first_seq outside u32")
        self.stream_id = stream_id
        self.mtu = mtu
        self.seq = first_seq
        self.pdus_sent = 0

    @property
    def chunk(self) -> int:
        """Payload bytes per full fragment."""
        return self.mtu - HEADER_SIZE

    def fragment(self, obj: WireObject) -> list[bytes]:
        """PDUs carrying ``obj``; raises ``ValueError`` if it needs more than 65535 fragments."""
        if not obj.payload:
            raise ValueError("empty object")
        chunk = self.chunk
        count = -(-len(obj.payload) // chunk)
        if count > _MAX_U16:
            raise ValueError(f"object of {len(obj.payload)} bytes needs {count} fragments at MTU {self.mtu}")
        out = []
        for i in range(count):
            h = PduHeader(obj.kind, int(obj.priority), self.stream_id, self.seq, obj.object_id, i, count)
            out.append(h.pack() + obj.payload[i * chunk : (i + 1) * chunk])
            self.seq = (self.seq + 1) & _MAX_U32
            self.pdus_sent += 1
        return out

    def end(self) -> list[bytes]:
        """The end-of-stream PDU; it carries the number of PDUs sent, itself included."""
        return self.fragment(WireObject(Kind.END, 0, _encode_end(self.pdus_sent + 1), Priority.END))


def packetize(
    stream: SemanticStream,
    mtu: int,
    *,
    header_every: int = 4,
    send_end: bool = True,
    first_seq: int = 0,
) -> list[bytes]:
    """All PDUs of ``stream`` in send order (see :func:`stream_objects`)."""
    p = Packetizer(stream.stream_id, mtu, first_seq)
    out: list[bytes] = []
    for obj in stream_objects(stream, header_every):
        out.extend(p.fragment(obj))
    if send_end:
        out.extend(p.end())
    return out


# ----------------------------------------------------------------------------
# reassembler
# ----------------------------------------------------------------------------
#: Python bytes held per fragment besides its payload (bytes object header, dict slot, int key),
#: measured at 64..115 B on CPython 3.11 (tracemalloc; RSS of a flood) and rounded up: the budgets must bind.
FRAGMENT_OVERHEAD = 128
#: Per partial object (its record, fragment dict, key tuple, OrderedDict entry): measured ~420 B.
PARTIAL_OVERHEAD = 512
#: Per completed object held (decoded dataclass, dict entry, tuple): a few hundred bytes.
OBJECT_OVERHEAD = 512


@dataclass(frozen=True)
class ReassemblerConfig:
    """Every bound the reassembler enforces.

    Worst-case memory is about ``max_streams * (max_stream_bytes +
    max_tracked_seq / 8) + max_partial_bytes`` plus a small constant: the byte
    budgets count what Python really holds, not payload alone (each fragment
    costs :data:`FRAGMENT_OVERHEAD` bytes besides its payload, each partial
    object :data:`PARTIAL_OVERHEAD`, each completed object :data:`OBJECT_OVERHEAD`),
    so a flood of tiny fragments hits the budget as soon as a flood of big ones does.
    """

    max_pdu_bytes: int = 65535
    max_fragments: int = 8192
    max_object_bytes: int = 4 * 1024 * 1024
    max_partial_objects: int = 256
    max_partial_bytes: int = 16 * 1024 * 1024
    max_streams: int = 4
    max_stream_bytes: int = 64 * 1024 * 1024
    max_tracked_seq: int = 1 << 20
    #: True: a PDU for a new stream while ``max_streams`` are held raises
    #: PacketError; False: the least recently active stream is evicted.
    reject_new_streams: bool = False

    def __post_init__(self) -> None:
        for name in (
            "max_pdu_bytes",
            "max_fragments",
            "max_object_bytes",
            "max_partial_objects",
            "max_partial_bytes",
            "max_streams",
            "max_stream_bytes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.max_tracked_seq < 0:
            raise ValueError("max_tracked_seq must be >= 0")


@dataclass(frozen=True)
class EndInfo:
    """Content of the end-of-stream object."""

    pdus_sent: int


@dataclass(frozen=True)
class ObjectEvent:
    """An object that has just been completed and validated."""

    stream_id: int
    kind: Kind
    object_id: int
    payload: bytes
    value: StreamHeader | Keyframe | Segment | EndInfo


@dataclass
class MissingReport:
    """What a stream's receiver lacks. Keyframes are listed by frame index."""

    stream_id: int | None
    header_received: bool = False
    end_received: bool = False
    keyframe_indices: tuple[int, ...] = ()
    missing_keyframes: tuple[int, ...] = ()
    missing_segments: tuple[int, ...] = ()
    num_segments: int = 0
    partial_objects: int = 0
    pdus_received: int = 0
    pdus_expected: int | None = None
    duplicates: int = 0
    rejected: int = 0

    @property
    def complete(self) -> bool:
        return self.header_received and not self.missing_keyframes and not self.missing_segments

    @property
    def pdus_lost(self) -> int | None:
        if self.pdus_expected is None:
            return None
        return max(self.pdus_expected - self.pdus_received, 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for reports (lists instead of tuples, derived fields included)."""
        d = asdict(self)
        for k in ("keyframe_indices", "missing_keyframes", "missing_segments"):
            d[k] = list(d[k])
        d["complete"] = self.complete
        d["pdus_lost"] = self.pdus_lost
        return d


@dataclass
class _Partial:
    frag_count: int
    frags: dict[int, bytes] = field(default_factory=dict)
    nbytes: int = 0  # payload bytes (the object size limit)
    cost: int = PARTIAL_OVERHEAD  # what it holds in memory (the partial budget)


@dataclass
class _StreamState:
    stream_id: int
    header: StreamHeader | None = None
    header_payload: bytes | None = None
    keyframes: dict[int, tuple[bytes, Keyframe]] = field(default_factory=dict)
    segments: dict[int, tuple[bytes, Segment]] = field(default_factory=dict)
    end: EndInfo | None = None
    complete_bytes: int = 0
    seen_seq: bytearray = field(default_factory=bytearray)
    pdus_received: int = 0
    max_seq: int = -1
    duplicates: int = 0
    rejected: int = 0

    def has(self, kind: Kind, oid: int) -> bool:
        if kind == Kind.HEADER:
            return self.header is not None
        if kind == Kind.KEYFRAME:
            return oid in self.keyframes
        if kind == Kind.SEGMENT:
            return oid in self.segments
        return self.end is not None


_Key = tuple[int, int, int]  # (stream_id, kind, object_id)


class Reassembler:
    """Rebuilds semantic streams from PDUs that may be lost, duplicated or reordered.

    :meth:`feed` takes one PDU and returns the objects it completed;
    :meth:`snapshot` returns what a stream holds so far and what it lacks.
    Malformed PDUs and objects raise :class:`PacketError` and leave the state
    as it was (minus the offending partial object).
    """

    def __init__(self, config: ReassemblerConfig | None = None) -> None:
        self.config = config or ReassemblerConfig()
        self._streams: OrderedDict[int, _StreamState] = OrderedDict()
        self._partials: OrderedDict[_Key, _Partial] = OrderedDict()
        self._partial_bytes = 0
        self.evicted_partials = 0
        self.evicted_streams = 0
        #: PDUs for which :meth:`feed` raised PacketError (malformed or inconsistent).
        self.errors = 0

    # -- public ---------------------------------------------------------------
    def stream_ids(self) -> list[int]:
        """Streams held, least recently active first."""
        return list(self._streams)

    def forget(self, stream_id: int) -> None:
        """Drop everything held for ``stream_id`` (e.g. before it is reused)."""
        self._streams.pop(stream_id, None)
        for key in [k for k in self._partials if k[0] == stream_id]:
            self._drop_partial(key)

    def memory_bytes(self) -> int:
        """Bytes held, overheads included (partial fragments + completed objects + seq bitmaps)."""
        held = sum(s.complete_bytes + len(s.seen_seq) for s in self._streams.values())
        return held + self._partial_bytes

    def feed(self, pdu: bytes) -> list[ObjectEvent]:
        """Process one PDU; return the objects it completed (usually none or one).

        Raises :class:`PacketError` for a malformed or inconsistent PDU or object
        (also counted in :attr:`errors`); the reassembler stays usable.
        """
        try:
            return self._feed(pdu)
        except PacketError:
            self.errors += 1
            raise

    def _feed(self, pdu: bytes) -> list[ObjectEvent]:
        cfg = self.config
        h, payload = parse_pdu(pdu, cfg.max_pdu_bytes)
        if h.frag_count > cfg.max_fragments:
            raise PacketError(f"fragment count {h.frag_count} above the limit of {cfg.max_fragments}")
        st = self._stream(h.stream_id)
        self._note_seq(st, h.seq)
        if st.has(h.kind, h.object_id):
            st.duplicates += 1
            return []
        key = (h.stream_id, int(h.kind), h.object_id)
        part = self._partials.get(key)
        if part is None:
            part = _Partial(h.frag_count)
            self._partials[key] = part
            self._partial_bytes += part.cost
        else:
            self._partials.move_to_end(key)
            if part.frag_count != h.frag_count:
                st.rejected += 1
                raise PacketError(
                    f"fragment count {h.frag_count} disagrees with {part.frag_count} for object {key}"
                )
            old = part.frags.get(h.frag_index)
            if old is not None:
                if old != payload:
                    st.rejected += 1
                    raise PacketError(f"fragment {h.frag_index} of object {key} arrived with different bytes")
                st.duplicates += 1
                return []
        if part.nbytes + len(payload) > cfg.max_object_bytes:
            self._drop_partial(key)
            st.rejected += 1
            raise PacketError(f"object {key} grows beyond {cfg.max_object_bytes} bytes")
        part.frags[h.frag_index] = payload
        part.nbytes += len(payload)
        part.cost += len(payload) + FRAGMENT_OVERHEAD
        self._partial_bytes += len(payload) + FRAGMENT_OVERHEAD
        if len(part.frags) < part.frag_count:
            self._enforce_partial_limits(keep=key)
            return []
        data = b"".join(part.frags[i] for i in range(part.frag_count))
        self._drop_partial(key)
        try:
            return self._complete(st, h.kind, h.object_id, data)
        except PacketError:
            st.rejected += 1
            raise

    def snapshot(self, stream_id: int | None = None) -> tuple[SemanticStream | None, MissingReport]:
        """What ``stream_id`` (default: the most recently active stream) holds and lacks.

        The stream is ``None`` until its header has arrived. Otherwise it holds
        the received keyframes and segment metas in order; with losses it is
        partial (its segments need not be contiguous) and the report lists the
        missing keyframes (by frame index) and segments (by index).
        """
        if stream_id is None:
            if not self._streams:
                return None, MissingReport(stream_id=None)
            stream_id = next(reversed(self._streams))
        st = self._streams.get(stream_id)
        if st is None:
            return None, MissingReport(stream_id=stream_id)
        partial = sum(1 for k in self._partials if k[0] == stream_id)
        expected = st.end.pdus_sent if st.end else (st.max_seq + 1 if st.max_seq >= 0 else None)
        report = MissingReport(
            stream_id=stream_id,
            end_received=st.end is not None,
            partial_objects=partial,
            pdus_received=st.pdus_received,
            pdus_expected=expected,
            duplicates=st.duplicates,
            rejected=st.rejected,
        )
        if st.header is None:
            return None, report
        h = st.header
        report.header_received = True
        report.keyframe_indices = h.keyframe_indices
        report.num_segments = h.num_segments
        report.missing_keyframes = tuple(
            fi for i, fi in enumerate(h.keyframe_indices) if i not in st.keyframes
        )
        report.missing_segments = tuple(j for j in range(h.num_segments) if j not in st.segments)
        stream = h.empty_stream()
        stream.keyframes = [st.keyframes[i][1] for i in sorted(st.keyframes)]
        stream.segments = [st.segments[j][1] for j in sorted(st.segments)]
        return stream, report

    # -- internals ------------------------------------------------------------
    def _stream(self, sid: int) -> _StreamState:
        st = self._streams.get(sid)
        if st is not None:
            self._streams.move_to_end(sid)
            return st
        if len(self._streams) >= self.config.max_streams:
            if self.config.reject_new_streams:
                raise PacketError(
                    f"stream {sid} refused: already holding {len(self._streams)} streams "
                    f"({', '.join(map(str, self._streams))})"
                )
            oldest = next(iter(self._streams))
            self.forget(oldest)
            self.evicted_streams += 1
        st = _StreamState(sid)
        self._streams[sid] = st
        return st

    def _note_seq(self, st: _StreamState, seq: int) -> None:
        if seq >= self.config.max_tracked_seq:
            return
        byte, bit = divmod(seq, 8)
        if byte >= len(st.seen_seq):
            st.seen_seq.extend(bytes(byte + 1 - len(st.seen_seq)))
        if not st.seen_seq[byte] & (1 << bit):
            st.seen_seq[byte] |= 1 << bit
            st.pdus_received += 1
            st.max_seq = max(st.max_seq, seq)

    def _drop_partial(self, key: _Key) -> None:
        part = self._partials.pop(key, None)
        if part is not None:
            self._partial_bytes -= part.cost

    def _enforce_partial_limits(self, keep: _Key) -> None:
        cfg = self.config
        while self._partials and (
            len(self._partials) > cfg.max_partial_objects or self._partial_bytes > cfg.max_partial_bytes
        ):
            oldest = next(iter(self._partials))
            if oldest == keep and len(self._partials) == 1:
                # A single object larger than the partial budget: give it up.
                self._drop_partial(oldest)
                self.evicted_partials += 1
                break
            if oldest == keep:
                self._partials.move_to_end(keep)
                continue
            self._drop_partial(oldest)
            self.evicted_partials += 1

    def _complete(self, st: _StreamState, kind: Kind, oid: int, data: bytes) -> list[ObjectEvent]:
        cfg = self.config
        value: Any
        if kind == Kind.END:
            value = _decode_end(data)
            st.end = value
            return [ObjectEvent(st.stream_id, kind, oid, data, value)]
        if st.complete_bytes + len(data) + OBJECT_OVERHEAD > cfg.max_stream_bytes:
            raise PacketError(f"stream {st.stream_id} exceeds {cfg.max_stream_bytes} bytes")
        if kind == Kind.HEADER:
            value = decode_header(data, cfg.max_object_bytes)
            if value.stream_id != st.stream_id:
                raise PacketError(
                    f"header of stream {value.stream_id} arrived under stream id {st.stream_id}"
                )
            if st.header is not None:  # pragma: no cover - has() filters this
                return []
            self._adopt_header(st, value, data)
        elif kind == Kind.KEYFRAME:
            value = decode_keyframe(data, cfg.max_object_bytes)
            if st.header is not None:
                _check_keyframe(st.header, oid, value)
            st.keyframes[oid] = (data, value)
        else:
            value = decode_segment(data, cfg.max_object_bytes)
            if value.index != oid:
                raise PacketError(f"segment object {oid} carries index {value.index}")
            if st.header is not None:
                _check_segment(st.header, value)
            st.segments[oid] = (data, value)
        st.complete_bytes += len(data) + OBJECT_OVERHEAD
        return [ObjectEvent(st.stream_id, kind, oid, data, value)]

    def _adopt_header(self, st: _StreamState, h: StreamHeader, data: bytes) -> None:
        """Take the header and drop any object received before it that contradicts it."""
        st.header, st.header_payload = h, data
        for oid, (raw, kf) in list(st.keyframes.items()):
            try:
                _check_keyframe(h, oid, kf)
            except PacketError:
                del st.keyframes[oid]
                st.complete_bytes -= len(raw) + OBJECT_OVERHEAD
                st.rejected += 1
        for oid, (raw, seg) in list(st.segments.items()):
            try:
                _check_segment(h, seg)
            except PacketError:
                del st.segments[oid]
                st.complete_bytes -= len(raw) + OBJECT_OVERHEAD
                st.rejected += 1


def _check_keyframe(h: StreamHeader, oid: int, kf: Keyframe) -> None:
    if oid >= len(h.keyframe_indices):
        raise PacketError(f"keyframe object {oid} but the header lists {len(h.keyframe_indices)} keyframes")
    if kf.frame_index != h.keyframe_indices[oid]:
        raise PacketError(
            f"keyframe object {oid} is frame {kf.frame_index}, header says {h.keyframe_indices[oid]}"
        )


def _check_segment(h: StreamHeader, seg: Segment) -> None:
    check_segment_bounds(h, seg)


def _decode_end(data: bytes) -> EndInfo:
    try:
        v = msgpack.unpackb(
            data, raw=False, max_bin_len=0, max_str_len=0, max_array_len=4, max_map_len=0, max_ext_len=0
        )
    except Exception as e:  # msgpack raises many types on garbage
        raise PacketError(f"end object: malformed ({type(e).__name__})") from e
    if type(v) is not list or len(v) != 1 or type(v[0]) is not int or not 1 <= v[0] <= _MAX_U32 + 1:
        raise PacketError("end object: expected [pdus_sent]")
    return EndInfo(pdus_sent=v[0])
