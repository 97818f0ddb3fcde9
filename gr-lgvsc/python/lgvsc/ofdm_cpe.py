# SPDX-License-Identifier: GPL-3.0-or-later
"""Pilot-aided common-phase-error correction for OFDM payload symbols
(internal block of ``ofdm_pdu_rx``, not a GRC block)."""

import numpy as np
import pmt
from gnuradio import gr

__all__ = ["ofdm_cpe"]


class ofdm_cpe(gr.sync_block):
    """Rotate every OFDM symbol by the common phase error seen on its pilots.

    Why a custom block: gr-digital 3.10 has two payload equalisers,
    ``ofdm_equalizer_simpledfe`` (decision-directed; it outputs *hard*
    decisions, so the soft Viterbi decoder gets no soft information and a
    wrong decision at low SNR rotates that carrier's channel state for the
    rest of the packet) and ``ofdm_equalizer_static`` (soft output, but it
    never tracks the phase, and it overwrites the pilot carriers with their
    known values).  ``ofdm_pdu_rx`` therefore runs the static equaliser with the
    pilots declared as ordinary carriers (so they come out equalised, not
    overwritten) and this block then estimates, per OFDM symbol, the phase of
    ``sum(pilot_rx * conj(pilot_known))`` and de-rotates the symbol.  The
    estimate is stateless per symbol: no error propagates between symbols.

    Input/output: vectors of ``fft_len`` complex (frequency domain, DC
    shifted to the middle as the gr-digital OFDM chain produces them).  The
    pilot set of a symbol is ``(symbols_skipped + index in frame) % n_sets``;
    frames start at a ``frame_key`` tag.

    Args:
        fft_len: FFT length.
        pilot_carriers: gr-digital pilot carrier sets (carrier indices, 0 = DC).
        pilot_symbols: gr-digital pilot symbol sets (same shape).
        symbols_skipped: symbols of the frame already consumed before this
            stream (1 for the OFDM header symbol).
        frame_key: tag key marking the first symbol of every frame.
    """

    def __init__(self, fft_len=64, pilot_carriers=((-21, -7, 7, 21),), pilot_symbols=((1, 1, 1, -1),),
                 symbols_skipped=1, frame_key="frame_len"):
        gr.sync_block.__init__(self, name="lgvsc_ofdm_cpe", in_sig=[(np.complex64, fft_len)],
                               out_sig=[(np.complex64, fft_len)])
        self.fft_len = int(fft_len)
        n_sets = max(len(pilot_carriers), len(pilot_symbols))
        # Pilot index k of set s is carrier pilot_carriers[s % len] (shifted), known value pilot_symbols[s].
        self._idx = np.array([[(c + fft_len // 2) % fft_len for c in pilot_carriers[s % len(pilot_carriers)]]
                              for s in range(n_sets)], dtype=np.int64)
        self._known_conj = np.conj(np.array([pilot_symbols[s % len(pilot_symbols)] for s in range(n_sets)],
                                            dtype=np.complex64))
        self._n_sets = n_sets
        self._skip = int(symbols_skipped)
        self._key = pmt.intern(frame_key)
        self._pos = 0  # index within the current frame of the next input symbol

    def work(self, input_items, output_items):
        x = input_items[0]
        n = len(x)
        base = self.nitems_read(0)
        # Index of each symbol within its frame: restart at every frame tag.
        starts = np.full(n, -1, dtype=np.int64)
        for tag in self.get_tags_in_window(0, 0, n, self._key):
            starts[tag.offset - base] = tag.offset - base
        last = np.maximum.accumulate(starts)
        pos = np.where(last >= 0, np.arange(n) - last, self._pos + np.arange(n))
        self._pos = int(pos[-1]) + 1
        sets = (pos + self._skip) % self._n_sets
        pil = np.take_along_axis(x, self._idx[sets], axis=1)
        corr = np.sum(pil * self._known_conj[sets], axis=1)
        mag = np.abs(corr)
        rot = np.where(mag > 0, np.conj(corr) / np.where(mag > 0, mag, 1), 1).astype(np.complex64)
        output_items[0][:] = x * rot[:, None]
        return n
