# SPDX-License-Identifier: GPL-3.0-or-later
"""ZeroMQ plumbing for the workers, in the shape of vLLM's v1 engine core.

Every socket belongs to exactly one IO thread; the compute loop of a worker touches
only :class:`queue.Queue` objects. Queues are bounded, so a slow compute loop pushes
back: the input thread stops reading, ZeroMQ's receive high-water mark fills, and the
sender sees it (a PUSH peer gets ``EAGAIN``; our radio-side blocks count that).

- :class:`InputThread` polls a receiving socket, decodes each message and puts it on a
  queue. Malformed messages are logged, counted (``malformed``) and skipped.
- :class:`OutputThread` takes frame lists from a queue and sends them; it ends on
  :data:`STOP`.
- :class:`RouterThread` serves a ROUTER socket (requests in, replies out on the same
  socket, as ZeroMQ requires) for control messages (msgpack maps).
- :func:`open_socket` makes a socket with our limits (``MAXMSGSIZE``, high-water marks,
  ``LINGER``), binds or connects it, resolves ``tcp://127.0.0.1:*`` to the port chosen,
  and refuses to bind a non-loopback address without CURVE (see docs/remote-worker.md).

Nothing here pickles: PDUs are PMT bytes (:mod:`lgvsc.pmt_codec`), control messages are
msgpack maps of plain types.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import zmq

from lgvsc.errors import PacketError, UserError

__all__ = [
    "STOP",
    "MAX_FRAME_BYTES",
    "MAX_CONTROL_BYTES",
    "CurveConfig",
    "Counters",
    "open_socket",
    "pack_control",
    "pack_json",
    "unpack_control",
    "InputThread",
    "OutputThread",
    "RouterThread",
    "put_bounded",
    "EOS",
    "CreditServerThread",
    "PacedPushThread",
    "stop_all",
    "stop_authenticators",
]

log = logging.getLogger(__name__)

#: Sentinel that ends an :class:`OutputThread` (and a compute loop reading an input queue).
STOP = object()
#: ZeroMQ ``MAXMSGSIZE`` for PDU sockets: a peer sending a larger frame is disconnected.
MAX_FRAME_BYTES = 1 << 20
#: Cap on one msgpack control message.
MAX_CONTROL_BYTES = 64 * 1024


class Counters:
    """Thread-safe named counters (``received``, ``sent``, ``malformed``, ``dropped_*`` ...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = {}

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._values[name] = self._values.get(name, 0) + n

    def get(self, name: str) -> int:
        with self._lock:
            return self._values.get(name, 0)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


@dataclass(frozen=True)
class CurveConfig:
    """CURVE keys for a worker's sockets (server side).

    :param secret_file: the worker's certificate with its secret key (``zmq.auth.create_certificates``)
    :param clients_dir: directory of the public certificates of the clients that may connect
    """

    secret_file: Path
    clients_dir: Path

    def load(self) -> tuple[bytes, bytes]:
        import zmq.auth

        try:
            public, secret = zmq.auth.load_certificate(str(self.secret_file))
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read CURVE certificate {self.secret_file}: {exc}") from exc
        if secret is None:
            raise UserError(f"{self.secret_file} holds no secret key (use the .key_secret file)")
        if not self.clients_dir.is_dir():
            raise UserError(f"CURVE clients directory {self.clients_dir} does not exist")
        return public, secret


_auth_lock = threading.Lock()
_authenticators: dict[int, Any] = {}


def _start_authenticator(ctx: zmq.Context, curve: CurveConfig) -> None:
    from zmq.auth.thread import ThreadAuthenticator

    with _auth_lock:
        if id(ctx) in _authenticators:
            return
        auth = ThreadAuthenticator(ctx, log=logging.getLogger("lgvsc.workers.auth"))
        auth.start()
        auth.configure_curve(domain="*", location=str(curve.clients_dir))
        _authenticators[id(ctx)] = auth


def stop_authenticators() -> None:
    """Stop the ZAP authenticator threads started for CURVE sockets (at worker shutdown)."""
    with _auth_lock:
        for auth in _authenticators.values():
            auth.stop()
        _authenticators.clear()


def _is_loopback(endpoint: str) -> bool:
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    host = endpoint.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_socket(
    ctx: zmq.Context,
    kind: int,
    endpoint: str,
    *,
    bind: bool = True,
    hwm: int = 1000,
    max_msg_bytes: int = MAX_FRAME_BYTES,
    curve: CurveConfig | None = None,
    allow_insecure_remote: bool = False,
) -> tuple[zmq.Socket, str]:
    """Create, configure and bind/connect a socket.

    :param kind: ``zmq.PULL``, ``zmq.PUSH``, ``zmq.ROUTER``, ``zmq.PUB`` ...
    :param endpoint: e.g. ``tcp://127.0.0.1:5560``; port ``*`` picks a free port
    :param curve: make this a CURVE server socket (required to bind a non-loopback address)
    :output: the socket and the endpoint it is bound to (port resolved)
    :raises UserError: port in use, bad endpoint, or an unauthenticated non-loopback bind
    """
    if bind and not _is_loopback(endpoint) and curve is None and not allow_insecure_remote:
        raise UserError(
            f"refusing to bind {endpoint} without CURVE authentication: anyone on the network could "
            "feed this worker. Bind 127.0.0.1, or pass CURVE keys (docs/remote-worker.md)."
        )
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, max_msg_bytes)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    if curve is not None:
        public, secret = curve.load()
        _start_authenticator(ctx, curve)
        sock.curve_publickey = public
        sock.curve_secretkey = secret
        sock.curve_server = True
    try:
        if bind:
            sock.bind(endpoint)
            actual = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        else:
            sock.connect(endpoint)
            actual = endpoint
    except zmq.ZMQError as exc:
        sock.close(0)
        if exc.errno == zmq.EADDRINUSE:
            raise UserError(f"address already in use: {endpoint} (another worker running?)") from exc
        raise UserError(f"cannot {'bind' if bind else 'connect'} {endpoint}: {exc}") from exc
    return sock, actual


