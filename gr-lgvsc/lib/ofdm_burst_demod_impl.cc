/* SPDX-License-Identifier: GPL-3.0-or-later */
/* OFDM burst receiver: samples -> decoded PDUs.  See include/gnuradio/lgvsc/ofdm_burst_demod.h. */
#include "mcs_codec.h"
#include "ofdm_common.h"
#include <gnuradio/fec/cc_common.h>
#include <gnuradio/fec/cc_decoder.h>
#include <gnuradio/fec/cc_encoder.h>
#include <gnuradio/fft/fft.h>
#include <gnuradio/io_signature.h>
#include <gnuradio/lgvsc/ofdm_burst_demod.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <complex>
#include <cstring>

namespace gr {
namespace lgvsc {

namespace {
constexpr float TWO_PI = 6.283185307179586f;
// Loop gains of the per-symbol pilot tracking that unwraps the raw phase and slope
// measurements (phase / its rate; slope / its rate).
constexpr float G_PHI = 0.3f, G_FREQ = 0.03f, G_SLOPE = 0.2f, G_SLOPE_RATE = 0.005f;
// Half-widths (symbols) of the non-causal local linear fits of phase and slope.
constexpr double W_PHASE = 8, W_SLOPE = 24;
// Frequency-domain smoothing of the channel estimate: triangular, +-2 or +-5 active carriers.
constexpr int SMOOTH = 2, SMOOTH_WIDE = 5;
// step of the decision-directed channel tracker (dd_update): ~10-symbol memory
constexpr float DD_MU = 0.1f;
// Only decisions within DD_GATE x half the minimum distance of their point update it: with
// every decision, wrong ones at the 0-10 dB operating points bias the estimate more than the
// channel moves (paper-0dB at 0 dB: PER 1.0).
constexpr float DD_GATE = 0.5f;
inline float wrap(float x)
{
    while (x > M_PI)
        x -= TWO_PI;
    while (x < -M_PI)
        x += TWO_PI;
    return x;
}
} // namespace

class ofdm_burst_demod_impl : public ofdm_burst_demod
{
    ofdm_layout d_l;
    mcs_codec d_codec;  // the payload FEC per MCS (the same code as the PSK PHY's)
    int d_payload_mod, d_maxq;
    float d_thr;
    int L, cp, S, W, d_backoff;
    std::vector<gr_complex> d_buf;  // pending samples
    size_t d_scan = 0;              // next S&C start in d_buf
    gr::fec::generic_decoder::sptr d_hdr_dec;
    gr::fec::generic_encoder::sptr d_hdr_enc;
    gr::fft::fft_complex_fwd d_fft;
    std::vector<gr_complex> d_train_td;  // conj-ready time-domain training
    int d_max_burst;
    std::atomic<uint64_t> d_det{ 0 }, d_hfail{ 0 };
    std::atomic<double> d_snr{ NAN };
    const pmt::pmt_t d_out = pmt::mp("out");
    pmt::pmt_t k_num = pmt::mp("packet_num"), k_mcs = pmt::mp("mcs"), k_fec = pmt::mp("fec"),
               k_snr = pmt::mp("snr_db"), k_freq = pmt::mp("freq_offset");
    std::vector<pmt::pmt_t> d_mcs_sym;

    // per-burst state
    std::vector<gr_complex> z;   // CFO-corrected samples from d_buf[z0]
    size_t z0 = 0;
    double nu = 0;               // CFO, cycles/sample
    std::vector<gr_complex> H;   // per active carrier
    float sigma2 = 1;
    float phi = 0, freq = 0, slope = 0, slope_rate = 0;
    std::vector<double> d_ax, d_aph, d_asl, d_aw;  // header/preamble anchors of the phase fits

