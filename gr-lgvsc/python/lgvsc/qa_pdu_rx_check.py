#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA for the C++ RX gate pdu_rx_check (rx_gate): CRC check, every metadata key, every
counter, drop on failure, the snr port and the demodulator's counters in status."""

import math
import time
import zlib

import pmt
from gnuradio import blocks, gr, gr_unittest
from gnuradio.lgvsc import phy_common as pc
from gnuradio.lgvsc.rx_gate import rx_gate


def meta_of(**kv):
    d = pmt.make_dict()
    for k, v in kv.items():
        d = pmt.dict_add(d, pmt.intern(k), v)
    return d


def with_crc(data, meta=None):
    body = data + zlib.crc32(data).to_bytes(4, "big")
    return pmt.cons(meta if meta is not None else pmt.make_dict(), pmt.init_u8vector(len(body), list(body)))


def wait_for(cond, what):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > 60:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)


def handled(gate):
    c = gate.counters()
    return c["rx_ok"] + c["rx_crc_fail"] + c["rx_oversize"]


def run(gate, msgs, n_handled=None):
    """Post (port, msg) pairs; returns (out as (meta, bytes), last status dict)."""
    tb = gr.top_block()
    out, status = blocks.message_debug(), blocks.message_debug()
    tb.msg_connect(gate, "out", out, "store")
    tb.msg_connect(gate, "status", status, "store")
    tb.start()
    for port, m in msgs:
        gate._post(pmt.intern(port), m)
    n = sum(p != "snr" for p, _ in msgs) if n_handled is None else n_handled
    wait_for(lambda: handled(gate) >= n, f"{n} PDUs handled")
    wait_for(lambda: out.num_messages() >= gate.counters()["rx_ok"], "outputs")

    def last():
        return pmt.to_python(status.get_message(status.num_messages() - 1)) if status.num_messages() else {}

    wait_for(lambda: {k: v for k, v in last().items() if k != "last_snr_db"} == gate.counters(), "final status")
    tb.stop()
    tb.wait()
    outs = [out.get_message(i) for i in range(out.num_messages())]
    return [(pmt.to_python(pmt.car(m)), bytes(pmt.u8vector_elements(pmt.cdr(m)))) for m in outs], last()


