#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Outage bound of an OFDM burst through the emulator's TDL fading: what any per-PDU code can reach.

Run in the ML venv (torch, Sionna): the fading is the emulator's own (lgvsc.channels: Sionna's TDL
power-delay profile, one sum-of-sinusoids realisation per seed, SosFading evaluated at absolute
time), so the bound describes exactly the channel bench/phy_per.py's fading column measures.

For each realisation, a burst of ``--burst-samples`` samples at ``--sample-rate`` starts at a random
time; the path gains are evaluated at ``--times`` instants across it, the frequency response on the
data carriers (``--carriers``, index k at k * fs / fft) is H_k(t) = sum_p g_p(t) exp(-j 2 pi f_k tau_p)
(perfect CSI; the energy of paths delayed beyond the CP counts as interference, 2 * |g|^2 * excess / fft,
the usual ISI + ICI estimate, and lowers the useful gain by (1 - excess / fft)^2), and the burst's
mutual information is the mean over carriers and instants of the BICM mutual information I_m(SNR_k)
of Gray QPSK / 16-QAM at SNR_k = Es/N0 * |H_k|^2 (unit average channel gain, as the emulator's).

Two bounds per point, printed as one JSON line with the Es/N0 at which each falls to --target (1 %):
  * ``p_out_capacity``: P(I_burst < rate * bits/symbol): an ideal code of infinite length with
    perfect CSI (the information-outage probability, the classic quasi-static fading bound);
  * ``p_out_code``: P(I_burst < I_m(snr_awgn_db)), where snr_awgn_db is the Es/N0 at which the real
    code reaches PDU error rate 1 % over AWGN (mutual-information effective-SNR mapping, MIESM): what
    our LDPC code, with a perfect receiver, should lose in this channel.
Also the ergodic limits: the Es/N0 at which the mean of the burst mutual information over all
realisations reaches each need (infinite frequency/time diversity; no bandwidth can do better).
"""

import argparse
import json
import math

import numpy as np
import torch


def bicm_mi_table(bits, snr_db, n=40000, seed=0):
    """BICM mutual information (bits per channel symbol) of Gray QPSK/16-QAM over AWGN, on a grid."""
    rng = np.random.default_rng(seed)
    if bits == 2:
        pam = np.array([-1.0, 1.0])
    elif bits == 4:
        pam = np.array([-3.0, -1.0, 1.0, 3.0])
    else:
        raise ValueError("bits per symbol must be 2 or 4")
    pam = pam / math.sqrt(2 * np.mean(pam ** 2))  # unit-energy square QAM = two PAM dimensions
    gray = [0, 1] if len(pam) == 2 else [0, 1, 3, 2]  # Gray label of each PAM level
    nb = int(math.log2(len(pam)))
    out = []
    x = rng.integers(0, len(pam), n)
    w = rng.standard_normal(n)
    for s in snr_db:
        sigma2 = 10 ** (-s / 10) / 2  # noise per dimension, Es = 1
        y = pam[x] + math.sqrt(sigma2) * w
        # log-likelihoods of every level: [n, M]
        ll = -(y[:, None] - pam[None, :]) ** 2 / (2 * sigma2)
        mi = 0.0
        for b in range(nb):
            lab = np.array([(gray[i] >> b) & 1 for i in range(len(pam))])
            xb = lab[x]
            num = np.logaddexp.reduce(np.where(lab[None, :] == xb[:, None], ll, -np.inf), axis=1)
            den = np.logaddexp.reduce(ll, axis=1)
            mi += 1 - np.mean(den - num) / math.log(2)  # 1 - E[log2(sum over all / sum over b)]
        out.append(2 * mi)  # two dimensions
    return np.maximum(np.array(out), 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tdl-c")
    ap.add_argument("--delay-spread", type=float, default=300e-9)
    ap.add_argument("--doppler", type=float, default=10.0)
    ap.add_argument("--sample-rate", type=float, nargs="+", default=[1e6, 2e6, 5e6, 10e6])
    ap.add_argument("--fft", type=int, default=64)
    ap.add_argument("--cp", type=int, default=16)
    ap.add_argument("--carriers", default=",".join(str(k) for k in list(range(-26, 0)) + list(range(1, 27))
                                                   if abs(k) not in (7, 21)),
                    help="data carrier indices, comma separated (default: 802.11a's 48)")
    ap.add_argument("--point", action="append", required=True,
                    help="NAME:BITS:RATE:ESN0_DB:AWGN_PER1_DB:BURST_SAMPLES (repeatable)")
    ap.add_argument("--realisations", type=int, default=4000)
    ap.add_argument("--times", type=int, default=8, help="instants per burst")
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--target", type=float, default=0.01,
                    help="outage probability whose Es/N0 is printed too (default %(default)s)")
    a = ap.parse_args()

    from lgvsc.channels.models import _TDL_PROFILES, DEFAULT_CARRIER_FREQUENCY, SosFading
    from sionna.phy.channel.tr38901 import TDL

    torch.set_num_threads(1)
    tdl = TDL(_TDL_PROFILES[a.model], delay_spread=a.delay_spread, carrier_frequency=DEFAULT_CARRIER_FREQUENCY)
    carriers = np.array([int(k) for k in a.carriers.split(",")])
    grid = np.arange(-25.0, 45.01, 0.1)
    tables = {b: bicm_mi_table(b, grid) for b in (2, 4)}
    points = []
    for p in a.point:
        name, bits, rate, esn0, awgn, burst = p.split(":")
        points.append((name, int(bits), float(rate), float(esn0), float(awgn), int(burst)))
    for fs in a.sample_rate:
        f = carriers * fs / a.fft
        # per realisation and point: |H_k|^2 on a common time grid relative to the burst start
        gains = {}  # burst samples -> list of (useful [T, K] gain, interference [T] power)
        durations = sorted({pt[5] for pt in points})
        for r in range(a.realisations):
            fad = SosFading.from_sionna_tdl(tdl, a.doppler, torch.Generator().manual_seed(a.seed + r))
            tau = fad.delays.numpy()
            t0 = float(np.random.default_rng(a.seed + r).uniform(0, 100.0))
            excess = np.maximum(tau * fs - a.cp, 0.0)  # samples beyond the CP
            useful = (1 - np.minimum(excess, a.fft) / a.fft)
            phase = np.exp(-2j * np.pi * np.outer(tau, f))  # [P, K]
            for dur in durations:
                t = t0 + np.linspace(0, dur / fs, a.times)
                g = fad.gains(torch.from_numpy(t)).numpy()  # [P, T]
                h = (g * useful[:, None]).T @ phase  # [T, K]
                isi = (np.abs(g) ** 2 * (2 * excess / a.fft)[:, None]).sum(axis=0)  # [T]
                gains.setdefault(dur, []).append((np.abs(h) ** 2, isi))
        for name, bits, rate, esn0, awgn, dur in points:
            tab = tables[bits]
            need_cap = rate * bits
            need_code = float(np.interp(awgn, grid, tab))
            h2 = np.stack([g[0] for g in gains[dur]])  # [R, T, K]
            isi = np.stack([g[1] for g in gains[dur]])[:, :, None]  # [R, T, 1]

            def burst_mi(esn0_db, h2=h2, isi=isi, tab=tab):
                sinr = h2 / (10 ** (-esn0_db / 10) + isi)
                return np.interp(10 * np.log10(np.maximum(sinr, 1e-30)), grid, tab).mean(axis=(1, 2))

            mis = burst_mi(esn0)
            def lowest(ok, lo=esn0 - 10, hi=esn0 + 40):
                """Lowest Es/N0 (0.05 dB) where ok(Es/N0) holds (monotone), None beyond hi."""
                if not ok(hi):
                    return None
                while hi - lo > 0.05:
                    mid = (lo + hi) / 2
                    lo, hi = (lo, mid) if ok(mid) else (mid, hi)
                return round(hi, 2)

            # the Es/N0 at which each outage probability falls to --target, and the ergodic limits:
            # the mean mutual information over all realisations reaches the need (infinite
            # frequency/time diversity; no bandwidth can do better)
            need = {k: lowest(lambda e, t=t: np.mean(burst_mi(e) < t) <= a.target)
                    for k, t in (("capacity", need_cap), ("code", need_code))}
            ergodic = {k: lowest(lambda e, t=t: burst_mi(e).mean() >= t)
                       for k, t in (("capacity", need_cap), ("code", need_code))}
            print(json.dumps({"mcs": name, "sample_rate": fs, "esn0_db": esn0, "rate": rate, "bits": bits,
                              "realisations": a.realisations, "burst_ms": round(dur / fs * 1e3, 3),
                              "p_out_capacity": round(float(np.mean(mis < need_cap)), 5),
                              "p_out_code": round(float(np.mean(mis < need_code)), 5),
                              f"esn0_capacity_{a.target:g}": need["capacity"],
                              f"esn0_code_{a.target:g}": need["code"],
                              "esn0_ergodic_capacity": ergodic["capacity"], "esn0_ergodic_code": ergodic["code"],
                              "awgn_per1_db": awgn, "mi_code_threshold": round(need_code, 4),
                              "max_excess_samples": round(float(np.max(np.maximum(
                                  tdl.delays.numpy() * fs - a.cp, 0))), 2)}), flush=True)

if __name__ == "__main__":
    main()