def pack_control(msg: dict[str, Any]) -> bytes:
    """msgpack a control message (plain types only; never pickle)."""
    return msgpack.packb(msg, use_bin_type=True)


def pack_json(msg: dict[str, Any]) -> bytes:
    """JSON form of a control message, for radio-side peers (GNU Radio's interpreter has no msgpack)."""
    return json.dumps(msg, separators=(",", ":")).encode()


def unpack_control(data: bytes) -> dict[str, Any]:
    """Parse one control map (msgpack, or JSON when it starts with ``{``) with bounded sizes.

    :raises PacketError: not msgpack/JSON, too large, or not a map
    """
    if len(data) > MAX_CONTROL_BYTES:
        raise PacketError(f"control message of {len(data)} bytes exceeds {MAX_CONTROL_BYTES}")
    if data[:1] == b"{":
        try:
            msg = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise PacketError(f"control message is not valid JSON: {exc}") from exc
        if not isinstance(msg, dict):
            raise PacketError("control message must be a map")
        return msg
    try:
        msg = msgpack.unpackb(data, raw=False, strict_map_key=True, max_str_len=MAX_CONTROL_BYTES, max_bin_len=MAX_CONTROL_BYTES,
                              max_array_len=4096, max_map_len=256)
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise PacketError(f"control message is not valid msgpack: {exc}") from exc
    if not isinstance(msg, dict):
        raise PacketError(f"control message must be a map, got {type(msg).__name__}")
    return msg


def put_bounded(q: queue.Queue, item: Any, stop: threading.Event, timeout: float = 0.05) -> bool:
    """Blocking put that gives up when ``stop`` is set; ``False`` when it gave up."""
    while not stop.is_set():
        try:
            q.put(item, timeout=timeout)
            return True
        except queue.Full:
            continue
    return False


class _SocketThread(threading.Thread):
    def __init__(self, sock: zmq.Socket, name: str, counters: Counters, poll_ms: int) -> None:
        super().__init__(name=name, daemon=True)
        self.sock = sock
        self.counters = counters
        self.poll_ms = poll_ms
        self.stopping = threading.Event()

    def stop(self, join: bool = True) -> None:
        self.stopping.set()
        if join and self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=5)

    def _close(self) -> None:
        try:
            self.sock.close(0)
        except zmq.ZMQError:  # pragma: no cover - closing twice
            pass


