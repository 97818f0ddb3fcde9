# SPDX-License-Identifier: GPL-3.0-or-later
"""OFDM burst receiver with a PDU output (GRC id ``lgvsc_ofdm_pdu_rx``)."""

from gnuradio import analog, blocks, digital, fec, fft, gr, pdu
from gnuradio.digital import ofdm_txrx

from . import phy_common as pc
from .ofdm_cpe import ofdm_cpe
from .ofdm_pdu_tx import check_ofdm_args
from .rx_gate import rx_gate

__all__ = ["ofdm_pdu_rx"]

# Receiver-internal tag keys, distinct from the transmitter's so that tags
# arriving with the samples (e.g. in a simulated loopback) cannot be mistaken
# for ours; the input tag_gate removes them anyway.
LEN_KEY = "lgvsc_rx_len"
FRAME_KEY = "lgvsc_rx_frame_len"
NUM_KEY = "packet_num"
SNR_MSG_SYMBOLS = 1024
SNR_ALPHA = 0.005


class ofdm_pdu_rx(gr.hier_block2):
    """Complex baseband in, CRC-checked PDUs out (pair of ofdm_pdu_tx).

    gr-digital's OFDM receiver (as in ``digital.ofdm_rx``): Schmidl & Cox
    sync -> header/payload demux -> FFT -> channel estimation -> equaliser ->
    header parser; payload: FFT -> equaliser -> serialiser -> M-PSK SNR
    estimator -> hard decisions (fec ``none``) or soft decisions +
    gr-fec Viterbi decoder (fec ``cc``) -> PDU -> crc_check -> rx_gate.

    Parameters must match the transmitter (``gap`` is accepted for symmetry
    and GRC swapping; the receiver does not need it).

    Ports: stream in (complex64), message ``out`` (PDUs whose CRC passed, with
    metadata ``crc_ok``, ``packet_num``, ``freq_offset``, ``phy``,
    ``fec``, ``rx_count``), message ``status`` (counter dict, at most every 20 ms).
    """

    @pc.quiet_init
    def __init__(self, fft_len=64, cp_len=16, carrier_preset="wifi64", header_mod="bpsk",
                 payload_mod="qpsk", mtu=1500, gap=1024, fec_mode="none"):
        gr.hier_block2.__init__(self, "lgvsc_ofdm_pdu_rx", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        check_ofdm_args(fft_len, cp_len, header_mod, payload_mod, mtu, gap, fec_mode)
        occupied, pilots, pilot_syms = pc.carrier_layout(carrier_preset, fft_len)
        self.fft_len, self.cp_len, self.mtu, self.fec_mode = fft_len, cp_len, mtu, fec_mode
        hdr_const = pc.constellation(header_mod)
        pld_const = pc.constellation(payload_mod)
        sync_word1 = ofdm_txrx._make_sync_word1(fft_len, occupied, pilots)
        sync_word2 = ofdm_txrx._make_sync_word2(fft_len, occupied, pilots)
        self.message_port_register_hier_out("out")
        self.message_port_register_hier_out("status")

        # Synchronisation and header: as gr-digital's ofdm_rx.
        # Plateau threshold 0.6 instead of 0.9: detection down to ~3 dB SNR, where
        # the coded mode still decodes; false triggers die at the header CRC.
        sync = digital.ofdm_sync_sc_cfb(fft_len, cp_len, False, 0.6)
        delay = blocks.delay(gr.sizeof_gr_complex, fft_len + cp_len)
        osc = analog.frequency_modulator_fc(-2.0 / fft_len)
        mixer = blocks.multiply_cc()
        hpd = digital.header_payload_demux(3, fft_len, cp_len, FRAME_KEY, "", True)
        gate = blocks.tag_gate(gr.sizeof_gr_complex, False)
        self.connect(self, gate, sync)
        self.connect(gate, delay, (mixer, 0), (hpd, 0))
        self.connect((sync, 0), osc, (mixer, 1))
        self.connect((sync, 1), (hpd, 1))
        header_fft = fft.fft_vcc(fft_len, True, (), True)
        # eq_noise_red_len = cp_len: the estimate is smoothed to a channel no longer
        # than the CP, ~fft_len/cp_len less estimation noise (decisive at low SNR).
        chanest = digital.ofdm_chanest_vcvc(sync_word1, sync_word2, 1, cp_len)
        header_eq = digital.ofdm_frame_equalizer_vcvc(
            digital.ofdm_equalizer_simpledfe(fft_len, hdr_const.base(), occupied, pilots, pilot_syms,
                                             symbols_skipped=0).base(),
            cp_len, FRAME_KEY, True, 1)
        header_ser = digital.ofdm_serializer_vcc(fft_len, occupied, FRAME_KEY)
        header_dec = digital.constellation_decoder_cb(hdr_const.base())
        header_fmt = digital.packet_header_ofdm(occupied, 1, LEN_KEY, FRAME_KEY, NUM_KEY,
                                                hdr_const.bits_per_symbol(),
                                                pld_const.bits_per_symbol(), scramble_header=True)
        header_parser = digital.packet_headerparser_b(header_fmt.formatter())
        self.connect((hpd, 0), header_fft, chanest, header_eq, header_ser, header_dec, header_parser)
        self.msg_connect(header_parser, "header_data", hpd, "header_data")

        # Payload.  fec "cc": the channel estimate of the preamble (static
        # equaliser, the pilots declared as ordinary carriers so they come out
        # equalised instead of overwritten) -> per-symbol common-phase correction
        # from the pilots (ofdm_cpe) -> serialiser: soft symbols all the way to
        # the Viterbi decoder (ofdm_cpe explains why not simpledfe).  fec "none":
        # gr-digital's decision-directed simpledfe (its hard decisions are all
        # the hard decoder needs, and its tracking averages the channel estimate
        # over the packet: ~3 dB better uncoded than the static path).
        payload_fft = fft.fft_vcc(fft_len, True, (), True)
        active = (tuple(sorted(set(occupied[0]) | set(pilots[0]))),)
        soft_eq = digital.ofdm_frame_equalizer_vcvc(
            digital.ofdm_equalizer_static(fft_len, active, [], [], 1).base(), cp_len, FRAME_KEY)
        soft_ser = digital.ofdm_serializer_vcc(fft_len, occupied, FRAME_KEY, LEN_KEY, 1)
        eq_blocks = [payload_fft, soft_eq]
        if fec_mode == "none":
            payload_eq = digital.ofdm_frame_equalizer_vcvc(
                digital.ofdm_equalizer_simpledfe(fft_len, pld_const.base(), occupied, pilots, pilot_syms,
                                                 symbols_skipped=1, alpha=0.1).base(),
                cp_len, FRAME_KEY)
            payload_ser = digital.ofdm_serializer_vcc(fft_len, occupied, FRAME_KEY, LEN_KEY, 1)
            self.connect((hpd, 1), payload_fft, payload_eq, payload_ser)
            # SNR-only branch (M2M4 uses |y|^2 and |y|^4: no phase tracking needed;
            # simpledfe outputs its decisions, useless to M2M4).
            self.connect(payload_fft, soft_eq, soft_ser)
            eq_blocks.append(payload_eq)
        else:
            # (kept on self: a Python block must outlive the constructor)
            self.cpe = ofdm_cpe(fft_len, pilots, pilot_syms, 1, FRAME_KEY)
            self.connect((hpd, 1), payload_fft, soft_eq, self.cpe, soft_ser)
            payload_ser = soft_ser
            eq_blocks.append(self.cpe)
        snr = payload_ser
        # SNR: gr-digital's M2M4 moment estimator (probe_mpsk_snr_est_c) on the
        # soft payload symbols, a probe outside the data path (inline,
        # mpsk_snr_est_cc corrupts tagged streams).  It publishes every
        # SNR_MSG_SYMBOLS symbols; rx_gate stamps the latest value as snr_db.
        # (Each message is a Python handler call in rx_gate, ~20 us of CPU:
        # 1024 rather than 256 symbols saved ~30 us per 96-byte PDU.  Reading
        # probe.snr() per PDU instead cost more than the messages.)
        self.snr_probe = digital.probe_mpsk_snr_est_c(digital.SNR_EST_M2M4, SNR_MSG_SYMBOLS, SNR_ALPHA)
        self.connect(soft_ser, self.snr_probe)
        # Equalised soft symbols: tap for the Qt GUI constellation (flowgraphs/rx_*_gui.grc);
        # with fec "none" not phase-tracked (a residual frequency offset rotates it).
        self.payload_symbols = soft_ser

        # Sizes for the largest frame a (possibly corrupted) header can announce.
        air_bytes = pc.HEADER_LEN_MAX
        pld_syms = -(-air_bytes * 8 // pld_const.bits_per_symbol())
        ofdm_syms = 3 + -(-pld_syms // len(occupied[0]))
        # header_payload_demux needs a whole frame of samples on its inputs; a
        # corrupted header can announce up to HEADER_LEN_MAX bytes.
        max_syms = 3 + -(-pc.HEADER_LEN_MAX * 8 // pld_const.bits_per_symbol() // len(occupied[0]))
        frame = max_syms * (fft_len + cp_len)
        pc.reserve_buffers([(mixer, 2 * frame), (sync, 2 * frame), (delay, 2 * frame), (hpd, ofdm_syms)]
                           + [(blk, ofdm_syms) for blk in eq_blocks]
                           + [(ser, ofdm_syms * len(occupied[0])) for ser in dict.fromkeys([payload_ser, soft_ser])])

        self.check = pc.crc_check()
        self.check.set_log_level("info")  # it logs every CRC failure at debug; rx_gate counts them
        header_parser.set_log_level("warn")
        hpd.set_log_level("warn")
        self.gate = rx_gate("ofdm", fec_mode, fft_len, mtu)
        max_bytes = mtu + pc.CRC_LEN
        if fec_mode == "none":
            demod = digital.constellation_decoder_cb(pld_const.base())
            pack = blocks.repack_bits_bb(pld_const.bits_per_symbol(), 8, LEN_KEY, True)
            descrambler = digital.additive_scrambler_bb(0x8a, 0x7f, 7, 0, bits_per_byte=8,
                                                        reset_tag_key=LEN_KEY)
            to_pdu = pdu.tagged_stream_to_pdu(gr.types.byte_t, LEN_KEY)
            pc.reserve_buffers([(demod, pld_syms), (pack, air_bytes), (descrambler, air_bytes)])
            self.connect(snr, demod, pack, descrambler, to_pdu)
            self.msg_connect(to_pdu, "pdus", self.check, "in")
        else:
            pld_const.gen_soft_dec_lut(8)
            # Back to the constellation's own scale (the TX sent points / rms).
            rescale = blocks.multiply_const_cc(pc.const_rms(pld_const))
            soft = digital.constellation_soft_decoder_cf(pld_const.base())
            # The serializer's length tag counts symbols; soft values are bits.
            scale_len = blocks.tagged_stream_multiply_length(gr.sizeof_float, LEN_KEY,
                                                             pld_const.bits_per_symbol())
            to_pdu = self.soft_pdus = pdu.tagged_stream_to_pdu(gr.types.float_t, LEN_KEY)
            self.decoder = fec.async_decoder(pc.fec_decoder(fec_mode, max_bytes), True, True, max_bytes)
            pc.reserve_buffers([(rescale, pld_syms), (soft, air_bytes * 8), (scale_len, air_bytes * 8)])
            # gr-fec's Viterbi decoder quantises soft bits in [-1, 1]: scale the
            # constellation LLRs (about +-2.6 for a clean unit-power symbol) and clip.
            llr_scale = blocks.multiply_const_ff(0.4)
            clip = analog.rail_ff(-1.0, 1.0)
            pc.reserve_buffers([(llr_scale, air_bytes * 8), (clip, air_bytes * 8)])
            self.connect(snr, rescale, soft, llr_scale, clip, scale_len, to_pdu)
            self.msg_connect(to_pdu, "pdus", self.decoder, "in")
            self.msg_connect(self.decoder, "out", self.check, "in")
        self.msg_connect(self.check, "ok", self.gate, "ok")
        self.msg_connect(self.check, "fail", self.gate, "fail")
        self.msg_connect(self.snr_probe, "snr", self.gate, "snr")
        self.msg_connect(self.gate, "out", self, "out")
        self.msg_connect(self.gate, "status", self, "status")
