/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef INCLUDED_LGVSC_PDU_ADMIT_H
#define INCLUDED_LGVSC_PDU_ADMIT_H

#include <gnuradio/block.h>
#include <gnuradio/lgvsc/api.h>
#include <map>
#include <string>
#include <vector>

namespace gr {
namespace lgvsc {

/*!
 * \brief TX-side PDU admission, the first block of every LGVSC PHY transmitter.
 *
 * Message port "in": PDUs.  A valid PDU is pmt::cons(meta, u8vector) of
 * 1..mtu bytes; anything else is logged (error), counted and dropped.  Valid
 * PDUs leave on "out" with their metadata replaced by an empty dict, except
 * the "mcs" key when keep_mcs (a symbol naming one of mcs_names; an unknown
 * one is logged and dropped from the metadata, i.e. the PHY's default MCS).
 * seq_bytes 2 prepends a big-endian 16-bit packet counter; append_crc appends
 * CRC-32 (IEEE 802.3 as zlib, big-endian: what digital.crc_append(32,
 * 0x4C11DB7, ~0, ~0, true, true, false) writes).
 *
 * Port "status": a dict of counters tx_pdus, tx_bytes, tx_oversize, tx_empty,
 * tx_malformed, at most every status_interval seconds (default 0.02) and
 * within status_interval of the last change (a flusher thread between
 * start() and stop(); stop() publishes the final state).
 */
class LGVSC_API pdu_admit : virtual public gr::block
{
public:
    typedef std::shared_ptr<pdu_admit> sptr;
    static sptr make(int mtu,
                     const std::string& label,
                     int seq_bytes,
                     bool keep_mcs,
                     const std::vector<std::string>& mcs_names,
                     bool append_crc,
                     double status_interval = 0.02);
    //! the counters (the same dict status publishes)
    virtual std::map<std::string, uint64_t> counters() const = 0;
};

} // namespace lgvsc
} // namespace gr

#endif
