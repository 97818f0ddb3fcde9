# SPDX-License-Identifier: GPL-3.0-or-later
"""GNU Radio Companion opens our flowgraphs after the README's set-up: ``gnuradio-companion`` starts
under ``xvfb-run`` (no "Namespace Gtk not available"), loads a flowgraph with our [LGVSC] blocks,
finds every block (none a dummy "block key not found") and reports no error; then it is closed.
``xvfb`` is installed by the test set-up (scripts/run_tests.sh), GRC's GTK runtime by scripts/setup.sh."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import time

import pytest
from conftest import GR_PYTHON, ROOT

FLOWGRAPH = ROOT / "flowgraphs" / "semantic_loopback.grc"


@pytest.fixture
def xvfb():
    path = shutil.which("xvfb-run")
    if path is None:
        pytest.fail("xvfb-run is missing: scripts/run_tests.sh installs xvfb for this test")
    return path


def _close_grc(pgid: int) -> None:
    """SIGTERM the GRC process of xvfb-run's group; xvfb-run then stops its Xvfb and exits."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) == pgid and b"gnuradio-companion" in open(f"/proc/{pid}/cmdline", "rb").read() \
                    and int(pid) != pgid:
                os.kill(int(pid), signal.SIGTERM)
        except (OSError, ProcessLookupError):
            continue


def test_gnuradio_companion_starts_and_loads_a_flowgraph(xvfb, tmp_path):
    # fresh GRC prefs; unbuffered, or GRC's "Loading"/"Done" lines wait in a pipe buffer until it exits
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin:/usr/local/bin", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([xvfb, "-a", "gnuradio-companion", str(FLOWGRAPH)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    lines = []
    try:
        deadline = time.monotonic() + 120  # until GRC says the file is loaded (or dies)
        while time.monotonic() < deadline:
            if not select.select([proc.stdout], [], [], 1.0)[0]:
                if proc.poll() is not None:
                    break
                continue
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith(">>> Done") and any(x.startswith("Loading:") for x in lines):
                break
        assert any(x.startswith(">>> Done") for x in lines), "".join(lines)[-3000:]
        assert proc.poll() is None, f"GRC exited ({proc.returncode}):\n" + "".join(lines)[-3000:]
    finally:
        if proc.poll() is None:
            _close_grc(proc.pid)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert "Namespace Gtk not available" not in "".join(lines)


def test_grc_gui_finds_our_blocks_without_errors(xvfb, gr_env, tmp_path):
    env = {**gr_env, "HOME": str(tmp_path)}
    r = subprocess.run([xvfb, "-a", GR_PYTHON, str(ROOT / "tests" / "grc_gui_probe.py"), str(FLOWGRAPH)],
                       capture_output=True, text=True, env=env, timeout=180)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    probe = json.loads(r.stdout.strip().splitlines()[-1])
    (page,) = probe["pages"]
    ours = sorted(k for k in page["blocks"].values() if k.startswith("lgvsc_"))
    assert ours == ["lgvsc_ofdm_pdu_rx", "lgvsc_ofdm_pdu_tx", "lgvsc_semantic_sink", "lgvsc_semantic_source"]
    assert page["dummy"] == [] and page["errors"] == [], page
    assert not [c for c in probe["console"] if "rror" in c or "not found" in c], probe["console"]
