# SPDX-License-Identifier: GPL-3.0-or-later
"""The evaluation's ``phy`` transport: a semantic scheme through the real GNU Radio PHY.

Each cell is one :func:`lgvsc.loopback.run_loopback` — encoder worker → GNU Radio
PHY TX → channel (GNU Radio's ``channel_model`` for ``awgn``, the Sionna streaming
emulator otherwise) → PHY RX → decoder worker — with method ``skem`` (``lgvsc``) or
``skim``, at the cell's SNR. The loopback's own folder (report, stream,
reconstruction) is kept under ``OUTDIR/cells/phy-<cell>/``.

The clip the loopback encodes is the evaluation's normalised clip (size, rate,
``--max-frames``) written losslessly (H.264 CRF 0) so both transports see the same
frames; the reconstruction scored is the decoder worker's video as written.

Each cell runs over one OFDM MCS (:data:`PHY_MCS`, gr-lgvsc ``phy_common.MCS``; the PSK PHY its
BPSK/QPSK subset ``accounting.PSK_MCS_NAMES``): ``--mcs auto``
(the default) takes the highest paper preset whose SNR <= the cell's SNR; the semantic
encoder's byte budget and the row's CBR follow that MCS's modulation and code rate.

The loopback's workers carry the semantic stream only, so the H.26x bitstreams (QP-51 and
the matched baselines) go through :func:`run_pdu_cell`: their PDUs (the same MTU as
lgvsc's) are written to a file that ``phy_pdu_runner.py`` (GNU Radio's interpreter) sends
through the same PHY TX → ``channel_model`` AWGN → PHY RX; whatever passes the CRC is
what FFmpeg decodes.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lgvsc.accounting import OFDM_MCS, PSK_MCS_NAMES

#: What :func:`lgvsc.loopback.run_loopback` says when no stream header reached the decoder.
NO_HEADER = "no stream header received"

__all__ = ["PHY_CHANNELS", "PHY_MCS", "PduOutcome", "PhyOutcome", "cell_mcs", "mcs_rate", "phy_mcs_names",
           "phy_modulation", "run_pdu_cell", "run_phy_cell"]

#: gr-lgvsc's OFDM MCS table as the evaluation uses it: name -> (modulation or None = the PHY's own,
#: code rate, paper SNR in dB or None). A view of :data:`lgvsc.accounting.OFDM_MCS` (the one ML-side mirror
#: of ``phy_common.MCS``, checked against the radio side by the tests); the paper SNR is in the name.
PHY_MCS: dict[str, tuple[str | None, float, float | None]] = {
    name: (mod, rate, float(name[len("paper-"):-len("dB")]) if name.startswith("paper-") else None)
    for name, (_code, mod, rate) in OFDM_MCS.items()
}

#: Channels the loopback offers (``awgn`` inside the flowgraph, the rest through the Sionna emulator).
PHY_CHANNELS: tuple[str, ...] = ("awgn", "rayleigh", "rician", "tdl-a", "tdl-b", "tdl-c", "tdl-d", "tdl-e")


def phy_modulation(phy: str) -> str:
    """Constellation of a gr-lgvsc PDU PHY (OFDM: QPSK subcarriers; single-carrier PSK: BPSK)."""
    return "qpsk" if phy == "ofdm" else "bpsk"


def phy_code_rate(fec: str) -> float:
    """Code rate of the PHY FEC mode (gr-fec rate-1/2 convolutional code, or none)."""
    return 0.5 if fec == "cc" else 1.0


def cell_mcs(snr_db: float, mcs: str, phy: str, fec: str) -> str:
    """The MCS a cell runs: ``auto`` = the highest paper preset whose SNR <= ``snr_db`` (paper-0dB below 0 dB).

    Without ``mcs``: the one ``fec`` (``none``/``cc``) names.  The PSK PHY carries the subset
    :data:`lgvsc.accounting.PSK_MCS_NAMES` (BPSK/QPSK presets), so its ``auto`` caps at paper-6dB.
    """
    if not mcs:
        return fec
    if mcs != "auto":
        return mcs
    names = PSK_MCS_NAMES if phy == "psk" else tuple(PHY_MCS)
    best = "paper-0dB"
    for name in names:
        snr = PHY_MCS[name][2]
        if snr is not None and snr <= snr_db:
            best = name
    return best


def phy_mcs_names(phy: str) -> tuple[str, ...]:
    """MCS names ``phy`` carries: the whole OFDM table, or the PSK PHY's BPSK/QPSK subset."""
    return PSK_MCS_NAMES if phy == "psk" else tuple(PHY_MCS)