class InputThread(_SocketThread):
    """Receive, decode and enqueue; the only user of ``sock``.

    :param decode: frames -> item; raise :class:`PacketError` (or ``ValueError``) for a bad message
    :param out: bounded queue the compute loop reads (a full queue blocks this thread: backpressure)
    """

    def __init__(self, sock: zmq.Socket, out: queue.Queue, decode: Callable[[list[bytes]], Any],
                 counters: Counters, name: str = "input", poll_ms: int = 50) -> None:
        super().__init__(sock, name, counters, poll_ms)
        self.out = out
        self.decode = decode

    def run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        try:
            while not self.stopping.is_set():
                if not poller.poll(self.poll_ms):
                    continue
                while not self.stopping.is_set():
                    try:
                        frames = self.sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self.counters.add("received")
                    try:
                        item = self.decode(frames)
                    except (PacketError, ValueError) as exc:
                        self.counters.add("malformed")
                        log.warning("%s: dropped a malformed message: %s", self.name, exc)
                        continue
                    except Exception:  # a decoder bug must not kill the IO thread
                        self.counters.add("malformed")
                        log.exception("%s: decoding a message failed", self.name)
                        continue
                    if not put_bounded(self.out, item, self.stopping):
                        return
        except zmq.ZMQError as exc:  # context terminated under us
            log.debug("%s: socket closed: %s", self.name, exc)
        finally:
            self._close()


class OutputThread(_SocketThread):
    """Dequeue frame lists and send them; ends on :data:`STOP` or :meth:`stop`.

    A peer that is not there (PUSH with no connection) or is full blocks only this
    thread; the queue in front of it is bounded, so producers see ``queue.Full``.
    """

    def __init__(self, sock: zmq.Socket, inbox: queue.Queue, counters: Counters,
                 name: str = "output", poll_ms: int = 50) -> None:
        super().__init__(sock, name, counters, poll_ms)
        self.inbox = inbox

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    frames = self.inbox.get(timeout=self.poll_ms / 1000)
                except queue.Empty:
                    continue
                if frames is STOP:
                    return
                while not self.stopping.is_set():
                    try:
                        self.sock.send_multipart(frames, zmq.NOBLOCK)
                        self.counters.add("sent")
                        break
                    except zmq.Again:
                        self.sock.poll(self.poll_ms, zmq.POLLOUT)
        except zmq.ZMQError as exc:
            log.debug("%s: socket closed: %s", self.name, exc)
        finally:
            self._close()


