# SPDX-License-Identifier: GPL-3.0-or-later
"""Helper run by GNU Radio's interpreter (/usr/bin/python3) for tests/test_loopback_sionna.py.

The script equivalent of flowgraphs/loopback_sionna.grc, with a fixed PDU list instead of
the random strobe:  pdu_feeder -> ofdm_pdu_tx -> zeromq.push_sink(bind TX_ADDR)  and
zeromq.pull_source(connect RX_ADDR) -> ofdm_pdu_rx -> pdu_collector.
Usage: sionna_loopback_peer.py TX_ADDR RX_ADDR N_PDUS PDU_LEN RATE SEED TIMEOUT_S
Prints one JSON line: {"sent": [hex...], "received": [hex...], "rx_status": {...}}.
"""

import json
import os
import sys
import time

import pmt
from gnuradio import gr, zeromq

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "gr-lgvsc", "python"))
from lgvsc.loopback import pdu_collector, pdu_feeder, random_pdus
from lgvsc.ofdm_pdu_rx import ofdm_pdu_rx
from lgvsc.ofdm_pdu_tx import ofdm_pdu_tx


def main():
    tx_addr, rx_addr = sys.argv[1:3]
    n, length, rate, seed, timeout = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), \
        float(sys.argv[7])
    pdus = random_pdus(n, length, seed=seed, min_len=length)
    tb = gr.top_block()
    feeder = pdu_feeder(pdus, rate=rate)
    tx = ofdm_pdu_tx(mtu=length)
    sink = zeromq.push_sink(gr.sizeof_gr_complex, 1, tx_addr, 100, False, -1)
    src = zeromq.pull_source(gr.sizeof_gr_complex, 1, rx_addr, 100, False, -1)
    rx = ofdm_pdu_rx(mtu=length)
    col = pdu_collector()
    tb.msg_connect(feeder, "out", tx, "in")
    tb.connect(tx, sink)
    tb.connect(src, rx)
    tb.msg_connect(rx, "out", col, "in")
    tb.msg_connect(rx, "status", col, "status")
    tb.start()
    t0 = time.monotonic()
    last, last_change = 0, t0
    while len(col.pdus) < n and time.monotonic() - t0 < timeout:
        time.sleep(0.05)
        if len(col.pdus) != last:
            last, last_change = len(col.pdus), time.monotonic()
        if feeder.done.is_set() and time.monotonic() - last_change > 5.0:
            break  # the link went quiet
    tb.stop()
    tb.wait()
    sent = [bytes(pmt.u8vector_elements(pmt.cdr(p))).hex() for p in pdus]
    got = [d.hex() for _, d in col.pdus]
    print(json.dumps({"sent": sent, "received": got, "rx_status": col.status}, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
