# SPDX-License-Identifier: GPL-3.0-or-later
"""gr-zeromq stream framing: raw complex64 items, optionally behind a tag header.

GNU Radio 3.10's gr-zeromq stream sinks (``push_sink``, ``pub_sink``, ...) send
each ``work()`` call's items as **one ZeroMQ frame** of raw item bytes
(complex64 = little-endian float32 I, Q). ``pub_sink`` with a non-empty ``key``
sends ``[key, data]`` as two frames. With **Pass Tags** enabled the frame starts
with a tag header (``gen_tag_header`` in ``tag_headers.cc``), verified byte for
byte against a live flowgraph (see ``python_ml/tests/channels/test_framing.py``)::

    uint16 magic 0x5FF0 | uint8 version 1 | uint64 offset | uint64 ntags
    ntags x ( uint64 tag offset | PMT key | PMT value | PMT srcid )
    item bytes ...

(integers little-endian, PMTs as ``pmt::serialize``). The emulator strips the
header and drops the tags (sample offsets are meaningless after a channel with
delay and drops); it always *sends* raw items without a header, so the RX-side
``pull_source`` must have Pass Tags off.
"""

from __future__ import annotations

import struct

import numpy as np

from lgvsc.errors import PacketError

__all__ = ["TAG_MAGIC", "TAG_VERSION", "MAX_TAGS", "split_tag_header", "frame_to_samples"]

TAG_MAGIC = 0x5FF0
TAG_VERSION = 1
#: More tags than this in one frame is treated as malformed.
MAX_TAGS = 4096
_HEAD = struct.Struct("<HBQQ")


def split_tag_header(frame: bytes | memoryview) -> tuple[int, int, memoryview]:
    """Parse a gr-zeromq tag header: returns ``(offset, ntags, item_bytes)``.

    :raises PacketError: bad magic or version, too many tags, truncated or malformed PMTs
    """
    from lgvsc import pmt_codec

    buf = memoryview(frame)
    if len(buf) < _HEAD.size:
        raise PacketError(f"frame of {len(buf)} bytes is shorter than a tag header")
    magic, version, offset, ntags = _HEAD.unpack_from(buf, 0)
    if magic != TAG_MAGIC or version != TAG_VERSION:
        raise PacketError(f"no gr-zeromq tag header (magic 0x{magic:04x}, version {version})")
    if ntags > MAX_TAGS:
        raise PacketError(f"tag header claims {ntags} tags (max {MAX_TAGS})")
    pos = _HEAD.size
    if ntags:
        raw = bytes(buf[pos:])
        # pmt_codec has no public "decode a PMT prefix" call; its reader does exactly that.
        rd = pmt_codec._Reader(raw, max_items=max(64, len(raw)))  # noqa: SLF001
        try:
            for _ in range(ntags):
                rd.take(8)  # tag offset
                for _field in range(3):  # key, value, srcid
                    pmt_codec._dec(rd, 0)  # noqa: SLF001
        except PacketError:
            raise
        except (struct.error, UnicodeDecodeError, ValueError, OverflowError) as exc:
            raise PacketError(f"malformed tag in header: {exc}") from exc
        pos += rd.pos
    return offset, ntags, buf[pos:]


def frame_to_samples(frames: list[bytes], *, tag_header: bool) -> np.ndarray:
    """complex64 samples from one gr-zeromq stream message (the last frame carries the data).

    :raises PacketError: a length that is not whole complex64 items, or a bad tag header
    """
    if not frames:
        raise PacketError("empty message")
    data = memoryview(frames[-1])
    if tag_header:
        _offset, _ntags, data = split_tag_header(data)
    if len(data) % 8:
        raise PacketError(f"{len(data)} bytes is not a whole number of complex64 items")
    return np.frombuffer(data, dtype=np.complex64)
