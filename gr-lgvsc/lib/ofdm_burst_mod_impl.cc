/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PDU -> OFDM burst on a tagged complex stream.  See include/gnuradio/lgvsc/ofdm_burst_mod.h. */
#include "mcs_codec.h"
#include "ofdm_common.h"
#include <gnuradio/fec/cc_common.h>
#include <gnuradio/fec/cc_encoder.h>
#include <gnuradio/fft/fft.h>
#include <gnuradio/io_signature.h>
#include <gnuradio/lgvsc/ofdm_burst_mod.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

namespace gr {
namespace lgvsc {

class ofdm_burst_mod_impl : public ofdm_burst_mod
{
    ofdm_layout d_l;
    mcs_codec d_codec;  // the payload FEC per MCS (the same objects as ofdm_burst_demod's)
    int d_default_mcs, d_payload_mod, d_gap;
    uint16_t d_seq = 0;
    gr::fec::generic_encoder::sptr d_hdr_enc;
    gr::fft::fft_complex_rev d_ifft;
    float d_scale;
    std::vector<gr_complex> d_train_td;
    const pmt::pmt_t d_in = pmt::mp("in"), d_key_mcs = pmt::mp("mcs"), d_len_key;
    std::vector<gr_complex> d_burst;  // the burst being written
    size_t d_pos = 0;                 // its next sample (== size: none pending)
    std::vector<gr_complex> d_X, d_td;
    std::vector<uint8_t> d_sym, d_hdr, d_hc;
    std::atomic<uint64_t> d_bursts{ 0 }, d_dropped{ 0 };

public:
    ofdm_burst_mod_impl(const ofdm_phy_config& cfg, int default_mcs, int payload_mod, int gap,
                        const std::string& len_tag_key)
        : gr::block("ofdm_burst_mod", io_signature::make(0, 0, 0), io_signature::make(1, 1, sizeof(gr_complex))),
          d_l(cfg), d_codec(cfg), d_default_mcs(default_mcs), d_payload_mod(payload_mod), d_gap(gap),
          d_ifft(cfg.fft_len, 1), d_len_key(pmt::mp(len_tag_key))
    {
        if (default_mcs < 0 || default_mcs >= d_l.mcs_count())
            throw std::invalid_argument("default MCS id out of range");
        if (payload_mod < 0 || payload_mod >= (int)d_l.bps.size())
            throw std::invalid_argument("payload modulation id out of range");
        if (gap < 0)
            throw std::invalid_argument("gap must be >= 0");
        if (len_tag_key.empty())
            throw std::invalid_argument("len_tag_key must not be empty");
        d_scale = 1.0f / std::sqrt((float)d_l.n_active);
        d_hdr_enc = gr::fec::code::cc_encoder::make(HDR_BITS, 7, 2, { 109, 79 }, 0, CC_TAILBITING);
        // Time-domain training symbol (one copy).
        std::vector<gr_complex> X(cfg.fft_len, 0);
        for (int i = 0; i < d_l.n_active; i++)
            X[d_l.active_bins[i]] = d_l.train[i];
        symbol_td(X, d_train_td);
        // No message handler: the port's queue holds the PDUs until general_work has output room.
        message_port_register_in(d_in);
        d_X.resize(cfg.fft_len);
        d_hc.resize(HDR_CODED);
        d_hdr.resize(d_l.hdr_coded_bits);
    }

    uint64_t bursts() const override { return d_bursts.load(); }
    uint64_t dropped() const override { return d_dropped.load(); }

