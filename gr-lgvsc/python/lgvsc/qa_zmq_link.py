#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two real processes joined by a gr-zeromq IQ stream on 127.0.0.1 (a virtual
radio): process TX runs ofdm_pdu_tx -> zeromq.push_sink, process RX runs
zeromq.pull_source -> ofdm_pdu_rx and reports the PDUs it received."""

import json
import os
import socket
import subprocess
import sys
import textwrap

from gnuradio import gr_unittest

TX = textwrap.dedent("""
    import sys, time
    from gnuradio import gr, zeromq
    from gnuradio.lgvsc import ofdm_pdu_tx
    from gnuradio.lgvsc.loopback import pdu_feeder, random_pdus
    tb = gr.top_block()
    feeder = pdu_feeder(random_pdus(int(sys.argv[2]), 500, seed=int(sys.argv[3])))
    tx = ofdm_pdu_tx(mtu=500)
    sink = zeromq.push_sink(gr.sizeof_gr_complex, 1, sys.argv[1], 100, False, -1)
    tb.msg_connect(feeder, "out", tx, "in")
    tb.connect(tx, sink)
    tb.start()
    feeder.done.wait(30)
    time.sleep(float(sys.argv[4]))
    tb.stop(); tb.wait()
""")

RX = textwrap.dedent("""
    import json, sys, time
    from gnuradio import gr, zeromq
    from gnuradio.lgvsc import ofdm_pdu_rx
    from gnuradio.lgvsc.loopback import pdu_collector
    tb = gr.top_block()
    src = zeromq.pull_source(gr.sizeof_gr_complex, 1, sys.argv[1], 100, False, -1)
    rx = ofdm_pdu_rx(mtu=500)
    col = pdu_collector()
    tb.connect(src, rx)
    tb.msg_connect(rx, "out", col, "in")
    tb.msg_connect(rx, "status", col, "status")
    tb.start()
    t0 = time.monotonic()
    while len(col.pdus) < int(sys.argv[2]) and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    tb.stop(); tb.wait()
    print(json.dumps({"payloads": [d.hex() for _, d in col.pdus], "status": col.status}))
""")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class qa_zmq_link(gr_unittest.TestCase):

    def test_two_process_iq_link(self):
        import pmt
        from gnuradio.lgvsc.loopback import random_pdus
        n, seed = 100, 4
        addr = f"tcp://127.0.0.1:{free_port()}"
        env = dict(os.environ)
        rx = subprocess.Popen([sys.executable, "-c", RX, addr, str(n)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, env=env, text=True)
        tx = subprocess.Popen([sys.executable, "-c", TX, addr, str(n), str(seed), "3"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            out, _ = rx.communicate(timeout=90)
            tx.wait(timeout=30)
        finally:
            for p in (rx, tx):
                if p.poll() is None:
                    p.kill()
        self.assertEqual(rx.returncode, 0)
        result = json.loads(out.strip().splitlines()[-1])
        sent = [bytes(pmt.u8vector_elements(pmt.cdr(p))).hex() for p in random_pdus(n, 500, seed=seed)]
        got = result["payloads"]
        self.assertGreaterEqual(len(got), n - 1, result["status"])
        self.assertTrue(set(got) <= set(sent))
        self.assertIn(sent[-1], got)


if __name__ == "__main__":
    gr_unittest.run(qa_zmq_link)
