# SPDX-License-Identifier: GPL-3.0-or-later
"""Semantic packets from an encoder worker onto message port ``out`` (GRC id ``lgvsc_semantic_source``)."""

import collections
import json
import threading
import time

import pmt
import zmq
import zmq.auth
from gnuradio import gr

from .io_thread import io_thread
from .pmt_frame import BurstLog, MalformedFrame, check_pdu_frame

__all__ = ["semantic_source"]

MAX_FRAME_BYTES = 1 << 20
MAX_JSON_BYTES = 4096  # eos/hb bodies are a few small fields
LIVENESS_S = 2.0      # no reply for this long: the worker is reported unreachable
PING_S = 0.5          # a credit message (maybe n=0) at least this often


class semantic_source(gr.basic_block):
    """Pull semantic packet PDUs from an ``lgvsc worker encode`` with credit-based flow control.

    A DEALER socket on the block's own thread asks the worker for at most ``window``
    packets at a time (credits) and emits them on ``out`` no faster than ``max_pps``
    packets per second, so the PHY's input queue never grows without bound and the
    worker stops producing when the radio cannot carry more. The thread starts in
    ``start()``, polls with a timeout and is joined in ``stop()`` (the lifecycle of
    gr-zeromq's sub_msg_source); nothing here blocks the scheduler.

    A worker that is absent, slow or killed stalls only the packet stream: status
    events say ``unreachable``, and credit is asked again when it answers.

    Args:
        endpoint: the encoder worker's PDU endpoint (ROUTER), e.g. ``tcp://127.0.0.1:5551``.
        max_pps: packets per second on ``out`` (0: as fast as credits allow). Derive it
            from the PHY: sample rate / samples per burst (link_runner does).
        window: credits outstanding at most (packets asked for and not yet emitted).
        status_interval: seconds between periodic status messages (0: only on changes).
        curve_server_key: Z85 public key of a CURVE worker ('' = plain TCP).
        curve_keys_file: zmq.auth certificate file with this client's key pair.

    Ports: message ``out`` (PDUs, unchanged from the worker), message ``status``
    (dict: ``event`` = ``status``/``connected``/``unreachable``/``eos``, ``emitted``,
    ``received``, ``malformed``, ``outstanding``, ``queued``, ``worker``, ``eos_count``).

    Every frame from the socket is untrusted: PDU bytes pass the bounded check of
    :mod:`pmt_frame` before ``pmt.deserialize_str`` sees them (GNU Radio's own parser
    crashes on deep nesting and trusts length fields), JSON bodies are size-capped.
    What fails is counted as ``malformed``, logged once per burst and dropped.
    """

    def __init__(self, endpoint="tcp://127.0.0.1:5551", max_pps=0.0, window=16, status_interval=1.0,
                 curve_server_key="", curve_keys_file=""):
        gr.basic_block.__init__(self, name="lgvsc_semantic_source", in_sig=None, out_sig=None)
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if max_pps < 0:
            raise ValueError(f"max_pps must be >= 0, got {max_pps}")
        self.endpoint = endpoint
        self.window = int(window)
        self.max_pps = float(max_pps)
        self.status_interval = float(status_interval)
        self.curve_server_key = curve_server_key
        self.curve_keys_file = curve_keys_file
        self.message_port_register_out(pmt.intern("out"))
        self.message_port_register_out(pmt.intern("status"))
        self._lock = threading.Lock()
        self.counters = collections.Counter()
        self.worker = "unknown"
        self.eos_info = None
        self._queue = collections.deque()
        self._outstanding = 0
        self._io = io_thread(self._run, "semantic_source")
        self._bad = BurstLog(self.logger.warn, "semantic_source: malformed message from the worker")  # noqa: G010 - GNU Radio's logger has warn(), not warning()
        self._stop, self._wake = self._io.stop_event, self._io.wake

    # -------------------------------------------------------------- GRC callbacks
    def set_max_pps(self, max_pps):
        self.max_pps = max(0.0, float(max_pps))

    def set_window(self, window):
        self.window = max(1, int(window))

    # -------------------------------------------------------------- lifecycle
    def start(self):
        self._io.start()
        return super().start()

    def stop(self):
        self._io.stop()
        return super().stop()

    # -------------------------------------------------------------- state for callers
    def stats(self):
        """Counters and state as a plain dict (also what the status port carries)."""
        with self._lock:
            d = dict(self.counters)
            d.update(worker=self.worker, outstanding=self._outstanding, queued=len(self._queue),
                     eos_count=d.get("eos", 0))
        return d

    def end_of_stream(self):
        """True once the worker said a stream ended and every packet of it was emitted."""
        with self._lock:
            return self.counters["eos"] > 0 and not self._queue

    # -------------------------------------------------------------- thread
    def _status(self, event, **extra):
        d = self.stats()
        d["event"] = event
        d.update(extra)
        self.message_port_pub(pmt.intern("status"), pmt.to_pmt(d))

    def _socket(self, ctx):
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
        sock.setsockopt(zmq.SNDHWM, 8)
        sock.setsockopt(zmq.RCVHWM, max(16, 2 * self.window))
        if self.curve_server_key:
            pub, sec = zmq.auth.load_certificate(self.curve_keys_file)
            sock.curve_publickey, sock.curve_secretkey = pub, sec
            sock.curve_serverkey = self.curve_server_key.encode()
        sock.connect(self.endpoint)
        return sock

    def _malformed(self, reason):
        with self._lock:
            self.counters["malformed"] += 1
        self._bad.note(reason)

    @staticmethod
    def _json_body(raw):
        """A small JSON object from the worker, or {} (bounded: no deep nesting, no huge bodies)."""
        if len(raw) > MAX_JSON_BYTES:
            return {}
        try:
            info = json.loads(raw)
        except (ValueError, RecursionError):
            return {}
        return info if isinstance(info, dict) else {}

    def _on_message(self, frames):
        kind = frames[0] if frames else b""
        if kind == b"pdu" and len(frames) == 2:
            with self._lock:
                self._outstanding = max(0, self._outstanding - 1)
            try:
                check_pdu_frame(frames[1], MAX_FRAME_BYTES)  # before GNU Radio's unbounded parser
                msg = pmt.deserialize_str(frames[1])
                ok = pmt.is_pair(msg) and pmt.is_u8vector(pmt.cdr(msg))
            except MalformedFrame as exc:
                self._malformed(str(exc))
                return
            except Exception:  # noqa: BLE001 - bad PMT bytes raise assorted errors from the C++ side
                ok = False
            if not ok:
                self._malformed("a message that is not a PDU")
                return
            with self._lock:
                self._queue.append(msg)
                self.counters["received"] += 1
        elif kind == b"eos" and len(frames) == 2:
            info = self._json_body(frames[1])
            with self._lock:
                self.counters["eos"] += 1
                self._eos_pending = True
            self.eos_info = info
        elif kind == b"hb" and len(frames) == 2:
            pass
        else:
            self._malformed(f"unexpected message ({len(frames)} frames, kind {bytes(kind[:16])!r})")

    def _run(self):
        ctx = zmq.Context()
        sock = None
        try:
            sock = self._socket(ctx)
            last_rx = time.monotonic()
            last_credit = 0.0
            last_status = time.monotonic()
            tokens, last_tok = 1.0, time.monotonic()
            self._eos_pending = False
            self.worker = "connecting"
            self._status("status")
            while not self._stop.is_set():
                now = time.monotonic()
                # 1. credits: keep window = outstanding + queued; ask in batches, ping regularly
                with self._lock:
                    room = self.window - self._outstanding - len(self._queue)
                want = room if room >= max(1, self.window // 2) or (room > 0 and self._outstanding == 0) else 0
                if want > 0 or now - last_credit >= PING_S:
                    try:
                        sock.send(json.dumps({"op": "credit", "n": int(want)}).encode(), zmq.NOBLOCK)
                        with self._lock:
                            self._outstanding += want
                        self.counters["credit_sent"] += want
                        last_credit = now
                    except zmq.Again:
                        pass
                # 2. receive
                wait = 0.05
                if self._queue and self.max_pps > 0:
                    wait = min(wait, max(0.0, (1.0 - tokens) / self.max_pps))
                elif self._queue:
                    wait = 0.0
                if sock.poll(int(wait * 1000), zmq.POLLIN):
                    while True:
                        try:
                            frames = sock.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        last_rx = time.monotonic()
                        if self.worker != "connected":
                            self.worker = "connected"
                            self._status("connected")
                        self._on_message(frames)
                # 3. emit at most max_pps
                now = time.monotonic()
                if self.max_pps > 0:
                    tokens = min(max(1.0, self.max_pps * 0.05), tokens + (now - last_tok) * self.max_pps)
                else:
                    tokens = float("inf")
                last_tok = now
                while tokens >= 1.0 and self._queue:
                    with self._lock:
                        msg = self._queue.popleft()
                        self.counters["emitted"] += 1
                    self.message_port_pub(pmt.intern("out"), msg)
                    tokens -= 1.0
                if self._eos_pending and not self._queue:
                    self._eos_pending = False
                    self._status("eos", **{f"eos_{k}": v for k, v in (self.eos_info or {}).items()
                                           if isinstance(v, (int, float, str, bool))})
                self._bad.tick()
                # 4. liveness
                if self.worker == "connected" and now - last_rx > LIVENESS_S:
                    self.worker = "unreachable"
                    with self._lock:
                        self.counters["credit_lost"] += self._outstanding
                        self._outstanding = 0
                    self.logger.warn(f"semantic_source: encoder worker at {self.endpoint} not answering")  # noqa: G010 - GNU Radio's logger has warn(), not warning()
                    self._status("unreachable")
                if self.status_interval > 0 and now - last_status >= self.status_interval:
                    last_status = now
                    self._status("status")
        except Exception as exc:  # noqa: BLE001 - an IO thread must never take the flowgraph down
            self.logger.error(f"semantic_source: IO thread failed: {exc}")
        finally:
            if sock is not None:
                sock.close(0)
            ctx.term()
