#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA for the PDU PHYs: every PHY in PHYS runs the same tests through a real
flowgraph (PHY TX -> channels.channel_model -> PHY RX)."""

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest
from gnuradio.lgvsc import ofdm_pdu_rx, ofdm_pdu_tx, psk_pdu_rx, psk_pdu_tx
from gnuradio.lgvsc import phy_common as pc
from gnuradio.lgvsc.loopback import pdu_feeder, random_pdus, run_loopback

# (name, tx class, rx class, extra kwargs for both)
PHYS = [("ofdm", ofdm_pdu_tx, ofdm_pdu_rx, {}), ("psk", psk_pdu_tx, psk_pdu_rx, {})]
MTU = 1500


def payloads(pdus):
    return [bytes(pmt.u8vector_elements(pmt.cdr(p))) for p in pdus]


class qa_pdu_phy(gr_unittest.TestCase):

    def test_2000_random_pdus_high_snr(self):
        for name, tx_cls, rx_cls, kw in PHYS:
            with self.subTest(phy=name):
                pdus = random_pdus(2000, MTU, seed=7)
                sent = payloads(pdus)
                res = run_loopback(tx_cls(mtu=MTU, **kw), rx_cls(mtu=MTU, **kw), pdus,
                                   noise_voltage=0.05, freq_offset=0.001, seed=3, timeout=120)
                got = res.delivered(sent)
                self.assertGreaterEqual(got, 1998, f"{name}: {got}/2000 delivered, status {res.rx_status}")
                self.assertIn(sent[-1], [d for _, d in res.received], f"{name}: last PDU lost")
                meta = res.received[-1][0]
                self.assertTrue(meta["crc_ok"])
                self.assertEqual(meta["phy"], name)
                self.assertIn("packet_num", meta)

    def test_empty_and_oversize_pdus_rejected_not_fatal(self):
        for name, tx_cls, rx_cls, kw in PHYS:
            with self.subTest(phy=name):
                good = pmt.cons(pmt.make_dict(), pmt.init_u8vector(3, [1, 2, 3]))
                pdus = [pmt.cons(pmt.make_dict(), pmt.init_u8vector(0, [])),
                        pmt.cons(pmt.make_dict(), pmt.init_u8vector(101, [7] * 101)),
                        pmt.intern("not a pdu"), good]
                res = run_loopback(tx_cls(mtu=100, **kw), rx_cls(mtu=100, **kw), pdus, timeout=30)
                self.assertEqual(res.tx_status["tx_empty"], 1)
                self.assertEqual(res.tx_status["tx_oversize"], 1)
                self.assertEqual(res.tx_status["tx_malformed"], 1)
                self.assertEqual([d for _, d in res.received], [b"\x01\x02\x03"])

    def test_bad_parameters_raise(self):
        with self.assertRaisesRegex(ValueError, "fec"):
            ofdm_pdu_tx(fec_mode="turbo")
        with self.assertRaisesRegex(ValueError, "gap"):
            ofdm_pdu_rx(gap=-1)
        with self.assertRaisesRegex(ValueError, "4095"):
            ofdm_pdu_tx(mtu=5000, fec_mode="cc")
        with self.assertRaisesRegex(ValueError, "mcs"):
            ofdm_pdu_tx(mcs="paper-99dB")
        with self.assertRaisesRegex(ValueError, "fec"):
            psk_pdu_tx(fec_mode="turbo")
        with self.assertRaisesRegex(ValueError, "sps"):
            psk_pdu_rx(sps=1)
        with self.assertRaisesRegex(ValueError, "mod"):
            psk_pdu_tx(payload_mod="16qam")
        with self.assertRaisesRegex(ValueError, "gap"):
            psk_pdu_rx(gap=4)

    def _coded_vs_uncoded(self, tx_cls, rx_cls, noise, n=100):
        """Delivered fraction per FEC mode for n fixed-size (MTU) PDUs at ``noise``;
        asserts that nothing corrupt ever comes out."""
        pdus = random_pdus(n, MTU, seed=11, min_len=MTU)
        sent = payloads(pdus)
        sent_set = set(sent)
        results = {}
        for fec_mode in ("none", "cc"):
            res = run_loopback(tx_cls(mtu=MTU, fec_mode=fec_mode), rx_cls(mtu=MTU, fec_mode=fec_mode),
                               pdus, noise_voltage=noise, freq_offset=0.001, seed=5, timeout=120)
            for _, data in res.received:  # CRC failures are never forwarded
                self.assertIn(data, sent_set)
            results[fec_mode] = res.delivered(sent) / n
        print(f"{tx_cls.__name__} noise {noise}: delivered {results}")
        return results

    def test_noise_coded_target_psk(self):
        # Issue 3 target, met by the single-carrier PHY: at a noise level where
        # uncoded BPSK loses > 50 % of 1500-byte PDUs, rate-1/2 CC delivers >= 95 %.
        results = self._coded_vs_uncoded(psk_pdu_tx, psk_pdu_rx, PSK_NOISE)
        self.assertLess(results["none"], 0.5, results)
        self.assertGreaterEqual(results["cc"], 0.95, results)

    def test_noise_coded_target_ofdm(self):
        # The same issue-3 target for OFDM (QPSK, 1500-byte PDUs, 10 dB Es/N0; the
        # burst receiver made uncoded QPSK 89 % good at the earlier 12.9 dB).
        results = self._coded_vs_uncoded(ofdm_pdu_tx, ofdm_pdu_rx, OFDM_NOISE)
        self.assertLess(results["none"], 0.5, results)
        self.assertGreaterEqual(results["cc"], 0.95, results)

    def test_snr_db_tracks_channel_snr(self):
        # Per packet, every PDU's own estimate within 2 dB.  OFDM: Es/N0 per data subcarrier from
        # the burst's training symbols = in-burst per-sample SNR + 10 log10(64 / 52) (docs/PHY.md);
        # PSK: Es/N0 of the burst's known symbols after the matched filter = in-burst SNR + 10 log10(sps).
        cases = [("ofdm", ofdm_pdu_tx, ofdm_pdu_rx, ((15, 15.9), (20, 20.9), (25, 25.9))),
                 ("psk", psk_pdu_tx, psk_pdu_rx, ((5, 8), (10, 13), (15, 18)))]
        pdus = random_pdus(12, 500, seed=4, min_len=500)
        for name, tx_cls, rx_cls, points in cases:
            medians = []
            for snr, ref in points:
                with self.subTest(phy=name, snr=snr):
                    res = run_loopback(tx_cls(mtu=MTU, fec_mode="cc"), rx_cls(mtu=MTU, fec_mode="cc"), pdus,
                                       noise_voltage=10 ** (-snr / 20), freq_offset=0.001, seed=2, timeout=60)
                    est = sorted(m["snr_db"] for m, _ in res.received if "snr_db" in m)
                    self.assertGreaterEqual(len(est), 8, f"{name}: {len(est)} PDUs with snr_db at {snr} dB")
                    med = est[len(est) // 2]
                    print(f"{name} in-burst {snr} dB: snr_db median {med:.1f}, range {est[0]:.1f}..{est[-1]:.1f} "
                          f"(reference {ref} dB)")
                    self.assertLess(abs(med - ref), 2.0, f"{name}: snr_db {med:.1f} at reference {ref} dB")
                    self.assertEqual(len(est), len(res.received), f"{name}: every PDU carries snr_db")
                    for e in est:
                        self.assertLess(abs(e - ref), 2.0, f"{name}: a PDU's snr_db {e:.1f} at reference {ref} dB")
                    medians.append(med)
            self.assertEqual(medians, sorted(medians), f"{name}: snr_db not increasing with SNR")

# Es/N0 per data subcarrier at which each MCS is tested (>= 99 % of 300 PDUs, CFO 0.1
# subcarrier, 20 ppm sample-rate offset): the paper preset's SNR + 2 dB (measured working
# points in docs/PHY.md; the issue's + 1 dB is not reached, see there).
# Es/N0 per data subcarrier each MCS is tested at: the paper presets at their paper SNR + 1 dB (the
# issue-11 operating-point test: >= 99 % of 300 PDUs of MCS_TEST_BYTES), none/cc where they work.
MCS_TEST_ESN0 = {"none": 16.0, "cc": 7.0, **{m: s + 1.0 for m, s in pc.PAPER_MCS_SNR_DB.items()}}
MCS_TEST_BYTES = {"none": 200, "cc": 200, **{m: 1200 for m in pc.PAPER_MCS_SNR_DB}}


def esn0_noise(esn0_db):
    """channel_model noise_voltage for Es/N0 per data subcarrier of the OFDM PHY."""
    return 10 ** (-pc.esn0_to_sample_snr_db(esn0_db) / 20)


def pdu(data, mcs=None):
    meta = pmt.make_dict()
    if mcs is not None:
        meta = pmt.dict_add(meta, pmt.intern("mcs"), pmt.intern(mcs))
    return pmt.cons(meta, pmt.init_u8vector(len(data), list(data)))


def tx_burst(tx, pdus):
    """The TX output samples for ``pdus`` (no channel)."""
    tb = gr.top_block()
    snk = blocks.vector_sink_c()
    feeder = pdu_feeder(pdus)
    tb.msg_connect(feeder, "out", tx, "in")
    tb.connect(tx, snk)
    tb.start()
    want = sum(tx.samples_per_burst(len(pmt.u8vector_elements(pmt.cdr(p)))) for p in pdus)
    while len(snk.data()) < want:
        feeder.done.wait(0.05)
    tb.stop()
    tb.wait()
    return np.array(snk.data())


class qa_ofdm_mcs(gr_unittest.TestCase):
    """The OFDM PHY's MCS table, coded header and scrambling (issue 11)."""

    def test_each_mcs_delivers_99_percent_at_its_test_snr(self):
        for mcs, esn0 in MCS_TEST_ESN0.items():
            with self.subTest(mcs=mcs):
                size = MCS_TEST_BYTES[mcs]
                pdus = random_pdus(300, size, seed=21, min_len=size)
                sent = payloads(pdus)
                res = run_loopback(ofdm_pdu_tx(mtu=MTU, mcs=mcs), ofdm_pdu_rx(mtu=MTU), pdus,
                                   noise_voltage=esn0_noise(esn0), freq_offset=0.1 / 64, epsilon=1 + 20e-6,
                                   seed=9, timeout=300)
                got = res.delivered(sent)
                print(f"{mcs} at {esn0} dB, {size}-byte PDUs: {got}/300, status {res.rx_status}")
                self.assertGreaterEqual(got, 297, f"{mcs} at {esn0} dB, {size}-byte PDUs: {got}/300")
                self.assertTrue(all(m["mcs"] == mcs for m, _ in res.received))

    def test_per_pdu_mcs_switching(self):
        rng = np.random.default_rng(3)
        pdus, sent, want = [], [], []
        for i in range(40):
            mcs = pc.MCS_NAMES[i % len(pc.MCS_NAMES)]
            data = rng.integers(0, 256, int(rng.integers(1, 600)), dtype=np.uint8).tobytes()
            pdus.append(pdu(data, mcs))
            sent.append(data)
            want.append(mcs)
        res = run_loopback(ofdm_pdu_tx(mtu=MTU, payload_mod="bpsk"), ofdm_pdu_rx(mtu=MTU), pdus,
                           noise_voltage=esn0_noise(25), freq_offset=0.1 / 64, seed=1, timeout=120)
        self.assertEqual([d for _, d in res.received], sent)
        self.assertEqual([m["mcs"] for m, _ in res.received], want)
        self.assertEqual([m["fec"] for m, _ in res.received], [pc.MCS[w][0] for w in want])

    def test_corrupted_headers_never_give_a_wrong_pdu(self):
        # Far below every working point many headers and payloads fail; whatever comes out
        # must be a sent PDU (right length and bytes), and noise alone yields nothing.
        pdus = random_pdus(150, 300, seed=5)
        sent = set(payloads(pdus))
        res = run_loopback(ofdm_pdu_tx(mtu=MTU, mcs="none"), ofdm_pdu_rx(mtu=MTU), pdus,
                           noise_voltage=esn0_noise(-4.0), seed=4, timeout=120)
        for _, data in res.received:
            self.assertIn(data, sent)
        self.assertGreater(res.rx_status.get("rx_header_fail", 0) + res.rx_status.get("rx_crc_fail", 0), 0)

    def test_scrambling_keeps_the_peak_of_an_all_zero_pdu(self):
        for mcs in ("none", "cc", "paper-0dB", "paper-10dB"):
            with self.subTest(mcs=mcs):
                zero = np.abs(tx_burst(ofdm_pdu_tx(mtu=MTU, mcs=mcs), [pdu(bytes(1200))])).max()
                rnd = np.abs(tx_burst(ofdm_pdu_tx(mtu=MTU, mcs=mcs), random_pdus(1, 1200, seed=2, min_len=1200)))
                self.assertLessEqual(zero, 2 * rnd.max(), f"{mcs}: zero-PDU peak {zero:.2f} vs {rnd.max():.2f}")

    def test_gap_zero_back_to_back_and_a_short_flush(self):
        # gap 0 (radios that mark bursts, e.g. USRP packet_len -> tx_eob): back-to-back bursts
        # are all detected and delivered; the receiver needs samples after a burst to finish
        # it, which a radio's RX stream always has and a simulation gets from a gap of >= 256
        # zeros (docs/PHY.md, "Gaps").
        pdus = random_pdus(60, 300, seed=12)
        sent = payloads(pdus)
        res = run_loopback(ofdm_pdu_tx(mtu=MTU, gap=0), ofdm_pdu_rx(mtu=MTU, gap=0), pdus,
                           noise_voltage=0.05, freq_offset=0.001, seed=2, timeout=60, idle=1.0)
        self.assertEqual([d for _, d in res.received], sent[:len(res.received)])
        self.assertGreaterEqual(len(res.received), len(sent) - 1, res.rx_status)
        for size in (1, 300):  # the shortest burst needs the longest flush
            pdus = random_pdus(10, size, seed=13, min_len=size)
            res = run_loopback(ofdm_pdu_tx(mtu=MTU, gap=256), ofdm_pdu_rx(mtu=MTU, gap=256), pdus,
                               noise_voltage=0.05, epsilon=1 + 20e-6, seed=2, timeout=60, idle=1.0)
            self.assertEqual([d for _, d in res.received], payloads(pdus), f"gap 256, {size}-byte PDUs")

    def test_header_decodes_2_db_below_the_most_robust_mcs(self):
        # 2 dB below the most robust MCS's tested working point (paper-0dB, tested at 1 dB; its
        # PER-1 % point is ~0.7 dB, bench/phy_per.py) >= 99 % of headers decode: each burst is
        # delivered or counted as a payload CRC failure, not lost (at -1.3 dB 99/100: docs/PHY.md).
        n = 100
        esn0 = MCS_TEST_ESN0["paper-0dB"] - 2.0
        pdus = random_pdus(n, 100, seed=8, min_len=100)
        res = run_loopback(ofdm_pdu_tx(mtu=MTU, mcs="paper-0dB"), ofdm_pdu_rx(mtu=MTU), pdus,
                           noise_voltage=esn0_noise(esn0), freq_offset=0.1 / 64, epsilon=1 + 20e-6,
                           seed=6, timeout=120)
        decoded = res.rx_status.get("rx_ok", 0) + res.rx_status.get("rx_crc_fail", 0)
        print(f"headers decoded at {esn0} dB: {decoded}/{n}, status {res.rx_status}")
        self.assertGreaterEqual(decoded, 0.99 * n, res.rx_status)


OFDM_NOISE = 0.35  # 9.1 dB in-burst SNR, 10 dB Es/N0 (unit-power bursts)
PSK_NOISE = 0.55   # ~5.2 dB per sample, ~8.2 dB Es/N0 after the sps=2 matched filter

if __name__ == "__main__":
    gr_unittest.main()
