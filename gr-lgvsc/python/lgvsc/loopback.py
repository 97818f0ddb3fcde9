# SPDX-License-Identifier: GPL-3.0-or-later
"""Run PDUs through a PHY TX -> channel model -> PHY RX flowgraph, headless.

Used by the QA tests, bench/phy_loopback.py and scripts/demo_phy.sh.  Not a
block: ``run_loopback`` builds a ``gr.top_block``, feeds it, waits until every
packet is accounted for (or the link goes quiet) and returns what came out.
"""

import threading
import time

import numpy as np
import pmt
from gnuradio import blocks, channels, gr

__all__ = ["LoopbackResult", "pdu_collector", "pdu_feeder", "random_pdus", "run_loopback"]


class pdu_feeder(gr.basic_block):
    """Publishes a fixed list of PDUs on ``out`` from its own thread after start()."""

    def __init__(self, pdus, rate=0.0):
        gr.basic_block.__init__(self, name="lgvsc_pdu_feeder", in_sig=None, out_sig=None)
        self.message_port_register_out(pmt.intern("out"))
        self._pdus, self._rate = list(pdus), float(rate)
        self._thread = None
        self._stop = threading.Event()
        self.done = threading.Event()

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return True

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        return True

    def _run(self):
        for p in self._pdus:
            if self._stop.is_set():
                return
            self.message_port_pub(pmt.intern("out"), p)
            if self._rate > 0:
                time.sleep(1.0 / self._rate)
        self.done.set()


class pdu_collector(gr.basic_block):
    """Stores PDUs arriving on ``in`` and the last dict arriving on ``status``."""

    def __init__(self):
        gr.basic_block.__init__(self, name="lgvsc_pdu_collector", in_sig=None, out_sig=None)
        self.pdus = []
        self.status = {}
        self._lock = threading.Lock()
        for port, handler in (("in", self._pdu), ("status", self._status)):
            self.message_port_register_in(pmt.intern(port))
            self.set_msg_handler(pmt.intern(port), handler)

    def _pdu(self, msg):
        with self._lock:
            self.pdus.append((pmt.to_python(pmt.car(msg)), bytes(pmt.u8vector_elements(pmt.cdr(msg)))))

    def _status(self, msg):
        with self._lock:
            self.status = pmt.to_python(msg)


def random_pdus(n, mtu, seed=0, min_len=1):
    """``n`` PDUs of uniformly random length min_len..mtu and random bytes."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(min_len, mtu + 1))
        out.append(pmt.cons(pmt.make_dict(), pmt.init_u8vector(k, rng.integers(0, 256, k, dtype=np.uint8).tolist())))
    return out


class LoopbackResult:
    """What a loopback run produced: received (meta, bytes) list, RX/TX status, timing."""

    def __init__(self, received, rx_status, tx_status, seconds, samples):
        self.received, self.rx_status, self.tx_status = received, rx_status, tx_status
        self.seconds, self.samples = seconds, samples

    def delivered(self, sent_payloads):
        """Count of sent payloads that came out byte-exact, in order-independent matching."""
        pool = {}
        for _, data in self.received:
            pool[data] = pool.get(data, 0) + 1
        hits = 0
        for data in sent_payloads:
            if pool.get(data, 0):
                pool[data] -= 1
                hits += 1
        return hits


def run_loopback(tx, rx, pdus, noise_voltage=0.0, freq_offset=0.0, epsilon=1.0, seed=0,
                 timeout=120.0, idle=2.0):
    """Send ``pdus`` through ``tx`` -> channels.channel_model -> ``rx``.

    Returns a LoopbackResult once every PDU is accounted for (received or
    counted as a CRC failure / TX rejection), or when nothing has happened for
    ``idle`` seconds after the feeder finished, or after ``timeout``.
    """
    tb = gr.top_block("lgvsc_loopback")
    feeder = pdu_feeder(pdus)
    collector = pdu_collector()
    tx_status = pdu_collector()
    chan = channels.channel_model(noise_voltage, freq_offset, epsilon, [1.0 + 0j], seed)
    tb.msg_connect(feeder, "out", tx, "in")
    tb.msg_connect(tx, "status", tx_status, "status")
    tb.connect(tx, chan, rx)
    tb.msg_connect(rx, "out", collector, "in")
    tb.msg_connect(rx, "status", collector, "status")
    head = blocks.head(gr.sizeof_gr_complex, 1 << 62)  # item counter on the TX output
    sink = blocks.null_sink(gr.sizeof_gr_complex)
    tb.connect(tx, head, sink)
    t0 = time.monotonic()
    tb.start()
    n = len(pdus)
    last_change, last_key = time.monotonic(), None
    while time.monotonic() - t0 < timeout:
        time.sleep(0.02)
        st = collector.status
        txs = tx_status.status
        rejected = sum(txs.get(k, 0) for k in ("tx_oversize", "tx_empty", "tx_malformed"))
        accounted = st.get("rx_ok", 0) + st.get("rx_crc_fail", 0) + rejected
        if accounted >= n:
            break
        key = (accounted, head.nitems_written(0))
        if key != last_key:
            last_key, last_change = key, time.monotonic()
        elif feeder.done.is_set() and time.monotonic() - last_change > idle:
            break
    seconds = time.monotonic() - t0
    samples = head.nitems_written(0)
    tb.stop()
    tb.wait()
    return LoopbackResult(list(collector.pdus), dict(collector.status), dict(tx_status.status), seconds, samples)
