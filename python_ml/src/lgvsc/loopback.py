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
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lgvsc.accounting import OFDM_MCS_NAMES, PSK_MCS_NAMES, PhyDescription
from lgvsc.errors import UserError

__all__ = ["LoopbackConfig", "LoopbackResult", "run_loopback", "OUTPUT_FILES", "SIONNA_CHANNELS", "ChildFailed",
           "LinkFailed", "EXIT_CHILD_FAILED", "EXIT_LINK_FAILED", "stage_hooks", "progress_hooks"]

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
#: Seconds a child gets to stop after SIGTERM before SIGKILL (the link runner's own watchdog is 15 s).
STOP_GRACE_S = 20.0
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
    mcs: str = ""
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
    #: Respawns allowed per worker (0: a dead worker ends the run, exit 2); docs/hardening.md, "Respawn".
    respawn: int = 0

    def validate(self) -> None:
        """Check every option (lgvsc.checks: the messages of ``lgvsc encode``); nothing has started yet."""
        from lgvsc import checks

        self.video = Path(self.video)
        self.out_dir = Path(self.out_dir)
        checks.check_snr(self.snr_db)
        checks.check_geometry(self.width, self.height)
        checks.check_fps(self.fps)
        checks.check_threshold(self.threshold)
        checks.check_target_cbr(self.target_cbr)
        checks.check_keyframe_bytes(self.keyframe_bytes)
        checks.check_finite("--freq-offset", self.freq_offset)
        if checks.check_finite("--doppler", self.doppler_hz) < 0:
            raise UserError(f"--doppler must be >= 0 Hz, got {self.doppler_hz}")
        checks.check_positive("--samp-rate", self.samp_rate)
        checks.check_positive("--timeout", self.timeout_s)
        checks.check_int_range("--seed", self.seed, 0, 2**31 - 1)
        checks.check_int_range("--respawn", self.respawn, 0, 100)
        if self.method not in ("skem", "skim"):
            raise UserError(f"unknown keyframe method {self.method!r}; choose skem or skim")
        if self.focus not in ("general", "main object", "background"):
            raise UserError(f"unknown focus {self.focus!r}; choose general, main object or background")
        if self.channel != "awgn" and self.channel not in SIONNA_CHANNELS:
            raise UserError(f"unknown channel {self.channel!r}; choose awgn or one of {', '.join(SIONNA_CHANNELS)}")
        if self.phy not in PHYS:
            raise UserError(f"unknown PHY {self.phy!r}; choose one of {', '.join(PHYS)}")
        if self.fec not in FECS:
            raise UserError(f"unknown FEC mode {self.fec!r}; choose one of {', '.join(FECS)}")
        names = PSK_MCS_NAMES if self.phy == "psk" else OFDM_MCS_NAMES
        if self.mcs and self.mcs != "auto" and self.mcs not in names:
            raise UserError(f"unknown MCS {self.mcs!r} for the {self.phy} PHY; choose auto or one of "
                            f"{', '.join(names)}")
        if self.profile not in ("classical", "hf"):
            raise UserError(f"unknown profile {self.profile!r}; choose classical or hf")
        checks.check_int_range("--mtu", self.mtu, 64, 4000, "bytes")
        if not isinstance(self.drop_every, int) or self.drop_every < 0 or self.drop_every == 1:
            raise UserError(f"--drop-every must be 0 (off) or >= 2, got {self.drop_every}")
        if not self.video.is_file():
            raise UserError(f"video not found: {self.video}")

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


def emulator_snr_db(phy: str, esn0_db: float, sps: int = 2) -> float:
    """The per-sample SNR ``lgvsc channel --snr`` takes for ``lgvsc loopback --snr esn0_db``.

    ``--snr`` is Es/N0 per data subcarrier (OFDM) or per symbol (PSK at ``psk_pdu_tx``'s default
    ``sps`` 2), the convention of ``link_runner --snr`` (docs/PHY.md "One SNR convention"); the
    emulator measures Es per sample over the unit-power bursts.
    """
    if phy == "ofdm":
        return PhyDescription.ofdm_pdu_tx().sample_snr_db(esn0_db)
    return esn0_db - 10 * math.log10(sps)


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
        for p in [*self.procs, *(w.proc for w in self.workers)]:  # all at once: they stop in parallel
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
        self.final: dict[str, Any] | None = None  # its last line when it ended otherwise ("stopped", "error")
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
            elif ev in ("stopped", "error"):
                self.final = msg


