# SPDX-License-Identifier: GPL-3.0-or-later
"""A bounded check of serialised PMT bytes before GNU Radio's ``pmt.deserialize_str`` sees them.

``pmt.deserialize_str`` trusts its input: 100 kB of ``0x07`` (pairs nested 100,000 deep)
overflows the C++ stack and kills the process with SIGSEGV, and a 9-byte uniform vector
header whose length field says 2^32-1 makes it allocate gigabytes (``std::bad_alloc``);
Python's ``except Exception`` catches neither. Every frame a radio-side block reads from
a socket therefore goes through :func:`check_pdu_frame` first. It walks the bytes the way
``pmt_serialize.cc`` (GNU Radio 3.10) reads them, without building anything, and refuses:

- nesting deeper than :data:`MAX_DEPTH` (pairs, vectors, tuples, dict entries);
- any length or element count larger than the bytes that remain (so nothing can claim
  more memory than the frame itself carries);
- more objects than bytes, unknown type tags and uniform-vector types, trailing bytes;
- a frame larger than :data:`MAX_FRAME_BYTES` or empty.

The grammar and the bounds are those of the ML side's ``lgvsc.pmt_codec`` (which is
tested byte for byte against GNU Radio); this module is its radio-side twin, pure Python
with no import of ``pmt`` or numpy, so it also runs in the ML venv (the fuzzer does).

:class:`BurstLog` logs the first malformed frame of a burst and a count when the burst
is over, so a peer that floods garbage cannot flood the log.

Examples:
    >>> check_pdu_frame(bytes.fromhex("07 06 0a 00 00 00 00 02 01 00 01 02".replace(" ", "")))
    >>> try:
    ...     check_frame(b"\\x07" * 100_000)
    ... except MalformedFrame as exc:
    ...     print(exc)
    PMT nesting deeper than 32
"""

import struct
import threading
import time

__all__ = ["MAX_FRAME_BYTES", "MAX_DEPTH", "MalformedFrame", "check_frame", "check_pdu_frame", "BurstLog"]

#: Largest frame accepted (bytes); the bridge sockets also set ZMQ_MAXMSGSIZE to this.
MAX_FRAME_BYTES = 1 << 20
#: Deepest nesting accepted (the ML codec's limit; PDUs need 3).
MAX_DEPTH = 32

# Type tags of pmt_serial_tags.h (GNU Radio 3.10).
_TRUE, _FALSE, _SYMBOL, _INT32, _DOUBLE, _COMPLEX, _NULL, _PAIR = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
_VECTOR, _DICT, _UVECTOR, _UINT64, _TUPLE, _INT64 = 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D
# Fixed payload sizes after the tag.
_FIXED = {_TRUE: 0, _FALSE: 0, _NULL: 0, _INT32: 4, _DOUBLE: 8, _COMPLEX: 16, _UINT64: 8, _INT64: 8}
# Uniform vector type code -> item size (u8 s8 u16 s16 u32 s32 u64 s64 f32 f64 c32 c64).
_UV_SIZE = {0x00: 1, 0x01: 1, 0x02: 2, 0x03: 2, 0x04: 4, 0x05: 4, 0x06: 8, 0x07: 8, 0x08: 4, 0x09: 8,
            0x0A: 8, 0x0B: 16}
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


class MalformedFrame(ValueError):
    """The bytes are not a PMT that GNU Radio can safely read (or not the PMT shape expected)."""


