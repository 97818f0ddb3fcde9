# SPDX-License-Identifier: GPL-3.0-or-later
"""The over-the-air flowgraphs (flowgraphs/{tx,rx}_{usrp,hackrf}[_gui].grc) without hardware.

* every one compiles with grcc and its generated script answers --help;
* with no radio attached, the generated script stops with one line naming the device
  (no traceback, non-zero exit);
* the hardware signal path is exercised: each radio sink/source block is swapped (in the
  .grc, under the same block name, so every other block and connection is the file's own)
  for a device clock (throttle at the flowgraph's sample rate) + gr-channels impairments
  (CFO of a HackRF crystal at 2.45 GHz, sample-clock offset, noise, IQ imbalance, DC offset)
  + ZeroMQ IQ; real encoder / echo workers on 127.0.0.1 carry PDUs end to end through the
  bridge blocks and the payloads are checked byte for byte.

The flowgraphs run under GNU Radio's interpreter (GR_PYTHON, default /usr/bin/python3).
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
import zmq
from lgvsc.pmt_codec import decode_pdu
from lgvsc.workers.client import FREE, WorkerProcess

ROOT = Path(__file__).resolve().parents[1]
FLOWGRAPHS = ROOT / "flowgraphs"
GRC_DIR = ROOT / "gr-lgvsc" / "grc"
GR_PYTHON = os.environ.get("GR_PYTHON", "/usr/bin/python3")
DEVICES = ("usrp", "hackrf")
OTA = [f"{d}_{side}{gui}" for d in ("tx", "rx") for side in DEVICES for gui in ("", "_gui")]
RADIO_BLOCKS = {"uhd_usrp_sink", "uhd_usrp_source", "soapy_hackrf_sink", "soapy_hackrf_source"}

pytestmark = pytest.mark.skipif(shutil.which(GR_PYTHON) is None or shutil.which("grcc") is None,
                                reason="GNU Radio (interpreter and grcc) not found")


def _env():
    env = dict(os.environ)
    env.pop("GR_DONT_LOAD_PREFS", None)
    env["GRC_BLOCKS_PATH"] = str(GRC_DIR)  # this tree's block YAML
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


def _compile(grc: Path, out: Path) -> Path:
    proc = subprocess.run(["grcc", "-o", str(out), str(grc)], check=False, env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "Error" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    script = out / (yaml.safe_load(grc.read_text())["options"]["parameters"]["id"] + ".py")
    assert script.stat().st_size > 0
    return script


def _run(script: Path, *args, timeout=60):
    return subprocess.run([GR_PYTHON, str(script), *args], check=False, env=_env(), capture_output=True, text=True,
                          timeout=timeout, cwd=script.parent)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("ota_gen")
    return {name: _compile(FLOWGRAPHS / f"{name}.grc", out) for name in OTA}


@pytest.mark.parametrize("name", OTA)
def test_flowgraph_compiles_and_script_takes_radio_options(compiled, name):
    proc = _run(compiled[name], "--help")
    assert proc.returncode == 0, proc.stderr
    for opt in ("--freq", "--samp-rate", "--dev-args", "--mtu", "--fec-mode", "--payload-mod"):
        assert opt in proc.stdout, f"{name}: {opt} missing from --help"
    # The PHY options reach the PHY block (not only argparse) and default to coded QPSK.
    src = compiled[name].read_text()
    assert "fec_mode=fec_mode" in src and "payload_mod=payload_mod" in src, f"{name}: PHY ignores the options"
    assert "[default='cc']" in proc.stdout and "[default='qpsk']" in proc.stdout, proc.stdout
    gains = ("--tx-gain", "--antenna", "--lo-offset") if name.startswith("tx_usrp") else \
        ("--rx-gain", "--rx-agc", "--antenna", "--lo-offset") if name.startswith("rx_usrp") else \
        ("--tx-vga", "--tx-amp") if name.startswith("tx_hackrf") else ("--rx-lna", "--rx-vga", "--rx-amp")
    for opt in gains:
        assert opt in proc.stdout, f"{name}: {opt} missing from --help"
    assert "2.45G" in proc.stdout, "default centre frequency is not 2.45 GHz (ISM)"
    if name.startswith("tx_"):  # the MCS reaches the PHY; USRP bursts go without zero gap (packet_len marks them)
        assert "--mcs" in proc.stdout and "mcs=mcs" in src, f"{name}: no --mcs reaching phy_tx"
        gap = 0 if "usrp" in name else 1024
        assert f"gap={gap}, fec_mode=fec_mode" in src, f"{name}: phy_tx gap is not {gap}"
        assert f"phy_common.resolve_mcs(mcs, fec_mode), payload_mod, gap={gap})" in src, f"{name}: burst_len"
    if "usrp" in name:  # the LO offset reaches the tune request; the AGC option reaches set_rx_agc
        assert "uhd.tune_request(freq, lo_offset)" in src, f"{name}: LO offset not in the tune request"
        if name.startswith("rx_"):
            assert "if self.rx_agc:" in src and "set_rx_agc(True, 0)" in src, f"{name}: --rx-agc not applied"


@pytest.mark.parametrize("name,device", [("tx_usrp", "USRP"), ("rx_usrp", "USRP"), ("tx_hackrf", "HackRF"),
                                         ("rx_hackrf", "HackRF"), ("rx_hackrf_gui", "HackRF")])
def test_no_device_gives_one_clear_line(compiled, name, device):
    proc = _run(compiled[name], "--dev-args", "serial=lgvsc-no-such-radio")
    if proc.returncode == 0:
        pytest.skip("a radio answered to serial=lgvsc-no-such-radio")
    assert f"no {device}" in proc.stderr and "serial=lgvsc-no-such-radio" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "over-the-air.md" in proc.stderr


# ---------------------------------------------------------------------------------------------
# Hardware swapped for a simulated front end.

SAMP_RATE = 2e6          # the flowgraphs' default; read back from the .grc below
CFO_HZ = 49e3            # 20 ppm at 2.45 GHz: a HackRF's crystal tolerance
SRO_PPM = 20.0           # the same crystal clocks the ADC
SNR_DB = 20.0            # per sample, inside a burst
TX_RMS = 1.0 * 0.28      # ofdm_pdu_tx burst RMS (unit power) x the flowgraphs' default tx_scale
DC = 0.05                # LO leakage at the receiver, ~ -15 dB below the burst RMS
IQ_MAG_DB, IQ_PHASE_DEG = 0.5, 3.0


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _block(name, bid, **params):
    return {"name": name, "id": bid, "parameters": params,
            "states": {"coordinate": [0, 0], "rotation": 0, "state": "enabled"}}


def _swap_tx(fg, address, samp_rate):
    """Radio sink -> throttle (device clock) -> channel_model -> impairments -> zeromq PUSH."""
    radio = next(b for b in fg["blocks"] if b["id"] in RADIO_BLOCKS)
    name = radio["name"]
    radio.clear()
    radio.update(_block(name, "blocks_throttle", type="complex", samples_per_second=repr(samp_rate), vlen="1",
                        ignoretag="True"))
    fg["blocks"] += [
        _block("ota_channel", "channels_channel_model",
               noise_voltage=repr(TX_RMS * 10 ** (-SNR_DB / 20)), freq_offset=repr(CFO_HZ / samp_rate),
               epsilon=repr(1 + SRO_PPM * 1e-6), taps="[1.0]", seed="7", block_tags="False"),
        _block("ota_impairments", "channels_impairments", phase_noise_mag="-40", magbal=repr(IQ_MAG_DB),
               phasebal=repr(IQ_PHASE_DEG), q_ofs=repr(DC), i_ofs=repr(DC), freq_offset="0", gamma="0", beta="0"),
        _block("ota_iq_out", "zeromq_push_sink", type="complex", vlen="1", address=repr(address), timeout="100",
               pass_tags="False", hwm="-1")]
    fg["connections"] += [[name, "0", "ota_channel", "0"], ["ota_channel", "0", "ota_impairments", "0"],
                          ["ota_impairments", "0", "ota_iq_out", "0"]]


def _swap_rx(fg, address):
    """Radio source -> zeromq PULL under the same name."""
    radio = next(b for b in fg["blocks"] if b["id"] in RADIO_BLOCKS)
    name = radio["name"]
    radio.clear()
    radio.update(_block(name, "zeromq_pull_source", type="complex", vlen="1", address=repr(address),
                        timeout="100", pass_tags="False", hwm="-1"))


def _param(fg, name):
    return next(b for b in fg["blocks"] if b["name"] == name)["parameters"]["value"]


def _expected(i, size):
    return (i.to_bytes(4, "big") * (size // 4 + 1))[:size]  # the encoder worker's synthetic payload


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_signal_path_with_impairments_end_to_end(tmp_path, device):
    tx = yaml.safe_load((FLOWGRAPHS / f"tx_{device}.grc").read_text())
    rx = yaml.safe_load((FLOWGRAPHS / f"rx_{device}.grc").read_text())
    samp_rate = float(_param(tx, "samp_rate"))
    assert samp_rate == float(_param(rx, "samp_rate")) == SAMP_RATE
    address = f"tcp://127.0.0.1:{_free_port()}"
    _swap_tx(tx, address, samp_rate)
    _swap_rx(rx, address)
    for fg, name in ((tx, f"tx_{device}_sim"), (rx, f"rx_{device}_sim")):
        fg["options"]["parameters"]["id"] = name
        (tmp_path / f"{name}.grc").write_text(yaml.safe_dump(fg, sort_keys=False))
    tx_py, rx_py = (_compile(tmp_path / f"{n}_{device}_sim.grc", tmp_path) for n in ("tx", "rx"))

    n, size = 40, 300
    enc = WorkerProcess.spawn(["encode", "--pdu-out", FREE])
    dec = WorkerProcess.spawn(["echo", "--pdu-in", FREE, "--pdu-out", FREE])
    ctx = zmq.Context.instance()
    echoed = ctx.socket(zmq.PULL)
    echoed.connect(dec.endpoints["pdu_out"])
    procs = []
    try:
        # The same command lines a user types (the PHY in both files: coded QPSK, MTU 1500).
        procs.append(subprocess.Popen([GR_PYTHON, str(rx_py), "--decoder", dec.endpoints["pdu_in"]],
                                      env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
        procs.append(subprocess.Popen([GR_PYTHON, str(tx_py), "--encoder", enc.endpoints["pdu_out"], "--max-pps", "60"],
                                      env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
        assert enc.control({"op": "job", "synthetic": n, "size": size})["ok"]
        got = {}
        deadline = time.monotonic() + 90
        while len(got) < n and time.monotonic() < deadline:
            if echoed.poll(200):
                meta, data = decode_pdu(echoed.recv())
                seq = int.from_bytes(data[:4], "big")
                assert data == _expected(seq, size), f"payload {seq} corrupted"
                got[seq] = meta
            assert all(p.poll() is None for p in procs), "a flowgraph exited early"
        # A HackRF crystal's worth of CFO, clock offset, IQ imbalance, DC and 20 dB SNR: every
        # packet of the coded PHY arrives (a loss here would be a PHY or flowgraph regression).
        assert len(got) >= n - 1, f"{len(got)}/{n} PDUs through {device} flowgraphs"
        assert all(m.get("fec") == "cc" for m in got.values()), "the PHY is not the coded one the files set"
        # The PHY reports the integer carrier offset it corrected (a multiple of 2 subcarriers).
        cfo = [m.get("freq_offset") for m in got.values() if isinstance(m, dict)]
        assert cfo and all(abs(c * samp_rate - CFO_HZ) < 20e3 for c in cfo if c is not None), cfo[:5]
    finally:
        outputs = []
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                outputs.append(p.communicate(timeout=20)[0])
            except subprocess.TimeoutExpired:
                p.kill()
                outputs.append(p.communicate()[0])
        echoed.close(0)
        enc.stop()
        dec.stop()
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out[-3000:]
        assert "Traceback" not in out, out[-3000:]


_PROBE_CHECK = """
import sys
import pmt
sys.path.insert(0, sys.argv[1])
probe = __import__(sys.argv[2] + "_probe").blk(2e6)
meta = pmt.dict_add(pmt.to_pmt({"freq_offset": 0.001, "snr_db": 7.25}), pmt.intern("mcs"), pmt.intern("paper-6dB"))
probe._pdu(pmt.cons(meta, pmt.init_u8vector(3, [1, 2, 3])))
print(repr(probe.snapshot()))
"""


@pytest.mark.parametrize("name", ["rx_usrp_gui", "rx_hackrf_gui"])
def test_gui_shows_the_estimators_snr_and_mcs(compiled, name):
    """The Qt RX's counter line carries the last good PDU's snr_db (the burst receiver's Es/N0) and MCS."""
    import ast

    proc = subprocess.run([GR_PYTHON, "-c", _PROBE_CHECK, str(compiled[name].parent), name], check=False,
                          env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    state = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    assert state["snr_db"] == 7.25 and state["mcs"] == "paper-6dB"
    blocks = {b["name"]: b for b in yaml.safe_load((FLOWGRAPHS / f"{name}.grc").read_text())["blocks"]}
    line = eval(blocks["rx_label"]["parameters"]["formatter"])(state)  # the GRC label's own formatter
    assert "SNR 7.2 dB | MCS paper-6dB" in line, line