#: Exit status of a run that failed because a worker or another child died, stalled or refused (UserError's).
EXIT_CHILD_FAILED = 2
#: Exit status of a run whose radio link failed (the flowgraph or the channel emulator died or failed).
EXIT_LINK_FAILED = 3
#: A worker whose status socket is silent this long (heartbeats come every 0.5 s) is taken for dead.
HEARTBEAT_LOST_S = 20.0
#: How often the orchestrator looks at its children (a dead one is reported within about this).
POLL_S = 0.2
#: Hooks called as ``hook(stage, pids)`` when a stage starts (tests kill a child at a given stage with it).
stage_hooks: list[Callable[[str, dict[str, int]], None]] = []
#: Hooks called as ``hook(stage, pids, link_status)`` at every poll while on air (tests kill by progress).
progress_hooks: list[Callable[[str, dict[str, int], dict[str, Any]], None]] = []


class ChildFailed(UserError):
    """A worker or helper process died, stopped answering, stalled, or failed its stage (exit status 2)."""

    exit_code = EXIT_CHILD_FAILED


class LinkFailed(UserError):
    """The radio link failed: the flowgraph or the channel emulator died or exited with an error (exit status 3)."""

    exit_code = EXIT_LINK_FAILED


def _how_it_ended(code: int | None) -> str:
    if code is None:
        return "is still running"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


class _Watch:
    """Every child of a run and what it last said: process exit and worker heartbeats.

    :meth:`check` raises :class:`ChildFailed` (or :class:`LinkFailed` for the radio side) naming the
    child that died, or the worker whose heartbeats stopped; :class:`_Stall` turns "no progress for
    ``--timeout`` s" into the same kind of error. Nothing here blocks for more than :data:`POLL_S`.
    """

    def __init__(self) -> None:
        self.procs: dict[str, tuple[subprocess.Popen, type[UserError]]] = {}
        self.subs: dict[str, Any] = {}
        self.last_seen: dict[str, float] = {}
        self.latest: dict[str, dict[str, Any]] = {}  # last heartbeat/status map of each worker
        self.events: dict[str, list[dict[str, Any]]] = {}  # non-heartbeat events, in order
        self.ignore: set[str] = set()  # children whose end no longer matters (their stage is over)
        #: ``respawn(name) -> bool``: replace a dead worker (True) or let it end the run (False).
        self.respawn: Callable[[str], bool] | None = None
        self.generation: dict[str, int] = {}  # how often each child was replaced

    def replace(self, name: str, proc: subprocess.Popen) -> None:
        """A respawned worker on the same endpoints: its status SUB socket reconnects by itself."""
        self.procs[name] = (proc, self.procs[name][1])
        self.last_seen[name] = time.monotonic()
        self.latest.pop(name, None)
        self.events[name] = []
        self.generation[name] = self.generation.get(name, 0) + 1

    def add(self, name: str, proc: subprocess.Popen, error: type[UserError] = ChildFailed,
            status_endpoint: str | None = None) -> None:
        from lgvsc.workers.client import StatusSubscriber

        self.procs[name] = (proc, error)
        if status_endpoint:
            self.subs[name] = StatusSubscriber(status_endpoint)
            self.last_seen[name] = time.monotonic()
            self.events[name] = []

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, (p, _) in self.procs.items()}

    def poll_events(self) -> None:
        now = time.monotonic()
        for name, sub in self.subs.items():
            for ev in sub.poll(0):
                self.last_seen[name] = now
                if ev.get("event") == "heartbeat":
                    self.latest[name] = ev
                else:
                    self.events[name].append(ev)
                    del self.events[name][:-1000]

    def dead(self, name: str) -> bool:
        return self.procs[name][0].poll() is not None

    def check(self, stage: str) -> None:
        """Raise for the first child that died or went silent (``stage`` names what the run was doing)."""
        self.poll_events()
        now = time.monotonic()
        for name, (proc, error) in self.procs.items():
            if name in self.ignore:
                continue
            if proc.poll() is not None:
                if self.respawn is not None and self.respawn(name):
                    continue
                raise error(f"the {name} (pid {proc.pid}) {_how_it_ended(proc.returncode)} during {stage}")
            if name in self.subs and now - self.last_seen[name] > HEARTBEAT_LOST_S:
                raise error(f"the {name} (pid {proc.pid}) stopped answering during {stage}: "
                            f"no heartbeat for {HEARTBEAT_LOST_S:g} s")

    def close(self) -> None:
        for sub in self.subs.values():
            sub.close()


