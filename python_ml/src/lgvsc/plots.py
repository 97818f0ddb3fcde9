# SPDX-License-Identifier: GPL-3.0-or-later
"""Matplotlib figures for reports: per-frame quality and keyframe timelines (PNG, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: reports are written on machines without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_frame_quality", "plot_keyframe_timeline", "side_by_side"]


def plot_frame_quality(
    psnr: np.ndarray,
    ssim: np.ndarray,
    keyframes: Sequence[int],
    path: str | Path,
    title: str = "Per-frame quality",
    psnr_y: np.ndarray | None = None,
    ssim_y: np.ndarray | None = None,
) -> Path:
    """PSNR and SSIM against frame index (RGB; luma too when given), keyframes marked as vertical lines."""
    path = Path(path)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    frames = np.arange(len(psnr))
    ax1.plot(frames, psnr, color="tab:blue", lw=1.2, label="RGB")
    ax1.set_ylabel("PSNR (dB)")
    ax2.plot(frames, ssim, color="tab:green", lw=1.2, label="RGB")
    if psnr_y is not None:
        ax1.plot(np.arange(len(psnr_y)), psnr_y, color="tab:orange", lw=1.0, ls="--", label="Y' (BT.601)")
        ax1.legend(fontsize=8, loc="lower right")
    if ssim_y is not None:
        ax2.plot(np.arange(len(ssim_y)), ssim_y, color="tab:red", lw=1.0, ls="--", label="Y' (BT.601)")
        ax2.legend(fontsize=8, loc="lower right")
    ax2.set_ylabel("SSIM")
    ax2.set_xlabel("frame")
    lows = [float(np.min(x)) for x in (ssim, ssim_y) if x is not None and len(x)]
    ax2.set_ylim(min([0.0, *lows]), 1.0)
    for ax in (ax1, ax2):
        for k in keyframes:
            ax.axvline(k, color="0.6", lw=0.8, ls="--")
        ax.grid(alpha=0.3)
    ax1.set_title(title + "  (dashed: keyframes)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_keyframe_timeline(
    num_frames: int,
    rows: dict[str, Sequence[int]],
    path: str | Path,
    lost: dict[str, Sequence[int]] | None = None,
    fps: float | None = None,
    title: str = "Keyframe timeline",
) -> Path:
    """One row per label (e.g. "SKEM sent", "received"): keyframes as ticks, lost ones as red crosses."""
    path = Path(path)
    lost = lost or {}
    fig, ax = plt.subplots(figsize=(9, 0.7 + 0.6 * len(rows)))
    for y, (label, frames) in enumerate(rows.items()):
        ax.hlines(y, 0, num_frames - 1, color="0.85", lw=6)
        ax.plot(list(frames), [y] * len(frames), "|", ms=18, mew=2, color="tab:blue")
        bad = list(lost.get(label, []))
        if bad:
            ax.plot(bad, [y] * len(bad), "x", ms=10, mew=2, color="tab:red")
    ax.set_yticks(range(len(rows)), list(rows.keys()))
    ax.set_xlim(-1, num_frames)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("frame" + (f" ({fps:g} fps)" if fps else ""))
    ax.set_title(title + ("  (red x: lost)" if lost else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def side_by_side(source: np.ndarray, reconstruction: np.ndarray, gap: int = 4) -> np.ndarray:
    """``(F, H, 2W+gap, 3)`` clip: source on the left, reconstruction on the right."""
    if source.shape != reconstruction.shape:
        raise ValueError(f"clips differ in shape: {source.shape} vs {reconstruction.shape}")
    f, h, w, c = source.shape
    out = np.zeros((f, h, 2 * w + gap, c), dtype=np.uint8)
    out[:, :, :w] = source
    out[:, :, w + gap :] = reconstruction
    return out
