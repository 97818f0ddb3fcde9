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

The H.26x baselines are **not** carried: the loopback's workers carry the semantic
stream only (see :data:`H26X_SKIP_REASON`).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: What :func:`lgvsc.loopback.run_loopback` says when no stream header reached the decoder.
NO_HEADER = "no stream header received"

__all__ = ["PHY_CHANNELS", "H26X_SKIP_REASON", "PhyOutcome", "phy_modulation", "run_phy_cell"]

#: Channels the loopback offers (``awgn`` inside the flowgraph, the rest through the Sionna emulator).
PHY_CHANNELS: tuple[str, ...] = ("awgn", "rayleigh", "rician", "tdl-a", "tdl-b", "tdl-c", "tdl-d", "tdl-e")

H26X_SKIP_REASON = ("not carried over the phy transport: the GNU Radio loopback's encoder and decoder workers "
                    "carry the semantic stream only (no raw-bitstream job type yet); run the H.26x baselines "
                    "with --transport linksim")


def phy_modulation(phy: str) -> str:
    """Constellation of a gr-lgvsc PDU PHY (OFDM: QPSK subcarriers; single-carrier PSK: BPSK)."""
    return "qpsk" if phy == "ofdm" else "bpsk"


def phy_code_rate(fec: str) -> float:
    """Code rate of the PHY FEC mode (gr-fec rate-1/2 convolutional code, or none)."""
    return 0.5 if fec == "cc" else 1.0


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
                 generator: Any = None, gr_python: str = "/usr/bin/python3", timeout_s: float = 900.0
                 ) -> PhyOutcome:
    """One loopback of ``clip_path`` (the normalised ``clip``) at ``snr_db``; raises ``UserError`` on failure.

    If no stream header reached the decoder, the cell is the all-grey full-length video that
    ``generator`` (the profile's segment generator) makes of an empty stream, as over linksim.
    """
    from lgvsc.loopback import LoopbackConfig, run_loopback
    from lgvsc.video import read_video

    cfg = LoopbackConfig(video=clip_path, out_dir=out_dir, snr_db=float(snr_db), channel=channel, phy=phy, fec=fec,
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
