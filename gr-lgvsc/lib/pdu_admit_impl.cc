/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TX-side PDU admission.  See include/gnuradio/lgvsc/pdu_admit.h. */
#include "status_throttle.h"
#include <gnuradio/digital/crc.h>
#include <gnuradio/io_signature.h>
#include <gnuradio/lgvsc/pdu_admit.h>
#include <atomic>
#include <unordered_map>

namespace gr {
namespace lgvsc {

class pdu_admit_impl : public pdu_admit
{
    const int d_mtu, d_seq_bytes;
    const std::string d_label;
    const bool d_keep_mcs, d_crc_on;
    gr::digital::crc d_crc{ 32, 0x4C11DB7, 0xFFFFFFFF, 0xFFFFFFFF, true, true };
    std::unordered_map<std::string, pmt::pmt_t> d_mcs_meta;  // name -> {mcs: name}
    std::vector<std::string> d_mcs_sorted;
    std::atomic<uint64_t> d_pdus{ 0 }, d_bytes{ 0 }, d_oversize{ 0 }, d_empty{ 0 }, d_malformed{ 0 };
    const pmt::pmt_t d_out = pmt::mp("out"), d_k_mcs = pmt::mp("mcs"), d_empty_dict = pmt::make_dict();
    std::vector<uint8_t> d_buf;
    status_throttle d_status;

public:
    pdu_admit_impl(int mtu,
                   const std::string& label,
                   int seq_bytes,
                   bool keep_mcs,
                   const std::vector<std::string>& mcs_names,
                   bool append_crc,
                   double interval)
        : gr::block("pdu_admit", io_signature::make(0, 0, 0), io_signature::make(0, 0, 0)),
          d_mtu(mtu), d_seq_bytes(seq_bytes), d_label(label), d_keep_mcs(keep_mcs), d_crc_on(append_crc),
          d_status(this, [this] { return snapshot(); }, interval)
    {
        if (mtu < 1)
            throw std::invalid_argument("mtu must be >= 1, got " + std::to_string(mtu));
        if (seq_bytes != 0 && seq_bytes != 2)
            throw std::invalid_argument("seq_bytes must be 0 or 2, got " + std::to_string(seq_bytes));
        if (!(interval >= 0))
            throw std::invalid_argument("status_interval must be >= 0");
        for (const auto& n : mcs_names)
            d_mcs_meta[n] = pmt::dict_add(d_empty_dict, d_k_mcs, pmt::mp(n));
        d_mcs_sorted = mcs_names;
        std::sort(d_mcs_sorted.begin(), d_mcs_sorted.end());
        d_buf.reserve(mtu + seq_bytes + 4);
        message_port_register_in(pmt::mp("in"));
        message_port_register_out(d_out);
        message_port_register_out(pmt::mp("status"));
        set_msg_handler(pmt::mp("in"), [this](const pmt::pmt_t& m) { handle(m); });
    }

    bool start() override
    {
        d_status.start();
        return gr::block::start();
    }

    bool stop() override
    {
        d_status.stop();
        return gr::block::stop();
    }

    std::map<std::string, uint64_t> counters() const override
    {
        return { { "tx_pdus", d_pdus.load() },
                 { "tx_bytes", d_bytes.load() },
                 { "tx_oversize", d_oversize.load() },
                 { "tx_empty", d_empty.load() },
                 { "tx_malformed", d_malformed.load() } };
    }

private:
    pmt::pmt_t snapshot() const
    {
        pmt::pmt_t d = pmt::make_dict();
        for (const auto& kv : counters())
            d = pmt::dict_add(d, pmt::mp(kv.first), pmt::from_long((long)kv.second));
        return d;
    }

    void reject(std::atomic<uint64_t>& counter, const std::string& text)
    {
        counter++;
        d_logger->error("{:s}: {:s}; PDU dropped", d_label, text);
    }

    pmt::pmt_t meta(const pmt::pmt_t& in)
    {
        if (!d_keep_mcs || !pmt::is_dict(in))
            return d_empty_dict;
        pmt::pmt_t v = pmt::dict_ref(in, d_k_mcs, pmt::PMT_NIL);
        if (pmt::is_null(v))
            return d_empty_dict;
        if (pmt::is_symbol(v)) {
            auto it = d_mcs_meta.find(pmt::symbol_to_string(v));
            if (it != d_mcs_meta.end())
                return it->second;
        }
        std::string shown = pmt::write_string(v).substr(0, 40), names;
        for (const auto& n : d_mcs_sorted)
            names += (names.empty() ? "" : ", ") + n;
        d_logger->error("{:s}: unknown mcs '{:s}' in PDU metadata; sent with the default MCS (choose one of {:s})",
                        d_label, shown, names);
        return d_empty_dict;
    }

    void handle(const pmt::pmt_t& msg)
    {
        if (!pmt::is_pair(msg) || !pmt::is_u8vector(pmt::cdr(msg))) {
            reject(d_malformed, "message is not a PDU (pair of dict and u8vector)");
        } else {
            size_t n = 0;
            const uint8_t* data = pmt::u8vector_elements(pmt::cdr(msg), n);
            if (n == 0) {
                reject(d_empty, "empty PDU");
            } else if (n > (size_t)d_mtu) {
                reject(d_oversize, "PDU of " + std::to_string(n) + " bytes exceeds the MTU of " +
                                       std::to_string(d_mtu) + " bytes");
            } else {
                uint64_t seq = d_pdus++;
                d_bytes += n;
                pmt::pmt_t out;
                if (!d_seq_bytes && !d_crc_on) {
                    out = pmt::cdr(msg);  // u8vectors are not modified downstream: pass it on
                } else {
                    d_buf.clear();
                    if (d_seq_bytes) {
                        d_buf.push_back((uint8_t)((seq >> 8) & 0xFF));
                        d_buf.push_back((uint8_t)(seq & 0xFF));
                    }
                    d_buf.insert(d_buf.end(), data, data + n);
                    if (d_crc_on) {
                        uint64_t c = d_crc.compute(d_buf.data(), d_buf.size());
                        for (int i = 3; i >= 0; i--)
                            d_buf.push_back((uint8_t)((c >> (8 * i)) & 0xFF));
                    }
                    out = pmt::init_u8vector(d_buf.size(), d_buf.data());
                }
                message_port_pub(d_out, pmt::cons(meta(pmt::car(msg)), out));
            }
        }
        d_status.touch();
    }
};

pdu_admit::sptr pdu_admit::make(int mtu,
                                const std::string& label,
                                int seq_bytes,
                                bool keep_mcs,
                                const std::vector<std::string>& mcs_names,
                                bool append_crc,
                                double status_interval)
{
    return gnuradio::make_block_sptr<pdu_admit_impl>(
        mtu, label, seq_bytes, keep_mcs, mcs_names, append_crc, status_interval);
}

} // namespace lgvsc
} // namespace gr
