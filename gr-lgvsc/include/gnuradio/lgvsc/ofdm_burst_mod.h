/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef INCLUDED_LGVSC_OFDM_BURST_MOD_H
#define INCLUDED_LGVSC_OFDM_BURST_MOD_H

#include <gnuradio/block.h>
#include <gnuradio/lgvsc/api.h>
#include <gnuradio/lgvsc/ofdm_phy_config.h>

namespace gr {
namespace lgvsc {

/*!
 * \brief PDU (payload + CRC) in, complete OFDM burst out as a c32vector PDU.
 *
 * Message port "in": PDUs whose metadata may carry "mcs" (a symbol naming an
 * entry of the MCS table, or an integer id); otherwise the default MCS.
 * Message port "out": pmt::cons(meta, c32vector) of preamble, coded header,
 * payload and ``gap`` zeros, unit average power inside the burst.
 * Scrambles (x^7 + x^4 + 1) before the FEC in every MCS, encodes with gr-fec,
 * interleaves the bits of every OFDM symbol across its carriers.
 */
class LGVSC_API ofdm_burst_mod : virtual public gr::block
{
public:
    typedef std::shared_ptr<ofdm_burst_mod> sptr;
    static sptr make(const ofdm_phy_config& cfg, int default_mcs, int payload_mod, int gap);
    //! samples of the burst (incl. gap) for a PDU of nbytes (payload + CRC)
    virtual int burst_len(int nbytes, int mcs) const = 0;
    //! modulation id used by mcs (resolving -1 to the block's payload modulation)
    virtual int mod_of(int mcs) const = 0;
};

} // namespace lgvsc
} // namespace gr

#endif
