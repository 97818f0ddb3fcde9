# SPDX-License-Identifier: GPL-3.0-or-later
"""Headless semantic link: encoder worker -> semantic_source -> PHY TX -> channel -> PHY RX
-> semantic_sink -> decoder worker, as one GNU Radio process (``python3 -m gnuradio.lgvsc.link_runner``).

The channel is either ``sim`` (gr-channels ``channel_model``: AWGN at ``--snr``, an optional
carrier frequency offset) or ``zmq`` (TX samples out on a bound gr-zeromq ``push_sink``,
``--iq-out``; RX samples in from a gr-zeromq ``pull_source`` that connects to ``--iq-in``;
an external emulator such as ``lgvsc channel`` sits in between).

SNR definition (``--snr``, docs/PHY.md "One SNR convention"): Es/N0 in dB per data symbol, the
paper's: OFDM per data subcarrier, PSK per channel symbol. The PHY TX scales its bursts to unit
average power per sample, so the per-sample SNR is ``--snr`` minus 10·log10(fft_len / active
carriers) (OFDM, ``phy_common.esn0_to_sample_snr_db``: 0.90 dB for wifi64) or minus 10·log10(sps)
(PSK, :func:`sample_snr_db`), and the complex noise of ``channel_model`` has ``noise_voltage =
10 ** (-sample_snr / 20)`` (power ``noise_voltage**2`` per complex sample; the zero gaps between
bursts carry noise only). The ``phy`` dict of the JSON events reports ``snr_db`` (= ``esn0_db``,
as given), ``sample_snr_db`` and ``noise_voltage``. See docs/bridge.md.

Pacing: a ``blocks.throttle`` at ``--samp-rate`` after the TX makes the run take about the air
time, and semantic_source emits at most ``--max-pps`` PDUs/s (``auto``: 0.9 x samp_rate /
samples of an MTU-sized burst incl. its gap), so PDUs never pile up in front of the PHY.

stdout carries only JSON lines, one object each (GNU Radio's own log output goes to stderr):
``{"event": "ready", ...}``, ``{"event": "status", ...}`` every ``--status-interval`` s,
and ``{"event": "done", ...}`` (or ``"stopped"`` after SIGINT/SIGTERM, ``"error"``).
Exit status: 0 done; 2 bad arguments / PHY not available; 3 a worker unreachable for longer
than ``--timeout``; 4 the flowgraph did not start within 30 s or stop within 15 s; 130/143 interrupted by SIGINT/SIGTERM.
"""

import argparse
import json
import math
import os
import signal
import sys
import threading
import time

import pmt
from gnuradio import blocks, channels, gr, zeromq

from . import phy_common as pc
from .loopback import pdu_collector
from .semantic_sink import semantic_sink
from .semantic_source import semantic_source

__all__ = ["build_link", "main", "ofdm_samples_per_burst", "pdu_dropper", "sample_snr_db"]

EXIT_OK, EXIT_ARGS, EXIT_UNREACHABLE, EXIT_STUCK, EXIT_INT, EXIT_TERM = 0, 2, 3, 4, 130, 143
STOP_GRACE_S = 15.0
START_GRACE_S = 30.0


def _hard_exit(code):
    print("link_runner: the flowgraph did not start or stop in time (a block thread failed?); exiting",
          file=sys.stderr)
    sys.stderr.flush()
    os._exit(code)


class pdu_dropper(gr.basic_block):
    """Drop every ``every``-th PDU on purpose (loss tests); 0 passes everything. Counts both."""

    def __init__(self, every=0):
        gr.basic_block.__init__(self, name="lgvsc_pdu_dropper", in_sig=None, out_sig=None)
        if every < 0 or every == 1:
            raise ValueError(f"drop_every must be 0 (off) or >= 2, got {every}")
        self.every = int(every)
        self.passed = self.dropped = 0
        self._n = 0
        self.message_port_register_in(pmt.intern("in"))
        self.message_port_register_out(pmt.intern("out"))
        self.set_msg_handler(pmt.intern("in"), self._handle)

    def _handle(self, msg):
        self._n += 1
        if self.every and self._n % self.every == 0:
            self.dropped += 1
            return
        self.passed += 1
        self.message_port_pub(pmt.intern("out"), msg)


