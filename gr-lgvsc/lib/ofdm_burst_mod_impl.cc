/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PDU -> OFDM burst (c32vector PDU).  See include/gnuradio/lgvsc/ofdm_burst_mod.h. */
#include "ofdm_common.h"
#include <gnuradio/fec/cc_common.h>
#include <gnuradio/fec/cc_encoder.h>
#include <gnuradio/fec/polar_encoder.h>
#include <gnuradio/fft/fft.h>
#include <gnuradio/io_signature.h>
#include <gnuradio/lgvsc/ldpc_5g.h>
#include <gnuradio/lgvsc/ofdm_burst_mod.h>
#include <cmath>
#include <cstring>

namespace gr {
namespace lgvsc {

class ofdm_burst_mod_impl : public ofdm_burst_mod
{
    ofdm_layout d_l;
    int d_default_mcs, d_payload_mod, d_gap;
    uint16_t d_seq = 0;
    std::vector<gr::fec::generic_encoder::sptr> d_enc;
    gr::fec::generic_encoder::sptr d_hdr_enc;
    ldpc_5g d_ldpc;  // 5G NR LDPC (CODE_LDPC MCSs)
    gr::fft::fft_complex_rev d_ifft;
    float d_scale;
    std::vector<gr_complex> d_train_td;
    const pmt::pmt_t d_out = pmt::mp("out"), d_key_mcs = pmt::mp("mcs"), d_empty = pmt::make_dict();

public:
    ofdm_burst_mod_impl(const ofdm_phy_config& cfg, int default_mcs, int payload_mod, int gap)
        : gr::block("ofdm_burst_mod", io_signature::make(0, 0, 0), io_signature::make(0, 0, 0)),
          d_l(cfg), d_default_mcs(default_mcs), d_payload_mod(payload_mod), d_gap(gap),
          d_ifft(cfg.fft_len, 1)
    {
        if (default_mcs < 0 || default_mcs >= d_l.mcs_count())
            throw std::invalid_argument("default MCS id out of range");
        if (payload_mod < 0 || payload_mod >= (int)d_l.bps.size())
            throw std::invalid_argument("payload modulation id out of range");
        if (gap < 0)
            throw std::invalid_argument("gap must be >= 0");
        d_scale = 1.0f / std::sqrt((float)d_l.n_active);
        for (int m = 0; m < d_l.mcs_count(); m++) {
            if (cfg.mcs_code[m] == CODE_CC)
                d_enc.push_back(gr::fec::code::cc_encoder::make(
                    8 * cfg.max_bytes, 7, 2, { 109, 79 }, 0, CC_TAILBITING));
            else if (cfg.mcs_code[m] == CODE_POLAR)
                d_enc.push_back(gr::fec::code::polar_encoder::make(
                    cfg.mcs_n[m], cfg.mcs_k[m], cfg.mcs_frozen[m],
                    std::vector<uint8_t>(cfg.mcs_frozen[m].size(), 0), false));
            else
                d_enc.push_back(nullptr);
        }
        d_hdr_enc = gr::fec::code::cc_encoder::make(HDR_BITS, 7, 2, { 109, 79 }, 0, CC_TAILBITING);
        // Time-domain training symbol (one copy).
        std::vector<gr_complex> X(cfg.fft_len, 0);
        for (int i = 0; i < d_l.n_active; i++)
            X[d_l.active_bins[i]] = d_l.train[i];
        symbol_td(X, d_train_td);
        message_port_register_in(pmt::mp("in"));
        message_port_register_out(d_out);
        set_msg_handler(pmt::mp("in"), [this](const pmt::pmt_t& m) { handle(m); });
    }

    int mod_of(int mcs) const override
    {
        int m = d_l.cfg.mcs_mod.at(mcs);
        return m < 0 ? d_payload_mod : m;
    }

    int burst_len(int nbytes, int mcs) const override
    {
        return d_l.burst_samples(nbytes, mcs, mod_of(mcs)) + d_gap;
    }

private:
    void symbol_td(const std::vector<gr_complex>& X, std::vector<gr_complex>& out)
    {
        memcpy(d_ifft.get_inbuf(), X.data(), X.size() * sizeof(gr_complex));
        d_ifft.execute();
        out.resize(X.size());
        for (size_t i = 0; i < X.size(); i++)
            out[i] = d_ifft.get_outbuf()[i] * d_scale;
    }

    int resolve_mcs(const pmt::pmt_t& meta)
    {
        if (!pmt::is_dict(meta))
            return d_default_mcs;
        pmt::pmt_t v = pmt::dict_ref(meta, d_key_mcs, pmt::PMT_NIL);
        if (pmt::is_symbol(v)) {
            std::string s = pmt::symbol_to_string(v);
            for (int m = 0; m < d_l.mcs_count(); m++)
                if (d_l.cfg.mcs_names[m] == s)
                    return m;
            d_logger->error("unknown mcs {:s} in PDU metadata; using the default", s);
        } else if (pmt::is_integer(v)) {
            long m = pmt::to_long(v);
            if (m >= 0 && m < d_l.mcs_count())
                return (int)m;
            d_logger->error("mcs id {:d} out of range; using the default", m);
        }
        return d_default_mcs;
    }

