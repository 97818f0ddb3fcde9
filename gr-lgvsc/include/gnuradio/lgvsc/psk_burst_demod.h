/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef INCLUDED_LGVSC_PSK_BURST_DEMOD_H
#define INCLUDED_LGVSC_PSK_BURST_DEMOD_H

#include <gnuradio/lgvsc/api.h>
#include <gnuradio/lgvsc/burst_counters.h>
#include <gnuradio/lgvsc/ofdm_phy_config.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace lgvsc {

/*!
 * \brief Symbols (one per symbol, after timing and carrier recovery) in, decoded PDUs
 * (payload + CRC, not yet checked) out.
 *
 * A segmented (carrier-offset tolerant) correlation with the access code finds a burst;
 * phase, frequency and gain come from the preamble and access code, a decision-directed
 * 2nd-order PLL tracks the carrier from there; the coded header is soft combined over its
 * copies and Viterbi decoded (CRC-16); the decoded header is rerun as known data (PLL state,
 * gain and noise); the payload's max-log LLRs go to the decoder of the MCS the header names
 * (mcs_codec: the OFDM PHY's codes); descrambling.  Counts detections / header failures
 * (burst_counters, for pdu_rx_check::set_demod).  Message port "out": pmt::cons(meta, u8vector) with meta keys
 * packet_num, mcs, fec, snr_db (Es/N0 of the burst's known symbols, dB), freq_offset (the carrier
 * offset the PLL tracked over the decoded header, cycles/sample at sps samples/symbol).
 */
class LGVSC_API psk_burst_demod : virtual public gr::sync_block, public burst_counters
{
public:
    typedef std::shared_ptr<psk_burst_demod> sptr;
    //! sps: samples per symbol of the stream before the clock recovery (for freq_offset in cycles/sample)
    static sptr make(const ofdm_phy_config& cfg, int payload_mod, float threshold, int sps = 2);
    virtual double last_snr_db() const = 0;
};

} // namespace lgvsc
} // namespace gr

#endif
