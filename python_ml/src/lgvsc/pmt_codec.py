# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure-Python codec for the subset of GNU Radio PMT that our PDUs use.

The ML side must not import GNU Radio (its bindings do not load under numpy 2), yet
the bytes it puts on a ZeroMQ socket have to be exactly what ``pmt.serialize_str``
produces, so that stock gr-zeromq message blocks interoperate. No maintained
pure-Python implementation of the PMT wire format exists, hence this small one. It
follows ``pmt_serialize.cc`` of GNU Radio 3.10 and is tested byte for byte against
the real ``pmt`` module (``tests/test_pmt_wire.py``).

Value model (Python <-> PMT):

================================  ===============================================
Python                            PMT
================================  ===============================================
``None``                          ``PMT_NIL`` (also the empty dict)
``True`` / ``False``              ``PMT_T`` / ``PMT_F``
``str``                           symbol (PMT has no string type; UTF-8 bytes)
``int``                           long: int32 if it fits, else int64
:class:`Uint64`                   uint64
``float``                         double
``complex``                       complex (two doubles)
``bytes``/``bytearray``           u8vector
:class:`UniformVector`            any other uniform vector (f32, c32, s16, ...)
``dict``                          dict (insertion order = wire order)
:class:`Pair`                     pair (``cons``)
``list``                          vector
``tuple``                         tuple (not empty: GNU Radio cannot read one back)
================================  ===============================================

Anything read from a socket is untrusted: every length is checked against the bytes
that remain, nesting depth and element counts are bounded, and every problem raises
:class:`lgvsc.errors.PacketError`. There is no eval and no pickle.

Examples:
    >>> from lgvsc.pmt_codec import encode_pdu, decode_pdu
    >>> wire = encode_pdu({"seq": 1}, b"\\x01\\x02")
    >>> wire.hex(" ")
    '07 09 07 02 00 03 73 65 71 03 00 00 00 01 06 0a 00 00 00 00 02 01 00 01 02'
    >>> decode_pdu(wire)
    ({'seq': 1}, b'\\x01\\x02')
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from lgvsc.errors import PacketError

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_DEPTH",
    "Pair",
    "Uint64",
    "UniformVector",
    "encode",
    "decode",
    "encode_pdu",
    "decode_pdu",
]

#: Default cap on one serialised message (bytes); PDUs are at most a PHY MTU, so this is generous.
MAX_MESSAGE_BYTES = 1 << 20
#: Maximum nesting depth of pairs/vectors/tuples/dict values.
MAX_DEPTH = 32

# Type tags of pmt_serial_tags.h (GNU Radio 3.10).
_TRUE, _FALSE, _SYMBOL, _INT32, _DOUBLE, _COMPLEX, _NULL, _PAIR = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
_VECTOR, _DICT, _UVECTOR, _UINT64, _TUPLE, _INT64 = 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D

# Uniform vector element types: kind -> (type code, struct format of one element, item size).
_UV_KINDS: dict[str, tuple[int, str, int]] = {
    "u8": (0x00, "B", 1),
    "s8": (0x01, "b", 1),
    "u16": (0x02, "H", 2),
    "s16": (0x03, "h", 2),
    "u32": (0x04, "I", 4),
    "s32": (0x05, "i", 4),
    "u64": (0x06, "Q", 8),
    "s64": (0x07, "q", 8),
    "f32": (0x08, "f", 4),
    "f64": (0x09, "d", 8),
    "c32": (0x0A, "f", 8),
    "c64": (0x0B, "d", 16),
}
_UV_BY_CODE = {code: kind for kind, (code, _f, _s) in _UV_KINDS.items()}

_I32_MIN, _I32_MAX = -(1 << 31), (1 << 31) - 1
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


class Uint64(int):
    """An integer that travels as a PMT ``uint64`` (``pmt.from_uint64``) instead of a long."""

    def __new__(cls, value: int = 0) -> Uint64:
        if not 0 <= int(value) < (1 << 64):
            raise ValueError(f"Uint64 out of range: {value}")
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"Uint64({int(self)})"


@dataclass(frozen=True)
class Pair:
    """A PMT pair, ``pmt.cons(car, cdr)``."""

    car: Any
    cdr: Any


@dataclass(frozen=True)
class UniformVector:
    """A PMT uniform vector other than u8 (``bytes`` is the u8vector).

    :param kind: element type: ``u8 s8 u16 s16 u32 s32 u64 s64 f32 f64 c32 c64``
    :param values: the elements (ints, floats or complex numbers)
    """

    kind: str
    values: tuple

    def __post_init__(self) -> None:
        if self.kind not in _UV_KINDS:
            raise ValueError(f"unknown uniform vector kind {self.kind!r}; expected one of {sorted(_UV_KINDS)}")
        object.__setattr__(self, "values", tuple(self.values))


# --------------------------------------------------------------------------- encoding


