/* SPDX-License-Identifier: GPL-3.0-or-later */
/* 5G NR LDPC code: QC encoder with 5G rate matching, layered normalized min-sum decoder.
 * See include/gnuradio/lgvsc/ldpc_5g.h for what it is and why it is not gr-fec's. */
#include "ldpc_5g_tables.h"
#include <gnuradio/lgvsc/ldpc_5g.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

// The min-sum row kernel is written as plain loops over the Z lanes of a circulant; GCC
// vectorises them (-O3, Release).  On x86_64 an AVX2 clone is built beside the baseline
// one and picked at load time (ifunc), so the library still runs on any x86_64.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define LGVSC_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define LGVSC_MULTIVERSION
#endif

namespace gr {
namespace lgvsc {

namespace {
constexpr float FILLER_LLR = 1e4f;  // known-zero filler bits (positive = 0 inside the decoder)

// 38.212 Table 5.3.2-1: lifting sizes per set index i_LS
const std::vector<std::vector<int>> LIFT_SETS = {
    { 2, 4, 8, 16, 32, 64, 128, 256 },  { 3, 6, 12, 24, 48, 96, 192, 384 },
    { 5, 10, 20, 40, 80, 160, 320 },    { 7, 14, 28, 56, 112, 224 },
    { 9, 18, 36, 72, 144, 288 },        { 11, 22, 44, 88, 176, 352 },
    { 13, 26, 52, 104, 208 },           { 15, 30, 60, 120, 240 },
};

// One layer (base-graph row) of layered normalized min-sum over the Z lanes.
// L: posterior LLRs (column-major, Z per column), R: this row's check messages (deg x Z),
// T: scratch (deg x Z).  Returns nothing; updates L and R in place.
LGVSC_MULTIVERSION
void process_row(float* __restrict L, float* __restrict R, float* __restrict T, const int* cols,
                 const int* shifts, int deg, int Z, float alpha, float beta, float* __restrict min1,
                 float* __restrict min2, float* __restrict sgn, float* __restrict imin)
{
    for (int i = 0; i < Z; i++) {
        min1[i] = 3e38f;
        min2[i] = 3e38f;
        sgn[i] = 1.f;
        imin[i] = 0.f;
    }
    for (int e = 0; e < deg; e++) {
        const float* src = L + (size_t)cols[e] * Z;
        const float* r = R + (size_t)e * Z;
        float* t = T + (size_t)e * Z;
        int s = shifts[e], n1 = Z - s;
        for (int i = 0; i < n1; i++)
            t[i] = src[s + i] - r[i];
        for (int i = 0; i < s; i++)
            t[n1 + i] = src[i] - r[n1 + i];
        const float fe = (float)e;
        // branch-free, loads before selects, one type: GCC vectorises it
        for (int i = 0; i < Z; i++) {
            float ti = t[i], a = std::fabs(ti);
            float m1 = min1[i], m2 = min2[i], im = imin[i], sg = sgn[i];
            bool lt = a < m1;
            float hi = lt ? m1 : a;
            min2[i] = hi < m2 ? hi : m2;
            imin[i] = lt ? fe : im;
            min1[i] = lt ? a : m1;
            sgn[i] = ti < 0.f ? -sg : sg;
        }
    }
    for (int i = 0; i < Z; i++) {  // offset-normalised: max(alpha m - beta, 0)
        float a = min1[i] * alpha - beta, b = min2[i] * alpha - beta;
        min1[i] = a > 0.f ? a : 0.f;
        min2[i] = b > 0.f ? b : 0.f;
    }
    for (int e = 0; e < deg; e++) {
        float* dst = L + (size_t)cols[e] * Z;
        float* r = R + (size_t)e * Z;
        float* t = T + (size_t)e * Z;
        const float fe = (float)e;
        for (int i = 0; i < Z; i++) {
            float a = min1[i], b = min2[i], sg = sgn[i], ti = t[i];
            float m = imin[i] == fe ? b : a;
            float sg2 = ti < 0.f ? -sg : sg;
            float rn = sg2 * m;
            r[i] = rn;
            t[i] = ti + rn;
        }
        int s = shifts[e], n1 = Z - s;
        for (int i = 0; i < n1; i++)
            dst[s + i] = t[i];
        for (int i = 0; i < s; i++)
            dst[i] = t[n1 + i];
    }
}

inline int ceil_div(long a, long b) { return (int)((a + b - 1) / b); }
} // namespace

struct ldpc_5g::code {
    int bg, z, ils, kb, ncols, nrows;
    std::vector<int> row_start, cols, shifts;  // edges by row
    int max_deg = 0;
    int W;                                     // 64-bit words per row of the core inverse
    std::vector<uint64_t> inv;                 // (4Z) x W: inverse of the 4Z x 4Z core parity part