class RouterThread(_SocketThread):
    """Serve a ROUTER socket: requests (msgpack maps) in, replies out, same socket.

    Accepts REQ peers (``[id, b"", body]``) and DEALER peers (``[id, body]``). Requests
    go to ``requests`` as ``(reply_to, msg)``; a reply is sent with :meth:`reply`
    from any thread (it is queued and sent by this thread). A request that does not
    parse gets an error reply here and never reaches the compute loop, and one that
    ``answer`` answers (vLLM's shape: ``ping`` and ``status`` from a snapshot the compute
    loop publishes) is replied to here at once, however long the compute loop is busy.
    """

    def __init__(self, sock: zmq.Socket, requests: queue.Queue, counters: Counters,
                 name: str = "control", poll_ms: int = 5,
                 answer: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None) -> None:
        super().__init__(sock, name, counters, poll_ms)
        self.requests = requests
        self.outbox: queue.Queue = queue.Queue(maxsize=1000)
        #: Answers a request on this thread (``None``: queue it for the compute loop). Ops that
        #: need no compute state (``ping``, ``status`` from a published snapshot) never wait for a step.
        self.answer = answer
        #: Called on this thread every poll turn (the worker's heartbeat: it must not wait for a step).
        self.tick: Callable[[], None] | None = None

    def reply(self, reply_to: tuple[bytes, ...], msg: dict[str, Any]) -> None:
        try:
            self.outbox.put_nowait([*reply_to, pack_control(msg)])
        except queue.Full:
            self.counters.add("control_replies_dropped")

    def _send_pending(self) -> None:
        while True:
            try:
                frames = self.outbox.get_nowait()
            except queue.Empty:
                return
            try:
                self.sock.send_multipart(frames, zmq.NOBLOCK)
            except zmq.ZMQError:  # peer gone (ROUTER drops unroutable) or HWM
                self.counters.add("control_replies_dropped")

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self._send_pending()
                if self.tick is not None:
                    self.tick()
                if not self.sock.poll(self.poll_ms, zmq.POLLIN):
                    continue
                frames = self.sock.recv_multipart()
                self.counters.add("control_received")
                if len(frames) >= 3 and frames[1] == b"":
                    reply_to, body = tuple(frames[:2]), frames[2:]
                else:
                    reply_to, body = (frames[0],), frames[1:]
                try:
                    if len(body) != 1:
                        raise PacketError(f"control request must be one frame, got {len(body)}")
                    msg = unpack_control(body[0])
                    if not isinstance(msg.get("op"), str):
                        raise PacketError("control request has no string 'op'")
                except PacketError as exc:
                    self.counters.add("malformed")
                    log.warning("%s: bad control request: %s", self.name, exc)
                    self.reply(reply_to, {"ok": False, "error": str(exc)})
                    continue
                reply = None
                if self.answer is not None:
                    try:
                        reply = self.answer(msg)
                    except Exception as exc:  # a bug in a fast path must not end the control plane
                        log.exception("%s: answering %r failed", self.name, msg.get("op"))
                        reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                if reply is not None:
                    self.counters.add("control_answered_io")
                    self.reply(reply_to, reply)
                    continue
                if not put_bounded(self.requests, (reply_to, msg), self.stopping):
                    return
            self._send_pending()
        except zmq.ZMQError as exc:
            log.debug("%s: socket closed: %s", self.name, exc)
        finally:
            self._close()


def stop_all(threads: Iterable[_SocketThread]) -> None:
    """Stop and join a set of socket threads."""
    threads = list(threads)
    for t in threads:
        t.stopping.set()
        if t.ident is None:  # never started: its socket is still ours to close
            t._close()
    deadline = time.monotonic() + 5
    for t in threads:
        if t.is_alive():
            t.join(timeout=max(0.0, deadline - time.monotonic()))


#: Item that marks the end of one stream in a :class:`CreditServerThread` packet queue:
#: ``(EOS, info_dict)``.
EOS = "eos"


