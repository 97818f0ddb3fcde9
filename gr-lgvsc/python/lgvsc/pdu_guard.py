# SPDX-License-Identifier: GPL-3.0-or-later
"""TX-side PDU admission: the first block of every LGVSC PHY transmitter.

``pdu_guard(...)`` returns the C++ block ``lgvsc_python.pdu_admit``
(gr-lgvsc/lib/pdu_admit_impl.cc): the per-PDU work (validation, counters,
MCS metadata, packet counter, CRC-32) runs without a Python hop.
"""

from . import phy_common as pc

__all__ = ["pdu_guard"]

STATUS_INTERVAL = 0.02  # s: status dicts at most this often, and within it of the last change


def pdu_guard(mtu=1500, name="phy_tx", seq_bytes=0, keep_mcs=False, mcs_names=None, crc=False,
              status_interval=STATUS_INTERVAL):
    """Pass valid PDUs, reject the rest with a logged error and a counter.

    A valid PDU is ``pmt.cons(meta, u8vector)`` with 1..mtu bytes.  Metadata is
    replaced by an empty dict (stray keys would otherwise become stream tags
    inside the PHY), except ``mcs`` with ``keep_mcs``: the OFDM PHY's per-PDU
    MCS (a symbol naming one of ``mcs_names``; an unknown one is logged and the
    PDU sent with the PHY's default MCS).

    Args:
        mtu: largest payload in bytes.
        name: label for log lines.
        seq_bytes: 0 (default) or 2: prepend a big-endian 16-bit packet
            counter to every valid PDU (for PHYs whose header has no counter;
            ``rx_gate(seq_bytes=2)`` strips it into ``packet_num``).
        keep_mcs: forward a valid ``mcs`` metadata key.
        mcs_names: the valid MCS names (default: phy_common.MCS_NAMES).
        crc: append CRC-32 (the bytes ``phy_common.crc_append()`` appends), so no
            separate crc_append block is needed.
        status_interval: seconds between status dicts (0: after every PDU).

    Message ports: ``in`` (PDUs), ``out`` (valid PDUs), ``status`` (dict of
    counters ``tx_pdus``, ``tx_bytes``, ``tx_oversize``, ``tx_empty``,
    ``tx_malformed``; at most every 20 ms, and within 20 ms of the last change).
    ``counters()`` returns the same dict.
    """
    if int(mtu) < 1:
        raise ValueError(f"mtu must be >= 1, got {mtu}")
    if seq_bytes not in (0, 2):
        raise ValueError(f"seq_bytes must be 0 or 2, got {seq_bytes}")
    names = list(pc.MCS_NAMES if mcs_names is None else mcs_names)
    return pc.compiled().pdu_admit(int(mtu), str(name), int(seq_bytes), bool(keep_mcs), names, bool(crc),
                                   float(status_interval))
