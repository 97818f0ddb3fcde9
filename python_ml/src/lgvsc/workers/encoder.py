# SPDX-License-Identifier: GPL-3.0-or-later
"""Encoder worker: jobs in on the control socket, semantic packet PDUs out with credit flow control.

Control ops (msgpack or JSON maps, besides ping/status/shutdown):

- ``{"op": "job", "video": PATH, "mtu": 1200, "stream_id": 0, "encoder": {...EncoderConfig fields},
  "video_options": {"width", "height", "fps", "fit"}, "stream_out": DIR}`` encodes a video (normalised
  as :func:`lgvsc.video.iter_video` decodes it, frames streamed through
  :meth:`lgvsc.encoder.SemanticEncoder.encode_frames`: memory bounded whatever the length) and queues
  its PDUs; with ``stream_out`` the stream sent is also saved there as ``stream.lgvs`` (binary) and
  ``stream.json``;
- ``{"op": "job", "synthetic": N, "size": BYTES}``: N PDUs of test payload (benchmarks, tests).

The reply comes at once (``{"ok": true, "job": id}``); progress and the end go out as status
events (``job_started`` with the container's frame count, ``job_progress`` with ``frames_done`` while the
frames are read and as each segment closes, ``job_encoded``, ``job_done``, ``job_failed``). PDUs wait in a bounded
queue that the ``pdu_out`` ROUTER (:class:`~lgvsc.workers.transport.CreditServerThread`) drains
only as fast as semantic_source grants credit; a full queue pauses the job, not the worker.
Backends are built once (:func:`lgvsc.profiles.build_backends`).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import zmq

from lgvsc.pmt_codec import encode_pdu
from lgvsc.workers.base import Worker, WorkerOptions
from lgvsc.workers.transport import EOS, CreditServerThread, PacedPushThread, open_socket

__all__ = ["EncoderWorker", "DEFAULT_MTU"]

log = logging.getLogger(__name__)

DEFAULT_MTU = 1200
MAX_SYNTHETIC = 1_000_000


class _CountingCodec:
    """A keyframe codec that reports each ``encode`` / ``encode_sequence`` call it passes on.

    The keyframe coding of a long clip runs after its last frame is read (the budget is the whole
    stream's) and took more than 15 minutes for 10 minutes of video on a loaded 2-core machine: without
    these calls as progress the orchestrator took the busy worker for a stalled one (``--timeout``).
    Each call is real work done, so a hung codec still stops the progress."""

    def __init__(self, codec, on_encode) -> None:
        self._codec, self._on_encode, self._n = codec, on_encode, 0

    def __getattr__(self, name: str):
        return getattr(self._codec, name)

    def _count(self) -> None:
        self._n += 1
        self._on_encode(self._n)

    def encode(self, *args, **kwargs):
        out = self._codec.encode(*args, **kwargs)
        self._count()
        return out

    def encode_sequence(self, *args, **kwargs):
        out = self._codec.encode_sequence(*args, **kwargs)
        self._count()
        return out


class EncoderWorker(Worker):
    """Serve encode jobs; see the module docstring.

    :param pdu_out: ROUTER endpoint for semantic_source (credit-based); ``None`` for none
    :param push: PUSH endpoint paced at ``rate`` for stock gr-zeromq ``pull_msg_source``
    :param job: a video to encode at start-up
    """

    kind = "encode"

    def __init__(self, options: WorkerOptions, pdu_out: str | None = "tcp://127.0.0.1:*",
                 push: str | None = None, rate: float = 200.0, profile: str = "classical",
                 job: Path | None = None, mtu: int | None = None) -> None:
        from lgvsc.encoder import limit_native_heap

        limit_native_heap()  # before the worker's threads start: peak RSS bounded whatever the length
        super().__init__(options)
        if pdu_out is None and push is None:
            from lgvsc.errors import UserError

            raise UserError("the encoder needs --pdu-out or --push")
        self.pdu_out, self.push, self.rate, self.profile = pdu_out, push, rate, profile
        self.packets: queue.Queue = queue.Queue(maxsize=options.queue_depth)
        self.mtu = mtu or DEFAULT_MTU
        self._backends = None
        self._jobs: list[dict[str, Any]] = []
        self._current: Iterator[bytes | tuple] | None = None
        self._current_id = 0
        self._pending: bytes | tuple | None = None
        self._next_id = 1
        self.jobs_done = 0
        if job is not None:
            self._jobs.append({"op": "job", "video": str(job), "mtu": self.mtu, "id": 0})

    def open_data(self) -> None:
        if self.pdu_out:
            sock = self.bind(zmq.ROUTER, self.pdu_out, "pdu_out", hwm=self.options.queue_depth)
            self.threads.append(CreditServerThread(sock, self.packets, self.counters, name="encode-pdu"))
        if self.push:
            sock, actual = open_socket(self.ctx, zmq.PUSH, self.push, curve=self.options.curve,
                                       allow_insecure_remote=self.options.allow_insecure_remote)
            self.endpoints["push"] = actual
            self.threads.append(PacedPushThread(sock, self.packets, self.counters, self.rate, name="encode-push"))

    # ---------------------------------------------------------------- backends
    @property
    def backends(self):
        if self._backends is None:
            from lgvsc.profiles import build_backends

            self._backends = build_backends(self.profile)
        return self._backends

    # ---------------------------------------------------------------- control
    def handle_control(self, msg: dict[str, Any]) -> dict[str, Any]:
        if msg.get("op") != "job":
            return super().handle_control(msg)
        if "synthetic" in msg:
            n, size = msg.get("synthetic"), msg.get("size", 100)
            if not (isinstance(n, int) and 0 <= n <= MAX_SYNTHETIC and isinstance(size, int) and 1 <= size <= 65535):
                return {"ok": False, "error": f"synthetic job needs 0..{MAX_SYNTHETIC} PDUs of 1..65535 bytes"}
        else:
            video = msg.get("video")
            if not isinstance(video, str) or not Path(video).is_file():
                return {"ok": False, "error": f"video not found: {video!r}"}
            mtu = msg.get("mtu", self.mtu)
            if not isinstance(mtu, int) or not 32 <= mtu <= 65535:
                return {"ok": False, "error": f"mtu must be an int in 32..65535, got {mtu!r}"}
        job = dict(msg, id=self._next_id)
        self._next_id += 1
        self._jobs.append(job)
        return {"ok": True, "job": job["id"], "queued_jobs": len(self._jobs)}

    # ---------------------------------------------------------------- jobs
    def _synthetic(self, job: dict[str, Any]) -> Iterator[bytes | tuple]:
        n, size = job["synthetic"], job.get("size", 100)
        for i in range(n):
            yield encode_pdu({"seq": i}, (i.to_bytes(4, "big") * (size // 4 + 1))[:size])
        yield (EOS, {"job": job["id"], "pdus": n})

    def _video(self, job: dict[str, Any]) -> Iterator[bytes | tuple]:
        from lgvsc.encoder import EncoderConfig, SemanticEncoder
        from lgvsc.packets import packetize

        cfg = EncoderConfig(**{**(job.get("encoder") or {}), "stream_id": int(job.get("stream_id", 0))})
        frames, fps, name, probe = self._open(job)
        self.publish("job_started", job=job["id"], video=job["video"], frames=int(probe.num_frames), frames_done=0)
        last = [time.monotonic()]
        nread = [0]

        def segment_done(seg, frames_read: int) -> None:
            self.publish("job_progress", job=job["id"], stage="encode", frames_done=frames_read,
                         segments=seg.index + 1)

        def read(it):  # ``job_progress`` while reading (the orchestrator's liveness and progress bar)
            for n, f in enumerate(it, 1):
                nread[0] = n
                if time.monotonic() - last[0] >= 0.5:
                    last[0] = time.monotonic()
                    self.publish("job_progress", job=job["id"], stage="read", frames_done=n)
                yield f

        def coded(n: int) -> None:  # ``job_progress`` from each keyframe-codec call (a long segment's coding)
            if n == 1 or time.monotonic() - last[0] >= 0.5:
                last[0] = time.monotonic()
                self.publish("job_progress", job=job["id"], stage="code", frames_done=nread[0],
                             encodes=n)

        # frames as they are decoded: SKEM, captions and motion as they come, segments as SKEM closes them,
        # the frames on disk for the keyframe coding (memory bounded by a window, not by the length; issue 17)
        backends = dataclasses.replace(self.backends,
                                       keyframe_codec=_CountingCodec(self.backends.keyframe_codec, coded))
        stream = SemanticEncoder(backends, cfg).encode_frames(read(frames), fps, name, on_segment=segment_done)
        if job.get("stream_out"):
            self._save_stream(stream, Path(job["stream_out"]))
        pdus = packetize(stream, int(job.get("mtu", self.mtu)))
        payload_bytes = sum(len(p) for p in pdus)
        self.publish("job_encoded", job=job["id"], pdus=len(pdus), payload_bytes=payload_bytes,
                     keyframes=len(stream.keyframes), segments=len(stream.segments))
        for p in pdus:
            yield encode_pdu({}, p)
        yield (EOS, {"job": job["id"], "pdus": len(pdus), "payload_bytes": payload_bytes})

    @staticmethod
    def _open(job: dict[str, Any]):
        """``(frames, fps, name, probe)`` of the job's video, normalised, decoded as it is iterated."""
        from lgvsc.framestore import video_frames

        return video_frames(job["video"], **dict(job.get("video_options") or {}))

    @staticmethod
    def _save_stream(stream, out_dir: Path) -> None:
        """Keep what was sent (binary + JSON) for the caller's report; written atomically."""
        from lgvsc.wire import stream_to_bytes

        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in (("stream.lgvs", stream_to_bytes(stream)), ("stream.json", stream.to_json().encode())):
            tmp = out_dir / f".{name}.tmp"
            tmp.write_bytes(data)
            tmp.replace(out_dir / name)

    def step(self, timeout: float) -> None:
        if self._pending is None:
            if self._current is None:
                if not self._jobs:
                    self.shutdown.wait(timeout)
                    return
                job = self._jobs.pop(0)
                self._current_id = job["id"]
                self._current = self._synthetic(job) if "synthetic" in job else self._video(job)
            try:
                self._pending = next(self._current)
            except StopIteration:
                self._current = None
                return
            except Exception as exc:  # noqa: BLE001 - a failed job must not kill the worker
                log.exception("job %s failed", self._current_id)
                self.counters.add("jobs_failed")
                self.publish("job_failed", job=self._current_id, error=f"{type(exc).__name__}: {exc}")
                self._current = None
                return
        try:
            self.packets.put(self._pending, timeout=timeout)
        except queue.Full:
            return
        if isinstance(self._pending, tuple):
            self.jobs_done += 1
            self.publish("job_done", **{**self._pending[1], "job": self._current_id})
        else:
            self.counters.add("pdus_queued")
        self._pending = None

    def status(self) -> dict[str, Any]:
        return {**super().status(), "jobs_waiting": len(self._jobs), "jobs_done": self.jobs_done,
                "job_running": self._current_id if self._current is not None else None,
                "pdus_waiting": self.packets.qsize()}
