# SPDX-License-Identifier: GPL-3.0-or-later
"""RX-side output gate: the last block of every LGVSC PHY receiver.

``rx_gate(...)`` returns the C++ block ``lgvsc_python.pdu_rx_check``
(gr-lgvsc/lib/pdu_rx_check_impl.cc): CRC check, metadata, counters and the
drop of bad PDUs run without a Python hop.
"""

from . import phy_common as pc

__all__ = ["rx_gate"]

STATUS_INTERVAL = 0.02  # s


def rx_gate(phy="ofdm", fec="none", fft_len=0, mtu=1500, seq_bytes=0, demod=None,
            status_interval=STATUS_INTERVAL):
    """Forward CRC-good PDUs with normalised metadata, count CRC failures.

    Input ports: ``in`` takes decoded PDUs that end in a CRC-32 (checked here,
    stripped; failures counted as ``rx_crc_fail``); ``ok`` and ``fail`` take the
    two outputs of gr-digital's ``crc_check`` instead.  ``snr`` takes a running
    SNR estimate (a double, dB; e.g. probe_mpsk_snr_est_c).  Only good PDUs of
    1..mtu bytes leave on ``out``; ``status`` gets a dict of counters (at most
    every 20 ms, and within 20 ms of the last change; ``counters()`` returns its
    integer part).

    Args:
        phy: PHY name written to metadata (``ofdm`` / ``psk``).
        fec: FEC mode written to metadata (the demodulator's ``fec`` key overrides it).
        fft_len: OFDM FFT length, to turn an ``ofdm_sync_carr_offset`` into cycles/sample
            (0 when not OFDM).
        mtu: PDUs longer than this are counted as ``rx_oversize`` and dropped.
        seq_bytes: 0 or 2: strip a leading 16-bit counter (written by
            ``pdu_guard(seq_bytes=2)``) and report it as ``packet_num``.
        demod: a burst demodulator (C++ ``gr::lgvsc::burst_counters``: ``ofdm_burst_demod``,
            ``psk_burst_demod``) whose ``rx_detect`` / ``rx_header_fail`` counters join the
            status dict.

    Metadata: ``crc_ok``, ``phy``, ``fec``, ``rx_count``, and from the demodulator
    ``packet_num``, ``mcs``, ``fec``, ``snr_db``, ``freq_offset`` (see docs/PHY.md).
    """
    if int(mtu) < 1:
        raise ValueError(f"mtu must be >= 1, got {mtu}")
    if seq_bytes not in (0, 2):
        raise ValueError(f"seq_bytes must be 0 or 2, got {seq_bytes}")
    gate = pc.compiled().pdu_rx_check(str(phy), str(fec), int(fft_len), int(mtu), int(seq_bytes),
                                      float(status_interval))
    if demod is not None:
        gate.set_demod(demod)  # ValueError unless it implements gr::lgvsc::burst_counters
    return gate