    // Map one symbol's worth of (already interleaved) bits + pilots, append CP + symbol.
    void append_symbol(const uint8_t* bits, int mod, std::vector<gr_complex>& burst,
                       std::vector<gr_complex>& X, std::vector<gr_complex>& td)
    {
        const auto& pts = d_l.cfg.constellations[mod];
        int b = d_l.bps[mod];
        std::fill(X.begin(), X.end(), gr_complex(0));
        for (int i = 0; i < d_l.n_data; i++) {
            unsigned idx = 0;
            for (int j = 0; j < b; j++)
                idx = (idx << 1) | bits[i * b + j];
            X[d_l.data_bins[i]] = pts[idx];
        }
        for (size_t p = 0; p < d_l.pilot_bins.size(); p++)
            X[d_l.pilot_bins[p]] = d_l.cfg.pilot_symbols[p];
        symbol_td(X, td);
        int L = d_l.cfg.fft_len, cp = d_l.cfg.cp_len;
        burst.insert(burst.end(), td.end() - cp, td.end());
        burst.insert(burst.end(), td.begin(), td.begin() + L);
    }

    void interleave_into(const uint8_t* in, int b, uint8_t* out)
    {
        const auto& p = d_l.perm(b);
        for (size_t k = 0; k < p.size(); k++)
            out[p[k]] = in[k];
    }

    void handle(const pmt::pmt_t& msg)
    {
        if (!pmt::is_pair(msg) || !pmt::is_u8vector(pmt::cdr(msg))) {
            d_logger->error("input is not a PDU; dropped");
            return;
        }
        size_t n = 0;
        const uint8_t* data = pmt::u8vector_elements(pmt::cdr(msg), n);
        if (n == 0 || (int)n > d_l.cfg.max_bytes) {
            d_logger->error("PDU of {:d} bytes outside 1..{:d}; dropped", n, d_l.cfg.max_bytes);
            return;
        }
        int mcs = resolve_mcs(pmt::car(msg));
        int mod = mod_of(mcs), b = d_l.bps[mod];
        const auto& cfg = d_l.cfg;
        // 1. scramble (every MCS), 2. encode.
        payload_scrambler scr(SCRAMBLE_SEED);
        std::vector<uint8_t> info(8 * n);
        for (size_t i = 0; i < 8 * n; i++)
            info[i] = ((data[i / 8] >> (7 - i % 8)) & 1) ^ scr.next();
        std::vector<uint8_t> coded;
        if (cfg.mcs_code[mcs] == CODE_NONE) {
            coded.swap(info);
        } else if (cfg.mcs_code[mcs] == CODE_CC) {
            coded.resize(2 * info.size());
            d_enc[mcs]->set_frame_size(info.size());
            d_enc[mcs]->generic_work(info.data(), coded.data());
        } else if (cfg.mcs_code[mcs] == CODE_LDPC) {
            coded.resize(d_l.coded_bits((int)n, mcs));
            d_ldpc.encode_pdu(info.data(), (long)info.size(), cfg.mcs_k[mcs], cfg.mcs_n[mcs], coded.data());
        } else {
            int N = cfg.mcs_n[mcs], K = cfg.mcs_k[mcs];
            size_t ncw = (info.size() + K - 1) / K;
            while (info.size() < ncw * K) // pad the last codeword with scrambler output
                info.push_back(scr.next());
            coded.resize(ncw * N);
            for (size_t c = 0; c < ncw; c++)
                d_enc[mcs]->generic_work(info.data() + c * K, coded.data() + c * N);
        }
        int ncb = d_l.n_data * b;
        int nsym = (int)((coded.size() + ncb - 1) / ncb);
        while ((int)coded.size() < nsym * ncb) // fill the last symbol with scrambler output
            coded.push_back(scr.next());
        // Header: CC, repeated to fill n_hdr_sym symbols, whitened.
        auto hb = header_bits((int)n, d_seq++, (mcs << 3) | mod);
        std::vector<uint8_t> hc(HDR_CODED);
        d_hdr_enc->generic_work(hb.data(), hc.data());
        int hmod = cfg.header_mod, hbps = d_l.bps[hmod], hncb = d_l.n_data * hbps;
        std::vector<uint8_t> hdr(d_l.hdr_coded_bits);
        lfsr7 wh(HDR_WHITEN_SEED);
        for (int i = 0; i < d_l.hdr_coded_bits; i++)
            hdr[i] = hc[i % HDR_CODED] ^ wh.next();

        int L = cfg.fft_len, cp = cfg.cp_len;
        std::vector<gr_complex> burst;
        burst.reserve(d_l.burst_samples((int)n, mcs, mod) + d_gap);
        burst.insert(burst.end(), d_train_td.end() - cp, d_train_td.end());
        for (int r = 0; r < N_TRAIN; r++)
            burst.insert(burst.end(), d_train_td.begin(), d_train_td.end());
        std::vector<gr_complex> X(L), td;
        std::vector<uint8_t> sym(std::max(hncb, ncb));
        for (int s = 0; s < d_l.n_hdr_sym; s++) {
            interleave_into(hdr.data() + s * hncb, hbps, sym.data());
            append_symbol(sym.data(), hmod, burst, X, td);
        }
        for (int s = 0; s < nsym; s++) {
            interleave_into(coded.data() + (size_t)s * ncb, b, sym.data());
            append_symbol(sym.data(), mod, burst, X, td);
        }
        burst.resize(burst.size() + d_gap, gr_complex(0));
        message_port_pub(d_out, pmt::cons(d_empty, pmt::init_c32vector(burst.size(), burst.data())));
    }
};

ofdm_burst_mod::sptr
ofdm_burst_mod::make(const ofdm_phy_config& cfg, int default_mcs, int payload_mod, int gap)
{
    return gnuradio::make_block_sptr<ofdm_burst_mod_impl>(cfg, default_mcs, payload_mod, gap);
}

} // namespace lgvsc
} // namespace gr