def ofdm_samples_per_burst(nbytes, fft_len=64, cp_len=16, carrier_preset="wifi64", payload_mod="qpsk",
                           gap=1024, fec_mode="none", mcs=""):
    """Samples ofdm_pdu_tx sends for one PDU of ``nbytes`` in ``mcs`` (default: the one ``fec_mode``
    maps onto): preamble, coded header, payload symbols, gap (phy_common.ofdm_burst_samples)."""
    return pc.ofdm_burst_samples(nbytes, pc.resolve_mcs(mcs, fec_mode), payload_mod, fft_len, cp_len,
                                 carrier_preset, gap)


def sample_snr_db(esn0_db, phy="ofdm", fft_len=64, carrier_preset="wifi64", sps=2):
    """Per-sample SNR (dB) of unit-power bursts whose data symbols have Es/N0 ``esn0_db``:
    OFDM per data subcarrier (phy_common.esn0_to_sample_snr_db), PSK per symbol at ``sps``."""
    if phy == "ofdm":
        return pc.esn0_to_sample_snr_db(esn0_db, fft_len, carrier_preset)
    return esn0_db - 10 * math.log10(sps)


def _phy_blocks(a):
    """(tx, rx, phy dict) for ``a.phy``; ValueError for a PHY this build does not have."""
    import importlib

    pkg = importlib.import_module(__package__)
    if a.phy == "ofdm":
        a.payload_mod, a.gap = a.payload_mod or "qpsk", 1024 if a.gap is None else a.gap
        kw = {"fft_len": a.fft_len, "cp_len": a.cp_len, "carrier_preset": a.carrier_preset,
              "header_mod": a.header_mod, "payload_mod": a.payload_mod, "mtu": a.mtu, "gap": a.gap,
              "fec_mode": a.fec, "mcs": a.mcs}
        tx, rx = pkg.ofdm_pdu_tx(**kw), pkg.ofdm_pdu_rx(**kw)
        spb = tx.samples_per_burst(a.mtu)
        phy = dict(kw, fec=kw.pop("fec_mode"), mcs=tx.mcs, mcs_names=list(pc.MCS_NAMES))
    else:
        try:
            tx_cls, rx_cls = getattr(pkg, f"{a.phy}_pdu_tx"), getattr(pkg, f"{a.phy}_pdu_rx")
        except AttributeError:
            raise ValueError(f"PHY {a.phy!r} is not available in this build of gr-lgvsc") from None
        kw = {"mtu": a.mtu, "fec_mode": a.fec}
        if a.mcs:
            kw["mcs"] = a.mcs
        if a.payload_mod:
            kw["payload_mod"] = a.payload_mod
        if a.gap is not None:
            kw["gap"] = a.gap
        tx, rx = tx_cls(**kw), rx_cls(**kw)
        spb_fn = getattr(tx, "samples_per_burst", None)
        spb = int(spb_fn(a.mtu)) if callable(spb_fn) else None
        phy = {"mtu": a.mtu, "fec": a.fec, "payload_mod": a.payload_mod, "gap": a.gap}
        for attr in ("sps", "excess_bw", "payload_mod", "gap", "mcs"):  # what the block chose
            if isinstance(getattr(tx, attr, None), (int, float, str)):
                phy[attr] = getattr(tx, attr)
    phy.update(phy=a.phy, samp_rate=a.samp_rate, samples_per_mtu_burst=spb)
    if a.snr is not None:  # --snr is Es/N0 per data symbol; the channel model wants per sample
        phy["esn0_db"] = a.snr
        phy["sample_snr_db"] = sample_snr_db(a.snr, a.phy, a.fft_len, a.carrier_preset,
                                             int(getattr(tx, "sps", 2) or 2))
    return tx, rx, phy


