# SPDX-License-Identifier: GPL-3.0-or-later
"""Streaming channel emulator between two GNU Radio flowgraphs over ZeroMQ IQ.

::

    TX flowgraph                         lgvsc channel                          RX flowgraph
    zeromq.push_sink  --(bind)-->  PULL (connect) ... PUSH (bind)  <--(connect)--  zeromq.pull_source
                                   fading + CFO + AWGN (Sionna)

gr-zeromq's stream *sinks bind* and its *sources connect*, so the emulator
**connects** its input (``PULL``, or ``SUB`` for a ``pub_sink``) to the TX sink's
address and **binds** its output (``PUSH``, or ``PUB``) where the RX source
connects. Frames are raw complex64 (see :mod:`lgvsc.channels.framing`); a tag
header is stripped when ``tag_header=True``.

One thread, bounded everywhere:

* input: ``RCVHWM`` messages and ``MAXMSGSIZE`` bytes per message on the socket;
  a frame that is not whole complex64 items (or has a bad tag header) is
  dropped and counted (``bad_messages``);
* output: processed blocks wait in a queue of at most ``max_pending`` blocks
  while the output cannot take them (no RX connected, RX slow); when it is full
  the oldest block is dropped and counted (``dropped_blocks``,
  ``dropped_samples``). Memory therefore never grows without bound.

A TX that stops and restarts is just a pause on the input: ZeroMQ reconnects and
the channel continues from the sample count it had (fading stays continuous in
sample time). Statistics are in :attr:`ChannelEmulator.stats`.
"""

from __future__ import annotations

import collections
import logging
import threading
import time

import numpy as np
import torch

from lgvsc.channels.framing import frame_to_samples
from lgvsc.channels.models import StreamingChannel
from lgvsc.channels.noise import StreamingNoise
from lgvsc.errors import PacketError

__all__ = ["ChannelEmulator", "MAX_BLOCK_SAMPLES"]

log = logging.getLogger(__name__)

#: Input messages are processed in pieces of at most this many samples (bounds temporaries).
MAX_BLOCK_SAMPLES = 1 << 16


