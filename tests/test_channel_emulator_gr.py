# SPDX-License-Identifier: GPL-3.0-or-later
"""End to end with GNU Radio: zeromq.push_sink -> ``lgvsc channel`` -> zeromq.pull_source.

The GNU Radio side runs in /usr/bin/python3 (tests/gr_iq_peer.py); the emulator runs as
the venv's ``lgvsc channel`` process. Checks that real gr-zeromq frames (with and without
the tag header) pass, that nothing is lost or reordered, and the SNR at the RX.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

GR_PYTHON = "/usr/bin/python3"
PEER = Path(__file__).with_name("gr_iq_peer.py")
LGVSC = str(Path(sys.executable).parent / "lgvsc")

pytestmark = pytest.mark.skipif(
    shutil.which(GR_PYTHON) is None
    or subprocess.run([GR_PYTHON, "-c", "from gnuradio import zeromq"], capture_output=True, check=False).returncode != 0,
    reason="GNU Radio with gr-zeromq is not installed for /usr/bin/python3",
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("pass_tags", [False, True])
def test_gnuradio_through_emulator(tmp_path, pass_tags):
    n = 100_000
    r = np.random.default_rng(4)
    x = ((r.standard_normal(n) + 1j * r.standard_normal(n)) * 0.1).astype(np.complex64)  # power 0.02
    src, out = tmp_path / "in.c64", tmp_path / "out.c64"
    x.tofile(src)
    tx_addr, rx_addr = f"tcp://127.0.0.1:{_port()}", f"tcp://127.0.0.1:{_port()}"
    args = [LGVSC, "channel", "--model", "awgn", "--snr", "12", "--in", tx_addr, "--out", rx_addr, "--seed", "3"]
    if pass_tags:
        args.append("--tag-header")
    emu = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert json.loads(emu.stdout.readline())["event"] == "ready"
        gr = subprocess.run([GR_PYTHON, str(PEER), str(src), str(out), tx_addr, rx_addr, str(n),
                             "1" if pass_tags else "0", "60"], capture_output=True, text=True, timeout=120, check=False)
        assert gr.returncode == 0, gr.stdout + gr.stderr
    finally:
        emu.terminate()
        stdout, stderr = emu.communicate(timeout=30)
    assert emu.returncode == 0, stderr
    stats = json.loads(stdout.strip().splitlines()[-1])
    assert stats["bad_messages"] == 0 and stats["samples_in"] == n
    y = np.fromfile(out, dtype=np.complex64)
    assert y.size == n
    snr = 10 * math.log10(np.mean(np.abs(x) ** 2) / np.mean(np.abs(y - x) ** 2))
    assert snr == pytest.approx(12.0, abs=0.2)  # also proves order and alignment are intact
