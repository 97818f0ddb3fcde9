# SPDX-License-Identifier: GPL-3.0-or-later
"""The echo worker as a real process on real 127.0.0.1 sockets: echo, malformed input,
control requests, shutdown, port conflicts, the loopback-only default and CURVE."""

import os
import random
import subprocess
import sys
import time

import pytest
import zmq
import zmq.auth

from lgvsc.pmt_codec import decode_pdu, encode, encode_pdu
from lgvsc.workers.client import FREE, StatusSubscriber, WorkerProcess, request


@pytest.fixture(scope="module")
def echo():
    w = WorkerProcess.spawn(["echo", "--pdu-in", FREE, "--pdu-out", FREE])
    yield w
    assert w.stop() == 0


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


def _pair(ctx, worker):
    tx = ctx.socket(zmq.PUSH)
    tx.connect(worker.endpoints["pdu_in"])
    rx = ctx.socket(zmq.PULL)
    rx.connect(worker.endpoints["pdu_out"])
    return tx, rx


def test_echoes_pdus_byte_exact(echo, ctx):
    tx, rx = _pair(ctx, echo)
    rng = random.Random(7)
    sent = [encode_pdu({"seq": i, "snr": rng.uniform(0, 20)}, rng.randbytes(rng.randint(0, 1500)))
            for i in range(300)]
    for wire in sent:
        tx.send(wire)
    got = []
    while len(got) < len(sent) and rx.poll(5000):
        got.append(rx.recv())
    assert got == sent
    assert decode_pdu(got[-1])[0]["seq"] == 299


def test_malformed_counted_and_worker_keeps_serving(echo, ctx):
    before = echo.control({"op": "status"})["counters"].get("malformed", 0)
    tx, rx = _pair(ctx, echo)
    tx.send(b"\x42not a pmt")                     # garbage
    tx.send(encode(b"just a u8vector"))          # valid PMT, not a PDU
    tx.send_multipart([encode_pdu({}, b"a"), b"extra frame"])
    good = encode_pdu({"after": True}, b"still here")
    tx.send(good)
    assert rx.poll(5000)
    assert rx.recv() == good
    status = echo.control({"op": "status"})
    assert status["counters"]["malformed"] == before + 3
    assert echo.alive()


def test_control_requests(echo, ctx):
    assert echo.control({"op": "ping"}) == {"ok": True, "worker": "echo"}
    bad = echo.control({"op": "fly"})
    assert bad["ok"] is False and "unknown op 'fly'" in bad["error"]
    # not msgpack / no op: error reply from the IO thread, worker keeps serving
    s = ctx.socket(zmq.REQ)
    s.connect(echo.endpoints["control"])
    s.send(b"\xc1\xc1")
    assert s.poll(5000)
    from lgvsc.workers.transport import unpack_control
    assert "not valid msgpack" in unpack_control(s.recv())["error"]
    s.send(b"\x81\xa1x\x01")  # {"x": 1}
    assert s.poll(5000)
    assert "no string 'op'" in unpack_control(s.recv())["error"]
    assert echo.control({"op": "ping"})["ok"]


def test_status_heartbeats(echo):
    sub = StatusSubscriber(echo.endpoints["status"])
    try:
        ev = sub.wait_for(lambda e: e["event"] == "heartbeat", timeout=5)
    finally:
        sub.close()
    assert ev is not None and ev["worker"] == "echo" and "counters" in ev


def test_shutdown_request_exits_cleanly():
    w = WorkerProcess.spawn(["echo", "--pdu-in", FREE, "--pdu-out", "none"])
    assert w.control({"op": "shutdown"})["ok"]
    w.proc.wait(timeout=10)
    assert w.stop() == 0
    assert w.exit_line is not None and w.exit_line["event"] == "exit"


def _run_cli(*argv, timeout=30):
    return subprocess.run([sys.executable, "-c", "import sys; from lgvsc.cli import main; sys.exit(main())",
                           "worker", *argv], capture_output=True, text=True, timeout=timeout)


def test_port_in_use_is_a_clear_error(echo):
    proc = _run_cli("echo", "--pdu-in", echo.endpoints["pdu_in"], "--pdu-out", "none",
                    "--control", FREE, "--status", "none")
    assert proc.returncode == 2
    assert "address already in use" in proc.stderr and echo.endpoints["pdu_in"] in proc.stderr
    assert "ready" not in proc.stdout


def test_non_loopback_bind_needs_curve():
    proc = _run_cli("echo", "--pdu-in", "tcp://0.0.0.0:*", "--pdu-out", "none", "--control", FREE,
                    "--status", "none")
    assert proc.returncode == 2
    assert "without CURVE" in proc.stderr


def test_backpressure_reaches_the_sender(ctx):
    """A slow worker with small queues: the sender's PUSH blocks (EAGAIN), nothing grows unbounded."""
    w = WorkerProcess.spawn(["echo", "--pdu-in", FREE, "--pdu-out", "none", "--delay", "0.5",
                             "--queue-depth", "4"])
    try:
        tx = ctx.socket(zmq.PUSH)
        tx.setsockopt(zmq.SNDHWM, 4)
        tx.connect(w.endpoints["pdu_in"])
        time.sleep(0.2)
        accepted = 0
        for _ in range(5000):
            try:
                tx.send(encode_pdu({}, b"x" * 100), zmq.NOBLOCK)
                accepted += 1
            except zmq.Again:
                break
        # queue 4 + zmq HWMs on both sides + a TCP buffer; far below 5000
        assert accepted < 5000
        assert w.alive()
    finally:
        w.stop()


def test_curve_connection(tmp_path, ctx):
    keys = tmp_path / "keys"
    clients = tmp_path / "clients"
    keys.mkdir()
    clients.mkdir()
    server_pub_file, server_secret_file = zmq.auth.create_certificates(str(keys), "server")
    client_pub_file, client_secret_file = zmq.auth.create_certificates(str(keys), "client")
    os.rename(client_pub_file, clients / "client.key")
    w = WorkerProcess.spawn(["echo", "--pdu-in", FREE, "--pdu-out", FREE, "--curve-secret", server_secret_file,
                             "--curve-clients", str(clients)])
    try:
        server_pub, _ = zmq.auth.load_certificate(server_pub_file)
        client_pub, client_secret = zmq.auth.load_certificate(client_secret_file)
        # authorised client: round trip works, control works
        assert request(w.endpoints["control"], {"op": "ping"}, curve=(client_pub, client_secret, server_pub))["ok"]
        tx, rx = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
        for s in (tx, rx):
            s.curve_publickey, s.curve_secretkey, s.curve_serverkey = client_pub, client_secret, server_pub
        tx.connect(w.endpoints["pdu_in"])
        rx.connect(w.endpoints["pdu_out"])
        tx.send(encode_pdu({"secure": True}, b"hello"))
        assert rx.poll(5000) and decode_pdu(rx.recv()) == ({"secure": True}, b"hello")
        # a client with unknown keys gets nothing through
        stranger_pub, stranger_secret = zmq.curve_keypair()
        with pytest.raises(TimeoutError):
            request(w.endpoints["control"], {"op": "ping"}, timeout=1.0,
                    curve=(stranger_pub, stranger_secret, server_pub))
        # and a plain-text client neither
        with pytest.raises(TimeoutError):
            request(w.endpoints["control"], {"op": "ping"}, timeout=1.0)
    finally:
        assert w.stop() == 0
