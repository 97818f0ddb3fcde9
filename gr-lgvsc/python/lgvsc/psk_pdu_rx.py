# SPDX-License-Identifier: GPL-3.0-or-later
"""Single-carrier burst PSK receiver with a PDU output (GRC id ``lgvsc_psk_pdu_rx``)."""

import cmath

from gnuradio import analog, blocks, digital, fec, gr, pdu

from . import phy_common as pc
from .psk_pdu_tx import (
    ACCESS_CODE,
    SEQ_BYTES,
    check_psk_args,
    const_rms,
    psk_constellation,
    rrc_taps,
)
from .rx_gate import rx_gate

__all__ = ["psk_pdu_rx"]

LEN_KEY = "lgvsc_rx_len"
NFILTS = 32
# Access-code bits that may be wrong (of 64).  A false match in noise needs
# >= 58 of 64 random bits right (p ~ 1e-12 per position) and then fails the CRC.
ACCESS_THRESHOLD = 6
# LLR scaling into gr-fec's soft range [-1, 1] (tuned at ~4-5 dB SNR, sps 2).
LLR_SCALE = 0.55
SNR_MSG_SYMBOLS = 256
SNR_ALPHA = 0.001
SNR_SQUELCH_DB = -3.0


class psk_pdu_rx(gr.hier_block2):
    """Complex baseband in, CRC-checked PDUs out (pair of psk_pdu_tx).

    gr-digital packet receiver chain: tag_gate -> pfb_clock_sync_ccf (RRC
    matched filter + symbol timing) -> costas_loop_cc (carrier phase and
    frequency) -> constellation_soft_decoder_cf -> correlate_access_code_ff_ts
    (finds the access code, reads gr-digital's default header, cuts out the
    payload soft bits) -> hard decisions (fec ``none``) or gr-fec Viterbi
    decoder (fec ``cc``) -> crc_check -> rx_gate.  The Costas loop locks
    with a BPSK 180 deg (QPSK 90 deg) ambiguity; one access-code correlator
    per rotation resolves it (only the right one matches the code).

    Parameters must match the transmitter (``gap`` is accepted for symmetry).

    Ports: stream in (complex64), message ``out`` (PDUs whose CRC passed, with
    metadata ``crc_ok``, ``packet_num`` (16-bit), ``phy`` = ``psk``, ``fec``,
    ``rx_count``), message ``status`` (counter dict).
    """

    @pc.quiet_init
    def __init__(self, sps=2, excess_bw=0.35, payload_mod="bpsk", mtu=1500, gap=256, fec_mode="none"):
        gr.hier_block2.__init__(self, "lgvsc_psk_pdu_rx", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        check_psk_args(sps, excess_bw, payload_mod, mtu, gap, fec_mode)
        self.sps, self.mtu, self.fec_mode = sps, mtu, fec_mode
        const = psk_constellation(payload_mod)
        self.message_port_register_hier_out("out")
        self.message_port_register_hier_out("status")

        gate = blocks.tag_gate(gr.sizeof_gr_complex, False)
        taps = rrc_taps(sps, excess_bw, NFILTS)
        # Matched-filter gain: symbols of a unit-power burst come out at |s| = 1, whatever sps.
        gain = NFILTS / (sps * sum(t * t for t in taps))
        clock = digital.pfb_clock_sync_ccf(sps, 6.28 / 200.0, [gain * t for t in taps], NFILTS, NFILTS // 2, 1.5, 1)
        costas = digital.costas_loop_cc(6.28 / 200.0, const.arity(), False)
        self.connect(self, gate, clock, costas)
        # SNR (Es/N0 of the symbols after timing and carrier recovery, dB):
        # gr-digital's M2M4 estimator as a probe on a tap of the Costas output
        # (outside the data path); rx_gate stamps the latest value as snr_db.
        # A gating power squelch (-3 dB; bursts have unit power) keeps the
        # noise-only gaps out of the estimator's running moments.
        squelch = analog.pwr_squelch_cc(SNR_SQUELCH_DB, 0.05, 0, True)
        self.snr_probe = digital.probe_mpsk_snr_est_c(digital.SNR_EST_M2M4, SNR_MSG_SYMBOLS, SNR_ALPHA)
        self.connect(costas, squelch, self.snr_probe)

        self.check = pc.crc_check()
        self.check.set_log_level("info")
        self.gate = rx_gate("psk", fec_mode, 0, mtu, seq_bytes=SEQ_BYTES)
        max_bytes = mtu + SEQ_BYTES + pc.CRC_LEN
        air_bits = 8 * pc.coded_len(fec_mode, max_bytes)
        if fec_mode != "none":
            self.decoder = fec.async_decoder(pc.fec_decoder(fec_mode, max_bytes), True, True, max_bytes)
            self.msg_connect(self.decoder, "out", self.check, "in")
        const.gen_soft_dec_lut(8)
        n_rot = const.arity()
        code = ACCESS_CODE
        for k in range(n_rot):
            # Rotation k of the Costas ambiguity, scaled to the constellation's points.
            rot = blocks.multiply_const_cc(const_rms(const) * cmath.exp(2j * cmath.pi * k / n_rot))
            soft = digital.constellation_soft_decoder_cf(const.base())
            corr = digital.correlate_access_code_ff_ts(code, ACCESS_THRESHOLD, LEN_KEY)
            corr.set_log_level("warn")
            self.connect(costas, rot, soft, corr)
            if fec_mode == "none":
                slicer = digital.binary_slicer_fb()
                pack = blocks.repack_bits_bb(1, 8, LEN_KEY, True, gr.GR_MSB_FIRST)
                to_pdu = pdu.tagged_stream_to_pdu(gr.types.byte_t, LEN_KEY)
                pc.reserve_buffers([(corr, air_bits), (slicer, air_bits), (pack, air_bits // 8)])
                self.connect(corr, slicer, pack, to_pdu)
                self.msg_connect(to_pdu, "pdus", self.check, "in")
            else:
                scale = blocks.multiply_const_ff(LLR_SCALE)
                clip = analog.rail_ff(-1.0, 1.0)
                to_pdu = pdu.tagged_stream_to_pdu(gr.types.float_t, LEN_KEY)
                pc.reserve_buffers([(corr, air_bits), (scale, air_bits), (clip, air_bits)])
                self.connect(corr, scale, clip, to_pdu)
                self.msg_connect(to_pdu, "pdus", self.decoder, "in")
        self.msg_connect(self.check, "ok", self.gate, "ok")
        self.msg_connect(self.check, "fail", self.gate, "fail")
        self.msg_connect(self.snr_probe, "snr", self.gate, "snr")
        self.msg_connect(self.gate, "out", self, "out")
        self.msg_connect(self.gate, "status", self, "status")