class _Walker:
    __slots__ = ("buf", "pos", "end", "objects")

    def __init__(self, buf):
        self.buf, self.pos, self.end, self.objects = buf, 0, len(buf), 0

    def need(self, n):
        if n > self.end - self.pos:
            raise MalformedFrame(f"truncated PMT: {n} bytes needed at offset {self.pos}, "
                                 f"{self.end - self.pos} left")

    def tag(self):
        self.need(1)
        t = self.buf[self.pos]
        self.pos += 1
        return t

    def u32(self):
        self.need(4)
        (v,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return v

    def value(self, depth):
        """Skip one PMT; returns its type tag."""
        if depth > MAX_DEPTH:
            raise MalformedFrame(f"PMT nesting deeper than {MAX_DEPTH}")
        self.objects += 1
        if self.objects > self.end:  # every object takes at least one byte
            raise MalformedFrame("more PMT objects than bytes")
        t = self.tag()
        fixed = _FIXED.get(t)
        if fixed is not None:
            self.need(fixed)
            self.pos += fixed
        elif t == _SYMBOL:
            self.need(2)
            (n,) = _U16.unpack_from(self.buf, self.pos)
            self.pos += 2
            self.need(n)
            self.pos += n
        elif t == _PAIR:
            self.value(depth + 1)
            self.value(depth + 1)
        elif t in (_VECTOR, _TUPLE):
            n = self.u32()
            if n > self.end - self.pos:  # each element is at least one byte
                raise MalformedFrame(f"PMT vector claims {n} elements, {self.end - self.pos} bytes left")
            if t == _TUPLE and n == 0:
                raise MalformedFrame("empty PMT tuple (GNU Radio cannot read one)")
            for _ in range(n):
                self.value(depth + 1)
        elif t == _DICT:
            self._dict(depth)
        elif t == _UVECTOR:
            self.need(6)
            code = self.buf[self.pos]
            (n,) = _U32.unpack_from(self.buf, self.pos + 1)
            npad = self.buf[self.pos + 5]
            self.pos += 6
            size = _UV_SIZE.get(code)
            if size is None:
                raise MalformedFrame(f"unknown PMT uniform vector type 0x{code:02x}")
            self.need(npad)
            self.pos += npad
            if n * size > self.end - self.pos:
                raise MalformedFrame(f"PMT uniform vector claims {n} items of {size} bytes, "
                                     f"{self.end - self.pos} bytes left")
            self.pos += n * size
        else:
            raise MalformedFrame(f"unsupported PMT type tag 0x{t:02x} at offset {self.pos - 1}")
        return t

    def _dict(self, depth):
        # DICT (key . value) [DICT (key . value) ...] NIL: a chain, walked iteratively.
        while True:
            if self.tag() != _PAIR:
                raise MalformedFrame("PMT dict entry is not a pair")
            self.value(depth + 1)
            self.value(depth + 1)
            t = self.tag()
            if t == _NULL:
                return
            if t != _DICT:
                raise MalformedFrame(f"PMT dict tail is neither dict nor nil (tag 0x{t:02x})")


def _bytes_of(data, max_bytes):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedFrame(f"expected bytes, got {type(data).__name__}")
    buf = bytes(data)
    if not buf:
        raise MalformedFrame("empty frame")
    if len(buf) > max_bytes:
        raise MalformedFrame(f"frame of {len(buf)} bytes exceeds the cap of {max_bytes}")
    return buf


def check_frame(data, max_bytes=MAX_FRAME_BYTES):
    """Raise :class:`MalformedFrame` unless ``data`` is exactly one well-formed, bounded PMT."""
    w = _Walker(_bytes_of(data, max_bytes))
    w.value(0)
    if w.pos != w.end:
        raise MalformedFrame(f"{w.end - w.pos} trailing bytes after the PMT")


def check_pdu_frame(data, max_bytes=MAX_FRAME_BYTES):
    """:func:`check_frame`, and the PMT must be a PDU: ``cons(dict or nil, u8vector)``."""
    buf = _bytes_of(data, max_bytes)
    if buf[0] != _PAIR:
        raise MalformedFrame("not a PDU: the PMT is not a pair")
    w = _Walker(buf)
    w.pos, w.objects = 1, 1
    car = w.value(1)
    if car not in (_DICT, _NULL):
        raise MalformedFrame(f"not a PDU: metadata has type tag 0x{car:02x}, expected a dict")
    if w.pos + 2 > w.end or buf[w.pos] != _UVECTOR or buf[w.pos + 1] != 0x00:
        raise MalformedFrame("not a PDU: the payload is not a u8vector")
    w.value(1)
    if w.pos != w.end:
        raise MalformedFrame(f"{w.end - w.pos} trailing bytes after the PDU")


class BurstLog:
    """Log the first problem of a burst, then one count when the burst has been quiet for ``quiet_s``.

    ``warn`` is a one-argument logging function (a GNU Radio block's ``self.logger.warn``).
    Call :meth:`note` for each problem and :meth:`tick` regularly (an IO thread's loop).
    """

    def __init__(self, warn, what, quiet_s=1.0, clock=time.monotonic):
        self._warn, self._what, self._quiet_s, self._clock = warn, what, float(quiet_s), clock
        self._in_burst = 0
        self._last = 0.0
        self._lock = threading.Lock()  # note() and tick() may run on different threads

    def note(self, reason):
        with self._lock:
            first = self._in_burst == 0
            self._in_burst += 1
            self._last = self._clock()
        if first:
            self._warn(f"{self._what}: {reason}; dropped (further ones in this burst are counted, not logged)")

    def tick(self):
        with self._lock:
            if not self._in_burst or self._clock() - self._last < self._quiet_s:
                return
            n, self._in_burst = self._in_burst, 0
        if n > 1:
            self._warn(f"{self._what}: {n} dropped in the last burst")
