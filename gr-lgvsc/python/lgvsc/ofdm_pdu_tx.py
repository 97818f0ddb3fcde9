# SPDX-License-Identifier: GPL-3.0-or-later
"""OFDM burst transmitter with a PDU input (GRC id ``lgvsc_ofdm_pdu_tx``)."""

from gnuradio import gr

from . import phy_common as pc
from .pdu_guard import pdu_guard

__all__ = ["check_ofdm_args", "ofdm_pdu_tx"]

LEN_KEY = "packet_len"
MAX_BYTES = 4095  # PDU + CRC per burst (bounds the receiver's burst buffer)
OUT_BUFFER = 1 << 18


class ofdm_pdu_tx(gr.hier_block2):
    """PDUs in, complex baseband OFDM bursts out, each followed by ``gap`` zeros.

    ``pdu_guard`` (C++ ``pdu_admit``: validation, counters, keeps only the ``mcs``
    metadata key, appends CRC-32) -> ``ofdm_burst_mod`` (C++: scrambler, gr-fec encoder of the PDU's MCS, bit
    interleaver, preamble of 4 training symbols, CC-coded repeated header with
    length, counter, MCS and CRC-16, payload symbols with pilots, IFFT, CP, gap; the bursts leave on its
    stream output, each tagged ``packet_len``, as many per call as fit).

    Args:
        fft_len: FFT length.
        cp_len: cyclic prefix length in samples (< fft_len).
        carrier_preset: ``wifi64`` (gr-digital default, fft_len 64) or ``scaled``.
        header_mod: accepted for compatibility; the header is always CC-coded QPSK.
        payload_mod: payload constellation of the ``none``/``cc`` MCSs
            (``bpsk``, ``qpsk``, ``8psk``, ``16qam``); the paper presets fix their own.
        mtu: largest PDU in bytes; larger or empty PDUs are logged and counted.
        gap: zero samples after each burst (>= 0; 0 for radios that mark bursts).
        fec_mode: ``none`` or ``cc``: the MCS when ``mcs`` is empty.
        mcs: default MCS (``phy_common.MCS_NAMES``); a PDU's ``mcs`` metadata overrides it.

    Ports: message ``in`` (PDUs), stream out (complex64), message ``status``
    (counter dict, see docs/PHY.md).
    """

    @pc.quiet_init
    def __init__(self, fft_len=64, cp_len=16, carrier_preset="wifi64", header_mod="bpsk",
                 payload_mod="qpsk", mtu=1500, gap=1024, fec_mode="none", mcs=""):
        gr.hier_block2.__init__(self, "lgvsc_ofdm_pdu_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.mcs = check_ofdm_args(fft_len, cp_len, header_mod, payload_mod, mtu, gap, fec_mode, mcs)
        ofdm_burst_mod = pc.compiled().ofdm_burst_mod
        self.fft_len, self.cp_len, self.mtu, self.fec_mode = fft_len, cp_len, mtu, fec_mode
        self.payload_mod, self.gap = payload_mod, gap
        cfg = pc.ofdm_config(fft_len, cp_len, carrier_preset, mtu)

        self.message_port_register_hier_in("in")
        self.message_port_register_hier_out("status")
        self.guard = pdu_guard(mtu, "ofdm_pdu_tx", keep_mcs=True, crc=True)
        self.mod = ofdm_burst_mod(cfg, pc.MCS_NAMES.index(self.mcs), pc.mod_id(payload_mod), gap, LEN_KEY)
        longest = max(self.mod.burst_len(mtu + pc.CRC_LEN, m) for m in range(len(pc.MCS_NAMES)))
        # Room for many bursts per scheduler wake-up on both sides: 256 Ki items (2 MiB) or 4 of the
        # longest bursts (whole bursts for packet_len consumers such as tagged-stream blocks).
        self.mod.set_min_output_buffer(max(OUT_BUFFER, 4 * longest))
        self.msg_connect(self, "in", self.guard, "in")
        self.msg_connect(self.guard, "status", self, "status")
        self.msg_connect(self.guard, "out", self.mod, "in")
        self.connect(self.mod, self)

    def samples_per_burst(self, nbytes, mcs=None):
        """Samples sent for one PDU of ``nbytes`` (preamble, header, payload, gap) in ``mcs``
        (default: the block's)."""
        return self.mod.burst_len(nbytes + pc.CRC_LEN, pc.MCS_NAMES.index(mcs or self.mcs))


def check_ofdm_args(fft_len, cp_len, header_mod, payload_mod, mtu, gap, fec_mode, mcs=""):
    """Validate the parameters shared by ofdm_pdu_tx and ofdm_pdu_rx (ValueError); returns the MCS."""
    name = pc.resolve_mcs(mcs, fec_mode)
    if not 0 < cp_len < fft_len:
        raise ValueError(f"cp_len must be in 1..fft_len-1, got {cp_len} (fft_len {fft_len})")
    if header_mod not in ("bpsk", "qpsk", "8psk"):
        raise ValueError(f"header_mod must be bpsk, qpsk or 8psk, got {header_mod!r}")
    pc.constellation(payload_mod)
    if mtu < 1:
        raise ValueError(f"mtu must be >= 1, got {mtu}")
    if mtu + pc.CRC_LEN > MAX_BYTES:
        raise ValueError(f"mtu {mtu} needs {mtu + pc.CRC_LEN} bytes per burst; the OFDM PHY carries "
                         f"at most {MAX_BYTES}")
    if gap < 0:
        raise ValueError(f"gap must be >= 0 samples, got {gap}")
    return name
