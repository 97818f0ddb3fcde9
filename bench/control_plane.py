# SPDX-License-Identifier: GPL-3.0-or-later
"""Control plane vs a long compute step: ``status`` latency while an echo worker sleeps
``--step`` seconds (default 30, the issue-13 target) inside one step, against its latency when idle.

The worker is a real ``lgvsc worker echo --delay STEP`` process; one PDU starts the long step.
A status request is sent every 0.1 s until the step is over (its ``echoed`` counter moves).
Prints the idle median, the worst and p99 during the step, and the ratio worst / 0.5 s target.

Run: ``.venv/bin/python bench/control_plane.py [--step 30]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import zmq
from lgvsc.pmt_codec import encode_pdu
from lgvsc.workers.client import FREE, WorkerProcess, request

TARGET_S = 0.5


def _timed(ep: str) -> tuple[float, dict]:
    t0 = time.monotonic()
    st = request(ep, {"op": "status"}, timeout=60)
    return time.monotonic() - t0, st


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--step", type=float, default=30.0, help="seconds the compute step sleeps")
    args = ap.parse_args()
    w = WorkerProcess.spawn(["echo", "--pdu-in", FREE, "--pdu-out", "", "--delay", str(args.step)])
    try:
        ep = w.endpoints["control"]
        idle = [_timed(ep)[0] for _ in range(50)]
        ctx = zmq.Context()
        tx = ctx.socket(zmq.PUSH)
        tx.connect(w.endpoints["pdu_in"])
        tx.send(encode_pdu({}, b"go"))
        during, busiest = [], 0.0
        deadline = time.monotonic() + args.step + 60
        while time.monotonic() < deadline:
            dt, st = _timed(ep)
            during.append(dt)
            busiest = max(busiest, st.get("busy_s", 0.0))
            if st.get("echoed", 0) >= 1:
                break
            time.sleep(0.1)
        ctx.destroy(0)
    finally:
        w.stop()
    p99 = sorted(during)[int(0.99 * (len(during) - 1))]
    result = {"step_s": args.step, "longest_busy_seen_s": busiest, "requests_during_step": len(during),
              "idle_median_ms": round(1000 * statistics.median(idle), 2),
              "during_worst_ms": round(1000 * max(during), 2), "during_p99_ms": round(1000 * p99, 2),
              "worst_vs_target": round(max(during) / TARGET_S, 4),
              "worst_vs_idle_median": round(max(during) / statistics.median(idle), 1)}
    print(json.dumps(result, indent=2))
    return 0 if max(during) < TARGET_S and busiest > 0.8 * args.step else 1


if __name__ == "__main__":
    raise SystemExit(main())