def encode(value: Any, *, max_bytes: int = MAX_MESSAGE_BYTES) -> bytes:
    """Serialise ``value`` exactly as ``pmt.serialize_str`` would serialise its PMT twin.

    :param value: a value of the model in the module docstring
    :param max_bytes: refuse to produce more bytes than this
    :output: the serialised bytes
    :raises TypeError: for a Python type outside the model
    :raises ValueError: for an out-of-range value or a result larger than ``max_bytes``
    """
    out = bytearray()
    _enc(value, out, 0)
    if len(out) > max_bytes:
        raise ValueError(f"serialised PMT is {len(out)} bytes, above the cap of {max_bytes}")
    return bytes(out)


def _enc(v: Any, out: bytearray, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"PMT nesting deeper than {MAX_DEPTH}")
    if v is None:
        out.append(_NULL)
    elif v is True:
        out.append(_TRUE)
    elif v is False:
        out.append(_FALSE)
    elif isinstance(v, str):
        raw = v.encode("utf-8", "surrogateescape")
        if len(raw) > 0xFFFF:
            raise ValueError(f"symbol of {len(raw)} bytes is too long for PMT (max 65535)")
        out += struct.pack(">BH", _SYMBOL, len(raw))
        out += raw
    elif isinstance(v, Uint64):
        out += struct.pack(">BQ", _UINT64, int(v))
    elif isinstance(v, int):
        if _I32_MIN <= v <= _I32_MAX:
            out += struct.pack(">Bi", _INT32, v)
        elif _I64_MIN <= v <= _I64_MAX:
            out += struct.pack(">Bq", _INT64, v)
        else:
            raise ValueError(f"integer {v} does not fit a PMT long (int64); use Uint64 for unsigned values")
    elif isinstance(v, float):
        out += struct.pack(">Bd", _DOUBLE, v)
    elif isinstance(v, complex):
        out += struct.pack(">Bdd", _COMPLEX, v.real, v.imag)
    elif isinstance(v, bytes | bytearray | memoryview):
        raw = bytes(v)
        out += struct.pack(">BBIBB", _UVECTOR, 0x00, len(raw), 1, 0)
        out += raw
    elif isinstance(v, UniformVector):
        code, fmt, _size = _UV_KINDS[v.kind]
        out += struct.pack(">BBIBB", _UVECTOR, code, len(v.values), 1, 0)
        if v.kind in ("c32", "c64"):
            flat = [p for c in v.values for p in (complex(c).real, complex(c).imag)]
            out += struct.pack(f">{len(flat)}{fmt}", *flat)
        else:
            out += struct.pack(f">{len(v.values)}{fmt}", *v.values)
    elif isinstance(v, dict):
        # pmt dicts are chains: DICT (key . value) DICT (key . value) ... NIL.
        for key, item in v.items():
            out += bytes((_DICT, _PAIR))
            _enc(key, out, depth + 1)
            _enc(item, out, depth + 1)
        out.append(_NULL)
    elif isinstance(v, Pair):
        out.append(_PAIR)
        _enc(v.car, out, depth + 1)
        _enc(v.cdr, out, depth + 1)
    elif isinstance(v, list):
        out += struct.pack(">BI", _VECTOR, len(v))
        for item in v:
            _enc(item, out, depth + 1)
    elif isinstance(v, tuple):
        if not v:
            # GNU Radio 3.10 serialises an empty tuple but pmt.deserialize_str rejects it
            # ("pmt_to_tuple: wrong_type"), so such bytes would break a GNU Radio peer.
            raise ValueError("GNU Radio cannot deserialise an empty PMT tuple; use a list (vector)")
        out += struct.pack(">BI", _TUPLE, len(v))
        for item in v:
            _enc(item, out, depth + 1)
    else:
        raise TypeError(f"cannot serialise {type(v).__name__} as PMT")


def encode_pdu(meta: dict | None, payload: bytes | bytearray | memoryview, *,
               max_bytes: int = MAX_MESSAGE_BYTES) -> bytes:
    """Serialise a PDU, ``pmt.cons(meta_dict, u8vector)``, as ``pmt.serialize_str`` does.

    :param meta: metadata dict (symbol keys are plain ``str``); ``None`` or ``{}`` is ``PMT_NIL``
    :param payload: the PDU bytes
    """
    return encode(Pair(meta or {}, bytes(payload)), max_bytes=max_bytes)


# --------------------------------------------------------------------------- decoding


class _Reader:
    __slots__ = ("buf", "pos", "items", "max_items")

    def __init__(self, buf: bytes, max_items: int) -> None:
        self.buf = buf
        self.pos = 0
        self.items = 0
        self.max_items = max_items

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.buf):
            raise PacketError(f"truncated PMT: need {n} bytes at offset {self.pos}, {len(self.buf) - self.pos} left")
        chunk = self.buf[self.pos:end]
        self.pos = end
        return chunk

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))

    def count(self) -> None:
        self.items += 1
        if self.items > self.max_items:
            raise PacketError(f"PMT holds more than {self.max_items} objects")