    enum { NEED_MORE, FAIL, DONE };

public:
    ofdm_burst_demod_impl(const ofdm_phy_config& cfg, int payload_mod, int max_int_cfo, float thr)
        : gr::sync_block("ofdm_burst_demod", io_signature::make(1, 1, sizeof(gr_complex)),
                         io_signature::make(0, 0, 0)),
          d_l(cfg), d_codec(cfg), d_payload_mod(payload_mod), d_maxq(max_int_cfo), d_thr(thr), d_fft(cfg.fft_len, 1)
    {
        if (payload_mod < 0 || payload_mod >= (int)d_l.bps.size())
            throw std::invalid_argument("payload modulation id out of range");
        if (max_int_cfo < 0 || max_int_cfo > cfg.fft_len / 4)
            throw std::invalid_argument("max_int_cfo out of range");
        if (!(thr > 0 && thr < 1))
            throw std::invalid_argument("threshold must be in (0, 1)");
        L = cfg.fft_len;
        cp = cfg.cp_len;
        S = L + cp;
        W = (N_TRAIN - 1) * L;
        d_backoff = std::min(2, cp / 4);
        for (int m = 0; m < d_l.mcs_count(); m++) {
            d_mcs_sym.push_back(pmt::mp(cfg.mcs_names[m]));
        }
        d_hdr_dec = gr::fec::code::cc_decoder::make(HDR_BITS, 7, 2, { 109, 79 }, 0, -1, CC_TAILBITING);
        d_hdr_enc = gr::fec::code::cc_encoder::make(HDR_BITS, 7, 2, { 109, 79 }, 0, CC_TAILBITING);
        // time-domain training symbol (same as the modulator's, unit power)
        gr::fft::fft_complex_rev ifft(L, 1);
        std::vector<gr_complex> X(L, 0);
        for (int i = 0; i < d_l.n_active; i++)
            X[d_l.active_bins[i]] = d_l.train[i];
        memcpy(ifft.get_inbuf(), X.data(), L * sizeof(gr_complex));
        ifft.execute();
        float sc = 1.0f / std::sqrt((float)d_l.n_active);
        for (int i = 0; i < L; i++)
            d_train_td.push_back(std::conj(ifft.get_outbuf()[i] * sc));
        d_max_burst = 0;
        for (int m = 0; m < d_l.mcs_count(); m++) {
            int mod = cfg.mcs_mod[m] < 0 ? payload_mod : cfg.mcs_mod[m];
            d_max_burst = std::max(d_max_burst, d_l.burst_samples(cfg.max_bytes, m, mod));
        }
        message_port_register_out(d_out);
        set_output_multiple(1);
    }

    uint64_t detections() const override { return d_det; }
    uint64_t header_failures() const override { return d_hfail; }
    double last_snr_db() const override { return d_snr; }

    int work(int n, gr_vector_const_void_star& in, gr_vector_void_star&) override
    {
        const gr_complex* x = (const gr_complex*)in[0];
        d_buf.insert(d_buf.end(), x, x + n);
        process();
        // drop what the scan has passed (keep a margin for the fine-timing search)
        const size_t margin = (size_t)d_l.cfg.cp_len + 32;
        size_t keep_from = d_scan > margin ? d_scan - margin : 0;
        if (keep_from > 0) {
            d_buf.erase(d_buf.begin(), d_buf.begin() + keep_from);
            d_scan -= keep_from;
        }
        return n;
    }

private:
    void process()
    {
        const size_t need = 4 * L;  // S&C window: W + L samples
        while (d_scan + need <= d_buf.size()) {
            const gr_complex* r = d_buf.data();
            // S&C sums at d_scan, then slide
            std::complex<double> P = 0;
            double E1 = 0, E2 = 0;
            size_t d = d_scan;
            for (int k = 0; k < W; k++) {
                P += std::complex<double>(std::conj(r[d + k]) * r[d + k + L]);
                E1 += std::norm(r[d + k]);
                E2 += std::norm(r[d + k + L]);
            }
            bool found = false;
            while (true) {
                double M = (E1 > 0 && E2 > 0) ? std::norm(P) / (E1 * E2) : 0.0;
                if (M > d_thr) {
                    found = true;
                    break;
                }
                if (d + 1 + need > d_buf.size())
                    break;
                P += std::complex<double>(std::conj(r[d + W]) * r[d + W + L]) -
                     std::complex<double>(std::conj(r[d]) * r[d + L]);
                E1 += std::norm(r[d + W]) - std::norm(r[d]);
                E2 += std::norm(r[d + W + L]) - std::norm(r[d + L]);
                if (E1 < 0) E1 = 0;
                if (E2 < 0) E2 = 0;
                d++;
                if (((d - d_scan) & 1023) == 0) { // limit float drift: recompute
                    P = 0; E1 = E2 = 0;
                    for (int k = 0; k < W; k++) {
                        P += std::complex<double>(std::conj(r[d + k]) * r[d + k + L]);
                        E1 += std::norm(r[d + k]);
                        E2 += std::norm(r[d + k + L]);
                    }
                }
            }
            if (!found) {
                d_scan = d;  // nothing up to here; resume at d next time
                return;
            }
            // the plateau: argmax of M over the next W + cp starts
            // the metric ramps up over W samples before its plateau: search all of it
            size_t span = W + cp;
            if (d + span + need + 16 + 2 * L > d_buf.size()) {
                d_scan = d;
                return;  // wait for more samples
            }
            double best = -1;
            size_t dstar = d;
            std::complex<double> Pbest = P;
            for (size_t j = 0; j <= span; j++) {
                double M = (E1 > 0 && E2 > 0) ? std::norm(P) / (E1 * E2) : 0.0;
                if (M > best) {
                    best = M;
                    dstar = d + j;
                    Pbest = P;
                }
                size_t e = d + j;
                P += std::complex<double>(std::conj(r[e + W]) * r[e + W + L]) -
                     std::complex<double>(std::conj(r[e]) * r[e + L]);
                E1 += std::norm(r[e + W]) - std::norm(r[e]);
                E2 += std::norm(r[e + W + L]) - std::norm(r[e + L]);
            }
            int res = try_burst(dstar, Pbest);
            if (res == NEED_MORE) {
                d_scan = d;
                return;
            }
            // after a failure skip the plateau; after a burst, its end (set by try_burst)
            if (res == FAIL)
                d_scan = dstar + cp + 1;
        }
    }

