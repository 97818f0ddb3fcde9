#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA for the C++ TX admission block pdu_admit (pdu_guard): every counter, the metadata it
keeps, the packet counter, the CRC-32 and the status throttle."""

import time
import zlib

import pmt
from gnuradio import blocks, gr, gr_unittest
from gnuradio.lgvsc import phy_common as pc
from gnuradio.lgvsc.pdu_guard import pdu_guard

MCS = pmt.intern("mcs")


def pdu(data, **meta):
    d = pmt.make_dict()
    for k, v in meta.items():
        d = pmt.dict_add(d, pmt.intern(k), v)
    return pmt.cons(d, pmt.init_u8vector(len(data), list(data)))


def wait_for(cond, what):
    """Wait on readiness (not a timed assert: generous bound only against a hang)."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > 60:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)


def run(block, msgs, n_out, n_status=None):
    """Post ``msgs`` to block's ``in``; returns (out PDUs as (meta dict, bytes), status dicts)."""
    tb = gr.top_block()
    out, status = blocks.message_debug(), blocks.message_debug()
    tb.msg_connect(block, "out", out, "store")
    tb.msg_connect(block, "status", status, "store")
    tb.start()
    for m in msgs:
        block._post(pmt.intern("in"), m)
    wait_for(lambda: out.num_messages() >= n_out, f"{n_out} output PDUs")
    wait_for(lambda: sum(block.counters()[k] for k in ("tx_pdus", "tx_empty", "tx_oversize", "tx_malformed"))
             >= len(msgs), "every PDU counted")
    if n_status is not None:
        wait_for(lambda: status.num_messages() >= n_status, f"{n_status} status dicts")
    else:
        # the last status dict equals the counters within one interval of the last change
        wait_for(lambda: status.num_messages() and
                 pmt.to_python(status.get_message(status.num_messages() - 1)) == block.counters(),
                 "final status")
    tb.stop()
    tb.wait()
    outs = [out.get_message(i) for i in range(out.num_messages())]
    return ([(pmt.to_python(pmt.car(m)), bytes(pmt.u8vector_elements(pmt.cdr(m)))) for m in outs],
            [pmt.to_python(status.get_message(i)) for i in range(status.num_messages())])


class qa_pdu_admit(gr_unittest.TestCase):

    def test_counters_and_rejections(self):
        g = pdu_guard(mtu=10, name="qa")
        msgs = [pdu(b"abc"), pdu(b""), pdu(bytes(11)), pmt.intern("junk"),
                pmt.cons(pmt.make_dict(), pmt.init_f32vector(2, [1, 2])), pdu(bytes(range(10)))]
        got, status = run(g, msgs, 2)
        self.assertEqual([d for _, d in got], [b"abc", bytes(range(10))])
        want = {"tx_pdus": 2, "tx_bytes": 13, "tx_empty": 1, "tx_oversize": 1, "tx_malformed": 2}
        self.assertEqual(g.counters(), want)
        self.assertEqual(status[-1], want)

    def test_metadata_only_valid_mcs_kept(self):
        g = pdu_guard(mtu=100, keep_mcs=True)
        msgs = [pdu(b"a", mcs=pmt.intern("paper-2dB"), other=pmt.from_long(1)),
                pdu(b"b", mcs=pmt.intern("paper-99dB")),
                pdu(b"c", mcs=pmt.from_long(3)),
                pdu(b"d", snr=pmt.from_double(1.0)),
                pmt.cons(pmt.PMT_NIL, pmt.init_u8vector(1, [5]))]
        got, _ = run(g, msgs, 5)
        self.assertEqual([m for m, _ in got], [{"mcs": "paper-2dB"}, None, None, None, None])  # empty dict = nil
        self.assertEqual([d for _, d in got], [b"a", b"b", b"c", b"d", b"\x05"])
        g = pdu_guard(mtu=100)  # keep_mcs off: even a valid mcs key is dropped
        got, _ = run(g, [pdu(b"a", mcs=pmt.intern("cc"))], 1)
        self.assertEqual(got, [(None, b"a")])
        g = pdu_guard(mtu=100, keep_mcs=True, mcs_names=["x"])
        got, _ = run(g, [pdu(b"a", mcs=pmt.intern("x")), pdu(b"b", mcs=pmt.intern("cc"))], 2)
        self.assertEqual([m for m, _ in got], [{"mcs": "x"}, None])

    def test_packet_counter_and_crc32(self):
        g = pdu_guard(mtu=50, seq_bytes=2, crc=True)
        data = [bytes([i]) * (i + 1) for i in range(5)]
        got, _ = run(g, [pdu(d) for d in data], 5)
        for i, (_, out) in enumerate(got):
            body = i.to_bytes(2, "big") + data[i]
            self.assertEqual(out, body + zlib.crc32(body).to_bytes(4, "big"))
        self.assertEqual(g.counters()["tx_bytes"], sum(len(d) for d in data))  # payload bytes only
        # the same bytes as gr-digital's crc_append (what the receivers have always checked)
        tb = gr.top_block()
        ref, dbg = pc.crc_append(), blocks.message_debug()
        tb.msg_connect(ref, "out", dbg, "store")
        tb.start()
        ref._post(pmt.intern("in"), pdu(b"hello world"))
        wait_for(lambda: dbg.num_messages() == 1, "crc_append output")
        tb.stop()
        tb.wait()
        g = pdu_guard(mtu=50, crc=True)
        got, _ = run(g, [pdu(b"hello world")], 1)
        self.assertEqual(got[0][1], bytes(pmt.u8vector_elements(pmt.cdr(dbg.get_message(0)))))

    def test_status_interval_zero_publishes_every_change(self):
        g = pdu_guard(mtu=10, status_interval=0)
        _, status = run(g, [pdu(b"x")] * 5 + [pdu(b"")], 5, n_status=6)
        self.assertEqual([s["tx_pdus"] for s in status], [1, 2, 3, 4, 5, 5])
        self.assertEqual(status[-1]["tx_empty"], 1)

    def test_status_throttled_and_flushed_at_stop(self):
        # A long interval: the first change publishes at once, the next 99 only mark the state
        # dirty, and stop() publishes the final counters (exactly two dicts).
        g = pdu_guard(mtu=10, status_interval=3600)
        tb = gr.top_block()
        out, status = blocks.message_debug(), blocks.message_debug()
        tb.msg_connect(g, "out", out, "store")
        tb.msg_connect(g, "status", status, "store")
        tb.start()
        for _ in range(100):
            g._post(pmt.intern("in"), pdu(b"y"))
        wait_for(lambda: g.counters()["tx_pdus"] == 100, "100 PDUs")
        g.stop()  # what the scheduler calls at the end of the run
        wait_for(lambda: status.num_messages() == 2, "the flushed status")
        tb.stop()
        tb.wait()
        self.assertEqual(pmt.to_python(status.get_message(0))["tx_pdus"], 1)
        self.assertEqual(pmt.to_python(status.get_message(1))["tx_pdus"], 100)
        self.assertEqual(status.num_messages(), 2)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "mtu"):
            pdu_guard(mtu=0)
        with self.assertRaisesRegex(ValueError, "seq_bytes"):
            pdu_guard(seq_bytes=1)
        with self.assertRaises(ValueError):
            pc.compiled().pdu_admit(10, "x", 3, False, [], False)


if __name__ == "__main__":
    gr_unittest.main()