def mcs_rate(mcs: str, phy: str) -> tuple[str, float]:
    """(modulation, code rate) of ``mcs`` on ``phy``: what the budget and the CBR are computed with."""
    mod, rate, _ = PHY_MCS[mcs]
    return (mod or phy_modulation(phy)), rate


@dataclass
class PduOutcome:
    """Raw PDUs after the PHY: ``received[i]`` is PDU i as sent, or ``None`` if it did not pass the CRC."""

    received: list[bytes | None]
    stats: dict[str, Any]


def run_pdu_cell(pdus: list[bytes], snr_db: float, seed: int, out_dir: Path, *, phy: str, fec: str, mcs: str,
                 mtu: int, gr_python: str = "/usr/bin/python3", timeout_s: float = 900.0) -> PduOutcome:
    """Send ``pdus`` through the gr-lgvsc PHY with ``phy_pdu_runner.py``; raises ``UserError`` on failure.

    A PDU that passed the PHY's CRC-32 is byte-exact, so each arrival is matched to the sent PDU
    with the same bytes (no extra framing on air: the PDUs are exactly the scheme's).
    """
    import struct
    import subprocess

    from lgvsc.errors import UserError

    out_dir.mkdir(parents=True, exist_ok=True)
    pin, pout = out_dir / "pdus_in.bin", out_dir / "pdus_out.bin"
    with open(pin, "wb") as f:
        for p in pdus:
            f.write(struct.pack(">I", len(p)) + p)
    runner = Path(__file__).with_name("phy_pdu_runner.py")
    cmd = [gr_python, str(runner), str(pin), str(pout), "--snr", repr(float(snr_db)), "--phy", phy, "--fec", fec,
           "--mtu", str(int(mtu)), "--seed", str(int(seed)), "--timeout", str(float(timeout_s))]
    if mcs:  # the cell's MCS, none/cc included (it may differ from --fec)
        cmd += ["--mcs", mcs]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s + 60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"phy PDU run failed: {exc}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise UserError(f"phy PDU run failed (exit {proc.returncode}): {' | '.join(tail)}")
    data = pout.read_bytes()
    pool: dict[bytes, int] = {}
    i = 0
    while i + 4 <= len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        if n > mtu:
            raise UserError(f"phy PDU run returned a {n}-byte PDU (MTU {mtu})")
        chunk = data[i + 4:i + 4 + n]
        pool[chunk] = pool.get(chunk, 0) + 1
        i += 4 + n
    received: list[bytes | None] = []
    for p in pdus:
        if pool.get(p, 0):
            pool[p] -= 1
            received.append(p)
        else:
            received.append(None)
    info = json.loads(Path(str(pout) + ".json").read_text())
    pin.unlink(missing_ok=True)
    pout.unlink(missing_ok=True)
    ok = sum(r is not None for r in received)
    st = info.get("rx_status", {})
    stats = {"num_blocks": len(pdus), "block_errors": len(pdus) - ok,
             "bler": (len(pdus) - ok) / len(pdus) if pdus else float("nan"), "units_errored": len(pdus) - ok,
             "rx_crc_fail": int(st.get("rx_crc_fail", 0)), "samples_tx": int(info.get("samples_tx", 0)),
             "pdus_sent": len(pdus), "pdus_lost": len(pdus) - ok, "header_lost": False,
             "loopback_dir": out_dir.name}
    return PduOutcome(received=received, stats=stats)


@dataclass
class PhyOutcome:
    """What one loopback cell produced: the reconstruction, the row's counters, its folder."""

    frames: np.ndarray
    stats: dict[str, Any]
    payload_bytes: int
    keyframes_sent: list[int]
    out_dir: Path


