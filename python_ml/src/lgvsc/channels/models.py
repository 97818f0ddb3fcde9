# SPDX-License-Identifier: GPL-3.0-or-later
"""Streaming fading channels: continuous-time fading applied to an endless IQ stream.

Sionna's :class:`~sionna.phy.channel.tr38901.TDL` draws a new sum-of-sinusoids
(SoS) realisation on every call and always starts at ``t = 0``, so calling it
block by block would make the channel jump at every block edge. For a stream we
need one realisation evaluated at arbitrary, ever-growing times. :class:`SosFading`
therefore draws the SoS parameters once, in exactly the order and shapes
Sionna's TDL draws them, and evaluates Sionna's SoS formula (eqs. 6-7, 11 of the
reference in Sionna's TDL docstring) at any time in float64 (float32 phases
would lose precision after minutes of stream). With the same generator state it
reproduces ``TDL(1, T, fs)`` exactly (tested). Power-delay profiles (tap powers,
delays, LoS power) are read from Sionna's TDL; the tap discretisation (sinc
interpolation of path delays onto the sample grid) is Sionna's
:func:`~sionna.phy.channel.cir_to_time_channel`.

:class:`StreamingChannel` evaluates the channel impulse response (CIR) every
``update_interval`` samples (default 100) on an absolute sample grid,
interpolates it linearly in between (``interpolation="linear"``, default) or
holds it (``"hold"``), and applies it as a time-varying FIR whose history is
carried across calls. Output is therefore independent of how the stream is cut
into blocks, and the channel never jumps at a block edge. The FIR is made causal
by delaying the output by ``latency`` samples (``-l_min``, 6 for TDL, 0 for flat
models); the number of output samples always equals the number of input samples.

Models (``CHANNEL_MODELS``): ``awgn`` (no fading), ``rayleigh`` and ``rician``
(flat, one SoS path, Rician K factor ``k_factor_db``, LoS Doppler at
``cos(los_aoa)`` of the maximum as in Sionna), ``tdl-a`` … ``tdl-e`` (scaled by
``delay_spread``) and the TS 38.101-4 fixed profiles ``tdl-a10``, ``tdl-a30``,
``tdl-b100``, ``tdl-c60``, ``tdl-c300``, ``tdl-d10``, ``tdl-d30``, and the clustered delay lines ``cdl-a`` …
``cdl-e`` (scaled by ``delay_spread``; SISO with one omni antenna at each end, a
realisation of Sionna's :class:`~sionna.phy.channel.tr38901.CDL` evaluated at
absolute time by :class:`~lgvsc.channels.cdl.RayFading`).
All fading models have unit average power gain.

Example::

    >>> ch = StreamingChannel(ChannelSpec("tdl-c", sample_rate=1e6, doppler=50, delay_spread=300e-9, seed=1))
    >>> y = ch.process(x)      # x: complex64 numpy array, any length, call repeatedly
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from lgvsc.channels.cdl import CDL_PROFILES, RayFading

__all__ = [
    "CHANNEL_MODELS",
    "ChannelSpec",
    "DEFAULT_CARRIER_FREQUENCY",
    "SosFading",
    "StreamingChannel",
    "max_doppler_for",
]

_TDL_PROFILES = {
    "tdl-a": "A", "tdl-b": "B", "tdl-c": "C", "tdl-d": "D", "tdl-e": "E",
    "tdl-a10": "A10", "tdl-a30": "A30", "tdl-b100": "B100", "tdl-c60": "C60",
    "tdl-c300": "C300", "tdl-d10": "D10", "tdl-d30": "D30",
}
#: Every model name the streaming channel accepts.
CHANNEL_MODELS: tuple[str, ...] = ("awgn", "rayleigh", "rician", *_TDL_PROFILES, *CDL_PROFILES)

#: Default carrier frequency [Hz]. It only converts the Doppler to the UT speed Sionna's TDL/CDL
#: take; for these SISO models (omni antennas at the array origin) it cancels out.
DEFAULT_CARRIER_FREQUENCY = 3.5e9
_SPEED_OF_LIGHT = 299792458.0
_MAX_TAPS = 4096
#: At least this many CIR updates per Doppler period (fd <= fs / (update_interval * this)).
MIN_UPDATES_PER_DOPPLER_PERIOD = 10


def max_doppler_for(sample_rate: float, update_interval: int) -> float:
    """Largest maximum Doppler [Hz] the streaming channel accepts for these settings."""
    return sample_rate / (update_interval * MIN_UPDATES_PER_DOPPLER_PERIOD)


@dataclass(frozen=True)
class ChannelSpec:
    """Parameters of a streaming channel (validated by :meth:`validate`).

    :param model: one of :data:`CHANNEL_MODELS`
    :param sample_rate: complex sample rate of the stream [Hz]
    :param doppler: maximum Doppler shift [Hz] (fading models only)
    :param delay_spread: RMS delay spread [s] for ``tdl-a`` … ``tdl-e`` and ``cdl-a`` … ``cdl-e``
        (default 100 ns)
    :param carrier_frequency: carrier [Hz] for TDL/CDL (Doppler -> UT speed; cancels out for SISO)
    :param k_factor_db: Rician K factor [dB] (``rician`` only)
    :param cfo: carrier frequency offset added after the channel [Hz]
    :param update_interval: samples between CIR evaluations
    :param interpolation: ``"linear"`` or ``"hold"`` between CIR evaluations
    :param num_sinusoids: SoS sinusoids per path (Sionna's default, 20)
    :param seed: fading realisation seed
    """

    model: str = "awgn"
    sample_rate: float = 1e6
    doppler: float = 0.0
    delay_spread: float | None = None
    k_factor_db: float = 10.0
    cfo: float = 0.0
    carrier_frequency: float = DEFAULT_CARRIER_FREQUENCY
    update_interval: int = 100
    interpolation: str = "linear"
    num_sinusoids: int = 20
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter."""
        if self.model not in CHANNEL_MODELS:
            raise ValueError(f"unknown channel model {self.model!r}; choose one of {', '.join(CHANNEL_MODELS)}")
        if not (math.isfinite(self.sample_rate) and self.sample_rate > 0):
            raise ValueError(f"sample rate must be a positive number of Hz (got {self.sample_rate})")
        if not (math.isfinite(self.doppler) and self.doppler >= 0):
            raise ValueError(f"doppler must be >= 0 Hz (got {self.doppler})")
        if not (isinstance(self.update_interval, int) and 1 <= self.update_interval <= 1_000_000):
            raise ValueError(f"update interval must be an integer in 1..1000000 (got {self.update_interval})")
        if self.interpolation not in ("linear", "hold"):
            raise ValueError(f"interpolation must be 'linear' or 'hold' (got {self.interpolation!r})")
        if not math.isfinite(self.cfo) or abs(self.cfo) >= self.sample_rate / 2:
            raise ValueError(f"|cfo| must be below half the sample rate ({self.sample_rate / 2:g} Hz), got {self.cfo}")
        if not (math.isfinite(self.carrier_frequency) and 1e8 <= self.carrier_frequency <= 1e12):
            raise ValueError(f"carrier frequency must be in 100 MHz .. 1 THz (got {self.carrier_frequency:g} Hz)")
        if self.num_sinusoids < 4:
            raise ValueError("num_sinusoids must be >= 4")
        if self.model == "awgn":
            if self.doppler:
                raise ValueError("the awgn model has no fading: doppler must be 0")
        else:
            limit = max_doppler_for(self.sample_rate, self.update_interval)
            if self.doppler > limit:
                raise ValueError(
                    f"doppler {self.doppler:g} Hz is beyond what this channel supports at sample rate "
                    f"{self.sample_rate:g} Hz with a CIR update every {self.update_interval} samples "
                    f"(max {limit:g} Hz = sample_rate / (update_interval * {MIN_UPDATES_PER_DOPPLER_PERIOD})); "
                    "lower the update interval or the doppler"
                )
        if self.delay_spread is not None:
            if not (math.isfinite(self.delay_spread) and self.delay_spread >= 0):
                raise ValueError(f"delay spread must be >= 0 s (got {self.delay_spread})")
            if self.model in ("awgn", "rayleigh", "rician"):
                raise ValueError(f"the {self.model} model is flat: it takes no delay spread")
            if self.model in _TDL_PROFILES and len(_TDL_PROFILES[self.model]) > 1:
                raise ValueError(f"{self.model} has a fixed delay profile: it takes no delay spread")
        if self.model == "rician" and not math.isfinite(self.k_factor_db):
            raise ValueError("k factor must be finite")


class SosFading:
    """One sum-of-sinusoids realisation of a multipath fading process, evaluable at any time.

    :param nlos_powers: mean power of the diffuse (Rayleigh) part of each path, shape [P]
    :param delays: path delays [s], shape [P]
    :param los_power: power of the specular component added to path 0 (0: no LoS)
    :param doppler_hz: maximum Doppler shift [Hz]
    :param alpha_const: Sionna's per-sinusoid base angles, shape [S]
    :param los_aoa: LoS angle of arrival [rad]
    :param generator: torch generator the random phases and angles are drawn from
    """

    def __init__(self, nlos_powers: torch.Tensor, delays: torch.Tensor, los_power: float, doppler_hz: float,
                 alpha_const: torch.Tensor, los_aoa: float, generator: torch.Generator) -> None:
        p = int(nlos_powers.numel())
        s = int(alpha_const.numel())
        self.delays = delays.to(torch.float64).reshape(p)
        self._amp = nlos_powers.to(torch.float64).reshape(p, 1).sqrt() / math.sqrt(s)
        self._los_amp = math.sqrt(float(los_power))
        # Same draws, order and sizes as sionna.phy.channel.tr38901.TDL.__call__ with batch 1, SISO.
        # The Doppler draw is uniform in [min, max] with min == max here: drawn, then unused.
        rand = lambda n: torch.rand(n, dtype=torch.float32, generator=generator)  # noqa: E731
        rand(1)
        w = 2.0 * math.pi * float(doppler_hz)  # Sionna's "doppler" is the radian maximum Doppler
        theta = (rand(p * s) * (2 * math.pi / s) - math.pi / s).reshape(p, s)
        alpha = alpha_const.reshape(1, s).to(torch.float32) + theta
        phi = (rand(p * s) * 2 * math.pi - math.pi).reshape(p, s)
        self._w_cos = (w * torch.cos(alpha)).to(torch.float64)  # [P, S] rad/s
        self._phi = phi.to(torch.float64)
        if self._los_amp > 0:
            self._phi0 = float(rand(1) * 2 * math.pi - math.pi)
            self._w_los = w * math.cos(float(los_aoa))
        self.num_paths = p

    def gains(self, times: torch.Tensor) -> torch.Tensor:
        """Complex path gains at ``times`` [s] (float64, shape [T]) -> complex128 [P, T]."""
        t = times.to(torch.float64).reshape(1, 1, -1)
        arg = self._w_cos.unsqueeze(-1) * t + self._phi.unsqueeze(-1)  # [P, S, T]
        h = torch.polar(torch.ones_like(arg), arg).sum(dim=1) * self._amp  # [P, T]
        if self._los_amp > 0:
            arg0 = self._w_los * times.to(torch.float64) + self._phi0
            h[0] = h[0] + self._los_amp * torch.polar(torch.ones_like(arg0), arg0)
        return h

    @classmethod
    def from_sionna_tdl(cls, tdl, doppler_hz: float, generator: torch.Generator) -> SosFading:
        """Realisation with the power-delay profile of a Sionna ``TDL`` instance (SISO)."""
        los_power = float(torch.real(tdl._los_power)) if tdl.los else 0.0  # noqa: SLF001
        return cls(torch.real(tdl._mean_powers), tdl.delays, los_power, doppler_hz,  # noqa: SLF001
                   tdl._alpha_const.reshape(-1), float(tdl._los_angle_of_arrival), generator)  # noqa: SLF001


class StreamingChannel:
    """Applies a :class:`ChannelSpec` channel (fading + CFO, no noise) to a stream, block by block.

    State (sample counter, FIR history, CFO phase) carries across :meth:`process` calls.
    """

    def __init__(self, spec: ChannelSpec) -> None:
        spec.validate()
        self.spec = spec
        self.fs = float(spec.sample_rate)
        self.n = 0  # absolute index of the next input sample
        self._fading: SosFading | RayFading | None = None
        self.latency = 0
        self.num_taps = 1
        if spec.model != "awgn":
            self._build_fading(spec)
        self._hist = np.zeros(self.num_taps - 1, dtype=np.complex64)
        self._grid_cache: tuple[int, torch.Tensor] | None = None

    def _build_fading(self, spec: ChannelSpec) -> None:
        gen = torch.Generator().manual_seed(int(spec.seed))
        if spec.model in ("rayleigh", "rician"):
            s = spec.num_sinusoids
            alpha_const = 2.0 * math.pi / s * torch.arange(1, s + 1, dtype=torch.float32)
            if spec.model == "rician":
                k = 10.0 ** (spec.k_factor_db / 10.0)
                nlos, los = 1.0 / (k + 1.0), k / (k + 1.0)
            else:
                nlos, los = 1.0, 0.0
            self._fading = SosFading(torch.tensor([nlos]), torch.zeros(1), los, spec.doppler, alpha_const,
                                     math.acos(0.7), gen)
            self._taps_of_paths = torch.ones(1, 1, dtype=torch.complex128)
            return
        from sionna.phy.channel import cir_to_time_channel, time_lag_discrete_time_channel
        from sionna.phy.channel.tr38901 import TDL

        delay_spread = spec.delay_spread if spec.delay_spread is not None else 100e-9
        if spec.model in CDL_PROFILES:
            from lgvsc.channels.cdl import make_sionna_cdl

            cdl = make_sionna_cdl(CDL_PROFILES[spec.model], delay_spread, spec.carrier_frequency, spec.doppler)
            self._fading = RayFading.from_sionna_cdl(cdl, gen)
        else:
            profile = _TDL_PROFILES[spec.model]
            kwargs = {"delay_spread": delay_spread} if len(profile) == 1 else {}
            tdl = TDL(profile, carrier_frequency=spec.carrier_frequency, num_sinusoids=spec.num_sinusoids, **kwargs)
            self._fading = SosFading.from_sionna_tdl(tdl, spec.doppler, gen)
        max_delay = float(self._fading.delays.max())
        l_min, l_max = time_lag_discrete_time_channel(self.fs, max_delay)
        if l_max - l_min + 1 > _MAX_TAPS:
            raise ValueError(f"delay spread too long for the sample rate: {l_max - l_min + 1} taps > {_MAX_TAPS}")
        # Sionna's sinc discretisation of each path onto the taps: a unit gain on path p at "time" p.
        p = self._fading.num_paths
        eye = torch.eye(p, dtype=torch.complex64).reshape(1, 1, 1, 1, 1, p, p)
        tau = self._fading.delays.to(torch.float32).reshape(1, 1, 1, p)
        taps = cir_to_time_channel(self.fs, eye, tau, l_min, l_max, normalize=False)  # [...,P,L]
        self._taps_of_paths = taps.reshape(p, l_max - l_min + 1).to(torch.complex128)
        self.latency = -l_min
        self.num_taps = l_max - l_min + 1

    # -- CIR ---------------------------------------------------------------------------------------
    def cir_at(self, sample_index: torch.Tensor) -> torch.Tensor:
        """Causal FIR taps [T, L] (complex128) at absolute sample indices (float64 tensor)."""
        g = self._fading.gains(sample_index / self.fs)  # [P, T]
        return g.transpose(0, 1) @ self._taps_of_paths  # [T, L]

    def _apply_fir(self, x: torch.Tensor, n0: int) -> torch.Tensor:
        """Time-varying FIR over input samples n0 .. n0+m-1 (history from ``self._hist``).

        The chunk is padded to whole update segments so that each segment is one batched
        matrix-vector product: ``y = win @ g_k + frac * (win @ (g_{k+1} - g_k))``.
        """
        u, m, nt = self.spec.update_interval, x.numel(), self.num_taps
        k0, k1 = n0 // u, (n0 + m - 1) // u + 1  # segments k0 .. k1-1
        grid = self.cir_at(torch.arange(k0, k1 + 1, dtype=torch.float64) * u).to(torch.complex64)  # [K+1, L]
        lead = n0 - k0 * u
        tail = k1 * u - (n0 + m)
        parts = [torch.zeros(lead, dtype=torch.complex64)] if lead else []
        parts += [torch.from_numpy(self._hist), x]
        if tail:
            parts.append(torch.zeros(tail, dtype=torch.complex64))
        xe = torch.cat(parts)  # windows for every sample of the padded segments
        if nt > 1:
            self._hist = x[-(nt - 1):].numpy().copy() if m >= nt - 1 else \
                torch.cat([torch.from_numpy(self._hist), x])[-(nt - 1):].numpy().copy()
        k = k1 - k0
        win = xe.unfold(0, nt, 1).reshape(k, u, nt)  # win[k, i, j] = x[k*u + i - (L-1-j)]
        g = grid.flip(-1)  # align tap order with the window order
        y = torch.bmm(win, g[:-1].unsqueeze(-1)).squeeze(-1)  # [K, u]
        if self.spec.interpolation == "linear":
            frac = torch.arange(u, dtype=torch.float32) / u
            y = y + frac * torch.bmm(win, (g[1:] - g[:-1]).unsqueeze(-1)).squeeze(-1)
        return y.reshape(-1)[lead:lead + m]

    # -- stream ------------------------------------------------------------------------------------
    def process(self, x: np.ndarray) -> np.ndarray:
        """Channel output for the next ``len(x)`` input samples (complex64 in, complex64 out)."""
        x = np.require(np.asarray(x, dtype=np.complex64).ravel(), requirements=["C", "W"])
        m = x.size
        if m == 0:
            return x.copy()
        n0 = self.n
        if self._fading is None:
            y = x.copy()
        else:
            y = self._apply_fir(torch.from_numpy(x), n0).numpy()
        if self.spec.cfo:
            ph = (2.0 * math.pi * self.spec.cfo / self.fs) * (np.arange(m, dtype=np.float64) + n0)
            y = y * np.exp(1j * np.mod(ph, 2.0 * math.pi)).astype(np.complex64)
        self.n = n0 + m
        return np.ascontiguousarray(y, dtype=np.complex64)
