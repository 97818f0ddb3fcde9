/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef INCLUDED_LGVSC_OFDM_BURST_DEMOD_H
#define INCLUDED_LGVSC_OFDM_BURST_DEMOD_H

#include <gnuradio/lgvsc/api.h>
#include <gnuradio/lgvsc/burst_counters.h>
#include <gnuradio/lgvsc/ofdm_phy_config.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace lgvsc {

/*!
 * \brief Complex baseband in, decoded PDUs (payload + CRC, not yet checked) out.
 *
 * Schmidl & Cox detection on the repeated training symbol, fractional and
 * integer CFO, fine timing by cross-correlation, channel estimate averaged
 * over 3 training symbols and smoothed across carriers, coded header (CC +
 * repetition, soft combining, CRC-16), per-symbol pilot tracking of phase and
 * phase slope, CSI-weighted max-log LLRs, deinterleaving, gr-fec decoding,
 * descrambling.  Message port "out": pmt::cons(meta, u8vector) with meta keys
 * packet_num, mcs, fec, snr_db, freq_offset.  Port "hdr_fail": a counter
 * message per detection whose header failed its CRC.
 */
class LGVSC_API ofdm_burst_demod : virtual public gr::sync_block, public burst_counters
{
public:
    typedef std::shared_ptr<ofdm_burst_demod> sptr;
    static sptr make(const ofdm_phy_config& cfg, int payload_mod, int max_int_cfo, float threshold);
    virtual uint64_t detections() const = 0;
    virtual uint64_t header_failures() const = 0;
    virtual double last_snr_db() const = 0;
};

} // namespace lgvsc
} // namespace gr

#endif