def build_link(a):
    """The top block and its parts for parsed arguments ``a`` (see :func:`main`)."""
    if a.mcs == "auto":
        if a.snr is None:
            raise ValueError("--mcs auto needs --snr")
        a.mcs = pc.mcs_for_snr(a.snr)  # --snr is Es/N0 per data subcarrier, as the paper's table
        if a.phy == "psk":  # its most efficient preset is paper-6dB (it carries no 16-QAM)
            from .psk_pdu_tx import PSK_MCS_NAMES
            a.mcs = a.mcs if a.mcs in PSK_MCS_NAMES else "paper-6dB"
    if a.mcs and a.phy not in ("ofdm", "psk"):
        raise ValueError(f"--mcs is an OFDM/PSK PHY option; PHY {a.phy!r} takes --fec")
    tx, rx, phy = _phy_blocks(a)
    if a.max_pps == "auto":
        if not phy["samples_per_mtu_burst"]:
            raise ValueError(f"--max-pps auto needs the burst length of PHY {a.phy!r}; give a number")
        max_pps = 0.9 * a.samp_rate / phy["samples_per_mtu_burst"]
    else:
        max_pps = float(a.max_pps)
        if max_pps < 0:
            raise ValueError(f"--max-pps must be >= 0, got {max_pps}")
    phy["max_pps"] = round(max_pps, 3)
    tb = gr.top_block("lgvsc_link_runner")
    src = semantic_source(a.source, max_pps=max_pps, window=a.window, status_interval=0,
                          curve_server_key=a.curve_source_key, curve_keys_file=a.curve_keys)
    drop = pdu_dropper(a.drop_every)
    snk = semantic_sink(a.sink, queue_depth=a.sink_queue, status_interval=0,
                        curve_server_key=a.curve_sink_key, curve_keys_file=a.curve_keys)
    tx_stat, rx_stat = pdu_collector(), pdu_collector()
    throttle = blocks.throttle(gr.sizeof_gr_complex, a.samp_rate, True)
    tb.msg_connect(src, "out", drop, "in")
    tb.msg_connect(drop, "out", tx, "in")
    tb.msg_connect(tx, "status", tx_stat, "status")
    tb.msg_connect(rx, "status", rx_stat, "status")
    tb.msg_connect(rx, "out", snk, "in")
    tb.connect(tx, throttle)
    if a.channel == "sim":
        noise = 0.0 if a.snr is None else 10 ** (-phy["sample_snr_db"] / 20)
        chan = channels.channel_model(noise, a.freq_offset / a.samp_rate, 1.0, [1.0 + 0j], a.seed)
        tb.connect(throttle, chan, rx)
        phy.update(channel="sim", snr_db=a.snr, noise_voltage=noise, freq_offset_hz=a.freq_offset)
    else:
        if not (a.iq_out and a.iq_in):
            raise ValueError("--channel zmq needs --iq-out and --iq-in")
        tb.connect(throttle, zeromq.push_sink(gr.sizeof_gr_complex, 1, a.iq_out, 100, False, -1))
        tb.connect(zeromq.pull_source(gr.sizeof_gr_complex, 1, a.iq_in, 100, False, -1), rx)
        phy.update(channel="zmq", iq_out=a.iq_out, iq_in=a.iq_in)
    return tb, {"src": src, "drop": drop, "snk": snk, "tx": tx, "rx": rx, "tx_stat": tx_stat,
                "rx_stat": rx_stat, "throttle": throttle, "phy": phy}


def _counts(p):
    txs, rxs = dict(p["tx_stat"].status), dict(p["rx_stat"].status)
    return {"tx_pdus": txs.get("tx_pdus", 0),
            "tx_rejected": sum(txs.get(k, 0) for k in ("tx_oversize", "tx_empty", "tx_malformed")),
            "rx_ok": rxs.get("rx_ok", 0), "rx_crc_fail": rxs.get("rx_crc_fail", 0),
            "dropped_on_purpose": p["drop"].dropped, "samples_tx": p["throttle"].nitems_written(0)}


