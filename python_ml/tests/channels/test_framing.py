# SPDX-License-Identifier: GPL-3.0-or-later
"""gr-zeromq stream frames, with and without the tag header (bytes captured from GNU Radio 3.10.5)."""

from __future__ import annotations

import numpy as np
import pytest

from lgvsc.channels.framing import frame_to_samples, split_tag_header
from lgvsc.errors import PacketError

DATA = (np.arange(10) + 1j).astype(np.complex64)
# zeromq.push_sink(gr.sizeof_gr_complex, 1, addr, 100, pass_tags=True) sending DATA with one tag
# (offset 2, key "packet_len", value 7): everything before the items, byte for byte.
GR_HEADER = bytes.fromhex(
    "f05f01" "0000000000000000" "0100000000000000"
    "0200000000000000" "02000a7061636b65745f6c656e" "0300000007" "01"
)


def test_raw_frame():
    np.testing.assert_array_equal(frame_to_samples([DATA.tobytes()], tag_header=False), DATA)


def test_captured_tag_header():
    frame = GR_HEADER + DATA.tobytes()
    assert len(frame) == 126  # what GNU Radio sent
    offset, ntags, items = split_tag_header(frame)
    assert (offset, ntags) == (0, 1)
    np.testing.assert_array_equal(frame_to_samples([frame], tag_header=True), DATA)


def test_header_without_tags_and_pub_key_frame():
    head = bytes.fromhex("f05f01") + (4096).to_bytes(8, "little") + bytes(8)
    out = frame_to_samples([b"key", head + DATA.tobytes()], tag_header=True)
    np.testing.assert_array_equal(out, DATA)


@pytest.mark.parametrize("frames, tag_header, msg", [
    ([DATA.tobytes()[:-3]], False, "whole number"),
    ([DATA.tobytes()], True, "no gr-zeromq tag header"),
    ([GR_HEADER[:30]], True, "truncated"),
    ([bytes.fromhex("f05f01") + bytes(8) + (10**9).to_bytes(8, "little")], True, "tags"),
    ([b"\x01\x02"], True, "shorter"),
    ([], False, "empty"),
])
def test_malformed(frames, tag_header, msg):
    with pytest.raises(PacketError, match=msg):
        frame_to_samples(frames, tag_header=tag_header)
