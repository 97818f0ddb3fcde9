/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "ofdm_common.h"
#include <gnuradio/lgvsc/ldpc_5g.h>
#include <gnuradio/digital/crc.h>
#include <algorithm>
#include <cmath>
#include <random>
#include <set>

namespace gr {
namespace lgvsc {

static gr::digital::crc& crc16()
{
    // CRC-16/CCITT-FALSE; thread_local: gr::digital::crc keeps a table, compute() is const-free
    thread_local gr::digital::crc c(16, 0x1021, 0xffff, 0, false, false);
    return c;
}

static int bits_of(size_t m)
{
    int b = 0;
    while ((size_t(1) << b) < m)
        b++;
    if ((size_t(1) << b) != m || b < 1 || b > 8)
        throw std::invalid_argument("constellation size must be a power of two 2..256");
    return b;
}

ofdm_layout::ofdm_layout(const ofdm_phy_config& c) : cfg(c)
{
    const int N = c.fft_len;
    if (N < 16 || c.cp_len <= 0 || c.cp_len >= N)
        throw std::invalid_argument("bad fft_len / cp_len");
    if (c.pilots.size() != c.pilot_symbols.size() || c.pilots.size() < 2)
        throw std::invalid_argument("need >= 2 pilots, one symbol each");
    std::set<int> seen;
    for (int k : c.occupied) {
        if (k == 0 || k < -N / 2 || k >= N / 2 || !seen.insert(k).second)
            throw std::invalid_argument("bad occupied carrier");
        data_bins.push_back(bin(k));
    }
    for (int k : c.pilots) {
        if (k == 0 || k < -N / 2 || k >= N / 2 || !seen.insert(k).second)
            throw std::invalid_argument("bad pilot carrier");
        pilot_bins.push_back(bin(k));
    }
    for (int k : seen) { // sorted by signed index
        active_k.push_back(k);
        active_bins.push_back(bin(k));
    }
    n_data = (int)c.occupied.size();
    n_active = (int)active_k.size();
    size_t n = c.mcs_names.size();
    if (n == 0 || c.mcs_code.size() != n || c.mcs_mod.size() != n || c.mcs_n.size() != n ||
        c.mcs_k.size() != n || c.mcs_frozen.size() != n)
        throw std::invalid_argument("MCS table vectors must have the same length");
    if (c.constellations.empty())
        throw std::invalid_argument("no constellations");
    for (auto& pts : c.constellations)
        bps.push_back(bits_of(pts.size()));
    for (size_t i = 0; i < n; i++) {
        if (c.mcs_mod[i] >= (int)bps.size() || c.mcs_mod[i] < -1)
            throw std::invalid_argument("MCS modulation id out of range");
        if (c.mcs_code[i] == CODE_POLAR) {
            int nn = c.mcs_n[i], kk = c.mcs_k[i];
            if (nn < 32 || (nn & (nn - 1)) || kk <= 0 || kk >= nn ||
                (int)c.mcs_frozen[i].size() != nn - kk)
                throw std::invalid_argument("bad polar code in the MCS table");
        } else if (c.mcs_code[i] == CODE_LDPC) {
            int num = c.mcs_k[i], den = c.mcs_n[i];
            if (num < 1 || den < num || den > 64)
                throw std::invalid_argument("bad LDPC rate (mcs_k / mcs_n) in the MCS table");
        } else if (c.mcs_code[i] != CODE_NONE && c.mcs_code[i] != CODE_CC) {
            throw std::invalid_argument("unknown code type in the MCS table");
        }
    }
    if (c.header_mod < 0 || c.header_mod >= (int)bps.size())
        throw std::invalid_argument("bad header modulation");
    // Header: at least HDR_MIN_REP copies of the coded header, whole symbols.
    int hb = n_data * bps[c.header_mod];
    n_hdr_sym = (HDR_MIN_REP * HDR_CODED + hb - 1) / hb;
    hdr_coded_bits = n_hdr_sym * hb;
    // Training: pseudo-random QPSK on every active carrier (fixed seed: both ends agree).
    std::mt19937 rng(0x1ca5);
    const float a = std::sqrt(0.5f);
    for (int i = 0; i < n_active; i++) {
        unsigned r = rng();
        train.emplace_back((r & 1) ? a : -a, (r & 2) ? a : -a);
    }
    // Per-symbol bit interleaver (802.11a's two permutations, rows = 16 or a divisor).
    interleave.assign(9, {});
    for (int b : bps) {
        int ncb = n_data * b;
        if (!interleave[b].empty())
            continue;
        int rows = 1;
        for (int r : { 16, 12, 8, 6, 4, 3, 2 })
            if (ncb % r == 0) {
                rows = r;
                break;
            }
        int s = std::max(b / 2, 1);
        std::vector<int> p(ncb);
        for (int k = 0; k < ncb; k++) {
            int i = (ncb / rows) * (k % rows) + k / rows;
            int j = s * (i / s) + (i + ncb - (rows * i) / ncb) % s;
            p[k] = j;
        }
        interleave[b] = p;
    }
    if (c.max_bytes < 1 || c.max_bytes > 65535)
        throw std::invalid_argument("max_bytes out of range 1..65535");
}

long ofdm_layout::coded_bits(int nbytes, int mcs) const
{
    long bits = 8L * nbytes;
    switch (cfg.mcs_code[mcs]) {
    case CODE_CC:
        return 2 * bits;
    case CODE_POLAR: {
        long k = cfg.mcs_k[mcs];
        return ((bits + k - 1) / k) * cfg.mcs_n[mcs];
    }
    case CODE_LDPC:
        return ldpc_5g::coded_bits(bits, cfg.mcs_k[mcs], cfg.mcs_n[mcs]);
    default:
        return bits;
    }
}

int ofdm_layout::payload_symbols(int nbytes, int mcs, int mod) const
{
    long per = (long)n_data * bps[mod];
    return (int)((coded_bits(nbytes, mcs) + per - 1) / per);
}

int ofdm_layout::burst_samples(int nbytes, int mcs, int mod) const
{
    int L = cfg.fft_len, S = cfg.fft_len + cfg.cp_len;
    return cfg.cp_len + N_TRAIN * L + (n_hdr_sym + payload_symbols(nbytes, mcs, mod)) * S;
}

std::vector<uint8_t> header_bits(int len, int seq, int mcs_byte)
{
    uint8_t b[7] = { uint8_t(len >> 8), uint8_t(len), uint8_t(seq >> 8), uint8_t(seq),
                     uint8_t(mcs_byte), 0, 0 };
    uint16_t c = (uint16_t)crc16().compute(b, 5);
    b[5] = c >> 8;
    b[6] = c & 0xff;
    std::vector<uint8_t> bits(HDR_BITS);
    for (int i = 0; i < HDR_BITS; i++)
        bits[i] = (b[i / 8] >> (7 - i % 8)) & 1;
    return bits;
}

bool parse_header(const uint8_t* bits, int& len, int& seq, int& mcs_byte)
{
    uint8_t b[7] = { 0 };
    for (int i = 0; i < HDR_BITS; i++)
        b[i / 8] |= (bits[i] & 1) << (7 - i % 8);
    uint16_t c = (uint16_t)crc16().compute(b, 5);
    if (((c >> 8) & 0xff) != b[5] || (c & 0xff) != b[6])
        return false;
    len = (b[0] << 8) | b[1];
    seq = (b[2] << 8) | b[3];
    mcs_byte = b[4];
    return true;
}

} // namespace lgvsc
} // namespace gr
