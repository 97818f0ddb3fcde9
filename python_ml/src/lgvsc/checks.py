# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks of user options shared by the commands, so each bad value gets the same named message everywhere.

``lgvsc loopback`` runs them before any process starts, and ``lgvsc eval`` can call them the same way;
the messages are those ``lgvsc encode`` prints. Each raises :class:`~lgvsc.errors.UserError`
(exit status 2, no traceback) naming the option and the value.

>>> check_geometry(576, 320); check_fps(24.0); check_snr(-3.5)
>>> check_geometry(577, 320)
Traceback (most recent call last):
...
lgvsc.errors.UserError: --width and --height must be even (H.264 yuv420p), got 577x320
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from lgvsc.errors import UserError

__all__ = [
    "MAX_FPS",
    "check_finite",
    "check_snr",
    "check_snrs",
    "check_geometry",
    "check_fps",
    "check_target_cbr",
    "check_keyframe_bytes",
    "check_threshold",
    "check_positive",
    "check_int_range",
]

#: Highest normalised frame rate the commands accept (as ``lgvsc encode``).
MAX_FPS = 240.0


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_finite(option: str, value: float) -> float:
    """``value`` is a finite number (not NaN, not +-inf)."""
    if not _is_number(value) or not math.isfinite(value):
        raise UserError(f"{option} must be a finite number, got {value}")
    return float(value)


def check_snr(value: float, option: str = "--snr") -> float:
    """An SNR in dB: finite (``nan`` used to give an all-grey video, ``-inf`` a failure after encoding)."""
    if not _is_number(value) or not math.isfinite(value):
        raise UserError(f"{option} must be a finite number of dB, got {value}")
    return float(value)


def check_snrs(values: Iterable[float], option: str = "--snr") -> list[float]:
    """Every SNR of a list is finite, and there is at least one."""
    out = [check_snr(v, option) for v in values]
    if not out:
        raise UserError(f"{option} needs at least one value")
    return out


def check_geometry(width: int | None, height: int | None) -> None:
    """Normalised size: positive and even (H.264 yuv420p); ``None`` keeps the source's (checked later)."""
    for option, v in (("--width", width), ("--height", height)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v <= 0):
            raise UserError(f"{option} must be a positive integer, got {v}")
    if width is not None and height is not None and (width % 2 or height % 2):
        raise UserError(f"--width and --height must be even (H.264 yuv420p), got {width}x{height}")


def check_fps(fps: float | None) -> None:
    """Normalised frame rate in (0, 240]; ``None`` keeps the source's."""
    if fps is not None and (not _is_number(fps) or not 0 < fps <= MAX_FPS):
        raise UserError(f"--fps must lie in (0, {MAX_FPS:g}], got {fps}")


def check_target_cbr(value: float | None) -> None:
    """A target CBR is a positive finite number (``None``: the encoder's default)."""
    if value is not None and (not _is_number(value) or not math.isfinite(value) or not value > 0):
        raise UserError("--target-cbr must be positive")


def check_keyframe_bytes(value: int | None) -> None:
    """A fixed keyframe budget is at least 64 bytes (``None``: from the target CBR)."""
    if value is not None and (not isinstance(value, int) or value < 64):
        raise UserError("--keyframe-bytes must be at least 64")


def check_threshold(value: float, option: str = "--threshold") -> None:
    """An S_rel threshold lies in [-1, 1]."""
    if not _is_number(value) or not -1.0 <= value <= 1.0:
        raise UserError(f"{option}: S_rel thresholds lie in [-1, 1], got {value}")


def check_positive(option: str, value: float) -> float:
    """A positive finite number (sample rates, timeouts)."""
    if not _is_number(value) or not math.isfinite(value) or not value > 0:
        raise UserError(f"{option} must be a positive number, got {value}")
    return float(value)


def check_int_range(option: str, value: int, lo: int, hi: int, unit: str = "") -> int:
    """An integer in ``lo..hi`` inclusive."""
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise UserError(f"{option} must be in {lo}..{hi}{' ' + unit if unit else ''}, got {value}")
    return value