def run_phy_cell(clip, clip_path: Path, method: str, snr_db: float, seed: int, out_dir: Path, *,
                 channel: str, phy: str, fec: str, profile: str, keyframe_bytes: int | None,
                 mcs: str = "", mtu: int = 1200, target_cbr: float | None = None,
                 generator: Any = None, gr_python: str = "/usr/bin/python3", timeout_s: float = 900.0
                 ) -> PhyOutcome:
    """One loopback of ``clip_path`` (the normalised ``clip``) at ``snr_db``; raises ``UserError`` on failure.

    If no stream header reached the decoder, the cell is the all-grey full-length video that
    ``generator`` (the profile's segment generator) makes of an empty stream, as over linksim.
    """
    from lgvsc.loopback import LoopbackConfig, run_loopback
    from lgvsc.video import read_video

    cfg = LoopbackConfig(video=clip_path, out_dir=out_dir, snr_db=float(snr_db), channel=channel, phy=phy, fec=fec,
                         mcs=mcs, mtu=int(mtu), target_cbr=target_cbr,  # the cell's MCS, even none/cc
                         profile=profile, width=None, height=None, fps=None, method=method,
                         keyframe_bytes=keyframe_bytes, seed=int(seed), gr_python=gr_python, timeout_s=timeout_s,
                         progress=False)
    from lgvsc.errors import UserError

    try:
        res = run_loopback(cfg)
    except UserError as exc:
        if NO_HEADER not in str(exc):
            raise
        return _header_lost(clip, out_dir, str(exc), generator)
    report = json.loads(Path(res.files["report.json"]).read_text())
    (out_dir / "side_by_side.mp4").unlink(missing_ok=True)  # a copy of what the cell's PNG and CSV already show
    rec = read_video(res.files["reconstruction.mp4"], width=None, height=None, fps=None).frames
    if rec.shape[1:] != clip.frames.shape[1:]:
        raise RuntimeError(f"phy reconstruction is {rec.shape[1:]}, the clip {clip.frames.shape[1:]}")
    n_out = len(rec)
    if n_out < clip.num_frames:  # never happens for a full-length decoder; scored as a frozen last frame
        pad = np.repeat(rec[-1:] if n_out else np.zeros_like(clip.frames[:1]), clip.num_frames - n_out, axis=0)
        rec = np.concatenate([rec, pad])
    rec = rec[:clip.num_frames]
    link, dec, cbr = report["link"], report["decoder"], report["cbr"]
    decode = dec.get("decode", dec)
    tx = int(link.get("tx_pdus", 0))
    ok = int(link.get("rx_ok", 0))
    sent = list(report["stream"]["keyframes"])
    concealed = list(decode.get("keyframes_concealed", []))
    stats = {
        "num_blocks": tx,  # PDUs on air (each PDU is one PHY frame with its own CRC)
        "block_errors": tx - ok,
        "bler": (tx - ok) / tx if tx else float("nan"),
        "units_errored": tx - ok,
        "rx_crc_fail": int(link.get("rx_crc_fail", 0)),
        "samples_tx": int(link.get("samples_tx", 0)),
        "cbr_link": cbr.get("cbr_on_air_measured"),
        "pdus_sent": tx,
        "pdus_lost": tx - ok,
        "header_lost": bool(dec.get("header_lost", False)),
        "keyframes_sent": sent,
        "keyframes_lost": [k for k in sent if k in concealed],
        "frames_concealed": int(max(0, clip.num_frames - n_out)),
        "decode_failures": int(len(concealed) + len(decode.get("captions_concealed", []))),
        "output_frames": int(n_out),
        "loopback_dir": out_dir.name,
        "loopback_psnr": report["quality"]["psnr_mean_db"],
    }
    return PhyOutcome(frames=rec, stats=stats, payload_bytes=int(cbr["payload_bytes"]), keyframes_sent=sent,
                      out_dir=out_dir)


def _header_lost(clip, out_dir: Path, why: str, generator) -> PhyOutcome:
    """Every copy of the stream header was lost on the PHY: the loopback's decoder made no video.

    As over the linksim transport, the evaluation knows the format out of band and scores the
    decoder's all-grey full-length output. The loopback left no report, so its link counters
    are unknown for this cell (NaN), never guessed.
    """
    from lgvsc.decoder import SemanticDecoder
    from lgvsc.stream import SemanticStream

    frames, report = SemanticDecoder(generator).decode(SemanticStream(video=clip.info(), keyframes=[], segments=[]))
    nan = float("nan")
    stats = {"num_blocks": nan, "block_errors": nan, "bler": nan, "units_errored": nan, "rx_crc_fail": nan,
             "samples_tx": nan, "cbr_link": None, "pdus_sent": nan, "pdus_lost": nan, "header_lost": True,
             "keyframes_sent": [], "keyframes_lost": [], "frames_concealed": 0,
             "decode_failures": int(clip.num_frames), "output_frames": int(len(frames)),
             "loopback_dir": "", "loopback_error": why.splitlines()[0]}
    return PhyOutcome(frames=frames, stats=stats, payload_bytes=-1, keyframes_sent=[], out_dir=out_dir)


def phy_seed(seed: int, snr_db: float, scheme: str, video_key: str) -> int:
    """The channel seed of a phy cell (GNU Radio's noise source takes a 31-bit int)."""
    return zlib.crc32(f"phy|{seed}|{snr_db:.6g}|{scheme}|{video_key}".encode()) & 0x7FFFFFFF
