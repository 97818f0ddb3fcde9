# SPDX-License-Identifier: GPL-3.0-or-later
"""Decoder worker: received PDUs in, a full-length video and a decode report out.

Sockets (docs/bridge.md):

- ``pdu_in``: PULL, **bound**. Peers PUSH one ``pmt.serialize_str`` PDU per message:
  semantic_sink, or a stock gr-zeromq ``push_msg_sink`` with ``bind=False``.
- ``sub`` (optional): SUB, **connected** to a stock gr-zeromq ``pub_msg_sink`` that binds
  (PUB/SUB drops when a side is slow; prefer PUSH/PULL).
- the common control (ROUTER) and status (PUB, msgpack) sockets of :class:`~lgvsc.workers.base.Worker`.

Every payload goes to a :class:`~lgvsc.packets.Reassembler`. As soon as a segment's
metadata and both its boundary keyframes are in, and every earlier segment has been
written, the segment is generated (:class:`~lgvsc.decoder.SegmentDecoder`) and its frames
are appended to a temporary video file; a segment that is ready while an earlier one is
still missing waits in memory (bounded by :data:`MAX_WAITING_BYTES`) and is written as
soon as the gap closes. ``finish`` (control op, or the end-of-stream object with
``finish_on_end``) generates the rest with concealment (:mod:`lgvsc.decoder`: lost
keyframes from their neighbours, lost captions from the previous segment), renames the
video into place and writes ``decode_report.json``. Control ops besides
ping/status/shutdown:

- ``{"op": "finish", "timeout": S}``: wait up to S seconds (default 0) for the end-of-stream
  object, then finalise; reply ``{"ok": true, "video", "report", "num_frames", ...}`` or
  ``{"ok": false, "error": "no stream header received"}`` (no video is written then). With
  ``"session": {"width", "height", "fps_num", "fps_den", "num_frames"}`` (the session known out of
  band, as an SDP gives it) a stream whose every header copy was lost still yields a full-length,
  all-concealed (mid-grey) video, and the report says ``"header_lost": true``;
- ``{"op": "session", "session": {...same fields..., "stream_id": N}}``: the session description
  ahead of the stream; with ``stream_id`` the worker locks onto that stream at once (``finish``'s
  ``session`` may carry it too);
- ``{"op": "reset"}``: forget the current stream (and any half-written video) for a new one.

The worker decodes one stream: the stream id of the session description when one is given,
else that of the first stream *header* that validates (a stray PDU of another session does not
lock the real stream out). Before the lock every stream is reassembled side by side (at most
``ReassemblerConfig.max_streams``); after it, PDUs of other streams are counted ``other_streams``.

Malformed PDUs (not a PMT PDU, or a payload the reassembler rejects) are logged and
counted (``pdus_invalid``); they never stop the worker.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import queue
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from lgvsc.errors import PacketError, UserError
from lgvsc.framestore import FrameStore
from lgvsc.packets import Kind, Reassembler, parse_pdu
from lgvsc.pmt_codec import MAX_MESSAGE_BYTES, decode_pdu
from lgvsc.stream import Segment, VideoInfo
from lgvsc.workers.base import Worker, WorkerOptions
from lgvsc.workers.transport import InputThread, open_socket

__all__ = ["DecoderWorker", "VIDEO_NAME", "REPORT_NAME", "MAX_WAITING_BYTES"]

log = logging.getLogger(__name__)

VIDEO_NAME = "reconstruction.mp4"
REPORT_NAME = "decode_report.json"
#: Decoded frames held while an earlier segment is missing; a segment that would not fit is generated later,
#: when it is next (the worker's memory is bounded by this plus one generator chunk, whatever the video's length).
MAX_WAITING_BYTES = 128 * 1024 * 1024
#: Seconds between ``progress`` status events while a long segment or the finish is being written.
PROGRESS_EVERY_S = 0.5
#: Items taken from the input queue per compute step before control requests are looked at again.
BATCH = 256


#: Keyframes held decoded ahead of the next segment to write; others are decoded again when needed.
KEYFRAME_WINDOW = 8


class _KeyframeWindow:
    """The decoder worker's decoded keyframes, bounded: a mapping of keyframe object id -> frame.

    ``oid in window`` is true for every keyframe known to decode (each is decoded once on arrival,
    to count it). Frames are *held* only for ids in ``[next_segment, next_segment + KEYFRAME_WINDOW]``
    (the segments about to be written); the test ``oid in window`` (the compute thread's readiness
    check) decodes a known-good keyframe of that range that is not held, so a generator thread
    finds its two frames there. Any other id is decoded on access and not kept. Entries behind the
    output are deleted by the worker. Memory no longer grows with a stream that runs far ahead.
    """

    def __init__(self, worker: DecoderWorker) -> None:
        self.w = worker
        self.ok: set[int] = set()
        self.held: dict[int, np.ndarray] = {}

    def _near(self, oid: int) -> bool:
        return self.w.next_segment <= oid <= self.w.next_segment + KEYFRAME_WINDOW

    def _decode(self, oid: int) -> np.ndarray:
        # a keyframe known to decode, decoded again: it arrived outside the window (the output lagged)
        self.w.stats["keyframes_decoded_again"] = self.w.stats.get("keyframes_decoded_again", 0) + 1
        return self.w.seg_dec.decode_keyframe(self.w._keyframe(oid))

    def __contains__(self, oid: object) -> bool:
        if oid not in self.ok:
            return False
        if oid not in self.held and self._near(oid):
            self.held[oid] = self._decode(oid)
        for old in [o for o in self.held if not self._near(o) and o > self.w.next_segment]:
            del self.held[old]  # the window moved on (or a far keyframe was held): drop it
        return True

    def __getitem__(self, oid: int) -> np.ndarray:
        f = self.held.get(oid)
        if f is None:
            if oid not in self.ok:
                raise KeyError(oid)
            f = self._decode(oid)
            if self._near(oid):
                self.held[oid] = f
        return f

    def __setitem__(self, oid: int, frame: np.ndarray) -> None:
        self.ok.add(oid)
        if self._near(oid):
            self.held[oid] = frame

    def __delitem__(self, oid: int) -> None:
        self.ok.discard(oid)
        self.held.pop(oid, None)

    def __iter__(self):
        return iter(list(self.ok))

    def __len__(self) -> int:
        return len(self.ok)


def _store_chunks(store: FrameStore, n: int = 16):
    """``store``'s frames in order, ``n`` at a time as ``(k, H, W, 3)`` arrays (what ``_append`` writes)."""
    for i in range(0, len(store), n):
        yield np.asarray(store[i:i + n])


