#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA for semantic_source: real sockets on 127.0.0.1, a minimal pyzmq credit server as the worker
(the same protocol as lgvsc's CreditServerThread, docs/bridge.md)."""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pmt
import zmq
from gnuradio import blocks, gr, gr_unittest

try:
    from gnuradio.lgvsc import semantic_source
except ImportError:  # running from the source tree
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from lgvsc import semantic_source


# Frames that kill a process that hands them straight to pmt.deserialize_str (issue 13):
# pairs nested 100,000 deep (SIGSEGV), a u8vector claiming 50 MB in 9 bytes, one claiming 4 GiB,
# a vector claiming 2^32-1 elements.
CRASH_FRAMES = [b"\x07" * 100_000, bytes.fromhex("0a0002faf080000000"), bytes.fromhex("0a00ffffffff0000"),
                bytes.fromhex("08ffffffff")]


def pdu(i, n=40):
    meta = pmt.dict_add(pmt.make_dict(), pmt.intern("seq"), pmt.from_long(i))
    return pmt.cons(meta, pmt.init_u8vector(n, [(i * 7 + k) % 256 for k in range(n)]))


def wait_until(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


class CreditPeer(threading.Thread):
    """Encoder-worker stand-in: serves `pdus` for credits, then `eos`; answers each credit with `hb`."""

    def __init__(self, ctx, pdus, endpoint="tcp://127.0.0.1:*", extra=()):
        super().__init__(daemon=True)
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.todo = list(extra) + [("pdu", pmt.serialize_str(p)) for p in pdus] + [("eos", b"")]
        self.credit = 0
        self.max_credit = 0
        self.stop_flag = threading.Event()

    def run(self):
        peer = None
        while not self.stop_flag.is_set():
            if self.sock.poll(5):
                ident, body = self.sock.recv_multipart()
                msg = json.loads(body)
                assert msg["op"] == "credit"
                peer = ident
                self.credit += msg["n"]
                self.max_credit = max(self.max_credit, self.credit)
                self.sock.send_multipart([ident, b"hb", json.dumps({"credit": self.credit}).encode()])
            while peer is not None and self.todo:
                kind, data = self.todo[0]
                if kind == "pdu" or kind == "junk":
                    if self.credit == 0:
                        break
                    self.credit -= 1
                    self.sock.send_multipart([peer, b"pdu", data])
                else:
                    self.sock.send_multipart([peer, b"eos", json.dumps({"pdus": 3}).encode()])
                self.todo.pop(0)
        self.sock.close(0)

    def halt(self):
        self.stop_flag.set()
        self.join(5)


class qa_semantic_source(gr_unittest.TestCase):
    def setUp(self):
        self.ctx = zmq.Context()
        self.tb = gr.top_block()

    def tearDown(self):
        self.tb.stop()
        self.tb.wait()
        self.ctx.destroy(0)

    def _flowgraph(self, endpoint, **kw):
        src = semantic_source(endpoint, status_interval=0.2, **kw)
        out, status = blocks.message_debug(), blocks.message_debug()
        self.tb.msg_connect(src, "out", out, "store")
        self.tb.msg_connect(src, "status", status, "store")
        self.tb.start()
        return src, out, status

    @staticmethod
    def _events(dbg):
        return [pmt.to_python(dbg.get_message(i)) for i in range(dbg.num_messages())]

    def test_delivers_in_order_within_window(self):
        pdus = [pdu(i, 1 + i % 300) for i in range(300)]
        peer = CreditPeer(self.ctx, pdus)
        peer.start()
        src, out, status = self._flowgraph(peer.endpoint, window=8)
        self.assertTrue(wait_until(src.end_of_stream))
        self.assertEqual(out.num_messages(), 300)
        for i in (0, 17, 299):
            self.assertTrue(pmt.equal(out.get_message(i), pdus[i]))
        self.assertLessEqual(peer.max_credit, 8)  # never more than the window asked for
        self.assertTrue(wait_until(lambda: any(e["event"] == "eos" for e in self._events(status))))
        st = src.stats()
        self.assertEqual((st["received"], st["emitted"], st["eos"]), (300, 300, 1))
        peer.halt()

    def test_max_pps_paces_output(self):
        peer = CreditPeer(self.ctx, [pdu(i) for i in range(30)])
        peer.start()
        t0 = time.monotonic()
        src, out, _ = self._flowgraph(peer.endpoint, window=30, max_pps=100)
        self.assertTrue(wait_until(src.end_of_stream, timeout=10))
        elapsed = time.monotonic() - t0
        self.assertEqual(out.num_messages(), 30)
        self.assertGreater(elapsed, 0.2)  # 30 packets at 100/s need ~0.3 s
        peer.halt()

    def test_malformed_from_worker_is_counted(self):
        junk = [("junk", b"\x42garbage"), ("junk", pmt.serialize_str(pmt.intern("no pdu")))]
        peer = CreditPeer(self.ctx, [pdu(1)], extra=junk)
        peer.start()
        src, out, _ = self._flowgraph(peer.endpoint)
        self.assertTrue(wait_until(src.end_of_stream))
        self.assertEqual(out.num_messages(), 1)
        self.assertEqual(src.stats()["malformed"], 2)
        peer.halt()

    def test_crash_inputs_do_not_kill_the_radio_process(self):
        # The radio process is a child: if a frame reached GNU Radio's parser, it would die by a signal.
        child = textwrap.dedent(f"""
            import json, sys
            sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
            import zmq
            from gnuradio import blocks, gr
            import qa_semantic_source as q
            ctx = zmq.Context()
            peer = q.CreditPeer(ctx, [q.pdu(1), q.pdu(2)], extra=[("junk", f) for f in q.CRASH_FRAMES])
            peer.start()
            tb = gr.top_block()
            src = q.semantic_source(peer.endpoint, status_interval=0)
            out = blocks.message_debug()
            tb.msg_connect(src, "out", out, "store")
            tb.start()
            done = q.wait_until(src.end_of_stream, timeout=60)
            tb.stop(); tb.wait(); peer.halt()
            print(json.dumps({{"done": done, "out": out.num_messages(), **src.stats()}}), flush=True)
        """)
        proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, f"radio process died: {proc.returncode}\n{proc.stderr[-2000:]}")
        st = json.loads(proc.stdout.strip().splitlines()[-1])
        self.assertTrue(st["done"])
        self.assertEqual((st["out"], st["received"], st["malformed"]), (2, 2, len(CRASH_FRAMES)))
        # one burst: logged once, not once per frame
        logs = proc.stdout + proc.stderr  # GNU Radio's console logger may write to either
        self.assertEqual(logs.count("malformed message from the worker"), 1, logs[-2000:])

    def test_worker_absent_killed_restarted(self):
        probe = self.ctx.socket(zmq.ROUTER)
        probe.bind("tcp://127.0.0.1:*")
        endpoint = probe.getsockopt_string(zmq.LAST_ENDPOINT)
        probe.close(0)
        src, out, status = self._flowgraph(endpoint, window=4)
        time.sleep(0.3)  # absent worker: the flowgraph runs, nothing comes out
        self.assertEqual(out.num_messages(), 0)
        self.assertEqual(src.stats()["worker"], "connecting")
        peer = CreditPeer(self.ctx, [pdu(i) for i in range(5)], endpoint)
        peer.todo.pop()  # no eos: the worker "dies" mid-stream
        peer.start()
        self.assertTrue(wait_until(lambda: out.num_messages() == 5))
        peer.halt()  # killed
        self.assertTrue(wait_until(lambda: src.stats()["worker"] == "unreachable", timeout=6))
        # the state flips just before the status message is published: wait for the message too
        self.assertTrue(wait_until(lambda: any(e["event"] == "unreachable" for e in self._events(status))))
        peer2 = CreditPeer(self.ctx, [pdu(i) for i in range(5, 9)], endpoint)
        peer2.start()  # restarted worker: credit is asked again, the stream resumes
        self.assertTrue(wait_until(src.end_of_stream, timeout=6))
        self.assertEqual(out.num_messages(), 9)
        self.assertEqual(src.stats()["worker"], "connected")
        peer2.halt()

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            semantic_source("tcp://127.0.0.1:5551", window=0)
        with self.assertRaises(ValueError):
            semantic_source("tcp://127.0.0.1:5551", max_pps=-1)


if __name__ == "__main__":
    gr_unittest.run(qa_semantic_source)
