#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The OFDM PHY's FEC choice by measurement: gr-fec polar (N 2048, SC-list 4) vs our 5G NR LDPC
(gr-lgvsc/lib/ldpc_5g.cc) on the six paper presets (docs/PHY.md "FEC choice").

Per preset and code: PER of --bytes PDUs vs Es/N0 per data subcarrier in --step dB steps, through
ofdm_pdu_tx -> channels.channel_model (AWGN, CFO 0.1 subcarrier, 20 ppm SRO) -> ofdm_pdu_rx, as
bench/phy_per.py measures it (same channel, same PDUs per code), and the SNR at PER 1 %
(phy_per.snr_at).  Then the loopback's TX+RX speed per code without noise: MS/s per CPU-second
(process time of this process, both flowgraph ends).  The code is switched by rewriting the
preset's entry of phy_common.MCS in this process (TX and RX read the same table).

Run with /usr/bin/python3: ``bench/phy_fec.py [--mcs paper-2dB ...] [--codes polar ldpc] [--pdus 200]``.
"""

import argparse
import importlib.util
import os
import time

import pmt
from gnuradio.lgvsc import ofdm_pdu_rx, ofdm_pdu_tx
from gnuradio.lgvsc import phy_common as pc
from gnuradio.lgvsc.loopback import random_pdus, run_loopback

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("phy_per", os.path.join(HERE, "phy_per.py"))
phy_per = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(phy_per)
# where each code's sweep starts, dB relative to the paper SNR (polar measured ~+1.5, LDPC ~-0.5)
START = {"polar": -0.5, "ldpc": -1.5}
PAPER = {name: pc.MCS[name] for name in pc.PAPER_MCS_SNR_DB}


def use_code(mcs, code):
    _, mod, rate = PAPER[mcs]
    pc.MCS[mcs] = (code, mod, rate)


def per_point(mcs, esn0, pdus, sent, seed):
    nv = 10 ** (-pc.esn0_to_sample_snr_db(esn0) / 20)
    # idle 30 s: on a loaded machine a slow decoder (polar) can take seconds per PDU; run_loopback's
    # default 2 s would end the run early and count the PDUs still in flight as lost
    res = run_loopback(ofdm_pdu_tx(mtu=1500, mcs=mcs), ofdm_pdu_rx(mtu=1500), pdus, noise_voltage=nv,
                       freq_offset=0.1 / 64, epsilon=1 + 20e-6, seed=seed, timeout=1800, idle=30.0)
    accounted = res.rx_status.get("rx_ok", 0) + res.rx_status.get("rx_crc_fail", 0)
    if accounted < len(sent):
        print(f"    ({len(sent) - accounted} PDUs not detected / header lost)", flush=True)
    return 1 - res.delivered(sent) / len(sent)


def sweep(mcs, code, pdus, sent, step, max_points=14):
    base = pc.PAPER_MCS_SNR_DB[mcs]
    curve, zeros, esn0 = {}, 0, base + START[code]
    for i in range(max_points):
        per = per_point(mcs, esn0, pdus, sent, seed=100 + i)
        curve[round(esn0, 2)] = per
        print(f"  {code:5s} {mcs:10s} Es/N0 {esn0:5.1f} dB: PER {per:.3f}", flush=True)
        zeros = zeros + 1 if per == 0 else 0
        if zeros >= 2 or (per <= 0.01 and len(curve) > 1 and zeros >= 1 and step >= 1):
            break
        esn0 += step if per < 0.99 else 2 * step  # far below the waterfall: bigger steps
    if min(curve.values()) > 0.01:
        return curve, None
    if curve[min(curve)] <= 0.01:  # started inside the good region: go down until it breaks
        esn0 = min(curve)
        for _ in range(6):
            esn0 -= step
            per = per_point(mcs, esn0, pdus, sent, seed=200)
            curve[round(esn0, 2)] = per
            print(f"  {code:5s} {mcs:10s} Es/N0 {esn0:5.1f} dB: PER {per:.3f}", flush=True)
            if per > 0.01:
                break
    return curve, phy_per.snr_at(curve)


def speed(mcs, n, nbytes):
    pdus = random_pdus(n, nbytes, seed=3, min_len=nbytes)
    t0 = time.process_time()
    res = run_loopback(ofdm_pdu_tx(mtu=1500, mcs=mcs), ofdm_pdu_rx(mtu=1500), pdus, timeout=1800, idle=30.0)
    cpu = time.process_time() - t0
    return res.samples / cpu / 1e6, len(res.received)


def decoder_speed(mcs, snr_db, nbytes, reps=20):
    """The LDPC decoder alone (C++, through the binding; no Python in the timed call): PDU decodes per
    CPU-second at Es/N0 ``snr_db`` of the preset (bits seen as BPSK at the per-bit SNR, Es/N0 - 10 log10(bits
    per symbol)), as MS/s of the preset's burst (gap excluded) and Mbit/s of information; mean iterations."""
    import numpy as np
    _, mod, rate = PAPER[mcs]
    codec = pc.compiled().ldpc_5g()
    num, den = pc.ldpc_rate(rate)
    nbits = 8 * (nbytes + pc.CRC_LEN)
    rng = np.random.default_rng(5)
    bits = rng.integers(0, 2, nbits).astype(np.uint8)
    cw = np.asarray(codec.encode_pdu(bits.tolist(), num, den), dtype=np.float32)
    bps = pc.constellation(mod).bits_per_symbol()
    sigma = np.sqrt(0.5 * 10 ** (-(snr_db - 10 * np.log10(bps)) / 10))
    llrs = [(2 * ((2 * cw - 1) + sigma * rng.standard_normal(len(cw))) / sigma**2).astype(np.float32)
            for _ in range(reps)]
    t0, fails, iters = time.process_time(), 0, 0
    for llr in llrs:
        _, f = codec.decode_pdu(llr, nbits, num, den)
        fails += f
        iters += abs(codec.last_iterations())
    cpu = time.process_time() - t0
    samples = pc.ofdm_burst_samples(nbytes, mcs, gap=0)
    return reps * samples / cpu / 1e6, reps * nbits / cpu / 1e6, iters / reps, fails


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mcs", nargs="*", default=list(PAPER))
    ap.add_argument("--codes", nargs="*", default=["polar", "ldpc"], choices=["polar", "ldpc"])
    ap.add_argument("--pdus", type=int, default=200, help="PDUs per PER point (default %(default)s)")
    ap.add_argument("--bytes", type=int, default=1200)
    ap.add_argument("--step", type=float, default=0.5, help="SNR step, dB (default %(default)s)")
    ap.add_argument("--speed-pdus", type=int, default=100, help="PDUs of the speed run (0: skip)")
    ap.add_argument("--no-per", action="store_true", help="only the speed part")
    ap.add_argument("--decoder-only", action="store_true",
                    help="only the LDPC decoder's speed at each preset's paper SNR (no flowgraph)")
    a = ap.parse_args()
    if a.decoder_only:
        print(f"LDPC decoder alone, {a.bytes}-byte PDUs (+CRC), BPSK-equivalent LLRs at the paper SNR: "
              "MS/s of the preset's burst and Mbit/s of information per CPU-second, iterations of the last segment")
        for mcs in a.mcs:
            ms, mb, it, f = decoder_speed(mcs, pc.PAPER_MCS_SNR_DB[mcs], a.bytes)
            print(f"  {mcs:10s} {ms:7.2f} MS/s {mb:7.2f} Mbit/s  iterations {it:4.1f}  failed segments {f}")
        return
    pdus = random_pdus(a.pdus, a.bytes, seed=11, min_len=a.bytes)
    sent = [bytes(pmt.u8vector_elements(pmt.cdr(p))) for p in pdus]
    res = {}
    for mcs in a.mcs:
        for code in a.codes:
            use_code(mcs, code)
            snr = None
            if not a.no_per:
                _, snr = sweep(mcs, code, pdus, sent, a.step)
            tput = speed(mcs, a.speed_pdus, a.bytes) if a.speed_pdus else (None, None)
            res[(mcs, code)] = (snr, tput)
            print(f"  {code:5s} {mcs:10s} PER-1% SNR {snr} dB, TX+RX {tput[0] and round(tput[0], 2)} MS/s per "
                  f"CPU-s ({tput[1]}/{a.speed_pdus} delivered)", flush=True)
        use_code(mcs, PAPER[mcs][0])
    print(f"\nPER 1 % SNR (Es/N0 per data subcarrier, dB), {a.bytes}-byte PDUs, {a.pdus} per point, AWGN + CFO "
          "0.1 sc + 20 ppm; loopback TX+RX MS/s per CPU-second (no noise)")
    print(f"{'mcs':12s} {'paper':>6s} " + " ".join(f"{c + ' SNR':>10s} {c + ' MS/s':>11s}" for c in a.codes))
    for mcs in a.mcs:
        cells = []
        for code in a.codes:
            snr, (ms, _) = res[(mcs, code)]
            cells.append(f"{str(snr):>10s} {'-' if ms is None else format(ms, '.2f'):>11s}")
        print(f"{mcs:12s} {pc.PAPER_MCS_SNR_DB[mcs]:6.1f} " + " ".join(cells))


if __name__ == "__main__":
    main()
