/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef INCLUDED_LGVSC_PDU_RX_CHECK_H
#define INCLUDED_LGVSC_PDU_RX_CHECK_H

#include <gnuradio/block.h>
#include <gnuradio/lgvsc/api.h>
#include <map>
#include <string>

namespace gr {
namespace lgvsc {

/*!
 * \brief RX-side output gate, the last block of every LGVSC PHY receiver.
 *
 * Input message ports:
 *  - "in": decoded PDUs whose last 4 bytes are a CRC-32 (as pdu_admit /
 *    digital.crc_append write it): checked here, CRC stripped; failures are
 *    counted as rx_crc_fail and dropped.
 *  - "ok" / "fail": the two outputs of digital.crc_check (already checked /
 *    counted as rx_crc_fail).
 *  - "snr": a running SNR estimate (a number, dB), e.g. probe_mpsk_snr_est_c.
 *
 * Good PDUs of 1..mtu bytes (after stripping a seq_bytes 16-bit counter) leave
 * on "out" with metadata crc_ok (#t), phy, fec, rx_count (uint64, index among
 * good PDUs), packet_num (the stripped counter, or the demodulator's
 * packet_num key), freq_offset (the demodulator's freq_offset, or its
 * ofdm_sync_carr_offset / fft_len), mcs and fec (symbols, when the
 * demodulator sets them), snr_db (the PDU's own snr_db, else the latest "snr"
 * estimate).  Others are counted as rx_oversize and dropped.
 *
 * Port "status": dict of rx_ok, rx_bytes, rx_crc_fail, rx_oversize,
 * last_snr_db (when known) and, with set_demod(), rx_detect and
 * rx_header_fail of that demodulator (burst_counters); at most every status_interval
 * seconds, within status_interval of the last change.
 */
class LGVSC_API pdu_rx_check : virtual public gr::block
{
public:
    typedef std::shared_ptr<pdu_rx_check> sptr;
    static sptr make(const std::string& phy,
                     const std::string& fec,
                     int fft_len,
                     int mtu,
                     int seq_bytes,
                     double status_interval = 0.02);
    //! add rx_detect / rx_header_fail of a burst_counters block (ofdm_burst_demod, psk_burst_demod) to status
    //! (another block: invalid_argument)
    virtual void set_demod(gr::basic_block_sptr demod) = 0;
    //! the counters (integer part of the status dict)
    virtual std::map<std::string, uint64_t> counters() const = 0;
    //! latest snr_db seen (NaN before the first)
    virtual double last_snr_db() const = 0;
};

} // namespace lgvsc
} // namespace gr

#endif
