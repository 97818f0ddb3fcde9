# SPDX-License-Identifier: GPL-3.0-or-later
"""OFDM burst transmitter with a PDU input (GRC id ``lgvsc_ofdm_pdu_tx``)."""

from gnuradio import blocks, digital, fec, fft, gr, pdu
from gnuradio.digital import ofdm_txrx

from . import phy_common as pc
from .pdu_guard import pdu_guard

__all__ = ["ofdm_pdu_tx"]

LEN_KEY = "packet_len"


class ofdm_pdu_tx(gr.hier_block2):
    """PDUs in, complex baseband OFDM bursts out, separated by zero gaps.

    The chain is gr-digital's OFDM transmitter (as in ``digital.ofdm_tx``) fed
    from PDUs: pdu_guard -> crc_append -> [fec.async_encoder] ->
    pdu_to_tagged_stream -> header generator / scrambler / mapper ->
    carrier allocator -> IFFT -> cyclic prefixer -> tagged_stream_mux with a zero
    gap (after every burst, so the receiver resynchronises and the last burst is
    flushed through the receiver's delay lines).

    Args:
        fft_len: FFT length.
        cp_len: cyclic prefix length in samples (< fft_len).
        carrier_preset: ``wifi64`` (gr-digital default, fft_len 64) or ``scaled``.
        header_mod: header constellation (``bpsk``, ``qpsk``, ``8psk``).
        payload_mod: payload constellation (``bpsk``, ``qpsk``, ``8psk``, ``16qam``).
        mtu: largest PDU in bytes; larger or empty PDUs are logged and counted.
        gap: zero samples after each burst (>= fft_len + cp_len).
        fec_mode: ``none`` or ``cc`` (rate 1/2 convolutional code).

    Ports: message ``in`` (PDUs), stream out (complex64), message ``status``
    (counter dict, see docs/PHY.md).
    """

    @pc.quiet_init
    def __init__(self, fft_len=64, cp_len=16, carrier_preset="wifi64", header_mod="bpsk",
                 payload_mod="qpsk", mtu=1500, gap=1024, fec_mode="none"):
        gr.hier_block2.__init__(self, "lgvsc_ofdm_pdu_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        check_ofdm_args(fft_len, cp_len, header_mod, payload_mod, mtu, gap, fec_mode)
        occupied, pilots, pilot_syms = pc.carrier_layout(carrier_preset, fft_len)
        self.fft_len, self.cp_len, self.mtu, self.fec_mode = fft_len, cp_len, mtu, fec_mode
        hdr_const = pc.constellation(header_mod)
        pld_const = pc.constellation(payload_mod)
        sync_words = [ofdm_txrx._make_sync_word1(fft_len, occupied, pilots),
                      ofdm_txrx._make_sync_word2(fft_len, occupied, pilots)]

        self.message_port_register_hier_in("in")
        self.message_port_register_hier_out("status")
        self.guard = pdu_guard(mtu, "ofdm_pdu_tx")
        self.crc = pc.crc_append()
        self.msg_connect(self, "in", self.guard, "in")
        self.msg_connect(self.guard, "status", self, "status")
        self.msg_connect(self.guard, "out", self.crc, "in")
        self.to_stream = pdu.pdu_to_tagged_stream(gr.types.byte_t, LEN_KEY)
        max_bytes = mtu + pc.CRC_LEN
        if fec_mode == "none":
            self.msg_connect(self.crc, "out", self.to_stream, "pdus")
        else:
            # Coded bits packed MSB-first (rev_pack False) and unpacked MSB-first
            # below, so the receiver's soft decoder (MSB of each symbol first)
            # yields them in encoder order.
            self.encoder = fec.async_encoder(pc.fec_encoder(fec_mode, max_bytes), True, True, False, max_bytes)
            self.msg_connect(self.crc, "out", self.encoder, "in")
            self.msg_connect(self.encoder, "out", self.to_stream, "pdus")

        # From here on: gr-digital's ofdm_tx, minus its stream CRC.
        header_fmt = digital.packet_header_ofdm(occupied, n_syms=1, len_tag_key=LEN_KEY,
                                                bits_per_header_sym=hdr_const.bits_per_symbol(),
                                                bits_per_payload_sym=pld_const.bits_per_symbol(),
                                                scramble_header=True)
        header_gen = digital.packet_headergenerator_bb(header_fmt.base(), LEN_KEY)
        # Unit-power points (gr-digital's QPSK has |s|^2 = 4, see pc.const_rms).
        header_map = digital.chunks_to_symbols_bc([p / pc.const_rms(hdr_const) for p in hdr_const.points()])
        mux = blocks.tagged_stream_mux(gr.sizeof_gr_complex, LEN_KEY, 1)
        scrambler = digital.additive_scrambler_bb(0x8a, 0x7f if fec_mode == "none" else 0, 7, 0,
                                                  bits_per_byte=8, reset_tag_key=LEN_KEY)
        unpack = blocks.repack_bits_bb(8, pld_const.bits_per_symbol(), LEN_KEY, False,
                                       gr.GR_LSB_FIRST if fec_mode == "none" else gr.GR_MSB_FIRST)
        payload_map = digital.chunks_to_symbols_bc([p / pc.const_rms(pld_const) for p in pld_const.points()])
        allocator = digital.ofdm_carrier_allocator_cvc(fft_len, occupied, pilots, pilot_syms,
                                                       sync_words, LEN_KEY)
        # Unit average power inside a burst (unit-power points; the un-normalised IFFT sums n_active carriers),
        # so that channel noise_voltage v means SNR = -20 log10(v) dB.  The scale is the IFFT's window (a
        # constant window multiplies every input carrier): the same output as a multiply_const_cc after the
        # IFFT, without one more block (thread and buffer copy) per sample.
        scale = (len(occupied[0]) + len(pilots[0])) ** -0.5
        ifft = fft.fft_vcc(fft_len, False, [scale] * fft_len, True)
        prefixer = digital.ofdm_cyclic_prefixer(fft_len, fft_len + cp_len, 0, LEN_KEY)
        # Zero gap appended to each burst inside the same tagged packet, so a
        # burst and its gap leave together and the last burst is flushed
        # through the receiver at once (burst_shaper_cc holds back the post
        # padding of the last burst until another burst arrives).
        zeros = blocks.null_source(gr.sizeof_gr_complex)
        zeros_tagged = blocks.stream_to_tagged_stream(gr.sizeof_gr_complex, 1, gap, LEN_KEY)
        shaper = blocks.tagged_stream_mux(gr.sizeof_gr_complex, LEN_KEY, 0)
        # Largest burst: header symbol + payload symbols, in items of each stage.
        n_data = len(occupied[0])
        air_bytes = pc.coded_len(fec_mode, max_bytes)
        pld_syms = -(-air_bytes * 8 // pld_const.bits_per_symbol())
        ofdm_syms = 3 + -(-pld_syms // n_data)
        burst = ofdm_syms * (fft_len + cp_len)
        # (tagged-stream blocks forecast the same item count on every input, so
        # both mux inputs need room for the payload.)
        big = pld_syms + n_data
        pc.reserve_buffers([(self.to_stream, big), (header_gen, big), (header_map, big),
                            (scrambler, big), (unpack, big), (payload_map, big), (mux, big), (allocator, ofdm_syms), (ifft, ofdm_syms),
                            (prefixer, burst), (shaper, burst + gap)])
        self.connect(self.to_stream, header_gen, header_map, (mux, 0))
        self.connect(self.to_stream, scrambler, unpack, payload_map, (mux, 1))
        self.connect(mux, allocator, ifft, prefixer, (shaper, 0))
        self.connect(zeros, zeros_tagged, (shaper, 1))
        self.connect(shaper, self)


def check_ofdm_args(fft_len, cp_len, header_mod, payload_mod, mtu, gap, fec_mode):
    """Validate the parameters shared by ofdm_pdu_tx and ofdm_pdu_rx (ValueError)."""
    pc.check_fec(fec_mode)
    if not 0 < cp_len < fft_len:
        raise ValueError(f"cp_len must be in 1..fft_len-1, got {cp_len} (fft_len {fft_len})")
    if header_mod not in ("bpsk", "qpsk", "8psk"):
        raise ValueError(f"header_mod must be bpsk, qpsk or 8psk, got {header_mod!r}")
    pc.constellation(payload_mod)
    if mtu < 1:
        raise ValueError(f"mtu must be >= 1, got {mtu}")
    air = pc.coded_len(fec_mode, mtu + pc.CRC_LEN)
    if air > pc.HEADER_LEN_MAX:
        raise ValueError(f"mtu {mtu} with fec {fec_mode!r} needs {air} bytes per burst; "
                         f"the OFDM header carries at most {pc.HEADER_LEN_MAX}")
    if gap < fft_len + cp_len:
        raise ValueError(f"gap must be >= fft_len + cp_len = {fft_len + cp_len} samples, got {gap}")
