/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Burst format shared by psk_burst_mod and psk_burst_demod (docs/PHY.md "PSK PHY"). */
#ifndef INCLUDED_LGVSC_PSK_COMMON_H
#define INCLUDED_LGVSC_PSK_COMMON_H

#include "mcs_codec.h"
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace gr {
namespace lgvsc {

constexpr int PSK_PREAMBLE = 64;  // alternating BPSK symbols (clock recovery / Costas settling)
constexpr int PSK_AC = 64;        // access code symbols (BPSK)
// gr-digital's default access code (packet_utils.default_access_code), MSB first
constexpr uint64_t PSK_ACCESS_CODE = 0xACDDA4E2F28C20FCull;
constexpr int PSK_HDR_REP = 4;    // copies of the CC-coded 56-bit header (BPSK, soft combined)
constexpr int PSK_HDR_SYMS = PSK_HDR_REP * HDR_CODED;
constexpr int PSK_BPSK = 0, PSK_QPSK = 1;  // modulation ids (cfg.constellations order)

inline int psk_bits(int mod) { return mod == PSK_QPSK ? 2 : 1; }

inline int psk_ac_bit(int i) { return (int)((PSK_ACCESS_CODE >> (63 - i)) & 1); }

//! Checked PSK view of an MCS table: the codec and the constellations (BPSK, QPSK).
struct psk_layout {
    ofdm_phy_config cfg;
    mcs_codec codec;
    explicit psk_layout(const ofdm_phy_config& c) : cfg(c), codec(c)
    {
        if (c.constellations.size() < 2 || c.constellations[PSK_BPSK].size() != 2 ||
            c.constellations[PSK_QPSK].size() != 4)
            throw std::invalid_argument("constellations must start with BPSK (2 points) and QPSK (4)");
    }
    int count() const { return codec.count(); }
    //! the MCS's modulation, -1 = the block's payload modulation; < -1: not carried by PSK
    int mcs_mod(int m) const
    {
        int v = cfg.mcs_mod.at(m);
        return (v == -1 || v == PSK_BPSK || v == PSK_QPSK) ? v : -2;
    }
    bool supported(int m) const { return mcs_mod(m) >= -1; }
    int mod_of(int m, int payload_mod) const
    {
        int v = mcs_mod(m);
        return v == -1 ? payload_mod : v;
    }
    long payload_symbols(int nbytes, int m, int mod) const
    {
        int b = psk_bits(mod);
        return (codec.coded_bits(nbytes, m) + b - 1) / b;
    }
    long burst_symbols(int nbytes, int m, int mod) const
    {
        return PSK_PREAMBLE + PSK_AC + PSK_HDR_SYMS + payload_symbols(nbytes, m, mod);
    }
};

} // namespace lgvsc
} // namespace gr

#endif
