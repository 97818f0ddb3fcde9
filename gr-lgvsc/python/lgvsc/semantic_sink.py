# SPDX-License-Identifier: GPL-3.0-or-later
"""Received PDUs from message port ``in`` to a decoder worker (GRC id ``lgvsc_semantic_sink``)."""

import collections
import threading
import time

import pmt
import zmq
import zmq.auth
from gnuradio import gr
from zmq.utils.monitor import recv_monitor_message

from .io_thread import io_thread
from .pmt_frame import BurstLog

__all__ = ["semantic_sink"]

MAX_FRAME_BYTES = 1 << 20

_MONITOR_EVENTS = {
    zmq.EVENT_CONNECTED: "connected",
    zmq.EVENT_DISCONNECTED: "disconnected",
}


class semantic_sink(gr.basic_block):
    """Forward every PDU on ``in`` to an ``lgvsc worker decode`` (PUSH → its PULL socket).

    The message handler only validates, serialises (``pmt.serialize_str``) and appends
    to a bounded queue; a PUSH socket on the block's own thread sends from that queue.
    The socket has ``ZMQ_IMMEDIATE`` set, so while the worker is absent nothing
    disappears into a dead connection: PDUs wait in the queue, and when the queue is
    full the oldest is dropped and counted (``dropped_queue_full``). A socket monitor
    reports the worker's connection state. Nothing is dropped silently: every PDU is
    counted as ``forwarded``, ``dropped_queue_full``, ``invalid`` or still ``queued``.
    The stream side of the flowgraph never waits for the worker.

    Args:
        endpoint: the decoder worker's PDU endpoint (PULL), e.g. ``tcp://127.0.0.1:5560``.
        queue_depth: PDUs held while the worker is slow or absent.
        hwm: ZeroMQ send high-water mark (PDUs in flight inside ZeroMQ).
        status_interval: seconds between periodic status messages (0: only on changes).
        curve_server_key: Z85 public key of a CURVE worker ('' = plain TCP).
        curve_keys_file: zmq.auth certificate file with this client's key pair.

    Ports: message ``in`` (PDUs), message ``status`` (dict: ``event`` =
    ``status``/``connected``/``disconnected``, ``received``, ``forwarded``,
    ``dropped_queue_full``, ``invalid``, ``queued``, ``worker``).

    The block reads no PMT from a socket (its PUSH socket only sends); messages on ``in``
    that are not PDUs are counted ``invalid`` and logged once per burst.
    """

    def __init__(self, endpoint="tcp://127.0.0.1:5560", queue_depth=4096, hwm=64, status_interval=1.0,
                 curve_server_key="", curve_keys_file=""):
        gr.basic_block.__init__(self, name="lgvsc_semantic_sink", in_sig=None, out_sig=None)
        if queue_depth < 1 or hwm < 1:
            raise ValueError(f"queue_depth and hwm must be >= 1, got {queue_depth}, {hwm}")
        self.endpoint = endpoint
        self.queue_depth = int(queue_depth)
        self.hwm = int(hwm)
        self.status_interval = float(status_interval)
        self.curve_server_key = curve_server_key
        self.curve_keys_file = curve_keys_file
        self.message_port_register_in(pmt.intern("in"))
        self.message_port_register_out(pmt.intern("status"))
        self.set_msg_handler(pmt.intern("in"), self._handle)
        self._lock = threading.Lock()
        self._queue = collections.deque()
        self.counters = collections.Counter()
        self.worker = "unknown"
        self._io = io_thread(self._run, "semantic_sink")
        self._stop, self._wake = self._io.stop_event, self._io.wake
        self._last_drop_log = 0.0
        self._bad = BurstLog(self.logger.warn, "semantic_sink: a message that is not a PDU (pair of dict, u8vector)")  # noqa: G010 - GNU Radio's logger has warn(), not warning()

    # -------------------------------------------------------------- handler (scheduler thread)
    def _handle(self, msg):
        if not (pmt.is_pair(msg) and pmt.is_u8vector(pmt.cdr(msg))):
            self.counters["invalid"] += 1
            self._bad.note("dropped")
            return
        wire = pmt.serialize_str(msg)
        with self._lock:
            self.counters["received"] += 1
            if len(self._queue) >= self.queue_depth:
                self._queue.popleft()
                self.counters["dropped_queue_full"] += 1
                now = time.monotonic()
                if now - self._last_drop_log > 1.0:
                    self._last_drop_log = now
                    self.logger.warn(f"semantic_sink: decoder worker {self.worker}; queue full, "  # noqa: G010 - GNU Radio's logger has warn(), not warning()
                                     f"{self.counters['dropped_queue_full']} PDUs dropped so far")
            self._queue.append(wire)
        self._wake.set()

    # -------------------------------------------------------------- lifecycle
    def start(self):
        self._io.start()
        return super().start()

    def stop(self):
        self._io.stop()
        return super().stop()

    # -------------------------------------------------------------- state for callers
    def stats(self):
        with self._lock:
            d = dict(self.counters)
            d.update(queued=len(self._queue), worker=self.worker)
        for k in ("received", "forwarded", "dropped_queue_full", "invalid"):
            d.setdefault(k, 0)
        return d

    def pending(self):
        """PDUs received and not yet handed to ZeroMQ."""
        with self._lock:
            return len(self._queue)

    # -------------------------------------------------------------- thread
    def _status(self, event):
        d = self.stats()
        d["event"] = event
        self.message_port_pub(pmt.intern("status"), pmt.to_pmt(d))

    def _run(self):
        ctx = zmq.Context()
        sock = mon = None
        try:
            sock = ctx.socket(zmq.PUSH)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.IMMEDIATE, 1)
            sock.setsockopt(zmq.SNDHWM, self.hwm)
            sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
            if self.curve_server_key:
                pub, sec = zmq.auth.load_certificate(self.curve_keys_file)
                sock.curve_publickey, sock.curve_secretkey = pub, sec
                sock.curve_serverkey = self.curve_server_key.encode()
            mon = sock.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
            sock.connect(self.endpoint)
            self.worker = "connecting"
            self._status("status")
            last_status = time.monotonic()
            while not self._stop.is_set():
                while mon.poll(0):
                    ev = recv_monitor_message(mon)
                    state = _MONITOR_EVENTS.get(ev["event"])
                    if state and state != self.worker:
                        self.worker = state
                        if state == "disconnected":
                            self.logger.warn(f"semantic_sink: decoder worker at {self.endpoint} disconnected")  # noqa: G010 - GNU Radio's logger has warn(), not warning()
                        self._status(state)
                self._wake.clear()
                sent_any = False
                while True:
                    with self._lock:
                        wire = self._queue[0] if self._queue else None
                    if wire is None:
                        break
                    try:
                        sock.send(wire, zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    with self._lock:
                        self._queue.popleft()
                        self.counters["forwarded"] += 1
                    sent_any = True
                self._bad.tick()
                now = time.monotonic()
                if self.status_interval > 0 and now - last_status >= self.status_interval:
                    last_status = now
                    self._status("status")
                if not sent_any:
                    if self.pending():
                        sock.poll(20, zmq.POLLOUT)  # worker slow or absent: wait for room
                    else:
                        self._wake.wait(0.02)
        except Exception as exc:  # noqa: BLE001 - an IO thread must never take the flowgraph down
            self.logger.error(f"semantic_sink: IO thread failed: {exc}")
        finally:
            if sock is not None:
                try:
                    sock.disable_monitor()
                except zmq.ZMQError:
                    pass
                sock.close(0)
            if mon is not None:
                mon.close(0)
            ctx.term()
