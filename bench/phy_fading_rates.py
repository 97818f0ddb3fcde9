#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""PER of the OFDM PHY through the Sionna TDL emulator vs the emulator's sample rate (= the PHY's bandwidth).

Run with /usr/bin/python3 (GNU Radio); the emulator and the outage bound run in the ML venv (--venv).
For each --rates value and paper preset: PER of --pdus 1,200-byte PDUs at the paper SNR + --margin dB
and at --high dB Es/N0 (which separates what the receiver loses, e.g. tracking and channel estimation,
from the depth of the fades), spread over --streams independent fading realisations (bench/phy_per.py's
fading_per), beside the outage bound of the same channel (bench/fading_outage.py: the probability that a
burst's mutual information lies below what the LDPC code needs over AWGN, perfect CSI). One JSON line per
point on stdout and appended to --out/phy_fading_rates.jsonl (so an interrupted run keeps its points).
docs/PHY.md "Fading vs bandwidth" has the results and the choice of bench/phy_per.py's --fading-rate.
"""

import argparse
import importlib.util
import json
import os
import time

import pmt
from gnuradio.lgvsc import phy_common as pc
from gnuradio.lgvsc.loopback import random_pdus

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("phy_per", os.path.join(HERE, "phy_per.py"))
phy_per = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(phy_per)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/bench")
    ap.add_argument("--rates", type=float, nargs="+", default=[1e6, 2e6, 5e6, 10e6])
    ap.add_argument("--mcs", nargs="+", default=[m for m in pc.MCS_NAMES if m in pc.PAPER_MCS_SNR_DB])
    ap.add_argument("--pdus", type=int, default=200)
    ap.add_argument("--streams", type=int, default=10, help="independent fading realisations per point")
    ap.add_argument("--margin", type=float, default=4.0, help="dB over the paper SNR (default %(default)s)")
    ap.add_argument("--high", type=float, nargs="*", default=[30.0], help="also these Es/N0 (dB); none: skip")
    ap.add_argument("--no-margin", action="store_true", help="only the --high points")
    ap.add_argument("--model", default="tdl-c")
    ap.add_argument("--doppler", type=float, default=10.0)
    ap.add_argument("--delay-spread", type=float, default=300e-9)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-outage", action="store_true")
    ap.add_argument("--realisations", type=int, default=4000, help="fading realisations of the outage bound")
    ap.add_argument("--no-per", action="store_true", help="only the outage bound")
    ap.add_argument("--venv", default=os.path.join(HERE, "..", ".venv"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, "phy_fading_rates.jsonl"), "a")

    def emit(d):
        line = json.dumps(d)
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    pdus = random_pdus(a.pdus, 1200, seed=12, min_len=1200)
    sent = [bytes(pmt.u8vector_elements(pmt.cdr(p))) for p in pdus]
    for rate in a.rates:
        if not a.no_outage:
            t0 = time.time()
            b = phy_per.outage_bound(a.venv, rate, [(m, pc.PAPER_MCS_SNR_DB[m] + a.margin) for m in a.mcs],
                                     model=a.model, doppler=a.doppler, delay=a.delay_spread,
                                     realisations=a.realisations)
            for m in a.mcs:
                if m in b:
                    emit({"kind": "outage", **b[m], "seconds": round(time.time() - t0, 1)})
        if a.no_per:
            continue
        for m in a.mcs:
            for esn0 in ([] if a.no_margin else [pc.PAPER_MCS_SNR_DB[m] + a.margin]) + list(a.high):
                t0, c0 = time.time(), os.times()
                r = phy_per.fading_per(m, esn0, pdus, sent, a.venv, a.seed, model=a.model, doppler=a.doppler,
                                       delay=str(a.delay_spread), rate=rate, streams=a.streams, detail=True)
                c1 = os.times()
                if r is None:
                    emit({"kind": "per", "mcs": m, "sample_rate": rate, "esn0_db": esn0, "error": "not run"})
                    continue
                emit({"kind": "per", "mcs": m, "sample_rate": rate, "esn0_db": esn0, "pdus": a.pdus,
                      "streams": a.streams, "per": round(r[0], 4), "lost": r[2], "stream_s": round(r[1], 3),
                      "wall_s": round(time.time() - t0, 1),
                      "cpu_s": round(c1.user + c1.system + c1.children_user + c1.children_system
                                     - c0.user - c0.system - c0.children_user - c0.children_system, 1)})


if __name__ == "__main__":
    main()
