# SPDX-License-Identifier: GPL-3.0-or-later
"""Channel bandwidth ratio (CBR): the paper's definition and what a real PHY spends.

* **Paper CBR** = channel symbols / (C·H·W·F): the semantic payload bits,
  coded at rate ``R`` (or in whole LDPC blocks of ``(k, n)``) and mapped onto
  ``b`` bits per complex symbol, over the number of source values
  (C = 3 colour channels, H×W pixels, F frames). No headers, no pilots.
* **On-air CBR** = complex baseband samples the PHY transmits / (C·H·W·F),
  counting everything a burst costs: our PDU header, the PHY CRC, sync and
  header OFDM symbols, pilot and guard carriers, the cyclic prefix, padding of
  the last OFDM symbol and the gap between bursts. :class:`PhyDescription`
  defaults to GNU Radio's stock ``digital.ofdm_tx`` (see docs/PROTOCOL.md and
  docs/PHY.md).

Pure Python (no numpy/torch), so any report can import it.

Example::

    >>> r = account_stream(stream, modulation="qpsk", code_rate=0.5)
    >>> r.cbr_paper, r.cbr_on_air
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from lgvsc.packets import HEADER_SIZE, packetize
from lgvsc.stream import SemanticStream, VideoInfo
from lgvsc.wire import stream_to_bytes

__all__ = [
    "OFDM_MCS",
    "OFDM_MCS_NAMES",
    "OFDM_POLAR_N",
    "PSK_MCS_NAMES",
    "ldpc_coded_bits",
    "MODULATION_BITS",
    "PaperPreset",
    "PAPER_PRESETS",
    "paper_preset",
    "coded_bits",
    "channel_symbols",
    "source_values",
    "cbr",
    "cbr_for_bits",
    "payload_bits_for_cbr",
    "encoder_target_cbr",
    "PhyDescription",
    "CbrReport",
    "account_pdus",
    "account_stream",
]

#: Modulation name -> bits per complex symbol.
MODULATION_BITS: dict[str, int] = {"bpsk": 1, "qpsk": 2, "8psk": 3, "16qam": 4, "64qam": 6, "256qam": 8}


def _bps(modulation: str | int) -> int:
    if isinstance(modulation, int):
        if modulation < 1:
            raise ValueError(f"bits per symbol must be >= 1 (got {modulation})")
        return modulation
    try:
        return MODULATION_BITS[modulation.lower()]
    except KeyError:
        raise ValueError(
            f"unknown modulation {modulation!r}; choose one of {sorted(MODULATION_BITS)}"
        ) from None


@dataclass(frozen=True)
class PaperPreset:
    """One row of the paper's LDPC/QAM table: a ``(k, n)`` LDPC code and a modulation per SNR."""

    snr_db: float
    k: int
    n: int
    modulation: str

    @property
    def code_rate(self) -> float:
        return self.k / self.n

    @property
    def bits_per_symbol(self) -> int:
        return MODULATION_BITS[self.modulation]


#: The paper's presets (DESIGN.md §1); the same table as :data:`lgvsc.linksim.PAPER_PRESETS`.
PAPER_PRESETS: tuple[PaperPreset, ...] = (
    PaperPreset(0.0, 3072, 9216, "qpsk"),
    PaperPreset(2.0, 4096, 8192, "qpsk"),
    PaperPreset(4.0, 6144, 9216, "qpsk"),
    PaperPreset(6.0, 6144, 8192, "qpsk"),
    PaperPreset(8.0, 4096, 8192, "16qam"),
    PaperPreset(10.0, 6144, 9216, "16qam"),
)


def paper_preset(snr_db: float) -> PaperPreset:
    """The preset with the largest SNR <= ``snr_db`` (the 0 dB one below 0 dB)."""
    if not math.isfinite(snr_db):
        raise ValueError(f"SNR must be finite (got {snr_db})")
    eligible = [p for p in PAPER_PRESETS if p.snr_db <= snr_db]
    return max(eligible, key=lambda p: p.snr_db) if eligible else PAPER_PRESETS[0]


