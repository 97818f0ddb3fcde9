#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA for semantic_sink: real sockets on 127.0.0.1, a minimal pyzmq PULL peer as the worker."""

import time

import pmt
import zmq
from gnuradio import blocks, gr, gr_unittest

try:
    from gnuradio.lgvsc import semantic_sink
except ImportError:  # running from the source tree
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from lgvsc import semantic_sink


def pdu(i, n=50):
    meta = pmt.dict_add(pmt.make_dict(), pmt.intern("seq"), pmt.from_long(i))
    return pmt.cons(meta, pmt.init_u8vector(n, [(i + k) % 256 for k in range(n)]))


def wait_until(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


class Peer:
    """The decoder worker's PULL socket."""

    def __init__(self, ctx, endpoint="tcp://127.0.0.1:*"):
        self.sock = ctx.socket(zmq.PULL)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.got = []

    def drain(self, want, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.got) < want and time.monotonic() < deadline:
            if self.sock.poll(50):
                self.got.append(self.sock.recv())
        return self.got

    def close(self):
        self.sock.close(0)


class qa_semantic_sink(gr_unittest.TestCase):
    def setUp(self):
        self.ctx = zmq.Context()
        self.tb = gr.top_block()

    def tearDown(self):
        self.tb.stop()
        self.tb.wait()
        self.ctx.destroy(0)

    def _flowgraph(self, endpoint, **kw):
        sink = semantic_sink(endpoint, status_interval=0.2, **kw)
        dbg = blocks.message_debug()
        self.tb.msg_connect(sink, "status", dbg, "store")
        self.tb.start()
        return sink, dbg

    def _post(self, sink, msg):
        sink.to_basic_block()._post(pmt.intern("in"), msg)

    def _states(self, dbg):
        out = []
        for i in range(dbg.num_messages()):
            d = pmt.to_python(dbg.get_message(i))
            out.append(d)
        return out

    def test_forwards_byte_exact_and_counts(self):
        peer = Peer(self.ctx)
        sink, dbg = self._flowgraph(peer.endpoint)
        msgs = [pdu(i, 1 + i % 200) for i in range(500)]
        for m in msgs:
            self._post(sink, m)
        self._post(sink, pmt.intern("not a pdu"))
        self._post(sink, pmt.cons(pmt.make_dict(), pmt.init_f32vector(1, [1.0])))
        got = peer.drain(500)
        self.assertEqual(got, [pmt.serialize_str(m) for m in msgs])
        self.assertTrue(wait_until(lambda: sink.stats()["invalid"] == 2))
        st = sink.stats()
        self.assertEqual((st["received"], st["forwarded"], st["dropped_queue_full"], st["queued"]), (500, 500, 0, 0))
        self.assertTrue(wait_until(lambda: any(s["event"] == "connected" for s in self._states(dbg))))
        peer.close()

    def test_absent_worker_bounded_queue_then_reconnect(self):
        # reserve a free port, then leave it unbound: the worker is "not started yet"
        probe = Peer(self.ctx)
        endpoint = probe.endpoint
        probe.close()
        sink, _dbg = self._flowgraph(endpoint, queue_depth=100)
        for i in range(250):
            self._post(sink, pdu(i))
        self.assertTrue(wait_until(lambda: sink.stats()["received"] == 250))
        st = sink.stats()
        # nothing vanished: the oldest 150 were dropped and counted, 100 wait
        self.assertEqual((st["dropped_queue_full"], st["queued"], st["forwarded"]), (150, 100, 0))
        self.assertNotEqual(st["worker"], "connected")
        peer = Peer(self.ctx, endpoint)  # the worker comes up
        got = peer.drain(100)
        self.assertEqual(got, [pmt.serialize_str(pdu(i)) for i in range(150, 250)])
        self.assertTrue(wait_until(lambda: sink.stats()["worker"] == "connected"))
        peer.close()

    def test_worker_killed_and_restarted(self):
        peer = Peer(self.ctx)
        endpoint = peer.endpoint
        sink, dbg = self._flowgraph(endpoint)
        for i in range(10):
            self._post(sink, pdu(i))
        self.assertEqual(len(peer.drain(10)), 10)
        peer.close()  # the worker dies
        self.assertTrue(wait_until(lambda: sink.stats()["worker"] == "disconnected"))
        for i in range(10, 30):  # the flowgraph keeps going; PDUs wait
            self._post(sink, pdu(i))
        self.assertTrue(wait_until(lambda: sink.stats()["received"] == 30))
        self.assertEqual(sink.stats()["queued"], 20)
        self.assertTrue(any(s["event"] == "disconnected" for s in self._states(dbg)))
        peer2 = Peer(self.ctx, endpoint)  # restarted worker
        got = peer2.drain(20, timeout=10)
        self.assertEqual(got, [pmt.serialize_str(pdu(i)) for i in range(10, 30)])
        self.assertTrue(wait_until(lambda: sink.stats()["worker"] == "connected"))
        peer2.close()

    def test_stop_is_prompt_with_worker_absent(self):
        sink, _dbg = self._flowgraph("tcp://127.0.0.1:1")
        for i in range(20):
            self._post(sink, pdu(i))
        t0 = time.monotonic()
        self.tb.stop()
        self.tb.wait()
        self.assertLess(time.monotonic() - t0, 3.0)

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            semantic_sink("tcp://127.0.0.1:5560", queue_depth=0)


if __name__ == "__main__":
    gr_unittest.run(qa_semantic_sink)