    // CFO-corrected copy of d_buf[from, from + len), phase referenced to sample `ref`
    void correct(size_t from, size_t len)
    {
        z.resize(len);
        z0 = from;
        double w = -TWO_PI * nu;
        // rotate incrementally in double precision; re-anchor every 256 samples
        for (size_t i = 0; i < len; i += 256) {
            size_t m = std::min<size_t>(256, len - i);
            std::complex<double> ph = std::polar(1.0, w * (double)i), st = std::polar(1.0, w);
            for (size_t j = 0; j < m; j++) {
                z[i + j] = d_buf[from + i + j] * gr_complex(ph);
                ph *= st;
            }
        }
    }

    void fft_at(size_t pos, std::vector<gr_complex>& Y)  // pos: absolute d_buf index
    {
        memcpy(d_fft.get_inbuf(), z.data() + (pos - z0), L * sizeof(gr_complex));
        d_fft.execute();
        Y.assign(d_fft.get_outbuf(), d_fft.get_outbuf() + L);
    }

    int try_burst(size_t dstar, std::complex<double> P1)
    {
        const gr_complex* r = d_buf.data();
        // fractional CFO: lag L (range +-0.5 carrier), refined with lag 3L
        double eps1 = std::arg(P1) / (TWO_PI * L);
        std::complex<double> P3 = 0;
        for (int k = 0; k < L; k++)
            P3 += std::complex<double>(std::conj(r[dstar + k]) * r[dstar + k + 3 * L]);
        double ph3 = std::arg(P3 * std::polar(1.0, -TWO_PI * eps1 * 3 * L));
        nu = eps1 + ph3 / (TWO_PI * 3 * L);
        // at low SNR the S&C maximum can also lie up to a CP after the training's start
        // (measured at 0 dB: +16 samples, beyond the old -8 search, lost the burst)
        const size_t back = (size_t)cp + 16;
        size_t from = dstar >= back ? dstar - back : 0;
        size_t hdr_end = dstar + cp + 2 * L + 8 + N_TRAIN * L + (size_t)d_l.n_hdr_sym * S + L;
        if (hdr_end > d_buf.size())
            return NEED_MORE;
        correct(from, hdr_end - from);
        // integer CFO: differential correlation of a training copy with the known one
        std::vector<gr_complex> Y;
        int q = 0;
        if (d_maxq > 0) {
            fft_at(dstar + L, Y);
            double m0 = -1;
            double best = -1;
            for (int qq = -d_maxq; qq <= d_maxq; qq++) {
                std::complex<double> acc = 0;
                for (int i = 0; i + 1 < d_l.n_active; i++) {
                    if (d_l.active_k[i + 1] != d_l.active_k[i] + 1)
                        continue;
                    gr_complex a = Y[d_l.bin(d_l.active_k[i] + qq)], b = Y[d_l.bin(d_l.active_k[i + 1] + qq)];
                    acc += std::complex<double>(a * std::conj(b) * std::conj(d_l.train[i] * std::conj(d_l.train[i + 1])));
                }
                double v = std::abs(acc);
                if (qq == 0)
                    m0 = v;
                if (v > best) {
                    best = v;
                    q = qq;
                }
            }
            if (q != 0 && best < 2 * m0)  // prefer no integer offset unless clearly better
                q = 0;
            if (q != 0) {
                nu += (double)q / L;
                correct(from, hdr_end - from);
            }
        }
        // fine timing: cross-correlation with the 4 training copies (non-coherent over copies)
        double best = -1;
        size_t t = dstar;
        size_t lo = from;
        // (at low SNR the S&C maximum can lie up to ~L before the plateau: search past it)
        for (size_t c = lo; c <= dstar + cp + L + 8; c++) {
            double m = 0;
            for (int cpy = 0; cpy < N_TRAIN; cpy++) {
                std::complex<float> acc = 0;
                const gr_complex* p = z.data() + (c - z0) + cpy * L;
                for (int k = 0; k < L; k++)
                    acc += p[k] * d_train_td[k];
                m += std::norm(acc);
            }
            if (m > best) {
                best = m;
                t = c;
            }
        }
        // channel estimate: 3 training copies averaged, noise from their differences
        int NA = d_l.n_active;
        std::vector<std::vector<gr_complex>> Ym(N_TRAIN - 1);
        for (int m = 1; m < N_TRAIN; m++)
            fft_at(t + m * L - d_backoff, Ym[m - 1]);
        std::vector<gr_complex> Hraw(NA);
        double nsum = 0;
        for (int i = 0; i < NA; i++) {
            int bn = d_l.active_bins[i];
            gr_complex acc = 0;
            for (int m = 0; m < N_TRAIN - 1; m++)
                acc += Ym[m][bn];
            Hraw[i] = acc / (float)(N_TRAIN - 1) / d_l.train[i];
            for (int m = 0; m + 1 < N_TRAIN - 1; m++)
                nsum += std::norm(Ym[m + 1][bn] - Ym[m][bn]) / 2.0;
        }
        sigma2 = (float)(nsum / (NA * (N_TRAIN - 2)));
        if (!(sigma2 > 0))
            sigma2 = 1e-12f;
        // smooth across carriers with the mean phase slope removed (timing offset)
        std::complex<double> sl = 0;
        for (int i = 0; i + 1 < NA; i++)
            if (d_l.active_k[i + 1] == d_l.active_k[i] + 1)
                sl += std::complex<double>(Hraw[i + 1] * std::conj(Hraw[i]));
        float alpha = (float)std::arg(sl);
        // Triangular smoothing over 2w+1 carriers; of a narrow and a wide window the one with the
        // lower estimated MSE (SURE: residual against the raw estimate minus its known noise
        // part).  Wide wins on flat channels (AWGN: ~1 dB at the 0-4 dB presets' PER 1 %),
        // narrow on frequency-selective ones (TDL-C: wide alone lost more 16-QAM bursts).
        auto smooth = [&](int wdt, std::vector<gr_complex>& out) {
            out.assign(NA, 0);
            double mse = 0;
            for (int i = 0; i < NA; i++) {
                gr_complex acc = 0;
                float wsum = 0, w2sum = 0;
                for (int j = std::max(0, i - wdt); j <= std::min(NA - 1, i + wdt); j++) {
                    float w = (float)(wdt + 1 - std::abs(j - i));
                    acc += w * Hraw[j] * std::polar(1.0f, -alpha * (d_l.active_k[j] - d_l.active_k[i]));
                    wsum += w;
                    w2sum += w * w;
                }
                out[i] = acc / wsum;
                double v = sigma2 / (N_TRAIN - 1) / std::max(std::norm(d_l.train[i]), 1e-12f);
                double c0 = (wdt + 1) / wsum, s2 = w2sum / (wsum * wsum);
                mse += std::norm(Hraw[i] - out[i]) - v * (1 - 2 * c0 + s2) + v * s2;
            }
            return mse;
        };
        std::vector<gr_complex> Hwide;
        double mse_narrow = smooth(SMOOTH, H), mse_wide = smooth(SMOOTH_WIDE, Hwide);
        if (mse_wide <= mse_narrow)
            H.swap(Hwide);
        double psum = 0;
        for (int i = 0; i < NA; i++)
            psum += std::norm(Hraw[i]);
        double sig = psum / NA - sigma2 / (N_TRAIN - 1);
        double snr = 10 * std::log10(std::max(sig, 1e-3 * sigma2) / sigma2);
        // --- header
        phi = freq = slope = slope_rate = 0;
        const auto& cfg = d_l.cfg;
        int hmod = cfg.header_mod, hb = d_l.bps[hmod], hncb = d_l.n_data * hb;
        size_t sym0 = t + N_TRAIN * L + cp - d_backoff;  // FFT start of the first header symbol
        std::vector<float> llr((size_t)d_l.n_data * 8), hl(d_l.hdr_coded_bits);
        std::vector<std::vector<gr_complex>> Yh(d_l.n_hdr_sym);
        for (int s = 0; s < d_l.n_hdr_sym; s++) {
            fft_at(sym0 + (size_t)s * S, Yh[s]);
            track(Yh[s]);
            demap(Yh[s], hmod, llr.data());
            const auto& p = d_l.perm(hb);
            for (int k = 0; k < hncb; k++)
                hl[s * hncb + k] = llr[p[k]];
        }
        std::vector<float> comb(HDR_CODED, 0.f);
        lfsr7 wh(HDR_WHITEN_SEED);
        for (int i = 0; i < d_l.hdr_coded_bits; i++)
            comb[i % HDR_CODED] += wh.next() ? -hl[i] : hl[i];
        std::vector<uint8_t> hbits(HDR_BITS);
        mcs_codec::viterbi(d_hdr_dec, comb.data(), HDR_CODED, hbits.data(), HDR_BITS);
        int len, seq, mcs_byte;
        bool ok = parse_header(hbits.data(), len, seq, mcs_byte);
        int mcs = mcs_byte >> 3, mod = mcs_byte & 7;
        if (!ok || len < 1 || len > cfg.max_bytes || mcs >= d_l.mcs_count() || mod >= (int)d_l.bps.size() ||
            (cfg.mcs_mod[mcs] >= 0 && cfg.mcs_mod[mcs] != mod)) {
            d_det++;
            d_hfail++;
            return FAIL;
        }
        int nsym = d_l.payload_symbols(len, mcs, mod);
        size_t end = sym0 + (size_t)(d_l.n_hdr_sym + nsym) * S;  // one past the last FFT window (+backoff)
        if (end + d_backoff > d_buf.size())
            return NEED_MORE;
        d_det++;
        d_snr = snr;
        correct(from, end - from);
        // decision-aided refit over the header: re-encode it and use every carrier as a pilot
        refit_header(hbits, Yh);
        // --- payload
        int b = d_l.bps[mod], ncb = d_l.n_data * b;
        std::vector<float> cl((size_t)nsym * ncb);
        const auto& p = d_l.perm(b);
        // Pass 1: per-symbol pilot measurements of phase and slope (the loop only unwraps them).
        std::vector<std::vector<gr_complex>> Yp(nsym);
        std::vector<double> px = d_ax, pph = d_aph, psl = d_asl, pw = d_aw;
        for (int s = 0; s < nsym; s++) {
            fft_at(sym0 + (size_t)(d_l.n_hdr_sym + s) * S, Yp[s]);
            float mp, ms;
            track(Yp[s], mp, ms);
            px.push_back(s);
            pph.push_back(mp);
            psl.push_back(ms);
            pw.push_back(1.0);
        }
        // Pass 2: non-causal local linear fits (no loop transient; the decoded header and the
        // preamble anchor the start), then equalise and demap.
        for (int s = 0; s < nsym; s++) {
            phi = (float)local_fit(px, pph, pw, s, W_PHASE);
            slope = (float)local_fit(px, psl, pw, s, W_SLOPE);
            demap(Yp[s], mod, llr.data());
            dd_update(Yp[s], mod);
            float* o = cl.data() + (size_t)s * ncb;
            for (int k = 0; k < ncb; k++)
                o[k] = llr[p[k]];
        }
        std::vector<uint8_t> info = d_codec.decode(mcs, cl, len);
        payload_scrambler scr(SCRAMBLE_SEED);
        std::vector<uint8_t> bytes(len, 0);
        for (int i = 0; i < 8 * len; i++)
            bytes[i / 8] |= (info[i] ^ scr.next()) << (7 - i % 8);
        pmt::pmt_t meta = pmt::make_dict();
        meta = pmt::dict_add(meta, k_num, pmt::from_long(seq));
        meta = pmt::dict_add(meta, k_mcs, d_mcs_sym[mcs]);
        meta = pmt::dict_add(meta, k_fec, pmt::mp(mcs_codec::code_name(d_codec.code(mcs))));
        meta = pmt::dict_add(meta, k_snr, pmt::from_double(std::round(snr * 100) / 100));
        meta = pmt::dict_add(meta, k_freq, pmt::from_double(nu));
        message_port_pub(d_out, pmt::cons(meta, pmt::init_u8vector(len, bytes)));
        d_scan = end - cp;  // the gap follows; never skip into a next burst
        return DONE;
    }

