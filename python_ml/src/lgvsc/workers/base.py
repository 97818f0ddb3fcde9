# SPDX-License-Identifier: GPL-3.0-or-later
"""The common frame of every worker: control socket, status publisher, compute loop.

A worker binds its sockets, prints one JSON *ready* line on stdout (its endpoints with
ports resolved, so a parent process can bind ``*`` and read the ports back), then runs
its compute loop on the main thread until a ``shutdown`` request, SIGTERM or SIGINT.

Control requests are msgpack maps on a ROUTER socket (REQ or DEALER peers). Every worker
answers ``{"op": "ping"}``, ``{"op": "status"}`` and ``{"op": "shutdown"}``; replies are
maps with ``ok`` (bool) and, when not ok, ``error``. The control plane is off the compute
thread (vLLM's shape): the control IO thread answers ``ping`` and ``status`` itself, from the
last snapshot of :meth:`Worker.status` that the compute loop published (every loop turn, with
every event, and right after every control op), so a step that runs for minutes never makes a
status request time out; the reply says how old the snapshot is (``snapshot_age_s``) and how
long the current step has run (``busy_s``). Heartbeats come from that thread too. Only ops
that touch compute state are queued. Status events go out on a PUB socket
as msgpack maps (telemetry only: a subscriber that is late misses them), including a
``heartbeat`` every ``heartbeat_s`` seconds.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import zmq

from lgvsc.workers.transport import (
    STOP,
    Counters,
    CurveConfig,
    OutputThread,
    RouterThread,
    open_socket,
    pack_control,
    stop_all,
    stop_authenticators,
)

__all__ = ["WorkerOptions", "Worker"]

log = logging.getLogger(__name__)


@dataclass
class WorkerOptions:
    """Endpoints and limits shared by all workers.

    :param control: ROUTER endpoint for control requests (``None``: no control socket)
    :param status: PUB endpoint for status events (``None``: none)
    :param curve: CURVE server keys for every bound socket
    :param allow_insecure_remote: allow binding a non-loopback address without CURVE
    :param heartbeat_s: period of ``heartbeat`` status events
    :param queue_depth: bound of the input and output queues (items)
    """

    control: str | None = "tcp://127.0.0.1:*"
    status: str | None = "tcp://127.0.0.1:*"
    curve: CurveConfig | None = None
    allow_insecure_remote: bool = False
    heartbeat_s: float = 0.5
    queue_depth: int = 256
    extra: dict[str, Any] = field(default_factory=dict)


class Worker:
    """Base class; subclasses set :attr:`kind`, open their data sockets in :meth:`open_data`
    and do one unit of work in :meth:`step`."""

    kind = "worker"

    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self.ctx = zmq.Context()
        self.counters = Counters()
        self.threads: list = []
        self.endpoints: dict[str, str] = {}
        self.requests: queue.Queue = queue.Queue(maxsize=64)
        self.status_q: queue.Queue = queue.Queue(maxsize=options.queue_depth)
        self.shutdown = threading.Event()
        self.started = time.monotonic()
        self._control: RouterThread | None = None
        self._last_heartbeat = 0.0
        # Published by the compute loop, read by the control IO thread: (monotonic time, status map).
        # Replaced whole (one reference assignment), never mutated, so no lock is needed.
        self._snapshot: tuple[float, dict[str, Any]] = (time.monotonic(), {})
        self._step_since: float | None = None  # monotonic start of the step (or control op) running now
        self._compute_thread: int | None = None  # the thread running serve()

    # ------------------------------------------------------------------ sockets
    def bind(self, kind: int, endpoint: str, name: str, **kw: Any) -> zmq.Socket:
        """Bind one socket with the worker's security options; records its endpoint."""
        sock, actual = open_socket(self.ctx, kind, endpoint, curve=self.options.curve,
                                   allow_insecure_remote=self.options.allow_insecure_remote, **kw)
        self.endpoints[name] = actual
        return sock

    def open(self) -> dict[str, str]:
        """Bind every socket and start the IO threads; returns the endpoints."""
        try:
            if self.options.control:
                sock = self.bind(zmq.ROUTER, self.options.control, "control", max_msg_bytes=1 << 16)
                self._control = RouterThread(sock, self.requests, self.counters, name=f"{self.kind}-control",
                                             answer=self.answer_on_io_thread)
                self._control.tick = self._heartbeat_on_io_thread
                self.threads.append(self._control)
            if self.options.status:
                sock = self.bind(zmq.PUB, self.options.status, "status", hwm=self.options.queue_depth)
                self.threads.append(OutputThread(sock, self.status_q, Counters(), name=f"{self.kind}-status"))
            self.open_data()
        except BaseException:
            self.close()
            raise
        self.publish_snapshot()  # status requests may come before serve() starts
        for t in self.threads:
            t.start()
        return dict(self.endpoints)

    def open_data(self) -> None:
        """Subclasses bind their data sockets and append their IO threads."""

    def close(self) -> None:
        try:
            self.status_q.put_nowait(STOP)
        except queue.Full:
            pass
        stop_all(self.threads)
        stop_authenticators()
        if any(t.is_alive() for t in self.threads):
            log.warning("%s: an IO thread did not stop in time; closing its socket anyway", self.kind)
            self.ctx.destroy(linger=0)
        else:
            self.ctx.term()

    # ------------------------------------------------------------------ status
    def publish(self, event: str, **fields: Any) -> None:
        """Queue one status event for the PUB socket (dropped and counted when the queue is full)."""
        if not self.options.status:
            return
        if threading.get_ident() == self._compute_thread:
            self.publish_snapshot()  # events mark progress: status replies see it too
        msg = {"event": event, "worker": self.kind, "t": time.time(), **fields}
        try:
            self.status_q.put_nowait([pack_control(msg)])
        except queue.Full:
            self.counters.add("status_dropped")

    def status(self) -> dict[str, Any]:
        """Snapshot for ``status`` replies and heartbeats; subclasses add their state."""
        return {"worker": self.kind, "pid": os.getpid(), "uptime_s": round(time.monotonic() - self.started, 3),
                "counters": self.counters.snapshot()}

    def publish_snapshot(self) -> None:
        """Compute thread: make the current :meth:`status` what the control IO thread answers with."""
        self._snapshot = (time.monotonic(), self.status())

    def _heartbeat_on_io_thread(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat >= self.options.heartbeat_s and self._compute_thread is not None:
            self._last_heartbeat = now
            reply = self.answer_on_io_thread({"op": "status"}) or {}
            reply.pop("ok", None)
            self.publish("heartbeat", **reply)

    def answer_on_io_thread(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """Control IO thread: reply to ``ping``/``status`` at once; ``None`` queues the op for the compute loop."""
        op = msg.get("op")
        if op == "ping":
            return {"ok": True, "worker": self.kind}
        if op != "status":
            return None
        now = time.monotonic()
        t, snap = self._snapshot
        since = self._step_since
        return {"ok": True, **snap, "worker": self.kind, "pid": os.getpid(),
                "uptime_s": round(now - self.started, 3), "counters": self.counters.snapshot(),
                "snapshot_age_s": round(now - t, 3), "busy_s": round(now - since, 3) if since is not None else 0.0}

    # ------------------------------------------------------------------ control
    def handle_control(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Answer one control request; subclasses handle their own ops and call super()."""
        op = msg.get("op")
        if op == "ping":
            return {"ok": True, "worker": self.kind}
        if op == "status":
            return {"ok": True, **self.status()}
        if op == "shutdown":
            self.shutdown.set()
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r} for the {self.kind} worker"}

    def _drain_control(self) -> None:
        while True:
            try:
                reply_to, msg = self.requests.get_nowait()
            except queue.Empty:
                return
            self._step_since = time.monotonic()
            try:
                reply = self.handle_control(msg)
            except Exception as exc:  # a bad request must not kill the worker
                log.exception("%s: control op %r failed", self.kind, msg.get("op"))
                self.counters.add("control_errors")
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            self._step_since = None
            self.publish_snapshot()  # before the reply leaves: a status sent after it sees the op's effect
            if self._control is not None:
                self._control.reply(reply_to, reply)

    # ------------------------------------------------------------------ loop
    def step(self, timeout: float) -> None:
        """One unit of compute work, waiting at most ``timeout`` seconds for input."""
        time.sleep(timeout)

    def finish(self) -> None:
        """Called once when the loop ends (before sockets close); flush outputs here."""

    def serve(self) -> int:
        """Run the compute loop on this thread until shutdown; returns the exit status."""
        self._compute_thread = threading.get_ident()
        self.publish_snapshot()
        self.publish("started", **self.status())
        try:
            while not self.shutdown.is_set():
                self._drain_control()
                now = time.monotonic()
                if self._control is None and now - self._last_heartbeat >= self.options.heartbeat_s:
                    self._last_heartbeat = now
                    self.publish("heartbeat", **self.status())
                self._step_since = time.monotonic()
                try:
                    self.step(0.01)
                finally:
                    self._step_since = None
                self.publish_snapshot()
            self._drain_control()
            self.finish()
            self.publish("stopped", **self.status())
            time.sleep(0.05)  # let the status and last replies leave
            return 0
        finally:
            self.close()

    def ready_line(self) -> str:
        return json.dumps({"event": "ready", "worker": self.kind, "pid": os.getpid(), "endpoints": self.endpoints})

    def run_forever(self, install_signals: bool = True) -> int:
        """open(), print the ready line, serve(); SIGTERM/SIGINT end the loop cleanly."""
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.shutdown.set())
        self.open()
        print(self.ready_line(), flush=True)
        log.info("%s worker ready: %s", self.kind, self.endpoints)
        code = self.serve()
        print(json.dumps({"event": "exit", "worker": self.kind, "status": self.status()}), flush=True)
        sys.stdout.flush()
        return code
