# SPDX-License-Identifier: GPL-3.0-or-later
"""Streaming fading: fidelity to Sionna's TDL, continuity across blocks, power, accuracy, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sionna.phy import config
from sionna.phy.channel.tr38901 import TDL

from lgvsc.channels.models import ChannelSpec, SosFading, StreamingChannel

torch.set_num_threads(1)


def _noise(n, seed=0):
    r = np.random.default_rng(seed)
    return ((r.standard_normal(n) + 1j * r.standard_normal(n)) / math.sqrt(2)).astype(np.complex64)


@pytest.mark.parametrize("profile", ["C", "D", "A30"])
def test_sos_reproduces_sionna_tdl_exactly(profile):
    kw = {"delay_spread": 300e-9} if len(profile) == 1 else {}
    tdl = TDL(profile, carrier_frequency=3.5e9, min_speed=10.0, max_speed=10.0, **kw)
    config.seed = 42
    a, tau = tdl(1, 500, 1e4)
    config.seed = 42
    fd = 10.0 / 299792458.0 * 3.5e9
    sos = SosFading.from_sionna_tdl(tdl, fd, config.torch_rng("cpu"))
    g = sos.gains(torch.arange(500, dtype=torch.float64) / 1e4)
    assert g.shape == (a.shape[5], 500)
    np.testing.assert_allclose(g.numpy(), a.reshape(-1, 500).numpy(), atol=2e-5)
    np.testing.assert_allclose(sos.delays.numpy(), tau.reshape(-1).numpy(), rtol=1e-6)


@pytest.mark.parametrize("model, kw", [
    ("rayleigh", {"doppler": 200.0}),
    ("rician", {"doppler": 200.0}),
    ("tdl-c", {"doppler": 200.0, "delay_spread": 1e-6}),
    ("cdl-c", {"doppler": 200.0, "delay_spread": 1e-6}),
    ("cdl-d", {"doppler": 200.0, "delay_spread": 300e-9}),
    ("awgn", {}),
])
def test_output_independent_of_block_cutting(model, kw):
    """The fading is a function of absolute sample time: any cutting gives the same output, so
    there is no jump at a block edge."""
    x = _noise(20_000)
    spec = ChannelSpec(model, sample_rate=1e6, seed=3, cfo=123.0, **kw)
    whole = StreamingChannel(spec).process(x)
    ch = StreamingChannel(spec)
    cuts = [0, 1, 7, 100, 4099, 4100, 9999, 15_000, 20_000]
    pieces = np.concatenate([ch.process(x[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)])
    np.testing.assert_allclose(pieces, whole, atol=1e-5)
    assert ch.n == 20_000


def test_flat_gain_is_smooth_and_rayleigh_distributed():
    fs, fd = 1e6, 100.0
    ch = StreamingChannel(ChannelSpec("rayleigh", sample_rate=fs, doppler=fd, seed=5))
    ones = np.ones(200_000, np.complex64)
    h = np.concatenate([ch.process(ones[i:i + 10_000]) for i in range(0, ones.size, 10_000)])
    # Largest sample-to-sample change is bounded by the Doppler rate (|dh/dt| <= 2 pi fd max|h|).
    assert np.abs(np.diff(h)).max() < 2 * math.pi * fd / fs * 4 + 1e-6
    # Unit average power over many independent realisations.
    powers = [np.mean(np.abs(StreamingChannel(ChannelSpec("rayleigh", sample_rate=fs, doppler=fd, seed=s))
                             .process(ones[:20_000])) ** 2) for s in range(60)]
    assert np.mean(powers) == pytest.approx(1.0, abs=0.2)


def test_tdl_c_average_power_and_latency():
    spec = dict(sample_rate=1e6, doppler=10.0, delay_spread=300e-9)
    ch = StreamingChannel(ChannelSpec("tdl-c", seed=0, interpolation="hold", **spec))
    assert ch.latency == 6 and ch.num_taps > 6
    # An impulse comes out as the current CIR, delayed by `latency`.
    imp = np.zeros(300, np.complex64)
    imp[0] = 1
    y = ch.process(imp)
    cir = ch.cir_at(torch.tensor([0.0], dtype=torch.float64))[0].numpy()
    np.testing.assert_allclose(y[: ch.num_taps], cir, atol=1e-4)
    # Energy of the response averaged over realisations ~ 1 (unit average gain).
    e = [np.sum(np.abs(StreamingChannel(ChannelSpec("tdl-c", seed=s, **spec)).process(imp)) ** 2)
         for s in range(60)]
    assert np.mean(e) == pytest.approx(1.0, abs=0.2)


@pytest.mark.parametrize("interp, max_nmse_db", [("linear", -50.0), ("hold", -25.0)])
def test_update_interval_error_vs_per_sample_channel(interp, max_nmse_db):
    """CIR every 100 samples vs the exact per-sample CIR, TDL-C at 1 MS/s, Doppler 100 Hz."""
    fs, n = 1e6, 4000
    spec = ChannelSpec("tdl-c", sample_rate=fs, doppler=100.0, delay_spread=300e-9, seed=2,
                       update_interval=100, interpolation=interp)
    ch = StreamingChannel(spec)
    x = _noise(n, 1)
    y = ch.process(x)
    taps = ch.cir_at(torch.arange(n, dtype=torch.float64)).numpy()  # [n, L], exact per sample
    xe = np.concatenate([np.zeros(ch.num_taps - 1, np.complex64), x])
    ref = np.array([np.dot(taps[i], xe[i:i + ch.num_taps][::-1]) for i in range(n)])
    nmse_db = 10 * np.log10(np.mean(np.abs(y - ref) ** 2) / np.mean(np.abs(ref) ** 2))
    assert nmse_db < max_nmse_db


def test_same_seed_same_channel_other_seed_other():
    x = _noise(5000)
    mk = lambda s: StreamingChannel(ChannelSpec("tdl-a", doppler=50, seed=s)).process(x)  # noqa: E731
    np.testing.assert_array_equal(mk(1), mk(1))
    assert not np.allclose(mk(1), mk(2))


def test_cfo_rotates_continuously():
    ch = StreamingChannel(ChannelSpec("awgn", sample_rate=1e6, cfo=1000.0))
    y = np.concatenate([ch.process(np.ones(333, np.complex64)) for _ in range(10)])
    dphi = np.angle(y[1:] * np.conj(y[:-1]))
    np.testing.assert_allclose(dphi, 2 * math.pi * 1000.0 / 1e6, atol=1e-5)


@pytest.mark.parametrize("kw, msg", [
    ({"model": "tdl-x"}, "unknown channel model"),
    ({"model": "cdl-f"}, "unknown channel model"),
    ({"model": "cdl-a", "doppler": 2000.0}, "beyond what this channel supports"),
    ({"model": "cdl-b", "delay_spread": -1e-7}, "delay spread"),
    ({"model": "cdl-c", "carrier_frequency": 0.0}, "carrier frequency"),
    ({"sample_rate": -1.0}, "sample rate"),
    ({"model": "rayleigh", "doppler": 5000.0}, "beyond what this channel supports"),
    ({"model": "rayleigh", "doppler": -1.0}, "doppler must be >= 0"),
    ({"model": "awgn", "doppler": 10.0}, "no fading"),
    ({"model": "rayleigh", "delay_spread": 1e-7}, "flat"),
    ({"model": "tdl-c300", "delay_spread": 1e-7}, "fixed delay profile"),
    ({"model": "tdl-c", "delay_spread": -1e-7}, "delay spread"),
    ({"cfo": 6e5}, "cfo"),
    ({"update_interval": 0}, "update interval"),
])
def test_bad_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        StreamingChannel(ChannelSpec(**kw))
