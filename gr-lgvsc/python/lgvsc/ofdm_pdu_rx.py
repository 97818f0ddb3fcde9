# SPDX-License-Identifier: GPL-3.0-or-later
"""OFDM burst receiver with a PDU output (GRC id ``lgvsc_ofdm_pdu_rx``)."""

from gnuradio import gr

from . import phy_common as pc
from .ofdm_pdu_tx import check_ofdm_args
from .rx_gate import rx_gate

__all__ = ["ofdm_pdu_rx"]

# Schmidl & Cox metric |P|^2 / (E1 E2) over 3 training symbols (192 samples at fft 64):
# noise alone exceeds 0.05 with probability ~exp(-0.05 * 192) = 7e-5 per sample (a false
# trigger costs one failed header decode, ~0.3 % CPU at 1 MS/s); a burst at -3 dB per-sample
# SNR (-2 dB Es/N0) reaches ~0.11 on average.
SYNC_THRESHOLD = 0.05
MAX_INT_CFO = 4  # integer carrier offsets searched (+-), for radios without a shared reference


class ofdm_pdu_rx(gr.hier_block2):
    """Complex baseband in, CRC-checked PDUs out (pair of ofdm_pdu_tx).

    tag_gate -> ``ofdm_burst_demod`` (C++: Schmidl & Cox detection, fractional and
    integer CFO, fine timing, channel estimate from 3 training symbols smoothed across
    carriers, coded header with soft combining, pilot tracking of phase and phase slope,
    CSI-weighted LLRs, deinterleaver, gr-fec decoder of the MCS named in the header,
    descrambler) -> ``rx_gate`` (C++ ``pdu_rx_check``: CRC-32 check, metadata, counters,
    drop on failure).  No tag_gate: the demodulator has no stream output, so no tag
    of the input stream goes further.  The receiver needs no MCS setting: every
    burst's header names its own.

    Ports: stream in (complex64), message ``out`` (PDUs whose CRC passed, with
    metadata ``crc_ok``, ``packet_num``, ``mcs``, ``fec``, ``snr_db``, ``freq_offset``,
    ``phy``, ``rx_count``), message ``status`` (counter dict, at most every 20 ms).
    """

    @pc.quiet_init
    def __init__(self, fft_len=64, cp_len=16, carrier_preset="wifi64", header_mod="bpsk",
                 payload_mod="qpsk", mtu=1500, gap=1024, fec_mode="none", mcs=""):
        gr.hier_block2.__init__(self, "lgvsc_ofdm_pdu_rx", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        self.mcs = check_ofdm_args(fft_len, cp_len, header_mod, payload_mod, mtu, gap, fec_mode, mcs)
        ofdm_burst_demod = pc.compiled().ofdm_burst_demod
        self.fft_len, self.cp_len, self.mtu, self.fec_mode = fft_len, cp_len, mtu, fec_mode
        cfg = pc.ofdm_config(fft_len, cp_len, carrier_preset, mtu)
        self.message_port_register_hier_out("out")
        self.message_port_register_hier_out("status")
        self.demod = ofdm_burst_demod(cfg, pc.mod_id(payload_mod), MAX_INT_CFO, SYNC_THRESHOLD)
        self.connect(self, self.demod)
        self.gate = rx_gate("ofdm", pc.MCS[self.mcs][0], 0, mtu, demod=self.demod)
        self.msg_connect(self.demod, "out", self.gate, "in")
        self.msg_connect(self.gate, "out", self, "out")
        self.msg_connect(self.gate, "status", self, "status")
