# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared pieces of the LGVSC PDU PHYs: parameter presets, FEC objects, CRC
blocks and the two message blocks every PHY uses (``pdu_guard`` on TX,
``rx_gate`` on RX live in their own files).

Everything that touches samples or bits is a stock gr-digital / gr-fec /
gr-pdu block; this module only chooses parameters.
"""

import contextlib
import fractions
import functools
import io
import math

from gnuradio import digital, fec, gr

__all__ = [
    "CARRIER_PRESETS",
    "CONSTELLATIONS",
    "CRC_LEN",
    "FEC_MODES",
    "MCS",
    "MCS_NAMES",
    "PAPER_MCS_SNR_DB",
    "POLAR_LIST",
    "POLAR_N",
    "esn0_to_sample_snr_db",
    "ldpc_coded_bits",
    "ldpc_rate",
    "mcs_for_snr",
    "ofdm_burst_samples",
    "ofdm_points",
    "ofdm_config",
    "resolve_mcs",
    "carrier_layout",
    "compiled",
    "coded_len",
    "const_rms",
    "constellation",
    "crc_append",
    "crc_check",
    "fec_decoder",
    "fec_encoder",
    "quiet_init",
    "reserve_buffers",
]

# Constellation name -> gr-digital constructor.  Soft-decision LUTs are
# generated for the coded (soft) receive path.
CONSTELLATIONS = {
    "bpsk": digital.constellation_bpsk,
    "qpsk": digital.constellation_qpsk,
    "8psk": digital.constellation_8psk,
    "16qam": digital.constellation_16qam,
}

CARRIER_PRESETS = ("wifi64", "scaled")

# "none": CRC only.  "cc": rate-1/2 K=7 convolutional code (CCSDS polynomials
# 109, 79), tail-biting so every PDU is a self-contained frame (gr-fec's
# async_decoder cannot use streaming mode), Viterbi decoding of soft symbols.
FEC_MODES = ("none", "cc")
_CC_K = 7
_CC_POLYS = [109, 79]

CRC_LEN = 4  # bytes of CRC-32 appended to every PDU before FEC

# --- The OFDM PHY's modulation-and-coding schemes (docs/PHY.md "MCS table") -------------
# name -> (code, modulation or None = the block's payload_mod, code rate).  The six paper
# presets are the paper's operating points (modulation, code rate); their FEC is the 5G NR
# LDPC of gr-lgvsc/lib/ldpc_5g.cc (the code of Sionna's LDPC5GEncoder; segmentation:
# ldpc_coded_bits), chosen over gr-fec's polar code (N = POLAR_N, SC-list POLAR_LIST, still
# accepted as code "polar") by measurement (bench/phy_fec.py, docs/PHY.md "FEC choice").
# "none" and "cc" are the two earlier modes.
POLAR_N = 2048
POLAR_LIST = 4
MCS = {
    "none": ("none", None, 1.0),
    "cc": ("cc", None, 0.5),
    "paper-0dB": ("ldpc", "qpsk", 1 / 3),
    "paper-2dB": ("ldpc", "qpsk", 1 / 2),
    "paper-4dB": ("ldpc", "qpsk", 2 / 3),
    "paper-6dB": ("ldpc", "qpsk", 3 / 4),
    "paper-8dB": ("ldpc", "16qam", 1 / 2),
    "paper-10dB": ("ldpc", "16qam", 2 / 3),
}
MCS_NAMES = tuple(MCS)
# The paper's SNR (Es/N0 per data subcarrier, dB) of each preset.
PAPER_MCS_SNR_DB = {"paper-0dB": 0.0, "paper-2dB": 2.0, "paper-4dB": 4.0, "paper-6dB": 6.0,
                    "paper-8dB": 8.0, "paper-10dB": 10.0}
_CODE_IDS = {"none": 0, "cc": 1, "polar": 2, "ldpc": 3}


def ldpc_rate(rate):
    """(numerator, denominator) of an LDPC MCS's code rate, as the C++ table takes it."""
    f = fractions.Fraction(rate).limit_denominator(64)
    if not 0 < f <= 1:
        raise ValueError(f"LDPC code rate {rate} outside (0, 1]")
    return f.numerator, f.denominator


