# SPDX-License-Identifier: GPL-3.0-or-later
"""Scores a loopback run and writes what a person looks at: videos, plots, a Markdown report.

Every number written here is measured in this run: quality is computed on the
reconstruction as written to ``reconstruction.mp4`` (what a viewer sees), CBR from
the stream actually sent and the samples the flowgraph actually transmitted.
"""

from __future__ import annotations

import json
import platform
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from lgvsc import __version__

__all__ = ["score_and_render", "write_report", "sample_frame_grid", "loopback_mcs", "loopback_rate", "prewarm"]


def loopback_mcs(cfg) -> str:
    """The MCS a loopback config sends (``auto`` resolved from ``snr_db`` as Es/N0 with the helper of
    ``lgvsc eval --transport phy``; PSK: its BPSK/QPSK subset, auto capped at paper-6dB); without ``mcs``
    the one ``fec`` maps onto."""
    from lgvsc.evaluation.phy import cell_mcs

    return cell_mcs(cfg.snr_db, cfg.mcs, cfg.phy, cfg.fec)


def loopback_rate(cfg, mcs: str | None = None, phy_info: dict[str, Any] | None = None) -> tuple[str, float]:
    """(modulation, code rate) of ``mcs`` (default :func:`loopback_mcs`): what budget and paper CBR use."""
    from lgvsc.evaluation.phy import phy_modulation

    return _mcs_rate(mcs or loopback_mcs(cfg), phy_info or {}, phy_modulation(cfg.phy))


def _mcs_rate(mcs: str, phy_info: dict[str, Any], default_mod: str) -> tuple[str, float]:
    """(modulation, code rate) of MCS ``mcs`` (lgvsc.accounting.OFDM_MCS, the table both PHYs run); none/cc use
    the PHY's payload_mod (OFDM: QPSK, PSK: BPSK by default)."""
    from lgvsc.accounting import OFDM_MCS

    _, mod, rate = OFDM_MCS[mcs]
    return mod or str(phy_info.get("payload_mod") or default_mod), rate


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else float("nan")


def _min(x: np.ndarray) -> float:
    return float(np.min(x)) if x.size else float("nan")


