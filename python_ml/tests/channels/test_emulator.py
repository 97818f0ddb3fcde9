# SPDX-License-Identifier: GPL-3.0-or-later
"""``lgvsc channel`` as a real process between two pyzmq peers on 127.0.0.1.

The TX peer binds a PUSH socket (as gr-zeromq push_sink does), the RX peer connects a
PULL socket (as pull_source does); the emulator sits between them.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

LGVSC = str(Path(sys.executable).parent / "lgvsc")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emu:
    """The emulator subprocess plus TX (PUSH, bind) and RX (PULL, connect) sockets."""

    def __init__(self, *args: str, rx: bool = True):
        self.pin, self.pout = _port(), _port()
        self.ctx = zmq.Context()
        self.tx = self._bind_tx()
        self.proc = subprocess.Popen(
            [LGVSC, "channel", "--in", f"tcp://127.0.0.1:{self.pin}", "--out", f"tcp://127.0.0.1:{self.pout}",
             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read()
        self.ready = json.loads(line)
        self.rx = None
        if rx:
            self.connect_rx()

    def _bind_tx(self):
        s = self.ctx.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, 2000)
        s.bind(f"tcp://127.0.0.1:{self.pin}")
        return s

    def connect_rx(self):
        self.rx = self.ctx.socket(zmq.PULL)
        self.rx.setsockopt(zmq.RCVTIMEO, 10_000)
        self.rx.connect(f"tcp://127.0.0.1:{self.pout}")
        time.sleep(0.3)

    def send(self, x: np.ndarray) -> None:
        self.tx.send(x.astype(np.complex64).tobytes())

    def recv(self, n: int) -> np.ndarray:
        out = []
        got = 0
        while got < n:
            y = np.frombuffer(self.rx.recv(), dtype=np.complex64)
            out.append(y)
            got += y.size
        return np.concatenate(out)

    def finish(self) -> dict:
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, err
        self.tx.close(0)
        if self.rx is not None:
            self.rx.close(0)
        self.ctx.term()
        return json.loads(out.strip().splitlines()[-1])


def _sig(n, power=1.0, seed=0):
    r = np.random.default_rng(seed)
    return ((r.standard_normal(n) + 1j * r.standard_normal(n)) * math.sqrt(power / 2)).astype(np.complex64)


def test_awgn_snr_through_sockets():
    emu = Emu("--model", "awgn", "--snr", "10", "--seed", "1")
    x = _sig(200_000, power=0.02)
    for i in range(0, x.size, 8192):
        emu.send(x[i:i + 8192])
    y = emu.recv(x.size)
    stats = emu.finish()
    assert y.size == x.size
    snr = 10 * math.log10(0.02 / np.mean(np.abs(y - x) ** 2))
    assert snr == pytest.approx(10.0, abs=0.15)
    assert stats["samples_in"] == stats["samples_out"] == x.size
    assert stats["dropped_blocks"] == 0 and stats["bad_messages"] == 0


def test_seed_reproducible_and_tdl_fading_applied():
    x = _sig(50_000, seed=3)
    runs = []
    for seed in ("7", "7", "8"):
        emu = Emu("--model", "tdl-c", "--delay-spread", "300e-9", "--doppler", "50", "--snr", "15", "--seed", seed)
        assert emu.ready["latency_samples"] == 6
        for i in range(0, x.size, 5000):
            emu.send(x[i:i + 5000])
        runs.append(emu.recv(x.size))
        emu.finish()
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])
    # Not just noise: the faded output differs from the input far beyond 15 dB SNR noise.
    assert np.mean(np.abs(runs[0] - x) ** 2) > 0.3


def test_cdl_through_sockets_equals_in_process_channel():
    """``--model cdl-d`` with its parameters carried by the CLI: noiseless output through the sockets
    equals :class:`StreamingChannel` on the same spec, however the TX cuts the stream."""
    from lgvsc.channels.models import ChannelSpec, StreamingChannel

    x = _sig(30_000, seed=4)
    emu = Emu("--model", "cdl-d", "--delay-spread", "300e-9", "--doppler", "80", "--carrier-frequency", "28e9",
              "--snr", "inf", "--seed", "5")
    for a, b in ((0, 999), (999, 1000), (1000, 17_000), (17_000, 30_000)):
        emu.send(x[a:b])
    y = emu.recv(x.size)
    emu.finish()
    ref = StreamingChannel(ChannelSpec("cdl-d", sample_rate=1e6, doppler=80.0, delay_spread=300e-9,
                                       carrier_frequency=28e9, seed=5)).process(x)
    np.testing.assert_allclose(y, ref, atol=1e-5)
    assert np.mean(np.abs(y - x) ** 2) > 0.05  # the channel did something


def test_tx_stop_and_restart_and_bad_message():
    emu = Emu("--model", "rayleigh", "--doppler", "10", "--snr", "20")
    emu.send(_sig(4000))
    emu.tx.send(b"\x00" * 13)  # not whole complex64 items: dropped, counted
    assert emu.recv(4000).size == 4000
    emu.tx.close(linger=1000)  # TX flowgraph stops ...
    time.sleep(0.5)
    emu.tx = emu._bind_tx()  # ... and starts again on the same address
    emu.send(_sig(3000, seed=1))
    assert emu.recv(3000).size == 3000
    assert emu.proc.poll() is None
    stats = emu.finish()
    assert stats["bad_messages"] == 1 and stats["samples_out"] == 7000


def test_no_receiver_bounded_queue_counts_drops():
    emu = Emu("--model", "awgn", "--snr", "20", "--max-pending", "4", rx=False)
    for _ in range(40):
        emu.send(_sig(1000))
    time.sleep(1.0)
    emu.connect_rx()  # a late RX gets at most the queue (plus the socket's small HWM)
    got = []
    emu.rx.setsockopt(zmq.RCVTIMEO, 1000)
    try:
        while True:
            got.append(emu.rx.recv())
    except zmq.Again:
        pass
    stats = emu.finish()
    assert stats["samples_in"] == 40_000
    assert stats["max_pending"] <= 4
    assert stats["dropped_blocks"] >= 40 - 4 - 16
    assert stats["dropped_blocks"] + stats["messages_out"] == 40
    assert len(got) == stats["messages_out"]


@pytest.mark.parametrize("args, msg", [
    (["--model", "foo", "--snr", "3"], "unknown channel model"),
    (["--model", "awgn", "--snr", "3", "--sample-rate", "-5"], "sample rate"),
    (["--model", "tdl-b", "--snr", "3", "--doppler", "5000"], "beyond what this channel supports"),
    (["--model", "awgn", "--snr", "abc"], "not a number"),
    (["--model", "cdl-c", "--snr", "3", "--carrier-frequency", "0"], "carrier frequency"),
])
def test_bad_parameters_exit_cleanly(args, msg):
    p = subprocess.run([LGVSC, "channel", *args], capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 2
    assert msg in p.stderr
    assert "Traceback" not in p.stderr
