/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef INCLUDED_LGVSC_BURST_COUNTERS_H
#define INCLUDED_LGVSC_BURST_COUNTERS_H

#include <gnuradio/lgvsc/api.h>
#include <cstdint>

namespace gr {
namespace lgvsc {

/*!
 * \brief What a burst demodulator counts besides its PDUs: pdu_rx_check::set_demod()
 * puts these into the receiver's status dict as rx_detect and rx_header_fail.
 * ofdm_burst_demod and psk_burst_demod implement it.
 */
class LGVSC_API burst_counters
{
public:
    virtual ~burst_counters() = default;
    //! bursts detected (header decoded or not)
    virtual uint64_t detections() const = 0;
    //! detections whose header failed its CRC
    virtual uint64_t header_failures() const = 0;
};

} // namespace lgvsc
} // namespace gr

#endif
