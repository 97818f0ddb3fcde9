# SPDX-License-Identifier: GPL-3.0-or-later
"""Single-carrier burst PSK transmitter with a PDU input (GRC id ``lgvsc_psk_pdu_tx``)."""

from gnuradio import blocks, digital, fec, filter, gr, pdu
from gnuradio.filter import firdes

from . import phy_common as pc
from .pdu_guard import pdu_guard

__all__ = ["ACCESS_CODE", "PREAMBLE_BITS", "PSK_MODS", "check_psk_args", "const_rms", "psk_constellation", "psk_pdu_tx"]

LEN_KEY = "packet_len"
PSK_MODS = ("bpsk", "qpsk")
# Alternating bits ahead of every burst: symbol transitions for the clock
# recovery and a settling time for the Costas loop before the access code.
PREAMBLE_BITS = 64
ACCESS_CODE = digital.packet_utils.default_access_code  # 64 bits, gr-digital's default
SEQ_BYTES = 2  # in-band 16-bit packet counter (see pdu_guard), reported as packet_num
MAX_LEN = 0xFFFF  # 16-bit length field of gr-digital's header_format_default


def psk_constellation(name):
    """Gray-coded BPSK/QPSK gr-digital constellation (see :func:`const_rms`)."""
    if name == "bpsk":
        return digital.constellation_bpsk()
    if name == "qpsk":
        return digital.constellation_qpsk()  # points +-sqrt(2) +-sqrt(2)j: |s|^2 = 4
    raise ValueError(f"mod must be one of {PSK_MODS}, got {name!r}")


def const_rms(const):
    """RMS amplitude of a constellation's points: the TX sends points / rms
    (unit-power bursts), the RX multiplies by rms before soft decisions."""
    pts = const.points()
    return (sum(abs(p) ** 2 for p in pts) / len(pts)) ** 0.5


def rrc_taps(sps, excess_bw, nfilts=1):
    """Root-raised-cosine taps, 11 symbols long, at nfilts * sps samples/symbol."""
    return firdes.root_raised_cosine(nfilts, nfilts * sps, 1.0, excess_bw, 11 * sps * nfilts)


