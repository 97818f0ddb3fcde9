#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""link_runner parts: the burst-length formula behind --max-pps auto (against the real TX output),
pdu_dropper, argument errors. The whole runner between real workers is tested in
tests/test_semantic_link_runner.py."""

import math
import time

import pmt
from gnuradio import blocks, gr, gr_unittest

try:
    from gnuradio.lgvsc.link_runner import _args, build_link, ofdm_samples_per_burst, pdu_dropper
    from gnuradio.lgvsc.loopback import pdu_collector, pdu_feeder
    from gnuradio.lgvsc.ofdm_pdu_tx import ofdm_pdu_tx
except ImportError:  # run from the source tree
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from lgvsc.link_runner import _args, build_link, ofdm_samples_per_burst, pdu_dropper
    from lgvsc.loopback import pdu_collector, pdu_feeder
    from lgvsc.ofdm_pdu_tx import ofdm_pdu_tx


def _pdu(n, i=0):
    return pmt.cons(pmt.make_dict(), pmt.init_u8vector(n, [(i + k) % 256 for k in range(n)]))


def _wait(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not pred():
        time.sleep(0.02)


class qa_link_runner(gr_unittest.TestCase):

    def test_burst_length_formula_matches_the_transmitter(self):
        for nbytes, fec, mcs in ((1500, "none", ""), (100, "none", ""), (700, "cc", ""),
                                 (700, "none", "paper-0dB"), (333, "none", "paper-10dB")):
            with self.subTest(nbytes=nbytes, fec=fec, mcs=mcs):
                tb = gr.top_block()
                tx = ofdm_pdu_tx(mtu=1500, fec_mode=fec, mcs=mcs)
                head = blocks.head(gr.sizeof_gr_complex, 1 << 40)
                tb.connect(tx, head, blocks.null_sink(gr.sizeof_gr_complex))
                feeder = pdu_feeder([_pdu(nbytes), _pdu(nbytes, 1)])
                tb.msg_connect(feeder, "out", tx, "in")
                tb.start()
                expected = 2 * ofdm_samples_per_burst(nbytes, fec_mode=fec, mcs=mcs)
                self.assertEqual(expected, 2 * tx.samples_per_burst(nbytes))
                _wait(lambda h=head, e=expected: h.nitems_written(0) >= e)
                time.sleep(0.2)
                tb.stop()
                tb.wait()
                self.assertEqual(head.nitems_written(0), expected)

    def test_dropper_drops_every_nth_and_counts(self):
        tb = gr.top_block()
        feeder = pdu_feeder([_pdu(10, i) for i in range(10)])
        drop = pdu_dropper(3)
        got = pdu_collector()
        tb.msg_connect(feeder, "out", drop, "in")
        tb.msg_connect(drop, "out", got, "in")
        tb.start()
        _wait(lambda: drop.passed + drop.dropped == 10)
        time.sleep(0.1)
        tb.stop()
        tb.wait()
        self.assertEqual((drop.passed, drop.dropped), (7, 3))
        self.assertEqual([d[0] for _, d in got.pdus], [0, 1, 3, 4, 6, 7, 9])

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            pdu_dropper(1)
        base = ["--source", "tcp://127.0.0.1:9", "--sink", "tcp://127.0.0.1:9"]
        with self.assertRaisesRegex(ValueError, "not available"):
            build_link(_args([*base, "--phy", "nosuch"]))
        with self.assertRaisesRegex(ValueError, "--iq-out"):
            build_link(_args([*base, "--channel", "zmq"]))
        with self.assertRaisesRegex(ValueError, "max-pps"):
            build_link(_args([*base, "--max-pps", "-1"]))
        with self.assertRaisesRegex(ValueError, "mcs"):
            build_link(_args([*base, "--mcs", "paper-99dB"]))
        with self.assertRaisesRegex(ValueError, "--snr"):
            build_link(_args([*base, "--mcs", "auto"]))

    def test_mcs_auto_takes_the_paper_preset_for_the_channel(self):
        base = ["--source", "tcp://127.0.0.1:9", "--sink", "tcp://127.0.0.1:9", "--mcs", "auto"]
        for esn0, want in ((-1.0, "paper-0dB"), (4.5, "paper-4dB"), (10.0, "paper-10dB")):
            _, parts = build_link(_args([*base, "--snr", str(esn0)]))  # --snr is Es/N0 per subcarrier
            self.assertEqual(parts["phy"]["mcs"], want)
            self.assertAlmostEqual(parts["phy"]["esn0_db"], esn0, places=2)
            self.assertAlmostEqual(parts["phy"]["sample_snr_db"], esn0 - 10 * math.log10(64 / 52), places=2)

    def test_psk_takes_the_mcs_names_it_carries(self):
        base = ["--source", "tcp://127.0.0.1:9", "--sink", "tcp://127.0.0.1:9", "--phy", "psk"]
        _, parts = build_link(_args([*base, "--mcs", "paper-2dB"]))
        self.assertEqual(parts["phy"]["mcs"], "paper-2dB")
        for esn0, want in ((-1.0, "paper-0dB"), (4.5, "paper-4dB"), (10.0, "paper-6dB")):
            _, parts = build_link(_args([*base, "--mcs", "auto", "--snr", str(esn0)]))
            self.assertEqual(parts["phy"]["mcs"], want)
        with self.assertRaisesRegex(ValueError, "not carried by the PSK PHY"):
            build_link(_args([*base, "--mcs", "paper-8dB"]))

    def test_auto_rate_from_the_phy(self):
        _, parts = build_link(_args(["--source", "tcp://127.0.0.1:9", "--sink", "tcp://127.0.0.1:9",
                                     "--samp-rate", "2e6", "--snr", "20"]))
        phy = parts["phy"]
        self.assertEqual(phy["samples_per_mtu_burst"], ofdm_samples_per_burst(1500))
        self.assertAlmostEqual(phy["max_pps"], 0.9 * 2e6 / phy["samples_per_mtu_burst"], places=2)
        # --snr 20 is Es/N0 per data subcarrier: per sample 20 - 10*log10(64/52) dB
        self.assertAlmostEqual(phy["noise_voltage"], 10 ** (-(20 - 10 * math.log10(64 / 52)) / 20))
        self.assertAlmostEqual(phy["snr_db"], 20)

    def test_snr_is_es_n0_per_symbol_for_psk(self):
        try:
            _, parts = build_link(_args(["--source", "tcp://127.0.0.1:9", "--sink", "tcp://127.0.0.1:9",
                                         "--phy", "psk", "--snr", "10"]))
        except ValueError as exc:
            self.skipTest(str(exc))
        sps = parts["phy"].get("sps", 2)
        self.assertAlmostEqual(parts["phy"]["sample_snr_db"], 10 - 10 * math.log10(sps), places=3)
        self.assertAlmostEqual(parts["phy"]["noise_voltage"], 10 ** (-(10 - 10 * math.log10(sps)) / 20))


if __name__ == "__main__":
    gr_unittest.run(qa_link_runner)
