# SPDX-License-Identifier: GPL-3.0-or-later
"""PDU loss on top of the link: i.i.d. or bursty (Gilbert–Elliott).

The loss sweep (``lgvsc eval --loss 0 0.1 0.3 [--burst-loss B]``) drops whole PDUs
after the link, as a congested or fading network path would, for every scheme the
same way (each scheme's units are PDUs of the same MTU).

The bursty model is the two-state Gilbert–Elliott chain with loss probability 1
in the bad state and 0 in the good one (Gilbert's special case): a burst is a
run of bad states, geometric with mean ``B = 1 / r`` (``r`` = P(bad→good)), and
the stationary loss rate is ``p / (p + r)`` (``p`` = P(good→bad)). For a mean
loss ``L`` and a mean burst ``B``: ``r = 1/B``, ``p = L·r / (1 − L)``.

>>> m = GilbertElliott(loss=0.2, burst=4.0)
>>> round(m.p_gb, 4), m.p_bg
(0.0625, 0.25)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["GilbertElliott", "loss_mask", "burst_lengths"]


@dataclass(frozen=True)
class GilbertElliott:
    """Two-state bursty loss with mean loss rate ``loss`` and mean burst length ``burst`` (PDUs)."""

    loss: float
    burst: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss < 1.0:
            raise ValueError(f"loss rate must lie in [0, 1), got {self.loss}")
        if not (math.isfinite(self.burst) and self.burst >= 1.0):
            raise ValueError(f"mean burst length must be >= 1 PDU, got {self.burst}")
        if self.loss > 0 and self.p_gb > 1.0:
            raise ValueError(f"a mean loss of {self.loss} with bursts of {self.burst} PDUs needs "
                             f"P(good->bad) = {self.p_gb:.3g} > 1; use shorter bursts or less loss")

    @property
    def p_bg(self) -> float:
        """P(bad → good) = 1 / mean burst."""
        return 1.0 / self.burst

    @property
    def p_gb(self) -> float:
        """P(good → bad), giving the stationary loss rate."""
        return self.loss * self.p_bg / (1.0 - self.loss)

    def mask(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` booleans, True = lost; the first state is drawn from the stationary distribution."""
        out = np.zeros(n, bool)
        if n == 0 or self.loss == 0:
            return out
        u = rng.random(n)
        bad = rng.random() < self.loss
        for i in range(n):
            out[i] = bad
            bad = (u[i] >= self.p_bg) if bad else (u[i] < self.p_gb)
        return out


def loss_mask(n: int, loss: float, burst: float | None, seed: int) -> np.ndarray:
    """Which of ``n`` PDUs are lost: i.i.d. with rate ``loss`` (``burst`` None) or Gilbert–Elliott."""
    rng = np.random.default_rng(seed)
    if burst is None:
        if not 0.0 <= loss < 1.0:
            raise ValueError(f"loss rate must lie in [0, 1), got {loss}")
        return rng.random(n) < loss
    return GilbertElliott(loss, burst).mask(n, rng)


def burst_lengths(mask: np.ndarray) -> np.ndarray:
    """Lengths of the runs of True in ``mask``."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]]).astype(np.int8)
    d = np.diff(m)
    return np.flatnonzero(d == -1) - np.flatnonzero(d == 1)