class qa_pdu_rx_check(gr_unittest.TestCase):

    def test_crc_checked_stripped_and_counted(self):
        g = rx_gate("ofdm", "cc", 0, 100)
        bad = bytearray(b"hello" + zlib.crc32(b"hello").to_bytes(4, "big"))
        bad[1] ^= 1
        msgs = [("in", with_crc(b"hello")), ("in", pmt.cons(pmt.make_dict(), pmt.init_u8vector(9, list(bad)))),
                ("in", pmt.cons(pmt.make_dict(), pmt.init_u8vector(3, [1, 2, 3]))),  # shorter than a CRC
                ("in", with_crc(b"")), ("in", with_crc(bytes(101))), ("in", with_crc(bytes(range(100)))),
                ("ok", pmt.cons(pmt.make_dict(), pmt.init_u8vector(2, [9, 9]))), ("fail", pmt.PMT_T)]
        got, status = run(g, msgs)
        # (ports are served in any order: rx_count follows the order of handling)
        self.assertEqual(sorted(d for _, d in got), sorted([b"hello", bytes(range(100)), b"\x09\x09"]))
        want = {"rx_ok": 3, "rx_bytes": 107, "rx_crc_fail": 3, "rx_oversize": 2}
        self.assertEqual(g.counters(), want)
        self.assertEqual(status, want)  # no last_snr_db before an estimate
        self.assertEqual(sorted(m["rx_count"] for m, _ in got), [0, 1, 2])
        for m, _ in got:
            self.assertIs(m["crc_ok"], True)
            self.assertEqual(m["phy"], "ofdm")
            self.assertEqual(m["fec"], "cc")
            self.assertNotIn("snr_db", m)
        self.assertTrue(math.isnan(g.last_snr_db()))

    def test_demodulator_metadata_passes(self):
        g = rx_gate("ofdm", "none", 64, 100)
        src = meta_of(packet_num=pmt.from_long(77), mcs=pmt.intern("paper-4dB"), fec=pmt.intern("polar"),
                      snr_db=pmt.from_double(7.25), freq_offset=pmt.from_double(0.0012),
                      junk=pmt.from_long(5))
        carr = meta_of(ofdm_sync_carr_offset=pmt.from_long(-2))
        got, status = run(g, [("in", with_crc(b"abc", src)), ("in", with_crc(b"de", carr))])
        m0, m1 = got[0][0], got[1][0]
        self.assertEqual(m0["packet_num"], 77)
        self.assertEqual(m0["mcs"], "paper-4dB")
        self.assertEqual(m0["fec"], "polar")
        self.assertAlmostEqual(m0["snr_db"], 7.25)
        self.assertAlmostEqual(m0["freq_offset"], 0.0012)
        self.assertNotIn("junk", m0)
        self.assertAlmostEqual(m1["freq_offset"], -2 / 64)
        self.assertEqual(m1["fec"], "none")  # the block's own when the demodulator sets none
        self.assertAlmostEqual(m1["snr_db"], 7.25)  # the latest estimate labels later PDUs
        self.assertAlmostEqual(status["last_snr_db"], 7.25)
        self.assertAlmostEqual(g.last_snr_db(), 7.25)
        self.assertEqual(status["rx_bytes"], 5)

    def test_seq_bytes_and_snr_port(self):
        # Messages on different ports may be handled in any order: post port by port.
        g = rx_gate("psk", "none", 0, 10, seq_bytes=2)
        tb = gr.top_block()
        out, status = blocks.message_debug(), blocks.message_debug()
        tb.msg_connect(g, "out", out, "store")
        tb.msg_connect(g, "status", status, "store")
        tb.start()
        for m in (pmt.from_double(float("nan")), pmt.intern("x"), pmt.from_double(12.3456)):
            g._post(pmt.intern("snr"), m)
        wait_for(lambda: not math.isnan(g.last_snr_db()), "the snr estimate")
        g._post(pmt.intern("in"), with_crc(b"\x01\x02hey"))
        g._post(pmt.intern("in"), with_crc(b"\x00\x05"))  # the counter alone: empty
        wait_for(lambda: handled(g) == 2, "2 PDUs")
        g._post(pmt.intern("ok"), pmt.cons(pmt.make_dict(), pmt.init_u8vector(3, [0xFF, 0xFF, 7])))
        wait_for(lambda: out.num_messages() == 2, "2 outputs")
        wait_for(lambda: status.num_messages() and
                 pmt.to_python(status.get_message(status.num_messages() - 1))["rx_ok"] == 2, "status")
        tb.stop()
        tb.wait()
        got = [(pmt.to_python(pmt.car(m)), bytes(pmt.u8vector_elements(pmt.cdr(m))))
               for m in (out.get_message(0), out.get_message(1))]
        self.assertEqual(got[0], ({"crc_ok": True, "phy": "psk", "fec": "none", "rx_count": 0,
                                   "packet_num": 0x0102, "snr_db": 12.35}, b"hey"))
        self.assertEqual(got[1], ({"crc_ok": True, "phy": "psk", "fec": "none", "rx_count": 1,
                                   "packet_num": 0xFFFF, "snr_db": 12.35}, b"\x07"))
        st = pmt.to_python(status.get_message(status.num_messages() - 1))
        self.assertEqual(st["rx_oversize"], 1)
        self.assertEqual(st["rx_bytes"], 4)
        self.assertAlmostEqual(st["last_snr_db"], 12.35)

    def test_demod_counters_in_status(self):
        cfg = pc.ofdm_config(64, 16, "wifi64", 100)
        demod = pc.compiled().ofdm_burst_demod(cfg, pc.mod_id("qpsk"), 4, 0.05)
        g = rx_gate("ofdm", "none", 0, 100, demod=demod)
        self.assertEqual(g.counters(), {"rx_ok": 0, "rx_bytes": 0, "rx_crc_fail": 0, "rx_oversize": 0,
                                        "rx_detect": 0, "rx_header_fail": 0})
        _, status = run(g, [("in", with_crc(b"z"))])
        self.assertEqual(status["rx_detect"], 0)
        self.assertEqual(status["rx_header_fail"], 0)
        with self.assertRaises(ValueError):
            g.set_demod(blocks.null_sink(gr.sizeof_gr_complex).to_basic_block())

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "mtu"):
            rx_gate(mtu=0)
        with self.assertRaisesRegex(ValueError, "seq_bytes"):
            rx_gate(seq_bytes=3)


if __name__ == "__main__":
    gr_unittest.main()