class _Stall:
    """Raises :class:`ChildFailed` when ``key`` (a progress measure) has not changed for ``limit`` seconds."""

    def __init__(self, what: str, limit: float) -> None:
        self.what, self.limit = what, limit
        self.key: Any = object()
        self.since = time.monotonic()

    def update(self, key: Any) -> None:
        now = time.monotonic()
        if key != self.key:
            self.key, self.since = key, now
        elif now - self.since > self.limit:
            raise ChildFailed(f"{self.what} made no progress for {self.limit:g} s (--timeout)")


def _watched_request(endpoint: str, msg: dict[str, Any], watch: _Watch, stage: str,
                     progress: Callable[[], Any], stall: _Stall, worker: str | None = None) -> dict[str, Any]:
    """One control request whose reply may take long: wait while the children live and progress is made.

    When ``worker`` (the one serving ``endpoint``) is respawned meanwhile, the request goes to the new one.
    """
    import zmq

    from lgvsc.workers.transport import pack_control, unpack_control

    def send():
        s = zmq.Context.instance().socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(endpoint)
        s.send(pack_control(msg))
        return s, watch.generation.get(worker or "", 0)

    sock, gen = send()
    try:
        while not sock.poll(int(POLL_S * 1000)):
            watch.check(stage)
            if worker and watch.generation.get(worker, 0) != gen:  # the old one took the request with it
                sock.close(0)
                sock, gen = send()
            stall.update(progress())
        return unpack_control(sock.recv())
    finally:
        sock.close(0)


def _fire(stage: str, watch: _Watch) -> None:
    for hook in list(stage_hooks):
        hook(stage, watch.pids())


