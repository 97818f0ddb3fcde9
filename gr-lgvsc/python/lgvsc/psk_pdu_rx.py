# SPDX-License-Identifier: GPL-3.0-or-later
"""Single-carrier burst PSK receiver with a PDU output (GRC id ``lgvsc_psk_pdu_rx``)."""

from gnuradio import blocks, digital, gr

from . import phy_common as pc
from .psk_pdu_tx import PSK_MODS, check_psk_args, psk_config, rrc_taps
from .rx_gate import rx_gate

__all__ = ["psk_pdu_rx"]

NFILTS = 32
# Loop bandwidth of pfb_clock_sync (rad/symbol).  6.28/200 (gr-digital's example value)
# slipped a symbol inside the header at -2 dB Es/N0; half of it did not (docs/PHY.md).
CLOCK_BW = 6.28 / 800.0
# Access-code detection metric (segment sums c_s of 8 symbols, |sum c_s conj c_{s-1}| /
# (7 sum |y|^2), lib/psk_burst_demod_impl.cc): ~s / (1 + s) for a burst at Es/N0 s, median
# 0.39 and 99.9 % above 0.18 at -2 dB; noise alone exceeds 0.17 with probability ~3e-4 per
# symbol (simulated), and a false detection costs one header decode (its CRC-16 fails).
SYNC_THRESHOLD = 0.17


class psk_pdu_rx(gr.hier_block2):
    """Complex baseband in, CRC-checked PDUs out (pair of psk_pdu_tx).

    tag_gate -> pfb_clock_sync_ccf (RRC matched filter + symbol timing) -> ``psk_burst_demod``
    (C++: access-code detection by a segmented correlation that tolerates a carrier offset;
    phase, frequency and gain from the preamble and access code; a decision-directed carrier
    PLL from there (a free-running Costas loop drifted to false locks in the noise between
    bursts below ~5 dB Es/N0); the coded header soft combined over its 4 copies and Viterbi
    decoded; max-log LLRs; the decoder of the MCS named in the header; descrambler) ->
    rx_gate (C++ pdu_rx_check: CRC-32, metadata, counters, drop on failure).  The receiver
    needs no MCS setting: every burst's header names its own (``payload_mod``,
    ``fec_mode``, ``mcs`` and ``gap`` are accepted for symmetry with the transmitter;
    ``sps`` and ``excess_bw`` must match it).

    Ports: stream in (complex64), message ``out`` (PDUs whose CRC passed, with metadata
    ``crc_ok``, ``packet_num`` (16-bit header counter), ``mcs``, ``fec``, ``snr_db`` (Es/N0
    of the burst's known symbols after the matched filter), ``freq_offset`` (carrier offset,
    cycles/sample), ``phy`` = ``psk``,
    ``rx_count``), message ``status`` (counter dict).
    """

    @pc.quiet_init
    def __init__(self, sps=2, excess_bw=0.35, payload_mod="bpsk", mtu=1500, gap=256, fec_mode="none", mcs=""):
        gr.hier_block2.__init__(self, "lgvsc_psk_pdu_rx", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        self.mcs = check_psk_args(sps, excess_bw, payload_mod, mtu, gap, fec_mode, mcs)
        self.sps, self.excess_bw, self.mtu, self.fec_mode, self.payload_mod = sps, excess_bw, mtu, fec_mode, payload_mod
        self.message_port_register_hier_out("out")
        self.message_port_register_hier_out("status")

        gate = blocks.tag_gate(gr.sizeof_gr_complex, False)
        taps = rrc_taps(sps, excess_bw, NFILTS)
        # Matched-filter gain: symbols of a unit-power burst come out at |s| = 1, whatever sps.
        gain = NFILTS / (sps * sum(t * t for t in taps))
        clock = digital.pfb_clock_sync_ccf(sps, CLOCK_BW, [gain * t for t in taps], NFILTS, NFILTS // 2, 1.5, 1)
        psk_burst_demod = pc.compiled().psk_burst_demod
        self.demod = psk_burst_demod(psk_config(mtu), PSK_MODS.index(payload_mod), SYNC_THRESHOLD, int(sps))
        self.connect(self, gate, clock, self.demod)
        self.gate = rx_gate("psk", pc.MCS[self.mcs][0], 0, mtu, demod=self.demod)
        self.msg_connect(self.demod, "out", self.gate, "in")
        self.msg_connect(self.gate, "out", self, "out")
        self.msg_connect(self.gate, "status", self, "status")