class psk_pdu_tx(gr.hier_block2):
    """PDUs in, root-raised-cosine PSK bursts out, separated by zero gaps.

    Assembled from gr-digital's packet components: pdu_guard (+ 16-bit
    counter) -> crc_append (CRC-32) -> [fec.async_encoder] ->
    protocol_formatter_async (gr-digital header_format_default: 64-bit access
    code + 16-bit length twice) -> pdu_to_tagged_stream -> repack_bits ->
    chunks_to_symbols (preamble + header + payload in one constellation) ->
    pfb_arb_resampler (RRC pulse shaping, ``sps`` samples/symbol) ->
    tagged_stream_mux with ``gap`` zeros after every burst (resynchronisation,
    and the last burst is flushed through the receiver).

    Args:
        sps: samples per symbol (integer >= 2).
        excess_bw: RRC roll-off.
        payload_mod: ``bpsk`` or ``qpsk`` (whole burst).
        mtu: largest PDU in bytes; larger or empty PDUs are logged and counted.
        gap: zero samples after each burst (>= 16 * sps).
        fec_mode: ``none`` or ``cc`` (rate 1/2 convolutional code, soft Viterbi).

    Ports: message ``in`` (PDUs), stream out (complex64), message ``status``.
    """

    @pc.quiet_init
    def __init__(self, sps=2, excess_bw=0.35, payload_mod="bpsk", mtu=1500, gap=256, fec_mode="none"):
        gr.hier_block2.__init__(self, "lgvsc_psk_pdu_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        check_psk_args(sps, excess_bw, payload_mod, mtu, gap, fec_mode)
        self.sps, self.mtu, self.gap, self.fec_mode, self.payload_mod = sps, mtu, gap, fec_mode, payload_mod
        const = psk_constellation(payload_mod)
        bps = const.bits_per_symbol()

        self.message_port_register_hier_in("in")
        self.message_port_register_hier_out("status")
        self.guard = pdu_guard(mtu, "psk_pdu_tx", seq_bytes=SEQ_BYTES)
        self.crc = pc.crc_append()
        self.msg_connect(self, "in", self.guard, "in")
        self.msg_connect(self.guard, "status", self, "status")
        self.msg_connect(self.guard, "out", self.crc, "in")
        max_bytes = mtu + SEQ_BYTES + pc.CRC_LEN
        fmt = digital.protocol_formatter_async(digital.header_format_default(ACCESS_CODE, 0))
        if fec_mode == "none":
            self.msg_connect(self.crc, "out", fmt, "in")
        else:
            self.encoder = fec.async_encoder(pc.fec_encoder(fec_mode, max_bytes), True, True, False, max_bytes)
            self.msg_connect(self.crc, "out", self.encoder, "in")
            self.msg_connect(self.encoder, "out", fmt, "in")
        hdr_stream = pdu.pdu_to_tagged_stream(gr.types.byte_t, LEN_KEY)
        pld_stream = pdu.pdu_to_tagged_stream(gr.types.byte_t, LEN_KEY)
        self.msg_connect(fmt, "header", hdr_stream, "pdus")
        self.msg_connect(fmt, "payload", pld_stream, "pdus")
        # Preamble: constant tagged stream of 0x55 bytes (alternating bits).
        pre_bytes = PREAMBLE_BITS // 8
        pre_src = blocks.vector_source_b([0x55] * pre_bytes, True)
        pre_tagged = blocks.stream_to_tagged_stream(gr.sizeof_char, 1, pre_bytes, LEN_KEY)
        bytes_mux = blocks.tagged_stream_mux(gr.sizeof_char, LEN_KEY, 0)
        unpack = blocks.repack_bits_bb(8, bps, LEN_KEY, False, gr.GR_MSB_FIRST)
        rms = const_rms(const)
        mapper = digital.chunks_to_symbols_bc([p / rms for p in const.points()])
        # Zero symbols after every burst (inside the same tagged packet) so the
        # pulse-shaping filter's tail and the gap leave with their burst.
        gap_syms = -(-gap // sps)
        zeros = blocks.null_source(gr.sizeof_gr_complex)
        zeros_tagged = blocks.stream_to_tagged_stream(gr.sizeof_gr_complex, 1, gap_syms, LEN_KEY)
        sym_mux = blocks.tagged_stream_mux(gr.sizeof_gr_complex, LEN_KEY, 0)
        # Pulse shaping (RRC), gain so that a burst has unit average power:
        # channel noise_voltage v then means SNR = -20 log10(v) dB per sample.
        taps = rrc_taps(sps, excess_bw)
        gain = (sps / sum(t * t for t in taps)) ** 0.5
        shaper = filter.interp_fir_filter_ccf(sps, [gain * t for t in taps])
        rate = blocks.tagged_stream_multiply_length(gr.sizeof_gr_complex, LEN_KEY, sps)
        air = pc.coded_len(fec_mode, max_bytes) + 12 + pre_bytes
        syms = -(-air * 8 // bps) + gap_syms
        pc.reserve_buffers([(hdr_stream, air), (pld_stream, air), (bytes_mux, air), (unpack, syms),
                            (mapper, syms), (sym_mux, syms), (shaper, syms * sps), (rate, syms * sps)])
        self.connect(pre_src, pre_tagged, (bytes_mux, 0))
        self.connect(hdr_stream, (bytes_mux, 1))
        self.connect(pld_stream, (bytes_mux, 2))
        self.connect(bytes_mux, unpack, mapper, (sym_mux, 0))
        self.connect(zeros, zeros_tagged, (sym_mux, 1))
        self.connect(sym_mux, shaper, rate, self)

    def samples_per_burst(self, nbytes):
        """Samples sent for one PDU of ``nbytes`` (preamble, header, payload, gap)."""
        bps = psk_constellation(self.payload_mod).bits_per_symbol()
        air = pc.coded_len(self.fec_mode, nbytes + SEQ_BYTES + pc.CRC_LEN) + 12 + PREAMBLE_BITS // 8
        return (-(-air * 8 // bps) + -(-self.gap // self.sps)) * self.sps


def check_psk_args(sps, excess_bw, payload_mod, mtu, gap, fec_mode):
    """Validate the parameters shared by psk_pdu_tx and psk_pdu_rx (ValueError)."""
    pc.check_fec(fec_mode)
    if int(sps) != sps or sps < 2:
        raise ValueError(f"sps must be an integer >= 2, got {sps}")
    if not 0.0 < excess_bw <= 1.0:
        raise ValueError(f"excess_bw must be in (0, 1], got {excess_bw}")
    psk_constellation(payload_mod)
    if mtu < 1:
        raise ValueError(f"mtu must be >= 1, got {mtu}")
    air = pc.coded_len(fec_mode, mtu + SEQ_BYTES + pc.CRC_LEN)
    if air > MAX_LEN:
        raise ValueError(f"mtu {mtu} with fec {fec_mode!r} needs {air} bytes per burst; the header carries "
                         f"at most {MAX_LEN}")
    if gap < 16 * sps:
        raise ValueError(f"gap must be >= 16 * sps = {16 * sps} samples, got {gap}")