class ChannelEmulator:
    """Receives IQ, applies ``channel`` then ``noise``, sends IQ on.

    :param channel: fading/CFO part (:class:`~lgvsc.channels.models.StreamingChannel`)
    :param noise: noise part (:class:`~lgvsc.channels.noise.StreamingNoise`)
    :param in_endpoint: ZeroMQ endpoint the input socket connects to
    :param out_endpoint: ZeroMQ endpoint the output socket binds to
    :param in_socket: ``"pull"`` or ``"sub"``
    :param out_socket: ``"push"`` or ``"pub"``
    :param tag_header: input frames carry a gr-zeromq tag header (TX sink has Pass Tags on)
    :param max_pending: output queue bound, in blocks
    :param max_message_bytes: largest accepted input message
    """

    def __init__(self, channel: StreamingChannel, noise: StreamingNoise, in_endpoint: str, out_endpoint: str, *,
                 in_socket: str = "pull", out_socket: str = "push", tag_header: bool = False,
                 max_pending: int = 64, max_message_bytes: int = 64 << 20) -> None:
        if in_socket not in ("pull", "sub") or out_socket not in ("push", "pub"):
            raise ValueError("input socket must be pull or sub, output socket push or pub")
        if max_pending < 1:
            raise ValueError("max_pending must be >= 1")
        self.channel = channel
        self.noise = noise
        self.in_endpoint = in_endpoint
        self.out_endpoint = out_endpoint
        self.in_socket = in_socket
        self.out_socket = out_socket
        self.tag_header = tag_header
        self.max_pending = int(max_pending)
        self.max_message_bytes = int(max_message_bytes)
        self._pending: collections.deque[bytes] = collections.deque()
        self.stats = {
            "messages_in": 0,
            "samples_in": 0,
            "messages_out": 0,
            "samples_out": 0,
            "bad_messages": 0,
            "dropped_blocks": 0,
            "dropped_samples": 0,
            "max_pending": 0,
        }

    # -- processing (no sockets; also usable directly) --------------------------------------------
    def process(self, x: np.ndarray) -> np.ndarray:
        """Channel + noise for the next samples of the stream."""
        x = np.require(np.asarray(x, dtype=np.complex64), requirements=["C", "W"])
        y = self.channel.process(x)
        with torch.no_grad():
            return self.noise(torch.from_numpy(x), torch.from_numpy(y)).numpy()

    def _enqueue(self, y: np.ndarray) -> None:
        if len(self._pending) >= self.max_pending:
            old = self._pending.popleft()
            self.stats["dropped_blocks"] += 1
            self.stats["dropped_samples"] += len(old) // 8
        self._pending.append(y.astype(np.complex64, copy=False).tobytes())
        self.stats["max_pending"] = max(self.stats["max_pending"], len(self._pending))

    def _flush(self, out_sock) -> None:
        import zmq

        while self._pending:
            try:
                out_sock.send(self._pending[0], zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            data = self._pending.popleft()
            self.stats["messages_out"] += 1
            self.stats["samples_out"] += len(data) // 8

    # -- socket loop -------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, *, max_samples: int | None = None,
            idle_timeout: float | None = None, on_ready=None, stats_interval: float = 0.0) -> dict:
        """Serve until ``stop`` is set, ``max_samples`` were received, or no input for ``idle_timeout`` s.

        Returns :attr:`stats`. ``on_ready()`` is called once both sockets are set up.
        """
        import zmq

        stop = stop or threading.Event()
        ctx = zmq.Context()
        isock = ctx.socket(zmq.PULL if self.in_socket == "pull" else zmq.SUB)
        osock = ctx.socket(zmq.PUSH if self.out_socket == "push" else zmq.PUB)
        try:
            isock.setsockopt(zmq.RCVHWM, 64)
            isock.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
            isock.setsockopt(zmq.LINGER, 0)
            if self.in_socket == "sub":
                isock.setsockopt(zmq.SUBSCRIBE, b"")
            osock.setsockopt(zmq.SNDHWM, 8)
            osock.setsockopt(zmq.LINGER, 0)
            try:
                osock.bind(self.out_endpoint)
                isock.connect(self.in_endpoint)
            except zmq.ZMQError as exc:
                raise OSError(f"cannot set up sockets ({self.in_endpoint} -> {self.out_endpoint}): {exc}") from exc
            if on_ready:
                on_ready()
            poller = zmq.Poller()
            poller.register(isock, zmq.POLLIN)
            last_input = time.monotonic()
            last_stats = last_input
            while not stop.is_set():
                events = dict(poller.poll(20 if self._pending else 100))
                if isock in events:
                    # Drain what is there, but keep the output moving between messages.
                    for _ in range(16):
                        try:
                            frames = isock.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        last_input = time.monotonic()
                        self._handle(frames)
                        self._flush(osock)
                self._flush(osock)
                now = time.monotonic()
                if stats_interval and now - last_stats >= stats_interval:
                    log.info("channel stats %s", self.stats)
                    last_stats = now
                if max_samples is not None and self.stats["samples_in"] >= max_samples:
                    break
                if idle_timeout is not None and now - last_input > idle_timeout:
                    break
            # Give what is still queued a short chance to leave.
            deadline = time.monotonic() + 0.5
            while self._pending and time.monotonic() < deadline:
                self._flush(osock)
                time.sleep(0.005)
        finally:
            isock.close(0)
            osock.close(0)
            ctx.term()
        return self.stats

    def _handle(self, frames: list[bytes]) -> None:
        self.stats["messages_in"] += 1
        try:
            x = frame_to_samples(frames, tag_header=self.tag_header)
        except PacketError as exc:
            self.stats["bad_messages"] += 1
            log.warning("dropped a bad input message: %s", exc)
            return
        self.stats["samples_in"] += x.size
        for i in range(0, x.size, MAX_BLOCK_SAMPLES):
            self._enqueue(self.process(x[i : i + MAX_BLOCK_SAMPLES]))
