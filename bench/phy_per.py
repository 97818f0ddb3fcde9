#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""PER vs SNR of every OFDM MCS, beside Sionna's link-level simulator; throughput per MCS.

Run with /usr/bin/python3 (GNU Radio); `lgvsc linksim` runs from the ML venv (--venv).

1. PER of --bytes PDUs vs Es/N0 per data subcarrier (docs/PHY.md) for each MCS through
   ofdm_pdu_tx -> channels.channel_model (AWGN, frequency offset 0.1 subcarrier, sample-rate
   offset 20 ppm as epsilon) -> ofdm_pdu_rx, seeded noise.  Printed beside `lgvsc linksim`
   with the paper preset of the same modulation and code rate (Sionna 5G LDPC, AWGN, PDU
   error rate from its block error rate), and the SNR at PER 1 % of both.
2. Fading: PER of the same PDUs at each paper preset's SNR + 4 dB through Sionna's TDL-C
   (--doppler 10 Hz, --delay-spread 300 ns) of the ML side's streaming channel emulator
   (lgvsc.channels: the model `lgvsc channel` / `lgvsc loopback --channel tdl-c` run between the
   flowgraphs): ofdm_pdu_tx's bursts -> the emulator in the venv (per-sample SNR from Es/N0 as
   loopback.emulator_snr_db) -> ofdm_pdu_rx, one continuous fading stream per point.
