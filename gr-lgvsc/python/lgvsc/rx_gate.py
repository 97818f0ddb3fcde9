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
# Interned once: pmt.intern is a locked global-table lookup on every call.
_K_NUM, _K_CARR, _K_FREQ = pmt.intern(_NUM_TAG), pmt.intern(_CARR_TAG), pmt.intern(_FREQ_TAG)
_K_COUNT, _K_SNR, _K_PNUM = pmt.intern("rx_count"), pmt.intern("snr_db"), pmt.intern("packet_num")
_K_FREQ_OUT = pmt.intern("freq_offset")
_K_MCS, _K_FEC = pmt.intern("mcs"), pmt.intern("fec")
_P_OUT = pmt.intern("out")


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
        extra: optional callable returning a dict merged into every status dict
            (the OFDM receiver's detection / header-failure counters).

    Metadata the demodulator attaches to the PDU (``mcs``, ``fec``, ``snr_db``)
    passes through and overrides the block's ``fec`` and the ``snr`` port's value.
    """

    def __init__(self, phy="ofdm", fec="none", fft_len=0, mtu=1500, seq_bytes=0, extra=None):
        gr.basic_block.__init__(self, name="lgvsc_rx_gate", in_sig=None, out_sig=None)
        self.phy, self.fec, self.fft_len, self.mtu = phy, fec, int(fft_len), int(mtu)
        self.seq_bytes = int(seq_bytes)
        self.counters = {"rx_ok": 0, "rx_bytes": 0, "rx_crc_fail": 0, "rx_oversize": 0}
        self._snr = None
        self._extra = extra
        for port in ("ok", "fail", "snr"):
            self.message_port_register_in(pmt.intern(port))
        self.set_msg_handler(pmt.intern("snr"), self._snr_msg)
        for port in ("out", "status"):
            self.message_port_register_out(pmt.intern(port))
        self.set_msg_handler(pmt.intern("ok"), self._ok)
        self.set_msg_handler(pmt.intern("fail"), self._fail)
        self._throttle = StatusThrottle(self, self._snapshot)
        # The constant part of every output metadata dict (pmt dicts are immutable values).
        base = pmt.make_dict()
        base = pmt.dict_add(base, pmt.intern("crc_ok"), pmt.PMT_T)
        base = pmt.dict_add(base, pmt.intern("phy"), pmt.intern(self.phy))
        self._base_meta = pmt.dict_add(base, pmt.intern("fec"), pmt.intern(self.fec))
        self._snr_pmt = None

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
            self._snr_pmt = pmt.from_double(self._snr)

    def _snapshot(self):
        st = dict(self.counters)
        if self._snr is not None:
            st["last_snr_db"] = self._snr
        if self._extra is not None:
            st.update(self._extra())
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
            self.logger.warn(f"received PDU of {n} bytes outside 1..{self.mtu}; dropped")  # gr.logger: warn(), no warning()
            self._status()
            return
        src = pmt.car(msg)
        meta = pmt.dict_add(self._base_meta, _K_COUNT, pmt.from_uint64(self.counters["rx_ok"]))
        if seq is not None:
            meta = pmt.dict_add(meta, _K_PNUM, pmt.from_long(seq))
        if pmt.is_dict(src):
            num = pmt.dict_ref(src, _K_NUM, pmt.PMT_NIL)
            if pmt.is_integer(num):
                meta = pmt.dict_add(meta, _K_PNUM, num)
            carr = pmt.dict_ref(src, _K_CARR, pmt.PMT_NIL)
            if pmt.is_integer(carr) and self.fft_len:
                meta = pmt.dict_add(meta, _K_FREQ_OUT, pmt.from_double(pmt.to_long(carr) / self.fft_len))
            freq = pmt.dict_ref(src, _K_FREQ, pmt.PMT_NIL)
            if pmt.is_number(freq):
                meta = pmt.dict_add(meta, _K_FREQ_OUT, pmt.from_double(pmt.to_double(freq)))
            for key in (_K_MCS, _K_FEC):
                v = pmt.dict_ref(src, key, pmt.PMT_NIL)
                if pmt.is_symbol(v):
                    meta = pmt.dict_add(meta, key, v)
            snr = pmt.dict_ref(src, _K_SNR, pmt.PMT_NIL)
            if pmt.is_real(snr) and math.isfinite(pmt.to_double(snr)):
                self._snr = round(pmt.to_double(snr), 2)
                self._snr_pmt = snr
        if self._snr_pmt is not None:
            meta = pmt.dict_add(meta, _K_SNR, self._snr_pmt)
        self.counters["rx_ok"] += 1
        self.counters["rx_bytes"] += n
        self.message_port_pub(_P_OUT, pmt.cons(meta, data))
        self._status()
