# SPDX-License-Identifier: GPL-3.0-or-later
"""The SNR definition: Es/N0 per sample, Es measured on active input samples or fixed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sionna.phy import config

from lgvsc.channels.noise import StreamingNoise


def _sig(n, power, seed=0):
    r = np.random.default_rng(seed)
    s = (r.standard_normal(n) + 1j * r.standard_normal(n)) * math.sqrt(power / 2)
    return torch.from_numpy(s.astype(np.complex64))


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_measured_reference(snr_db):
    config.seed = 1
    x = _sig(200_000, 0.01)
    noise = StreamingNoise(snr_db)
    y = torch.cat([noise(x[i:i + 10_000], x[i:i + 10_000]) for i in range(0, x.numel(), 10_000)])
    n0 = float((y - x).abs().square().mean())
    assert 10 * math.log10(0.01 / n0) == pytest.approx(snr_db, abs=0.1)


def test_bursty_signal_snr_holds_within_bursts():
    config.seed = 2
    burst = _sig(5000, 4.0)
    gap = torch.zeros(15_000, dtype=torch.complex64)
    x = torch.cat([burst, gap] * 10)  # 25 % duty cycle
    noise = StreamingNoise(10.0)
    y = torch.cat([noise(x[i:i + 4096], x[i:i + 4096]) for i in range(0, x.numel(), 4096)])
    n0 = float((y - x).abs().square()[x.abs() == 0].mean())  # noise measured in the gaps
    assert noise.power == pytest.approx(4.0, rel=0.05)
    assert 10 * math.log10(4.0 / n0) == pytest.approx(10.0, abs=0.15)


def test_fixed_reference_ignores_input_power():
    config.seed = 3
    x = _sig(100_000, 0.5)
    noise = StreamingNoise(3.0, reference_power=2.0)
    y = noise(x, x)
    n0 = float((y - x).abs().square().mean())
    assert n0 == pytest.approx(2.0 / 10 ** 0.3, rel=0.03)


def test_no_noise_before_signal_and_for_none():
    z = torch.zeros(1000, dtype=torch.complex64)
    noise = StreamingNoise(10.0)
    assert torch.equal(noise(z, z), z) and noise.noise_variance is None
    x = _sig(1000, 1.0)
    assert torch.equal(StreamingNoise(None)(x, x), x)


def test_bad_values():
    with pytest.raises(ValueError, match="SNR"):
        StreamingNoise(float("nan"))
    with pytest.raises(ValueError, match="reference power"):
        StreamingNoise(10.0, reference_power=-1.0)
