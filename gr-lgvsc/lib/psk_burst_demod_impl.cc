/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PSK burst receiver: symbols -> decoded PDUs.  See include/gnuradio/lgvsc/psk_burst_demod.h. */
#include "psk_common.h"
#include <gnuradio/fec/cc_common.h>
#include <gnuradio/fec/cc_decoder.h>
#include <gnuradio/fec/cc_encoder.h>
#include <gnuradio/io_signature.h>
#include <gnuradio/lgvsc/psk_burst_demod.h>
#include <atomic>
#include <cmath>
#include <limits>

namespace gr {
namespace lgvsc {

namespace {
constexpr size_t NONE = std::numeric_limits<size_t>::max();
constexpr int SEARCH = PSK_AC;  // after a threshold crossing, the peak is searched this far
constexpr int SEG = 8;          // symbols per coherent segment of the correlations
// Decision-directed carrier PLL (2nd order) from the known symbols' phase and frequency on:
// loop bandwidth B_L T = 0.005 (damping 0.707): alpha = 2 zeta wn, beta = wn^2.
constexpr float PLL_WN = 0.005f * 8 * 0.7071f / (4 * 0.5f + 1), PLL_ALPHA = 2 * 0.7071f * PLL_WN,
                PLL_BETA = PLL_WN * PLL_WN;
} // namespace

class psk_burst_demod_impl : public psk_burst_demod
{
    psk_layout d_l;
    int d_payload_mod;
    float d_thr;
    int d_sps;
    std::vector<gr_complex> d_buf;  // pending symbols
    size_t d_scan = 0;              // next correlation start in d_buf
    std::vector<gr_complex> d_ac;   // conj of the access code's symbols
    gr::fec::generic_decoder::sptr d_hdr_dec;
    gr::fec::generic_encoder::sptr d_hdr_enc;
    std::atomic<uint64_t> d_det{ 0 }, d_hfail{ 0 };
    std::atomic<double> d_snr{ NAN };
    const pmt::pmt_t d_out = pmt::mp("out");
    const pmt::pmt_t k_num = pmt::mp("packet_num"), k_mcs = pmt::mp("mcs"), k_fec = pmt::mp("fec"),
                     k_snr = pmt::mp("snr_db"), k_freq = pmt::mp("freq_offset");
    std::vector<pmt::pmt_t> d_mcs_sym;
    // a decoded header waiting for its payload symbols
    size_t d_pend_t = NONE;
    int d_len = 0, d_seq = 0, d_mcs = 0, d_mod = 0;
    std::vector<uint8_t> d_hbits;

    enum { NEED_MORE, FAIL, DONE };

public:
    psk_burst_demod_impl(const ofdm_phy_config& cfg, int payload_mod, float thr, int sps)
        : gr::sync_block("psk_burst_demod", io_signature::make(1, 1, sizeof(gr_complex)),
                         io_signature::make(0, 0, 0)),
          d_l(cfg), d_payload_mod(payload_mod), d_thr(thr), d_sps(sps)
    {
        if (payload_mod != PSK_BPSK && payload_mod != PSK_QPSK)
            throw std::invalid_argument("payload modulation must be 0 (BPSK) or 1 (QPSK)");
        if (!(thr > 0 && thr < 1))
            throw std::invalid_argument("threshold must be in (0, 1)");
        if (sps < 1)
            throw std::invalid_argument("sps must be >= 1");
        for (int i = 0; i < PSK_AC; i++)
            d_ac.push_back(std::conj(cfg.constellations[PSK_BPSK][psk_ac_bit(i)]));
        for (int m = 0; m < d_l.count(); m++)
            d_mcs_sym.push_back(pmt::mp(cfg.mcs_names[m]));
        d_hdr_dec = gr::fec::code::cc_decoder::make(HDR_BITS, 7, 2, { 109, 79 }, 0, -1, CC_TAILBITING);
        d_hdr_enc = gr::fec::code::cc_encoder::make(HDR_BITS, 7, 2, { 109, 79 }, 0, CC_TAILBITING);
        message_port_register_out(d_out);
    }

    uint64_t detections() const override { return d_det; }
    uint64_t header_failures() const override { return d_hfail; }
    double last_snr_db() const override { return d_snr; }