def _args(argv):
    ap = argparse.ArgumentParser(prog="python3 -m gnuradio.lgvsc.link_runner", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", required=True, help="encoder worker PDU endpoint (ROUTER), e.g. tcp://127.0.0.1:5551")
    ap.add_argument("--sink", required=True, help="decoder worker PDU endpoint (PULL), e.g. tcp://127.0.0.1:5560")
    ap.add_argument("--phy", default="ofdm", help="ofdm (default) or another gr-lgvsc PDU PHY, e.g. psk")
    ap.add_argument("--fec", default="none", help="PHY FEC mode: none (default) or cc")
    ap.add_argument("--mcs", default="",
                    help="modulation and coding scheme, overrides --fec: " + ", ".join(pc.MCS_NAMES)
                    + " (PSK: none, cc, paper-0dB..paper-6dB; docs/PHY.md); 'auto' = the highest paper"
                    " preset (that the PHY carries) whose Es/N0 <= the channel's")
    ap.add_argument("--mtu", type=int, default=1500, help="PHY MTU in bytes (default %(default)s)")
    ap.add_argument("--fft-len", type=int, default=64)
    ap.add_argument("--cp-len", type=int, default=16)
    ap.add_argument("--carrier-preset", default="wifi64")
    ap.add_argument("--header-mod", default="bpsk")
    ap.add_argument("--payload-mod", default=None, help="payload constellation (default: ofdm qpsk, psk the block's)")
    ap.add_argument("--gap", type=int, default=None, help="zero samples after each burst (default: ofdm 1024, psk the block's)")
    ap.add_argument("--snr", type=float, default=None,
                    help="sim channel: Es/N0 in dB per data subcarrier (OFDM) or per symbol (PSK), the "
                    "paper's convention; per-sample SNR = it - 0.90 dB (OFDM wifi64) or - 10*log10(sps) "
                    "(default: no noise)")
    ap.add_argument("--freq-offset", type=float, default=0.0, help="sim channel: carrier offset in Hz")
    ap.add_argument("--seed", type=int, default=0, help="sim channel noise seed")
    ap.add_argument("--channel", choices=("sim", "zmq"), default="sim")
    ap.add_argument("--iq-out", help="zmq channel: TX samples on this bound PUSH endpoint")
    ap.add_argument("--iq-in", help="zmq channel: RX samples from this PUSH endpoint (connect)")
    ap.add_argument("--samp-rate", type=float, default=1e6, help="sample rate of the throttle, Hz (default 1e6)")
    ap.add_argument("--max-pps", default="auto", help="PDUs/s into the PHY: auto (from the PHY) or a number (0: no limit)")
    ap.add_argument("--window", type=int, default=16, help="semantic_source credit window")
    ap.add_argument("--sink-queue", type=int, default=4096, help="semantic_sink queue depth (PDUs)")
    ap.add_argument("--drop-every", type=int, default=0, help="drop every Nth PDU before the PHY TX (loss tests)")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="fail when a worker is unreachable for this long, s (default %(default)s)")
    ap.add_argument("--idle", type=float, default=2.0,
                    help="after the end of the stream, wait at most this long for the PHY tail, s")
    ap.add_argument("--status-interval", type=float, default=0.5)
    ap.add_argument("--curve-keys", default="", help="zmq.auth certificate with this client's key pair")
    ap.add_argument("--curve-source-key", default="", help="Z85 public key of a CURVE encoder worker")
    ap.add_argument("--curve-sink-key", default="", help="Z85 public key of a CURVE decoder worker")
    return ap.parse_args(argv)