    // A source: the scheduler calls this whenever there is output room (and again after a message
    // arrives).  Whole bursts while they fit; a burst longer than the free space goes out in pieces.
    int general_work(int noutput_items, gr_vector_int&, gr_vector_const_void_star&,
                     gr_vector_void_star& output_items) override
    {
        auto* out = static_cast<gr_complex*>(output_items[0]);
        int produced = 0;
        while (produced < noutput_items) {
            if (d_pos == d_burst.size()) {
                pmt::pmt_t msg = delete_head_nowait(d_in);
                if (msg.get() == nullptr)
                    break;
                if (!build(msg))
                    continue;
                d_pos = 0;
            }
            size_t left = d_burst.size() - d_pos, room = (size_t)(noutput_items - produced);
            if (d_pos == 0) {
                if (left > room && produced > 0)
                    break;  // the next burst starts whole in a later call
                add_item_tag(0, nitems_written(0) + produced, d_len_key, pmt::from_long((long)d_burst.size()));
                d_bursts++;
            }
            size_t n = std::min(left, room);
            memcpy(out + produced, d_burst.data() + d_pos, n * sizeof(gr_complex));
            d_pos += n;
            produced += (int)n;
        }
        return produced;
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
    void append_symbol(const uint8_t* bits, int mod)
    {
        auto& burst = d_burst;
        auto& X = d_X;
        auto& td = d_td;
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

    // PDU -> d_burst (false: malformed, logged, counted, dropped).
    bool build(const pmt::pmt_t& msg)
    {
        if (!pmt::is_pair(msg) || !pmt::is_u8vector(pmt::cdr(msg))) {
            d_logger->error("input is not a PDU; dropped");
            d_dropped++;
            return false;
        }
        size_t n = 0;
        const uint8_t* data = pmt::u8vector_elements(pmt::cdr(msg), n);
        if (n == 0 || (int)n > d_l.cfg.max_bytes) {
            d_logger->error("PDU of {:d} bytes outside 1..{:d}; dropped", n, d_l.cfg.max_bytes);
            d_dropped++;
            return false;
        }
        int mcs = resolve_mcs(pmt::car(msg));
        int mod = mod_of(mcs), b = d_l.bps[mod];
        const auto& cfg = d_l.cfg;
        // 1. scramble (every MCS), 2. encode (the last polar codeword padded with scrambler output).
        payload_scrambler scr(SCRAMBLE_SEED);
        std::vector<uint8_t> info(8 * n);
        for (size_t i = 0; i < 8 * n; i++)
            info[i] = ((data[i / 8] >> (7 - i % 8)) & 1) ^ scr.next();
        std::vector<uint8_t> coded = d_codec.encode(mcs, std::move(info), [&scr] { return scr.next(); });
        int ncb = d_l.n_data * b;
        int nsym = (int)((coded.size() + ncb - 1) / ncb);
        while ((int)coded.size() < nsym * ncb) // fill the last symbol with scrambler output
            coded.push_back(scr.next());
        // Header: CC, repeated to fill n_hdr_sym symbols, whitened.
        auto hb = header_bits((int)n, d_seq++, (mcs << 3) | mod);
        d_hdr_enc->generic_work(hb.data(), d_hc.data());
        int hmod = cfg.header_mod, hbps = d_l.bps[hmod], hncb = d_l.n_data * hbps;
        lfsr7 wh(HDR_WHITEN_SEED);
        for (int i = 0; i < d_l.hdr_coded_bits; i++)
            d_hdr[i] = d_hc[i % HDR_CODED] ^ wh.next();

        int cp = cfg.cp_len;
        d_burst.clear();
        d_burst.reserve(d_l.burst_samples((int)n, mcs, mod) + d_gap);
        d_burst.insert(d_burst.end(), d_train_td.end() - cp, d_train_td.end());
        for (int r = 0; r < N_TRAIN; r++)
            d_burst.insert(d_burst.end(), d_train_td.begin(), d_train_td.end());
        d_sym.resize(std::max(hncb, ncb));
        for (int s = 0; s < d_l.n_hdr_sym; s++) {
            interleave_into(d_hdr.data() + s * hncb, hbps, d_sym.data());
            append_symbol(d_sym.data(), hmod);
        }
        for (int s = 0; s < nsym; s++) {
            interleave_into(coded.data() + (size_t)s * ncb, b, d_sym.data());
            append_symbol(d_sym.data(), mod);
        }
        d_burst.resize(d_burst.size() + d_gap, gr_complex(0));
        return true;
    }
};

ofdm_burst_mod::sptr
ofdm_burst_mod::make(const ofdm_phy_config& cfg, int default_mcs, int payload_mod, int gap,
                     const std::string& len_tag_key)
{
    return gnuradio::make_block_sptr<ofdm_burst_mod_impl>(cfg, default_mcs, payload_mod, gap, len_tag_key);
}

} // namespace lgvsc
} // namespace gr