    int work(int n, gr_vector_const_void_star& in, gr_vector_void_star&) override
    {
        const gr_complex* x = (const gr_complex*)in[0];
        d_buf.insert(d_buf.end(), x, x + n);
        process();
        if (d_scan > (size_t)PSK_PREAMBLE) {  // drop what the scan has passed (keep a preamble)
            size_t drop = d_scan - PSK_PREAMBLE;
            d_buf.erase(d_buf.begin(), d_buf.begin() + drop);
            if (d_pend_t != NONE)
                d_pend_t -= drop;
            d_scan -= drop;
        }
        return n;
    }

private:
    //! access-code detection metric at d: segment sums c_s of y conj(a) over SEG symbols,
    //! |sum c_s conj(c_{s-1})| / ((n_seg - 1) sum |y|^2).  Insensitive to a carrier offset
    //! (up to ~1/(4 SEG) cycles/symbol); s / (1 + s) for a burst at Es/N0 s (0.39 at -2 dB),
    //! about 0.05 rms in noise.
    double metric(size_t d, double e) const
    {
        if (!(e > 0))
            return 0.0;
        const gr_complex* y = d_buf.data() + d;
        gr_complex prev = 0, D = 0;
        for (int s = 0; s < PSK_AC / SEG; s++) {
            gr_complex c = 0;
            for (int k = s * SEG; k < (s + 1) * SEG; k++)
                c += y[k] * d_ac[k];
            if (s > 0)
                D += c * std::conj(prev);
            prev = c;
        }
        return std::abs(D) / ((PSK_AC / SEG - 1) * e);
    }

    double energy(size_t d) const
    {
        double e = 0;
        for (int k = 0; k < PSK_AC; k++)
            e += std::norm(d_buf[d + k]);
        return e;
    }

    void process()
    {
        const size_t N = PSK_AC;
        while (d_scan + N <= d_buf.size()) {
            size_t d = d_scan;
            if (d_pend_t == NONE) {
                double e = energy(d);
                bool found = false;
                while (true) {
                    if (metric(d, e) > d_thr) {
                        found = true;
                        break;
                    }
                    if (d + N + 1 > d_buf.size())
                        break;
                    e += std::norm(d_buf[d + N]) - std::norm(d_buf[d]);
                    d++;
                    if ((d & 1023) == 0 || e < 0)
                        e = energy(d);
                }
                if (!found) {
                    d_scan = d;
                    return;
                }
            }
            // the peak within SEARCH symbols of the crossing
            size_t t = d_pend_t;
            if (t == NONE) {
                if (d + SEARCH + N > d_buf.size()) {
                    d_scan = d;
                    return;
                }
                double best = -1;
                for (size_t j = d; j <= d + SEARCH; j++) {
                    double m = metric(j, energy(j));
                    if (m > best) {
                        best = m;
                        t = j;
                    }
                }
            }
            int res = try_burst(t);
            if (res == NEED_MORE) {
                d_scan = std::min(d, t);
                return;
            }
            if (res == FAIL)
                d_scan = t + 1;
        }
    }

    // Carrier of the known symbols ref[] at d_buf[from..]: phase at the last one (th), frequency
    // (rad/symbol, nu) and gain |g|.  Coarse frequency from the segment sums' differential
    // phase, then a least-squares line through the unwrapped segment phases.
    void carrier(size_t from, const std::vector<gr_complex>& ref, float& th, float& nu, float& amp) const
    {
        int ns = (int)ref.size() / SEG;
        std::vector<gr_complex> c(ns, 0);
        for (int q = 0; q < ns; q++)
            for (int k = q * SEG; k < (q + 1) * SEG; k++)
                c[q] += d_buf[from + k] * std::conj(ref[k]);
        gr_complex D = 0;
        for (int q = 1; q < ns; q++)
            D += c[q] * std::conj(c[q - 1]);
        double nu0 = std::arg(D) / SEG;
        // segment phases after the coarse derotation (segment centre q*SEG + SEG/2 - 0.5)
        double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, prev = 0, a2 = 0;
        for (int q = 0; q < ns; q++) {
            double x = q * SEG + 0.5 * (SEG - 1);
            gr_complex r = c[q] * std::polar(1.0f, (float)(-nu0 * x));
            double v = std::arg(r);
            if (q > 0) {
                while (v - prev > M_PI) v -= 2 * M_PI;
                while (v - prev < -M_PI) v += 2 * M_PI;
            }
            prev = v;
            double w = std::abs(r);
            a2 += w;
            sw += w; sx += w * x; sy += w * v; sxx += w * x * x; sxy += w * x * v;
        }
        double den = sw * sxx - sx * sx;
        double rate = den > 0 ? (sw * sxy - sx * sy) / den : 0;
        double icpt = sw > 0 ? (sy - rate * sx) / sw : 0;
        nu = (float)(nu0 + rate);
        double xl = (double)ref.size() - 1;
        th = (float)(icpt + rate * xl + nu0 * xl);
        amp = (float)(a2 / ns / SEG);
    }

