# SPDX-License-Identifier: GPL-3.0-or-later
"""OFDM PHY TX -> ``lgvsc channel`` (Sionna) -> OFDM PHY RX: PDUs arrive (flowgraphs/loopback_sionna.grc).

GNU Radio side: tests/sionna_loopback_peer.py under /usr/bin/python3 (the script twin of the .grc;
grcc compiling the .grc itself is checked by gr-lgvsc's qa_flowgraphs). Emulator: the venv's
``lgvsc channel`` process.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

GR_PYTHON = "/usr/bin/python3"
PEER = Path(__file__).with_name("sionna_loopback_peer.py")
LGVSC = str(Path(sys.executable).parent / "lgvsc")

pytestmark = pytest.mark.skipif(
    shutil.which(GR_PYTHON) is None
    or subprocess.run([GR_PYTHON, "-c", "from gnuradio import zeromq, digital"], capture_output=True,
                      check=False).returncode != 0,
    reason="GNU Radio with gr-zeromq is not installed for /usr/bin/python3",
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _loopback(channel_args: list[str], n: int = 40, length: int = 200) -> tuple[dict, dict]:
    tx_addr, rx_addr = f"tcp://127.0.0.1:{_port()}", f"tcp://127.0.0.1:{_port()}"
    emu = subprocess.Popen([LGVSC, "channel", "--in", tx_addr, "--out", rx_addr, "--sample-rate", "1e6",
                            *channel_args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert json.loads(emu.stdout.readline())["event"] == "ready"
        gr = subprocess.run([GR_PYTHON, str(PEER), tx_addr, rx_addr, str(n), str(length), "100", "5", "60"],
                            capture_output=True, text=True, timeout=150, check=False)
        assert gr.returncode == 0, gr.stderr[-3000:]
    finally:
        emu.terminate()
        out, err = emu.communicate(timeout=30)
    assert emu.returncode == 0, err
    return json.loads(gr.stdout.strip().splitlines()[-1]), json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("channel_args, min_fraction", [
    (["--model", "awgn", "--snr", "25"], 0.95),
    (["--model", "tdl-c", "--delay-spread", "100e-9", "--doppler", "5", "--snr", "25", "--seed", "1"], 0.8),
])
def test_pdus_arrive_through_sionna_channel(channel_args, min_fraction):
    res, stats = _loopback(channel_args)
    sent, got = res["sent"], res["received"]
    assert set(got) <= set(sent), "a PDU arrived that was never sent (CRC let garbage through?)"
    assert len(set(got)) >= min_fraction * len(sent), (len(got), res["rx_status"], stats)
    assert stats["bad_messages"] == 0 and stats["dropped_blocks"] == 0


def test_low_snr_loses_pdus():
    """The channel really is in the path: at -5 dB the uncoded QPSK PHY delivers (almost) nothing."""
    res, _ = _loopback(["--model", "awgn", "--snr", "-5"], n=20)
    assert len(res["received"]) <= 2