def decode(data: bytes | bytearray | memoryview, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Any:
    """Parse bytes from ``pmt.serialize_str`` (or :func:`encode`) into the Python value model.

    The whole buffer must be one PMT; trailing bytes are an error.

    :raises PacketError: on anything malformed, truncated, too large or too deep
    """
    raw = bytes(data)
    if len(raw) > max_bytes:
        raise PacketError(f"message of {len(raw)} bytes exceeds the cap of {max_bytes}")
    if not raw:
        raise PacketError("empty message is not a PMT")
    rd = _Reader(raw, max_items=max(64, len(raw)))
    try:
        value = _dec(rd, 0)
    except (struct.error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        if isinstance(exc, PacketError):
            raise
        raise PacketError(f"malformed PMT: {exc}") from exc
    if rd.pos != len(raw):
        raise PacketError(f"{len(raw) - rd.pos} trailing bytes after the PMT")
    return value


def _dec(rd: _Reader, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise PacketError(f"PMT nesting deeper than {MAX_DEPTH}")
    rd.count()
    (tag,) = rd.take(1)
    if tag == _NULL:
        return None
    if tag == _TRUE:
        return True
    if tag == _FALSE:
        return False
    if tag == _SYMBOL:
        (n,) = rd.unpack(">H")
        return rd.take(n).decode("utf-8", "surrogateescape")
    if tag == _INT32:
        return rd.unpack(">i")[0]
    if tag == _INT64:
        return rd.unpack(">q")[0]
    if tag == _UINT64:
        return Uint64(rd.unpack(">Q")[0])
    if tag == _DOUBLE:
        return rd.unpack(">d")[0]
    if tag == _COMPLEX:
        re, im = rd.unpack(">dd")
        return complex(re, im)
    if tag == _PAIR:
        car = _dec(rd, depth + 1)
        return Pair(car, _dec(rd, depth + 1))
    if tag == _DICT:
        return _dec_dict(rd, depth)
    if tag in (_VECTOR, _TUPLE):
        (n,) = rd.unpack(">I")
        if n > len(rd.buf) - rd.pos:  # every element takes at least one byte
            raise PacketError(f"PMT vector claims {n} elements, only {len(rd.buf) - rd.pos} bytes left")
        items = [_dec(rd, depth + 1) for _ in range(n)]
        return items if tag == _VECTOR else tuple(items)
    if tag == _UVECTOR:
        return _dec_uvector(rd)
    raise PacketError(f"unsupported PMT type tag 0x{tag:02x} at offset {rd.pos - 1}")


def _dec_dict(rd: _Reader, depth: int) -> dict:
    # DICT (key . value) [DICT (key . value) ...] NIL -- read iteratively, not recursively.
    out: dict = {}
    while True:
        (ptag,) = rd.take(1)
        if ptag != _PAIR:
            raise PacketError(f"PMT dict entry is not a pair (tag 0x{ptag:02x})")
        rd.count()
        key = _dec(rd, depth + 1)
        value = _dec(rd, depth + 1)
        try:
            if key in out:
                raise PacketError(f"duplicate PMT dict key {key!r}")
            out[key] = value
        except TypeError as exc:
            raise PacketError(f"unhashable PMT dict key of type {type(key).__name__}") from exc
        (tag,) = rd.take(1)
        if tag == _NULL:
            return out
        if tag != _DICT:
            raise PacketError(f"PMT dict tail is neither dict nor nil (tag 0x{tag:02x})")


def _dec_uvector(rd: _Reader) -> bytes | UniformVector:
    code, n, npad = rd.unpack(">BIB")
    rd.take(npad)
    kind = _UV_BY_CODE.get(code)
    if kind is None:
        raise PacketError(f"unknown PMT uniform vector type 0x{code:02x}")
    _code, fmt, size = _UV_KINDS[kind]
    if n * size > len(rd.buf) - rd.pos:
        raise PacketError(f"PMT {kind}vector claims {n} elements, only {len(rd.buf) - rd.pos} bytes left")
    raw = rd.take(n * size)
    if kind == "u8":
        return raw
    if kind in ("c32", "c64"):
        flat = struct.unpack(f">{2 * n}{fmt}", raw)
        return UniformVector(kind, tuple(complex(flat[i], flat[i + 1]) for i in range(0, 2 * n, 2)))
    return UniformVector(kind, struct.unpack(f">{n}{fmt}", raw))


def decode_pdu(data: bytes | bytearray | memoryview, *, max_bytes: int = MAX_MESSAGE_BYTES) -> tuple[dict, bytes]:
    """Parse a serialised PDU into ``(meta, payload)``.

    :raises PacketError: when the bytes are not a pair of (dict or nil, u8vector)
    """
    value = decode(data, max_bytes=max_bytes)
    if not isinstance(value, Pair):
        raise PacketError(f"PDU must be a PMT pair, got {type(value).__name__}")
    meta = value.car if value.car is not None else {}
    if not isinstance(meta, dict):
        raise PacketError(f"PDU metadata must be a PMT dict, got {type(meta).__name__}")
    if not isinstance(value.cdr, bytes):
        raise PacketError(f"PDU payload must be a u8vector, got {type(value.cdr).__name__}")
    return meta, value.cdr