def _close_result(fut) -> None:
    """Frees an abandoned generation's frame store when its thread is done with it."""
    store = fut.result()
    if store is not None:
        store.close()


def _one_pdu(frames: list[bytes]) -> tuple[dict, bytes]:
    if len(frames) != 1:
        raise ValueError(f"expected one frame per PDU, got {len(frames)}")
    return decode_pdu(frames[0], max_bytes=MAX_MESSAGE_BYTES)


class DecoderWorker(Worker):
    """Serve one semantic stream at a time; see the module docstring.

    :param pdu_in: PULL endpoint to bind
    :param out_dir: where ``reconstruction.mp4`` and ``decode_report.json`` go (created)
    :param profile: backend profile for the generator (``classical`` or ``hf``)
    :param profile_options: options for :func:`lgvsc.profiles.build_backends`
    :param sub: PUB endpoint (stock ``pub_msg_sink``) to connect a SUB socket to
    :param finish_on_end: finalise as soon as the end-of-stream object arrives
    :param exit_on_finish: stop the worker after a finish (automatic or requested)
    :param crf: H.264 quality of the output
    """

    kind = "decode"

    def __init__(self, options: WorkerOptions, out_dir: Path, pdu_in: str = "tcp://127.0.0.1:*",
                 profile: str = "classical", profile_options: dict[str, Any] | None = None,
                 sub: str | None = None, finish_on_end: bool = False, exit_on_finish: bool = False,
                 crf: int = 18, segment_deadline_s: float | None = None) -> None:
        from lgvsc.encoder import limit_native_heap

        limit_native_heap()  # before the worker's threads start: glibc's heap does not grow with the length
        super().__init__(options)
        if segment_deadline_s is not None and not math.isfinite(segment_deadline_s):
            raise UserError(f"segment deadline must be a finite number of seconds, got {segment_deadline_s}")
        #: Latency budget of each segment after its playout time (None: no deadline, generate in line).
        self.deadline_s = segment_deadline_s
        self._executor = None  # the generation thread (deadline mode)
        self.out_dir = Path(out_dir)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create output directory {self.out_dir}: {exc}") from exc
        self.pdu_in, self.sub = pdu_in, sub
        self.profile, self.profile_options = profile, dict(profile_options or {})
        self.finish_on_end, self.exit_on_finish, self.crf = finish_on_end, exit_on_finish, crf
        self.inbox: queue.Queue = queue.Queue(maxsize=max(options.queue_depth, 1024))
        self._backends = None
        self._reset_state()

    # ---------------------------------------------------------------- state
    def _reset_state(self) -> None:
        self.session = None
        self.rx = Reassembler()
        self.stream_id: int | None = None
        self.header = None
        self.seg_dec = None
        self.writer = None
        self.frames_written = 0
        self.next_segment = 0          # index of the next segment to append to the video
        self.last_caption = ("", 0.0)  # of the last segment written (caption concealment at finish)
        self.prev_tail: np.ndarray | None = None
        self.kf_frames = _KeyframeWindow(self)  # keyframe object id -> decoded frame (a bounded window)
        self.kf_bad: set[int] = set()
        #: frame index -> whether its keyframe decoded (learnt on arrival): finish's plan decodes none again for it
        self.kf_known: dict[int, bool] = {}
        self.waiting: dict[int, np.ndarray] = {}   # segment index -> frames (decoded out of order)
        self.waiting_bytes = 0
        self.broken = False  # a segment failed half-written: the rest is left to finish (concealment)
        self._last_tick = 0.0
        self.stats = {"pdus_received": 0, "pdus_invalid": 0, "objects_complete": 0, "segments_decoded": 0,
                      "segments_written": 0, "keyframes_decoded": 0, "keyframes_undecodable": 0,
                      "other_streams": 0, "decode_errors": 0}
        self.stats.update(segments_late=0, segments_late_used=0, segments_concealed_deadline=0)
        self.pending: tuple[int, Any] | None = None  # (segment index, future) being generated (deadline mode)
        self.late: dict[int, float] = {}  # segment index -> seconds past its deadline when it was found late
        self.late_used: list[int] = []
        self.deadline_concealed: list[int] = []
        self.end_received = False
        self.result: dict[str, Any] | None = None
        self.t_first: float | None = None
        self.t_header: float | None = None

    def _abort_writer(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None

    @property
    def backends(self):
        if self._backends is None:
            from lgvsc.profiles import build_backends

            self._backends = build_backends(self.profile, keyframe_codec="webp", **self.profile_options)
        return self._backends

    # ---------------------------------------------------------------- sockets
    def open_data(self) -> None:
        sock = self.bind(zmq.PULL, self.pdu_in, "pdu_in", hwm=self.options.queue_depth)
        self.threads.append(InputThread(sock, self.inbox, _one_pdu, self.counters, name="decode-in"))
        if self.sub:
            sock, _ = open_socket(self.ctx, zmq.SUB, self.sub, bind=False, hwm=self.options.queue_depth)
            sock.setsockopt(zmq.SUBSCRIBE, b"")
            self.endpoints["sub"] = self.sub
            self.threads.append(InputThread(sock, self.inbox, _one_pdu, self.counters, name="decode-sub"))

    # ---------------------------------------------------------------- PDUs
    def step(self, timeout: float) -> None:
        self._consume(timeout)
        if self.deadline_s is not None and self.header is not None:
            self._advance()  # a generation may have finished, or a deadline passed, with no PDU arriving
        if self.finish_on_end and self.end_received and self.result is None:
            self.result = self._finish()
            self.result["finished"] = True
            self.publish("finished", **self.result)
            if self.exit_on_finish:
                self.shutdown.set()

    def _consume(self, timeout: float) -> int:
        n = 0
        try:
            item = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return 0
        while True:
            try:
                self._on_pdu(item[1])
            except Exception:  # noqa: BLE001 - one bad PDU or a decoder bug must not end the worker
                log.exception("handling a PDU failed")
                self.stats["decode_errors"] += 1
            n += 1
            if n >= BATCH:
                return n
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                return n

    def _on_pdu(self, payload: bytes) -> None:
        self.stats["pdus_received"] += 1
        if self.t_first is None:
            self.t_first = time.monotonic()
        if self.result is not None:  # finished: a new stream needs a reset first
            self.stats["after_finish"] = self.stats.get("after_finish", 0) + 1
            return
        try:
            sid = parse_pdu(payload, self.rx.config.max_pdu_bytes)[0].stream_id
            # The lock: the stream of the first header that validates (or the session's stream id).
            # Until then every stream is reassembled side by side (bounded: ReassemblerConfig.max_streams),
            # so a stray PDU from another session cannot lock the real stream out.
            if self.stream_id is not None and sid != self.stream_id:
                self.stats["other_streams"] += 1
                return
            events = self.rx.feed(payload)
        except PacketError as exc:
            self.stats["pdus_invalid"] += 1
            log.debug("invalid PDU: %s", exc)
            return
        for ev in events:
            if self.stream_id is None and ev.kind == Kind.HEADER:
                self._lock_stream(ev.stream_id, ev.value)
            if ev.stream_id != self.stream_id:
                continue  # another stream before the lock: reassembled, not decoded
            self.stats["objects_complete"] += 1
            if ev.kind == Kind.HEADER:
                self._on_header(ev.value)
            elif ev.kind == Kind.KEYFRAME:
                self._on_keyframe(ev.object_id)
            elif ev.kind == Kind.END:
                self.end_received = True
                self.publish("end_received", **self._progress())
        if events and self.header is not None:
            self._advance()

    def _lock_stream(self, sid: int, header=None) -> None:
        """Decode stream ``sid`` from now on; drop what is held for any other stream."""
        if header is not None:
            from lgvsc.decoder import SegmentDecoder

            try:  # a header we cannot decode is no reason to lock onto its stream
                SegmentDecoder(header.video, self.backends.generator)
            except ValueError as exc:
                log.warning("stream %d: header refused: %s", sid, exc)
                self.stats["headers_refused"] = self.stats.get("headers_refused", 0) + 1
                self.rx.forget(sid)
                return
        self.stream_id = sid
        st = self.rx._streams.get(sid)  # noqa: SLF001 - read-only peek, same package
        if st is not None and st.end is not None:
            self.end_received = True  # its end object came before its header
        for other in self.rx.stream_ids():
            if other != sid:
                self.stats["other_streams"] += 1
                self.rx.forget(other)
        log.info("locked onto stream %d", sid)

    def _on_header(self, header) -> None:
        from lgvsc.decoder import SegmentDecoder

        self.header = header
        self.t_header = time.monotonic()
        try:
            self.seg_dec = SegmentDecoder(header.video, self.backends.generator)
        except ValueError as exc:  # header in bounds for the wire, out of bounds for us
            log.warning("stream header refused: %s", exc)
            self.stats["decode_errors"] += 1
            self.seg_dec = None
            return
        self.publish("header", stream_id=self.stream_id, num_frames=header.video.num_frames,
                     width=header.video.width, height=header.video.height, fps=header.video.fps)
        for oid in list(self.rx_keyframe_ids()):
            self._on_keyframe(oid)

    def rx_keyframe_ids(self) -> list[int]:
        st = self.rx._streams.get(self.stream_id)  # noqa: SLF001 - read-only peek, same package
        return sorted(st.keyframes) if st is not None else []

    def _keyframe(self, oid: int):
        st = self.rx._streams.get(self.stream_id)  # noqa: SLF001
        return None if st is None or oid not in st.keyframes else st.keyframes[oid][1]

    def _on_keyframe(self, oid: int) -> None:
        if self.seg_dec is None or oid in self.kf_frames or oid in self.kf_bad:
            return
        kf = self._keyframe(oid)
        if kf is None:
            return
        try:
            self.kf_frames[oid] = self.seg_dec.decode_keyframe(kf)
            self.stats["keyframes_decoded"] += 1
            self.kf_known[kf.frame_index] = True
        except ValueError as exc:
            log.warning("keyframe %d undecodable: %s", kf.frame_index, exc)
            self.kf_bad.add(oid)
            self.stats["keyframes_undecodable"] += 1
            self.kf_known[kf.frame_index] = False

    def _segment(self, j: int):
        st = self.rx._streams.get(self.stream_id)  # noqa: SLF001
        return None if st is None or j not in st.segments else st.segments[j][1]

    def _advance(self) -> None:
        """Decode every segment whose three objects are in; the next one in order goes straight to the
        video chunk by chunk (never held whole), a later one waits in memory (bounded) for the gap to close."""
        if self.seg_dec is None or self.broken:
            return
        if self.deadline_s is not None:
            self._advance_deadline()
            return
        h = self.header
        kfi = list(h.keyframe_indices)
        v = h.video
        for j in range(self.next_segment, h.num_segments):
            if j in self.waiting and j != self.next_segment:
                continue
            seg = self._segment(j)
            if seg is None:
                continue
            try:
                a, b = kfi.index(seg.start_frame), kfi.index(seg.end_frame)
            except ValueError:
                continue
            if a not in self.kf_frames or b not in self.kf_frames:
                continue
            if j == self.next_segment:
                frames = self.waiting.pop(j, None)
                if frames is not None:
                    self.waiting_bytes -= frames.nbytes
                    self._append(seg, [frames])
                elif not self._append(seg, self._chunks(seg, a, b, self.prev_tail), generated=True):
                    return
                # a segment ready earlier may now be next
                while self.next_segment in self.waiting and not self.broken:
                    nxt = self.waiting.pop(self.next_segment)
                    self.waiting_bytes -= nxt.nbytes
                    self._append(self._segment(self.next_segment), [nxt])
                if self.broken:
                    return
            elif self.waiting_bytes + seg.num_frames * v.width * v.height * 3 <= MAX_WAITING_BYTES:
                frames = self._generate(seg, a, b, None)
                if frames is not None:
                    self.waiting[j] = frames
                    self.waiting_bytes += frames.nbytes

    def _refinements(self, seg, a: int, lazy: bool = False):
        """The segment's decoded refinement frames (none when its chain is broken: boundary keyframes only);
        ``lazy``: checked now, decoded chunk by chunk as the segment is generated (bounded memory)."""
        if not seg.refinements:
            return []
        kf = self._keyframe(a)
        try:
            if kf is None:
                raise ValueError("start keyframe lost")
            if lazy:
                return self.seg_dec.iter_refinements(kf, seg)
            return self.seg_dec.decode_refinements(kf, seg)
        except ValueError as exc:
            log.warning("segment %d: refinement frames unusable: %s", seg.index, exc)
            return []

    def _chunks(self, seg, a: int, b: int, prev_tail):
        """The segment's frames as the generator makes them (chunks of at most ``max_chunk_frames``)."""
        return self.seg_dec.iter_segment(seg.start_frame, seg.end_frame, self.kf_frames[a], self.kf_frames[b],
                                         seg.caption, seg.motion_score, prev_tail, self._refinements(seg, a, lazy=True),
                                         segment_index=seg.index)

    def _generate(self, seg, a: int, b: int, prev_tail) -> np.ndarray | None:
        """The whole segment in one preallocated array (a segment that waits for an earlier one)."""
        v = self.header.video
        out = np.empty((seg.num_frames, v.height, v.width, 3), np.uint8)
        try:
            k = 0
            for chunk in self._chunks(seg, a, b, prev_tail):
                out[k:k + len(chunk)] = chunk
                k += len(chunk)
        except (ValueError, RuntimeError) as exc:
            log.warning("segment %d not generated: %s", seg.index, exc)
            self.stats["decode_errors"] += 1
            return None
        self.stats["segments_decoded"] += 1
        return out

    # ---------------------------------------------------------------- deadlines (long generator steps)
    def _deadline(self, seg) -> float:
        """Monotonic time by which ``seg`` must be out: its playout end (clock from the header) plus the budget."""
        t0 = self.t_header if self.t_header is not None else time.monotonic()
        return t0 + (seg.end_frame + 1) / self.header.video.fps + float(self.deadline_s)

    def _ready(self, j: int):
        """``(seg, a, b)`` when segment ``j``'s meta and both keyframes are decoded, else None."""
        seg = self._segment(j)
        if seg is None:
            return None
        kfi = list(self.header.keyframe_indices)
        try:
            a, b = kfi.index(seg.start_frame), kfi.index(seg.end_frame)
        except ValueError:
            return None
        return (seg, a, b) if a in self.kf_frames and b in self.kf_frames else None

    def _advance_deadline(self) -> None:
        """Deadline mode: the generator runs on its own thread, one segment at a time and in order, so the compute
        loop keeps taking PDUs however long a step takes. A segment still generating at its deadline is reported
        late (``segment_late`` event); its result is written when it comes, unless ``finish`` closed the output
        first, which conceals it."""
        from concurrent.futures import ThreadPoolExecutor

        if self.pending is not None:
            j, fut = self.pending
            seg = self._segment(j)
            late = time.monotonic() - self._deadline(seg)
            if late > 0 and j not in self.late:
                self.late[j] = late
                self.stats["segments_late"] += 1
                log.warning("segment %d missed its deadline (%.1f s late)", j, late)
                self.publish("segment_late", index=j, late_s=round(late, 3), **self._progress())
            if not fut.done():
                return
            self.pending = None
            frames = fut.result()  # None: the generator failed
            if frames is None:
                self.stats["decode_errors"] += 1
                return  # finish conceals it
            try:
                if not self._append(seg, _store_chunks(frames), generated=True):
                    return
            finally:
                frames.close()
            if j in self.late:
                self.late_used.append(j)
                self.stats["segments_late_used"] += 1
        if self.next_segment >= self.header.num_segments:
            return
        ready = self._ready(self.next_segment)
        if ready is None:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode-generate")
        seg, a, b = ready
        tail = None if self.prev_tail is None else self.prev_tail.copy()
        refs = self._refinements(seg, a)  # decoded here: the keyframe codecs are the compute thread's
        self.pending = (self.next_segment, self._executor.submit(self._generate_off_thread, seg, a, b, tail, refs))

    def _generate_off_thread(self, seg, a: int, b: int, prev_tail, refs) -> FrameStore | None:
        """The generation thread's job: the whole segment, spilled to a disk-backed :class:`FrameStore` as the
        generator yields its chunks (None when it failed). The segment is written only once it is complete
        and in time, so it must be kept somewhere until then; RAM would cost a whole segment (a 2-minute still
        shot is 1.6 GB at 576x320), the store costs one chunk."""
        v = self.header.video
        out = FrameStore(v.height, v.width)
        try:
            for chunk in self.seg_dec.iter_segment(seg.start_frame, seg.end_frame, self.kf_frames[a],
                                                   self.kf_frames[b], seg.caption, seg.motion_score, prev_tail,
                                                   refs, segment_index=seg.index):
                for f in chunk:
                    out.append(f)
        except (ValueError, RuntimeError) as exc:
            log.warning("segment %d not generated: %s", seg.index, exc)
            out.close()
            return None
        if len(out) != seg.num_frames:
            log.warning("segment %d not generated: the generator gave %d of its %d frames", seg.index, len(out),
                        seg.num_frames)
            out.close()
            return None
        return out

    def _settle_deadlines(self) -> None:
        """At finish (the output closes): use every segment whose generation ends by its deadline; the rest is
        concealed (classical interpolation from its keyframes, by the finish path)."""
        while not self.broken and self.header is not None and self.seg_dec is not None:
            if self.pending is None:
                if self.next_segment >= self.header.num_segments or self._ready(self.next_segment) is None:
                    return
                self._advance_deadline()  # submits the next segment
                continue
            j, fut = self.pending
            wait = self._deadline(self._segment(j)) - time.monotonic()
            try:
                fut.result(timeout=max(0.0, wait))
            except TimeoutError:
                self.pending = None  # abandoned: its late result is not used, the output is closing
                fut.add_done_callback(_close_result)
                self.late.setdefault(j, -wait)
                log.warning("segment %d not generated by its deadline: concealed", j)
                return
            self._advance_deadline()  # writes it
            if self.pending is None and (self.next_segment >= self.header.num_segments or self.broken):
                return

    def _finish_generator(self):
        """The generator for what finish still has to make: the profile's, or in deadline mode (where every
        remaining segment has missed its turn) the classical interpolation, which costs milliseconds."""
        if self.deadline_s is None:
            return self.backends.generator
        from lgvsc.backends.classical_generator import FlowInterpolationGenerator

        if self.header is not None:
            self.deadline_concealed = list(range(self.next_segment, self.header.num_segments))
            self.stats["segments_concealed_deadline"] = len(self.deadline_concealed)
        return FlowInterpolationGenerator()

    def _deadline_report(self) -> dict[str, Any] | None:
        if self.deadline_s is None:
            return None
        return {"segment_deadline_s": self.deadline_s, "late": sorted(self.late),
                "late_used": sorted(self.late_used), "concealed": self.deadline_concealed}

    def _open_writer(self):
        from lgvsc.video import VideoWriter

        if self.writer is None:
            v = self.header.video if self.header is not None else self.session
            if v.width % 2 or v.height % 2:
                raise UserError(f"video size {v.width}x{v.height} is odd; H.264 output needs even sizes")
            self.writer = VideoWriter(self.out_dir / VIDEO_NAME, v.fps_fraction, crf=self.crf)
        return self.writer

    def _tick(self) -> None:
        """A ``progress`` event now and then while frames are written (liveness and progress for the caller)."""
        now = time.monotonic()
        if now - self._last_tick >= PROGRESS_EVERY_S:
            self._last_tick = now
            self.publish("progress", **self._progress())

    def _append(self, seg, chunks, generated: bool = False) -> bool:
        """Write ``seg``'s frames (an iterable of chunks) after what is written; False if nothing was."""
        from lgvsc.decoder import keep_tail

        try:
            w = self._open_writer()
        except UserError as exc:
            log.warning("%s", exc)
            self.stats["decode_errors"] += 1
            return False
        first, written = self.next_segment != 0, 0  # the shared boundary frame is written once
        keep = self.seg_dec.tail_frames if self.seg_dec is not None else 1
        try:
            for chunk in chunks:
                out = chunk[1:] if first else chunk
                first = False
                for f in out:
                    w.write(f)
                written += len(out)
                self.prev_tail = keep_tail(self.prev_tail, out, keep) if len(out) else self.prev_tail
                self.frames_written = w.frames_written
                self._tick()
        except (ValueError, RuntimeError) as exc:
            log.warning("segment %d not generated: %s", seg.index, exc)
            self.stats["decode_errors"] += 1
            if written:  # half of it is in the video: finish conceals from here on
                self.broken = True
            return False
        if generated:
            self.stats["segments_decoded"] += 1
        self.last_caption = (seg.caption, float(seg.motion_score)) if seg.caption else self.last_caption
        self.next_segment += 1
        self.stats["segments_written"] += 1
        for oid in [o for o in self.kf_frames if o < self.next_segment]:  # behind the output: never needed again
            del self.kf_frames[oid]
        self.publish("segment", index=seg.index, **self._progress())
        return True

    # ---------------------------------------------------------------- finish
    def _tail_stream(self, stream):
        """The part of ``stream`` after the frames already written, re-based to frame 0 there."""
        p = self.frames_written - 1
        v = stream.video
        sub_video = dataclasses.replace(v, num_frames=v.num_frames - p)
        kfs = [dataclasses.replace(k, frame_index=k.frame_index - p) for k in stream.keyframes if k.frame_index >= p]
        segs = [dataclasses.replace(s, start_frame=s.start_frame - p, end_frame=s.end_frame - p)
                for s in stream.segments if s.start_frame >= p]
        if self.last_caption[0] and not any(s.start_frame == 0 for s in segs):
            # the first interval lost its meta: the full decoder would reuse the previous caption
            nxt = min((k.frame_index for k in kfs if k.frame_index > 0), default=sub_video.num_frames - 1)
            segs.insert(0, Segment(index=-1, start_frame=0, end_frame=nxt, caption=self.last_caption[0],
                                   motion_score=self.last_caption[1]))
        return dataclasses.replace(stream, video=sub_video, keyframes=kfs, segments=segs)

    def _finish(self) -> dict[str, Any]:
        """Write the video (atomically) and the report; the reply of ``finish``."""
        from lgvsc.decoder import SemanticDecoder, declare_keyframes
        from lgvsc.stream import SemanticStream

        t0 = time.monotonic()
        stream, missing = self.rx.snapshot(self.stream_id) if self.stream_id is not None else self.rx.snapshot()
        header_lost = False
        if stream is None and self.session is not None:
            # Every copy of the header was lost, but the caller knows the session out of band
            # (as an SDP does for RTP): still a full-length video, all of it concealed.
            stream, header_lost = SemanticStream(video=self.session, keyframes=[], segments=[]), True
            self.frames_written = 0
        elif stream is None or self.seg_dec is None:
            self._abort_writer()
            why = "no stream header received" if stream is None else "stream header refused by the decoder"
            return {"ok": False, "error": why, **self._progress()}
        if self.deadline_s is not None:
            self._settle_deadlines()
        decoder = SemanticDecoder(self._finish_generator())
        received = stream
        # Every keyframe the header declares is a boundary, received or not: one lost with both its
        # segment metas is still concealed at its place and counted against the header's total.
        stream = declare_keyframes(stream, missing.keyframe_indices)
        # The full plan, for the report of the whole video: every keyframe received was decoded on arrival, so
        # what is known is passed on and none is decoded again for it (report_first: any other is, now).
        known = self.kf_known if not header_lost else {}
        report, it = decoder.decode_iter(stream, known=known, report_first=True)
        v = stream.video
        try:
            if self.frames_written == v.num_frames:
                pass
            else:
                if self.frames_written:  # the rest after what was written as it arrived
                    p = self.frames_written - 1
                    del it  # the full plan's frames are not made
                    _, it = decoder.decode_iter(self._tail_stream(stream),
                                                known={fi - p: ok for fi, ok in known.items() if fi >= p})
                    next(it)  # the boundary frame already written
                w = self._open_writer()
                for f in it:  # frame by frame: memory bounded by one generator chunk
                    w.write(f)
                    self.frames_written = w.frames_written
                    self._tick()
            num_frames = self.writer.frames_written
            if num_frames != v.num_frames:
                raise RuntimeError(f"wrote {num_frames} frames, expected {v.num_frames}")
            self.writer.close()
            self.writer = None
        except (ValueError, RuntimeError, UserError, OSError) as exc:
            self._abort_writer()
            log.exception("finish failed")
            return {"ok": False, "error": f"decoding failed: {exc}", **self._progress()}
        video = self.out_dir / VIDEO_NAME
        report_path = self.out_dir / REPORT_NAME
        doc = {
            "video": str(video),
            "num_frames": num_frames,
            "decode": report.to_dict(),
            "header_lost": header_lost,
            "missing": missing.to_dict(),
            "counters": {**self.stats, "malformed_messages": self.counters.get("malformed")},
            "timing": {"first_pdu_to_header_s": None if self.t_header is None or self.t_first is None
                       else round(self.t_header - self.t_first, 3), "finish_s": round(time.monotonic() - t0, 3)},
            "stream": received.to_dict(include_data=False),
        }
        if self.deadline_s is not None:
            doc["deadline"] = self._deadline_report()
        fd, tmp = tempfile.mkstemp(prefix=".decode_report.", suffix=".json", dir=self.out_dir)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        os.replace(tmp, report_path)
        return {"ok": True, "video": str(video), "report": str(report_path), "num_frames": num_frames,
                "concealed": report.concealed, "summary": report.summary(),
                "missing_keyframes": list(missing.missing_keyframes),
                "missing_segments": list(missing.missing_segments), "deadline": self._deadline_report(),
                **self._progress()}

    # ---------------------------------------------------------------- control
    def handle_control(self, msg: dict[str, Any]) -> dict[str, Any]:
        op = msg.get("op")
        if op == "finish":
            timeout = msg.get("timeout", 0)
            if not isinstance(timeout, (int, float)) or not 0 <= timeout <= 3600:
                return {"ok": False, "error": f"timeout must be 0..3600 s, got {timeout!r}"}
            session = msg.get("session")
            if session is not None:
                err = self._take_session(session)
                if err:
                    return {"ok": False, "error": err}
            if self.result is None:
                deadline = time.monotonic() + float(timeout)
                while not self.end_received and time.monotonic() < deadline:
                    self._consume(min(0.05, max(0.0, deadline - time.monotonic())))
                while self._consume(0):  # whatever is queued already
                    pass
                self.result = self._finish()
                self.result["finished"] = True
                self.publish("finished", **self.result)
                if self.exit_on_finish:
                    self.shutdown.set()
            return self.result
        if op == "session":
            err = self._take_session(msg.get("session"))
            return {"ok": False, "error": err} if err else {"ok": True, "stream_id": self.stream_id}
        if op == "reset":
            self._abort_writer()
            self._reset_state()
            self.publish("reset")
            return {"ok": True}
        return super().handle_control(msg)

    def _take_session(self, session: Any) -> str | None:
        """Adopt a session description (geometry, and optionally the stream id to lock onto); error text or None."""
        try:
            info = _session_info(session)
            sid = session.get("stream_id")
            if sid is not None and (type(sid) is not int or not 0 <= sid <= 0xFFFF):
                raise ValueError(f"stream_id must be 0..65535, got {sid!r}")
        except (TypeError, ValueError, AttributeError) as exc:
            return f"bad session description: {exc}"
        if sid is not None and self.stream_id is not None and sid != self.stream_id:
            return f"bad session description: already decoding stream {self.stream_id}, not {sid}"
        self.session = info
        if sid is not None and self.stream_id is None:
            self._lock_stream(sid)
            st = self.rx._streams.get(sid)  # noqa: SLF001 - its header may be in already
            if st is not None and st.header is not None and self.header is None:
                self._on_header(st.header)
                self._advance()
        return None

    def _progress(self) -> dict[str, Any]:
        v = self.header.video if self.header is not None else self.session
        return {**self.stats, "stream_id": self.stream_id, "header_received": self.header is not None,
                "end_received": self.end_received, "frames_written": self.frames_written,
                "num_frames": v.num_frames if v else None,
                "num_segments": self.header.num_segments if self.header is not None else None,
                "backlog": self.inbox.qsize(),
                "keyframes_held": len(self.kf_frames.held), "finished": self.result is not None}

    def status(self) -> dict[str, Any]:
        return {**super().status(), **self._progress()}

    def finish(self) -> None:
        self._abort_writer()  # shutting down without a finish: leave no half-written video
        if self._executor is not None:  # a generation still running is not waited for
            self._executor.shutdown(wait=False, cancel_futures=True)


MAX_SESSION_FRAMES = 24 * 3600 * 2
MAX_SESSION_SIDE = 8192


def _session_info(d: Any) -> VideoInfo:
    """A bounded :class:`VideoInfo` from a control message (untrusted)."""
    if not isinstance(d, dict):
        raise TypeError("expected a map")
    vals = {k: d.get(k) for k in ("width", "height", "fps_num", "fps_den", "num_frames")}
    for k, v in vals.items():
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{k} must be a positive integer, got {v!r}")
    if vals["width"] > MAX_SESSION_SIDE or vals["height"] > MAX_SESSION_SIDE or vals["width"] % 2 or vals["height"] % 2:
        raise ValueError(f"width/height must be even and at most {MAX_SESSION_SIDE}")
    if vals["num_frames"] > MAX_SESSION_FRAMES:
        raise ValueError(f"num_frames must be at most {MAX_SESSION_FRAMES}")
    return VideoInfo(**vals, name=str(d.get("name", ""))[:200])
