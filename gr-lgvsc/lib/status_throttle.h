/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The 20 ms status throttle of the PDU gate blocks (the C++ form of phy_common.StatusThrottle). */
#ifndef INCLUDED_LGVSC_STATUS_THROTTLE_H
#define INCLUDED_LGVSC_STATUS_THROTTLE_H

#include <gnuradio/basic_block.h>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace gr {
namespace lgvsc {

/*!
 * Publishes snapshot() on a block's "status" port at most every `interval` seconds, and the
 * final state at most `interval` after the last change: touch() publishes at once when the
 * interval has passed, else marks the state dirty for a flusher thread (between start() and
 * stop(); stop() publishes what is pending).  `poll`, when given, is read by the flusher every
 * interval: a changed value marks the state dirty (counters of another block).  Publishing a
 * PMT dict per PDU would cost more than the rest of the per-PDU work; consumers read the latest.
 */
class status_throttle
{
public:
    using clock = std::chrono::steady_clock;

    status_throttle(gr::basic_block* blk,
                    std::function<pmt::pmt_t()> snapshot,
                    double interval,
                    std::function<uint64_t()> poll = nullptr)
        : d_blk(blk),
          d_snapshot(std::move(snapshot)),
          d_poll(std::move(poll)),
          d_interval(std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(interval))),
          d_port(pmt::mp("status"))
    {
    }
    ~status_throttle() { stop_thread(); }

    void set_poll(std::function<uint64_t()> poll)
    {
        std::lock_guard<std::mutex> g(d_mutex);
        d_poll = std::move(poll);
        d_polled = d_poll ? d_poll() : 0;
    }

    //! counters changed
    void touch()
    {
        auto now = clock::now();
        std::lock_guard<std::mutex> g(d_mutex);
        if (!d_published || now - d_last >= d_interval) {
            d_published = true;
            d_last = now;
            d_dirty = false;
            publish(); // under the lock: publications never overtake each other
        } else {
            d_dirty = true;
        }
    }

    void start()
    {
        std::lock_guard<std::mutex> g(d_mutex);
        if (d_interval.count() <= 0 || d_thread.joinable())
            return;
        d_stopping = false;
        d_thread = std::thread([this] { run(); });
    }

    void stop()
    {
        stop_thread();
        flush();
    }

private:
    gr::basic_block* d_blk;
    std::function<pmt::pmt_t()> d_snapshot;
    std::function<uint64_t()> d_poll;
    clock::duration d_interval;
    pmt::pmt_t d_port;
    std::mutex d_mutex;
    std::condition_variable d_cv;
    std::thread d_thread;
    bool d_dirty = false, d_stopping = false, d_published = false;
    uint64_t d_polled = 0;
    clock::time_point d_last{};

    void publish() { d_blk->message_port_pub(d_port, d_snapshot()); }

    void flush()
    {
        std::lock_guard<std::mutex> g(d_mutex);
        if (d_poll) {
            uint64_t v = d_poll();
            if (v != d_polled) {
                d_polled = v;
                d_dirty = true;
            }
        }
        if (!d_dirty)
            return;
        d_dirty = false;
        d_last = clock::now();
        publish();
    }

    void run()
    {
        std::unique_lock<std::mutex> g(d_mutex);
        while (!d_cv.wait_for(g, d_interval, [this] { return d_stopping; })) {
            g.unlock();
            flush();
            g.lock();
        }
    }

    void stop_thread()
    {
        {
            std::lock_guard<std::mutex> g(d_mutex);
            d_stopping = true;
        }
        d_cv.notify_all();
        if (d_thread.joinable())
            d_thread.join();
    }
};

} // namespace lgvsc
} // namespace gr

#endif