    // One PLL step on symbol y: returns the derotated symbol; ref = the known symbol, or 0 for
    // a soft decision in modulation mod (s = the Es/N0 estimate, linear).
    gr_complex pll(gr_complex y, gr_complex ref, int mod, float amp, float s, float& th, float& nu) const
    {
        gr_complex z = y * std::polar(1.0f / amp, -th);
        gr_complex sh = ref;
        if (sh == gr_complex(0)) {
            if (mod == PSK_BPSK) {
                const gr_complex d = d_l.cfg.constellations[PSK_BPSK][1];
                sh = d * std::tanh(2 * s * std::real(z * std::conj(d)));
            } else {
                const float r = 0.70710678f;
                sh = gr_complex(r * std::tanh(1.41421356f * s * z.real()), r * std::tanh(1.41421356f * s * z.imag()));
            }
        }
        float e = std::imag(z * std::conj(sh));
        th += nu + PLL_ALPHA * e;
        nu += PLL_BETA * e;
        return z * amp;
    }

    std::vector<gr_complex> header_ref() const
    {
        std::vector<uint8_t> hc(HDR_CODED);
        d_hdr_enc->generic_work((void*)d_hbits.data(), hc.data());
        const auto& bp = d_l.cfg.constellations[PSK_BPSK];
        std::vector<gr_complex> ref;
        lfsr7 wh(HDR_WHITEN_SEED);
        for (int i = 0; i < PSK_HDR_SYMS; i++)
            ref.push_back(bp[hc[i % HDR_CODED] ^ wh.next()]);
        return ref;
    }