    // Pilot tracking of common phase and phase slope (per carrier index), 2nd-order loops.
    // Weighted least-squares line through the points within +-half of x0, evaluated at x0.
    static double local_fit(const std::vector<double>& x, const std::vector<double>& y,
                            const std::vector<double>& w, double x0, double half)
    {
        double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (size_t i = 0; i < x.size(); i++) {
            double dx = x[i] - x0;
            if (std::fabs(dx) > half)
                continue;
            double ww = w[i] * (1.0 - std::fabs(dx) / (half + 1));
            sw += ww; sx += ww * dx; sy += ww * y[i]; sxx += ww * dx * dx; sxy += ww * dx * y[i];
        }
        if (sw <= 0)
            return 0;
        double den = sw * sxx - sx * sx;
        if (den <= 1e-9 * sw * sw)
            return sy / sw;
        double rate = (sw * sxy - sx * sy) / den;
        return (sy - rate * sx) / sw;  // value at dx = 0
    }

    void track(std::vector<gr_complex>& Y)
    {
        float a, b;
        track(Y, a, b);
    }

    // Loop update; meas_phi / meas_slope: this symbol's raw (unwrapped) pilot measurements.
    void track(std::vector<gr_complex>& Y, float& meas_phi, float& meas_slope)
    {
        float phi_p = phi + freq, slope_p = slope + slope_rate;
        std::complex<float> pos = 0, neg = 0, all = 0;
        float kpos = 0, kneg = 0;
        int npos = 0, nneg = 0;
        for (size_t p = 0; p < d_l.pilot_bins.size(); p++) {
            int k = d_l.cfg.pilots[p];
            int i = active_index(k);
            gr_complex zz = Y[d_l.pilot_bins[p]] * std::conj(H[i] * d_l.cfg.pilot_symbols[p]) *
                            std::polar(1.0f, -(phi_p + slope_p * k));
            all += zz;
            if (k > 0) { pos += zz; kpos += k; npos++; }
            else { neg += zz; kneg += k; nneg++; }
        }
        float e_phi = std::arg(all);
        float e_sl = 0;
        if (npos && nneg)
            e_sl = std::arg(pos * std::conj(neg)) / (kpos / npos - kneg / nneg);
        meas_phi = phi_p + e_phi;
        meas_slope = slope_p + e_sl;
        phi = phi_p + G_PHI * e_phi;
        freq += G_FREQ * e_phi;
        slope = slope_p + G_SLOPE * e_sl;
        slope_rate += G_SLOPE_RATE * e_sl;
    }

