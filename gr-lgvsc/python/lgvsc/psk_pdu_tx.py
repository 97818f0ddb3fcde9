# SPDX-License-Identifier: GPL-3.0-or-later
"""Single-carrier burst PSK transmitter with a PDU input (GRC id ``lgvsc_psk_pdu_tx``)."""

import math

from gnuradio import blocks, digital, filter, gr, pdu
from gnuradio.filter import firdes

from . import phy_common as pc
from .pdu_guard import pdu_guard

__all__ = ["ACCESS_CODE", "PREAMBLE_SYMBOLS", "PSK_MCS_NAMES", "PSK_MODS", "check_psk_args", "const_rms",
           "psk_config", "psk_constellation", "psk_mcs_names", "psk_points", "psk_pdu_tx"]

LEN_KEY = "packet_len"
PSK_MODS = ("bpsk", "qpsk")  # modulation ids 0, 1 of the C++ blocks (= phy_common.mod_id)
# Burst format of the C++ psk_burst_mod (lib/psk_common.h): 64 alternating BPSK symbols for the
# clock recovery (and, known, the receiver's carrier estimate), gr-digital's default 64-bit access code, the CC-coded header
# repeated PSK_HDR_REP times, the payload.
PREAMBLE_SYMBOLS = 64
ACCESS_CODE = digital.packet_utils.default_access_code
HEADER_SYMBOLS = 4 * 112  # 4 copies of the rate-1/2 coded 56-bit header
MAX_LEN = 0xFFFF  # 16-bit length field of the header (PDU + CRC)
# pdu_to_tagged_stream emits about one burst per scheduler wake-up, so its rate grows with its
# output buffer (as ofdm_pdu_tx found).  Loopback of 1200-byte BPSK bursts under load, against the
# gr-digital chain this replaced measured in the same run: 64 Ki items 0.57 vs 3.8 MS/s, 256 Ki
# 2.1 vs 3.6, 1 Mi (8 MiB) 5.5 vs 3.3 MS/s.
TO_STREAM_BUFFER = 1 << 20


def psk_mcs_names():
    """The MCSs of phy_common.MCS the PSK PHY carries: those whose modulation is BPSK or QPSK,
    or the block's own (``none``, ``cc``)."""
    return tuple(name for name, (_, mod, _) in pc.MCS.items() if mod in (None, *PSK_MODS))


PSK_MCS_NAMES = psk_mcs_names()


def psk_points(name):
    """Unit-power points, index = bits MSB first.  BPSK on the QPSK diagonals ((1+j)/sqrt 2
    for bit 1: a 4th-order carrier loop, e.g. a radio's Costas, sees one constellation in
    bursts that mix BPSK and QPSK); QPSK is gr-digital's Gray-coded constellation_qpsk / rms."""
    if name == "bpsk":
        d = complex(1, 1) / math.sqrt(2)
        return [-d, d]
    if name == "qpsk":
        return pc.ofdm_points("qpsk")
    raise ValueError(f"mod must be one of {PSK_MODS}, got {name!r}")


def psk_config(mtu):
    """The C++ PSK blocks' configuration: the OFDM PHY's MCS table and gr-fec code parameters
    (phy_common.ofdm_config, so both PHYs run one table) with the PSK constellations."""
    cfg = pc.ofdm_config(64, 16, "wifi64", mtu)
    cfg.constellations = [psk_points(m) for m in PSK_MODS]
    return cfg


def psk_constellation(name):
    """Gray-coded BPSK/QPSK gr-digital constellation (ValueError names ``mod``)."""
    if name == "bpsk":
        return digital.constellation_bpsk()
    if name == "qpsk":
        return digital.constellation_qpsk()
    raise ValueError(f"mod must be one of {PSK_MODS}, got {name!r}")


const_rms = pc.const_rms


def rrc_taps(sps, excess_bw, nfilts=1):
    """Root-raised-cosine taps, 11 symbols long, at nfilts * sps samples/symbol."""
    return firdes.root_raised_cosine(nfilts, nfilts * sps, 1.0, excess_bw, 11 * sps * nfilts)


