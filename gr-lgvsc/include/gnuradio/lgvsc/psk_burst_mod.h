/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef INCLUDED_LGVSC_PSK_BURST_MOD_H
#define INCLUDED_LGVSC_PSK_BURST_MOD_H

#include <gnuradio/block.h>
#include <gnuradio/lgvsc/api.h>
#include <gnuradio/lgvsc/ofdm_phy_config.h>

namespace gr {
namespace lgvsc {

/*!
 * \brief PDU (payload + CRC) in, the symbols of one single-carrier PSK burst out (c32vector PDU).
 *
 * Burst: 64 alternating BPSK symbols, the 64-bit access code (BPSK), the 56-bit header
 * (length, counter, MCS, CRC-16; rate-1/2 K=7 CC, 4 whitened copies, BPSK), the payload
 * (scrambled, gr-fec code of the MCS, BPSK or QPSK), ``gap`` zero symbols.  BPSK points lie
 * on the QPSK diagonals so one 4th-order Costas loop tracks every part.  Unit power.
 * Only cfg's MCS table, constellations (BPSK, QPSK), polar_list and max_bytes are used.
 * Message port "in": PDUs whose metadata may carry "mcs" (name or id); "out": bursts.
 */
class LGVSC_API psk_burst_mod : virtual public gr::block
{
public:
    typedef std::shared_ptr<psk_burst_mod> sptr;
    static sptr make(const ofdm_phy_config& cfg, int default_mcs, int payload_mod, int gap_symbols);
    //! symbols of the burst (incl. gap) for nbytes of payload + CRC in mcs
    virtual int burst_len(int nbytes, int mcs) const = 0;
    //! modulation id (0 BPSK, 1 QPSK) of mcs
    virtual int mod_of(int mcs) const = 0;
};

} // namespace lgvsc
} // namespace gr

#endif
