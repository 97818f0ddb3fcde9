# SPDX-License-Identifier: GPL-3.0-or-later
"""Radio-side helper for tests/test_bridge_e2e.py (run by /usr/bin/python3): semantic_source ->
semantic_sink with no PHY in between. Prints JSON lines: sink/source stats every 0.2 s and a
final {"event": "done", ...} once the source saw the end of the stream and the sink's queue is empty."""

import argparse
import json
import os
import sys
import time

from gnuradio import gr

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "gr-lgvsc", "python"))
from lgvsc.semantic_sink import semantic_sink
from lgvsc.semantic_source import semantic_source


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--sink", required=True)
    ap.add_argument("--max-pps", type=float, default=0.0)
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args()
    tb = gr.top_block()
    src = semantic_source(a.source, max_pps=a.max_pps, window=16, status_interval=0.2)
    snk = semantic_sink(a.sink, status_interval=0.2)
    tb.msg_connect(src, "out", snk, "in")
    tb.start()
    deadline = time.monotonic() + a.timeout
    state = "timeout"
    while time.monotonic() < deadline:
        time.sleep(0.2)
        print(json.dumps({"event": "progress", "source": src.stats(), "sink": snk.stats()}), flush=True)
        if src.end_of_stream() and snk.pending() == 0 and snk.stats()["received"] == src.stats()["emitted"]:
            state = "done"
            break
    time.sleep(0.3)  # let ZeroMQ hand the last frames over
    tb.stop()
    tb.wait()
    print(json.dumps({"event": state, "source": src.stats(), "sink": snk.stats()}), flush=True)
    return 0 if state == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
