# SPDX-License-Identifier: GPL-3.0-or-later
"""The main job: a video through the semantic encoder, a GNU Radio PHY and a channel, and back.

:func:`run_loopback` starts real processes and wires them with ZeroMQ::

    encoder worker ──PDUs──► link_runner (system python3 + GNU Radio: semantic_source →
    (this venv)               PHY TX → channel → PHY RX → semantic_sink) ──PDUs──► decoder worker

The channel is either GNU Radio's ``channels.channel_model`` inside the flowgraph
(``awgn``) or the Sionna streaming emulator (``lgvsc channel``) between the PHY TX and RX
over ZeroMQ IQ (every other model). This process only orchestrates: it reads the source
clip for scoring, watches progress, asks the decoder to finish, then scores and reports
(:mod:`lgvsc.loopback_report`). Every child is stopped on exit, error or Ctrl-C, and
outputs are staged so that a failed run leaves nothing that looks complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lgvsc.errors import UserError

__all__ = ["LoopbackConfig", "LoopbackResult", "run_loopback", "OUTPUT_FILES", "SIONNA_CHANNELS"]

log = logging.getLogger(__name__)

#: Files a successful run leaves in OUTDIR (removed at the start of a run, written at its end).
OUTPUT_FILES = (
    "reconstruction.mp4",
    "side_by_side.mp4",
    "stream.json",
    "stream.lgvs",
    "decode_report.json",
    "report.md",
    "report.json",
    "frame_quality.png",
    "keyframe_timeline.png",
    "frames.png",
)

#: Channels the Sionna emulator provides; ``awgn`` runs inside the flowgraph.
SIONNA_CHANNELS = ("rayleigh", "rician", "tdl-a", "tdl-b", "tdl-c", "tdl-d", "tdl-e", "cdl-a", "cdl-b", "cdl-c", "cdl-d", "cdl-e")
PHYS = ("ofdm", "psk")
FECS = ("none", "cc")


@dataclass
class LoopbackConfig:
    """Everything one loopback run needs; the CLI fills it from its options."""

    video: Path
    out_dir: Path
    snr_db: float = 12.0
    channel: str = "awgn"
    phy: str = "ofdm"
    fec: str = "none"
    profile: str = "classical"
    mtu: int = 1200
    width: int | None = 576
    height: int | None = 320
    fps: float | None = 24.0
    method: str = "skem"
    threshold: float = 0.35
    focus: str = "general"
    target_cbr: float | None = None
    keyframe_bytes: int | None = None
    freq_offset: float = 0.0
    doppler_hz: float = 10.0
    drop_every: int = 0
    seed: int = 1
    samp_rate: float = 1e6
    gr_python: str = "/usr/bin/python3"
    timeout_s: float = 900.0
    progress: bool = True

    def validate(self) -> None:
        self.video = Path(self.video)
        self.out_dir = Path(self.out_dir)
        if not self.video.is_file():
            raise UserError(f"video not found: {self.video}")
        if self.channel != "awgn" and self.channel not in SIONNA_CHANNELS:
            raise UserError(f"unknown channel {self.channel!r}; choose awgn or one of {', '.join(SIONNA_CHANNELS)}")
        if self.phy not in PHYS:
            raise UserError(f"unknown PHY {self.phy!r}; choose one of {', '.join(PHYS)}")
        if self.fec not in FECS:
            raise UserError(f"unknown FEC mode {self.fec!r}; choose one of {', '.join(FECS)}")
        if self.profile not in ("classical", "hf"):
            raise UserError(f"unknown profile {self.profile!r}; choose classical or hf")
        if not 64 <= self.mtu <= 4000:
            raise UserError(f"--mtu must be in 64..4000 bytes, got {self.mtu}")
        if self.drop_every < 0:
            raise UserError("--drop-every must be >= 0")
        if self.samp_rate <= 0:
            raise UserError("--samp-rate must be positive")

    def encoder_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"method": self.method, "threshold": self.threshold, "focus": self.focus}
        if self.target_cbr is not None:
            opts["target_cbr"] = self.target_cbr
        if self.keyframe_bytes is not None:
            opts["keyframe_bytes"] = self.keyframe_bytes
        return opts

    def video_options(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "fps": self.fps}


@dataclass
class LoopbackResult:
    """What a run produced: file paths, counters, timings (also in ``report.json``)."""

    out_dir: Path
    files: dict[str, str]
    link: dict[str, Any]
    decoder: dict[str, Any]
    timings_s: dict[str, float]
    quality: dict[str, float] = field(default_factory=dict)
    cbr: dict[str, Any] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_gnuradio(gr_python: str) -> None:
    """Fail clearly when the radio interpreter or the installed gr-lgvsc module is missing."""
    try:
        r = subprocess.run([gr_python, "-c", "import gnuradio.lgvsc"], capture_output=True, text=True, timeout=60)
    except (FileNotFoundError, PermissionError) as exc:
        raise UserError(f"no GNU Radio interpreter at {gr_python} ({exc}); run `make setup`") from None
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        raise UserError(f"{gr_python} cannot import gnuradio.lgvsc ({last}); run `make setup`")


class _Children:
    """Every process this run started; :meth:`close` stops them all (SIGTERM, then SIGKILL)."""

    def __init__(self) -> None:
        self.workers: list[Any] = []
        self.procs: list[subprocess.Popen] = []

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                w.stop(timeout=10)
            except Exception:  # a worker that is already gone must not hide the real error
                log.debug("stopping a worker failed", exc_info=True)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class _LinkWatcher(threading.Thread):
    """Reads the link runner's JSON lines (GNU Radio's own log lines are skipped)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        super().__init__(name="link-runner-stdout", daemon=True)
        self.proc = proc
        self.latest: dict[str, Any] = {}
        self.done: dict[str, Any] | None = None
        self.ready = threading.Event()
        self.other_lines: list[str] = []

    def run(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if not line.startswith("{"):
                if line:
                    self.other_lines = (self.other_lines + [line])[-50:]
                continue
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            ev = msg.get("event")
            if ev == "ready":
                self.ready.set()
            elif ev == "status":
                self.latest = msg
            elif ev == "done":
                self.done = msg


def _progress_bar(enabled: bool):
    from tqdm import tqdm

    return tqdm(total=None, unit="pdu", desc="on air", disable=not enabled, dynamic_ncols=True, file=sys.stderr)


def run_loopback(cfg: LoopbackConfig) -> LoopbackResult:
    """Run the whole chain once; raises :class:`UserError` with a clear message on failure."""
    from lgvsc.loopback_report import score_and_render, write_report
    from lgvsc.video import read_video
    from lgvsc.workers.client import FREE, StatusSubscriber, WorkerProcess, die_with_parent

    cfg.validate()
    timings: dict[str, float] = {}
    t = time.monotonic()
    check_gnuradio(cfg.gr_python)
    source = read_video(cfg.video, **cfg.video_options())  # bad video fails here, before any process starts
    timings["read source"] = time.monotonic() - t

    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:  # a stale result must not pass for this run's
        (cfg.out_dir / name).unlink(missing_ok=True)
    staging = cfg.out_dir / f".partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()

    children = _Children()
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        t = time.monotonic()
        dec = WorkerProcess.spawn(["decode", "--pdu-in", FREE, "--out-dir", str(staging / "decoder"),
                                   "--profile", cfg.profile])
        children.workers.append(dec)
        enc = WorkerProcess.spawn(["encode", "--pdu-out", FREE, "--profile", cfg.profile, "--mtu", str(cfg.mtu)])
        children.workers.append(enc)
        enc_status = StatusSubscriber(enc.endpoints["status"])
        timings["start workers"] = time.monotonic() - t

        link_argv = [cfg.gr_python, "-m", "gnuradio.lgvsc.link_runner",
                     "--source", enc.endpoints["pdu_out"], "--sink", dec.endpoints["pdu_in"],
                     "--phy", cfg.phy, "--fec", cfg.fec, "--snr", str(cfg.snr_db), "--mtu", str(cfg.mtu),
                     "--freq-offset", str(cfg.freq_offset), "--samp-rate", str(cfg.samp_rate),
                     "--timeout", "60"]
        if cfg.drop_every:
            link_argv += ["--drop-every", str(cfg.drop_every)]
        if cfg.channel != "awgn":
            iq_tx, iq_rx = f"tcp://127.0.0.1:{_free_port()}", f"tcp://127.0.0.1:{_free_port()}"
            emulator = subprocess.Popen(
                [sys.executable, "-c", "import sys; from lgvsc.cli import main; sys.exit(main())", "channel",
                 "--model", cfg.channel, "--snr", str(cfg.snr_db), "--doppler", str(cfg.doppler_hz),
                 "--sample-rate", str(cfg.samp_rate), "--seed", str(cfg.seed), "--in", iq_tx, "--out", iq_rx],
                stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
            children.procs.append(emulator)
            _wait_ready(emulator, "the channel emulator", timeout=120)
            link_argv += ["--channel", "zmq", "--iq-out", iq_tx, "--iq-in", iq_rx]
        else:
            link_argv += ["--channel", "sim", "--seed", str(cfg.seed)]

        job = {"op": "job", "video": str(cfg.video.resolve()), "mtu": cfg.mtu, "encoder": cfg.encoder_options(),
               "video_options": cfg.video_options(), "stream_out": str(staging)}
        t = time.monotonic()
        reply = enc.control(job, timeout=30)
        if not reply.get("ok"):
            raise UserError(f"the encoder refused the job: {reply.get('error')}")
        encoded = enc_status.wait_for(lambda ev: ev.get("event") in ("job_encoded", "job_failed"),
                                      timeout=cfg.timeout_s)
        if encoded is None:
            raise UserError(f"the encoder did not finish encoding within {cfg.timeout_s:g} s")
        if encoded.get("event") == "job_failed":
            raise UserError(f"the encoder failed: {encoded.get('error')}")
        timings["encode"] = time.monotonic() - t
        total_pdus = int(encoded.get("pdus", 0))
        log.info("encoded: %s PDUs, %s bytes", total_pdus, encoded.get("payload_bytes"))

        t = time.monotonic()
        link = subprocess.Popen(link_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=die_with_parent)
        children.procs.insert(0, link)
        watcher = _LinkWatcher(link)
        watcher.start()
        stderr_tail: list[str] = []
        stderr_thread = threading.Thread(target=_collect, args=(link.stderr, stderr_tail), daemon=True)
        stderr_thread.start()
        bar = _progress_bar(cfg.progress)
        bar.total = total_pdus
        deadline = time.monotonic() + cfg.timeout_s
        while link.poll() is None:
            if time.monotonic() > deadline:
                raise UserError(f"the link did not finish within {cfg.timeout_s:g} s")
            latest = watcher.latest
            if latest:
                bar.n = int(latest.get("tx_pdus", 0))
                bar.set_postfix(rx_ok=latest.get("rx_ok"), crc_fail=latest.get("rx_crc_fail"), refresh=False)
                bar.refresh()
            time.sleep(0.2)
        watcher.join(timeout=5)
        stderr_thread.join(timeout=5)
        bar.close()
        if link.returncode != 0 or watcher.done is None:
            tail = "\n".join(stderr_tail[-15:] or watcher.other_lines[-15:])
            raise UserError(f"the radio flowgraph failed (exit status {link.returncode}):\n{tail}")
        timings["on air (flowgraph)"] = time.monotonic() - t

        t = time.monotonic()
        # The flowgraph has finished, so nothing more will arrive: wait only briefly for the
        # end-of-stream object (it may have been lost), then decode what came with concealment.
        # The session (geometry, rate, length) is known out of band, as an SDP gives it for RTP,
        # so even a run that lost every copy of the stream header yields a full-length video.
        session = {"width": int(source.width), "height": int(source.height), "fps_num": source.fps.numerator,
                   "fps_den": source.fps.denominator, "num_frames": int(source.num_frames), "name": cfg.video.name}
        fin = dec.control({"op": "finish", "timeout": 2.0, "session": session}, timeout=cfg.timeout_s)
        if not fin.get("ok"):
            raise UserError(f"the decoder produced no video: {fin.get('error')}")
        timings["decode (finish)"] = time.monotonic() - t

        t = time.monotonic()
        result = score_and_render(cfg, source, staging, fin, watcher.done)
        timings["score and render"] = time.monotonic() - t
        result["timings_s"] = timings
        write_report(cfg, staging, result)  # last, so a report only exists for a finished run
        for name in OUTPUT_FILES:
            if (staging / name).exists():
                (staging / name).replace(cfg.out_dir / name)
        return LoopbackResult(out_dir=cfg.out_dir, files={n: str(cfg.out_dir / n) for n in OUTPUT_FILES
                                                          if (cfg.out_dir / n).exists()},
                              link=watcher.done, decoder=fin, timings_s=timings,
                              quality=result.get("quality", {}), cbr=result.get("cbr", {}))
    finally:
        children.close()
        signal.signal(signal.SIGTERM, previous_sigterm)
        shutil.rmtree(staging, ignore_errors=True)


def _wait_ready(proc: subprocess.Popen, what: str, timeout: float) -> None:
    """Block until ``proc`` prints its JSON ``ready`` line: the radio must not start sending
    into a channel that is not there yet (its samples would be lost before the run begins)."""
    import select

    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UserError(f"{what} exited at start-up (exit status {proc.returncode})")
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            line = proc.stdout.readline()
            try:
                ready = line.startswith("{") and json.loads(line).get("event") == "ready"
            except json.JSONDecodeError:
                ready = False
            if ready:
                threading.Thread(target=_collect, args=(proc.stdout, []), daemon=True).start()  # keep draining
                return
    raise UserError(f"{what} did not become ready within {timeout:g} s")


def _collect(stream, sink: list[str]) -> None:
    for line in stream:
        sink.append(line.rstrip())
        del sink[:-200]


def _raise_interrupt(signum, frame):  # SIGTERM behaves like Ctrl-C: clean shutdown of every child
    raise KeyboardInterrupt


def config_to_dict(cfg: LoopbackConfig) -> dict[str, Any]:
    """JSON-ready settings of a run (paths as strings), as report.json records them."""
    d = asdict(cfg)
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}