class _Bar:
    """One tqdm bar per stage (or none): encode (frames), on air (PDUs), decode (frames)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None

    def stage(self, desc: str, total: int | None, unit: str) -> None:
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(total=total, unit=unit, desc=desc, disable=not self.enabled, dynamic_ncols=True,
                        file=sys.stderr)

    def show(self, n: int | None = None, total: int | None = None, **postfix: Any) -> None:
        if self.bar is None:
            return
        if total is not None:
            self.bar.total = total
        if n is not None:
            self.bar.n = int(n)
        if postfix:
            self.bar.set_postfix(refresh=False, **postfix)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run_loopback(cfg: LoopbackConfig) -> LoopbackResult:
    """Run the whole chain once; raises :class:`UserError` with a clear message on failure.

    Failures of children are :class:`ChildFailed` (exit status 2) or, for the radio side,
    :class:`LinkFailed` (3); see docs/architecture.md, "Exit status and liveness".
    """
    from lgvsc.framestore import read_video_store
    from lgvsc.loopback_report import prewarm as prewarm_report
    from lgvsc.loopback_report import score_and_render, write_report
    from lgvsc.workers.client import FREE, WorkerProcess, die_with_parent

    cfg.validate()
    from lgvsc.encoder import limit_native_heap

    limit_native_heap()  # the score pass's frame buffers: glibc's heap does not grow with the length
    timings: dict[str, float] = {}
    t = time.monotonic()
    check_gnuradio(cfg.gr_python)
    # Bad video fails here, before any process starts. The frames go to a disk-backed store (one frame in
    # RAM per access), so scoring a 10-minute source costs no more memory than a 20-second one.
    source = read_video_store(cfg.video, **cfg.video_options())
    timings["read source"] = time.monotonic() - t

    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:  # a stale result must not pass for this run's
        (cfg.out_dir / name).unlink(missing_ok=True)
    staging = cfg.out_dir / f".partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()

    # The session (geometry, rate, length) is known out of band, as an SDP gives it for RTP.
    session = {"width": int(source.width), "height": int(source.height), "fps_num": source.fps.numerator,
               "fps_den": source.fps.denominator, "num_frames": int(source.num_frames), "name": cfg.video.name}
    children = _Children()
    watch = _Watch()
    bar = _Bar(cfg.progress)
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        t = time.monotonic()
        def spawn(name: str, endpoints: dict[str, str] | None) -> Any:
            ep = endpoints or {"pdu_in": FREE, "pdu_out": FREE, "control": FREE, "status": FREE}
            common = ["--control", ep["control"], "--status", ep["status"], "--profile", cfg.profile]
            if name == "decoder worker":
                out = staging / ("decoder" if endpoints is None else f"decoder-{respawns[name]}")
                w = WorkerProcess.spawn(["decode", "--pdu-in", ep["pdu_in"], "--out-dir", str(out), *common])
            else:
                w = WorkerProcess.spawn(["encode", "--pdu-out", ep["pdu_out"], "--mtu", str(cfg.mtu), *common])
            children.workers.append(w)
            return w

        respawns = {"decoder worker": 0, "encoder worker": 0}
        job_sent = False

        def respawn(name: str) -> bool:
            """A dead worker with respawns left: a new one on the same endpoints (the radio's ZeroMQ peers
            reconnect by themselves), told what the old one knew: the decoder the session, the encoder the job."""
            if name not in workers or name in watch.ignore or respawns[name] >= cfg.respawn:
                return False
            old = workers[name]
            respawns[name] += 1
            print(f"lgvsc loopback: warning: the {name} (pid {old.proc.pid}) {_how_it_ended(old.proc.returncode)}; "
                  f"respawning it ({respawns[name]}/{cfg.respawn})", file=sys.stderr)
            new = workers[name] = spawn(name, old.endpoints)
            watch.replace(name, new.proc)
            if name == "decoder worker":
                reply = new.control({"op": "session", "session": {**session, "stream_id": job["stream_id"]}})
            elif job_sent:  # it re-encodes and serves the stream from the start; the reassembler drops duplicates
                reply = new.control(job)
            else:
                reply = {"ok": True}
            if not reply.get("ok"):
                raise ChildFailed(f"the respawned {name} refused: {reply.get('error')}")
            return True

        workers: dict[str, Any] = {}
        dec = workers["decoder worker"] = spawn("decoder worker", None)
        watch.add("decoder worker", dec.proc, status_endpoint=dec.endpoints["status"])
        enc = workers["encoder worker"] = spawn("encoder worker", None)
        watch.add("encoder worker", enc.proc, status_endpoint=enc.endpoints["status"])
        job = {"op": "job", "video": str(cfg.video.resolve()), "mtu": cfg.mtu, "encoder": cfg.encoder_options(),
               "video_options": cfg.video_options(), "stream_out": str(staging), "stream_id": 0}
        if cfg.respawn:
            watch.respawn = respawn
        timings["start workers"] = time.monotonic() - t

        link_argv = [cfg.gr_python, "-m", "gnuradio.lgvsc.link_runner",
                     "--source", enc.endpoints["pdu_out"], "--sink", dec.endpoints["pdu_in"],
                     "--phy", cfg.phy, "--fec", cfg.fec, "--snr", str(cfg.snr_db), "--mtu", str(cfg.mtu),
                     "--freq-offset", str(cfg.freq_offset), "--samp-rate", str(cfg.samp_rate),
                     "--timeout", "60"]
        if cfg.mcs:  # link_runner resolves "auto" from its --snr
            link_argv += ["--mcs", cfg.mcs]
        if cfg.drop_every:
            link_argv += ["--drop-every", str(cfg.drop_every)]
        if cfg.channel != "awgn":
            iq_tx, iq_rx = f"tcp://127.0.0.1:{_free_port()}", f"tcp://127.0.0.1:{_free_port()}"
            emulator = subprocess.Popen(
                [sys.executable, "-c", "import sys; from lgvsc.cli import main; sys.exit(main())", "channel",
                 "--model", cfg.channel, "--snr", repr(emulator_snr_db(cfg.phy, cfg.snr_db)),
                 "--doppler", str(cfg.doppler_hz),
                 "--sample-rate", str(cfg.samp_rate), "--seed", str(cfg.seed), "--in", iq_tx, "--out", iq_rx],
                stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
            children.procs.append(emulator)
            _wait_ready(emulator, "the channel emulator", timeout=120, watch=watch)
            watch.add("channel emulator", emulator, error=LinkFailed)
            link_argv += ["--channel", "zmq", "--iq-out", iq_tx, "--iq-in", iq_rx]
        else:
            link_argv += ["--channel", "sim", "--seed", str(cfg.seed)]

        # -- encode: the stream is made once, saved for the report; its PDUs wait in a bounded queue
        t = time.monotonic()
        _fire("encode", watch)
        enc_stall = _Stall("the encoder worker", cfg.timeout_s)
        reply = _watched_request(enc.endpoints["control"], job, watch, "encoding",
                                 lambda: None, _Stall("the encoder worker (job request)", max(30.0, cfg.timeout_s)),
                                 worker="encoder worker")
        if not reply.get("ok"):
            raise ChildFailed(f"the encoder refused the job: {reply.get('error')}")
        job_sent = True
        bar.stage("encode", source.num_frames, "frame")
        encoded = None
        while encoded is None:
            watch.check("encoding")
            for ev in watch.events["encoder worker"]:
                if ev.get("event") in ("job_encoded", "job_failed"):
                    encoded = ev
            ev_count = len(watch.events["encoder worker"])
            frames_done = int((watch.events["encoder worker"] or [{}])[-1].get("frames_done", 0) or 0)
            bar.show(frames_done)
            enc_stall.update((ev_count, frames_done))
            if encoded is None:
                time.sleep(POLL_S)
        if encoded.get("event") == "job_failed":
            raise ChildFailed(f"the encoder failed: {encoded.get('error')}")
        bar.show(source.num_frames)
        timings["encode"] = time.monotonic() - t
        total_pdus = int(encoded.get("pdus", 0))
        log.info("encoded: %s PDUs, %s bytes", total_pdus, encoded.get("payload_bytes"))

        # -- on air: the flowgraph pulls from the encoder and pushes to the decoder
        t = time.monotonic()
        link = subprocess.Popen(link_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=die_with_parent)
        children.procs.insert(0, link)
        watcher = _LinkWatcher(link)
        watcher.start()
        stderr_tail: list[str] = []
        stderr_thread = threading.Thread(target=_collect, args=(link.stderr, stderr_tail), daemon=True)
        stderr_thread.start()
        bar.stage("on air", total_pdus, "pdu")
        link_stall = _Stall("the radio link", cfg.timeout_s)
        link_cut: str | None = None  # why the link ended early, when the design still allows a video
        fired_link = False
        while link.poll() is None:
            try:
                watch.check("the link")
            except ChildFailed as exc:
                if not watch.dead("encoder worker") or watch.dead("decoder worker"):
                    raise
                # The encoder died mid-stream: what reached the decoder still makes a full-length,
                # concealed video (loss is normal), so stop the flowgraph and finish with it.
                link_cut = str(exc)
                watch.ignore.add("encoder worker")
                print(f"lgvsc loopback: warning: {exc}; decoding what arrived, with concealment", file=sys.stderr)
                link.send_signal(signal.SIGTERM)
                _wait_exit(link, STOP_GRACE_S)
                break
            latest = watcher.latest
            for hook in list(progress_hooks):
                hook("link", watch.pids(), {**latest, "total_pdus": total_pdus})
            if latest:
                bar.show(int(latest.get("tx_pdus", 0)), rx_ok=latest.get("rx_ok"), crc_fail=latest.get("rx_crc_fail"))
                if not fired_link and int(latest.get("tx_pdus", 0)) > 0:
                    fired_link = True
                    _fire("link", watch)
            link_stall.update((latest.get("samples_tx"), latest.get("rx_ok"), latest.get("rx_crc_fail"),
                               latest.get("source", {}).get("emitted") if isinstance(latest.get("source"), dict)
                               else None))
            time.sleep(POLL_S)
        watcher.join(timeout=5)
        stderr_thread.join(timeout=5)
        bar.close()
        watch.ignore.add("encoder worker")  # everything it had to give is on air: its end no longer matters
        link_result = watcher.done or watcher.final
        if link_cut is None and (link.returncode != 0 or watcher.done is None):
            watch.check("the link")  # a worker that died explains a failed flowgraph better than its log
            tail = "\n".join(stderr_tail[-15:] or watcher.other_lines[-15:])
            reason = (watcher.final or {}).get("reason")
            raise LinkFailed(f"the radio flowgraph (pid {link.pid}) {_how_it_ended(link.returncode)}"
                             + (f" ({reason})" if reason else "") + (f":\n{tail}" if tail else ""))
        if link_result is None:  # cut short before it said anything: count what we saw
            link_result = dict(watcher.latest, event="stopped")
        if link_cut is not None:
            link_result = {**link_result, "cut_short": link_cut}
        timings["on air (flowgraph)"] = time.monotonic() - t

        # -- finish: decode what is left, conceal what is missing, while the decoder lives and progresses
        t = time.monotonic()
        # The flowgraph has finished, so nothing more will arrive: wait only briefly for the
        # end-of-stream object (it may have been lost), then decode what came with concealment.
        # With the session known out of band, even a run that lost every copy of the stream header
        # yields a full-length video.
        _fire("finish", watch)
        prewarm_report()  # the report's imports, while this process only waits for the decoder
        bar.stage("decode", source.num_frames, "frame")

        def dec_progress():
            watch.poll_events()
            evs = watch.events["decoder worker"]
            written = max([int(e.get("frames_written") or 0) for e in evs[-5:]]
                          + [int(watch.latest.get("decoder worker", {}).get("frames_written") or 0)])
            bar.show(written)
            return len(evs), written

        fin = _watched_request(dec.endpoints["control"], {"op": "finish", "timeout": 2.0, "session": session},
                               watch, "finish (decoding)", dec_progress, _Stall("the decoder worker", cfg.timeout_s),
                               worker="decoder worker")
        bar.close()
        if not fin.get("ok"):
            raise ChildFailed(f"the decoder produced no video: {fin.get('error')}")
        timings["decode (finish)"] = time.monotonic() - t

        t = time.monotonic()
        _fire("report", watch)
        result = score_and_render(cfg, source, staging, fin, link_result)
        timings["score and render"] = time.monotonic() - t
        result["timings_s"] = timings
        result["respawns"] = dict(respawns)
        write_report(cfg, staging, result)  # last, so a report only exists for a finished run
        for name in OUTPUT_FILES:
            if (staging / name).exists():
                (staging / name).replace(cfg.out_dir / name)
        return LoopbackResult(out_dir=cfg.out_dir, files={n: str(cfg.out_dir / n) for n in OUTPUT_FILES
                                                          if (cfg.out_dir / n).exists()},
                              link=link_result, decoder=fin, timings_s=timings,
                              quality=result.get("quality", {}), cbr=result.get("cbr", {}))
    finally:
        bar.close()
        watch.close()
        children.close()
        source.frames.close()
        signal.signal(signal.SIGTERM, previous_sigterm)
        shutil.rmtree(staging, ignore_errors=True)


def _wait_exit(proc: subprocess.Popen, timeout: float) -> None:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_ready(proc: subprocess.Popen, what: str, timeout: float, watch: _Watch | None = None) -> None:
    """Block until ``proc`` prints its JSON ``ready`` line: the radio must not start sending
    into a channel that is not there yet (its samples would be lost before the run begins)."""
    import select

    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if watch is not None:
            watch.check(f"the start of {what}")
        if proc.poll() is not None:
            raise LinkFailed(f"{what} (pid {proc.pid}) {_how_it_ended(proc.returncode)} at start-up")
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
    raise LinkFailed(f"{what} did not become ready within {timeout:g} s")


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
