# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading and writing semantic stream files for the CLI.

A stream file is the compact binary form (:func:`lgvsc.wire.stream_to_bytes`,
starts with ``LGVS``) or, for people and tests, the JSON form with keyframe
data in base64 (``SemanticStream.to_json(include_data=True)``). Both are
written atomically (temporary name, then rename).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lgvsc.errors import PacketError, UserError
from lgvsc.stream import SemanticStream

__all__ = ["read_stream_file", "read_stream_file_tolerant", "write_stream_file", "MAX_STREAM_FILE"]

MAX_STREAM_FILE = 64 * 1024 * 1024


def read_stream_file(path: str | os.PathLike) -> SemanticStream:
    """Load a binary or JSON stream file; :class:`UserError` for anything unreadable, malformed or damaged."""
    stream, damaged = read_stream_file_tolerant(path)
    if damaged:
        raise UserError(f"{path}: damaged semantic stream ({damaged[0].describe()})")
    return stream


def read_stream_file_tolerant(path: str | os.PathLike) -> tuple[SemanticStream, list]:
    """Like :func:`read_stream_file`, but a binary file's damaged keyframes and segments (CRC-32) are left
    out and returned as :class:`lgvsc.wire.DamagedObject` for the caller to report and conceal."""
    from lgvsc.wire import MAGIC, read_stream_bytes

    p = Path(path)
    try:
        if p.stat().st_size > MAX_STREAM_FILE:
            raise UserError(f"{p}: larger than {MAX_STREAM_FILE} bytes, not a semantic stream")
        data = p.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{p}: is a directory") from None
    except OSError as exc:
        raise UserError(f"{p}: cannot read ({exc.strerror or exc})") from exc
    if data.startswith(MAGIC):
        try:
            return read_stream_bytes(data)
        except PacketError as exc:
            raise UserError(f"{p}: malformed semantic stream ({exc})") from exc
    if data.lstrip()[:1] == b"{":
        from lgvsc.stream_json import StreamJsonError, parse_stream_json

        try:  # every field type- and range-checked: a named error, never a traceback
            return parse_stream_json(data), []
        except StreamJsonError as exc:
            raise UserError(f"{p}: malformed JSON semantic stream ({exc})") from None
    raise UserError(f"{p}: not a semantic stream file (no LGVS magic, not JSON)")


def write_stream_file(path: str | os.PathLike, stream: SemanticStream, as_json: bool = False) -> int:
    """Write ``stream`` atomically; returns the number of bytes written."""
    from lgvsc.wire import stream_to_bytes

    data = (stream.to_json(include_data=True) + "\n").encode() if as_json else stream_to_bytes(stream)
    p = Path(path)
    if not p.parent.exists():
        raise UserError(f"{p.parent}: output directory does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(data)