    code(int bg_, int z_, int ils_) : bg(bg_), z(z_), ils(ils_)
    {
        const ldpc_tables::entry* t = bg == 1 ? ldpc_tables::BG1 : ldpc_tables::BG2;
        int nnz = bg == 1 ? ldpc_tables::BG1_NNZ : ldpc_tables::BG2_NNZ;
        kb = bg == 1 ? ldpc_tables::BG1_KB : ldpc_tables::BG2_KB;
        ncols = bg == 1 ? ldpc_tables::BG1_COLS : ldpc_tables::BG2_COLS;
        nrows = bg == 1 ? ldpc_tables::BG1_ROWS : ldpc_tables::BG2_ROWS;
        row_start.assign(nrows + 1, 0);
        for (int i = 0; i < nnz; i++) {  // the table is sorted by (row, col)
            cols.push_back(t[i].col);
            shifts.push_back(t[i].shift[ils] % z);
            row_start[t[i].row + 1]++;
        }
        for (int r = 0; r < nrows; r++) {
            max_deg = std::max(max_deg, row_start[r + 1]);
            row_start[r + 1] += row_start[r];
        }
        // Core parity part H[0..3][kb..kb+3] (4Z x 4Z), inverted by Gauss-Jordan over GF(2).
        const int n = 4 * z;
        W = (n + 63) / 64;
        int W2 = 2 * W;
        std::vector<uint64_t> a((size_t)n * W2, 0);
        auto setb = [&](int row, int col) { a[(size_t)row * W2 + col / 64] ^= uint64_t(1) << (col % 64); };
        for (int r = 0; r < 4; r++)
            for (int e = row_start[r]; e < row_start[r + 1]; e++) {
                if (cols[e] < kb)
                    continue;
                int cb = cols[e] - kb;
                for (int i = 0; i < z; i++)
                    setb(r * z + i, cb * z + (i + shifts[e]) % z);
            }
        for (int i = 0; i < n; i++)
            setb(i, n + i);
        for (int c = 0; c < n; c++) {
            int p = -1;
            for (int r = c; r < n; r++)
                if ((a[(size_t)r * W2 + c / 64] >> (c % 64)) & 1) {
                    p = r;
                    break;
                }
            if (p < 0)
                throw std::runtime_error("LDPC core parity part is singular (bg " + std::to_string(bg) +
                                         ", Z " + std::to_string(z) + ")");
            if (p != c)
                std::swap_ranges(a.begin() + (size_t)p * W2, a.begin() + (size_t)(p + 1) * W2,
                                 a.begin() + (size_t)c * W2);
            const uint64_t* pc = &a[(size_t)c * W2];
            for (int r = 0; r < n; r++) {
                if (r == c || !((a[(size_t)r * W2 + c / 64] >> (c % 64)) & 1))
                    continue;
                uint64_t* pr = &a[(size_t)r * W2];
                for (int w = c / 64; w < W2; w++)
                    pr[w] ^= pc[w];
            }
        }
        // right half, shifted down to bit 0: inv[r] = row r of the inverse
        inv.assign((size_t)n * W, 0);
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++)
                if ((a[(size_t)r * W2 + (n + c) / 64] >> ((n + c) % 64)) & 1)
                    inv[(size_t)r * W + c / 64] |= uint64_t(1) << (c % 64);
    }

