#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA for pmt_frame: what GNU Radio serialises passes, what would crash or bloat it does not,
and whatever the check lets through ``pmt.deserialize_str`` reads without error."""

import random

import pmt
from gnuradio import gr_unittest

try:
    from gnuradio.lgvsc.pmt_frame import BurstLog, MalformedFrame, check_frame, check_pdu_frame
except ImportError:  # running from the source tree
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from lgvsc.pmt_frame import BurstLog, MalformedFrame, check_frame, check_pdu_frame


def sample_pmts():
    meta = pmt.make_dict()
    for i, v in enumerate([pmt.from_long(3), pmt.from_double(1.5), pmt.intern("x"), pmt.PMT_T,
                           pmt.from_uint64(1 << 40), pmt.from_long(1 << 40), pmt.from_complex(1 + 2j)]):
        meta = pmt.dict_add(meta, pmt.intern(f"k{i}"), v)
    return [
        pmt.cons(meta, pmt.init_u8vector(5, list(range(5)))),
        pmt.cons(pmt.PMT_NIL, pmt.init_u8vector(0, [])),
        pmt.init_f32vector(3, [1, 2, 3]),
        pmt.init_c32vector(2, [1j, 2]),
        pmt.init_s16vector(2, [-1, 7]),
        pmt.make_vector(3, pmt.PMT_F),
        pmt.make_tuple(pmt.from_long(1), pmt.intern("y")),
        pmt.cons(meta, pmt.cons(pmt.PMT_NIL, pmt.PMT_F)),
        pmt.intern("symbol"),
    ]


class qa_pmt_frame(gr_unittest.TestCase):
    def test_gnuradio_serialisations_pass(self):
        for p in sample_pmts():
            check_frame(pmt.serialize_str(p))
        check_pdu_frame(pmt.serialize_str(sample_pmts()[0]))
        check_pdu_frame(pmt.serialize_str(sample_pmts()[1]))

    def test_not_a_pdu(self):
        for p in sample_pmts()[2:]:
            with self.assertRaises(MalformedFrame):
                check_pdu_frame(pmt.serialize_str(p))

    def test_crash_inputs_rejected(self):
        for bad, why in [(b"\x07" * 100_000, "nesting"), (bytes.fromhex("0a0002faf080000000"), "claims"),
                         (bytes.fromhex("0a00ffffffff0000"), "claims"), (bytes.fromhex("08ffffffff"), "claims"),
                         (b"", "empty"), (b"\x0e", "tag"), (b"\x0a\x0c\x00\x00\x00\x00\x00", "type"),
                         (b"\x06\x06", "trailing"), (b"\x00" * (2 << 20), "cap")]:
            with self.assertRaises(MalformedFrame) as cm:
                check_frame(bad)
            self.assertIn(why, str(cm.exception))

    def test_every_truncation_rejected(self):
        wire = pmt.serialize_str(sample_pmts()[0])
        for n in range(len(wire)):
            with self.assertRaises(MalformedFrame):
                check_pdu_frame(wire[:n])

    def test_accepted_mutations_deserialize(self):
        # Differential: random byte edits of real PMTs; any the check accepts GNU Radio must read.
        rng = random.Random(13)
        seeds = [pmt.serialize_str(p) for p in sample_pmts()]
        accepted = 0
        for _ in range(3000):
            b = bytearray(rng.choice(seeds))
            for _ in range(rng.randint(1, 3)):
                op = rng.random()
                if op < 0.6 and b:
                    b[rng.randrange(len(b))] = rng.randrange(256)
                elif op < 0.8 and b:
                    del b[rng.randrange(len(b)):]
                else:
                    b.insert(rng.randrange(len(b) + 1), rng.randrange(256))
            try:
                check_frame(bytes(b))
            except MalformedFrame:
                continue
            pmt.deserialize_str(bytes(b))  # must not raise (or crash the test process)
            accepted += 1
        self.assertGreater(accepted, 100)

    def test_burst_log(self):
        now = [0.0]
        lines = []
        log = BurstLog(lines.append, "src", quiet_s=1.0, clock=lambda: now[0])
        for _ in range(50):
            log.note("bad")
            now[0] += 0.01
            log.tick()
        self.assertEqual(len(lines), 1)
        now[0] += 2
        log.tick()
        self.assertEqual(len(lines), 2)
        self.assertIn("50 dropped", lines[1])
        log.note("bad again")  # a new burst is logged again
        self.assertEqual(len(lines), 3)


if __name__ == "__main__":
    gr_unittest.run(qa_pmt_frame)
