#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Raw PDUs through the gr-lgvsc PHY (run with GNU Radio's interpreter, not the ML venv).

``phy_pdu_runner.py IN OUT --snr S --mcs M ...``: IN holds PDUs, each a 4-byte big-endian
length then its bytes; every one goes ofdm_pdu_tx (or psk_pdu_tx) → ``channels.channel_model``
(AWGN; ``--snr`` is Es/N0 per data subcarrier (OFDM) or per symbol (PSK), the convention of
``link_runner --snr`` and docs/PHY.md, converted to the per-sample ``noise_voltage`` by
``link_runner.sample_snr_db``) → ofdm_pdu_rx, through ``gnuradio.lgvsc.loopback.run_loopback``.
OUT gets the PDUs that passed the PHY's CRC, in the same framing, and ``OUT.json`` the
counters. This is how the evaluation sends H.26x bitstreams over ``--transport phy``: the
loopback's encoder/decoder workers carry the semantic stream only. Imports the standard
library and GNU Radio only (numpy 1 side).
"""

import argparse
import json
import struct
import sys

__all__ = ["main"]

MAX_PDUS = 200_000  # bounds the input we read (a file we wrote, but sizes are checked anyway)


def _read(path, mtu):
    data = open(path, "rb").read()
    out, i = [], 0
    while i < len(data):
        if i + 4 > len(data):
            raise ValueError("truncated PDU length")
        (n,) = struct.unpack(">I", data[i:i + 4])
        if not 1 <= n <= mtu or i + 4 + n > len(data) or len(out) >= MAX_PDUS:
            raise ValueError(f"bad PDU of {n} bytes at offset {i}")
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pdus_in")
    ap.add_argument("pdus_out")
    ap.add_argument("--snr", type=float, required=True, help="Es/N0 in dB per data subcarrier / PSK symbol (link_runner's --snr)")
    ap.add_argument("--phy", default="ofdm", choices=("ofdm", "psk"))
    ap.add_argument("--fec", default="none", choices=("none", "cc"))
    ap.add_argument("--mcs", default="", help="OFDM MCS or the PSK subset (docs/PHY.md); empty: the one --fec names")
    ap.add_argument("--mtu", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=600.0)
    a = ap.parse_args(argv)
    try:
        import pmt
        from gnuradio.lgvsc import ofdm_pdu_rx, ofdm_pdu_tx, psk_pdu_rx, psk_pdu_tx
        from gnuradio.lgvsc.link_runner import sample_snr_db
        from gnuradio.lgvsc.loopback import run_loopback

        payloads = _read(a.pdus_in, a.mtu)
        if a.phy == "ofdm":
            tx = ofdm_pdu_tx(mtu=a.mtu, fec_mode=a.fec, mcs=a.mcs)
            rx = ofdm_pdu_rx(mtu=a.mtu, fec_mode=a.fec, mcs=a.mcs)
        else:
            tx = psk_pdu_tx(mtu=a.mtu, fec_mode=a.fec, mcs=a.mcs)
            rx = psk_pdu_rx(mtu=a.mtu, fec_mode=a.fec, mcs=a.mcs)
        pdus = [pmt.cons(pmt.make_dict(), pmt.init_u8vector(len(p), list(p))) for p in payloads]
        snr = sample_snr_db(a.snr, a.phy, sps=int(getattr(tx, "sps", 2) or 2))
        res = run_loopback(tx, rx, pdus, noise_voltage=10 ** (-snr / 20), seed=a.seed, timeout=a.timeout)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"phy_pdu_runner: {exc}", file=sys.stderr)
        return 2
    with open(a.pdus_out, "wb") as f:
        for _, data in res.received:
            f.write(struct.pack(">I", len(data)) + data)
    counts = {k: int(v) for k, v in res.rx_status.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    with open(a.pdus_out + ".json", "w") as f:
        json.dump({"tx_pdus": len(pdus), "rx_ok": len(res.received), "rx_status": counts,
                   "samples_tx": int(res.samples), "seconds": res.seconds, "mcs": a.mcs or a.fec}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