3. MS/s of the loopback (no channel) per MCS, and for `none` the ratio to stock gr-digital
   (bench/phy_loopback.py's harness, measured in the same run).
The MCS table (names, modulation, rate, paper SNR) is phy_common's.  Writes phy_per.csv and
phy_per.png under --out.
"""

import argparse
import csv
import importlib.util
import json
import math
import os
import subprocess
import tempfile
import time

import numpy as np
import pmt
from gnuradio import blocks, gr
from gnuradio.lgvsc import ofdm_pdu_rx, ofdm_pdu_tx
from gnuradio.lgvsc import phy_common as pc
from gnuradio.lgvsc.loopback import pdu_collector, pdu_feeder, random_pdus, run_loopback

HERE = os.path.dirname(os.path.abspath(__file__))
GRID = {"none": [8, 10, 12, 14], "cc": [3, 4, 5, 6, 7]}
# paper presets: Es/N0 offsets from the paper SNR (the LDPC waterfall lies around -0.5..+1 dB)
GRID_OFFSETS = (-1.0, -0.5, 0.0, 0.5, 1.0, 2.0)
# Sionna's 5G LDPC (k 3072..6144) reaches PER 1 % about 0.5-2 dB below each paper SNR
LINKSIM_OFFSETS = (-2.0, -1.5, -1.0, -0.5, 0.0)


def per_point(mcs, esn0, pdus, sent, seed):
    nv = 10 ** (-pc.esn0_to_sample_snr_db(esn0) / 20)
    res = run_loopback(ofdm_pdu_tx(mtu=1500, mcs=mcs), ofdm_pdu_rx(mtu=1500), pdus, noise_voltage=nv,
                       freq_offset=0.1 / 64, epsilon=1 + 20e-6, seed=seed, timeout=600)
    return 1 - res.delivered(sent) / len(sent)


# Runs in the ML venv: the streaming emulator of `lgvsc channel` (lgvsc.channels), on a file.  The
# stream is cut at burst boundaries into `ends` segments; segment i goes through its own fading
# realisation (seed + i), so the PDUs of a point see many independent channels (a 200-PDU stream at
# 5 MS/s lasts ~1 s, only ~10 Doppler periods of 10 Hz); the noise runs on across segments.
_FADING = """
import sys, json
import numpy as np
from sionna.phy import config
from lgvsc.channels.models import ChannelSpec, StreamingChannel
from lgvsc.channels.noise import StreamingNoise
src, dst, model, doppler, delay, snr, seed, rate, ends = sys.argv[1:10]
config.seed = int(seed) + 1
noise = StreamingNoise(float(snr))
import torch
x = np.load(src).astype(np.complex64)
out, start = [], 0
for i, end in enumerate(json.loads(ends)):
    spec = ChannelSpec(model=model, sample_rate=float(rate), doppler=float(doppler),
                       delay_spread=None if delay == "none" else float(delay), seed=int(seed) + i)
    spec.validate()
    chan = StreamingChannel(spec)
    for j in range(start, end, 1 << 16):
        blk = np.ascontiguousarray(x[j:min(j + (1 << 16), end)])
        y = chan.process(blk)
        with torch.no_grad():
            out.append(noise(torch.from_numpy(blk), torch.from_numpy(y)).numpy())
    start = end
np.save(dst, np.concatenate(out).astype(np.complex64))
"""

#: Es/N0 (dB) at which each preset reaches PER 1 % over AWGN + CFO + SRO with this receiver
#: (docs/PHY.md, 200 PDUs, 2026-12-02, after 4ca8e80): the code threshold of the outage bound
#: when this run has no AWGN curve of its own.
AWGN_PER1_DB = {"paper-0dB": 0.18, "paper-2dB": 2.0, "paper-4dB": 4.0, "paper-6dB": 5.0, "paper-8dB": 7.08,
                "paper-10dB": 9.86}
#: Default bandwidth (sample rate) of the fading column, chosen in docs/PHY.md ("Fading vs bandwidth").
FADING_RATE = 5e6


def _wait(cond, timeout, idle, progress):
    """Poll until cond() or progress() stays unchanged for idle s (after cond can no longer change)."""
    t0 = last = time.monotonic()
    key = None
    while time.monotonic() - t0 < timeout:
        time.sleep(0.05)
        if cond():
            return
        k = progress()
        if k != key:
            key, last = k, time.monotonic()
        elif time.monotonic() - last > idle:
            return


def tx_samples(mcs, pdus):
    """The complex baseband ofdm_pdu_tx sends for ``pdus`` (bursts and gaps), as numpy."""
    tb = gr.top_block("phy_per_tx")
    feeder, tx, txs, snk = pdu_feeder(pdus), ofdm_pdu_tx(mtu=1500, mcs=mcs), pdu_collector(), blocks.vector_sink_c()
    tb.msg_connect(feeder, "out", tx, "in")
    tb.msg_connect(tx, "status", txs, "status")
    tb.connect(tx, snk)
    want = sum(pc.ofdm_burst_samples(len(pmt.u8vector_elements(pmt.cdr(p))), mcs) for p in pdus)
    tb.start()
    _wait(lambda: txs.status.get("tx_pdus", 0) >= len(pdus) and len(snk.data()) >= want, 600, 5.0,
          lambda: (txs.status.get("tx_pdus", 0), len(snk.data())))
    tb.stop()
    tb.wait()
    return np.asarray(snk.data(), dtype=np.complex64)


def rx_pdus(samples, n):
    """What ofdm_pdu_rx delivers from ``samples`` (LoopbackResult-like list of (meta, bytes))."""
    tb = gr.top_block("phy_per_rx")
    src, rx, col = blocks.vector_source_c(samples.tolist()), ofdm_pdu_rx(mtu=1500), pdu_collector()
    tb.connect(src, rx)
    tb.msg_connect(rx, "out", col, "in")
    tb.msg_connect(rx, "status", col, "status")
    tb.start()
    _wait(lambda: col.status.get("rx_ok", 0) + col.status.get("rx_crc_fail", 0) >= n, 900, 5.0,
          lambda: (src.nitems_written(0), len(col.pdus), col.status.get("rx_crc_fail", 0)))
    tb.stop()
    tb.wait()
    return list(col.pdus)


def fading_per(mcs, esn0, pdus, sent, venv, seed, model="tdl-c", doppler=10.0, delay="300e-9", rate=FADING_RATE,
               streams=10, detail=False):
    """PER through the Sionna emulator at Es/N0 ``esn0`` (average over the fading) and the stream's
    length in s, or None.  ``rate``: the emulator's sample rate = the PHY's bandwidth; ``streams``:
    independent fading realisations the PDUs are spread over (whole bursts each).  ``detail``: also
    the indices of the PDUs lost."""
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        return None
    x = tx_samples(mcs, pdus)
    per_burst = [pc.ofdm_burst_samples(len(pmt.u8vector_elements(pmt.cdr(p))), mcs) for p in pdus]
    if sum(per_burst) != len(x):
        raise RuntimeError(f"TX wrote {len(x)} samples, the burst formula says {sum(per_burst)}")
    cum = np.cumsum(per_burst)
    streams = max(1, min(int(streams), len(pdus)))
    ends = [int(cum[round(len(pdus) * (i + 1) / streams) - 1]) for i in range(streams)]
    x = np.concatenate([x, np.zeros(20000, np.complex64)])
    ends[-1] = len(x)
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "tx.npy"), os.path.join(d, "rx.npy")
        np.save(src, x)
        snr = pc.esn0_to_sample_snr_db(esn0)  # the emulator's SNR is per sample (docs/PHY.md)
        try:
            subprocess.run([py, "-c", _FADING, src, dst, model, str(doppler), str(delay), str(snr), str(seed),
                            str(float(rate)), json.dumps(ends)],
                           check=True, timeout=3600, capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            print(f"  fading {mcs}: emulator failed: {exc.stderr.strip().splitlines()[-1:]}")
            return None
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"  fading {mcs}: emulator not run ({exc})")
            return None
        y = np.load(dst)
    got = rx_pdus(y, len(pdus))
    pool = {}
    for _, data in got:
        pool[data] = pool.get(data, 0) + 1
    hits, lost = 0, []
    for i, data in enumerate(sent):
        if pool.get(data, 0):
            pool[data] -= 1
            hits += 1
        else:
            lost.append(i)
    res = (1 - hits / len(sent), len(x) / float(rate))
    return res + (lost,) if detail else res


def outage_bound(venv, rate, points, model="tdl-c", doppler=10.0, delay=300e-9, realisations=4000):
    """{mcs: dict} from bench/fading_outage.py in the ML venv (the outage bound of the same channel), or {}.

    ``points``: (mcs, esn0_db) pairs of paper presets."""
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        return {}
    occupied, pilots, _ = pc.carrier_layout("wifi64", 64)
    data = [int(k) for k in occupied[0]]
    cmd = [py, os.path.join(HERE, "fading_outage.py"), "--model", model, "--delay-spread", str(delay),
           "--doppler", str(doppler), "--sample-rate", str(float(rate)), "--realisations", str(realisations),
           "--carriers=" + ",".join(str(k) for k in data)]
    for mcs, esn0 in points:
        _, mod, r = pc.MCS[mcs]
        bits = pc.CONSTELLATIONS[mod or "qpsk"]().bits_per_symbol()
        cmd += ["--point", f"{mcs}:{bits}:{r}:{esn0}:{AWGN_PER1_DB[mcs]}:{pc.ofdm_burst_samples(1200, mcs)}"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=True).stdout
    except subprocess.CalledProcessError as exc:
        print(f"  outage bound: failed: {exc.stderr.strip().splitlines()[-1:]}")
        return {}
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"  outage bound: not run ({exc})")
        return {}
    res = {}
    for line in out.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            res[d["mcs"]] = d
    return res


def linksim(venv, preset, snrs, nbits, pdu_bits, cache_path=None):
    """{snr: PDU error rate} from `lgvsc linksim --preset`, or {} when it cannot run.

    Sionna's results do not depend on the GNU Radio PHY: they are kept in ``cache_path`` (JSON,
    keyed by preset, SNR, bits and seed) and reused by later runs with the same parameters."""
    cache = {}
    if cache_path and os.path.exists(cache_path):
        with open(cache_path) as f:
            cache = json.load(f)
    key = f"{preset}|{nbits}|1"
    have = cache.get(key, {})
    todo = [s for s in snrs if str(float(s)) not in have]
    exe = os.path.join(venv, "bin", "lgvsc")
    if todo and os.path.exists(exe):
        cmd = [exe, "linksim", "--preset", preset, "--random-bits", str(nbits), "--seed", "1", "--snr",
               *[str(s) for s in todo]]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=True).stdout
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"  linksim {preset}: not run ({exc})")
            out = ""
        for line in out.splitlines():
            if line.startswith("{"):
                d = json.loads(line)
                have[str(float(d["snr_db"]))] = {"bler": d["bler"], "k": d["k"], "blocks": d["num_blocks"]}
        cache[key] = have
        if cache_path:
            with open(cache_path, "w") as f:
                json.dump(cache, f, indent=1)
    res = {}
    for snr in snrs:
        d = have.get(str(float(snr)))
        if d is not None:
            res[float(snr)] = 1 - (1 - d["bler"]) ** (pdu_bits / d["k"])
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


def load_csv(path):
    """rows, curves, sims, fading of a phy_per.csv written by this bench."""
    rows, curves, sims, fading = [], {}, {}, {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows.append(r)
            m, snr = r["mcs"], float(r["esn0_db"])
            if r["per"] not in ("", None):
                curves.setdefault(m, {})[snr] = float(r["per"])
            if r.get("linksim_per") not in ("", None):
                sims.setdefault(m, {})[snr] = float(r["linksim_per"])
            if r.get("tdlc_per") not in ("", None):
                fading[m] = (float(r["tdlc_per"]), None)
    return rows, curves, sims, fading


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
    ap.add_argument("--linksim-pdus", type=int, default=30,
                    help="PDUs' worth of random bits per linksim point (default %(default)s; cached in --out)")
    ap.add_argument("--linksim-only", action="store_true", help="only fill the linksim cache, then stop")
    ap.add_argument("--tput-pdus", type=int, default=200)
    ap.add_argument("--no-fading", action="store_true")
    ap.add_argument("--no-tput", action="store_true", help="skip the throughput part")
    ap.add_argument("--fading-pdus", type=int, default=None, help="PDUs per fading point (default --pdus)")
    ap.add_argument("--fading-margin", type=float, default=4.0, help="dB over the paper SNR (default %(default)s)")
    ap.add_argument("--doppler", type=float, default=10.0, help="TDL-C maximum Doppler, Hz (default %(default)s)")
    ap.add_argument("--delay-spread", type=float, default=300e-9, help="TDL-C RMS delay spread, s (default 300 ns)")
    ap.add_argument("--fading-rate", type=float, default=FADING_RATE,
                    help="the emulator's sample rate = the PHY's bandwidth, S/s (default %(default)g; docs/PHY.md "
                         "'Fading vs bandwidth': 1e6 is the narrowband, outage-limited case)")
    ap.add_argument("--fading-streams", type=int, default=10,
                    help="independent fading realisations the fading PDUs are spread over (default %(default)s)")
    ap.add_argument("--outage", action="store_true",
                    help="also the outage bound of the fading channel per preset (bench/fading_outage.py, ML venv)")
    ap.add_argument("--no-awgn", action="store_true", help="skip the AWGN PER curves (fading column only)")
    ap.add_argument("--from-csv", help="print the table and plot of an earlier run's phy_per.csv, measure nothing")
    ap.add_argument("--fading-diag", action="store_true",
                    help="also static TDL-C (0 Hz) and flat Rayleigh at --doppler, same SNR and PDUs")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    pdus = random_pdus(a.pdus, a.bytes, seed=11, min_len=a.bytes)
    sent = [bytes(pmt.u8vector_elements(pmt.cdr(p))) for p in pdus]
    if a.from_csv:  # re-print and re-plot a finished run
        rows, curves, sims, fading = load_csv(a.from_csv)
        a.mcs, a.no_tput = [m for m in a.mcs if m in curves or m in fading], True
    else:
        rows, curves, sims = [], {}, {}
        for mcs in a.mcs:
            base = pc.PAPER_MCS_SNR_DB.get(mcs)
            if base is not None and not a.no_linksim:
                lgrid = [base + d for d in LINKSIM_OFFSETS]
                sims[mcs] = linksim(a.venv, mcs, lgrid, a.linksim_pdus * 8 * (a.bytes + 4), 8 * (a.bytes + 4),
                                    os.path.join(a.out, "phy_per_linksim.json"))
                for esn0, per in sorted(sims[mcs].items()):
                    print(f"  linksim {mcs:10s} Es/N0 {esn0:5.1f} dB: {per:.3f}", flush=True)
                    rows.append({"mcs": mcs, "esn0_db": esn0, "per": None, "linksim_per": round(per, 4),
                                 "tdlc_per": None})
        if a.linksim_only:
            return
        for mcs in a.mcs:
            base = pc.PAPER_MCS_SNR_DB.get(mcs)
            grid = [] if a.no_awgn else GRID.get(mcs) or [base + d for d in GRID_OFFSETS]
            curves[mcs] = {}
            for i, esn0 in enumerate(grid):
                per = per_point(mcs, esn0, pdus, sent, seed=100 + i)
                curves[mcs][esn0] = per
                print(f"  PER {mcs:10s} Es/N0 {esn0:5.1f} dB: {per:.3f}", flush=True)
                rows.append({"mcs": mcs, "esn0_db": esn0, "per": round(per, 4), "linksim_per": None,
                             "tdlc_per": None})
        fading = {}
        if not a.no_fading:
            nf = a.fading_pdus or a.pdus
            fpdus = random_pdus(nf, a.bytes, seed=12, min_len=a.bytes)
            fsent = [bytes(pmt.u8vector_elements(pmt.cdr(p))) for p in fpdus]
            for mcs in a.mcs:
                base = pc.PAPER_MCS_SNR_DB.get(mcs)
                if base is None:
                    continue
                r = fading_per(mcs, base + a.fading_margin, fpdus, fsent, a.venv, seed=7, doppler=a.doppler,
                               delay=str(a.delay_spread), rate=a.fading_rate, streams=a.fading_streams)
                if r is not None:
                    fading[mcs] = r
                    print(f"  fading {mcs:10s} Es/N0 {base + a.fading_margin:5.1f} dB at {a.fading_rate / 1e6:g} MS/s: "
                          f"PER {r[0]:.3f} ({r[1]:.2f} s of fading stream in {a.fading_streams} realisations = "
                          f"{r[1] * a.doppler:.0f} Doppler periods)", flush=True)
                rows.append({"mcs": mcs, "esn0_db": base + a.fading_margin, "per": None, "linksim_per": None,
                             "tdlc_per": None if r is None else round(r[0], 4)})
                if a.fading_diag:  # what costs: the fading statistics, or the channel changing within a burst
                    for model, dop, dly in (("tdl-c", 0.0, str(a.delay_spread)), ("rayleigh", a.doppler, "none")):
                        d = fading_per(mcs, base + a.fading_margin, fpdus, fsent, a.venv, seed=7, model=model,
                                       doppler=dop, delay=dly, rate=a.fading_rate, streams=a.fading_streams)
                        if d is not None:
                            print(f"    diagnostic {model} {dop:g} Hz: PER {d[0]:.3f}", flush=True)
    bound = {}
    if a.outage and not a.from_csv:
        bound = outage_bound(a.venv, a.fading_rate, [(m, pc.PAPER_MCS_SNR_DB[m] + a.fading_margin) for m in a.mcs
                                                     if m in pc.PAPER_MCS_SNR_DB],
                             doppler=a.doppler, delay=a.delay_spread)
    print("\nSNR (Es/N0 per data subcarrier, dB) at PER 1 %, AWGN + CFO 0.1 subcarrier + 20 ppm SRO, "
          f"{a.bytes}-byte PDUs, {a.pdus} per point; linksim = Sionna 5G LDPC at the paper preset's "
          "modulation and rate (target: gnuradio - linksim <= 1.5 dB)")
    print(f"fading: TDL-C {a.delay_spread * 1e9:g} ns, {a.doppler:g} Hz Doppler, at {a.fading_rate / 1e6:g} MS/s "
          f"(the PHY's bandwidth), {a.fading_pdus or a.pdus} PDUs in {a.fading_streams} realisations"
          + ("; outage = P(burst mutual information < what the LDPC code needs over AWGN), perfect CSI"
             if bound else ""))
    print(f"{'mcs':12s} {'mod':>6s} {'rate':>5s} {'paper':>6s} {'gnuradio':>9s} {'linksim':>8s} {'diff':>6s} "
          f"{'<=1.5':>5s} {'TDL-C @' + format(a.fading_rate / 1e6, 'g') + ' MS/s +' + format(a.fading_margin, 'g') + ' dB':>24s} "
          f"{'<=1 %':>5s}" + (f" {'outage':>7s}" if bound else ""))
    for mcs in a.mcs:
        g, sl = snr_at(curves.get(mcs, {})), snr_at(sims.get(mcs, {})) if sims.get(mcs) else None
        diff = None if g is None or sl is None else round(g - sl, 2)
        _, mod, rate = pc.MCS[mcs]
        fd = fading.get(mcs)
        print(f"{mcs:12s} {mod or 'qpsk':>6s} {rate:5.3f} {str(pc.PAPER_MCS_SNR_DB.get(mcs, '-')):>6s} "
              f"{str(g):>9s} {str(sl):>8s} {str(diff):>6s} {'-' if diff is None else ('yes' if diff <= 1.5 else 'NO'):>5s} "
              f"{'-' if fd is None else format(fd[0], '.3f'):>24s} "
              f"{'-' if fd is None else ('yes' if fd[0] <= 0.01 else 'NO'):>5s}"
              + (f" {bound[mcs]['p_out_code']:7.4f}" if mcs in bound else (" " * 8 if bound else "")))
    if rows:
        with open(os.path.join(a.out, "phy_per.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(12, 6))
        for i, mcs in enumerate(a.mcs):
            pts = sorted(curves.get(mcs, {}).items())
            color = f"C{i}"
            ax.semilogy([p[0] for p in pts], [max(p[1], 1e-3) for p in pts], "o-", color=color,
                        label=f"{mcs} (GNU Radio)")
            if sims.get(mcs):
                sp = sorted(sims[mcs].items())
                ax.semilogy([p[0] for p in sp], [max(p[1], 1e-3) for p in sp], "x--", color=color,
                            label=f"{mcs} (linksim)")
            if fading.get(mcs):
                ax.semilogy([pc.PAPER_MCS_SNR_DB[mcs] + a.fading_margin], [max(fading[mcs][0], 1e-3)], "*",
                            color=color, markersize=11, label=f"{mcs} (GNU Radio, TDL-C {a.doppler:g} Hz)")
        ax.axhline(0.01, color="grey", lw=0.8)
        ax.set_xlabel("Es/N0 per data subcarrier (dB)")
        ax.set_ylabel(f"PER ({a.bytes}-byte PDUs; 1e-3 = none lost)")
        ax.set_title("OFDM PHY, AWGN + 0.1 subcarrier CFO + 20 ppm SRO: o GNU Radio, x Sionna linksim; * GNU Radio, TDL-C")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
        fig.savefig(os.path.join(a.out, "phy_per.png"), dpi=110)
    except ImportError:
        print("matplotlib missing: no plot")
    if a.no_tput:
        return
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
