# SPDX-License-Identifier: GPL-3.0-or-later
"""Real workers (venv) and real bridge blocks (GNU Radio's interpreter) on 127.0.0.1:
encoder worker -> semantic_source -> semantic_sink -> echo worker standing in for the decoder;
then the same with the "decoder" killed mid-run and restarted on the same port."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from lgvsc.workers.client import FREE, WorkerProcess

GR_PYTHON = os.environ.get("GR_PYTHON", "/usr/bin/python3")
FLOWGRAPH = Path(__file__).with_name("bridge_flowgraph.py")
pytestmark = pytest.mark.skipif(shutil.which(GR_PYTHON) is None, reason="GNU Radio interpreter not found")


def _radio(source, sink, max_pps=0.0, timeout=60):
    return subprocess.Popen([GR_PYTHON, str(FLOWGRAPH), "--source", source, "--sink", sink,
                             "--max-pps", str(max_pps), "--timeout", str(timeout)],
                            stdout=subprocess.PIPE, text=True)


def _last(lines, event):
    for line in reversed(lines):
        if not line.startswith("{"):
            continue
        msg = json.loads(line)
        if msg["event"] == event:
            return msg
    return None


def test_encoder_to_decoder_through_the_bridge_blocks():
    enc = WorkerProcess.spawn(["encode", "--pdu-out", FREE])
    dec = WorkerProcess.spawn(["echo", "--pdu-in", FREE, "--pdu-out", "none"])
    try:
        assert enc.control({"op": "job", "synthetic": 2000, "size": 200})["ok"]
        radio = _radio(enc.endpoints["pdu_out"], dec.endpoints["pdu_in"])
        out, _ = radio.communicate(timeout=90)
        done = _last(out.splitlines(), "done")
        assert radio.returncode == 0 and done is not None, out[-2000:]
        assert done["source"]["emitted"] == 2000 and done["sink"]["forwarded"] == 2000
        assert done["sink"]["dropped_queue_full"] == 0
        deadline = time.monotonic() + 5
        while dec.control({"op": "status"})["echoed"] < 2000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert dec.control({"op": "status"})["echoed"] == 2000
        assert enc.control({"op": "status"})["jobs_done"] == 1
    finally:
        enc.stop()
        dec.stop()


@pytest.mark.slow
def test_decoder_killed_mid_run_flowgraph_keeps_running_and_resumes():
    enc = WorkerProcess.spawn(["encode", "--pdu-out", FREE])
    dec = WorkerProcess.spawn(["echo", "--pdu-in", FREE, "--pdu-out", "none"])
    endpoint = dec.endpoints["pdu_in"]
    try:
        assert enc.control({"op": "job", "synthetic": 1500, "size": 100})["ok"]
        radio = _radio(enc.endpoints["pdu_out"], endpoint, max_pps=250)  # ~6 s of stream
        lines = []
        while len(lines) < 5:  # ~1 s in
            lines.append(radio.stdout.readline())
        dec.kill()  # SIGKILL: a crash
        seen_down = False
        for _ in range(10):
            line = radio.stdout.readline()
            assert line, "the flowgraph ended early"
            if not line.startswith("{"):  # GNU Radio's log lines share stdout
                continue
            msg = json.loads(line)
            lines.append(line)
            seen_down |= msg["sink"]["worker"] == "disconnected"
        assert seen_down, "the sink did not report the dead worker"
        assert radio.poll() is None, "the flowgraph stopped with the worker"
        dec = WorkerProcess.spawn(["echo", "--pdu-in", endpoint, "--pdu-out", "none"])
        out, _ = radio.communicate(timeout=60)
        lines += out.splitlines()
        done = _last(lines, "done")
        assert done is not None, lines[-3:]
        sink = done["sink"]
        assert sink["received"] == 1500
        # every PDU is accounted for: forwarded (some into the dead worker's socket) or dropped and counted
        assert sink["forwarded"] + sink["dropped_queue_full"] + sink["queued"] == 1500
        deadline = time.monotonic() + 5
        while dec.control({"op": "status"})["echoed"] < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert dec.control({"op": "status"})["echoed"] >= 100  # the restarted worker resumed
    finally:
        enc.stop()
        dec.stop()
