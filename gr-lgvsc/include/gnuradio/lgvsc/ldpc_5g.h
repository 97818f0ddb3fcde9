/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef INCLUDED_LGVSC_LDPC_5G_H
#define INCLUDED_LGVSC_LDPC_5G_H

#include <gnuradio/lgvsc/api.h>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace gr {
namespace lgvsc {

/*!
 * \brief 5G NR LDPC code (3GPP TS 38.212 5.2.2 / 5.3.2 / 5.4.2.1) with a layered min-sum decoder.
 *
 * Own code because nothing in gr-fec fits: gr-fec's LDPC (ldpc_encoder / ldpc_decoder from
 * alists, ldpc_bit_flip_decoder) works on dense GF(2) matrices and decodes by flooding BP
 * over a generic sparse matrix, far too slow for 5G lengths (N up to 26,112), and it has no
 * quasi-cyclic structure, rate matching or filler bits.
 *
 * One codeword, as Sionna's LDPC5GEncoder(k, e) without output interleaver, redundancy
 * version 0: k information bits plus K - k filler zeros (K = 22 Z for BG1, 10 Z for BG2,
 * Z the smallest lifting size with kb Z >= k), QC encoding with circulant shifts V mod Z,
 * then the circular buffer without the first 2Z (punctured) systematic bits and without the
 * fillers; the first e bits of it are sent (repeated cyclically if e exceeds it).
 *
 * A PDU of B bits is cut into C = ceil(B / Kcb) segments (Kcb 8448 BG1, 3840 BG2; the base
 * graph chosen from B and the rate by the 5G rule), segment c holding B/C bits (the first
 * B mod C one more) and sending ceil(k_c den / num) coded bits.  No per-segment CRC: the
 * decoder stops on a zero syndrome and the PDU's CRC-32 judges the result.
 *
 * Soft input: LLRs, positive = bit 1 (the OFDM demod's convention).  Thread safety: one
 * object per thread (the code cache is locked, the decoder's work buffers are not).
 */
class LGVSC_API ldpc_5g
{
public:
    struct segment {
        int k;   //!< information bits
        int e;   //!< coded bits sent
        int bg;  //!< base graph 1 or 2
    };

    /*! Check-node messages max(alpha * min - beta, 0) (offset-normalised min-sum; beta in LLR
     *  units, so the input must be true-scale LLRs, as the OFDM demod's are).  alpha 0.8, beta 0.3:
     *  measured on BPSK/AWGN, 2 x 4816-bit BG1 segments, 40 iterations, 200 PDUs at the waterfall:
     *  PER rate 1/3 -1.3 dB 1 % (normalised-only 0.6: 11 %), 1/2 1.05 dB 1 % (0.7: 8 %), 2/3 3 dB
     *  17.5 % (0.7: 24 %), 3/4 4 dB 23.5 % (0.7: 25 %); (0.75, 0.2), (0.85, 0.4), (0.9, 0.5) no better. */
    explicit ldpc_5g(int max_iter = 40, float alpha = 0.8f, float beta = 0.3f);
    ~ldpc_5g();

    //! base graph of the 5G rule for k bits at rate r (TS 38.212 7.2.2, as Sionna)
    static int select_bg(long k, double r);
    //! lifting size Z and set index of a k-bit codeword in base graph bg
    static void select_lifting(int k, int bg, int& z, int& ils);
    //! segmentation of a B-bit PDU at rate num/den
    static std::vector<segment> plan(long nbits, int num, int den);
    //! coded bits of a B-bit PDU at rate num/den (sum of the segments' e)
    static long coded_bits(long nbits, int num, int den);

    //! one codeword: k info bits (0/1) -> e coded bits
    void encode(const uint8_t* info, int k, int e, int bg, uint8_t* out);
    /*! one codeword: e LLRs -> k hard bits; returns the iterations used (> 0) or
     *  -max_iter when the syndrome never cleared.  max_iter 40: layered min-sum on BG1 at
     *  rate 1/3 still gains at the waterfall from 20 to 30 to 50 iterations (BPSK/AWGN, 2 x 4816
     *  bits at -1.2 dB Es/N0: PER 25 %, 5 %, 0 %); the mean at the operating point is ~7. */
    int decode(const float* llr, int k, int e, int bg, uint8_t* out);

    //! whole PDU (plan()): nbits -> coded_bits(nbits) bits
    void encode_pdu(const uint8_t* bits, long nbits, int num, int den, uint8_t* out);
    //! whole PDU: coded_bits(nbits) LLRs -> nbits bits; returns the number of failed segments
    int decode_pdu(const float* llr, long nbits, int num, int den, uint8_t* out);

    //! Python-friendly forms of encode / decode (vectors)
    std::vector<uint8_t> encode_v(const std::vector<uint8_t>& info, int e, int bg);
    std::vector<uint8_t> decode_v(const std::vector<float>& llr, int k, int bg);
    int last_iterations() const { return d_last_iter; }
    int max_iter() const { return d_max_iter; }

    struct code;  // lifted graph, encoder inverse (ldpc_5g.cc)

private:
    const code& get(int bg, int z, int ils);
    int d_max_iter;
    float d_alpha, d_beta;
    int d_last_iter = 0;
    std::mutex d_mu;
    std::map<int, std::unique_ptr<code>> d_codes;
    std::vector<float> d_L, d_R, d_T, d_min1, d_min2, d_sgn, d_imin;
    std::vector<uint8_t> d_hard;
};

} // namespace lgvsc
} // namespace gr

#endif
