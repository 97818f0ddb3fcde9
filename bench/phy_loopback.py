#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the LGVSC PDU PHYs (run with /usr/bin/python3).

1. Throughput: samples/s of our OFDM loopback (ofdm_pdu_tx -> ofdm_pdu_rx)
   versus the stock gr-digital chain (pdu_to_tagged_stream -> digital.ofdm_tx
   -> burst gap -> digital.ofdm_rx -> tagged_stream_to_pdu), same FFT/CP,
   BPSK header, QPSK payload, gap, PDUs and harness, measured in the same run:
   --reps interleaved repetitions, median ratio of samples/s and of process
   CPU time per PDU, and a per-block profile: CPU per delivered PDU of every
   block, read from the threads GNU Radio names after their block
   (/proc/self/task/*/comm, utime + stime of /proc/self/task/*/stat).
   Then MS/s per MCS, TX and RX in one process (1,200-byte PDUs), wall and
   per CPU-second, with the ratio to 2 MS/s (a B210/HackRF at 2 MS/s).
   The single-carrier psk_pdu_tx/rx loopback is reported in absolute terms
   (gr-digital's packet_tx/packet_rx exist only as example .grc files).
2. PER versus SNR for both PHYs, FEC none and cc: CSV + PNG under --out
   (default out/bench).
"""

import argparse
import csv
import math
import os
import re
import statistics
import time

import pmt
from gnuradio import blocks, digital, gr, pdu
from gnuradio.lgvsc import ofdm_pdu_rx, ofdm_pdu_tx, psk_pdu_rx, psk_pdu_tx
from gnuradio.lgvsc import phy_common as pc
from gnuradio.lgvsc.loopback import pdu_collector, pdu_feeder, random_pdus, run_loopback

REALTIME = 2e6  # samples/s of a B210 / HackRF stream at 2 MS/s
_TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu():
    """{tid: (thread name, CPU seconds)} of this process's threads.  GNU Radio names every
    block's thread ``<block name><unique id>`` cut at 15 characters (Linux comm)."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:  # the thread ended
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # fields from 3 (state) on
        out[tid] = (comm, (int(fields[11]) + int(fields[12])) / _TICK)  # utime + stime
    return out


def block_cpu(before, after):
    """CPU seconds per block name (threads of the same block type summed, id stripped)
    between two thread_cpu() snapshots; threads not named after a block are 'other'."""
    per = {}
    for tid, (comm, cpu) in after.items():
        used = cpu - before.get(tid, (comm, 0.0))[1]
        name = re.sub(r"\d+$", "", comm) if comm not in ("python3", "python") else "(python / other threads)"
        per[name] = per.get(name, 0.0) + used
    return per


def _loopback(pdus, gap, ours, mcs=None, want=None):
    """One throughput run; returns (samples, seconds, received, CPU us per received PDU,
    {block: CPU s}).

    The same harness for both chains (no channel model: the comparison is of
    the PHYs alone): feeder -> TX -> RX -> collector, TX output counted by a
    head -> null_sink branch, stopped at n - 1 PDUs (the stock chain holds
    back its final burst) or after 5 s idle.  CPU time is the process's (all
    threads) between start and stop: steadier than wall time on a shared
    machine.
    """
    tb = gr.top_block()
    feeder = pdu_feeder(pdus)
    head = blocks.head(gr.sizeof_gr_complex, 1 << 62)
    col = pdu_collector()
    if ours:
        mtu = max(pmt.length(pmt.cdr(p)) for p in pdus)
        tx = ofdm_pdu_tx(mtu=mtu, gap=gap, mcs=mcs or "")
        rx = ofdm_pdu_rx(mtu=mtu, gap=gap)
        tb.msg_connect(feeder, "out", tx, "in")
        tb.connect(tx, rx)
        tb.msg_connect(rx, "out", col, "in")
        tx_out = tx
    else:
        to_stream = pdu.pdu_to_tagged_stream(gr.types.byte_t, "packet_len")
        tx = digital.ofdm_tx(packet_length_tag_key="packet_len", bps_header=1, bps_payload=2, scramble_bits=True)
        shaper = digital.burst_shaper_cc([], 0, gap, False, "packet_len")
        untag = blocks.tag_gate(gr.sizeof_gr_complex, False)
        rx = digital.ofdm_rx(packet_length_tag_key="rx_len", bps_header=1, bps_payload=2, scramble_bits=True)
        to_pdu = pdu.tagged_stream_to_pdu(gr.types.byte_t, "rx_len")
        tb.msg_connect(feeder, "out", to_stream, "pdus")
        tb.connect(to_stream, tx, shaper, untag, rx, to_pdu)
        tb.msg_connect(to_pdu, "pdus", col, "in")
        tx_out = shaper
    tb.connect(tx_out, head, blocks.null_sink(gr.sizeof_gr_complex))
    want = len(pdus) - 1 if want is None else want
    threads0 = thread_cpu()
    c0, t0 = time.process_time(), time.monotonic()
    tb.start()
    last, last_t = 0, time.monotonic()
    # stop at `want` PDUs, or 5 s without progress once PDUs flow (30 s for the first one: on a
    # loaded machine the threads may stall for seconds)
    while len(col.pdus) < want and time.monotonic() - last_t < (5.0 if last else 30.0):
        time.sleep(0.005)
        if len(col.pdus) != last:
            last, last_t = len(col.pdus), time.monotonic()
    seconds, cpu = time.monotonic() - t0, time.process_time() - c0
    per_block = block_cpu(threads0, thread_cpu())  # before stop(): the block threads end there
    samples = head.nitems_written(0)
    tb.stop()
    tb.wait()
    got = len(col.pdus)
    return samples, seconds, got, cpu / max(got, 1) * 1e6, per_block, cpu


# Full names of our blocks and the harness's (thread names keep 15 characters of name + id).
KNOWN = ("ofdm_burst_demod", "ofdm_burst_mod", "pdu_rx_check", "pdu_admit", "pdu_to_tagged_stream",
         "lgvsc_pdu_collector (harness)", "lgvsc_pdu_feeder (harness)", "head (harness)", "null_sink (harness)")


def canonical(names):
    """Map cut thread names (ids stripped) onto one name per block type: a known full name
    it begins, else the longest seen name it begins (the same block cut at another id length)."""
    out = {}
    for n in names:
        full = [k for k in KNOWN if k.startswith(n)]
        if full:
            out[n] = min(full, key=len)
        else:
            out[n] = max((m for m in names if m.startswith(n) and len(n) >= 11), key=len, default=n)
    return out


def print_profile(runs, n_pdus):
    """Median CPU per delivered PDU of each block, stock and ours side by side."""
    print("  per-block CPU per delivered PDU (us, median over repetitions; 10 ms CPU ticks):")
    for name in ("stock", "ours"):
        r = runs[name]
        canon = canonical({b for x in r for b in x[4]})
        merged = []
        for x in r:
            m = {}
            for b, cpu in x[4].items():
                m[canon[b]] = m.get(canon[b], 0.0) + cpu
            merged.append(x[:4] + (m,))
        r = merged
        blocks_ = sorted({b for x in r for b in x[4]}, key=lambda b: -statistics.median(x[4].get(b, 0) for x in r))
        total = statistics.median(sum(x[4].values()) / max(x[3], 1) * 1e6 for x in r)
        print(f"    {name} (all threads {total:.0f} us/PDU):")
        for b in blocks_:
            us = statistics.median(x[4].get(b, 0) / max(x[3], 1) * 1e6 for x in r)
            if us >= 0.5:
                print(f"      {b:26s} {us:7.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/bench")
    ap.add_argument("--n", type=int, default=3000, help="PDUs for the throughput run")
    ap.add_argument("--size", type=int, default=96, help="PDU size (bytes) for the throughput run")
    ap.add_argument("--gap", type=int, default=1024)
    ap.add_argument("--per-n", type=int, default=100, help="PDUs per SNR point")
    ap.add_argument("--reps", type=int, default=5, help="interleaved stock/ours throughput repetitions")
    ap.add_argument("--no-per", action="store_true", help="throughput only")
    ap.add_argument("--mcs-n", type=int, default=200, help="PDUs per MCS for MS/s per MCS (0: skip)")
    ap.add_argument("--mcs-size", type=int, default=1200, help="PDU size (bytes) for MS/s per MCS")
    ap.add_argument("--mcs-reps", type=int, default=1, help="repetitions per MCS (median)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    pdus = random_pdus(args.n, args.size, seed=1, min_len=args.size)
    sent = [bytes(pmt.u8vector_elements(pmt.cdr(p))) for p in pdus]
    print(f"throughput ({args.n} PDUs of {args.size} B, gap {args.gap}, fft 64, cp 16, BPSK hdr, QPSK payload; "
          f"{args.reps} interleaved repetitions, median)")
    runs = {"stock": [], "ours": []}
    for rep in range(args.reps):
        for name in (("stock", "ours") if rep % 2 == 0 else ("ours", "stock")):
            samples, sec, got, cpu_us, per_block, cpu = _loopback(pdus, args.gap, ours=name == "ours")
            runs[name].append((samples / sec, got / sec, cpu_us, got, per_block, samples / max(cpu, 1e-9)))
    ratios = sorted(o[0] / s[0] for o, s in zip(runs["ours"], runs["stock"], strict=True))
    cpu_ratios = sorted(s[2] / o[2] for o, s in zip(runs["ours"], runs["stock"], strict=True))
    for name, label in (("stock", "stock gr-digital"), ("ours", "lgvsc ofdm_pdu  ")):
        r = runs[name]
        print(f"  {label} : {statistics.median(x[0] for x in r) / 1e6:6.2f} MS/s  "
              f"{statistics.median(x[1] for x in r):7.0f} PDU/s  {statistics.median(x[2] for x in r):6.0f} CPU-us/PDU"
              f"  delivered {min(x[3] for x in r)}..{max(x[3] for x in r)}/{args.n}")
    print(f"  ratio ours/stock : {statistics.median(ratios):.3f} samples/s (per repetition {min(ratios):.2f}.."
          f"{max(ratios):.2f}), {statistics.median(cpu_ratios):.3f} CPU per PDU (stock/ours)  (target >= 1.0)")
    cpu_rate = {k: statistics.median(x[5] for x in v) for k, v in runs.items()}
    print(f"  samples per CPU-second (whole process): stock {cpu_rate['stock'] / 1e6:.2f} MS, ours "
          f"{cpu_rate['ours'] / 1e6:.2f} MS, ratio ours/stock {cpu_rate['ours'] / cpu_rate['stock']:.2f}")
    # On a shared machine the wall rate is the scheduler's share: each runnable thread gets a slice, so a
    # chain with many busy threads gets more cores.  Cores used = CPU per PDU x PDUs per second.
    cores = {k: statistics.median(x[2] * 1e-6 * x[1] for x in v) for k, v in runs.items()}
    print(f"  cores used (load average {os.getloadavg()[0]:.1f}): stock {cores['stock']:.2f}, ours {cores['ours']:.2f}")
    print_profile(runs, args.n)
    if args.mcs_n:
        print(f"\nMS/s per MCS, TX + RX in one process, no channel ({args.mcs_n} PDUs of {args.mcs_size} B, "
              f"gap {args.gap}; wall on this machine (load {os.getloadavg()[0]:.1f}) and per CPU-second = one core; "
              f"ratio to {REALTIME / 1e6:g} MS/s); FEC of the paper presets: {pc.MCS['paper-0dB'][0]}")
        mpdus = random_pdus(args.mcs_n, args.mcs_size, seed=5, min_len=args.mcs_size)
        for mcs in pc.MCS_NAMES:
            res = [_loopback(mpdus, args.gap, True, mcs=mcs, want=args.mcs_n) for _ in range(args.mcs_reps)]
            wall = statistics.median(r[0] / r[1] for r in res)
            per_cpu = statistics.median(r[0] / r[5] for r in res)
            canon = canonical(set(res[0][4]))
            top = canon[max(res[0][4].items(), key=lambda kv: kv[1])[0]]
            print(f"  {mcs:10s} {wall / 1e6:6.2f} MS/s wall ({wall / REALTIME:5.2f}x)  {per_cpu / 1e6:6.2f} MS/CPU-s "
                  f"({per_cpu / REALTIME:5.2f}x)  delivered {min(r[2] for r in res)}/{args.mcs_n}  busiest: {top}",
                  flush=True)
    try:
        psk = run_loopback(psk_pdu_tx(mtu=args.size), psk_pdu_rx(mtu=args.size), pdus, idle=1.0)
    except ValueError as e:  # a PSK PHY in the middle of a change must not hide the OFDM figures
        print(f"  lgvsc psk_pdu    : not measured ({e})")
        psk = None
    if psk is not None:
        print(f"  lgvsc psk_pdu    : {psk.samples / psk.seconds / 1e6:6.2f} MS/s  "
              f"{psk.delivered(sent) / psk.seconds:7.0f} PDU/s  delivered {psk.delivered(sent)}/{args.n}  "
              f"(BPSK, sps 2, gap 256)")

    if args.no_per:
        return
    rows = []
    # (phy, tx, rx, noise voltages).  In-burst SNR per sample: both PHYs send
    # unit-power bursts (PSK Es/N0 = SNR + 10 log10(sps)).
    sweeps = [("ofdm", ofdm_pdu_tx, ofdm_pdu_rx, (0.16, 0.2, 0.25, 0.28, 0.32, 0.36, 0.4, 0.5)),
              ("psk", psk_pdu_tx, psk_pdu_rx, (0.4, 0.5, 0.55, 0.6, 0.7, 0.8))]
    for phy, tx_cls, rx_cls, noises in sweeps:
        for fec_mode in ("none", "cc"):
            for nv in noises:
                pd = random_pdus(args.per_n, 512, seed=2, min_len=512)
                snt = [bytes(pmt.u8vector_elements(pmt.cdr(p))) for p in pd]
                r = run_loopback(tx_cls(mtu=512, fec_mode=fec_mode), rx_cls(mtu=512, fec_mode=fec_mode), pd,
                                 noise_voltage=nv, freq_offset=0.001, seed=9, idle=1.0)
                snr_db = 10 * math.log10(1.0 / nv ** 2)
                est = sorted(m["snr_db"] for m, _ in r.received if "snr_db" in m)
                per = 1 - r.delivered(snt) / args.per_n
                rows.append({"phy": phy, "fec": fec_mode, "noise_voltage": nv, "snr_db": round(snr_db, 2),
                             "per": round(per, 4), "crc_fail": r.rx_status.get("rx_crc_fail", 0),
                             "snr_est_db": est[len(est) // 2] if est else ""})
                print(f"  PER {phy:4s} fec={fec_mode:4s} SNR {snr_db:5.1f} dB: {per:.3f}"
                      f"  (median snr_db {est[len(est) // 2] if est else 'n/a'})")
    csv_path = os.path.join(args.out, "phy_per.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for phy, style in (("ofdm", "o-"), ("psk", "s--")):
        for fec_mode in ("none", "cc"):
            pts = [r for r in rows if r["fec"] == fec_mode and r["phy"] == phy]
            ax.semilogy([r["snr_db"] for r in pts], [max(r["per"], 1e-3) for r in pts], style,
                        label=f"{phy} fec={fec_mode}")
    ax.set_xlabel("in-burst SNR per sample (dB)")
    ax.set_ylabel(f"PER (512-byte PDUs, {args.per_n}/point; floor 1e-3)")
    ax.set_title("LGVSC PDU PHYs, AWGN: OFDM QPSK, single-carrier BPSK sps 2")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    png = os.path.join(args.out, "phy_per.png")
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print(f"wrote {csv_path} and {png}")


if __name__ == "__main__":
    main()