def ldpc_coded_bits(nbits, rate):
    """Coded bits of a ``nbits``-bit PDU in the 5G NR LDPC of gr-lgvsc/lib/ldpc_5g.cc (its
    ``ldpc_5g::coded_bits``; qa_ldpc checks the two agree): base graph by the 5G rule, C =
    ceil(B / Kcb) segments of B/C bits (the first B mod C one more), ceil(k den / num) coded
    bits each."""
    num, den = ldpc_rate(rate)
    r = num / den
    bg2 = nbits <= 292 or (nbits <= 3824 and r <= 0.67) or r <= 0.25
    kcb = 3840 if bg2 else 8448
    c = -(-nbits // kcb)
    return sum(-(-(nbits // c + (i < nbits % c)) * den // num) for i in range(c))


def resolve_mcs(mcs, fec_mode):
    """The MCS a block uses: ``mcs`` when given, else the one ``fec_mode`` maps onto
    (``none`` -> ``none``, ``cc`` -> ``cc``).  ValueError names the parameter."""
    check_fec(fec_mode)
    if mcs in (None, ""):
        return fec_mode
    if mcs not in MCS:
        raise ValueError(f"unknown mcs {mcs!r}; choose one of {MCS_NAMES}")
    return mcs


def mcs_for_snr(snr_db):
    """``auto``: the highest paper preset whose SNR <= ``snr_db`` (paper-0dB below 0 dB)."""
    best = "paper-0dB"
    for name, snr in PAPER_MCS_SNR_DB.items():
        if snr <= snr_db:
            best = name
    return best


def polar_k(rate):
    return int(round(POLAR_N * rate))


def _polar_frozen(name):
    """Frozen bit positions from gr-fec's polar channel construction (Bhattacharyya bounds)."""
    from gnuradio.fec import polar
    _, mod, rate = MCS[name]
    # design SNR: about the per-bit SNR at the preset's operating point, >= 0 dB (gr-fec's
    # recommendation for N 2048, rate 1/2; measured better than -1.5 dB for rate 1/3)
    design = max(0.0, PAPER_MCS_SNR_DB[name] - 10 * math.log10(CONSTELLATIONS[mod]().bits_per_symbol()))
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per call
        info = polar.load_frozen_bits_info(True, "BEC", POLAR_N, polar_k(rate), design, 2)
    return [int(p) for p in info["positions"]]


@functools.cache
def _frozen_cached(name):
    return tuple(_polar_frozen(name))


def mod_id(name):
    """Index of a constellation in CONSTELLATIONS (the id the OFDM header carries)."""
    names = list(CONSTELLATIONS)
    if name not in names:
        raise ValueError(f"unknown constellation {name!r}; choose one of {sorted(CONSTELLATIONS)}")
    return names.index(name)


# Gray code per dimension for 16-QAM: bits (b0 b1) -> I, (b2 b3) -> Q, 00 01 11 10 -> -3 -1 1 3.
_GRAY4 = {0: -3, 1: -1, 3: 1, 2: 3}


def ofdm_burst_samples(nbytes, mcs, payload_mod="qpsk", fft_len=64, cp_len=16, carrier_preset="wifi64",
                       gap=1024):
    """Samples ofdm_pdu_tx sends for a PDU of ``nbytes`` (CRC excluded) in ``mcs``: CP + 4
    training symbols, the coded header's symbols, the payload symbols, ``gap`` zeros
    (the same formula as the C++ ofdm_burst_mod; qa_link_runner checks it sample for sample)."""
    code, mod, rate = MCS[mcs]
    occupied, _, _ = carrier_layout(carrier_preset, fft_len)
    n_data = len(occupied[0])
    bits = 8 * (nbytes + CRC_LEN)
    if code == "cc":
        coded = 2 * bits
    elif code == "polar":
        k = polar_k(rate)
        coded = -(-bits // k) * POLAR_N
    elif code == "ldpc":
        coded = ldpc_coded_bits(bits, rate)
    else:
        coded = bits
    bps = CONSTELLATIONS[mod or payload_mod]().bits_per_symbol()
    hdr_syms = -(-6 * 112 // (2 * n_data))  # >= 6 copies of the CC-coded 56-bit header, QPSK
    pld_syms = -(-coded // (n_data * bps))
    return cp_len + 4 * fft_len + (hdr_syms + pld_syms) * (fft_len + cp_len) + gap


def esn0_to_sample_snr_db(esn0_db, fft_len=64, carrier_preset="wifi64"):
    """Per-sample SNR of a unit-power OFDM burst whose data subcarriers have Es/N0 ``esn0_db``:
    the noise of fft_len samples spreads over fft_len bins, the signal over the active ones."""
    occupied, pilots, _ = carrier_layout(carrier_preset, fft_len)
    return esn0_db - 10 * math.log10(fft_len / (len(occupied[0]) + len(pilots[0])))


def ofdm_points(name):
    """Unit-power points of the OFDM PHY's constellation ``name``, index = bits MSB first.

    gr-digital's BPSK/QPSK/8PSK points (Gray coded; sent as points / rms).  16-QAM: the
    802.11-style per-dimension Gray mapping instead of gr-digital's ``constellation_16qam``
    ordering, whose labels are not Gray per dimension (bit-interleaved coded modulation with
    it failed at 9 dB where the Gray mapping delivers; see docs/PHY.md).
    """
    if name == "16qam":
        return [complex(_GRAY4[i >> 2], _GRAY4[i & 3]) / math.sqrt(10) for i in range(16)]
    c = constellation(name)
    rms = const_rms(c)
    return [complex(p) / rms for p in c.points()]


def compiled():
    """The pybind11 module of the C++ blocks: next to this file when built/installed, else the
    installed gnuradio.lgvsc's (this source tree imported as ``lgvsc``, e.g. by a test peer)."""
    try:
        from . import lgvsc_python
    except ImportError:
        from gnuradio.lgvsc import lgvsc_python
    return lgvsc_python


def ofdm_config(fft_len, cp_len, carrier_preset, mtu):
    """The C++ blocks' shared configuration (lgvsc_python.ofdm_phy_config)."""
    ofdm_phy_config = compiled().ofdm_phy_config
    occupied, pilots, pilot_syms = carrier_layout(carrier_preset, fft_len)
    cfg = ofdm_phy_config()
    cfg.fft_len, cfg.cp_len = int(fft_len), int(cp_len)
    cfg.occupied = [int(k) for k in occupied[0]]
    cfg.pilots = [int(k) for k in pilots[0]]
    cfg.pilot_symbols = [complex(v) for v in pilot_syms[0]]
    cfg.constellations = [ofdm_points(name) for name in CONSTELLATIONS]
    names, codes, mods, ns, ks, frozen = [], [], [], [], [], []
    for name, (code, mod, rate) in MCS.items():
        names.append(name)
        codes.append(_CODE_IDS[code])
        mods.append(-1 if mod is None else mod_id(mod))
        if code == "polar":
            ns.append(POLAR_N)
            ks.append(polar_k(rate))
            frozen.append(list(_frozen_cached(name)))
        elif code == "ldpc":  # the C++ table takes the rate as numerator (k) / denominator (n)
            num, den = ldpc_rate(rate)
            ns.append(den)
            ks.append(num)
            frozen.append([])
        else:
            ns.append(0)
            ks.append(0)
            frozen.append([])
    cfg.mcs_names, cfg.mcs_code, cfg.mcs_mod = names, codes, mods
    cfg.mcs_n, cfg.mcs_k, cfg.mcs_frozen = ns, ks, frozen
    cfg.polar_list = POLAR_LIST
    cfg.header_mod = mod_id("qpsk")
    cfg.max_bytes = int(mtu) + CRC_LEN
    return cfg

# Header counter width of gr-digital's packet_header_default/ofdm: 12 bits.
HEADER_LEN_MAX = 4095


def reserve_buffers(blocks_and_items):
    """Give tagged-stream blocks room for a whole burst.

    gr-digital's tagged-stream blocks need one complete packet in their
    output buffer; the default (8192 items) is too small for large MTUs.
    ``blocks_and_items`` is an iterable of ``(block, items_per_packet)``.
    """
    for blk, items in blocks_and_items:
        # The per-port overload: the one-argument form is silently ineffective
        # for some templated blocks (e.g. chunks_to_symbols_bc in 3.10.5).
        for port in range(max(1, blk.output_signature().min_streams())):
            blk.set_min_output_buffer(port, max(8192, 2 * int(items)))


def constellation(name):
    """Return a gr-digital constellation object for ``name`` (see CONSTELLATIONS)."""
    try:
        return CONSTELLATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown constellation {name!r}; choose one of {sorted(CONSTELLATIONS)}") from None


def const_rms(const):
    """RMS amplitude of a gr-digital constellation's points.

    gr-digital 3.10's ``constellation_qpsk`` has points +-sqrt(2) +-sqrt(2)j
    (|s|^2 = 4) while the OFDM preamble, pilots and BPSK header have unit power:
    mapped as they are, the payload sat 6 dB above the symbols the channel is
    estimated from, costing ~5 dB of effective SNR.  The OFDM PHY maps points / rms
    and the receiver scales the equalised soft symbols back by rms before the
    constellation's (scale-dependent) soft decoder.
    """
    points = const.points()
    return (sum(abs(p) ** 2 for p in points) / len(points)) ** 0.5


def carrier_layout(preset, fft_len):
    """Return ``(occupied_carriers, pilot_carriers, pilot_symbols)`` for a preset.

    ``wifi64`` is gr-digital's default (802.11a-like) layout and needs fft_len 64.
    ``scaled`` keeps the same shape for any fft_len >= 32: a guard band of
    3/32 of the band on each side, DC unused, 4 pilots at the same relative
    positions as 802.11a.  For fft_len 64 the two are identical.
    """
    from gnuradio.digital import ofdm_txrx  # the stock layout and pilot sequence
    if preset not in CARRIER_PRESETS:
        raise ValueError(f"unknown carrier preset {preset!r}; choose one of {CARRIER_PRESETS}")
    if preset == "wifi64":
        if fft_len != 64:
            raise ValueError(f"carrier preset 'wifi64' needs fft_len 64, got {fft_len}")
        return (ofdm_txrx._def_occupied_carriers, ofdm_txrx._def_pilot_carriers,
                ofdm_txrx._def_pilot_symbols)
    if fft_len < 32 or fft_len % 2:
        raise ValueError(f"carrier preset 'scaled' needs an even fft_len >= 32, got {fft_len}")
    half = fft_len // 2 - max(1, (3 * fft_len) // 32)
    p1, p2 = round(half * 7 / 26), round(half * 21 / 26)
    pilots = (-p2, -p1, p1, p2)
    occupied = tuple(k for k in list(range(-half, 0)) + list(range(1, half + 1)) if k not in pilots)
    return (occupied,), (pilots,), ofdm_txrx._def_pilot_symbols


def crc_append():
    """gr-digital CRC-32 (IEEE 802.3, as zlib) appender for PDUs."""
    return digital.crc_append(32, 0x4C11DB7, 0xFFFFFFFF, 0xFFFFFFFF, True, True, False)


def crc_check():
    """Matching checker: PDUs leave on port ``ok`` (CRC stripped) or ``fail``."""
    return digital.crc_check(32, 0x4C11DB7, 0xFFFFFFFF, 0xFFFFFFFF, True, True, False, True)


def check_fec(mode):
    if mode not in FEC_MODES:
        raise ValueError(f"unknown fec mode {mode!r}; choose one of {FEC_MODES}")


def coded_len(mode, nbytes):
    """Bytes on the air for ``nbytes`` of (PDU + CRC) in FEC ``mode``."""
    check_fec(mode)
    return nbytes if mode == "none" else 2 * nbytes


def fec_encoder(mode, max_bytes):
    """gr-fec encoder object for ``mode`` (None for "none"), frames up to max_bytes."""
    check_fec(mode)
    if mode == "none":
        return None
    return fec.cc_encoder_make(8 * max_bytes, _CC_K, 2, _CC_POLYS, 0, fec.CC_TAILBITING)


def fec_decoder(mode, max_bytes):
    """gr-fec soft-input decoder object matching :func:`fec_encoder`."""
    check_fec(mode)
    if mode == "none":
        return None
    return fec.cc_decoder.make(8 * max_bytes, _CC_K, 2, _CC_POLYS, 0, -1, fec.CC_TAILBITING)


def quiet_init(init):
    """Decorator for PHY constructors: build the inner blocks with their
    loggers at ``warn`` or above.

    Debian's /etc/gnuradio/conf.d/gnuradio-runtime.conf sets the default log
    level to ``debug``, so every inner block (including those inside stock C++
    hier blocks such as ofdm_sync_sc_cfb, which Python cannot reach) would
    print an ``info`` line per ``set_min_output_buffer`` and ``debug`` lines
    at construction.  A block's logger takes the default level when the block
    is created, so raising the default only while the PHY is built quietens
    exactly the PHY's own blocks; warnings and errors still print.
    """
    @functools.wraps(init)
    def wrapper(*args, **kwargs):
        log = gr.logging()
        old = log.default_level()
        if int(old) < int(gr.log_levels.warn):
            log.set_default_level(gr.log_levels.warn)
        try:
            return init(*args, **kwargs)
        finally:
            log.set_default_level(old)
    return wrapper
