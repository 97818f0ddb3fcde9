# SPDX-License-Identifier: GPL-3.0-or-later
"""3GPP TR 38.901 CDL as a SISO fading process evaluable at any time (one realisation, many rays).

Sionna's :class:`~sionna.phy.channel.tr38901.CDL` draws a new realisation on
every call and always starts at ``t = 0``. In Sionna (TR 38.901 eq. 7.5-22 and
7.5-30) the only time dependence of a CDL channel is the Doppler phase of each
ray, ``exp(j 2 pi (r_rx . v) t / lambda)``; everything else (ray powers, random
initial phases, antenna field patterns, the LoS component) is fixed for a
realisation. So a realisation is a sum of complex exponentials per cluster::

    h_c(t) = sum_m A[c, m] * exp(j 2 pi f[c, m] t)

:class:`RayFading` draws ``A`` and ``f`` once and evaluates that sum at any
absolute time in float64. The deterministic parts come from Sionna itself
(CDL tables, ray angles with their per-ray offsets, topology, field and LoS
matrices: ``CDL._create_topology``, ``ChannelCoefficientsGenerator._step_11_nlos``
/ ``_step_11_los`` at ``t = 0``); the random draws (UT velocity direction, random
angle coupling, initial phases) are made in exactly Sionna's order and shapes
from the given generator. With the same generator state it reproduces
``CDL(...)(1, T, fs)`` (tested against Sionna's own output).

SISO: both ends use Sionna's single :class:`~sionna.phy.channel.tr38901.Antenna`
(one element, vertical single polarisation, omnidirectional pattern) in the
default downlink geometry (BS transmits, the UT receives and moves). With the
omni pattern each ray keeps its table power (``|A[c, m]|^2 = P_c / 20``), so the
average cluster powers are the CDL table's (normalised to one; for CDL-D/E the
specular LoS ray is added to the first cluster with Sionna's K factor).

The maximum Doppler ``fd`` fixes the UT speed ``v = fd * c / f_c``; Sionna draws
the direction of travel at random per realisation, so each ray's Doppler is
``fd * cos(angle between its arrival direction and the velocity)``, never above
``fd``. The carrier frequency only converts ``fd`` to a speed: with single omni
antennas at the array origin it cancels out (default 3.5 GHz).
"""

from __future__ import annotations

import math

import torch

__all__ = ["CDL_PROFILES", "RayFading", "make_sionna_cdl"]

#: Model name -> Sionna CDL profile letter.
CDL_PROFILES: dict[str, str] = {"cdl-a": "A", "cdl-b": "B", "cdl-c": "C", "cdl-d": "D", "cdl-e": "E"}

_SPEED_OF_LIGHT = 299792458.0


def make_sionna_cdl(profile: str, delay_spread: float, carrier_frequency: float, doppler_hz: float):
    """Sionna ``CDL`` for one omni single-polarised antenna at each end, UT speed from ``doppler_hz``.

    :param profile: ``"A"`` … ``"E"``
    :param delay_spread: RMS delay spread [s]
    :param carrier_frequency: carrier frequency [Hz]
    :param doppler_hz: maximum Doppler shift [Hz] (sets the UT speed ``fd * c / f_c``)
    """
    from sionna.phy.channel.tr38901 import CDL, Antenna

    ant = lambda: Antenna("single", "V", "omni", carrier_frequency)  # noqa: E731
    speed = float(doppler_hz) * _SPEED_OF_LIGHT / float(carrier_frequency)
    return CDL(profile, delay_spread, carrier_frequency, ut_array=ant(), bs_array=ant(),
               direction="downlink", min_speed=speed, max_speed=speed)


