/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The payload FEC of an MCS table entry (ofdm_phy_config's mcs_* vectors): gr-fec encoder
 * and soft decoder objects per MCS (gr-lgvsc's ldpc_5g for CODE_LDPC), and how many coded bits a PDU becomes.  Used by the PSK
 * burst blocks so their presets run the same gr-fec code as the OFDM PHY's. */
#ifndef INCLUDED_LGVSC_MCS_CODEC_H
#define INCLUDED_LGVSC_MCS_CODEC_H

#include "ofdm_common.h"
#include <gnuradio/fec/generic_decoder.h>
#include <gnuradio/fec/generic_encoder.h>
#include <gnuradio/lgvsc/ldpc_5g.h>
#include <cstdint>
#include <memory>
#include <vector>

namespace gr {
namespace lgvsc {

class mcs_codec
{
public:
    //! Checks the table (code types, polar N/K/frozen); std::invalid_argument otherwise.
    explicit mcs_codec(const ofdm_phy_config& cfg);
    int count() const { return (int)d_code.size(); }
    int code(int mcs) const { return d_code.at(mcs); }
    //! coded bits for nbytes of (PDU + CRC) under mcs
    long coded_bits(int nbytes, int mcs) const;
    //! info: 8 * nbytes scrambled bits (one per byte); the last polar codeword is padded with
    //! pad() output.  Returns the coded bits (coded_bits(nbytes, mcs) of them).
    template <class PAD>
    std::vector<uint8_t> encode(int mcs, std::vector<uint8_t> info, PAD pad)
    {
        if (d_code[mcs] == CODE_NONE)
            return info;
        std::vector<uint8_t> coded;
        if (d_code[mcs] == CODE_CC) {
            coded.resize(2 * info.size());
            d_enc[mcs]->set_frame_size(info.size());
            d_enc[mcs]->generic_work(info.data(), coded.data());
            return coded;
        }
        if (d_code[mcs] == CODE_LDPC) {
            coded.resize(coded_bits((int)(info.size() / 8), mcs));
            d_ldpc->encode_pdu(info.data(), (long)info.size(), d_k[mcs], d_n[mcs], coded.data());
            return coded;
        }
        size_t N = d_n[mcs], K = d_k[mcs], ncw = (info.size() + K - 1) / K;
        while (info.size() < ncw * K)
            info.push_back((uint8_t)pad());
        coded.resize(ncw * N);
        for (size_t c = 0; c < ncw; c++)
            d_enc[mcs]->generic_work(info.data() + c * K, coded.data() + c * N);
        return coded;
    }
    //! llr: coded_bits(nbytes, mcs) max-log LLRs, positive = bit 1.  Returns >= 8 * nbytes bits.
    std::vector<uint8_t> decode(int mcs, std::vector<float>& llr, int nbytes);
    //! gr-fec's Viterbi (soft bytes 128 +- value, high = 1) of n LLRs into nbits bits.
    //! name of a code type ("none", "cc", "polar"), for the received PDUs' "fec" metadata
    static const char* code_name(int code);
    static void viterbi(gr::fec::generic_decoder::sptr dec, const float* l, int n, uint8_t* out, int nbits);

private:
    std::vector<int> d_code, d_n, d_k;
    std::vector<gr::fec::generic_encoder::sptr> d_enc;
    std::vector<gr::fec::generic_decoder::sptr> d_dec;
    std::unique_ptr<ldpc_5g> d_ldpc;  // CODE_LDPC: mcs_k / mcs_n = the rate's numerator / denominator
};

} // namespace lgvsc
} // namespace gr

#endif
