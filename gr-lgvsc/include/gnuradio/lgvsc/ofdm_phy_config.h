/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef INCLUDED_LGVSC_OFDM_PHY_CONFIG_H
#define INCLUDED_LGVSC_OFDM_PHY_CONFIG_H

#include <gnuradio/gr_complex.h>
#include <gnuradio/lgvsc/api.h>
#include <string>
#include <vector>

namespace gr {
namespace lgvsc {

/*!
 * \brief Everything ofdm_burst_mod and ofdm_burst_demod must agree on.
 *
 * Built by the Python PHY (gnuradio.lgvsc.phy_common.ofdm_config) from the
 * MCS table, the carrier layout and gr-digital's constellations, so that the
 * table has one source of truth.
 */
struct LGVSC_API ofdm_phy_config {
    int fft_len = 64;
    int cp_len = 16;
    std::vector<int> occupied;              //!< data carriers (signed index, 0 = DC)
    std::vector<int> pilots;                //!< pilot carriers
    std::vector<gr_complex> pilot_symbols;  //!< one value per pilot carrier
    //! constellations (unit power, index = bits MSB first); index = modulation id
    std::vector<std::vector<gr_complex>> constellations;
    std::vector<std::string> mcs_names;     //!< MCS id -> name
    std::vector<int> mcs_code;              //!< 0 none, 1 cc (rate 1/2 K=7), 2 polar, 3 ldpc (5G NR)
    std::vector<int> mcs_mod;               //!< modulation id, -1 = the block's payload modulation
    std::vector<int> mcs_n;                 //!< polar block length N; ldpc: rate denominator (0 otherwise)
    std::vector<int> mcs_k;                 //!< polar information bits K; ldpc: rate numerator (0 otherwise)
    std::vector<std::vector<int>> mcs_frozen; //!< polar frozen bit positions
    int polar_list = 4;                     //!< SC-list size of the polar decoder
    int header_mod = 1;                     //!< modulation id of the coded header
    int max_bytes = 1504;                   //!< largest PDU + CRC the blocks handle
};

} // namespace lgvsc
} // namespace gr

#endif