    int try_burst(size_t t)
    {
        const auto& cfg = d_l.cfg;
        const auto& bp = cfg.constellations[PSK_BPSK];
        size_t hdr0 = t + PSK_AC;
        // known symbols: the preamble's (when still buffered) and the access code
        size_t k0 = t >= (size_t)PSK_PREAMBLE ? t - PSK_PREAMBLE : t;
        std::vector<gr_complex> known;
        for (size_t k = k0; k < t; k++)
            known.push_back(bp[(k - (t - PSK_PREAMBLE)) & 1]);
        for (int i = 0; i < PSK_AC; i++)
            known.push_back(std::conj(d_ac[i]));
        if (d_pend_t == NONE) {
            if (hdr0 + PSK_HDR_SYMS > d_buf.size())
                return NEED_MORE;
            float th, nu, amp;
            carrier(k0, known, th, nu, amp);
            th += nu;  // phase of the first header symbol
            // Es/N0 from the access code, derotated by the fitted line
            double e = 0;
            for (int i = 0; i < PSK_AC; i++) {
                gr_complex z = d_buf[t + i] * std::polar(1.0f, -(th - nu * (PSK_AC - i)));
                e += std::norm(z - amp * known[known.size() - PSK_AC + i]);
            }
            float s2 = (float)std::max(e / (PSK_AC - 1), 1e-12), s = amp * amp / s2;
            // header: PLL with soft BPSK decisions, LLR of each copy combined, Viterbi
            std::vector<float> comb(HDR_CODED, 0.f);
            lfsr7 wh(HDR_WHITEN_SEED);
            const gr_complex d1 = bp[1];
            for (int i = 0; i < PSK_HDR_SYMS; i++) {
                gr_complex z = pll(d_buf[hdr0 + i], 0, PSK_BPSK, amp, s, th, nu) / amp;
                float l = 4 * s * std::real(z * std::conj(d1));
                comb[i % HDR_CODED] += wh.next() ? -l : l;
            }
            d_hbits.assign(HDR_BITS, 0);
            mcs_codec::viterbi(d_hdr_dec, comb.data(), HDR_CODED, d_hbits.data(), HDR_BITS);
            int len, seq, mcs_byte;
            bool ok = parse_header(d_hbits.data(), len, seq, mcs_byte);
            int mcs = mcs_byte >> 3, mod = mcs_byte & 7;
            d_det++;
            if (!ok || len < 1 || len > cfg.max_bytes || mcs >= d_l.count() || !d_l.supported(mcs) ||
                (mod != PSK_BPSK && mod != PSK_QPSK) || (d_l.mcs_mod(mcs) >= 0 && d_l.mcs_mod(mcs) != mod)) {
                d_hfail++;
                return FAIL;
            }
            d_pend_t = t;
            d_len = len;
            d_seq = seq;
            d_mcs = mcs;
            d_mod = mod;
        }
        long nsym = d_l.payload_symbols(d_len, d_mcs, d_mod);
        size_t pl0 = hdr0 + PSK_HDR_SYMS, end = pl0 + (size_t)nsym;
        if (end > d_buf.size())
            return NEED_MORE;
        d_pend_t = NONE;
        // the decoded header is known data: rerun the PLL over it with the true symbols, and
        // measure gain and noise on every known symbol
        std::vector<gr_complex> href = header_ref();
        float th, nu, amp;
        carrier(k0, known, th, nu, amp);
        th += nu;
        double e = 0, gsum = 0;
        std::vector<gr_complex> zh(PSK_HDR_SYMS);
        for (int i = 0; i < PSK_HDR_SYMS; i++)
            zh[i] = pll(d_buf[hdr0 + i], href[i], PSK_BPSK, amp, 1.f, th, nu);
        double cfo = nu / (2 * M_PI * d_sps);  // cycles/sample
        for (int i = 0; i < PSK_HDR_SYMS; i++)
            gsum += std::real(zh[i] * std::conj(href[i]));
        float g = (float)(gsum / PSK_HDR_SYMS);
        for (int i = 0; i < PSK_HDR_SYMS; i++)
            e += std::norm(zh[i] - g * href[i]);
        float s2 = (float)std::max(e / (PSK_HDR_SYMS - 1), 1e-12);
        if (!(g > 0))
            g = amp;
        float s = g * g / s2;
        double snr = 10 * std::log10(std::max((double)s, 1e-6));
        d_snr = snr;
        // payload: PLL with soft decisions, max-log LLRs, decode, descramble
        const auto& pts = cfg.constellations[d_mod];
        int b = psk_bits(d_mod), M = (int)pts.size();
        std::vector<gr_complex> gp(M);
        for (int q = 0; q < M; q++)
            gp[q] = g * pts[q];
        long nbits = d_l.codec.coded_bits(d_len, d_mcs);
        std::vector<float> llr((size_t)nsym * b);
        for (long i = 0; i < nsym; i++) {
            gr_complex z = pll(d_buf[pl0 + i], 0, d_mod, g, s, th, nu);
            float dmin[2][2] = { { 1e30f, 1e30f }, { 1e30f, 1e30f } };
            for (int q = 0; q < M; q++) {
                float dd = std::norm(z - gp[q]);
                for (int j = 0; j < b; j++) {
                    int bit = (q >> (b - 1 - j)) & 1;
                    if (dd < dmin[bit][j])
                        dmin[bit][j] = dd;
                }
            }
            for (int j = 0; j < b; j++)
                llr[i * b + j] = (dmin[0][j] - dmin[1][j]) / s2;
        }
        llr.resize(nbits);
        std::vector<uint8_t> info = d_l.codec.decode(d_mcs, llr, d_len);
        payload_scrambler scr(SCRAMBLE_SEED);
        std::vector<uint8_t> bytes(d_len, 0);
        for (int i = 0; i < 8 * d_len; i++)
            bytes[i / 8] |= (info[i] ^ scr.next()) << (7 - i % 8);
        pmt::pmt_t meta = pmt::make_dict();
        meta = pmt::dict_add(meta, k_num, pmt::from_long(d_seq));
        meta = pmt::dict_add(meta, k_mcs, d_mcs_sym[d_mcs]);
        meta = pmt::dict_add(meta, k_fec, pmt::mp(mcs_codec::code_name(d_l.codec.code(d_mcs))));
        meta = pmt::dict_add(meta, k_snr, pmt::from_double(std::round(snr * 100) / 100));
        meta = pmt::dict_add(meta, k_freq, pmt::from_double(cfo));
        message_port_pub(d_out, pmt::cons(meta, pmt::init_u8vector(d_len, bytes)));
        d_scan = end;
        return DONE;
    }
};

psk_burst_demod::sptr psk_burst_demod::make(const ofdm_phy_config& cfg, int payload_mod, float threshold, int sps)
{
    return gnuradio::make_block_sptr<psk_burst_demod_impl>(cfg, payload_mod, threshold, sps);
}

} // namespace lgvsc
} // namespace gr