class RayFading:
    """One CDL realisation: per-cluster sums of Doppler-shifted rays, evaluable at any time.

    Same interface as :class:`lgvsc.channels.models.SosFading` (``delays``, ``num_paths``,
    :meth:`gains`).

    :param amplitudes: complex ray amplitudes at ``t = 0``, shape [P, R] (zero-padded)
    :param frequencies: ray Doppler shifts [Hz], shape [P, R]
    :param delays: cluster delays [s], shape [P], ascending
    """

    def __init__(self, amplitudes: torch.Tensor, frequencies: torch.Tensor, delays: torch.Tensor) -> None:
        if amplitudes.shape != frequencies.shape or amplitudes.dim() != 2:
            raise ValueError("amplitudes and frequencies must both have shape [paths, rays]")
        self._amp = amplitudes.to(torch.complex128)
        self._w = (2.0 * math.pi) * frequencies.to(torch.float64)  # rad/s
        self.delays = delays.to(torch.float64).reshape(-1)
        self.num_paths = int(self._amp.shape[0])
        if self.delays.numel() != self.num_paths:
            raise ValueError("one delay per path")

    @property
    def max_doppler(self) -> float:
        """Largest |Doppler shift| of any ray [Hz]."""
        return float(self._w.abs().max()) / (2.0 * math.pi)

    def gains(self, times: torch.Tensor) -> torch.Tensor:
        """Complex path gains at ``times`` [s] (float64, shape [T]) -> complex128 [P, T]."""
        t = times.to(torch.float64).reshape(1, 1, -1)
        arg = self._w.unsqueeze(-1) * t  # [P, R, T]
        rot = torch.polar(torch.ones_like(arg), arg)
        return (self._amp.unsqueeze(-1) * rot).sum(dim=1)

    @classmethod
    def from_sionna_cdl(cls, cdl, generator: torch.Generator) -> RayFading:
        """Draw a realisation of a Sionna ``CDL`` built by :func:`make_sionna_cdl` (SISO, batch 1).

        Makes the random draws of ``CDL.__call__(1, ...)`` in Sionna's order from ``generator``.
        """
        from sionna.phy import PI
        from sionna.phy.channel.tr38901.rays import Rays
        from sionna.phy.utils import normal, rand

        dt = cdl.dtype
        gen = cdl._cir_gen  # noqa: SLF001
        if cdl._ut_velocity is not None or cdl._direction != "downlink":  # noqa: SLF001
            raise ValueError("only the downlink CDL with a speed range is supported")
        if gen._tx_array.num_ant != 1 or gen._rx_array.num_ant != 1:  # noqa: SLF001
            raise ValueError("RayFading is SISO: use single-antenna arrays")
        # CDL._get_velocity (batch 1): speed, azimuth, zenith of the direction of travel.
        v_r = rand((1, 1), dtype=dt, generator=generator) * (cdl._max_speed - cdl._min_speed) + cdl._min_speed  # noqa: SLF001
        v_phi = rand((1, 1), dtype=dt, generator=generator) * 2.0 * PI
        v_theta = rand((1, 1), dtype=dt, generator=generator) * PI
        velocity = torch.cat([v_r * torch.cos(v_phi) * torch.sin(v_theta),
                              v_r * torch.sin(v_phi) * torch.sin(v_theta),
                              v_r * torch.cos(v_theta)], dim=-1)
        topology = cdl._create_topology(1, velocity)  # noqa: SLF001
        # CDL._create_rays: random coupling = argsort of normal draws, in the order aoa, aod, zoa, zod.
        c, r = cdl._num_clusters, cdl._rays_per_cluster  # noqa: SLF001
        shape = (1, 1, 1, c, r)

        def shuffle(angles: torch.Tensor) -> torch.Tensor:
            a = angles.reshape(shape)
            idx = torch.argsort(normal(a.shape, dtype=dt, generator=generator), dim=-1)
            return torch.gather(a, -1, idx)

        aoa, aod = shuffle(cdl._aoa), shuffle(cdl._aod)  # noqa: SLF001
        zoa, zod = shuffle(cdl._zoa), shuffle(cdl._zod)  # noqa: SLF001
        rays = Rays(delays=cdl._delays.reshape(1, 1, 1, c), powers=cdl._powers.reshape(1, 1, 1, c),  # noqa: SLF001
                    aoa=aoa, aod=aod, zoa=zoa, zod=zod, xpr=cdl._xpr.reshape(1, 1, 1, 1, 1).expand(shape))  # noqa: SLF001
        # ChannelCoefficientsGenerator._step_10: initial phases of the 4 polarisation combinations.
        phi = rand((*shape, 4), dtype=dt, generator=generator) * 2 * PI - PI
        t0 = torch.zeros(1, dtype=dt)
        amp = gen._step_11_nlos(phi, topology, rays, t0).reshape(c, r)  # noqa: SLF001  (powers included)
        # Doppler of each ray: the UT (receiver) moves, direction of arrival . velocity / lambda.
        lam = _SPEED_OF_LIGHT / float(cdl._carrier_frequency)  # noqa: SLF001
        v = velocity.reshape(3).to(torch.float64)

        def doppler(zen: torch.Tensor, azi: torch.Tensor) -> torch.Tensor:
            zen, azi = zen.to(torch.float64), azi.to(torch.float64)
            d = torch.stack([torch.sin(zen) * torch.cos(azi), torch.sin(zen) * torch.sin(azi), torch.cos(zen)], -1)
            return (d @ v) / lam

        freq = doppler(zoa, aoa).reshape(c, r)
        k = float(cdl._k_factor)  # noqa: SLF001
        amp = amp.to(torch.complex128) * math.sqrt(1.0 / (k + 1.0))
        delays = cdl._delays.reshape(c).to(torch.float64)  # noqa: SLF001
        order = torch.argsort(cdl._delays.reshape(c))  # Sionna sorts clusters by delay  # noqa: SLF001
        amp, freq, delays = amp[order], freq[order], delays[order]
        if cdl._has_los:  # noqa: SLF001
            # Specular ray, added to the first (zero-delay) cluster as in Sionna's _step_11.
            los = gen._step_11_los(topology, t0).reshape(()).to(torch.complex128) * math.sqrt(k / (k + 1.0))  # noqa: SLF001
            f_los = doppler(topology.los_zoa.reshape(1), topology.los_aoa.reshape(1))
            extra_a = torch.zeros(c, 1, dtype=torch.complex128)
            extra_f = torch.zeros(c, 1, dtype=torch.float64)
            extra_a[0, 0], extra_f[0, 0] = los, f_los[0]
            amp, freq = torch.cat([amp, extra_a], 1), torch.cat([freq, extra_f], 1)
        return cls(amp, freq, delays)