def coded_bits(payload_bits: int, code_rate: float = 1.0, block: tuple[int, int] | None = None) -> int:
    """Bits after channel coding.

    With ``block=(k, n)`` the payload is cut into ``ceil(bits / k)`` code
    blocks of ``n`` bits each (the last one zero-padded, as an LDPC encoder
    does); otherwise ``ceil(bits / code_rate)``.
    """
    if payload_bits < 0:
        raise ValueError("payload_bits must be >= 0")
    if block is not None:
        k, n = block
        if not 0 < k <= n:
            raise ValueError(f"invalid code block (k={k}, n={n})")
        return -(-payload_bits // k) * n
    if not 0 < code_rate <= 1:
        raise ValueError(f"code rate must be in (0, 1] (got {code_rate})")
    # round() first so that e.g. 1000 / 0.5 is not pushed up by float error.
    return math.ceil(round(payload_bits / code_rate, 9))


def channel_symbols(
    payload_bits: int,
    modulation: str | int,
    code_rate: float = 1.0,
    block: tuple[int, int] | None = None,
) -> int:
    """Complex channel symbols carrying ``payload_bits`` (the paper's numerator)."""
    return -(-coded_bits(payload_bits, code_rate, block) // _bps(modulation))


def source_values(width: int, height: int, num_frames: int, channels: int = 3) -> int:
    """C·H·W·F, the paper's denominator."""
    if min(width, height, num_frames, channels) <= 0:
        raise ValueError("width, height, frames and channels must be positive")
    return channels * height * width * num_frames


def cbr(symbols: int, width: int, height: int, num_frames: int, channels: int = 3) -> float:
    """Channel bandwidth ratio = ``symbols`` / (C·H·W·F)."""
    return symbols / source_values(width, height, num_frames, channels)


def cbr_for_bits(
    payload_bits: int,
    video: VideoInfo,
    modulation: str | int = "qpsk",
    code_rate: float = 0.5,
    block: tuple[int, int] | None = None,
    channels: int = 3,
) -> float:
    """The paper's CBR of ``payload_bits`` describing ``video``."""
    sym = channel_symbols(payload_bits, modulation, code_rate, block)
    return cbr(sym, video.width, video.height, video.num_frames, channels)


def payload_bits_for_cbr(
    target_cbr: float,
    width: int,
    height: int,
    num_frames: int,
    modulation: str | int = "qpsk",
    code_rate: float = 0.5,
    block: tuple[int, int] | None = None,
    channels: int = 3,
) -> int:
    """The largest payload (bits) whose paper CBR does not exceed ``target_cbr``.

    The inverse of :func:`cbr_for_bits`, e.g. for an encoder's byte budget.
    """
    if not target_cbr >= 0:
        raise ValueError(f"target CBR must be >= 0 (got {target_cbr})")
    max_symbols = math.floor(target_cbr * source_values(width, height, num_frames, channels))
    bps = _bps(modulation)
    if block is not None:
        k, n = block
        if not 0 < k <= n:
            raise ValueError(f"invalid code block (k={k}, n={n})")
        return (max_symbols * bps // n) * k
    bits = math.floor(round(max_symbols * bps * code_rate, 9))
    # Float rounding: step down until the forward count fits.
    while bits > 0 and channel_symbols(bits, bps, code_rate) > max_symbols:
        bits -= 1
    return bits


#: The GNU Radio OFDM PHY's MCS table (gr-lgvsc ``phy_common.MCS``, docs/PHY.md), mirrored because the ML
#: side cannot import GNU Radio: name -> (code, modulation or None = the PHY's payload modulation, code rate).
#: "none"/"cc" are the two earlier modes; the paper presets are the paper's modulation and code rate with
#: the 5G NR LDPC code (gr-lgvsc/lib/ldpc_5g.cc, the code of Sionna's LDPC5GEncoder; segmentation and coded
#: length: :func:`ldpc_coded_bits`).  `lgvsc loopback --mcs` also takes "auto".  tests/test_accounting.py
#: checks this table and the burst length against the radio side.
OFDM_MCS: dict[str, tuple[str, str | None, float]] = {
    "none": ("none", None, 1.0),
    "cc": ("cc", None, 0.5),
    "paper-0dB": ("ldpc", "qpsk", 1 / 3),
    "paper-2dB": ("ldpc", "qpsk", 1 / 2),
    "paper-4dB": ("ldpc", "qpsk", 2 / 3),
    "paper-6dB": ("ldpc", "qpsk", 3 / 4),
    "paper-8dB": ("ldpc", "16qam", 1 / 2),
    "paper-10dB": ("ldpc", "16qam", 2 / 3),
}
OFDM_MCS_NAMES = tuple(OFDM_MCS)
#: The MCSs the single-carrier PSK PHY carries (gr-lgvsc ``psk_pdu_tx.PSK_MCS_NAMES``, docs/PHY.md): the
#: OFDM table's names whose modulation is BPSK/QPSK or the PHY's own (none/cc use psk_pdu_tx's payload_mod,
#: BPSK by default).  `--mcs auto` on PSK caps at the last one.  tests/test_accounting.py checks it.
PSK_MCS_NAMES: tuple[str, ...] = ("none", "cc", "paper-0dB", "paper-2dB", "paper-4dB", "paper-6dB")
_PSK_PREAMBLE_SYMBOLS, _PSK_ACCESS_CODE_SYMBOLS, _PSK_HEADER_SYMBOLS = 64, 64, 4 * 112  # lib/psk_common.h
OFDM_POLAR_N = 2048  # phy_common.POLAR_N


def ldpc_coded_bits(payload_bits: int, code_rate: float) -> int:
    """Coded bits of a ``payload_bits`` PDU in the OFDM PHY's 5G NR LDPC (gr-lgvsc ``phy_common.ldpc_coded_bits``
    / C++ ``ldpc_5g::coded_bits``): base graph by the 5G rule (BG2 for <= 292 bits, <= 3824 bits at rate
    <= 0.67, or rate <= 1/4; else BG1), ``C = ceil(B / Kcb)`` segments (Kcb 8448 / 3840) of ``B / C`` bits,
    each sending ``ceil(k / rate)`` bits (rate as a fraction num/den, den <= 64).  The rate actually used is
    ``payload_bits / ldpc_coded_bits(...)`` (the nominal rate up to one bit per segment)."""
    from fractions import Fraction

    f = Fraction(code_rate).limit_denominator(64)
    if not 0 < f <= 1 or payload_bits < 1:
        raise ValueError(f"bad LDPC rate {code_rate} or size {payload_bits}")
    num, den = f.numerator, f.denominator
    r = num / den
    bg2 = payload_bits <= 292 or (payload_bits <= 3824 and r <= 0.67) or r <= 0.25
    kcb = 3840 if bg2 else 8448
    c = -(-payload_bits // kcb)
    return sum(-(-(payload_bits // c + (i < payload_bits % c)) * den // num) for i in range(c))
# The burst PHY's coded header: >= 6 copies of the rate-1/2 CC-coded 56-bit header, QPSK (phy_common).
_OFDM_HEADER_CODED_BITS = 6 * 112


def encoder_target_cbr(target_cbr: float, modulation: str | int, code_rate: float) -> float:
    """The encoder's ``target_cbr`` (its units: QPSK rate 1/2, one bit per channel symbol) whose byte budget
    is the payload of paper CBR ``target_cbr`` at ``modulation`` and ``code_rate``: scaled by the bits per
    channel symbol (16-QAM rate 2/3 carries 8/3 times the bytes of QPSK rate 1/2), whatever the clip."""
    if not 0 < code_rate <= 1:
        raise ValueError(f"code rate must be in (0, 1] (got {code_rate})")
    return target_cbr * _bps(modulation) * code_rate


@dataclass(frozen=True)
class PhyDescription:
    """What one burst of a packet PHY costs in complex baseband samples.

    Defaults are GNU Radio 3.10's ``digital.ofdm_tx`` defaults: 64-point FFT,
    16-sample cyclic prefix, 48 data + 4 pilot carriers (12 guard/DC), two
    sync-word symbols (Schmidl & Cox), one BPSK header symbol, CRC32 appended
    by the PHY, no FEC, no rolloff — except the payload, which is QPSK as in
    our OFDM PHY (``bps_payload=2``; stock ``ofdm_tx`` defaults to BPSK, pass
    ``bits_per_symbol=1`` for it). A test runs the real ``ofdm_tx`` and checks
    :meth:`samples_per_pdu` against the samples it emits, sample for sample.

    :param fft_len: FFT size = samples per OFDM symbol before the CP
    :param cp_len: cyclic prefix samples per OFDM symbol
    :param data_carriers: carriers carrying payload bits
    :param pilot_carriers: pilot carriers (cost is already inside ``fft_len``;
        kept for reports and consistency checks)
    :param sync_symbols: preamble OFDM symbols per burst
    :param header_symbols: PHY-header OFDM symbols per burst
    :param bits_per_symbol: payload bits per data carrier (QPSK 2)
    :param code_rate: FEC rate on the payload (1.0 = uncoded)
    :param fec_tail_bits: extra coded bits per burst (e.g. CC termination)
    :param mtu: largest PDU the PHY accepts, our header included
    :param pdu_header_bytes: our PDU header (:data:`lgvsc.packets.HEADER_SIZE`)
    :param crc_bytes: bytes the PHY appends per burst (ofdm_tx: CRC32)
    :param gap_samples: silent samples between bursts
    :param sample_rate: samples/s, only used for air time
    :param preamble_samples: samples per burst before the OFDM symbols counted by ``sync_symbols`` and
        ``header_symbols`` (the burst PHY's CP + 4 training symbols share one cyclic prefix)
    :param polar_n: > 0: the payload is coded in whole polar blocks of ``polar_n`` bits carrying
        ``round(polar_n * code_rate)`` bits each (gr-fec polar, the last block zero-padded)
    :param ldpc: the payload is coded by the OFDM PHY's 5G NR LDPC at ``code_rate`` (:func:`ldpc_coded_bits`)
    """

    name: str = "gr-digital ofdm_tx defaults"
    fft_len: int = 64
    cp_len: int = 16
    data_carriers: int = 48
    pilot_carriers: int = 4
    sync_symbols: int = 2
    header_symbols: int = 1
    bits_per_symbol: int = 2
    code_rate: float = 1.0
    fec_tail_bits: int = 0
    mtu: int = 1500
    pdu_header_bytes: int = HEADER_SIZE
    crc_bytes: int = 4
    gap_samples: int = 0
    sample_rate: float = 1e6
    preamble_samples: int = 0
    polar_n: int = 0
    ldpc: bool = False

    def __post_init__(self) -> None:
        if self.fft_len < 1 or self.cp_len < 0:
            raise ValueError("fft_len must be >= 1 and cp_len >= 0")
        if not 1 <= self.data_carriers + self.pilot_carriers <= self.fft_len:
            raise ValueError("data + pilot carriers must be between 1 and fft_len")
        if self.data_carriers < 1 or self.bits_per_symbol < 1:
            raise ValueError("need at least one data carrier and one bit per symbol")
        if not 0 < self.code_rate <= 1:
            raise ValueError("code_rate must be in (0, 1]")
        if (
            min(self.sync_symbols, self.header_symbols, self.crc_bytes, self.gap_samples, self.fec_tail_bits,
                self.preamble_samples, self.polar_n)
            < 0
        ):
            raise ValueError("symbol, byte and sample counts must be >= 0")
        if self.mtu <= self.pdu_header_bytes:
            raise ValueError("mtu must exceed the PDU header")

    @classmethod
    def ofdm_pdu_tx(
        cls,
        mtu: int = 1500,
        gap: int = 1024,
        fec_mode: str = "none",
        payload_mod: str = "qpsk",
        fft_len: int = 64,
        cp_len: int = 16,
        data_carriers: int = 48,
        pilot_carriers: int = 4,
        sample_rate: float = 1e6,
        mcs: str = "",
    ) -> PhyDescription:
        """Our ``lgvsc_ofdm_pdu_tx`` burst PHY (docs/PHY.md) sending ``mcs`` (default: the one ``fec_mode`` maps onto).

        Mirrors gr-lgvsc ``phy_common.ofdm_burst_samples``: CRC32, the MCS's code (none, rate-1/2
        tail-biting CC, or 5G NR LDPC segments), one cyclic prefix + 4 training symbols, the coded
        header's QPSK symbols, the payload symbols, ``gap`` zero samples after every burst.
        """
        if fec_mode not in ("none", "cc"):
            raise ValueError(f"unknown fec mode {fec_mode!r}; choose 'none' or 'cc'")
        name = mcs or fec_mode
        if name not in OFDM_MCS:
            raise ValueError(f"unknown MCS {name!r}; choose one of {', '.join(OFDM_MCS_NAMES)}")
        code, mod, rate = OFDM_MCS[name]
        mod = mod or payload_mod
        return cls(
            name=f"lgvsc ofdm_pdu_tx (mcs {name}: {mod}, {code} r={rate:.3g})",
            fft_len=fft_len,
            cp_len=cp_len,
            data_carriers=data_carriers,
            pilot_carriers=pilot_carriers,
            sync_symbols=0,
            header_symbols=-(-_OFDM_HEADER_CODED_BITS // (2 * data_carriers)),
            bits_per_symbol=_bps(mod),
            code_rate=rate,
            mtu=mtu,
            gap_samples=gap,
            sample_rate=sample_rate,
            preamble_samples=cp_len + 4 * fft_len,
            polar_n=OFDM_POLAR_N if code == "polar" else 0,
            ldpc=code == "ldpc",
        )

    def sample_snr_db(self, esn0_db: float) -> float:
        """Per-sample SNR (dB) of this PHY's unit-power bursts whose data subcarriers have Es/N0 ``esn0_db``.

        The SNR convention of docs/PHY.md ("One SNR convention": ``lgvsc loopback --snr``, ``link_runner
        --snr``): Es/N0 per data subcarrier; the noise of ``fft_len`` samples spreads over ``fft_len`` bins,
        the signal over the data + pilot carriers (gr-lgvsc ``phy_common.esn0_to_sample_snr_db``; 0.90 dB
        for 64-point FFTs with 52 active carriers).
        """
        return esn0_db - 10 * math.log10(self.fft_len / (self.data_carriers + self.pilot_carriers))

    @classmethod
    def psk_pdu_tx(
        cls,
        mtu: int = 1500,
        gap: int = 256,
        fec_mode: str = "none",
        payload_mod: str = "bpsk",
        sps: int = 2,
        sample_rate: float = 1e6,
        mcs: str = "",
    ) -> PhyDescription:
        """Our single-carrier ``lgvsc_psk_pdu_tx`` (docs/PHY.md) sending ``mcs`` (one of :data:`PSK_MCS_NAMES`).

        Mirrors gr-lgvsc ``psk_burst_mod::burst_len`` x ``sps``: CRC32, the MCS's code (as the OFDM PHY),
        64 preamble + 64 access-code + 448 coded-header symbols, the payload symbols, ``ceil(gap / sps)``
        zero symbols; modelled as one "carrier" of ``sps`` samples per symbol.
        """
        if fec_mode not in ("none", "cc"):
            raise ValueError(f"unknown fec mode {fec_mode!r}; choose 'none' or 'cc'")
        name = mcs or fec_mode
        if name not in PSK_MCS_NAMES:
            raise ValueError(f"unknown PSK MCS {name!r}; choose one of {', '.join(PSK_MCS_NAMES)}")
        if sps < 2:
            raise ValueError(f"sps must be >= 2 (got {sps})")
        code, mod, rate = OFDM_MCS[name]
        mod = mod or payload_mod
        return cls(
            name=f"lgvsc psk_pdu_tx (mcs {name}: {mod}, {code} r={rate:.3g}, sps {sps})",
            fft_len=sps,
            cp_len=0,
            data_carriers=1,
            pilot_carriers=0,
            sync_symbols=0,
            header_symbols=_PSK_PREAMBLE_SYMBOLS + _PSK_ACCESS_CODE_SYMBOLS + _PSK_HEADER_SYMBOLS,
            bits_per_symbol=_bps(mod),
            code_rate=rate,
            mtu=mtu,
            gap_samples=-(-gap // sps) * sps,
            sample_rate=sample_rate,
            ldpc=code == "ldpc",
        )

    @property
    def samples_per_ofdm_symbol(self) -> int:
        return self.fft_len + self.cp_len

    @property
    def packet_overhead_bytes(self) -> int:
        """Bytes per PDU that are not semantic payload: our header + the PHY CRC."""
        return self.pdu_header_bytes + self.crc_bytes

    def payload_ofdm_symbols(self, pdu_bytes: int) -> int:
        """OFDM symbols carrying one PDU of ``pdu_bytes`` (our header included) plus the CRC."""
        info = (pdu_bytes + self.crc_bytes) * 8
        if self.polar_n:
            block = (int(round(self.polar_n * self.code_rate)), self.polar_n)
            bits = coded_bits(info, block=block) + self.fec_tail_bits
        elif self.ldpc:
            bits = ldpc_coded_bits(info, self.code_rate) + self.fec_tail_bits
        else:
            bits = coded_bits(info, self.code_rate) + self.fec_tail_bits
        return -(-bits // (self.data_carriers * self.bits_per_symbol))

    def samples_per_pdu(self, pdu_bytes: int) -> int:
        """Complex samples one burst carrying a PDU of ``pdu_bytes`` costs, gap included."""
        if not 0 < pdu_bytes <= self.mtu:
            raise ValueError(f"PDU of {pdu_bytes} bytes outside 1..{self.mtu}")
        n_sym = self.sync_symbols + self.header_symbols + self.payload_ofdm_symbols(pdu_bytes)
        return self.preamble_samples + n_sym * self.samples_per_ofdm_symbol + self.gap_samples

    def efficiency(self) -> float:
        """Semantic payload bits per complex sample for full-MTU PDUs."""
        return 8 * (self.mtu - self.pdu_header_bytes) / self.samples_per_pdu(self.mtu)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CbrReport:
    """Both CBRs for one transmission; every report prints these."""

    payload_bytes: int
    modulation: str
    code_rate: float
    channel_symbols: int
    cbr_paper: float
    num_pdus: int
    pdu_bytes: int
    on_air_samples: int
    cbr_on_air: float
    air_time_s: float
    phy: PhyDescription

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["phy"] = self.phy.to_dict()
        return d

    def summary(self) -> str:
        return (
            f"CBR (paper, {self.modulation} r={self.code_rate:g}): {self.cbr_paper:.3e} "
            f"[{self.payload_bytes} B -> {self.channel_symbols} symbols]; "
            f"on-air CBR ({self.phy.name}): {self.cbr_on_air:.3e} "
            f"[{self.num_pdus} PDUs, {self.on_air_samples} samples, {self.air_time_s:.3f} s]"
        )


def account_pdus(
    payload_bytes: int,
    pdu_sizes: Iterable[int],
    video: VideoInfo,
    modulation: str = "qpsk",
    code_rate: float = 0.5,
    block: tuple[int, int] | None = None,
    phy: PhyDescription | None = None,
    channels: int = 3,
) -> CbrReport:
    """Paper CBR of ``payload_bytes`` and on-air CBR of the PDUs actually sent."""
    phy = phy or PhyDescription()
    sizes = list(pdu_sizes)
    symbols = channel_symbols(payload_bytes * 8, modulation, code_rate, block)
    samples = sum(phy.samples_per_pdu(n) for n in sizes)
    denom = source_values(video.width, video.height, video.num_frames, channels)
    rate = block[0] / block[1] if block else code_rate
    return CbrReport(
        payload_bytes=payload_bytes,
        modulation=str(modulation),
        code_rate=rate,
        channel_symbols=symbols,
        cbr_paper=symbols / denom,
        num_pdus=len(sizes),
        pdu_bytes=sum(sizes),
        on_air_samples=samples,
        cbr_on_air=samples / denom,
        air_time_s=samples / phy.sample_rate,
        phy=phy,
    )


def account_stream(
    stream: SemanticStream,
    modulation: str = "qpsk",
    code_rate: float = 0.5,
    block: tuple[int, int] | None = None,
    phy: PhyDescription | None = None,
    header_every: int = 4,
    pdus: Iterable[bytes] | None = None,
) -> CbrReport:
    """Account a stream: paper CBR of its binary form, on-air CBR of its PDUs.

    ``pdus`` are the PDUs actually sent; by default the stream is packetised
    at ``phy.mtu`` with ``header_every``.
    """
    phy = phy or PhyDescription()
    payload = len(stream_to_bytes(stream))
    if pdus is None:
        pdus = packetize(stream, phy.mtu, header_every=header_every)
    return account_pdus(payload, (len(p) for p in pdus), stream.video, modulation, code_rate, block, phy)


