/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internal pieces shared by ofdm_burst_mod and ofdm_burst_demod. */
#ifndef INCLUDED_LGVSC_OFDM_COMMON_H
#define INCLUDED_LGVSC_OFDM_COMMON_H

#include <gnuradio/fec/generic_decoder.h>
#include <gnuradio/fec/generic_encoder.h>
#include <gnuradio/lgvsc/ofdm_phy_config.h>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace gr {
namespace lgvsc {

// CODE_LDPC: 5G NR LDPC (ldpc_5g.h); its MCS entry's mcs_k / mcs_n are the code rate's
// numerator / denominator (e.g. 1 / 3), mcs_frozen is unused.
enum { CODE_NONE = 0, CODE_CC = 1, CODE_POLAR = 2, CODE_LDPC = 3 };
constexpr int HDR_BITS = 56;          // len 16 | seq 16 | mcs 8 | crc16 16
constexpr int HDR_CODED = 2 * HDR_BITS;
constexpr int HDR_MIN_REP = 6;        // coded header bits are repeated at least 6x (-2 dB, docs/PHY.md)
constexpr int N_TRAIN = 4;            // identical training symbols after one CP

//! x^7 + x^4 + 1 additive scrambler (802.11), one bit per call.
struct lfsr7 {
    unsigned s;
    explicit lfsr7(unsigned seed) : s(seed & 0x7f) {}
    int next()
    {
        int b = ((s >> 6) ^ (s >> 3)) & 1;
        s = ((s << 1) | b) & 0x7f;
        return b;
    }
};
//! x^23 + x^18 + 1 additive scrambler (PRBS23) for payloads.  lfsr7's period (127 bits) is
//! too short for them: an all-zero PDU then scrambles to a 127-periodic sequence, which the
//! quasi-cyclic LDPC code keeps structured in its parity and the OFDM burst peaked at 2x a
//! random PDU's (paper-0dB).  This one does not repeat within any PDU (2^23 - 1 bits).
struct payload_scrambler {
    unsigned s;
    explicit payload_scrambler(unsigned seed) : s((seed & 0x7fffff) ? (seed & 0x7fffff) : 1) {}
    int next()
    {
        int b = ((s >> 22) ^ (s >> 17)) & 1;
        s = ((s << 1) | b) & 0x7fffff;
        return b;
    }
};
constexpr unsigned SCRAMBLE_SEED = 0x5d;
constexpr unsigned HDR_WHITEN_SEED = 0x2b;

//! Checked view of a configuration: carrier bins, interleavers, codes.
struct ofdm_layout {
    ofdm_phy_config cfg;
    int n_data, n_active, n_hdr_sym, hdr_coded_bits;
    std::vector<int> data_bins, pilot_bins, active_bins;  // FFT bins (DC at 0)
    std::vector<int> active_k;                            // signed index of active_bins
    std::vector<gr_complex> train;                        // frequency-domain training, per active carrier
    std::vector<int> bps;                                 // bits/symbol per modulation id
    std::vector<std::vector<int>> interleave;             // per bps: coded bit i -> position
    explicit ofdm_layout(const ofdm_phy_config& c);
    int bin(int k) const { return (k + cfg.fft_len) % cfg.fft_len; }
    int mcs_count() const { return (int)cfg.mcs_names.size(); }
    const std::vector<int>& perm(int b) const { return interleave[b]; }
    //! coded payload bits for nbytes under mcs (before padding to whole symbols)
    long coded_bits(int nbytes, int mcs) const;
    int payload_symbols(int nbytes, int mcs, int mod) const;
    int burst_samples(int nbytes, int mcs, int mod) const;  // without gap
};

std::vector<uint8_t> header_bits(int len, int seq, int mcs_byte);
//! CRC-16 (CCITT, via gr::digital::crc) check of 56 decoded bits; fills fields.
bool parse_header(const uint8_t* bits, int& len, int& seq, int& mcs_byte);

} // namespace lgvsc
} // namespace gr

#endif
