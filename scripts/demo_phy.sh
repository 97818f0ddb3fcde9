#!/usr/bin/env bash
# PHY loopback demo: random PDUs through the installed gnuradio.lgvsc OFDM PHY
# (ofdm_pdu_tx -> channels.channel_model -> ofdm_pdu_rx), headless; prints a
# summary.  Options are passed on: --n, --mtu, --fec none|cc, --noise, --freq-offset.
set -euo pipefail
GR_PYTHON="${GR_PYTHON:-/usr/bin/python3}"
exec "$GR_PYTHON" - "$@" <<'PY'
import argparse, sys
import pmt
from gnuradio.lgvsc import ofdm_pdu_rx, ofdm_pdu_tx
from gnuradio.lgvsc.loopback import random_pdus, run_loopback
ap = argparse.ArgumentParser(prog="demo_phy.sh")
ap.add_argument("--n", type=int, default=500)
ap.add_argument("--mtu", type=int, default=1500)
ap.add_argument("--fec", choices=("none", "cc"), default="none")
ap.add_argument("--noise", type=float, default=0.05, help="channel noise voltage (unit-power bursts)")
ap.add_argument("--freq-offset", type=float, default=0.001, help="cycles/sample")
a = ap.parse_args(sys.argv[1:])
pdus = random_pdus(a.n, a.mtu, seed=1)
sent = [bytes(pmt.u8vector_elements(pmt.cdr(p))) for p in pdus]
res = run_loopback(ofdm_pdu_tx(mtu=a.mtu, fec_mode=a.fec), ofdm_pdu_rx(mtu=a.mtu, fec_mode=a.fec), pdus,
                   noise_voltage=a.noise, freq_offset=a.freq_offset)
ok = res.delivered(sent)
last = sent[-1] in {d for _, d in res.received}
print(f"OFDM PDU loopback (fec={a.fec}, noise={a.noise}, freq_offset={a.freq_offset}, mtu={a.mtu})")
print(f"  sent           {a.n} PDUs, {sum(map(len, sent))} bytes")
print(f"  received       {len(res.received)} PDUs ({ok} byte-exact), last PDU {'arrived' if last else 'LOST'}")
print(f"  CRC failed     {res.rx_status.get('rx_crc_fail', 0)} (counted, not forwarded)")
print(f"  delivery       {100.0 * ok / max(1, a.n):.2f} %")
print(f"  air samples    {res.samples} in {res.seconds:.2f} s ({res.samples / max(res.seconds, 1e-9) / 1e6:.2f} MS/s)")
sys.exit(0 if ok == a.n else 1)
PY