    // Decision-directed per-carrier channel tracking (LMS) after each payload symbol.  The
    // preamble's estimate goes stale over a long burst in a time-varying, frequency-selective
    // channel (TDL-C at 10 Hz Doppler: ~30 % PER even at 30 dB with common phase/slope
    // tracking only).  Works in the pilot-derotated domain, so the common phase and slope
    // stay with the pilot fit; pilots count as known symbols, data carriers by hard decision.
    void dd_update(const std::vector<gr_complex>& Y, int mod)
    {
        const auto& pts = d_l.cfg.constellations[mod];
        float d2min = 1e30f;
        for (size_t a = 0; a < pts.size(); a++)
            for (size_t b = a + 1; b < pts.size(); b++)
                d2min = std::min(d2min, std::norm(pts[a] - pts[b]));
        const float gate = DD_GATE * DD_GATE * d2min / 4;
        auto lms = [&](int k, gr_complex y, gr_complex x) {
            int i = active_index(k);
            gr_complex z = y * std::polar(1.0f, -(phi + slope * k));
            H[i] += DD_MU * (z - H[i] * x) * std::conj(x);
        };
        for (int d = 0; d < d_l.n_data; d++) {
            int k = d_l.cfg.occupied[d];
            int i = active_index(k);
            gr_complex h = H[i] * std::polar(1.0f, phi + slope * k);
            float g = std::norm(h);
            if (!(g > 0))
                continue;
            gr_complex x = Y[d_l.data_bins[d]] * std::conj(h) / g, best = pts[0];
            float bd = 1e30f;
            for (const auto& pt : pts) {
                float dd = std::norm(x - pt);
                if (dd < bd) {
                    bd = dd;
                    best = pt;
                }
            }
            if (bd < gate)  // a decision well inside its region: nearly never wrong
                lms(k, Y[d_l.data_bins[d]], best);
        }
        for (size_t q = 0; q < d_l.pilot_bins.size(); q++)
            lms(d_l.cfg.pilots[q], Y[d_l.pilot_bins[q]], d_l.cfg.pilot_symbols[q]);
    }

