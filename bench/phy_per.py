#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""PER vs SNR of every OFDM MCS, beside Sionna's link-level simulator; throughput per MCS.

Run with /usr/bin/python3 (GNU Radio); `lgvsc linksim` runs from the ML venv (--venv).

1. PER of --bytes PDUs vs Es/N0 per data subcarrier (docs/PHY.md) for each MCS through
   ofdm_pdu_tx -> channels.channel_model (AWGN, frequency offset 0.1 subcarrier, sample-rate
   offset 20 ppm as epsilon) -> ofdm_pdu_rx, seeded noise.  Printed beside `lgvsc linksim`
   with the paper preset of the same modulation and code rate (Sionna 5G LDPC, AWGN, PDU
   error rate from its block error rate), and the SNR at PER 1 % of both.
2. MS/s of the loopback (no channel) per MCS, and for `none` the ratio to stock gr-digital
   (bench/phy_loopback.py's harness, measured in the same run).
Writes phy_per.csv and phy_per.png under --out.
"""

import argparse
import csv
import importlib.util
import json
import math
import os
import subprocess
import time

import pmt
from gnuradio.lgvsc import ofdm_pdu_rx, ofdm_pdu_tx
from gnuradio.lgvsc import phy_common as pc
from gnuradio.lgvsc.loopback import random_pdus, run_loopback

HERE = os.path.dirname(os.path.abspath(__file__))
GRID = {"none": [8, 10, 12, 14], "cc": [3, 4, 5, 6, 7]}


def per_point(mcs, esn0, pdus, sent, seed):
    nv = 10 ** (-pc.esn0_to_sample_snr_db(esn0) / 20)
    res = run_loopback(ofdm_pdu_tx(mtu=1500, mcs=mcs), ofdm_pdu_rx(mtu=1500), pdus, noise_voltage=nv,
                       freq_offset=0.1 / 64, epsilon=1 + 20e-6, seed=seed, timeout=600)
    return 1 - res.delivered(sent) / len(sent)


def linksim(venv, preset, snrs, nbits, pdu_bits):
    """{snr: PDU error rate} from `lgvsc linksim --preset`, or {} when it cannot run."""
    exe = os.path.join(venv, "bin", "lgvsc")
    if not os.path.exists(exe):
        return {}
    cmd = [exe, "linksim", "--preset", preset, "--random-bits", str(nbits), "--seed", "1", "--snr",
           *[str(s) for s in snrs]]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True).stdout
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"  linksim {preset}: not run ({exc})")
        return {}
    res = {}
    for line in out.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            blocks_per_pdu = pdu_bits / d["k"]
            res[d["snr_db"]] = 1 - (1 - d["bler"]) ** blocks_per_pdu
    return res


def snr_at(points, target=0.01):
    """Lowest SNR from which PER stays <= target (linear interpolation in log PER), or None."""
    pts = sorted(points.items())
    for i, (snr, per) in enumerate(pts):
        if per <= target and all(p <= target for _, p in pts[i:]):
            if i == 0:
                return snr
            s0, p0 = pts[i - 1]
            l0, l1, lt = math.log10(max(p0, 1e-4)), math.log10(max(per, 1e-4)), math.log10(target)
            return round(s0 + (snr - s0) * (l0 - lt) / (l0 - l1), 2) if l0 != l1 else snr
    return None


def throughput(mcs, n, nbytes):
    pdus = random_pdus(n, nbytes, seed=3, min_len=nbytes)
    t0 = time.process_time()
    res = run_loopback(ofdm_pdu_tx(mtu=1500, mcs=mcs), ofdm_pdu_rx(mtu=1500), pdus, timeout=600)
    cpu = time.process_time() - t0
    return res.samples / res.seconds / 1e6, res.samples / cpu / 1e6, len(res.received)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/bench")
    ap.add_argument("--pdus", type=int, default=100, help="PDUs per PER point (default %(default)s)")
    ap.add_argument("--bytes", type=int, default=1200, help="PDU size (default %(default)s)")
    ap.add_argument("--mcs", nargs="*", default=list(pc.MCS_NAMES))
    ap.add_argument("--venv", default=os.path.join(HERE, "..", ".venv"), help="ML venv with `lgvsc linksim`")
    ap.add_argument("--no-linksim", action="store_true")
    ap.add_argument("--tput-pdus", type=int, default=200)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    pdus = random_pdus(a.pdus, a.bytes, seed=11, min_len=a.bytes)
    sent = [bytes(pmt.u8vector_elements(pmt.cdr(p))) for p in pdus]
    rows, curves, sims = [], {}, {}
    for mcs in a.mcs:
        base = pc.PAPER_MCS_SNR_DB.get(mcs)
        grid = GRID.get(mcs) or [base - 1, base, base + 1, base + 2, base + 3]
        curves[mcs] = {}
        for i, esn0 in enumerate(grid):
            per = per_point(mcs, esn0, pdus, sent, seed=100 + i)
            curves[mcs][esn0] = per
            print(f"  PER {mcs:10s} Es/N0 {esn0:5.1f} dB: {per:.3f}", flush=True)
        if base is not None and not a.no_linksim:
            sims[mcs] = linksim(a.venv, mcs, grid, a.pdus * 8 * (a.bytes + 4), 8 * (a.bytes + 4))
        for esn0, per in curves[mcs].items():
            rows.append({"mcs": mcs, "esn0_db": esn0, "per": round(per, 4),
                         "linksim_per": None if sims.get(mcs, {}).get(esn0) is None
                         else round(sims[mcs][esn0], 4)})
    print("\nSNR (Es/N0 per data subcarrier) at PER 1 %, CFO 0.1 subcarrier + 20 ppm SRO:")
    print(f"{'mcs':12s} {'paper':>6s} {'gnuradio':>9s} {'linksim':>8s}")
    for mcs in a.mcs:
        g, s = snr_at(curves[mcs]), snr_at(sims.get(mcs, {})) if sims.get(mcs) else None
        print(f"{mcs:12s} {str(pc.PAPER_MCS_SNR_DB.get(mcs, '-')):>6s} {str(g):>9s} {str(s):>8s}")
    with open(os.path.join(a.out, "phy_per.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 5))
        for i, mcs in enumerate(a.mcs):
            pts = sorted(curves[mcs].items())
            color = f"C{i}"
            ax.semilogy([p[0] for p in pts], [max(p[1], 1e-3) for p in pts], "o-", color=color,
                        label=f"{mcs} (GNU Radio)")
            if sims.get(mcs):
                sp = sorted(sims[mcs].items())
                ax.semilogy([p[0] for p in sp], [max(p[1], 1e-3) for p in sp], "x--", color=color,
                            label=f"{mcs} (linksim)")
        ax.axhline(0.01, color="grey", lw=0.8)
        ax.set_xlabel("Es/N0 per data subcarrier (dB)")
        ax.set_ylabel(f"PER ({a.bytes}-byte PDUs; 1e-3 = none lost)")
        ax.set_title("OFDM PHY, AWGN + 0.1 subcarrier CFO + 20 ppm SRO")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(os.path.join(a.out, "phy_per.png"), dpi=110)
    except ImportError:
        print("matplotlib missing: no plot")
    print("\nThroughput (loopback, no channel, 1200-byte PDUs): MS/s wall, MS/s per CPU-second")
    for mcs in a.mcs:
        ms, mcpu, got = throughput(mcs, a.tput_pdus if mcs in ("none", "cc") else a.tput_pdus // 4, a.bytes)
        print(f"  {mcs:10s} {ms:5.2f} MS/s  {mcpu:5.2f} MS/CPU-s  ({got} delivered)", flush=True)
    spec = importlib.util.spec_from_file_location("phy_loopback", os.path.join(HERE, "phy_loopback.py"))
    pl = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pl)
    ratios = []
    for _ in range(3):
        small = random_pdus(1000, 96, seed=5, min_len=96)
        s_st = pl._loopback(small, 1024, False)
        s_ours = pl._loopback(small, 1024, True)
        if min(s_st[0], s_st[1], s_ours[0], s_ours[1]) <= 0:
            print(f"  repetition skipped: stock {s_st[:3]}, ours {s_ours[:3]} (samples, s, PDUs)")
            continue
        ratios.append((s_ours[0] / s_ours[1]) / (s_st[0] / s_st[1]))
        print(f"  stock {s_st[0] / s_st[1] / 1e6:.2f} MS/s, ours {s_ours[0] / s_ours[1] / 1e6:.2f} MS/s", flush=True)
    if ratios:
        print(f"none vs stock gr-digital (1000 x 96-byte PDUs, gap 1024): median ratio "
              f"{sorted(ratios)[len(ratios) // 2]:.2f} (all {[round(r, 2) for r in ratios]})")


if __name__ == "__main__":
    main()
