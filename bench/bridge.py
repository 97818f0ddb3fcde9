# SPDX-License-Identifier: GPL-3.0-or-later
"""Bridge benchmark: ZeroMQ worker round trip and rate, and whether a slow worker slows the radio.

1. Round trip: one PDU (``pmt.serialize_str`` form, 200 bytes) at a time, PUSH -> echo worker ->
   PULL back, pmt codec on both ends; median and p99 over ``--rt-count`` (target median <= 1 ms).
2. Sustained rate: ``--rate-count`` PDUs of 100 bytes pipelined through the echo worker; PDUs/s
   received back (target >= 10,000).
3. Radio vs inference: gnuradio.lgvsc.link_runner (encoder worker -> semantic_source -> OFDM TX ->
   throttle -> channel -> OFDM RX -> semantic_sink) into an echo worker that sleeps 1 s per PDU,
   and into one that does not; TX sample rate over the same window in both runs, and its ratio
   (target >= 0.95: the radio never waits for inference).

Run: ``.venv/bin/python bench/bridge.py`` (needs /usr/bin/python3 with GNU Radio for part 3).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zmq
from lgvsc.pmt_codec import decode_pdu, encode_pdu
from lgvsc.workers.client import FREE, WorkerProcess

ROOT = Path(__file__).resolve().parents[1]
GR_PYTHON = os.environ.get("GR_PYTHON", "/usr/bin/python3")


def _pair(ctx: zmq.Context, w: WorkerProcess) -> tuple[zmq.Socket, zmq.Socket]:
    tx = ctx.socket(zmq.PUSH)
    tx.connect(w.endpoints["pdu_in"])
    rx = ctx.socket(zmq.PULL)
    rx.connect(w.endpoints["pdu_out"])
    return tx, rx


def round_trip(n: int) -> dict:
    w = WorkerProcess.spawn(["echo", "--pdu-in", FREE, "--pdu-out", FREE])
    ctx = zmq.Context()
    try:
        tx, rx = _pair(ctx, w)
        payload = bytes(range(200))
        times = []
        for i in range(n + 50):
            t0 = time.perf_counter()
            tx.send(encode_pdu({"seq": i}, payload))
            if not rx.poll(5000):
                raise RuntimeError("echo worker did not answer")
            meta, data = decode_pdu(rx.recv())
            dt = time.perf_counter() - t0
            assert meta["seq"] == i and data == payload
            if i >= 50:  # warm-up excluded
                times.append(dt)
        times.sort()
        return {"median_ms": statistics.median(times) * 1e3, "p99_ms": times[int(0.99 * len(times))] * 1e3}
    finally:
        ctx.destroy(linger=0)
        w.stop()


def sustained(n: int) -> dict:
    w = WorkerProcess.spawn(["echo", "--pdu-in", FREE, "--pdu-out", FREE, "--queue-depth", "1024"])
    ctx = zmq.Context()
    try:
        tx, rx = _pair(ctx, w)
        msgs = [encode_pdu({"seq": i}, b"x" * 100) for i in range(n)]
        got = sent = 0
        t0 = time.perf_counter()
        while got < n:
            while sent < n and sent - got < 2000:  # keep a window in flight
                tx.send(msgs[sent])
                sent += 1
            if not rx.poll(5000):
                raise RuntimeError(f"echo worker stalled after {got} PDUs")
            while True:
                try:
                    rx.recv(zmq.NOBLOCK)
                    got += 1
                except zmq.Again:
                    break
        dt = time.perf_counter() - t0
        return {"pdus": n, "seconds": dt, "pdus_per_s": n / dt}
    finally:
        ctx.destroy(linger=0)
        w.stop()


def _gr_env(tmp: Path) -> dict[str, str]:
    (tmp / "gnuradio").mkdir()
    (tmp / "gnuradio" / "lgvsc").symlink_to(ROOT / "gr-lgvsc" / "python" / "lgvsc")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp), *filter(None, [env.get("PYTHONPATH")])])
    return env


def radio_rate(delay: float, seconds: float, samp_rate: float, env: dict[str, str]) -> dict:
    """TX samples/s of link_runner between t=1 s and t=1+seconds, with an echo 'decoder' sleeping ``delay`` per PDU."""
    enc = WorkerProcess.spawn(["encode", "--pdu-out", FREE])
    dec = WorkerProcess.spawn(["echo", "--pdu-in", FREE, "--pdu-out", "none", "--delay", str(delay)])
    try:
        assert enc.control({"op": "job", "synthetic": 1_000_000, "size": 1400})["ok"]
        with tempfile.TemporaryFile("w+") as err:
            p = subprocess.Popen([GR_PYTHON, "-m", "gnuradio.lgvsc.link_runner", "--source", enc.endpoints["pdu_out"],
                                  "--sink", dec.endpoints["pdu_in"], "--snr", "30", "--samp-rate", str(samp_rate),
                                  "--status-interval", "0.25", "--timeout", "60"],
                                 stdout=subprocess.PIPE, stderr=err, text=True, env=env)
            first = last = None
            assert p.stdout is not None
            for line in p.stdout:
                ev = json.loads(line)
                if ev["event"] != "status":
                    continue
                if first is None and ev["t"] >= 1.0:
                    first = ev
                if first is not None:
                    last = ev
                    if ev["t"] - first["t"] >= seconds:
                        break
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=30)
        if first is None or last is None or last is first:
            raise RuntimeError("link_runner produced no status")
        rate = (last["samples_tx"] - first["samples_tx"]) / (last["t"] - first["t"])
        return {"delay_s": delay, "samples_per_s": rate, "rx_ok": last["rx_ok"], "sink": last["sink"]}
    finally:
        enc.stop()
        dec.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rt-count", type=int, default=2000)
    ap.add_argument("--rate-count", type=int, default=50000)
    ap.add_argument("--radio-seconds", type=float, default=5.0)
    ap.add_argument("--samp-rate", type=float, default=1e6)
    ap.add_argument("--json", type=Path, help="also write the results here")
    a = ap.parse_args()
    res: dict = {}
    rt = res["round_trip"] = round_trip(a.rt_count)
    print(f"echo round trip: median {rt['median_ms']:.3f} ms, p99 {rt['p99_ms']:.3f} ms "
          f"(target <= 1 ms: ratio {rt['median_ms'] / 1.0:.2f})")
    su = res["sustained"] = sustained(a.rate_count)
    print(f"sustained: {su['pdus_per_s']:,.0f} PDUs/s over {su['pdus']} PDUs "
          f"(target >= 10,000: ratio {su['pdus_per_s'] / 10000:.2f})")
    if shutil.which(GR_PYTHON) is None:
        print("radio vs slow worker: skipped (no GNU Radio interpreter)")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            env = _gr_env(Path(tmp))
            fast = radio_rate(0.0, a.radio_seconds, a.samp_rate, env)
            slow = radio_rate(1.0, a.radio_seconds, a.samp_rate, env)
        ratio = slow["samples_per_s"] / fast["samples_per_s"]
        res["radio"] = {"fast": fast, "slow": slow, "ratio": ratio}
        print(f"radio TX rate: fast worker {fast['samples_per_s']:,.0f} samples/s, worker sleeping 1 s/PDU "
              f"{slow['samples_per_s']:,.0f} samples/s; ratio {ratio:.3f} (target >= 0.95); slow run's sink: "
              f"forwarded {slow['sink']['forwarded']}, queued {slow['sink']['queued']}, "
              f"dropped {slow['sink']['dropped_queue_full']}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