    int active_index(int k) const
    {
        auto it = std::lower_bound(d_l.active_k.begin(), d_l.active_k.end(), k);
        return (int)(it - d_l.active_k.begin());
    }

    // Max-log LLRs (positive = bit 1) of the data carriers, weighted by |H|^2 / sigma^2.
    void demap(const std::vector<gr_complex>& Y, int mod, float* llr)
    {
        const auto& pts = d_l.cfg.constellations[mod];
        int b = d_l.bps[mod], M = (int)pts.size();
        float dmin[2][8];
        for (int d = 0; d < d_l.n_data; d++) {
            int k = d_l.cfg.occupied[d];
            int i = active_index(k);
            gr_complex h = H[i] * std::polar(1.0f, phi + slope * k);
            float g = std::norm(h);
            gr_complex x = g > 0 ? Y[d_l.data_bins[d]] * std::conj(h) / g : 0;
            float w = g / sigma2;
            for (int j = 0; j < b; j++)
                dmin[0][j] = dmin[1][j] = 1e30f;
            for (int s = 0; s < M; s++) {
                float dd = std::norm(x - pts[s]);
                for (int j = 0; j < b; j++) {
                    int bit = (s >> (b - 1 - j)) & 1;
                    if (dd < dmin[bit][j])
                        dmin[bit][j] = dd;
                }
            }
            for (int j = 0; j < b; j++)
                llr[d * b + j] = w * (dmin[0][j] - dmin[1][j]);
        }
    }

