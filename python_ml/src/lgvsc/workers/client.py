# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive workers from a parent process: spawn, wait for *ready*, control requests, status.

Example::

    w = WorkerProcess.spawn(["echo", "--pdu-in", FREE, "--pdu-out", FREE])
    w.endpoints["pdu_in"]                               # 'tcp://127.0.0.1:41485'
    request(w.endpoints["control"], {"op": "ping"})     # {'ok': True, 'worker': 'echo'}
    w.stop()                                            # 0
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import zmq

from lgvsc.errors import UserError
from lgvsc.workers.transport import pack_control, unpack_control

__all__ = ["WorkerProcess", "request", "StatusSubscriber", "FREE", "die_with_parent"]

#: Endpoint that lets the worker pick a free loopback port (read it back from ``endpoints``).
FREE = "tcp://127.0.0.1:*"


def die_with_parent() -> None:
    """``preexec_fn`` for child processes: SIGTERM when the parent dies, even by SIGKILL.

    Without it a parent killed hard (a test timeout, the OOM killer) leaves its workers running
    as orphans that keep their ports. Linux-only (prctl PR_SET_PDEATHSIG); a no-op elsewhere.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def request(endpoint: str, msg: dict[str, Any], timeout: float = 5.0, ctx: zmq.Context | None = None,
            curve: tuple[bytes, bytes, bytes] | None = None) -> dict[str, Any]:
    """One control request/reply over a fresh DEALER socket.

    :param curve: (client public, client secret, server public) keys for a CURVE worker
    :raises TimeoutError: no reply within ``timeout`` seconds
    """
    ctx = ctx or zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if curve is not None:
        sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = curve
    try:
        sock.connect(endpoint)
        sock.send(pack_control(msg))
        if not sock.poll(int(timeout * 1000)):
            raise TimeoutError(f"no reply from {endpoint} to {msg.get('op')!r} within {timeout} s")
        return unpack_control(sock.recv())
    finally:
        sock.close(0)


class WorkerProcess:
    """A ``lgvsc worker KIND ...`` child process whose sockets are known."""

    def __init__(self, proc: subprocess.Popen, ready: dict[str, Any]) -> None:
        self.proc = proc
        self.ready = ready
        self.endpoints: dict[str, str] = ready["endpoints"]
        self.exit_line: dict[str, Any] | None = None

    @classmethod
    def spawn(cls, argv: Sequence[str], *, free_ports: bool = True, timeout: float = 60.0,
              python: str = sys.executable, env: dict[str, str] | None = None) -> WorkerProcess:
        """Start ``python -m lgvsc.cli worker ARGV`` and wait for its ready line.

        :param free_ports: append ``--control``/``--status`` on free ports unless ARGV sets them
        :raises UserError: the worker exited or said nothing within ``timeout`` seconds
        """
        argv = list(argv)
        if free_ports:
            for opt in ("--control", "--status"):
                if opt not in argv:
                    argv += [opt, FREE]
        cmd = [python, "-c", "import sys; from lgvsc.cli import main; sys.exit(main())", "worker", *argv]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True,
                                env={**os.environ, **(env or {})}, preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            r, _, _ = select.select([proc.stdout], [], [], 0.1)
            if r:
                line = proc.stdout.readline()
                if not line:
                    break
                try:
                    msg = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if msg.get("event") == "ready":
                    return cls(proc, msg)
            elif proc.poll() is not None:
                break
        proc.kill()
        proc.wait()
        raise UserError(f"worker {' '.join(argv[:1])} did not become ready (exit status {proc.returncode})")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def control(self, msg: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        return request(self.endpoints["control"], msg, timeout=timeout)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, SIGKILL if needed; returns the exit status and keeps the exit line."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        for line in (out or "").splitlines():
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if msg.get("event") == "exit":
                self.exit_line = msg
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL (a crash, as far as the peers can tell)."""
        self.proc.kill()
        self.proc.wait()

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StatusSubscriber:
    """SUB socket on a worker's status endpoint; :meth:`poll` returns decoded events."""

    def __init__(self, endpoint: str, ctx: zmq.Context | None = None) -> None:
        self.sock = (ctx or zmq.Context.instance()).socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(endpoint)

    def poll(self, timeout: float = 1.0) -> list[dict[str, Any]]:
        events = []
        if self.sock.poll(int(timeout * 1000)):
            while True:
                try:
                    events.append(unpack_control(self.sock.recv(zmq.NOBLOCK)))
                except zmq.Again:
                    break
        return events

    def wait_for(self, pred, timeout: float = 10.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev in self.poll(0.1):
                if pred(ev):
                    return ev
        return None

    def close(self) -> None:
        self.sock.close(0)
