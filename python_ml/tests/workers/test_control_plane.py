# SPDX-License-Identifier: GPL-3.0-or-later
"""The control plane is off the compute thread: while a step runs for seconds (asleep, or
holding the CPU in Python), ``ping`` and ``status`` are answered at once from the snapshot
the compute loop published, heartbeats keep coming, and ops that need compute state still
run on the compute loop, in order. (The 30 s figure is bench/control_plane.py's.)"""

import threading
import time

import pytest

from lgvsc.workers.base import Worker, WorkerOptions
from lgvsc.workers.client import StatusSubscriber, request

LONG_STEP_S = 2.5   # long enough to prove the point, short enough for CI
BUSY_STEP_S = 1.0
REPLY_LIMIT_S = 0.5


class SlowWorker(Worker):
    kind = "slow"

    def __init__(self, options):
        super().__init__(options)
        self.steps_done = 0
        self.plan = [("sleep", LONG_STEP_S), ("busy", BUSY_STEP_S)]

    def step(self, timeout):
        if not self.plan:
            time.sleep(timeout)
            return
        how, secs = self.plan.pop(0)
        end = time.monotonic() + secs
        if how == "sleep":
            time.sleep(secs)
        else:
            n = 0
            while time.monotonic() < end:  # pure-Python CPU work, holding the GIL between switches
                n += sum(range(200))
        self.steps_done += 1

    def status(self):
        return {**super().status(), "steps_done": self.steps_done}

    def handle_control(self, msg):
        if msg.get("op") == "steps":
            return {"ok": True, "steps_done": self.steps_done}
        return super().handle_control(msg)


@pytest.fixture
def slow():
    w = SlowWorker(WorkerOptions(heartbeat_s=0.2))
    w.open()
    t = threading.Thread(target=w.serve, daemon=True)
    t.start()
    yield w
    w.shutdown.set()
    t.join(timeout=LONG_STEP_S + 10)


def test_status_answers_while_a_step_runs(slow):
    ep = slow.endpoints["control"]
    sub = StatusSubscriber(slow.endpoints["status"])
    worst, busy_seen, beats = 0.0, 0.0, 0
    deadline = time.monotonic() + 60  # progress, not a fixed time: until both long steps are done
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        st = request(ep, {"op": "status"}, timeout=REPLY_LIMIT_S * 4)
        worst = max(worst, time.monotonic() - t0)
        assert st["ok"] and st["worker"] == "slow"
        busy_seen = max(busy_seen, st["busy_s"])
        beats += sum(1 for ev in sub.poll(0) if ev.get("event") == "heartbeat")
        t0 = time.monotonic()
        assert request(ep, {"op": "ping"}, timeout=REPLY_LIMIT_S * 4)["ok"]
        worst = max(worst, time.monotonic() - t0)
        if st["steps_done"] == 2:
            break
        time.sleep(0.05)
    sub.close()
    assert st["steps_done"] == 2, "the long steps never finished"
    assert worst < REPLY_LIMIT_S, f"a control reply took {worst:.3f} s during a long step"
    assert busy_seen >= LONG_STEP_S * 0.5, "no status reply came while the long step ran"
    assert beats >= 3, "heartbeats stopped while the step ran"


def test_compute_ops_still_run_on_the_compute_loop(slow):
    # a queued op waits for the step, then sees the state it left; status after it agrees
    reply = request(slow.endpoints["control"], {"op": "steps"}, timeout=60)
    assert reply["ok"] and reply["steps_done"] >= 1
    st = request(slow.endpoints["control"], {"op": "status"})
    assert st["steps_done"] >= reply["steps_done"]
