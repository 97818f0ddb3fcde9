/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef INCLUDED_LGVSC_OFDM_BURST_MOD_H
#define INCLUDED_LGVSC_OFDM_BURST_MOD_H

#include <gnuradio/block.h>
#include <gnuradio/lgvsc/api.h>
#include <gnuradio/lgvsc/ofdm_phy_config.h>
#include <cstdint>
#include <string>

namespace gr {
namespace lgvsc {

/*!
 * \brief PDU (payload + CRC) in, complete OFDM bursts out on a complex stream.
 *
 * Message port "in": PDUs whose metadata may carry "mcs" (a symbol naming an
 * entry of the MCS table, or an integer id); otherwise the default MCS.
 * Stream output 0 (complex): per PDU one burst of preamble, coded header,
 * payload and ``gap`` zeros, unit average power inside the burst, its first
 * sample tagged ``len_tag_key`` = burst length in samples (incl. the gap).
 *
 * The port's message queue is the buffer: PDUs are taken from it only while
 * there is room on the output, as many whole bursts per work call as fit (a
 * burst longer than the free space is written in pieces), so a slow sink
 * loses nothing.  GNU Radio's scheduler itself drops (and logs) the oldest
 * message when more than its max_messages (8192) PDUs wait.
 * Scrambles (PRBS23) before the FEC in every MCS, encodes with gr-fec / 5G
 * LDPC (mcs_codec), interleaves the bits of every OFDM symbol across its carriers.
 */
class LGVSC_API ofdm_burst_mod : virtual public gr::block
{
public:
    typedef std::shared_ptr<ofdm_burst_mod> sptr;
    static sptr make(const ofdm_phy_config& cfg, int default_mcs, int payload_mod, int gap,
                     const std::string& len_tag_key = "packet_len");
    //! samples of the burst (incl. gap) for a PDU of nbytes (payload + CRC)
    virtual int burst_len(int nbytes, int mcs) const = 0;
    //! modulation id used by mcs (resolving -1 to the block's payload modulation)
    virtual int mod_of(int mcs) const = 0;
    //! bursts whose first sample has been written
    virtual uint64_t bursts() const = 0;
    //! PDUs dropped as malformed (not a u8vector PDU, or 0 / > max_bytes bytes)
    virtual uint64_t dropped() const = 0;
};

} // namespace lgvsc
} // namespace gr

#endif
