#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA for the 5G NR LDPC codec (gr-lgvsc/lib/ldpc_5g.cc) and its use as the OFDM PHY's
"ldpc" code: round trips, noisy decoding, segmentation, the Python mirror of the coded
length, bad input, and PDUs of every size through the OFDM burst blocks.  (Bit equality with
Sionna's LDPC5GEncoder: tests/test_ldpc_sionna.py, which needs the venv.)"""

import numpy as np
import pmt
from gnuradio import gr_unittest
from gnuradio.lgvsc import phy_common as pc

ldpc_5g = pc.compiled().ldpc_5g


def bpsk_llr(bits, esn0_db, rng):
    """LLRs (positive = 1) of BPSK-sent bits over AWGN at Es/N0 ``esn0_db``."""
    sigma = np.sqrt(0.5 * 10 ** (-esn0_db / 10))
    y = (2.0 * np.asarray(bits) - 1) + sigma * rng.standard_normal(len(bits))
    return (2 * y / sigma**2).astype(np.float32)


def esn0_noise(esn0_db):
    """channel_model noise_voltage for Es/N0 per data subcarrier of the OFDM PHY."""
    return 10 ** (-pc.esn0_to_sample_snr_db(esn0_db) / 20)


def pdu(data, mcs):
    meta = pmt.dict_add(pmt.make_dict(), pmt.intern("mcs"), pmt.intern(mcs))
    return pmt.cons(meta, pmt.init_u8vector(len(data), list(data)))


def payloads(pdus):
    return [bytes(pmt.u8vector_elements(pmt.cdr(p))) for p in pdus]


class qa_ldpc(gr_unittest.TestCase):
    def test_noiseless_round_trip_both_base_graphs(self):
        rng = np.random.default_rng(1)
        codec = ldpc_5g()
        for k, e in [(4816, 9632), (4816, 14448), (4816, 6422), (8448, 12672), (3840, 7680), (1000, 3000),
                     (300, 400), (100, 300), (37, 111), (1, 24), (5000, 5600)]:
            with self.subTest(k=k, e=e):
                info = rng.integers(0, 2, k).astype(np.uint8)
                cw = np.asarray(codec.encode(info.tolist(), e, 0), dtype=np.uint8)
                self.assertEqual(len(cw), e)
                llr = (8.0 * (2.0 * cw - 1)).tolist()
                out = np.asarray(codec.decode(llr, k, 0), dtype=np.uint8)
                self.assertTrue(np.array_equal(out, info))
                self.assertGreater(codec.last_iterations(), 0)

    def test_repetition_beyond_the_circular_buffer(self):
        # e larger than the circular buffer wraps around (repetition); LLRs of repeats add up
        rng = np.random.default_rng(2)
        codec = ldpc_5g()
        k, e = 200, 3000
        info = rng.integers(0, 2, k).astype(np.uint8)
        cw = np.asarray(codec.encode(info.tolist(), e, 2), dtype=np.uint8)
        out = codec.decode(bpsk_llr(cw, -4.0, rng).tolist(), k, 2)
        self.assertTrue(np.array_equal(np.asarray(out, dtype=np.uint8), info))

    def test_noisy_pdus_decode_above_and_fail_cleanly_below_threshold(self):
        rng = np.random.default_rng(3)
        codec = ldpc_5g()
        bits = rng.integers(0, 2, 9632).astype(np.uint8)  # a 1204-byte PDU + CRC: 2 BG1 segments
        for (num, den), good, bad in [((1, 3), -1.5, -6.0), ((1, 2), 1.5, -3.0), ((3, 4), 4.5, 0.0)]:
            with self.subTest(rate=f"{num}/{den}"):
                cw = codec.encode_pdu(bits.tolist(), num, den)
                self.assertEqual(len(cw), ldpc_5g.coded_bits(9632, num, den))
                out, failed = codec.decode_pdu(bpsk_llr(cw, good, rng).tolist(), 9632, num, den)
                self.assertEqual(failed, 0)
                self.assertTrue(np.array_equal(np.asarray(out, dtype=np.uint8), bits))
                out, failed = codec.decode_pdu(bpsk_llr(cw, bad, rng).tolist(), 9632, num, den)
                self.assertGreater(failed, 0)
                self.assertEqual(len(out), 9632)
                self.assertLess(codec.last_iterations(), 0)

    def test_plan_segments_and_python_mirror(self):
        for nbits in [1, 8, 100, 292, 293, 3824, 3825, 3840, 3841, 8448, 8449, 9632, 12032, 16897, 40000]:
            for rate in (1 / 3, 1 / 2, 2 / 3, 3 / 4, 0.25, 0.2, 5 / 6):
                num, den = pc.ldpc_rate(rate)
                segs = ldpc_5g.plan(nbits, num, den)
                with self.subTest(nbits=nbits, rate=rate):
                    self.assertEqual(sum(k for k, _, _ in segs), nbits)
                    self.assertLessEqual(max(k for k, _, _ in segs) - min(k for k, _, _ in segs), 1)
                    for k, e, bg in segs:
                        self.assertLessEqual(k, 8448 if bg == 1 else 3840)
                        self.assertEqual(e, -(-k * den // num))
                    self.assertEqual(ldpc_5g.coded_bits(nbits, num, den), sum(e for _, e, _ in segs))
                    self.assertEqual(pc.ldpc_coded_bits(nbits, rate), ldpc_5g.coded_bits(nbits, num, den))

    def test_sionna_lifting_choice(self):
        # 38.212 5.3.2 / Sionna: smallest Z with kb Z >= k (BG2's kb 6/8/9/10 by k)
        self.assertEqual(ldpc_5g.lifting(4816, 1), (224, 3))
        self.assertEqual(ldpc_5g.lifting(8448, 1), (384, 1))
        self.assertEqual(ldpc_5g.lifting(100, 2), (18, 4))   # kb 6: 6 * 18 >= 100
        self.assertEqual(ldpc_5g.lifting(3840, 2), (384, 1))
        self.assertEqual(ldpc_5g.select_bg(9632, 1 / 3), 1)
        self.assertEqual(ldpc_5g.select_bg(2000, 1 / 2), 2)
        self.assertEqual(ldpc_5g.select_bg(9632, 1 / 4), 2)

    def test_bad_input_raises_not_crashes(self):
        codec = ldpc_5g()
        with self.assertRaises(ValueError):
            codec.encode([0] * 8449, 20000, 1)   # k above BG1's 8448
        with self.assertRaises(ValueError):
            codec.encode([0] * 3841, 8000, 2)    # k above BG2's 3840
        with self.assertRaises(ValueError):
            codec.encode([], 10, 0)
        with self.assertRaises(ValueError):
            codec.encode([0] * 10, 0, 0)
        with self.assertRaises(ValueError):
            ldpc_5g.plan(100, 0, 3)
        with self.assertRaises(ValueError):
            ldpc_5g.plan(100, 4, 3)
        with self.assertRaises(ValueError):
            codec.decode_pdu([0.0] * 10, 100, 1, 2)  # wrong length
        with self.assertRaises(ValueError):
            ldpc_5g(0, 0.75)
        with self.assertRaises(ValueError):
            ldpc_5g(20, 1.5)
        with self.assertRaises(ValueError):
            ldpc_5g(20, 0.8, -1.0)
        # non-finite and huge LLRs are taken as erasures / clipped, never crash
        out = codec.decode([float("nan"), float("inf"), -1e30] + [1.0] * 297, 100, 0)
        self.assertEqual(len(out), 100)

    def test_ofdm_presets_use_ldpc_and_every_size_round_trips(self):
        from gnuradio.lgvsc import ofdm_pdu_rx, ofdm_pdu_tx
        from gnuradio.lgvsc.loopback import run_loopback
        ldpc = [n for n, (code, _, _) in pc.MCS.items() if code == "ldpc"]
        self.assertEqual(len(ldpc), 6)
        rng = np.random.default_rng(4)
        sizes = [1, 2, 33, 36, 360, 361, 1051, 1052, 1200, 1500]  # BG2 / BG1 edges, 1 and 2 segments
        pdus = [pdu(rng.integers(0, 256, n, dtype=np.uint8).tobytes(), ldpc[i % 6]) for i, n in enumerate(sizes)]
        res = run_loopback(ofdm_pdu_tx(mtu=1500), ofdm_pdu_rx(mtu=1500), pdus, noise_voltage=esn0_noise(20),
                           freq_offset=0.1 / 64, seed=3, timeout=120)
        self.assertEqual([d for _, d in res.received], payloads(pdus))
        self.assertEqual({m["fec"] for m, _ in res.received}, {"ldpc"})


if __name__ == "__main__":
    gr_unittest.main()
