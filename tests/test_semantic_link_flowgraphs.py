# SPDX-License-Identifier: GPL-3.0-or-later
"""The semantic GRC flowgraphs, compiled with grcc and run as real processes between the real
encoder and decoder workers: the one-process loopback, the split TX/RX pair (two processes joined by
ZeroMQ IQ) and the variant built only from stock gr-zeromq message blocks (proves the wire format).
Each run must give the decoder a full-length video."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import GR_PYTHON, ROOT
from lgvsc.video import probe_video
from lgvsc.workers.client import FREE, WorkerProcess

FLOWGRAPHS = ("semantic_loopback", "semantic_tx_zmq", "semantic_rx_zmq", "semantic_loopback_stock_zmq")


@pytest.fixture(scope="module")
def compiled(gr_env, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("grcc")
    env = dict(gr_env, GRC_BLOCKS_PATH=str(ROOT / "gr-lgvsc" / "grc"))
    env.pop("GR_DONT_LOAD_PREFS", None)
    for name in FLOWGRAPHS:
        proc = subprocess.run(["grcc", "-o", str(out), str(ROOT / "flowgraphs" / f"{name}.grc")], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0 and "Error" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        assert (out / f"{name}.py").stat().st_size > 0
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flowgraph(compiled, gr_env, name, log_dir, **params):
    argv = [GR_PYTHON, "-u", str(compiled / f"{name}.py")]
    for k, v in params.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    log = open(log_dir / f"{name}.log", "w")  # noqa: SIM115 - closed in _stop
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=gr_env)
    p.log = log
    return p


def _stop(p) -> int:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        code = p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        code = p.wait()
    p.log.close()
    return code


def _decoder(tmp_path):
    return WorkerProcess.spawn(["decode", "--pdu-in", FREE, "--out-dir", str(tmp_path / "rx"), "--finish-on-end"])


def _wait_finished(dec, procs, log_dir, timeout=45.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = dec.control({"op": "status"})
        if st["finished"]:
            return dec.control({"op": "finish"})
        for p in procs:
            assert p.poll() is None, f"a flowgraph exited early: {p.args}\n" + \
                "\n".join(f.read_text()[-1500:] for f in log_dir.glob("*.log"))
        time.sleep(0.1)
    raise AssertionError(f"no finish within {timeout} s: {json.dumps(st)[:500]}\n"
                         + "\n".join(f.read_text()[-1500:] for f in log_dir.glob("*.log")))


def _check(reply):
    assert reply["ok"], reply
    assert reply["num_frames"] == 36 and probe_video(reply["video"]).num_frames == 36
    assert reply["end_received"] and reply["pdus_received"] > 0


def test_semantic_loopback_flowgraph(compiled, gr_env, short_clip, tmp_path):
    enc = WorkerProcess.spawn(["encode", "--pdu-out", FREE, "--job", str(short_clip)])
    dec = _decoder(tmp_path)
    procs = []
    try:
        procs.append(_flowgraph(compiled, gr_env, "semantic_loopback", tmp_path, encoder=enc.endpoints["pdu_out"],
                                decoder=dec.endpoints["pdu_in"], snr_db=30))
        _check(_wait_finished(dec, procs, tmp_path))
    finally:
        codes = [_stop(p) for p in procs]
        enc.stop()
        dec.stop()
    assert codes == [0]


def test_split_tx_rx_processes(compiled, gr_env, short_clip, tmp_path):
    enc = WorkerProcess.spawn(["encode", "--pdu-out", FREE, "--job", str(short_clip)])
    dec = _decoder(tmp_path)
    iq = f"tcp://127.0.0.1:{_free_port()}"
    procs = []
    try:
        procs.append(_flowgraph(compiled, gr_env, "semantic_rx_zmq", tmp_path, decoder=dec.endpoints["pdu_in"],
                                iq_address=iq))
        procs.append(_flowgraph(compiled, gr_env, "semantic_tx_zmq", tmp_path, encoder=enc.endpoints["pdu_out"],
                                iq_address=iq))
        _check(_wait_finished(dec, procs, tmp_path))
    finally:
        codes = [_stop(p) for p in procs]
        enc.stop()
        dec.stop()
    assert codes == [0, 0]


def test_stock_zeromq_message_blocks(compiled, gr_env, short_clip, tmp_path):
    # the encoder PUSHes (paced, no credits) to a stock pull_msg_source; a stock push_msg_sink
    # connects to the decoder's PULL socket
    enc = WorkerProcess.spawn(["encode", "--pdu-out", "none", "--push", FREE, "--rate", "60",
                               "--job", str(short_clip)])
    dec = _decoder(tmp_path)
    procs = []
    try:
        procs.append(_flowgraph(compiled, gr_env, "semantic_loopback_stock_zmq", tmp_path,
                                encoder=enc.endpoints["push"], decoder=dec.endpoints["pdu_in"], snr_db=30))
        reply = _wait_finished(dec, procs, tmp_path)
        _check(reply)
        assert not reply["concealed"] and reply["pdus_invalid"] == 0
    finally:
        codes = [_stop(p) for p in procs]
        enc.stop()
        dec.stop()
    assert codes == [0]

