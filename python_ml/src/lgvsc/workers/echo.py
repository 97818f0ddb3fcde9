# SPDX-License-Identifier: GPL-3.0-or-later
"""Echo worker: receives PDUs and sends them back unchanged, optionally after a delay.

It exists for the bridge benchmark (round trip, rate, a deliberately slow worker) and for
the bridge tests: the same sockets, queues and error handling as the real workers, with
no model behind them.

Sockets: ``pdu_in`` (PULL, bound; PDUs as ``pmt.serialize_str`` bytes, one per message),
``pdu_out`` (PUSH, bound; the same bytes), plus the common control and status sockets.
A message that is not a PDU is logged, counted as ``malformed`` and not echoed.
"""

from __future__ import annotations

import queue
import time
from typing import Any

import zmq

from lgvsc.pmt_codec import MAX_MESSAGE_BYTES, decode_pdu
from lgvsc.workers.base import Worker, WorkerOptions
from lgvsc.workers.transport import STOP, InputThread, OutputThread, put_bounded

__all__ = ["EchoWorker"]


def _one_pdu(frames: list[bytes]) -> bytes:
    if len(frames) != 1:
        raise ValueError(f"expected one frame per PDU, got {len(frames)}")
    decode_pdu(frames[0], max_bytes=MAX_MESSAGE_BYTES)  # validate; raises PacketError
    return frames[0]


class EchoWorker(Worker):
    """Echo PDUs from ``pdu_in`` to ``pdu_out``.

    :param pdu_in: PULL endpoint to bind
    :param pdu_out: PUSH endpoint to bind (``None``: receive and count only)
    :param delay_s: sleep this long per PDU (a stand-in for slow inference)
    """

    kind = "echo"

    def __init__(self, options: WorkerOptions, pdu_in: str = "tcp://127.0.0.1:*",
                 pdu_out: str | None = "tcp://127.0.0.1:*", delay_s: float = 0.0) -> None:
        super().__init__(options)
        self.pdu_in, self.pdu_out, self.delay_s = pdu_in, pdu_out, delay_s
        self.inbox: queue.Queue = queue.Queue(maxsize=options.queue_depth)
        self.outbox: queue.Queue = queue.Queue(maxsize=options.queue_depth)
        self.echoed = 0

    def open_data(self) -> None:
        sock = self.bind(zmq.PULL, self.pdu_in, "pdu_in", hwm=self.options.queue_depth)
        self.threads.append(InputThread(sock, self.inbox, _one_pdu, self.counters, name="echo-in"))
        if self.pdu_out:
            sock = self.bind(zmq.PUSH, self.pdu_out, "pdu_out", hwm=self.options.queue_depth)
            self.threads.append(OutputThread(sock, self.outbox, self.counters, name="echo-out"))

    def step(self, timeout: float) -> None:
        try:
            pdu = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return
        if self.delay_s:
            time.sleep(self.delay_s)
        self.echoed += 1
        if self.pdu_out:
            put_bounded(self.outbox, [pdu], self.shutdown)
        # drain whatever else is waiting without going back through the control checks
        for _ in range(self.options.queue_depth - 1):
            if self.delay_s:
                return
            try:
                pdu = self.inbox.get_nowait()
            except queue.Empty:
                return
            self.echoed += 1
            if self.pdu_out:
                put_bounded(self.outbox, [pdu], self.shutdown)

    def finish(self) -> None:
        try:
            self.outbox.put_nowait(STOP)
        except queue.Full:
            pass

    def status(self) -> dict[str, Any]:
        return {**super().status(), "echoed": self.echoed, "backlog": self.inbox.qsize()}
