# SPDX-License-Identifier: GPL-3.0-or-later
"""RX-side output gate: the last block of every LGVSC PHY receiver."""

import math

import pmt
from gnuradio import gr

from .phy_common import StatusThrottle

__all__ = ["rx_gate"]

# Stream tags collected on the way that become metadata, as (tag key, meta key).
_NUM_TAG = "packet_num"
_CARR_TAG = "ofdm_sync_carr_offset"
_FREQ_TAG = "freq_offset"


class rx_gate(gr.basic_block):
    """Forward CRC-good PDUs with normalised metadata, count CRC failures.

    Input ports ``ok`` and ``fail`` take the two outputs of gr-digital's
    ``crc_check``; only ``ok`` PDUs leave on ``out``.  Port ``snr`` takes the
    running SNR estimate (a double, dB) of gr-digital's probe_mpsk_snr_est_c.  ``status`` gets a dict of
    counters (at most every 20 ms, and within 20 ms of the last change).

    Args:
        phy: PHY name written to metadata (``ofdm`` / ``gmsk``).
        fec: FEC mode written to metadata.
        fft_len: OFDM FFT length, to turn a carrier offset into cycles/sample
            (0 when not OFDM).
        mtu: PDUs longer than this are counted as ``rx_oversize`` and dropped.
        seq_bytes: 0 or 2: strip a leading 16-bit counter (written by
            ``pdu_guard(seq_bytes=2)``) and report it as ``packet_num``.
    """

    def __init__(self, phy="ofdm", fec="none", fft_len=0, mtu=1500, seq_bytes=0):
        gr.basic_block.__init__(self, name="lgvsc_rx_gate", in_sig=None, out_sig=None)
        self.phy, self.fec, self.fft_len, self.mtu = phy, fec, int(fft_len), int(mtu)
        self.seq_bytes = int(seq_bytes)
        self.counters = {"rx_ok": 0, "rx_bytes": 0, "rx_crc_fail": 0, "rx_oversize": 0}
        self._snr = None
        for port in ("ok", "fail", "snr"):
            self.message_port_register_in(pmt.intern(port))
        self.set_msg_handler(pmt.intern("snr"), self._snr_msg)
        for port in ("out", "status"):
            self.message_port_register_out(pmt.intern(port))
        self.set_msg_handler(pmt.intern("ok"), self._ok)
        self.set_msg_handler(pmt.intern("fail"), self._fail)
        self._throttle = StatusThrottle(self, self._snapshot)

    def start(self):
        self._throttle.start()
        return True

    def stop(self):
        self._throttle.stop()
        return True

    def _snr_msg(self, msg):
        # probe_mpsk_snr_est_c publishes a plain double (dB).
        if pmt.is_number(msg) and math.isfinite(pmt.to_double(msg)):
            self._snr = round(pmt.to_double(msg), 2)

    def _snapshot(self):
        st = dict(self.counters)
        if self._snr is not None:
            st["last_snr_db"] = self._snr
        return st

    def _status(self):
        self._throttle.touch()

    def _fail(self, msg):
        self.counters["rx_crc_fail"] += 1
        self._status()

    def _ok(self, msg):
        if not pmt.is_pair(msg) or not pmt.is_u8vector(pmt.cdr(msg)):
            return
        data = pmt.cdr(msg)
        seq = None
        if self.seq_bytes and pmt.length(data) > self.seq_bytes:
            raw = bytes(pmt.u8vector_elements(data))
            seq = int.from_bytes(raw[:self.seq_bytes], "big")
            data = pmt.init_u8vector(len(raw) - self.seq_bytes, list(raw[self.seq_bytes:]))
        elif self.seq_bytes:
            data = pmt.init_u8vector(0, [])
        n = pmt.length(data)
        if n == 0 or n > self.mtu:
            self.counters["rx_oversize"] += 1
            self.logger.warning(f"received PDU of {n} bytes outside 1..{self.mtu}; dropped")  # gr.logger has warn(), not warning()
            self._status()
            return
        src = pmt.car(msg)
        meta = pmt.make_dict()
        meta = pmt.dict_add(meta, pmt.intern("crc_ok"), pmt.PMT_T)
        meta = pmt.dict_add(meta, pmt.intern("phy"), pmt.intern(self.phy))
        meta = pmt.dict_add(meta, pmt.intern("fec"), pmt.intern(self.fec))
        meta = pmt.dict_add(meta, pmt.intern("rx_count"), pmt.from_uint64(self.counters["rx_ok"]))
        if seq is not None:
            meta = pmt.dict_add(meta, pmt.intern("packet_num"), pmt.from_long(seq))
        if pmt.is_dict(src):
            num = pmt.dict_ref(src, pmt.intern(_NUM_TAG), pmt.PMT_NIL)
            if pmt.is_integer(num):
                meta = pmt.dict_add(meta, pmt.intern("packet_num"), num)
            carr = pmt.dict_ref(src, pmt.intern(_CARR_TAG), pmt.PMT_NIL)
            if pmt.is_integer(carr) and self.fft_len:
                meta = pmt.dict_add(meta, pmt.intern("freq_offset"),
                                    pmt.from_double(pmt.to_long(carr) / self.fft_len))
            freq = pmt.dict_ref(src, pmt.intern(_FREQ_TAG), pmt.PMT_NIL)
            if pmt.is_number(freq):
                meta = pmt.dict_add(meta, pmt.intern("freq_offset"), pmt.from_double(pmt.to_double(freq)))
        if self._snr is not None:
            meta = pmt.dict_add(meta, pmt.intern("snr_db"), pmt.from_double(self._snr))
        self.counters["rx_ok"] += 1
        self.counters["rx_bytes"] += n
        self.message_port_pub(pmt.intern("out"), pmt.cons(meta, data))
        self._status()
