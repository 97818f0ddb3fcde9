# SPDX-License-Identifier: GPL-3.0-or-later
"""The short, seeded CI fuzz run (``make fuzz`` runs 1,000,000 inputs per target): every parser
of untrusted input (radio-side PMT validator, pmt_codec, wire binary and JSON, reassembler, PDU
header) sees 1,000 hypothesis inputs; any uncaught exception, crashed process or peak RSS above
the cap fails. About 20 s on a quiet 2-core machine."""

import json
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[2] / "fuzz" / "run.py"


def test_seeded_fuzz_run_has_no_uncaught_exception_and_bounded_rss():
    p = subprocess.run([sys.executable, str(RUN), "--engine", "hypothesis", "--runs", "1000", "--seed", "13",
                        "--rss-cap-mb", "1024"], capture_output=True, text=True, timeout=900)
    reports = [json.loads(x) for x in p.stdout.splitlines() if x.startswith('{"target"')]
    assert {r["target"] for r in reports} == {"pmt_frame", "pmt_codec", "wire_binary", "wire_json",
                                              "reassembler", "pdu_header"}, p.stdout[-2000:] + p.stderr[-2000:]
    for r in reports:
        assert "crashed" not in r and not r["uncaught"], r
        assert r["inputs"] >= 1000 and r["peak_rss_mb"] <= 1024, r
    assert p.returncode == 0, p.stdout[-2000:]
