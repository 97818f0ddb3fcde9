# SPDX-License-Identifier: GPL-3.0-or-later
"""gnuradio.lgvsc.link_runner as a real process (GNU Radio's interpreter) between the real encoder and
decoder workers (venv) on 127.0.0.1: full delivery, PDUs dropped on purpose, the decoder killed and
restarted mid-run, an unreachable worker, SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import time

import pytest
from conftest import GR_PYTHON
from lgvsc.video import probe_video
from lgvsc.workers.client import FREE, WorkerProcess


def _runner(gr_env, source, sink, *extra, timeout=5.0):
    # stderr (GNU Radio's log) to a file: an undrained pipe would block the flowgraph
    err = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed with the process in _wait
    p = subprocess.Popen([GR_PYTHON, "-m", "gnuradio.lgvsc.link_runner", "--source", source, "--sink", sink,
                          "--timeout", str(timeout), *map(str, extra)],
                         stdout=subprocess.PIPE, stderr=err, text=True, env=gr_env)
    p.errfile = err
    return p


def _wait(p, timeout=60):
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()  # never leave a flowgraph behind
        p.communicate()
        raise
    with p.errfile as f:
        f.seek(0)
        return out, f.read()


def _events(stdout: str) -> list[dict]:
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    assert all(ln.startswith("{") for ln in lines), lines  # only JSON lines on stdout
    return [json.loads(ln) for ln in lines]


@pytest.fixture
def workers(tmp_path, short_clip):
    enc = WorkerProcess.spawn(["encode", "--pdu-out", FREE])
    dec = WorkerProcess.spawn(["decode", "--pdu-in", FREE, "--out-dir", str(tmp_path / "rx")])
    yield enc, dec
    enc.stop()
    dec.stop()


def _job(enc, clip, mtu):
    assert enc.control({"op": "job", "video": str(clip), "mtu": mtu})["ok"]


def test_full_delivery_high_snr(gr_env, workers, short_clip):
    enc, dec = workers
    _job(enc, short_clip, 1500)
    r = _runner(gr_env, enc.endpoints["pdu_out"], dec.endpoints["pdu_in"], "--snr", 30)
    out, err = _wait(r)
    assert r.returncode == 0, err[-2000:]
    ev = _events(out)
    assert ev[0]["event"] == "ready" and ev[-1]["event"] == "done"
    assert any(e["event"] == "status" for e in ev)
    done = ev[-1]
    assert done["tx_pdus"] > 0 and done["rx_ok"] == done["tx_pdus"] and done["rx_crc_fail"] == 0
    assert done["sink_forwarded"] == done["rx_ok"] and done["sink_dropped"] == 0
    assert done["samples_tx"] > 0 and done["phy"]["fft_len"] == 64 and done["phy"]["snr_db"] == 30
    reply = dec.control({"op": "finish", "timeout": 5}, timeout=60)
    assert reply["ok"] and not reply["concealed"], reply
    assert probe_video(reply["video"]).num_frames == 36


def test_pdus_dropped_on_purpose_full_length_with_concealment(gr_env, workers, short_clip):
    enc, dec = workers
    _job(enc, short_clip, 300)
    r = _runner(gr_env, enc.endpoints["pdu_out"], dec.endpoints["pdu_in"], "--snr", 30, "--mtu", 300,
                "--drop-every", 4)
    out, err = _wait(r)
    assert r.returncode == 0, err[-2000:]
    done = _events(out)[-1]
    assert done["dropped_on_purpose"] > 0
    assert done["dropped_on_purpose"] + done["tx_pdus"] == done["source"]["emitted"]
    reply = dec.control({"op": "finish", "timeout": 5}, timeout=60)
    assert reply["ok"] and reply["concealed"], reply
    assert probe_video(reply["video"]).num_frames == 36
    assert reply["pdus_received"] == done["rx_ok"]


@pytest.mark.slow
def test_decoder_killed_and_restarted_mid_run(gr_env, workers, short_clip, tmp_path):
    enc, dec = workers
    endpoint = dec.endpoints["pdu_in"]
    _job(enc, short_clip, 200)
    r = _runner(gr_env, enc.endpoints["pdu_out"], endpoint, "--snr", 30, "--mtu", 200, "--max-pps", 5,
                timeout=20)
    assert json.loads(r.stdout.readline())["event"] == "ready"
    time.sleep(0.5)
    dec.kill()  # SIGKILL: a crash
    seen_down = False
    for _ in range(20):  # the flowgraph goes on and reports the dead worker
        line = r.stdout.readline()
        assert line, _wait(r)[1][-2000:]
        msg = json.loads(line)
        seen_down |= msg["sink"]["worker"] == "disconnected"
        if seen_down:
            break
    assert seen_down and r.poll() is None
    dec2 = WorkerProcess.spawn(["decode", "--pdu-in", endpoint, "--out-dir", str(tmp_path / "rx2")])
    try:
        out, err = _wait(r)
        assert r.returncode == 0, err[-2000:]
        done = _events(out)[-1]
        assert done["event"] == "done" and done["rx_ok"] == done["tx_pdus"]
        assert done["seconds"] > 2, done
        sink = done["sink"]
        assert sink["forwarded"] + sink["dropped_queue_full"] + sink["queued"] == sink["received"] == done["rx_ok"]
        reply = dec2.control({"op": "finish", "timeout": 5}, timeout=60)
        assert reply["ok"], reply  # the stream header is repeated, so the new worker picks the stream up
        assert reply["pdus_received"] > 0 and probe_video(reply["video"]).num_frames == 36
    finally:
        dec2.stop()


def test_unreachable_worker_is_an_error(gr_env):
    r = _runner(gr_env, "tcp://127.0.0.1:9", "tcp://127.0.0.1:9", timeout=1.5)
    out, err = _wait(r, 30)
    assert r.returncode == 3
    assert "worker" in err and "for more than 1.5 s" in err
    assert _events(out)[-1]["event"] == "error"


def test_bad_arguments_exit_2(gr_env):
    r = _runner(gr_env, "tcp://127.0.0.1:9", "tcp://127.0.0.1:9", "--phy", "nosuch")
    _, err = _wait(r, 30)
    assert r.returncode == 2 and "PHY 'nosuch' is not available" in err


def test_sigterm_stops_cleanly(gr_env):
    r = _runner(gr_env, "tcp://127.0.0.1:9", "tcp://127.0.0.1:9", timeout=60)
    assert json.loads(r.stdout.readline())["event"] == "ready"
    r.send_signal(signal.SIGTERM)
    out, _ = _wait(r, 20)
    assert r.returncode == 143
    assert _events(out)[-1]["event"] == "stopped"


def test_psk_phy_with_curve_authenticated_workers(gr_env, short_clip, tmp_path):
    import zmq.auth

    for d in ("server", "radio", "clients"):
        (tmp_path / d).mkdir()
    server_pub, server_secret = zmq.auth.create_certificates(tmp_path / "server", "worker")
    radio_pub, radio_secret = zmq.auth.create_certificates(tmp_path / "radio", "radio")
    (tmp_path / "clients" / "radio.key").write_bytes(open(radio_pub, "rb").read())
    server_key = zmq.auth.load_certificate(server_pub)[0].decode()
    curve = ["--curve-secret", server_secret, "--curve-clients", str(tmp_path / "clients")]
    enc = WorkerProcess.spawn(["encode", "--pdu-out", FREE, "--job", str(short_clip), *curve])
    dec = WorkerProcess.spawn(["decode", "--pdu-in", FREE, "--out-dir", str(tmp_path / "rx"), "--finish-on-end",
                               "--exit-on-finish", *curve])
    try:
        r = _runner(gr_env, enc.endpoints["pdu_out"], dec.endpoints["pdu_in"], "--phy", "psk", "--snr", 30,
                    "--curve-keys", radio_secret, "--curve-source-key", server_key, "--curve-sink-key", server_key)
        out, err = _wait(r)
        assert r.returncode == 0, err[-2000:]
        done = _events(out)[-1]
        assert done["phy"]["phy"] == "psk" and done["rx_ok"] == done["tx_pdus"] > 0
        assert dec.proc.wait(timeout=30) == 0
    finally:
        enc.stop()
        dec.stop()
    assert probe_video(tmp_path / "rx" / "reconstruction.mp4").num_frames == 36