def main(argv=None):
    # JSON lines own stdout; anything GNU Radio or ZeroMQ prints goes to stderr.
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def emit(event, **fields):
        out.write(json.dumps({"event": event, **fields}) + "\n")
        out.flush()

    a = _args(argv)
    try:
        if a.samp_rate <= 0:
            raise ValueError("--samp-rate must be positive")
        tb, p = build_link(a)
    except ValueError as exc:
        print(f"link_runner: {exc}", file=sys.stderr)
        emit("error", error=str(exc))
        return EXIT_ARGS
    stop = threading.Event()
    signalled = []

    # Python runs signal handlers on the main thread only, and a main thread stuck inside GNU Radio
    # (e.g. start() waiting for a block thread that died) never would: the C-level handler writes
    # the signal number to a wakeup fd instead, and this thread acts on it.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    signal.set_wakeup_fd(wake_w)

    def signal_thread():
        data = os.read(wake_r, 1)
        sig = data[0] if data else signal.SIGTERM
        signalled.append(sig)
        stop.set()
        time.sleep(STOP_GRACE_S + 5.0)  # main() normally exits long before
        _hard_exit(EXIT_INT if sig == signal.SIGINT else EXIT_TERM)

    threading.Thread(target=signal_thread, name="signals", daemon=True).start()

    src, snk, phy = p["src"], p["snk"], p["phy"]
    t0 = time.monotonic()
    starting = threading.Timer(START_GRACE_S, _hard_exit, args=(EXIT_STUCK,))
    starting.daemon = True
    starting.start()
    tb.start()
    starting.cancel()
    emit("ready", phy=phy, source=a.source, sink=a.sink)
    code, reason = EXIT_OK, "done"
    down_since = {"source": None, "sink": None}
    last_status = 0.0
    eos_at = last_change = None
    last_key = None
    while not stop.wait(0.05):
        now = time.monotonic()
        c = _counts(p)
        sst, kst = src.stats(), snk.stats()
        if now - last_status >= a.status_interval:
            last_status = now
            emit("status", t=round(now - t0, 3), **c, source=sst, sink=kst)
        # a worker unreachable for too long is an error
        for name, state in (("source", sst["worker"]), ("sink", kst["worker"])):
            if state == "connected":
                down_since[name] = None
            elif down_since[name] is None:
                down_since[name] = now
            elif now - down_since[name] > a.timeout and not (name == "source" and src.end_of_stream()):
                print(f"link_runner: the {'encoder' if name == 'source' else 'decoder'} worker at "
                      f"{a.source if name == 'source' else a.sink} is {state} for more than {a.timeout:g} s",
                      file=sys.stderr)
                code, reason = EXIT_UNREACHABLE, f"{name} worker unreachable"
                stop.set()
        if stop.is_set():
            break
        # the end: the encoder's end of stream emitted, the PHY tail through, the sink drained
        if not src.end_of_stream():
            continue
        if eos_at is None:
            eos_at = last_change = now
        key = (c["samples_tx"], c["rx_ok"], c["rx_crc_fail"])
        if key != last_key:
            last_key, last_change = key, now
        accounted = c["rx_ok"] + c["rx_crc_fail"] + c["tx_rejected"] >= c["tx_pdus"]
        all_in_tx = c["tx_pdus"] + c["tx_rejected"] == sst.get("emitted", 0) - c["dropped_on_purpose"]
        tail_done = (accounted and all_in_tx) or now - last_change > a.idle
        if tail_done and snk.pending() == 0 and kst["worker"] == "connected":
            break
        if tail_done and snk.pending() and now - last_change > a.timeout:
            print(f"link_runner: {snk.pending()} PDUs could not be handed to the decoder worker", file=sys.stderr)
            code, reason = EXIT_UNREACHABLE, "sink not drained"
            break
    if signalled:
        code = EXIT_INT if signalled[0] == signal.SIGINT else EXIT_TERM
        reason = "stopped"
    time.sleep(0.2)  # let ZeroMQ hand the last frames over
    # A block whose thread died (an exception inside GNU Radio) can make stop()/wait() hang:
    # never outlive a stop request by more than STOP_GRACE_S.
    watchdog = threading.Timer(STOP_GRACE_S, _hard_exit, args=(code if code else EXIT_STUCK,))
    watchdog.daemon = True
    watchdog.start()
    tb.stop()
    tb.wait()
    watchdog.cancel()
    c = _counts(p)
    kst = snk.stats()
    emit("done" if code == EXIT_OK else ("stopped" if signalled else "error"), reason=reason,
         seconds=round(time.monotonic() - t0, 3), **c, sink_forwarded=kst["forwarded"],
         sink_dropped=kst["dropped_queue_full"], source=src.stats(), sink=kst, phy=phy)
    return code


if __name__ == "__main__":
    sys.exit(main())
