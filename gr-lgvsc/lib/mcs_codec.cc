/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "mcs_codec.h"
#include <gnuradio/fec/cc_common.h>
#include <gnuradio/fec/cc_decoder.h>
#include <gnuradio/fec/cc_encoder.h>
#include <gnuradio/fec/polar_decoder_sc_list.h>
#include <gnuradio/fec/polar_encoder.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace lgvsc {

mcs_codec::mcs_codec(const ofdm_phy_config& c)
{
    size_t n = c.mcs_names.size();
    if (n == 0 || c.mcs_code.size() != n || c.mcs_mod.size() != n || c.mcs_n.size() != n ||
        c.mcs_k.size() != n || c.mcs_frozen.size() != n)
        throw std::invalid_argument("MCS table vectors must have the same length");
    if (c.max_bytes < 1 || c.max_bytes > 65535)
        throw std::invalid_argument("max_bytes out of range 1..65535");
    for (size_t m = 0; m < n; m++) {
        int code = c.mcs_code[m];
        d_code.push_back(code);
        d_n.push_back(c.mcs_n[m]);
        d_k.push_back(c.mcs_k[m]);
        // the same gr-fec objects as ofdm_burst_mod / ofdm_burst_demod
        if (code == CODE_CC) {
            d_enc.push_back(gr::fec::code::cc_encoder::make(8 * c.max_bytes, 7, 2, { 109, 79 }, 0,
                                                            CC_TAILBITING));
            d_dec.push_back(gr::fec::code::cc_decoder::make(8 * c.max_bytes, 7, 2, { 109, 79 }, 0, -1,
                                                            CC_TAILBITING));
        } else if (code == CODE_POLAR) {
            int nn = c.mcs_n[m], kk = c.mcs_k[m];
            if (nn < 32 || (nn & (nn - 1)) || kk <= 0 || kk >= nn || (int)c.mcs_frozen[m].size() != nn - kk)
                throw std::invalid_argument("bad polar code in the MCS table");
            std::vector<uint8_t> fv(c.mcs_frozen[m].size(), 0);
            d_enc.push_back(gr::fec::code::polar_encoder::make(nn, kk, c.mcs_frozen[m], fv, false));
            d_dec.push_back(gr::fec::code::polar_decoder_sc_list::make(c.polar_list, nn, kk, c.mcs_frozen[m], fv));
        } else if (code == CODE_LDPC) {
            if (c.mcs_k[m] <= 0 || c.mcs_n[m] < c.mcs_k[m])
                throw std::invalid_argument("bad LDPC rate in the MCS table");
            if (!d_ldpc)
                d_ldpc = std::make_unique<ldpc_5g>();
            d_enc.push_back(nullptr);
            d_dec.push_back(nullptr);
        } else if (code == CODE_NONE) {
            d_enc.push_back(nullptr);
            d_dec.push_back(nullptr);
        } else {
            throw std::invalid_argument("unknown code type in the MCS table");
        }
    }
}

long mcs_codec::coded_bits(int nbytes, int mcs) const
{
    long bits = 8L * nbytes;
    switch (d_code.at(mcs)) {
    case CODE_CC:
        return 2 * bits;
    case CODE_POLAR: {
        long k = d_k[mcs];
        return ((bits + k - 1) / k) * d_n[mcs];
    }
    case CODE_LDPC:
        return ldpc_5g::coded_bits(bits, d_k[mcs], d_n[mcs]);
    default:
        return bits;
    }
}

const char* mcs_codec::code_name(int code)
{
    switch (code) {
    case CODE_NONE:
        return "none";
    case CODE_CC:
        return "cc";
    case CODE_POLAR:
        return "polar";
    case CODE_LDPC:
        return "ldpc";
    default:
        return "unknown";
    }
}

void mcs_codec::viterbi(gr::fec::generic_decoder::sptr dec, const float* l, int n, uint8_t* out, int nbits)
{
    // as ofdm_burst_demod: mean |LLR| -> 48 soft-byte steps around 128 (high = bit 1)
    double m = 0;
    for (int i = 0; i < n; i++)
        m += std::fabs(l[i]);
    float sc = m > 0 ? (float)(48.0 * n / m) : 1.f;
    std::vector<uint8_t> u(n);
    for (int i = 0; i < n; i++)
        u[i] = (uint8_t)std::clamp(128.f + sc * l[i], 0.f, 255.f);
    dec->set_frame_size(nbits);
    dec->generic_work(u.data(), out);
}

std::vector<uint8_t> mcs_codec::decode(int mcs, std::vector<float>& cl, int nbytes)
{
    size_t nb = 8 * (size_t)nbytes;
    std::vector<uint8_t> out;
    if (d_code[mcs] == CODE_NONE) {
        out.resize(nb);
        for (size_t i = 0; i < nb; i++)
            out[i] = cl[i] > 0;
    } else if (d_code[mcs] == CODE_CC) {
        out.resize(nb);
        viterbi(d_dec[mcs], cl.data(), (int)(2 * nb), out.data(), (int)nb);
    } else if (d_code[mcs] == CODE_LDPC) {
        out.resize(nb);
        d_ldpc->decode_pdu(cl.data(), (long)nb, d_k[mcs], d_n[mcs], out.data());
    } else {
        size_t N = d_n[mcs], K = d_k[mcs], ncw = (nb + K - 1) / K;
        out.resize(ncw * K);
        for (size_t c = 0; c < ncw; c++)
            d_dec[mcs]->generic_work(cl.data() + c * N, out.data() + c * K);
    }
    return out;
}

} // namespace lgvsc
} // namespace gr
