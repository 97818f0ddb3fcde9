# SPDX-License-Identifier: GPL-3.0-or-later
"""Link-level simulation: a byte payload through 5G LDPC + QAM + a channel (Sionna 2.x).

This is the paper's transmission model (5G NR LDPC with rate matching, Gray QAM,
AWGN) and what it never tried (flat Rayleigh and 3GPP TDL fading). A payload
(a semantic stream, an H.26x bitstream, ...) is turned into bits (MSB first),
cut into code blocks of ``k`` bits (the last one zero-padded), each encoded to
``n`` bits by :class:`sionna.phy.fec.ldpc.LDPC5GEncoder`, mapped to
``n / bits_per_symbol`` symbols by :class:`sionna.phy.mapping.Mapper`, sent
through the channel, demapped to LLRs and decoded by
:class:`sionna.phy.fec.ldpc.LDPC5GDecoder`.

SNR convention
    ``snr_db`` is **Es/N0 per channel symbol**: the constellation has unit
    average energy (Es = 1) and the complex noise variance is
    ``N0 = 10 ** (-snr_db / 10)``. Fading channels have unit average power gain,
    so ``snr_db`` is also the *average* received Es/N0. Eb/N0 (information bit)
    is ``snr_db - 10 log10(k / n * bits_per_symbol)``.

Channels (receiver has perfect channel knowledge; LLRs use the per-symbol
effective noise ``N0 / |h|^2`` after zero-forcing, which for one antenna equals
matched filtering):

* ``awgn`` — the paper's channel.
* ``rayleigh`` — flat Rayleigh, independent per symbol (ideally interleaved,
  fast fading; the ergodic benchmark).
* ``rayleigh-block`` — flat Rayleigh, one coefficient per code block
  (quasi-static; the outage benchmark).
* ``tdl-a`` … ``tdl-e`` — 3GPP TR 38.901 TDL (Sionna's ``TDL``) seen through
  OFDM: each code block fills ``num_subcarriers`` subcarriers frequency-first
  over as many OFDM symbols as needed; every code block is an independent
  channel realisation (Sionna's batch dimension).
* ``cdl-a`` … ``cdl-e`` — 3GPP TR 38.901 CDL (Sionna's ``CDL``) through the same
  OFDM path, SISO: one omnidirectional, vertically polarised antenna at each
  end (downlink; the UT moves at the speed giving ``doppler`` at
  ``carrier_frequency``, in a direction Sionna draws per realisation).

Design SNR versus channel SNR: the paper picks the code and modulation from the
SNR it expects (:data:`PAPER_PRESETS`, :func:`preset_for_design_snr`); the
channel SNR is a separate argument, so a fixed design can be swept over the
actual channel SNR (mismatch is where schemes differ).

Example::

    >>> sim = LinkSimulator(preset_for_design_snr(4.0), channel="awgn")
    >>> res = sim.run_bytes(b"hello world" * 100, snr_db=4.0, seed=1)
    >>> res.payload == b"hello world" * 100, res.bler
    (True, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = [
    "MODULATIONS",
    "LINK_CHANNELS",
    "LinkConfig",
    "PAPER_PRESETS",
    "preset_for_design_snr",
    "LinkResult",
    "LinkSimulator",
    "bytes_to_bits",
    "bits_to_bytes",
    "qam_ber_awgn",
]

#: Modulation name -> bits per symbol (Gray-labelled square QAM, unit energy).
MODULATIONS: dict[str, int] = {"qpsk": 2, "16qam": 4, "64qam": 6, "256qam": 8}

#: Channels :class:`LinkSimulator` accepts.
LINK_CHANNELS: tuple[str, ...] = (
    "awgn",
    "rayleigh",
    "rayleigh-block",
    "tdl-a",
    "tdl-b",
    "tdl-c",
    "tdl-d",
    "tdl-e",
    "cdl-a",
    "cdl-b",
    "cdl-c",
    "cdl-d",
    "cdl-e",
)


@dataclass(frozen=True)
class LinkConfig:
    """One code + modulation choice.

    :param k: information bits per code block (12..8448 for 5G LDPC)
    :param n: coded bits per code block; must be a multiple of the bits per symbol
    :param modulation: one of :data:`MODULATIONS`
    :param coded: ``False`` sends the bits uncoded (then ``k == n``), for calibration
    :param name: label used in reports
    """

    k: int
    n: int
    modulation: str = "qpsk"
    coded: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        if self.modulation not in MODULATIONS:
            raise ValueError(f"unknown modulation {self.modulation!r}; choose one of {sorted(MODULATIONS)}")
        if self.k <= 0 or self.n <= 0:
            raise ValueError(f"k and n must be positive (got k={self.k}, n={self.n})")
        if self.n % self.bits_per_symbol:
            raise ValueError(f"n={self.n} is not a multiple of {self.bits_per_symbol} bits per symbol")
        if self.coded:
            if not 12 <= self.k <= 8448:
                raise ValueError(f"5G LDPC needs 12 <= k <= 8448 (got k={self.k})")
            if self.n <= self.k:
                raise ValueError(f"code rate must be < 1 (got k={self.k}, n={self.n})")
        elif self.k != self.n:
            raise ValueError("an uncoded link has k == n")

    @classmethod
    def uncoded(cls, n: int, modulation: str = "qpsk") -> LinkConfig:
        """Bits straight onto symbols, ``n`` bits per block (for calibration against theory)."""
        return cls(k=n, n=n, modulation=modulation, coded=False, name=f"uncoded {modulation}")

    @property
    def bits_per_symbol(self) -> int:
        return MODULATIONS[self.modulation]

    @property
    def rate(self) -> float:
        return self.k / self.n

    @property
    def symbols_per_block(self) -> int:
        return self.n // self.bits_per_symbol

    @property
    def spectral_efficiency(self) -> float:
        """Information bits per channel symbol."""
        return self.rate * self.bits_per_symbol


#: The paper's table: design SNR (dB, Es/N0) -> (k, n, modulation).
PAPER_PRESETS: dict[float, LinkConfig] = {
    0.0: LinkConfig(3072, 9216, "qpsk", name="paper-0dB"),
    2.0: LinkConfig(4096, 8192, "qpsk", name="paper-2dB"),
    4.0: LinkConfig(6144, 9216, "qpsk", name="paper-4dB"),
    6.0: LinkConfig(6144, 8192, "qpsk", name="paper-6dB"),
    8.0: LinkConfig(4096, 8192, "16qam", name="paper-8dB"),
    10.0: LinkConfig(6144, 9216, "16qam", name="paper-10dB"),
}


def preset_for_design_snr(design_snr_db: float) -> LinkConfig:
    """The paper's preset for a design SNR: the entry with the largest SNR <= ``design_snr_db``.

    Below 0 dB the 0 dB entry (the most robust one) is returned.
    """
    if not math.isfinite(design_snr_db):
        raise ValueError(f"design SNR must be finite (got {design_snr_db})")
    eligible = [s for s in PAPER_PRESETS if s <= design_snr_db]
    return PAPER_PRESETS[max(eligible) if eligible else min(PAPER_PRESETS)]


def bytes_to_bits(payload: bytes) -> np.ndarray:
    """Bytes -> uint8 array of bits, most significant bit first."""
    return np.unpackbits(np.frombuffer(bytes(payload), dtype=np.uint8))


def bits_to_bytes(bits: np.ndarray) -> bytes:
    """Inverse of :func:`bytes_to_bits` (length must be a multiple of 8)."""
    bits = np.asarray(bits, dtype=np.uint8)
    if bits.size % 8:
        raise ValueError(f"{bits.size} bits is not a whole number of bytes")
    return np.packbits(bits).tobytes()


def qam_ber_awgn(snr_db: float, modulation: str = "qpsk") -> float:
    """Closed-form uncoded bit error rate of Gray QPSK over AWGN at Es/N0 = ``snr_db``.

    QPSK: ``Q(sqrt(Es/N0))``. Only QPSK is exact; other orders are not provided.
    """
    if modulation != "qpsk":
        raise ValueError("closed form provided for qpsk only")
    es_n0 = 10.0 ** (snr_db / 10.0)
    return 0.5 * math.erfc(math.sqrt(es_n0) / math.sqrt(2.0))


@dataclass
class LinkResult:
    """What came out of one :meth:`LinkSimulator.run_bits` call."""

    config: LinkConfig
    channel: str
    snr_db: float
    bits: np.ndarray  #: decoded payload bits (same length as the input)
    num_bits: int
    bit_errors: int
    num_blocks: int
    block_errors: int
    num_channel_symbols: int
    tx_symbols: np.ndarray | None = field(default=None, repr=False)  #: [num_blocks, symbols_per_block]
    rx_symbols: np.ndarray | None = field(default=None, repr=False)  #: equalised, same shape

    @property
    def ber(self) -> float:
        return self.bit_errors / self.num_bits if self.num_bits else 0.0

    @property
    def bler(self) -> float:
        return self.block_errors / self.num_blocks if self.num_blocks else 0.0

    @property
    def payload(self) -> bytes:
        """The decoded bits as bytes (only meaningful for byte payloads)."""
        return bits_to_bytes(self.bits)

    def summary(self) -> dict:
        c = self.config
        return {
            "k": c.k,
            "n": c.n,
            "modulation": c.modulation,
            "coded": c.coded,
            "channel": self.channel,
            "snr_db": self.snr_db,
            "num_bits": self.num_bits,
            "bit_errors": self.bit_errors,
            "ber": self.ber,
            "num_blocks": self.num_blocks,
            "block_errors": self.block_errors,
            "bler": self.bler,
            "num_channel_symbols": self.num_channel_symbols,
        }


class LinkSimulator:
    """Sends bit payloads through LDPC + QAM + a channel with Sionna.

    :param config: code and modulation (:class:`LinkConfig`)
    :param channel: one of :data:`LINK_CHANNELS`
    :param num_iter: LDPC belief-propagation iterations
    :param batch_blocks: code blocks processed per tensor batch (memory bound)
    :param delay_spread: RMS delay spread for ``tdl-*`` and ``cdl-*`` [s]
    :param doppler: maximum Doppler shift for ``tdl-*`` and ``cdl-*`` [Hz]
    :param subcarrier_spacing: OFDM subcarrier spacing for ``tdl-*`` and ``cdl-*`` [Hz]
    :param num_subcarriers: OFDM subcarriers used per symbol for ``tdl-*`` and ``cdl-*``
    :param carrier_frequency: carrier [Hz]; converts ``doppler`` to the UT speed (cancels out for SISO)
    """

    def __init__(
        self,
        config: LinkConfig,
        channel: str = "awgn",
        *,
        num_iter: int = 20,
        batch_blocks: int = 64,
        delay_spread: float = 300e-9,
        doppler: float = 10.0,
        subcarrier_spacing: float = 30e3,
        num_subcarriers: int = 792,
        carrier_frequency: float = 3.5e9,
    ) -> None:
        from sionna.phy.channel import AWGN
        from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
        from sionna.phy.mapping import Demapper, Mapper

        if channel not in LINK_CHANNELS:
            raise ValueError(f"unknown link channel {channel!r}; choose one of {', '.join(LINK_CHANNELS)}")
        if batch_blocks <= 0 or num_iter < 0:
            raise ValueError("batch_blocks must be > 0 and num_iter >= 0")
        if delay_spread < 0 or doppler < 0 or subcarrier_spacing <= 0 or num_subcarriers <= 0:
            raise ValueError("delay_spread and doppler must be >= 0, subcarrier_spacing and num_subcarriers > 0")
        if not (math.isfinite(carrier_frequency) and 1e8 <= carrier_frequency <= 1e12):
            raise ValueError(f"carrier frequency must be in 100 MHz .. 1 THz (got {carrier_frequency:g} Hz)")
        self.config = config
        self.channel = channel
        self.batch_blocks = int(batch_blocks)
        bps = config.bits_per_symbol
        if config.coded:
            self._encoder = LDPC5GEncoder(config.k, config.n, num_bits_per_symbol=bps)
            self._decoder = LDPC5GDecoder(self._encoder, num_iter=int(num_iter), hard_out=True)
        self._mapper = Mapper("qam", bps)
        self._demapper = Demapper("app", "qam", bps)
        self._awgn = AWGN()
        self._tdl = None
        if channel.startswith(("tdl-", "cdl-")):
            from sionna.phy.channel import subcarrier_frequencies
            from sionna.phy.channel.tr38901 import TDL

            if channel.startswith("cdl-"):
                from lgvsc.channels.cdl import make_sionna_cdl

                # Same call signature and output layout as TDL: (batch, time steps, rate) -> a, tau.
                self._tdl = make_sionna_cdl(channel[-1].upper(), delay_spread, carrier_frequency, doppler)
            else:
                speed = doppler * 299792458.0 / carrier_frequency
                self._tdl = TDL(
                    channel[-1].upper(), delay_spread=delay_spread, carrier_frequency=carrier_frequency,
                    min_speed=speed, max_speed=speed,
                )
            self._frequencies = subcarrier_frequencies(num_subcarriers, subcarrier_spacing)
            self._num_subcarriers = int(num_subcarriers)
            # OFDM symbol period including a 7 % cyclic prefix (NR normal CP).
            self._ofdm_symbol_rate = subcarrier_spacing / 1.07

    # -- channel ---------------------------------------------------------------------------------
    def _fading(self, nb: int, ns: int) -> torch.Tensor | None:
        """Per-symbol complex channel gains [nb, ns], or None for AWGN."""
        from sionna.phy.utils import complex_normal

        if self.channel == "awgn":
            return None
        if self.channel == "rayleigh":
            return complex_normal((nb, ns))
        if self.channel == "rayleigh-block":
            return complex_normal((nb, 1)).expand(nb, ns)
        from sionna.phy.channel import cir_to_ofdm_channel

        f = self._num_subcarriers
        n_ofdm = -(-ns // f)
        a, tau = self._tdl(nb, n_ofdm, self._ofdm_symbol_rate)
        # Mean tap powers sum to one, so the average gain is one; no per-block normalisation.
        h = cir_to_ofdm_channel(self._frequencies, a, tau, normalize=False)  # [nb,1,1,1,1,T,F]
        return h.reshape(nb, n_ofdm * f)[:, :ns]

    # -- simulation ------------------------------------------------------------------------------
    def run_bytes(self, payload: bytes, snr_db: float, *, seed: int | None = None,
                  return_symbols: bool = False) -> LinkResult:
        """Send a byte payload; ``result.payload`` holds the decoded bytes."""
        return self.run_bits(bytes_to_bits(payload), snr_db, seed=seed, return_symbols=return_symbols)

    def run_bits(self, bits: np.ndarray, snr_db: float, *, seed: int | None = None,
                 return_symbols: bool = False) -> LinkResult:
        """Send ``bits`` (0/1 array) at channel Es/N0 ``snr_db``.

        ``seed`` (if given) sets :attr:`sionna.phy.config.seed`, Sionna's global
        random state, so the same seed gives the same noise and fading.
        """
        from sionna.phy import config as sn_config

        bits = np.asarray(bits, dtype=np.uint8).ravel()
        if bits.size and bits.max() > 1:
            raise ValueError("bits must be 0 or 1")
        if not math.isfinite(snr_db):
            raise ValueError(f"SNR must be finite (got {snr_db})")
        if seed is not None:
            sn_config.seed = int(seed)
        cfg = self.config
        num_blocks = max(1, -(-bits.size // cfg.k))
        padded = np.zeros(num_blocks * cfg.k, dtype=np.float32)
        padded[: bits.size] = bits
        blocks = torch.from_numpy(padded.reshape(num_blocks, cfg.k))
        no = 10.0 ** (-snr_db / 10.0)
        decoded = torch.empty_like(blocks)
        tx_all, rx_all = [], []
        with torch.no_grad():
            for start in range(0, num_blocks, self.batch_blocks):
                u = blocks[start : start + self.batch_blocks]
                c = self._encoder(u) if cfg.coded else u
                x = self._mapper(c)  # [nb, n / bps]
                h = self._fading(x.shape[0], x.shape[1])
                if h is None:
                    y = self._awgn(x, no)
                    x_eq, no_eff = y, torch.full(x.shape, no, dtype=torch.float32)
                else:
                    y = self._awgn(h * x, no)
                    g = h.abs().square().clamp_min(1e-12)
                    x_eq, no_eff = y * h.conj() / g, no / g
                llr = self._demapper(x_eq, no_eff)
                decoded[start : start + u.shape[0]] = (
                    self._decoder(llr) if cfg.coded else (llr > 0).to(torch.float32)
                )
                if return_symbols:
                    tx_all.append(x.numpy().astype(np.complex64))
                    rx_all.append(x_eq.numpy().astype(np.complex64))
        dec = decoded.numpy().astype(np.uint8)
        block_errors = int(np.any(dec != blocks.numpy().astype(np.uint8), axis=1).sum())
        out_bits = dec.ravel()[: bits.size]
        return LinkResult(
            config=cfg,
            channel=self.channel,
            snr_db=float(snr_db),
            bits=out_bits,
            num_bits=int(bits.size),
            bit_errors=int(np.count_nonzero(out_bits != bits)),
            num_blocks=num_blocks,
            block_errors=block_errors,
            num_channel_symbols=num_blocks * cfg.symbols_per_block,
            tx_symbols=np.concatenate(tx_all) if return_symbols else None,
            rx_symbols=np.concatenate(rx_all) if return_symbols else None,
        )
