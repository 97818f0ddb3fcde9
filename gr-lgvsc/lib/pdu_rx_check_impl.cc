/* SPDX-License-Identifier: GPL-3.0-or-later */
/* RX-side CRC check, metadata and counters.  See include/gnuradio/lgvsc/pdu_rx_check.h. */
#include "status_throttle.h"
#include <gnuradio/digital/crc.h>
#include <gnuradio/io_signature.h>
#include <gnuradio/lgvsc/burst_counters.h>
#include <gnuradio/lgvsc/pdu_rx_check.h>
#include <atomic>
#include <cmath>

namespace gr {
namespace lgvsc {

class pdu_rx_check_impl : public pdu_rx_check
{
    const int d_fft_len, d_mtu, d_seq_bytes;
    gr::digital::crc d_crc{ 32, 0x4C11DB7, 0xFFFFFFFF, 0xFFFFFFFF, true, true };
    std::atomic<uint64_t> d_ok{ 0 }, d_bytes{ 0 }, d_crc_fail{ 0 }, d_oversize{ 0 };
    std::atomic<double> d_snr{ NAN };
    pmt::pmt_t d_snr_pmt = pmt::PMT_NIL;  // the latest snr_db value (handler thread only)
    pmt::pmt_t d_base;                    // crc_ok, phy, fec
    std::shared_ptr<burst_counters> d_demod;
    const pmt::pmt_t d_out = pmt::mp("out"), k_num = pmt::mp("packet_num"),
                     k_carr = pmt::mp("ofdm_sync_carr_offset"), k_freq = pmt::mp("freq_offset"),
                     k_count = pmt::mp("rx_count"), k_snr = pmt::mp("snr_db"), k_mcs = pmt::mp("mcs"),
                     k_fec = pmt::mp("fec");
    status_throttle d_status;

public:
    pdu_rx_check_impl(const std::string& phy, const std::string& fec, int fft_len, int mtu, int seq_bytes,
                      double interval)
        : gr::block("pdu_rx_check", io_signature::make(0, 0, 0), io_signature::make(0, 0, 0)),
          d_fft_len(fft_len), d_mtu(mtu), d_seq_bytes(seq_bytes),
          d_status(this, [this] { return snapshot(); }, interval)
    {
        if (mtu < 1)
            throw std::invalid_argument("mtu must be >= 1, got " + std::to_string(mtu));
        if (seq_bytes != 0 && seq_bytes != 2)
            throw std::invalid_argument("seq_bytes must be 0 or 2, got " + std::to_string(seq_bytes));
        if (fft_len < 0)
            throw std::invalid_argument("fft_len must be >= 0");
        if (!(interval >= 0))
            throw std::invalid_argument("status_interval must be >= 0");
        d_base = pmt::make_dict();
        d_base = pmt::dict_add(d_base, pmt::mp("crc_ok"), pmt::PMT_T);
        d_base = pmt::dict_add(d_base, pmt::mp("phy"), pmt::mp(phy));
        d_base = pmt::dict_add(d_base, k_fec, pmt::mp(fec));
        for (const char* p : { "in", "ok", "fail", "snr" })
            message_port_register_in(pmt::mp(p));
        message_port_register_out(d_out);
        message_port_register_out(pmt::mp("status"));
        set_msg_handler(pmt::mp("in"), [this](const pmt::pmt_t& m) { check(m); });
        set_msg_handler(pmt::mp("ok"), [this](const pmt::pmt_t& m) { good(m, false); });
        set_msg_handler(pmt::mp("fail"), [this](const pmt::pmt_t&) {
            d_crc_fail++;
            d_status.touch();
        });
        set_msg_handler(pmt::mp("snr"), [this](const pmt::pmt_t& m) { snr_msg(m); });
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

    void set_demod(gr::basic_block_sptr demod) override
    {
        auto d = std::dynamic_pointer_cast<burst_counters>(demod);
        if (!d)
            throw std::invalid_argument("set_demod needs a burst demodulator (gr::lgvsc::burst_counters)");
        d_demod = d;
        d_status.set_poll([d] { return d->detections() + (d->header_failures() << 32); });
    }

    std::map<std::string, uint64_t> counters() const override
    {
        std::map<std::string, uint64_t> c{ { "rx_ok", d_ok.load() },
                                           { "rx_bytes", d_bytes.load() },
                                           { "rx_crc_fail", d_crc_fail.load() },
                                           { "rx_oversize", d_oversize.load() } };
        if (d_demod) {
            c["rx_detect"] = d_demod->detections();
            c["rx_header_fail"] = d_demod->header_failures();
        }
        return c;
    }

    double last_snr_db() const override { return d_snr; }

private:
    pmt::pmt_t snapshot() const
    {
        pmt::pmt_t d = pmt::make_dict();
        for (const auto& kv : counters())
            d = pmt::dict_add(d, pmt::mp(kv.first), pmt::from_long((long)kv.second));
        double s = d_snr;
        if (std::isfinite(s))
            d = pmt::dict_add(d, pmt::mp("last_snr_db"), pmt::from_double(s));
        return d;
    }

    void snr_msg(const pmt::pmt_t& m)
    {
        if (!pmt::is_number(m) || pmt::is_complex(m))
            return;
        double v = pmt::to_double(m);
        if (!std::isfinite(v))
            return;
        v = std::round(v * 100) / 100;
        d_snr = v;
        d_snr_pmt = pmt::from_double(v);
    }

    void check(const pmt::pmt_t& msg)
    {
        if (!pmt::is_pair(msg) || !pmt::is_u8vector(pmt::cdr(msg))) {
            d_logger->warn("input is not a PDU; dropped");
            return;
        }
        size_t n = 0;
        const uint8_t* data = pmt::u8vector_elements(pmt::cdr(msg), n);
        bool ok = n >= 4;
        if (ok) {
            uint64_t c = d_crc.compute(data, n - 4);
            uint64_t got = ((uint64_t)data[n - 4] << 24) | ((uint64_t)data[n - 3] << 16) |
                           ((uint64_t)data[n - 2] << 8) | data[n - 1];
            ok = c == got;
        }
        if (!ok) {
            d_crc_fail++;
            d_status.touch();
            return;
        }
        emit(pmt::car(msg), data, n - 4);
    }

    void good(const pmt::pmt_t& msg, bool)
    {
        if (!pmt::is_pair(msg) || !pmt::is_u8vector(pmt::cdr(msg)))
            return;
        size_t n = 0;
        const uint8_t* data = pmt::u8vector_elements(pmt::cdr(msg), n);
        emit(pmt::car(msg), data, n);
    }

    void emit(const pmt::pmt_t& src, const uint8_t* data, size_t n)
    {
        long seq = -1;
        if (d_seq_bytes) {
            if (n > (size_t)d_seq_bytes) {
                seq = ((long)data[0] << 8) | data[1];
                data += d_seq_bytes;
                n -= d_seq_bytes;
            } else {
                n = 0;
            }
        }
        if (n == 0 || n > (size_t)d_mtu) {
            d_oversize++;
            d_logger->warn("received PDU of {:d} bytes outside 1..{:d}; dropped", n, d_mtu);
            d_status.touch();
            return;
        }
        pmt::pmt_t meta = pmt::dict_add(d_base, k_count, pmt::from_uint64(d_ok.load()));
        if (seq >= 0)
            meta = pmt::dict_add(meta, k_num, pmt::from_long(seq));
        if (pmt::is_dict(src)) {
            pmt::pmt_t num = pmt::dict_ref(src, k_num, pmt::PMT_NIL);
            if (pmt::is_integer(num))
                meta = pmt::dict_add(meta, k_num, num);
            pmt::pmt_t carr = pmt::dict_ref(src, k_carr, pmt::PMT_NIL);
            if (pmt::is_integer(carr) && d_fft_len)
                meta = pmt::dict_add(meta, k_freq, pmt::from_double((double)pmt::to_long(carr) / d_fft_len));
            pmt::pmt_t freq = pmt::dict_ref(src, k_freq, pmt::PMT_NIL);
            if (pmt::is_number(freq) && !pmt::is_complex(freq))
                meta = pmt::dict_add(meta, k_freq, pmt::from_double(pmt::to_double(freq)));
            for (const auto& key : { k_mcs, k_fec }) {
                pmt::pmt_t v = pmt::dict_ref(src, key, pmt::PMT_NIL);
                if (pmt::is_symbol(v))
                    meta = pmt::dict_add(meta, key, v);
            }
            pmt::pmt_t snr = pmt::dict_ref(src, k_snr, pmt::PMT_NIL);
            if (pmt::is_real(snr) && std::isfinite(pmt::to_double(snr))) {
                d_snr = std::round(pmt::to_double(snr) * 100) / 100;
                d_snr_pmt = snr;
            }
        }
        if (!pmt::is_null(d_snr_pmt))
            meta = pmt::dict_add(meta, k_snr, d_snr_pmt);
        d_ok++;
        d_bytes += n;
        message_port_pub(d_out, pmt::cons(meta, pmt::init_u8vector(n, data)));
        d_status.touch();
    }
};

pdu_rx_check::sptr pdu_rx_check::make(const std::string& phy, const std::string& fec, int fft_len, int mtu,
                                      int seq_bytes, double status_interval)
{
    return gnuradio::make_block_sptr<pdu_rx_check_impl>(phy, fec, fft_len, mtu, seq_bytes, status_interval);
}

} // namespace lgvsc
} // namespace gr