class CreditServerThread(_SocketThread):
    """Serve PDUs on a ROUTER socket to peers that ask for them with credits.

    Protocol (docs/bridge.md): a peer (semantic_source, a DEALER) sends JSON (or msgpack)
    ``{"op": "credit", "n": N}``; the server sends at most N messages
    ``[b"pdu", pmt_bytes]`` in total for those credits, plus ``[b"eos", JSON info]``
    at the end of a stream (free of credit) and ``[b"hb", JSON state]`` in reply to every
    credit message (the peer's liveness check). ``packets`` holds ``bytes`` (one serialised
    PDU) or ``(EOS, info)``; the producer blocks on it when no peer asks: backpressure
    all the way to the encoder.
    """

    def __init__(self, sock: zmq.Socket, packets: queue.Queue, counters: Counters,
                 name: str = "pdu-server", poll_ms: int = 50) -> None:
        super().__init__(sock, name, counters, poll_ms)
        self.packets = packets
        self.credit: dict[bytes, int] = {}
        self.last_seen: dict[bytes, float] = {}
        self._pending: Any = None
        # ROUTER drops messages to unknown peers silently unless told otherwise.
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)

    #: A peer that sent no credit message for this long is forgotten (it pings every 0.5 s).
    PEER_TIMEOUT_S = 3.0

    def _expire_peers(self) -> None:
        now = time.monotonic()
        for peer in [p for p, t in self.last_seen.items() if now - t > self.PEER_TIMEOUT_S]:
            self.counters.add("peers_expired")
            self.counters.add("credit_expired", self.credit.pop(peer, 0))
            del self.last_seen[peer]

    def _on_request(self, frames: list[bytes]) -> None:
        ident, body = frames[0], frames[1:]
        try:
            if len(body) != 1:
                raise PacketError(f"credit message must be one frame, got {len(body)}")
            msg = unpack_control(body[0])
            n = msg.get("n", 0)
            if msg.get("op") != "credit" or not isinstance(n, int) or not 0 <= n <= 1_000_000:
                raise PacketError(f"expected {{'op': 'credit', 'n': 0..1e6}}, got {msg!r:.100}")
        except PacketError as exc:
            self.counters.add("malformed")
            log.warning("%s: bad credit message: %s", self.name, exc)
            return
        self.credit[ident] = self.credit.get(ident, 0) + n
        self.last_seen[ident] = time.monotonic()
        self.counters.add("credit_received", n)
        state = {"credit": self.credit[ident], "queued": self.packets.qsize()}
        self._send([ident, b"hb", pack_json(state)])

    def _send(self, frames: list[bytes]) -> bool:
        try:
            self.sock.send_multipart(frames, zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False
        except zmq.ZMQError as exc:  # EHOSTUNREACH: the peer is gone
            log.info("%s: peer gone (%s); forgetting its credit", self.name, exc)
            self.credit.pop(frames[0], None)
            self.last_seen.pop(frames[0], None)
            return False

    def _serve(self) -> None:
        while True:
            peers = [p for p, c in self.credit.items() if c > 0]
            if self._pending is None:
                try:
                    self._pending = self.packets.get_nowait()
                except queue.Empty:
                    return
            item = self._pending
            if isinstance(item, tuple) and item and item[0] == EOS:
                # the end goes to every peer that has asked for data, credit or not
                for peer in list(self.credit):
                    self._send([peer, b"eos", pack_json(item[1])])
                self.counters.add("eos_sent")
                self._pending = None
                continue
            if not peers:
                return
            peer = peers[0]
            if not self._send([peer, b"pdu", item]):
                if peer in self.credit:  # HWM reached: try later
                    return
                continue
            self.credit[peer] -= 1
            # rotate so several peers share fairly
            self.credit[peer] = self.credit.pop(peer)
            self.counters.add("sent")
            self._pending = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                has_work = any(c > 0 for c in self.credit.values())
                timeout = 2 if has_work else self.poll_ms
                if self.sock.poll(timeout, zmq.POLLIN):
                    while True:
                        try:
                            frames = self.sock.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self._on_request(frames)
                self._expire_peers()
                self._serve()
        except zmq.ZMQError as exc:
            log.debug("%s: socket closed: %s", self.name, exc)
        finally:
            self._close()


class PacedPushThread(_SocketThread):
    """Send PDUs from ``packets`` on a PUSH socket at ``rate`` per second (stock
    gr-zeromq ``pull_msg_source`` peers, which have no flow control). ``(EOS, info)``
    items are skipped: stock blocks cannot tell an end from a PDU."""

    def __init__(self, sock: zmq.Socket, packets: queue.Queue, counters: Counters, rate: float,
                 name: str = "pdu-push") -> None:
        super().__init__(sock, name, counters, 50)
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.packets, self.period = packets, 1.0 / rate

    def run(self) -> None:
        next_t = time.monotonic()
        try:
            while not self.stopping.is_set():
                try:
                    item = self.packets.get(timeout=0.05)
                except queue.Empty:
                    continue
                if isinstance(item, tuple):
                    self.counters.add("eos_sent")
                    continue
                delay = next_t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_t = max(next_t + self.period, time.monotonic() - 1.0)
                while not self.stopping.is_set():
                    try:
                        self.sock.send(item, zmq.NOBLOCK)
                        self.counters.add("sent")
                        break
                    except zmq.Again:
                        self.sock.poll(50, zmq.POLLOUT)
        except zmq.ZMQError as exc:
            log.debug("%s: socket closed: %s", self.name, exc)
        finally:
            self._close()
