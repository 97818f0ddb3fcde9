#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""PER vs SNR of every MCS the PSK PHY carries (psk_pdu_tx.PSK_MCS_NAMES), and the header's
decode rate below the most robust MCS's working point.

Run with /usr/bin/python3 (GNU Radio).  --n PDUs of --bytes bytes per point through
psk_pdu_tx -> channels.channel_model (AWGN, --cfo cycles/sample, --ppm sample-rate offset as
epsilon, seeded) -> psk_pdu_rx.  SNR is Es/N0 per symbol after the matched filter (docs/PHY.md:
per-sample SNR + 10 log10(sps)).  "hdr" is the fraction of bursts whose header decoded
(delivered + payload CRC failures).  Prints a table; --json writes the points.
"""

import argparse
import json
import math
import time

import pmt
from gnuradio.lgvsc import psk_pdu_rx, psk_pdu_tx
from gnuradio.lgvsc.loopback import random_pdus, run_loopback
from gnuradio.lgvsc.psk_pdu_tx import PSK_MCS_NAMES


def point(mcs, esn0, n, nbytes, cfo, ppm, payload_mod, sps=2, seed=5):
    pdus = random_pdus(n, nbytes, seed=seed, min_len=nbytes)
    sent = [bytes(pmt.u8vector_elements(pmt.cdr(p))) for p in pdus]
    noise = 10 ** (-(esn0 - 10 * math.log10(sps)) / 20)
    t0 = time.monotonic()
    res = run_loopback(psk_pdu_tx(sps=sps, mtu=max(1500, nbytes), mcs=mcs, payload_mod=payload_mod),
                       psk_pdu_rx(sps=sps, mtu=max(1500, nbytes)), pdus, noise_voltage=noise,
                       freq_offset=cfo, epsilon=1 + ppm * 1e-6, seed=seed, timeout=600)
    got = res.delivered(sent)
    st = res.rx_status
    hdr = got + st.get("rx_crc_fail", 0)
    return {"mcs": mcs, "esn0_db": esn0, "n": n, "delivered": got, "per": round(1 - got / n, 4),
            "header_ok": round(min(hdr, n) / n, 4), "rx_detect": st.get("rx_detect"),
            "seconds": round(time.monotonic() - t0, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mcs", default=",".join(PSK_MCS_NAMES))
    ap.add_argument("--esn0", default="-2,0,2,4,6,8", help="Es/N0 points, dB (comma list)")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--bytes", type=int, default=1200)
    ap.add_argument("--cfo", type=float, default=0.001, help="carrier offset, cycles/sample")
    ap.add_argument("--ppm", type=float, default=20.0, help="sample-rate offset, ppm")
    ap.add_argument("--payload-mod", default="bpsk", help="payload modulation of none / cc")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    rows = []
    print(f"{'mcs':10s} {'Es/N0':>6s} {'PER':>7s} {'hdr ok':>7s} {'delivered':>10s}")
    for mcs in a.mcs.split(","):
        for esn0 in (float(x) for x in a.esn0.split(",")):
            r = point(mcs, esn0, a.n, a.bytes, a.cfo, a.ppm, a.payload_mod)
            rows.append(r)
            print(f"{mcs:10s} {esn0:6.1f} {r['per']:7.3f} {r['header_ok']:7.3f} {r['delivered']:5d}/{a.n}"
                  f"   ({r['seconds']} s)", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "points": rows}, f, indent=1)


if __name__ == "__main__":
    main()
