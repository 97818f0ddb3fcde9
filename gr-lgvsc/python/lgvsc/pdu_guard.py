# SPDX-License-Identifier: GPL-3.0-or-later
"""TX-side PDU admission: the first block of every LGVSC PHY transmitter."""

import pmt
from gnuradio import gr

from .phy_common import StatusThrottle

__all__ = ["pdu_guard"]

_P_OUT = pmt.intern("out")
_EMPTY = pmt.make_dict()  # pmt dicts are immutable values: one shared empty dict
_K_MCS = pmt.intern("mcs")


class pdu_guard(gr.basic_block):
    """Pass valid PDUs, reject the rest with a logged error and a counter.

    A valid PDU is ``pmt.cons(meta, u8vector)`` with 1..mtu bytes.  Metadata is
    replaced by an empty dict (stray keys would otherwise become stream tags
    inside the PHY), except ``mcs`` with ``keep_mcs``: the OFDM PHY's per-PDU
    MCS (a symbol or string naming one of ``mcs_names``; an unknown one is
    logged and the PDU sent with the block's default MCS).

    Args:
        mtu: largest payload in bytes.
        name: label for log lines.
        seq_bytes: 0 (default) or 2: prepend a big-endian 16-bit packet
            counter to every valid PDU (for PHYs whose header has no counter;
            ``rx_gate(seq_bytes=2)`` strips it into ``packet_num``).
        keep_mcs: forward a valid ``mcs`` metadata key.
        mcs_names: the valid MCS names (default: phy_common.MCS_NAMES).

    Message ports: ``in`` (PDUs), ``out`` (valid PDUs), ``status`` (dict of
    counters ``tx_pdus``, ``tx_bytes``, ``tx_oversize``, ``tx_empty``,
    ``tx_malformed``; at most every 20 ms, and within 20 ms of the last change).
    """

    def __init__(self, mtu=1500, name="phy_tx", seq_bytes=0, keep_mcs=False, mcs_names=None):
        gr.basic_block.__init__(self, name="lgvsc_pdu_guard", in_sig=None, out_sig=None)
        if int(mtu) < 1:
            raise ValueError(f"mtu must be >= 1, got {mtu}")
        self.mtu = int(mtu)
        self._label = name
        if seq_bytes not in (0, 2):
            raise ValueError(f"seq_bytes must be 0 or 2, got {seq_bytes}")
        self.seq_bytes = seq_bytes
        self.keep_mcs = bool(keep_mcs)
        if mcs_names is None:
            from .phy_common import MCS_NAMES as mcs_names
        self._mcs = {name: pmt.dict_add(_EMPTY, _K_MCS, pmt.intern(name)) for name in mcs_names}
        self.counters = {"tx_pdus": 0, "tx_bytes": 0, "tx_oversize": 0, "tx_empty": 0, "tx_malformed": 0}
        self.message_port_register_in(pmt.intern("in"))
        self.message_port_register_out(pmt.intern("out"))
        self.message_port_register_out(pmt.intern("status"))
        self.set_msg_handler(pmt.intern("in"), self._handle)
        self._status = StatusThrottle(self, lambda: dict(self.counters))

    def start(self):
        self._status.start()
        return True

    def stop(self):
        self._status.stop()
        return True

    def _reject(self, counter, text):
        self.counters[counter] += 1
        self.logger.error(f"{self._label}: {text}; PDU dropped")

    def _meta(self, meta):
        if not self.keep_mcs or not pmt.is_dict(meta):
            return _EMPTY
        v = pmt.dict_ref(meta, _K_MCS, pmt.PMT_NIL)
        if pmt.is_null(v):
            return _EMPTY
        name = pmt.symbol_to_string(v) if pmt.is_symbol(v) else None
        if name in self._mcs:
            return self._mcs[name]
        self.logger.error(f"{self._label}: unknown mcs {pmt.write_string(v)[:40]!r} in PDU metadata; "
                          f"sent with the default MCS (choose one of {sorted(self._mcs)})")
        return _EMPTY

    def _handle(self, msg):
        if not pmt.is_pair(msg) or not pmt.is_u8vector(pmt.cdr(msg)):
            self._reject("tx_malformed", "message is not a PDU (pair of dict and u8vector)")
        else:
            n = pmt.length(pmt.cdr(msg))
            if n == 0:
                self._reject("tx_empty", "empty PDU")
            elif n > self.mtu:
                self._reject("tx_oversize", f"PDU of {n} bytes exceeds the MTU of {self.mtu} bytes")
            else:
                self.counters["tx_pdus"] += 1
                self.counters["tx_bytes"] += n
                data = pmt.cdr(msg)
                if self.seq_bytes:
                    seq = (self.counters["tx_pdus"] - 1) & 0xFFFF
                    data = pmt.init_u8vector(n + 2, [seq >> 8, seq & 0xFF] + list(pmt.u8vector_elements(data)))
                self.message_port_pub(_P_OUT, pmt.cons(self._meta(pmt.car(msg)), data))
        self._status.touch()