    // Re-run the header symbols' phase estimate with the decoded header as known data:
    // least-squares line through the per-symbol common phase and slope (the preamble anchors
    // both at 0), so the payload starts with an accurate residual CFO and SRO estimate.
    void refit_header(const std::vector<uint8_t>& hbits, const std::vector<std::vector<gr_complex>>& Yh)
    {
        const auto& cfg = d_l.cfg;
        std::vector<uint8_t> hc(HDR_CODED);
        d_hdr_enc->generic_work((void*)hbits.data(), hc.data());
        int hmod = cfg.header_mod, hb = d_l.bps[hmod], hncb = d_l.n_data * hb;
        std::vector<uint8_t> bits(d_l.hdr_coded_bits);
        lfsr7 wh(HDR_WHITEN_SEED);
        for (int i = 0; i < d_l.hdr_coded_bits; i++)
            bits[i] = hc[i % HDR_CODED] ^ wh.next();
        const auto& p = d_l.perm(hb);
        const auto& pts = cfg.constellations[hmod];
        int ns = d_l.n_hdr_sym;
        // symbol positions in symbol units; the preamble's centre is the reference (phase 0)
        double s_ref = -(double)(2 * L + cp - d_backoff) / S;  // centre of training copies 1..3
        std::vector<double> xs{ s_ref }, ph{ 0.0 }, sl{ 0.0 }, wt{ 3.0 };
        double prev = 0;
        for (int s = 0; s < ns; s++) {
            std::vector<uint8_t> sym(hncb);
            for (int k = 0; k < hncb; k++)
                sym[p[k]] = bits[s * hncb + k];
            std::vector<gr_complex> zc(d_l.n_active, 0);
            for (int d = 0; d < d_l.n_data; d++) {
                unsigned idx = 0;
                for (int j = 0; j < hb; j++)
                    idx = (idx << 1) | sym[d * hb + j];
                int i = active_index(cfg.occupied[d]);
                zc[i] = Yh[s][d_l.data_bins[d]] * std::conj(H[i] * pts[idx]);
            }
            for (size_t q = 0; q < d_l.pilot_bins.size(); q++) {
                int i = active_index(cfg.pilots[q]);
                zc[i] = Yh[s][d_l.pilot_bins[q]] * std::conj(H[i] * cfg.pilot_symbols[q]);
            }
            std::complex<float> a = 0, pos = 0, neg = 0;
            float kp = 0, kn = 0;
            for (int i = 0; i < d_l.n_active; i++) {
                a += zc[i];
                int k = d_l.active_k[i];
                if (k > 0) { pos += zc[i]; kp += k; }
                else { neg += zc[i]; kn += k; }
            }
            int np = (int)(d_l.active_k.end() - std::upper_bound(d_l.active_k.begin(), d_l.active_k.end(), 0));
            int nn = d_l.n_active - np;
            std::complex<float> c = 0;
            float dk = (np && nn) ? kp / np - kn / nn : 1.f;
            c = std::polar(1.0f, std::arg(pos * std::conj(neg)) / dk);
            double v = prev + wrap(std::arg(a) - (float)prev);  // unwrap along the symbols
            prev = v;
            xs.push_back(s);
            ph.push_back(v);
            sl.push_back(std::arg(c));
            wt.push_back(1.0);
        }
        auto fit = [&](const std::vector<double>& y, double& at_last, double& rate) {
            double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
            for (size_t i = 0; i < y.size(); i++) {
                sw += wt[i]; sx += wt[i] * xs[i]; sy += wt[i] * y[i];
                sxx += wt[i] * xs[i] * xs[i]; sxy += wt[i] * xs[i] * y[i];
            }
            double den = sw * sxx - sx * sx;
            rate = den > 0 ? (sw * sxy - sx * sy) / den : 0;
            double icpt = (sy - rate * sx) / sw;
            at_last = icpt + rate * (ns - 1);
        };
        double a1, r1, a2, r2;
        fit(ph, a1, r1);
        // slope: mean of the header symbols (its rate from 4 symbols is too noisy to extrapolate)
        a2 = 0;
        for (int s = 1; s <= ns; s++)
            a2 += sl[s] / ns;
        r2 = 0;
        phi = (float)a1;
        freq = (float)r1;
        slope = (float)a2;
        slope_rate = (float)r2;
        // anchors for the payload's local fits, in payload symbol units (header symbol s at s - ns);
        // an all-carrier measurement weighs about n_active / n_pilots pilot-only ones
        double wa = (double)d_l.n_active / d_l.pilot_bins.size();
        d_ax.clear(); d_aph.clear(); d_asl.clear(); d_aw.clear();
        for (size_t i = 0; i < xs.size(); i++) {
            d_ax.push_back(xs[i] - ns);
            d_aph.push_back(ph[i]);
            d_asl.push_back(i == 0 ? 0.0 : sl[i]);
            d_aw.push_back(wt[i] * wa);
        }
    }
};

ofdm_burst_demod::sptr
ofdm_burst_demod::make(const ofdm_phy_config& cfg, int payload_mod, int max_int_cfo, float threshold)
{
    return gnuradio::make_block_sptr<ofdm_burst_demod_impl>(cfg, payload_mod, max_int_cfo, threshold);
}

} // namespace lgvsc
} // namespace gr
