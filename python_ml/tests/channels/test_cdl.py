# SPDX-License-Identifier: GPL-3.0-or-later
"""CDL as a streaming SISO channel: fidelity to Sionna's CDL, power profile, Doppler, seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sionna.phy import config

from lgvsc.channels.cdl import RayFading, make_sionna_cdl
from lgvsc.channels.models import ChannelSpec, StreamingChannel

torch.set_num_threads(1)


@pytest.mark.parametrize("profile", ["A", "B", "C", "D", "E"])
def test_ray_fading_reproduces_sionna_cdl_exactly(profile):
    """Same generator state -> the same realisation as Sionna's CDL, at Sionna's time instants."""
    cdl = make_sionna_cdl(profile, 300e-9, 3.5e9, 100.0)
    config.seed = 11
    a, tau = cdl(1, 400, 1e4)
    config.seed = 11
    rf = RayFading.from_sionna_cdl(cdl, config.torch_rng("cpu"))
    g = rf.gains(torch.arange(400, dtype=torch.float64) / 1e4)
    assert g.shape == (a.shape[5], 400)
    np.testing.assert_allclose(g.numpy(), a.reshape(-1, 400).numpy(), atol=1e-5)
    np.testing.assert_allclose(rf.delays.numpy(), tau.reshape(-1).numpy(), rtol=1e-6)
    # The UT speed is set from the Doppler: no ray exceeds it, and it is used (random direction).
    assert 30.0 < rf.max_doppler <= 100.0 + 1e-6


def _expected_cluster_powers(cdl) -> np.ndarray:
    """CDL table powers as Sionna normalises them, sorted by delay, LoS ray in the first cluster."""
    p = cdl._powers.numpy().astype(np.float64)  # noqa: SLF001
    order = np.argsort(cdl._delays.numpy())  # noqa: SLF001
    k = float(cdl._k_factor)  # noqa: SLF001
    p = p[order] / (k + 1.0)
    p[0] += k / (k + 1.0)
    return p


@pytest.mark.parametrize("profile", ["A", "D"])
def test_average_cluster_power_profile_matches_cdl_table(profile):
    cdl = make_sionna_cdl(profile, 100e-9, 3.5e9, 50.0)
    expected = _expected_cluster_powers(cdl)
    assert expected.sum() == pytest.approx(1.0, abs=1e-5)
    times = torch.tensor([0.0, 0.3, 0.7, 1.3], dtype=torch.float64)  # >> 1/fd apart: ~independent
    acc = np.zeros_like(expected)
    draws = 150
    for seed in range(draws):
        rf = RayFading.from_sionna_cdl(cdl, torch.Generator().manual_seed(seed))
        acc += (rf.gains(times).abs() ** 2).mean(dim=1).numpy()
    measured = acc / draws
    # 600 near-independent Rayleigh samples per cluster: relative std ~4 %.
    strong = expected > 0.005
    np.testing.assert_allclose(measured[strong], expected[strong], rtol=0.2)
    assert measured.sum() == pytest.approx(1.0, abs=0.08)


def test_doppler_decorrelates_at_the_rate_of_fd():
    """Mean autocorrelation of the flat part over realisations follows J0(2 pi fd tau) (Clarke-like
    for the dense CDL-A angle spread): high for tau << 1/fd, low near the first zero of J0."""
    cdl = make_sionna_cdl("A", 100e-9, 3.5e9, 100.0)
    near, far = [], []
    for seed in range(60):
        rf = RayFading.from_sionna_cdl(cdl, torch.Generator().manual_seed(seed))
        g = rf.gains(torch.tensor([0.0, 1e-4, 3.83 / (2 * math.pi * 100.0)], dtype=torch.float64)).numpy()
        p = np.sum(np.abs(g[:, 0]) ** 2)
        near.append(np.real(np.vdot(g[:, 0], g[:, 1])) / p)
        far.append(np.real(np.vdot(g[:, 0], g[:, 2])) / p)
    assert np.mean(near) > 0.95
    assert abs(np.mean(far)) < 0.35


def test_streaming_cdl_unit_average_gain_and_impulse_response():
    spec = dict(sample_rate=1e6, doppler=10.0, delay_spread=300e-9)
    ch = StreamingChannel(ChannelSpec("cdl-c", seed=0, interpolation="hold", **spec))
    assert ch.latency == 6 and ch.num_taps > 6
    imp = np.zeros(300, np.complex64)
    imp[0] = 1
    y = ch.process(imp)
    cir = ch.cir_at(torch.tensor([0.0], dtype=torch.float64))[0].numpy()
    np.testing.assert_allclose(y[: ch.num_taps], cir, atol=1e-4)
    e = [np.sum(np.abs(StreamingChannel(ChannelSpec("cdl-c", seed=s, **spec)).process(imp)) ** 2)
         for s in range(60)]
    assert np.mean(e) == pytest.approx(1.0, abs=0.2)


def test_cdl_seed_reproduces_and_carrier_cancels():
    x = (np.random.default_rng(0).standard_normal(3000) + 0j).astype(np.complex64)
    mk = lambda s, fc=3.5e9: StreamingChannel(  # noqa: E731
        ChannelSpec("cdl-b", doppler=50.0, seed=s, carrier_frequency=fc)).process(x)
    np.testing.assert_array_equal(mk(1), mk(1))
    assert not np.allclose(mk(1), mk(2))
    # SISO with omni antennas at the origin: the carrier only converts Doppler to speed.
    np.testing.assert_allclose(mk(1, 28e9), mk(1), atol=1e-4)