    int K() const { return kb * z; }
    int N() const { return ncols * z; }
    //! circular-buffer length without the 2Z punctured bits and the fillers
    int ncb(int k) const { return N() - 2 * z - (K() - k); }
    //! codeword position of circular-buffer index b (0 <= b < ncb)
    int pos(int b, int k) const
    {
        int q = b + 2 * z;  // index into (c[0..k) ++ c[K..N))
        return q < k ? q : q - k + K();
    }
};

ldpc_5g::ldpc_5g(int max_iter, float alpha, float beta)
    : d_max_iter(max_iter), d_alpha(alpha), d_beta(beta)
{
    if (max_iter < 1 || max_iter > 200)
        throw std::invalid_argument("LDPC max_iter must be 1..200");
    if (!(alpha > 0 && alpha <= 1))
        throw std::invalid_argument("LDPC alpha must be in (0, 1]");
    if (!(beta >= 0 && beta <= 10))
        throw std::invalid_argument("LDPC beta must be in [0, 10]");
}

ldpc_5g::~ldpc_5g() = default;

int ldpc_5g::select_bg(long k, double r)
{
    if (k <= 292)
        return 2;
    if (k <= 3824 && r <= 0.67)
        return 2;
    if (r <= 0.25)
        return 2;
    return 1;
}

void ldpc_5g::select_lifting(int k, int bg, int& z, int& ils)
{
    if (bg != 1 && bg != 2)
        throw std::invalid_argument("LDPC base graph must be 1 or 2");
    if (k < 1 || k > (bg == 1 ? 8448 : 3840))
        throw std::invalid_argument("LDPC k out of range for the base graph");
    int kb = bg == 1 ? 22 : (k > 640 ? 10 : k > 560 ? 9 : k > 192 ? 8 : 6);
    int best = 1 << 30;
    z = ils = 0;
    for (int s = 0; s < (int)LIFT_SETS.size(); s++)
        for (int zz : LIFT_SETS[s])
            if (kb * zz >= k && kb * zz < best) {
                best = kb * zz;
                z = zz;
                ils = s;
            }
}

std::vector<ldpc_5g::segment> ldpc_5g::plan(long nbits, int num, int den)
{
    if (num < 1 || den < num || den > 64)
        throw std::invalid_argument("LDPC rate num/den must satisfy 1 <= num <= den <= 64");
    if (nbits < 1 || nbits > (1L << 24))
        throw std::invalid_argument("LDPC PDU size out of range");
    int bg = select_bg(nbits, (double)num / den);
    long kcb = bg == 1 ? 8448 : 3840;
    long C = (nbits + kcb - 1) / kcb;
    std::vector<segment> segs;
    for (long c = 0; c < C; c++) {
        int k = (int)(nbits / C + (c < nbits % C ? 1 : 0));
        segs.push_back({ k, ceil_div((long)k * den, num), bg });
    }
    return segs;
}

long ldpc_5g::coded_bits(long nbits, int num, int den)
{
    long n = 0;
    for (auto& s : plan(nbits, num, den))
        n += s.e;
    return n;
}

const ldpc_5g::code& ldpc_5g::get(int bg, int z, int ils)
{
    std::lock_guard<std::mutex> lk(d_mu);
    int key = bg * 1024 + z;
    auto it = d_codes.find(key);
    if (it == d_codes.end())
        it = d_codes.emplace(key, std::make_unique<code>(bg, z, ils)).first;
    return *it->second;
}

void ldpc_5g::encode(const uint8_t* info, int k, int e, int bg, uint8_t* out)
{
    if (e < 1)
        throw std::invalid_argument("LDPC e must be >= 1");
    if (bg == 0)
        bg = select_bg(k, (double)k / e);
    int z, ils;
    select_lifting(k, bg, z, ils);
    const code& c = get(bg, z, ils);
    const int K = c.K(), Z = z;
    // how many extension parity columns the rate matching reaches
    int ncb = c.ncb(k);
    int last = e >= ncb ? c.N() - 1 : c.pos(e - 1, k);
    int nrows = std::max(4, std::min(c.nrows, last / Z - c.kb + 1));
    std::vector<uint8_t> x((size_t)(c.kb + nrows) * Z, 0);
    for (int i = 0; i < k; i++)
        x[i] = info[i] & 1;
    (void)K;
    // core: s = H_sys x (rows 0..3), p = Hcore^-1 s
    const int n4 = 4 * Z;
    std::vector<uint8_t> s(n4, 0);
    for (int r = 0; r < 4; r++)
        for (int ed = c.row_start[r]; ed < c.row_start[r + 1]; ed++) {
            if (c.cols[ed] >= c.kb)
                continue;
            const uint8_t* src = &x[(size_t)c.cols[ed] * Z];
            uint8_t* dst = &s[(size_t)r * Z];
            int sh = c.shifts[ed], n1 = Z - sh;
            for (int i = 0; i < n1; i++)
                dst[i] ^= src[sh + i];
            for (int i = 0; i < sh; i++)
                dst[n1 + i] ^= src[i];
        }
    std::vector<uint64_t> sp(c.W, 0);
    for (int i = 0; i < n4; i++)
        if (s[i])
            sp[i / 64] |= uint64_t(1) << (i % 64);
    uint8_t* p = &x[(size_t)c.kb * Z];
    for (int r = 0; r < n4; r++) {
        const uint64_t* row = &c.inv[(size_t)r * c.W];
        uint64_t acc = 0;
        for (int w = 0; w < c.W; w++)
            acc ^= row[w] & sp[w];
        p[r] = (uint8_t)(__builtin_popcountll(acc) & 1);
    }
    // extension rows: identity on column kb + r, so the parity is the row's sum over the rest
    for (int r = 4; r < nrows; r++) {
        uint8_t* dst = &x[(size_t)(c.kb + r) * Z];
        for (int ed = c.row_start[r]; ed < c.row_start[r + 1]; ed++) {
            if (c.cols[ed] == c.kb + r)
                continue;
            const uint8_t* src = &x[(size_t)c.cols[ed] * Z];
            int sh = c.shifts[ed], n1 = Z - sh;
            for (int i = 0; i < n1; i++)
                dst[i] ^= src[sh + i];
            for (int i = 0; i < sh; i++)
                dst[n1 + i] ^= src[i];
        }
    }
    for (int j = 0; j < e; j++)
        out[j] = x[c.pos(j % ncb, k)];
}

int ldpc_5g::decode(const float* llr, int k, int e, int bg, uint8_t* out)
{
    if (e < 1)
        throw std::invalid_argument("LDPC e must be >= 1");
    if (bg == 0)
        bg = select_bg(k, (double)k / e);
    int z, ils;
    select_lifting(k, bg, z, ils);
    const code& c = get(bg, z, ils);
    const int Z = z, K = c.K();
    int ncb = c.ncb(k);
    int last = e >= ncb ? c.N() - 1 : c.pos(e - 1, k);
    int nrows = std::max(4, std::min(c.nrows, last / Z - c.kb + 1));
    int ncols = c.kb + nrows;
    d_L.assign((size_t)ncols * Z, 0.f);
    for (int i = k; i < K; i++)
        d_L[i] = FILLER_LLR;
    for (int j = 0; j < e; j++) {
        float v = llr[j];
        if (!std::isfinite(v))
            v = 0.f;
        d_L[c.pos(j % ncb, k)] -= std::clamp(v, -FILLER_LLR, FILLER_LLR);  // inside: positive = 0
    }
    int nedges = c.row_start[nrows];
    d_R.assign((size_t)nedges * Z, 0.f);
    d_T.resize((size_t)c.max_deg * Z);
    d_min1.resize(Z);
    d_min2.resize(Z);
    d_sgn.resize(Z);
    d_imin.resize(Z);
    d_hard.resize((size_t)ncols * Z);
    std::vector<uint8_t> par(Z);
    int it = 0;
    bool ok = false;
    for (it = 1; it <= d_max_iter; it++) {
        for (int r = 0; r < nrows; r++) {
            int e0 = c.row_start[r];
            process_row(d_L.data(), d_R.data() + (size_t)e0 * Z, d_T.data(), &c.cols[e0], &c.shifts[e0],
                        c.row_start[r + 1] - e0, Z, d_alpha, d_beta, d_min1.data(), d_min2.data(), d_sgn.data(),
                        d_imin.data());
        }
        // early termination: syndrome of the hard decisions over the active rows
        for (size_t i = 0; i < d_hard.size(); i++)
            d_hard[i] = d_L[i] < 0.f;
        ok = true;
        for (int r = 0; r < nrows && ok; r++) {
            std::fill(par.begin(), par.end(), 0);
            for (int ed = c.row_start[r]; ed < c.row_start[r + 1]; ed++) {
                const uint8_t* src = &d_hard[(size_t)c.cols[ed] * Z];
                int sh = c.shifts[ed], n1 = Z - sh;
                for (int i = 0; i < n1; i++)
                    par[i] ^= src[sh + i];
                for (int i = 0; i < sh; i++)
                    par[n1 + i] ^= src[i];
            }
            uint8_t any = 0;
            for (int i = 0; i < Z; i++)
                any |= par[i];
            ok = !any;
        }
        if (ok)
            break;
    }
    for (int i = 0; i < k; i++)
        out[i] = d_L[i] < 0.f;
    d_last_iter = ok ? it : -d_max_iter;
    return d_last_iter;
}

void ldpc_5g::encode_pdu(const uint8_t* bits, long nbits, int num, int den, uint8_t* out)
{
    for (auto& s : plan(nbits, num, den)) {
        encode(bits, s.k, s.e, s.bg, out);
        bits += s.k;
        out += s.e;
    }
}

int ldpc_5g::decode_pdu(const float* llr, long nbits, int num, int den, uint8_t* out)
{
    int failed = 0;
    for (auto& s : plan(nbits, num, den)) {
        if (decode(llr, s.k, s.e, s.bg, out) < 0)
            failed++;
        llr += s.e;
        out += s.k;
    }
    return failed;
}

std::vector<uint8_t> ldpc_5g::encode_v(const std::vector<uint8_t>& info, int e, int bg)
{
    std::vector<uint8_t> out(std::max(e, 0));
    encode(info.data(), (int)info.size(), e, bg, out.data());
    return out;
}

std::vector<uint8_t> ldpc_5g::decode_v(const std::vector<float>& llr, int k, int bg)
{
    std::vector<uint8_t> out(std::max(k, 0));
    decode(llr.data(), k, (int)llr.size(), bg, out.data());
    return out;
}

} // namespace lgvsc
} // namespace gr
