# SPDX-License-Identifier: GPL-3.0-or-later
"""Helper run by GNU Radio's interpreter (/usr/bin/python3) for tests/test_channel_emulator_gr.py.

One headless top block with two independent halves, as a TX and an RX flowgraph would be:
  file_source(IN) [-> stream_to_tagged_stream] -> zeromq.push_sink(bind TX_ADDR, pass_tags)
  zeromq.pull_source(connect RX_ADDR) -> head(N) -> file_sink(OUT)
Usage: gr_iq_peer.py IN OUT TX_ADDR RX_ADDR N PASS_TAGS(0/1) TIMEOUT_S
Exits 0 when N samples arrived, 3 on timeout.
"""

import sys
import time

from gnuradio import blocks, gr, zeromq


def main():
    src_path, out_path, tx_addr, rx_addr = sys.argv[1:5]
    n, pass_tags, timeout = int(sys.argv[5]), sys.argv[6] == "1", float(sys.argv[7])
    tb = gr.top_block()
    src = blocks.file_source(gr.sizeof_gr_complex, src_path, False)
    tx = zeromq.push_sink(gr.sizeof_gr_complex, 1, tx_addr, 100, pass_tags, -1)
    if pass_tags:
        tagger = blocks.stream_to_tagged_stream(gr.sizeof_gr_complex, 1, 1000, "packet_len")
        tb.connect(src, tagger, tx)
    else:
        tb.connect(src, tx)
    rx = zeromq.pull_source(gr.sizeof_gr_complex, 1, rx_addr, 100, False, -1)
    head = blocks.head(gr.sizeof_gr_complex, n)
    sink = blocks.file_sink(gr.sizeof_gr_complex, out_path, False)
    sink.set_unbuffered(True)
    tb.connect(rx, head, sink)
    time.sleep(0.2)
    tb.start()
    # head() finishing does not stop a pull_source that is waiting on its socket: poll, then stop.
    deadline = time.monotonic() + timeout
    while head.nitems_written(0) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)  # let file_sink write what head passed on
    tb.stop()
    tb.wait()
    got = head.nitems_written(0)
    print(f"samples {got}", flush=True)
    return 0 if got == n else 3


if __name__ == "__main__":
    sys.exit(main())
