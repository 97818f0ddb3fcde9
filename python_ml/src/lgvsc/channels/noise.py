# SPDX-License-Identifier: GPL-3.0-or-later
"""Noise for the streaming channel: Sionna's AWGN at a documented SNR.

SNR definition (``snr_db``): **per complex sample, SNR = Es / N0**, where N0 is the
complex noise variance added to every output sample and Es is the *reference
signal power* at the emulator input (before fading; every fading model has unit
average power gain, so Es is also the average received signal power):

* ``reference_power=None`` (default, "measured"): Es is the mean ``|x|^2`` of the
  **active** input samples (``|x|^2 > ACTIVE_THRESHOLD``) tracked with an
  exponential window of ``window`` active samples. Gaps between bursts (exact
  zeros, as GNU Radio's burst shapers and padding produce) do not pull the
  estimate down, so the SNR holds *within* bursts; noise is still added in the
  gaps, at the level of the last estimate. Until the first active sample no
  estimate exists and no noise is added.
* ``reference_power=P`` ("fixed"): Es = P, whatever the input. Use this when the
  TX power is known, or to keep N0 constant while the TX power changes.

``snr_db=None`` adds no noise (fading only).
"""

from __future__ import annotations

import math

import torch

__all__ = ["ACTIVE_THRESHOLD", "StreamingNoise"]

#: Input samples with ``|x|^2`` at or below this count as gaps in the measured-power mode.
ACTIVE_THRESHOLD = 1e-12


class StreamingNoise:
    """Adds AWGN (Sionna's :class:`~sionna.phy.channel.AWGN`) block by block.

    Random numbers come from Sionna's global generator (:attr:`sionna.phy.config.seed`).

    :param snr_db: Es/N0 per sample in dB, or ``None`` for no noise
    :param reference_power: fixed Es, or ``None`` to measure it from active input samples
    :param window: length of the exponential power-averaging window, in active samples
    """

    def __init__(self, snr_db: float | None, reference_power: float | None = None, window: int = 100_000) -> None:
        from sionna.phy.channel import AWGN

        if snr_db is not None and not math.isfinite(snr_db):
            raise ValueError(f"SNR must be a finite number of dB or None (got {snr_db})")
        if reference_power is not None and not (math.isfinite(reference_power) and reference_power > 0):
            raise ValueError(f"reference power must be > 0 (got {reference_power})")
        if window < 1:
            raise ValueError("power window must be >= 1 sample")
        self.snr_db = snr_db
        self.reference_power = reference_power
        self.window = int(window)
        self.power: float | None = reference_power  # current Es estimate
        self._awgn = AWGN()

    @property
    def noise_variance(self) -> float | None:
        """N0 currently applied (None: no noise)."""
        if self.snr_db is None or self.power is None:
            return None
        return self.power / 10.0 ** (self.snr_db / 10.0)

    def update_power(self, x: torch.Tensor) -> None:
        """Fold the active samples of input block ``x`` into the Es estimate (measured mode)."""
        if self.reference_power is not None:
            return
        p = x.real.square() + x.imag.square()
        active = p > ACTIVE_THRESHOLD
        n_act = int(active.sum())
        if n_act == 0:
            return
        p_blk = float(p[active].to(torch.float64).mean())
        if self.power is None:
            self.power = p_blk
        else:
            self.power += (1.0 - math.exp(-n_act / self.window)) * (p_blk - self.power)

    def __call__(self, x_in: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Noisy ``y``; ``x_in`` is the channel *input* block the reference power is measured on."""
        self.update_power(x_in)
        no = self.noise_variance
        if no is None:
            return y
        return self._awgn(y, no)
