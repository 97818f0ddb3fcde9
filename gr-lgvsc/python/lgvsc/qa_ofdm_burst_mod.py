#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA for the C++ OFDM burst modulator's stream output (issue 15): one ``packet_len`` tag per
burst at its first sample, every burst whole and in order, a burst longer than the output
buffer in pieces, backpressure from a slow sink without loss (the PDUs wait in the message
port's queue), malformed PDUs counted, and every MCS decoded back by ofdm_burst_demod."""

import time

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest
from gnuradio.lgvsc import phy_common as pc
from gnuradio.lgvsc.ofdm_pdu_rx import MAX_INT_CFO, SYNC_THRESHOLD

MTU = 1504  # PDU + CRC bytes the block takes (the hier block's mtu 1500 + CRC-32)
LEN = pmt.intern("packet_len")


def make_mod(gap=256, mcs="none", key="packet_len"):
    cfg = pc.ofdm_config(64, 16, "wifi64", MTU - pc.CRC_LEN)
    return pc.compiled().ofdm_burst_mod(cfg, pc.MCS_NAMES.index(mcs), pc.mod_id("qpsk"), gap, key)


def pdu(data, mcs=None):
    meta = pmt.make_dict()
    if mcs is not None:
        meta = pmt.dict_add(meta, pmt.intern("mcs"), pmt.intern(mcs))
    return pmt.cons(meta, pmt.init_u8vector(len(data), list(data)))


def wait_for(cond, what):
    """Wait on readiness (not a timed assert: generous bound only against a hang)."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > 60:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)


class slow_sink(gr.sync_block):
    """Takes at most ``chunk`` items per call and sleeps between calls: a sink far slower than the
    modulator, so its output buffer stays full and the PDUs wait upstream."""

    def __init__(self, chunk=512, pause=0.0005):
        gr.sync_block.__init__(self, "qa_slow_sink", in_sig=[np.complex64], out_sig=None)
        self.chunk, self.pause, self.n = chunk, pause, 0

    def work(self, input_items, output_items):
        time.sleep(self.pause)
        n = min(len(input_items[0]), self.chunk)
        self.n += n
        return n


def run(mod, msgs, n_bursts, out_buffer=None, slow=False):
    """Posts ``msgs`` to the modulator's ``in`` (all queued at once) and returns (samples, tags as
    [(offset, key, value)]) once ``n_bursts`` bursts have reached the sink."""
    tb = gr.top_block()
    snk = blocks.vector_sink_c()
    if out_buffer is not None:
        mod.set_max_output_buffer(out_buffer)
    if slow:
        slow_blk = slow_sink()
        tb.connect(mod, slow_blk)
    tb.connect(mod, snk)
    for m in msgs:
        mod._post(pmt.intern("in"), m)
    tb.start()
    wait_for(lambda: len(snk.tags()) >= n_bursts and
             len(snk.data()) >= snk.tags()[-1].offset + pmt.to_long(snk.tags()[-1].value), f"{n_bursts} bursts")
    tb.stop()
    tb.wait()
    tags = [(t.offset, pmt.symbol_to_string(t.key), pmt.to_long(t.value)) for t in snk.tags()]
    return np.array(snk.data()), tags


class qa_ofdm_burst_mod(gr_unittest.TestCase):

    def test_length_tags_one_per_burst_in_order(self):
        mod = make_mod(gap=100)
        sizes = [1, 96, 300, 1504, 7, 1200]
        mcss = ["none", "cc", "paper-0dB", "paper-10dB", None, "paper-4dB"]
        rng = np.random.default_rng(3)
        msgs = [pdu(rng.integers(0, 256, n, dtype=np.uint8).tobytes(), m) for n, m in zip(sizes, mcss, strict=True)]
        data, tags = run(mod, msgs, len(msgs))
        lens = [mod.burst_len(n, pc.MCS_NAMES.index(m or "none")) for n, m in zip(sizes, mcss, strict=True)]
        self.assertEqual([t[1] for t in tags], ["packet_len"] * len(msgs))
        self.assertEqual([t[2] for t in tags], lens)
        self.assertEqual([t[0] for t in tags], list(np.cumsum([0] + lens[:-1])))
        self.assertEqual(len(data), sum(lens))
        self.assertEqual((mod.bursts(), mod.dropped()), (len(msgs), 0))
        # the gap is zeros, the burst before it is not
        for off, _, n in tags:
            self.assertTrue(np.all(data[off + n - 100:off + n] == 0))
            self.assertGreater(np.abs(data[off:off + n - 100]).min(initial=1.0), 0.0)

    def test_tag_key_is_configurable(self):
        mod = make_mod(key="tx_len")
        _, tags = run(mod, [pdu(b"abc")], 1)
        self.assertEqual([t[1] for t in tags], ["tx_len"])
        with self.assertRaises(ValueError):
            make_mod(key="")

    def test_slow_sink_backpressure_loses_nothing(self):
        # 400 PDUs queued at once, an output buffer of ~4 bursts and a sink far slower than the
        # modulator: every burst arrives whole and in order, none is dropped.
        mod = make_mod(gap=0)
        msgs = [pdu(bytes([i % 256]) * 20) for i in range(400)]
        one = mod.burst_len(20, 0)
        data, tags = run(mod, msgs, 400, out_buffer=4 * one, slow=True)
        self.assertEqual(len(tags), 400)
        self.assertEqual([t[0] for t in tags], [i * one for i in range(400)])
        self.assertEqual(len(data), 400 * one)
        self.assertEqual((mod.bursts(), mod.dropped()), (400, 0))
        # equal PDUs give equal bursts except the header (counter): bursts differ pairwise, i.e.
        # no burst was repeated or skipped
        self.assertFalse(np.array_equal(data[:one], data[one:2 * one]))

    def test_burst_longer_than_the_buffer_goes_out_in_pieces(self):
        mod = make_mod(gap=0, mcs="paper-0dB")
        n = mod.burst_len(MTU, pc.MCS_NAMES.index("paper-0dB"))
        self.assertGreater(n, 8192)
        data, tags = run(mod, [pdu(bytes(MTU)), pdu(bytes(10))], 2, out_buffer=4096)
        self.assertEqual([(t[0], t[2]) for t in tags], [(0, n), (n, mod.burst_len(10, pc.MCS_NAMES.index("paper-0dB")))])
        self.assertEqual(len(data), tags[1][0] + tags[1][2])

    def test_malformed_pdus_counted_and_dropped(self):
        mod = make_mod()
        msgs = [pmt.intern("not a pdu"), pdu(b""), pdu(bytes(MTU + 1)),
                pmt.cons(pmt.make_dict(), pmt.init_f32vector(2, [0.0, 1.0])), pdu(b"ok")]
        _, tags = run(mod, msgs, 1)
        wait_for(lambda: mod.dropped() == 4, "4 drops counted")
        self.assertEqual(len(tags), 1)
        self.assertEqual(mod.bursts(), 1)

    def test_every_mcs_decodes_back_from_the_stream(self):
        # modulator stream -> ofdm_burst_demod (the receiver's C++ block): every burst of every
        # MCS, the last one included (flushed by its 256-sample gap), gives back the bytes sent
        # (5 bytes: the shortest PDU + CRC-32 the hier block sends).
        rng = np.random.default_rng(7)
        msgs, sent = [], []
        for i, m in enumerate(pc.MCS_NAMES):
            for n in (5, 200 + 37 * i):
                b = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
                msgs.append(pdu(b, m))
                sent.append(b)
        mod = make_mod(gap=256)
        demod = pc.compiled().ofdm_burst_demod(pc.ofdm_config(64, 16, "wifi64", MTU - pc.CRC_LEN), pc.mod_id("qpsk"),
                                               MAX_INT_CFO, SYNC_THRESHOLD)
        tb = gr.top_block()
        out = blocks.message_debug()
        tb.connect(mod, demod)
        tb.msg_connect(demod, "out", out, "store")
        for m in msgs:
            mod._post(pmt.intern("in"), m)
        tb.start()
        wait_for(lambda: out.num_messages() >= len(msgs), f"{len(msgs)} decoded bursts")
        tb.stop()
        tb.wait()
        got = [bytes(pmt.u8vector_elements(pmt.cdr(out.get_message(i)))) for i in range(out.num_messages())]
        self.assertEqual(got, sent)
        self.assertEqual([pmt.symbol_to_string(pmt.dict_ref(pmt.car(out.get_message(i)), pmt.intern("mcs"),
                                                            pmt.PMT_NIL)) for i in range(len(msgs))],
                         [m for m in pc.MCS_NAMES for _ in (0, 1)])


if __name__ == "__main__":
    gr_unittest.run(qa_ofdm_burst_mod)