class psk_pdu_tx(gr.hier_block2):
    """PDUs in, root-raised-cosine PSK bursts out, separated by zero gaps.

    pdu_guard (C++ pdu_admit: validation, counters, keeps only the ``mcs`` metadata key,
    appends the CRC-32) ->
    ``psk_burst_mod`` (C++: scrambler, gr-fec encoder of the PDU's MCS, preamble, access
    code, CC-coded header with length, counter, MCS and CRC-16 in 4 copies, payload
    symbols, ``gap`` zeros) -> pdu_to_tagged_stream -> interpolating RRC FIR (``sps``
    samples/symbol, unit average power inside a burst) -> tagged_stream_multiply_length.

    Args:
        sps: samples per symbol (integer >= 2).
        excess_bw: RRC roll-off.
        payload_mod: ``bpsk`` or ``qpsk``: the payload modulation of the ``none``/``cc``
            MCSs (the paper presets are QPSK); preamble and header are always BPSK.
        mtu: largest PDU in bytes; larger or empty PDUs are logged and counted.
        gap: zero samples after each burst (>= 16 * sps).
        fec_mode: ``none`` or ``cc``: the MCS when ``mcs`` is empty.
        mcs: default MCS, one of PSK_MCS_NAMES (``none``, ``cc``, ``paper-0dB`` ..
            ``paper-6dB``: the OFDM PHY's names with a BPSK/QPSK modulation); a PDU's
            ``mcs`` metadata overrides it.

    Ports: message ``in`` (PDUs), stream out (complex64), message ``status``.
    """

    @pc.quiet_init
    def __init__(self, sps=2, excess_bw=0.35, payload_mod="bpsk", mtu=1500, gap=256, fec_mode="none", mcs=""):
        gr.hier_block2.__init__(self, "lgvsc_psk_pdu_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.mcs = check_psk_args(sps, excess_bw, payload_mod, mtu, gap, fec_mode, mcs)
        self.sps, self.excess_bw, self.mtu, self.gap = sps, excess_bw, mtu, gap
        self.fec_mode, self.payload_mod = fec_mode, payload_mod
        self.message_port_register_hier_in("in")
        self.message_port_register_hier_out("status")
        self.guard = pdu_guard(mtu, "psk_pdu_tx", keep_mcs=True, mcs_names=PSK_MCS_NAMES, crc=True)
        psk_burst_mod = pc.compiled().psk_burst_mod
        self.mod = psk_burst_mod(psk_config(mtu), pc.MCS_NAMES.index(self.mcs), PSK_MODS.index(payload_mod),
                                 -(-gap // sps))
        to_stream = pdu.pdu_to_tagged_stream(gr.types.complex_t, LEN_KEY)
        # Pulse shaping (RRC), gain so that a burst has unit average power:
        # channel noise_voltage v then means SNR = -20 log10(v) dB per sample.
        taps = rrc_taps(sps, excess_bw)
        gain = (sps / sum(t * t for t in taps)) ** 0.5
        shaper = filter.interp_fir_filter_ccf(sps, [gain * t for t in taps])
        rate = blocks.tagged_stream_multiply_length(gr.sizeof_gr_complex, LEN_KEY, sps)
        syms = max(self.mod.burst_len(mtu + pc.CRC_LEN, pc.MCS_NAMES.index(m)) for m in PSK_MCS_NAMES)
        to_stream.set_min_output_buffer(max(TO_STREAM_BUFFER, 2 * syms))
        pc.reserve_buffers([(shaper, syms * sps), (rate, syms * sps)])
        self.msg_connect(self, "in", self.guard, "in")
        self.msg_connect(self.guard, "status", self, "status")
        self.msg_connect(self.guard, "out", self.mod, "in")
        self.msg_connect(self.mod, "out", to_stream, "pdus")
        self.connect(to_stream, shaper, rate, self)

    def samples_per_burst(self, nbytes, mcs=None):
        """Samples sent for one PDU of ``nbytes`` (preamble, header, payload, gap) in ``mcs``
        (default: the block's)."""
        return self.mod.burst_len(nbytes + pc.CRC_LEN, pc.MCS_NAMES.index(mcs or self.mcs)) * self.sps


def check_psk_args(sps, excess_bw, payload_mod, mtu, gap, fec_mode, mcs=""):
    """Validate the parameters shared by psk_pdu_tx and psk_pdu_rx (ValueError); returns the MCS."""
    name = pc.resolve_mcs(mcs, fec_mode)
    if name not in PSK_MCS_NAMES:
        raise ValueError(f"mcs {name!r} ({pc.MCS[name][1]}) is not carried by the PSK PHY; choose one of "
                         f"{PSK_MCS_NAMES}")
    if int(sps) != sps or sps < 2:
        raise ValueError(f"sps must be an integer >= 2, got {sps}")
    if not 0.0 < excess_bw <= 1.0:
        raise ValueError(f"excess_bw must be in (0, 1], got {excess_bw}")
    psk_constellation(payload_mod)
    if mtu < 1:
        raise ValueError(f"mtu must be >= 1, got {mtu}")
    if mtu + pc.CRC_LEN > MAX_LEN:
        raise ValueError(f"mtu {mtu} needs {mtu + pc.CRC_LEN} bytes per burst; the header carries "
                         f"at most {MAX_LEN}")
    if gap < 16 * sps:
        raise ValueError(f"gap must be >= 16 * sps = {16 * sps} samples, got {gap}")
    return name
