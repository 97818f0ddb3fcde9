/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PDU -> single-carrier PSK burst symbols.  See include/gnuradio/lgvsc/psk_burst_mod.h. */
#include "psk_common.h"
#include <gnuradio/fec/cc_common.h>
#include <gnuradio/fec/cc_encoder.h>
#include <gnuradio/io_signature.h>
#include <gnuradio/lgvsc/psk_burst_mod.h>

namespace gr {
namespace lgvsc {

class psk_burst_mod_impl : public psk_burst_mod
{
    psk_layout d_l;
    int d_default_mcs, d_payload_mod, d_gap;
    uint16_t d_seq = 0;
    gr::fec::generic_encoder::sptr d_hdr_enc;
    std::vector<gr_complex> d_head;  // preamble + access code
    const pmt::pmt_t d_out = pmt::mp("out"), d_key_mcs = pmt::mp("mcs"), d_empty = pmt::make_dict();

public:
    psk_burst_mod_impl(const ofdm_phy_config& cfg, int default_mcs, int payload_mod, int gap)
        : gr::block("psk_burst_mod", io_signature::make(0, 0, 0), io_signature::make(0, 0, 0)),
          d_l(cfg), d_default_mcs(default_mcs), d_payload_mod(payload_mod), d_gap(gap)
    {
        if (payload_mod != PSK_BPSK && payload_mod != PSK_QPSK)
            throw std::invalid_argument("payload modulation must be 0 (BPSK) or 1 (QPSK)");
        if (default_mcs < 0 || default_mcs >= d_l.count() || !d_l.supported(default_mcs))
            throw std::invalid_argument("default MCS id out of range or not carried by the PSK PHY");
        if (gap < 0)
            throw std::invalid_argument("gap must be >= 0");
        d_hdr_enc = gr::fec::code::cc_encoder::make(HDR_BITS, 7, 2, { 109, 79 }, 0, CC_TAILBITING);
        const auto& bp = cfg.constellations[PSK_BPSK];
        for (int i = 0; i < PSK_PREAMBLE; i++)
            d_head.push_back(bp[i & 1]);
        for (int i = 0; i < PSK_AC; i++)
            d_head.push_back(bp[psk_ac_bit(i)]);
        message_port_register_in(pmt::mp("in"));
        message_port_register_out(d_out);
        set_msg_handler(pmt::mp("in"), [this](const pmt::pmt_t& m) { handle(m); });
    }

    int mod_of(int mcs) const override { return d_l.mod_of(mcs, d_payload_mod); }

    int burst_len(int nbytes, int mcs) const override
    {
        if (mcs < 0 || mcs >= d_l.count() || !d_l.supported(mcs))
            throw std::invalid_argument("MCS not carried by the PSK PHY");
        return (int)d_l.burst_symbols(nbytes, mcs, mod_of(mcs)) + d_gap;
    }

private:
    int resolve_mcs(const pmt::pmt_t& meta)
    {
        if (!pmt::is_dict(meta))
            return d_default_mcs;
        pmt::pmt_t v = pmt::dict_ref(meta, d_key_mcs, pmt::PMT_NIL);
        int m = -1;
        if (pmt::is_symbol(v)) {
            std::string s = pmt::symbol_to_string(v);
            for (int i = 0; i < d_l.count(); i++)
                if (d_l.cfg.mcs_names[i] == s)
                    m = i;
        } else if (pmt::is_integer(v)) {
            long i = pmt::to_long(v);
            m = (i >= 0 && i < d_l.count()) ? (int)i : -1;
        } else {
            return d_default_mcs;
        }
        if (m < 0 || !d_l.supported(m)) {
            d_logger->error("mcs {:s} in PDU metadata is not a PSK MCS; using the default", pmt::write_string(v));
            return d_default_mcs;
        }
        return m;
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
        int mod = mod_of(mcs), b = psk_bits(mod);
        // scramble (every MCS: no long runs for the clock recovery), encode
        payload_scrambler scr(SCRAMBLE_SEED);
        std::vector<uint8_t> info(8 * n);
        for (size_t i = 0; i < 8 * n; i++)
            info[i] = ((data[i / 8] >> (7 - i % 8)) & 1) ^ scr.next();
        std::vector<uint8_t> coded = d_l.codec.encode(mcs, std::move(info), [&scr] { return scr.next(); });
        while (coded.size() % b)
            coded.push_back(scr.next());
        // header: CC, PSK_HDR_REP whitened copies
        auto hb = header_bits((int)n, d_seq++, (mcs << 3) | mod);
        std::vector<uint8_t> hc(HDR_CODED);
        d_hdr_enc->generic_work(hb.data(), hc.data());
        std::vector<gr_complex> burst(d_head);
        burst.reserve(d_l.burst_symbols((int)n, mcs, mod) + d_gap);
        const auto& bp = d_l.cfg.constellations[PSK_BPSK];
        lfsr7 wh(HDR_WHITEN_SEED);
        for (int i = 0; i < PSK_HDR_SYMS; i++)
            burst.push_back(bp[hc[i % HDR_CODED] ^ wh.next()]);
        const auto& pts = d_l.cfg.constellations[mod];
        for (size_t i = 0; i < coded.size(); i += b) {
            unsigned idx = 0;
            for (int j = 0; j < b; j++)
                idx = (idx << 1) | (coded[i + j] & 1);
            burst.push_back(pts[idx]);
        }
        burst.resize(burst.size() + d_gap, gr_complex(0));
        message_port_pub(d_out, pmt::cons(d_empty, pmt::init_c32vector(burst.size(), burst.data())));
    }
};

psk_burst_mod::sptr psk_burst_mod::make(const ofdm_phy_config& cfg, int default_mcs, int payload_mod, int gap)
{
    return gnuradio::make_block_sptr<psk_burst_mod_impl>(cfg, default_mcs, payload_mod, gap);
}

} // namespace lgvsc
} // namespace gr