def sample_frame_grid(source: np.ndarray, recon, indices: list[int], path: Path, max_width: int = 320) -> Path:
    """PNG grid: one row per frame index, source | reconstruction, labelled.

    ``recon`` is indexable by frame index: the whole clip, or a dict of the sample frames kept while streaming.
    """
    h, w = source.shape[1:3]
    scale = min(1.0, max_width / w)
    tw, th = max(1, int(w * scale)), max(1, int(h * scale))
    label_h, gap = 16, 4
    grid = Image.new("RGB", (2 * tw + 3 * gap, len(indices) * (th + label_h + gap) + gap), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    for row, i in enumerate(indices):
        y = gap + row * (th + label_h + gap)
        for col, (name, clip) in enumerate((("source", source), ("reconstruction", recon))):
            x = gap + col * (tw + gap)
            draw.text((x, y), f"{name}, frame {i}", fill=(0, 0, 0))
            grid.paste(Image.fromarray(clip[i]).resize((tw, th), Image.BILINEAR), (x, y + label_h))
    grid.save(path)
    return path


def _pick_frames(num_frames: int, keyframes: list[int]) -> list[int]:
    """A keyframe, the middle of the longest segment, and the end: where DSA is tested hardest."""
    picks = {0, num_frames - 1}
    if len(keyframes) >= 2:
        spans = sorted(zip(keyframes[:-1], keyframes[1:], strict=False), key=lambda ab: ab[1] - ab[0])
        a, b = spans[-1]
        picks.add((a + b) // 2)
        picks.add(a + (b - a) // 4)
    else:
        picks.add(num_frames // 2)
    return sorted(p for p in picks if 0 <= p < num_frames)[:4]


def prewarm() -> threading.Thread:
    """Import what :func:`score_and_render` needs (matplotlib, OpenCV, the MCS helpers) on a daemon thread.

    Call it while the run waits for the decoder: on the loaded 2-core machine these imports took seconds of
    the "score and render" stage. A failed import is left for :func:`score_and_render` to raise.
    """
    def run() -> None:
        try:
            import cv2  # noqa: F401

            import lgvsc.accounting  # noqa: F401
            import lgvsc.evaluation.phy  # noqa: F401
            import lgvsc.metrics.fast  # noqa: F401
            import lgvsc.plots  # noqa: F401
        except Exception:  # score_and_render imports them again and raises it there
            pass

    th = threading.Thread(target=run, name="lgvsc-report-imports", daemon=True)
    th.start()
    return th


def _stream_score_and_render(src: np.ndarray, recon_path: Path, fps, side_path: Path, picks: list[int]
                             ) -> tuple[Any, int, dict[int, np.ndarray], tuple[int, ...]]:
    """One pass over the reconstruction file: score each frame, write the side-by-side, keep the sample frames.

    Memory stays bounded by a frame (the reconstruction is never held whole). Returns the per-frame scores
    (:class:`lgvsc.metrics.fast.ClipScores`), the reconstruction's frame count, the sample frames and the
    reconstruction's frame shape.
    """
    from lgvsc.metrics.fast import QualityAccumulator
    from lgvsc.video import VideoWriter, iter_video

    acc = QualityAccumulator(ms_ssim=False)  # scores on its threads while this one decodes and encodes
    h, w = src.shape[1:3]
    gap = 4
    pair = np.zeros((h, 2 * w + gap, 3), np.uint8)  # reused for every frame
    samples: dict[int, np.ndarray] = {}
    count = 0
    shape: tuple[int, ...] = src.shape[1:]
    # ultrafast and OpenCV's RGB -> yuv420p (write_preview): the side-by-side is for looking at; its encode
    # and swscale's conversion were most of the render time.
    with VideoWriter(side_path, fps, crf=18, preset="ultrafast") as writer:
        for rec in iter_video(recon_path, width=None, height=None, fps=None):
            if rec.shape != src.shape[1:]:
                shape = rec.shape
                break
            if count < len(src):
                ref = src[count]
                acc.add_frame(ref, rec)
                pair[:, :w] = ref
                pair[:, w + gap:] = rec
                writer.write_preview(pair)
                if count in picks:
                    samples[count] = rec.copy()
            count += 1
    return acc.result(), count, samples, shape


def score_and_render(cfg, source, staging: Path, finish: dict[str, Any], link: dict[str, Any]) -> dict[str, Any]:
    """Read the decoder's video once, score it against ``source`` and render videos and plots into ``staging``."""
    from lgvsc.accounting import PhyDescription, account_stream, cbr, source_values
    from lgvsc.loopback import config_to_dict
    from lgvsc.metrics.fast import CONVENTIONS
    from lgvsc.plots import plot_frame_quality, plot_keyframe_timeline
    from lgvsc.wire import stream_from_bytes

    recon_path = Path(finish["video"])
    shutil.copyfile(recon_path, staging / "reconstruction.mp4")
    dec_report_path = Path(finish["report"])
    decoder_report = json.loads(dec_report_path.read_text())
    decoder_report["video"] = "reconstruction.mp4"  # the worker's path was inside the staging folder
    (staging / "decode_report.json").write_text(json.dumps(decoder_report, indent=2))

    src = source.frames
    stream = stream_from_bytes((staging / "stream.lgvs").read_bytes())
    kf_sent = stream.keyframe_indices()
    picks = _pick_frames(len(src), kf_sent)
    q, recon_frames, samples, shape = _stream_score_and_render(src, recon_path, source.fps,
                                                               staging / "side_by_side.mp4", picks)
    if shape != src.shape[1:]:
        raise ValueError(f"reconstruction geometry {shape} differs from the source {src.shape[1:]}")
    n = min(len(src), recon_frames)
    length_ok = recon_frames == len(src)
    dec = decoder_report.get("decode", decoder_report)
    kf_decoded = list(dec.get("keyframes_decoded", []))
    kf_concealed = list(dec.get("keyframes_concealed", []))

    plot_frame_quality(q.psnr_rgb, q.ssim_rgb, kf_sent, staging / "frame_quality.png",
                       title=f"{cfg.video.name}: {cfg.phy.upper()} {cfg.fec}, {cfg.channel} {cfg.snr_db:g} dB",
                       psnr_y=q.psnr_y, ssim_y=q.ssim_y)
    plot_keyframe_timeline(len(src), {f"sent ({stream.method.upper()})": kf_sent, "decoded": kf_decoded},
                           staging / "keyframe_timeline.png", lost={"decoded": kf_concealed}, fps=float(source.fps))
    shown = [i for i in picks if i in samples]
    sample_frame_grid(src, samples, shown, staging / "frames.png")

    phy_info = link.get("phy", {})
    # The MCS the PHY reports it sent (link_runner's phy dict), else the one the config resolves to.
    mcs = str(phy_info.get("mcs") or loopback_mcs(cfg))
    modulation, code_rate = loopback_rate(cfg, mcs, phy_info)
    if cfg.phy == "ofdm":
        phy = PhyDescription.ofdm_pdu_tx(mtu=cfg.mtu, gap=int(phy_info.get("gap", 1024)), fec_mode=cfg.fec,
                                         payload_mod=str(phy_info.get("payload_mod") or "qpsk"),
                                         sample_rate=cfg.samp_rate, mcs=mcs)
    else:
        phy = PhyDescription.psk_pdu_tx(mtu=cfg.mtu, gap=int(phy_info.get("gap") or 256), fec_mode=cfg.fec,
                                        payload_mod=str(phy_info.get("payload_mod") or "bpsk"),
                                        sps=int(phy_info.get("sps") or 2), sample_rate=cfg.samp_rate, mcs=mcs)
    acc = account_stream(stream, modulation=modulation, code_rate=code_rate, phy=phy)
    v = stream.video
    samples_tx = int(link.get("samples_tx", 0))
    cbr_info = {
        "payload_bytes": acc.payload_bytes,
        "cbr_paper": acc.cbr_paper,
        "cbr_paper_modulation": modulation,
        "cbr_paper_code_rate": acc.code_rate,
        "mcs": mcs,
        "cbr_on_air_measured": cbr(samples_tx, v.width, v.height, v.num_frames) if samples_tx else None,
        "cbr_on_air_model": acc.cbr_on_air,
        "samples_tx": samples_tx,
        "source_values": source_values(v.width, v.height, v.num_frames),
        "cbr_paper_full_system_reference": "6.1-6.6e-4 (paper)",
    }
    return {
        "version": __version__,
        "config": config_to_dict(cfg),
        "video": {"name": cfg.video.name, "width": v.width, "height": v.height, "fps": v.fps,
                  "num_frames": v.num_frames, "reconstruction_frames": int(recon_frames), "full_length": length_ok,
                  "scored_frames": int(n)},
        "stream": {"method": stream.method, "keyframes": kf_sent, "segments": len(stream.segments),
                   "captions": [s.caption for s in stream.segments],
                   "motion_scores": [s.motion_score for s in stream.segments]},
        "link": link,
        "decoder": {k: val for k, val in decoder_report.items() if k != "stream"},
        # psnr/ssim: RGB (as before); *_y: luma BT.601 as FFmpeg's psnr/ssim filters (lgvsc.metrics.fast).
        "quality": {"psnr_mean_db": _mean(q.psnr_rgb), "psnr_min_db": _min(q.psnr_rgb),
                    "ssim_mean": _mean(q.ssim_rgb), "ssim_min": _min(q.ssim_rgb),
                    "psnr_y_mean_db": _mean(q.psnr_y), "psnr_y_min_db": _min(q.psnr_y),
                    "ssim_y_mean": _mean(q.ssim_y), "ssim_y_min": _min(q.ssim_y),
                    "conventions": {"psnr": CONVENTIONS["psnr_rgb"], "ssim": CONVENTIONS["ssim_rgb"],
                                    "psnr_y": CONVENTIONS["psnr_y"], "ssim_y": CONVENTIONS["ssim_y"]}},
        "per_frame": {"psnr_db": [round(float(x), 3) for x in q.psnr_rgb],
                      "ssim": [round(float(x), 4) for x in q.ssim_rgb],
                      "psnr_y_db": [round(float(x), 3) for x in q.psnr_y],
                      "ssim_y": [round(float(x), 4) for x in q.ssim_y]},
        "cbr": cbr_info,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }


def _fmt(x: Any, spec: str = ".3g") -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return format(x, spec)
    return str(x)


def write_report(cfg, staging: Path, result: dict[str, Any]) -> None:
    """``report.json`` (everything) and ``report.md`` (for people, embeds the PNGs)."""
    (staging / "report.json").write_text(json.dumps(result, indent=2, default=str))
    link, dec, c, q, v = result["link"], result["decoder"], result["cbr"], result["quality"], result["video"]
    decode = dec.get("decode", dec)
    missing = dec.get("missing", {})
    lines = [
        f"# LGVSC loopback: {v['name']}",
        "",
        f"{v['num_frames']} frames, {v['width']}x{v['height']} @ {v['fps']:g} fps → "
        f"{cfg.method.upper()} semantic stream → {cfg.phy.upper()} PHY (FEC {cfg.fec}) → "
        f"{cfg.channel} channel at {cfg.snr_db:g} dB → {cfg.profile} decoder.",
        "",
        f"Reconstruction: **{v['reconstruction_frames']} frames** "
        f"({'full length' if v['full_length'] else 'LENGTH MISMATCH'}); "
        f"mean PSNR on RGB **{q['psnr_mean_db']:.2f} dB** (min {q['psnr_min_db']:.2f}), "
        f"mean SSIM on RGB **{q['ssim_mean']:.3f}** (min {q['ssim_min']:.3f}); "
        f"on luma (Y' BT.601, as FFmpeg's psnr/ssim filters): PSNR **{q.get('psnr_y_mean_db', float('nan')):.2f} dB**, "
        f"SSIM **{q.get('ssim_y_mean', float('nan')):.3f}**.",
        "",
        "| metric | convention | mean | min |",
        "|---|---|---|---|",
        f"| PSNR RGB (dB) | {q.get('conventions', {}).get('psnr', 'RGB')} | {q['psnr_mean_db']:.2f} | "
        f"{q['psnr_min_db']:.2f} |",
        f"| SSIM RGB | {q.get('conventions', {}).get('ssim', 'RGB')} | {q['ssim_mean']:.4f} | {q['ssim_min']:.4f} |",
        f"| PSNR Y (dB) | {q.get('conventions', {}).get('psnr_y', 'Y')} | {q.get('psnr_y_mean_db', float('nan')):.2f} | "
        f"{q.get('psnr_y_min_db', float('nan')):.2f} |",
        f"| SSIM Y | {q.get('conventions', {}).get('ssim_y', 'Y')} | {q.get('ssim_y_mean', float('nan')):.4f} | "
        f"{q.get('ssim_y_min', float('nan')):.4f} |",
        "",
        "Files: `reconstruction.mp4`, `side_by_side.mp4` (source left, reconstruction right), "
        "`stream.json` (the semantic stream sent), `decode_report.json`, `report.json`.",
        "",
        "![sample frames](frames.png)",
        "",
        "## Semantic stream",
        "",
        f"- keyframes sent: {result['stream']['keyframes']}",
        f"- segments: {result['stream']['segments']}",
    ]
    for i, (cap, m) in enumerate(zip(result["stream"]["captions"], result["stream"]["motion_scores"], strict=False)):
        lines.append(f"  - segment {i}: motion score {m:g}; caption: {cap!r}")
    lines += [
        "",
        "![keyframe timeline](keyframe_timeline.png)",
        "",
        "## Channel bandwidth ratio",
        "",
        "| measure | value |",
        "|---|---|",
        f"| semantic payload | {c['payload_bytes']} bytes |",
        f"| CBR, paper definition (MCS {c.get('mcs', '?')}: {c['cbr_paper_modulation']}, "
        f"code rate {c['cbr_paper_code_rate']:.3g}) "
        f"| {_fmt(c['cbr_paper'])} |",
        f"| CBR on air, measured (samples transmitted incl. sync, header, CRC, gaps) "
        f"| {_fmt(c['cbr_on_air_measured'])} |",
        f"| CBR on air, PHY model | {_fmt(c['cbr_on_air_model'])} |",
        f"| paper's full system, for reference | {c['cbr_paper_full_system_reference']} |",
        "",
        "## Packets",
        "",
        "| counter | value |",
        "|---|---|",
    ]
    for key in ("tx_pdus", "dropped_on_purpose", "rx_ok", "rx_crc_fail", "sink_forwarded", "sink_dropped",
                "samples_tx"):
        lines.append(f"| {key} | {_fmt(link.get(key))} |")
    for key in ("pdus_received", "pdus_expected", "pdus_lost", "duplicates", "rejected"):
        if key in missing:
            lines.append(f"| decoder {key} | {_fmt(missing.get(key))} |")
    lines += [
        "",
        "## Concealment",
        "",
        f"- keyframes decoded: {decode.get('keyframes_decoded', 'n/a')}",
        f"- keyframes concealed from neighbours: {decode.get('keyframes_concealed', 'n/a')}",
        f"- segments without metadata: {decode.get('segments_missing', 'n/a')}",
        f"- captions taken from the previous segment: {decode.get('captions_concealed', 'n/a')}",
        f"- no keyframe at all (grey video): {decode.get('all_grey', 'n/a')}",
        f"- every copy of the stream header lost (geometry and length from the session description): "
        f"{dec.get('header_lost', False)}",
        "- workers respawned: " + (", ".join(f"{k} {n}" for k, n in result["respawns"].items())
                                   if result.get("respawns") else "n/a"),
        "",
        "## Quality per frame",
        "",
        "Measured on `reconstruction.mp4` as written (H.264), against the normalised source.",
        "",
        "![per-frame quality](frame_quality.png)",
        "",
        "## Timings",
        "",
        "| stage | seconds |",
        "|---|---|",
    ]
    for stage, secs in result["timings_s"].items():
        lines.append(f"| {stage} | {secs:.2f} |")
    lines += ["", f"lgvsc {result['version']}, Python {result['machine']['python']}, {result['machine']['platform']}", ""]
    (staging / "report.md").write_text("\n".join(lines))
