# SPDX-License-Identifier: GPL-3.0-or-later
"""Semantic encoder: video -> :class:`~lgvsc.stream.SemanticStream`.

Keyframes are chosen by SKEM (or SKIM), coded with the keyframe codec under a
byte budget, and every segment between two keyframes gets a caption and a
motion score.

**Byte budget.** By default (``keyframe_bytes=None``) the whole binary stream
follows a target CBR: the paper's full-system figure 6e-4 with QPSK rate 1/2
(one information bit per channel symbol), i.e. a stream of at most
``target_cbr * 3*W*H*F / 8`` bytes (about 4 kB for 4 s, 10 kB for 10 s at
576x320). The encoder fills it to within :data:`BUDGET_TOLERANCE` (3 %) and
never exceeds it, and logs a warning when it cannot spend the budget. When
even the smallest stream does not fit it raises ``ValueError`` with
``strict_budget=True``; otherwise it warns loudly and codes every keyframe in
:data:`MIN_KEYFRAME_BYTES` (short test clips). A fixed ``keyframe_bytes`` (per
keyframe, no refinements) overrides the budget.

**AV1 keyframes and refinement frames** (the default keyframe codec; beyond the
paper, docs/keyframe-channel.md). With ``refine="auto"`` the encoder may add
refinement frames strictly inside SKEM's segments, where its own simulated
decode (the classical flow interpolation through the anchors, at a small
analysis size) is worst, in that greedy order. Each segment is then one AV1
sub-stream: its start keyframe intra (the keyframe object's bytes) and its
refinements inter-predicted after it. How many refinements, the coded size and
the quantiser are chosen together by measurement: for each candidate the
stream is really encoded, sized and decoded, and the candidate with the lowest
estimated luma error (interpolation error of the anchors + coding error of the
anchors) that fits the budget wins. ``refine="none"`` is the paper's stream:
SKEM keyframes only.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from lgvsc.backends.base import Focus
from lgvsc.profiles import Backends
from lgvsc.skem import DEFAULT_THRESHOLD, KeyframeSelection, skem, skim
from lgvsc.stream import REFINEMENT_CODEC, Keyframe, Refinement, Segment, SemanticStream
from lgvsc.video import VideoClip
from lgvsc.wire import MOTION_STEP, quantise_motion, stream_to_bytes

__all__ = [
    "DEFAULT_TARGET_CBR",
    "BUDGET_TOLERANCE",
    "MIN_KEYFRAME_BYTES",
    "BudgetError",
    "REFINE_MODES",
    "EncoderConfig",
    "EncodeStats",
    "SemanticEncoder",
    "StreamingEncode",
    "limit_native_heap",
    "payload_bytes_for_cbr",
]

log = logging.getLogger(__name__)

DEFAULT_TARGET_CBR = 6e-4
#: Per-keyframe bytes when the budget cannot hold the stream and ``strict_budget`` is off.
MIN_KEYFRAME_BYTES = 400
#: The stream size lands in [(1 - tolerance) * budget, budget].
BUDGET_TOLERANCE = 0.03
#: ``auto``: refinement frames where they buy quality (AV1 keyframes); ``none``: the paper's keyframes only.
REFINE_MODES = ("auto", "none")
ANALYSIS_WIDTH = 144  # simulated decode for placing refinements
SIMULATION_STEP = 4  # the final choice simulates the decode on every fourth frame
SIMULATION_CHUNK = 32  # simulated frames made at once (their flows are computed again per chunk)
FINALISTS = 3  # coded sizes whose best quick estimate goes to the simulated decode
FINAL_PRESET = 6  # SVT-AV1 preset of the stream sent (the search uses the codec's faster one)


def limit_native_heap(mmap_threshold: int = 1 << 20, arenas: int = 2) -> bool:
    """Keep glibc's heap from growing with the run's length (call once, early; issue 17).

    Measured (``lgvsc encode``, mandelbrot 576x320@24): the Python objects of the encoder are bounded,
    yet peak RSS still grew 20 s -> 180 s by 11-17 % (273-288 -> 321 MB). That was the C heap: glibc's
    mmap threshold rises to 32 MB as large blocks are freed, after which the codecs' and OpenCV's frame
    buffers come from arenas (one per thread, up to 8 per core) and fragment. A fixed threshold (blocks
    >= 1 MiB mapped and unmapped each time) and two arenas: 241 -> 255 MB (+6 %), the same stream, no
    slower beyond the noise of a loaded machine (297 vs 275 s for 180 s).
    Returns whether it took effect (not glibc: nothing to do)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_mmap_threshold, m_arena_max = -3, -8  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, int(mmap_threshold))) and bool(mallopt(m_arena_max, int(arenas)))


def payload_bytes_for_cbr(cbr: float, width: int, height: int, num_frames: int, modulation: str = "qpsk",
                          code_rate: float = 0.5) -> int:
    """Payload bytes whose paper CBR (channel symbols / (3·H·W·F)) is at most ``cbr``."""
    from lgvsc.accounting import payload_bits_for_cbr

    return payload_bits_for_cbr(cbr, width, height, num_frames, modulation, code_rate) // 8


@dataclass
class EncoderConfig:
    """How to encode (see :class:`SemanticEncoder`)."""

    method: str = "skem"  # "skem" or "skim"
    threshold: float = DEFAULT_THRESHOLD
    focus: Focus = Focus.GENERAL
    keyframe_bytes: int | None = None  # None: from target_cbr
    target_cbr: float = DEFAULT_TARGET_CBR
    skim_count: int | None = None  # SKIM keyframes; None: as many as SKEM would choose
    caption_frames: int = 3
    batch_size: int = 16
    stream_id: int = 0
    refine: str = "auto"
    strict_budget: bool = False  # True: a budget too small for the stream raises BudgetError
    #: Measured captions in their compact form (a few bytes): ``None`` = when the profile's generator ignores
    #: captions (classical); the hf profile and user captions keep their text.
    compact_captions: bool | None = None

    def __post_init__(self) -> None:
        if self.refine not in REFINE_MODES:
            raise ValueError(f"refine must be one of {REFINE_MODES}, got {self.refine!r}")
        self.focus = Focus(self.focus)
        if self.method not in ("skem", "skim"):
            raise ValueError(f"method must be 'skem' or 'skim', got {self.method!r}")
        if self.keyframe_bytes is not None and self.keyframe_bytes < 64:
            raise ValueError(f"keyframe_bytes must be >= 64, got {self.keyframe_bytes}")
        if not self.target_cbr > 0:
            raise ValueError(f"target_cbr must be positive, got {self.target_cbr}")
        if self.skim_count is not None and self.skim_count < 2:
            raise ValueError(f"skim_count must be >= 2, got {self.skim_count}")
        if self.caption_frames < 1:
            raise ValueError(f"caption_frames must be >= 1, got {self.caption_frames}")


class BudgetError(ValueError):
    """The byte budget cannot hold even the smallest stream."""


@dataclass
class EncodeStats:
    """What the last :meth:`SemanticEncoder.encode` chose and measured."""

    budget_bytes: int = 0  # 0: fixed per-keyframe budget
    stream_bytes: int = 0
    coded_size: tuple[int, int] = (0, 0)
    qp: list[int] = field(default_factory=list)  # AV1: per unit (segment sub-streams, then the last keyframe)
    refinements: int = 0
    estimated_psnr_y: float = 0.0  # the encoder's own estimates of its decode (AV1 search)
    estimated_ssim_y: float = 0.0
    candidates: int = 0  # configurations encoded and measured


class SemanticEncoder:
    """Turn a normalised :class:`~lgvsc.video.VideoClip` into a :class:`~lgvsc.stream.SemanticStream`.

    >>> from lgvsc.profiles import build_backends
    >>> from lgvsc.samples import drawn_scene
    >>> from lgvsc.video import VideoClip
    >>> d = drawn_scene(num_frames=48, cuts=(24,))
    >>> s = SemanticEncoder(build_backends()).encode(VideoClip(d.frames, d.fps))
    >>> s.keyframe_indices(), len(s.segments)
    ([0, 24, 47], 2)
    """

    def __init__(self, backends: Backends, config: EncoderConfig | None = None) -> None:
        self.backends = backends
        self.config = config or EncoderConfig()
        self.stats = EncodeStats()

    def select(self, clip: VideoClip, progress: Callable[[int], None] | None = None) -> KeyframeSelection:
        """Choose the keyframes (SKEM, or SKIM with ``skim_count`` or SKEM's count)."""
        c = self.config
        if c.method == "skem" or c.skim_count is None:
            sel = skem(clip.frames, self.backends.judge, float(clip.fps), c.threshold, c.focus, c.batch_size, progress)
            if c.method == "skem":
                return sel
            count = len(sel.indices)
        else:
            count = c.skim_count
        out = skim(clip.num_frames, count)
        out.focus, out.threshold = c.focus, c.threshold
        return out

    def _segments(self, clip: VideoClip, sel: KeyframeSelection) -> list[Segment]:
        return [self._segment(clip.frames, i, a, b, float(clip.fps)) for i, (a, b) in enumerate(sel.segments)]

    def _compact(self) -> bool:
        from lgvsc.backends.classical_captioner import FeatureCaptioner

        compact = self.config.compact_captions
        if compact is None:
            compact = getattr(self.backends, "profile", "classical") == "classical"
        return bool(compact and isinstance(self.backends.captioner, FeatureCaptioner))

    def _segment(self, frames, i: int, a: int, b: int, fps: float) -> Segment:
        """Segment ``i`` (frames ``a..b``): its caption from ``caption_frames`` frames of it and its motion
        score from the motion estimator's sample of it (frames are read by index: a bounded sample)."""
        from lgvsc.backends.classical_captioner import compact_caption

        picks = np.unique(np.linspace(a, b, self.config.caption_frames).round().astype(int))
        caption = self.backends.captioner.caption_segment([frames[k] for k in picks], index=i, start_s=a / fps,
                                                          end_s=(b + 1) / fps)
        if self._compact():
            caption = compact_caption(caption)
        mag = float(self.backends.motion.magnitude(frames[a : b + 1]))
        # the score travels as one byte (lgvsc.wire.quantise_motion); the magnitude is not sent
        score = quantise_motion(float(self.backends.motion.score(mag))) * MOTION_STEP
        return Segment(index=i, start_frame=a, end_frame=b, caption=caption, motion_score=score)

    def stream_budget(self, video) -> int:
        """Bytes of the whole binary stream at the target CBR."""
        return payload_bytes_for_cbr(self.config.target_cbr, video.width, video.height, video.num_frames)

    def encode(self, clip: VideoClip, progress: bool = False) -> SemanticStream:
        """Encode ``clip``; ``progress`` shows tqdm bars on stderr. :attr:`stats` says what was chosen.

        :raises ValueError: the byte budget cannot hold even the smallest stream.
        """
        from tqdm import tqdm

        step_total = max(0, (clip.num_frames - 2) // max(1, int(0.2 * float(clip.fps))))
        with tqdm(total=step_total, desc="keyframes", unit="cand", disable=not progress, leave=False) as bar:
            sel = self.select(clip, bar.update)
        return self._code(clip, sel, self._segments(clip, sel), progress)

    def encode_frames(self, frames: Iterable[np.ndarray], fps: float | Fraction, name: str = "",
                      progress: bool = False, on_segment: Callable[[Segment, int], None] | None = None,
                      directory: str | os.PathLike | None = None) -> SemanticStream:
        """Encode frames as they come (a decoder's iterator, live input): the same stream as :meth:`encode`
        of the whole clip, with memory bounded by a window, not by the length (see :class:`StreamingEncode`).

        :param on_segment: called with each segment as SKEM closes it, and the frames read so far
        :raises VideoError: no frames.
        :raises ValueError: the byte budget cannot hold even the smallest stream.
        """
        from tqdm import tqdm

        run = StreamingEncode(self, fps, name, directory)
        try:
            with tqdm(desc="frames", unit="frame", disable=not progress, leave=False) as bar:
                for f in frames:
                    for seg in run.push(f):
                        if on_segment is not None:
                            on_segment(seg, run.num_frames)
                    bar.update()
            for seg in run.finish():
                if on_segment is not None:
                    on_segment(seg, run.num_frames)
            return run.stream(progress)
        finally:
            run.close()

    def _code(self, clip: VideoClip, sel: KeyframeSelection, segs: list[Segment], progress: bool) -> SemanticStream:
        """Code the keyframes of ``sel`` (and the refinements) under the budget; the whole stream."""
        from tqdm import tqdm

        c = self.config
        log.info("%s chose %d keyframes: %s", sel.method, len(sel.indices), sel.indices)
        codec = self.backends.keyframe_codec
        stream = SemanticStream(video=clip.info(), keyframes=[
            Keyframe(frame_index=i, codec_id=codec.codec_id, data=b"") for i in sel.indices
        ], segments=segs, stream_id=c.stream_id, method=sel.method, focus=c.focus.value, threshold=c.threshold,
            profile=getattr(self.backends, "profile", "classical"))
        self.stats = EncodeStats()
        if c.keyframe_bytes is not None:
            kfs = []
            for i in tqdm(sel.indices, desc="keyframe coding", unit="kf", disable=not progress, leave=False):
                data = codec.encode(clip.frames[i], int(c.keyframe_bytes))
                kfs.append(self._keyframe(codec, i, data))
            stream.keyframes = kfs
        else:
            try:
                if codec.codec_id == REFINEMENT_CODEC:
                    _Av1Planner(self, clip, stream, codec).run()
                else:
                    self._fill_per_keyframe(clip, stream, codec)
            except BudgetError as exc:
                if c.strict_budget:
                    raise
                log.warning("BUDGET EXCEEDED: %s. Coding every keyframe in %d B instead.", exc, MIN_KEYFRAME_BYTES)
                for seg in stream.segments:
                    seg.refinements = []
                stream.keyframes = [self._keyframe(codec, k.frame_index, codec.encode(clip.frames[k.frame_index],
                                                                                      MIN_KEYFRAME_BYTES))
                                    for k in stream.keyframes]
        stream.validate()
        self.stats.stream_bytes = len(stream_to_bytes(stream))
        if c.keyframe_bytes is None and self.stats.stream_bytes <= self.stats.budget_bytes:
            self._check_budget(self.stats.stream_bytes, self.stats.budget_bytes)
        return stream

    @staticmethod
    def _keyframe(codec, i: int, data: bytes) -> Keyframe:
        w, h = codec.coded_size(data) if hasattr(codec, "coded_size") else (0, 0)
        return Keyframe(frame_index=i, codec_id=codec.codec_id, data=data, coded_width=w, coded_height=h)

    @staticmethod
    def _check_budget(size: int, budget: int) -> None:
        if size > budget:  # never expected: every path checks the real size
            raise RuntimeError(f"stream of {size} B exceeds its budget of {budget} B")
        if size < (1 - BUDGET_TOLERANCE) * budget:
            log.warning("BUDGET NOT SPENT: the stream is %d B of a %d B budget (%.1f %%): even at the best "
                        "quality the keyframe codec could not use more; lower --target-cbr to save channel time",
                        size, budget, 100.0 * size / budget)

    def _overhead(self, stream: SemanticStream) -> int:
        return len(stream_to_bytes(stream))

    def _fill_per_keyframe(self, clip: VideoClip, stream: SemanticStream, codec) -> None:
        """Still-image codecs (WebP, JPEG): share the budget, then hand what is left to the keyframes in turn."""
        budget = self.stream_budget(stream.video)
        self.stats.budget_bytes = budget
        n = len(stream.keyframes)
        overhead = self._overhead(stream)
        avail = budget - overhead - 3 * n  # msgpack bin headers of the keyframe data
        if avail < 64 * n:
            raise BudgetError(_too_small(budget, overhead, n))
        kis = [k.frame_index for k in stream.keyframes]
        frame = lambda j: clip.frames[kis[j]]  # noqa: E731 - read when coded (they were all held: 553 kB each)
        datas = [codec.encode(frame(j), avail // n) for j in range(n)]
        for _ in range(3):  # spend what the others left, keyframe by keyframe
            for j in range(n):
                spare = avail - sum(map(len, datas))
                if spare <= 0.01 * avail:
                    break
                datas[j] = codec.encode(frame(j), len(datas[j]) + spare)
        stream.keyframes = [self._keyframe(codec, k.frame_index, d) for k, d in zip(stream.keyframes, datas,
                                                                                     strict=True)]
        while len(stream_to_bytes(stream)) > budget:  # the estimate of the headers was short (never seen)
            j = max(range(n), key=lambda j: len(stream.keyframes[j].data))
            d = codec.encode(frame(j), len(stream.keyframes[j].data) - 16)
            stream.keyframes[j] = self._keyframe(codec, stream.keyframes[j].frame_index, d)


class StreamingEncode:
    """One encode of frames that come one at a time: :meth:`push` each, then :meth:`finish`, then
    :meth:`stream` (what :meth:`SemanticEncoder.encode_frames` does).

    Each frame is written to a disk-backed :class:`~lgvsc.framestore.FrameStore` (one frame in RAM) and
    given to :class:`~lgvsc.skem.SkemStream`, which holds the last keyframe's description and the
    candidates not yet judged. When SKEM closes a segment (a new keyframe), its caption and motion are
    computed at once from a bounded sample of it (``caption_frames`` frames, the motion estimator's pairs)
    read back from the store, and :meth:`push` returns it: segments come out as the video goes by.

    The keyframe coding comes at the end (:meth:`stream`): the byte budget is the whole stream's (the
    target CBR times the clip's length) and the AV1 search spreads it over every unit, so it needs the
    length; it reads its frames back from the store. The stream is the batch encoder's, byte for byte
    (tests/test_encoder_streaming.py). SKIM needs the length to place its keyframes: its segments all come
    at :meth:`finish`.
    """

    def __init__(self, encoder: SemanticEncoder, fps: float | Fraction, name: str = "",
                 directory: str | os.PathLike | None = None) -> None:
        from lgvsc.skem import SkemStream

        self.encoder, self.name, self.directory = encoder, name, directory
        self.fps = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        c = encoder.config
        self.skem = SkemStream(encoder.backends.judge, float(self.fps), c.threshold, c.focus, c.batch_size)
        self.store = None
        self.segments: list[Segment] = []
        self.selection: KeyframeSelection | None = None
        self._emit = c.method == "skem"  # SKIM places its keyframes only once the length is known
        self._run_skem = c.method == "skem" or c.skim_count is None  # SKIM takes SKEM's count by default
        self._last_kf = 0
        self.num_frames = 0

    def push(self, frame: np.ndarray) -> list[Segment]:
        """Take the next frame (``(H, W, 3)`` uint8, all of one size); the segments it closed."""
        from lgvsc.framestore import FrameStore

        if self.selection is not None:
            raise RuntimeError("push after finish")
        if self.store is None:
            self.store = FrameStore(frame.shape[0], frame.shape[1], self.directory)
        self.store.append(frame)
        self.num_frames += 1
        if not self._run_skem:
            return []
        new = self.skem.push(frame if self.skem.needs(self.num_frames - 1) else None)
        return [self._close(k) for k in new] if self._emit else []

    def _close(self, b: int) -> Segment:
        seg = self.encoder._segment(self.store, len(self.segments), self._last_kf, b, float(self.fps))
        self.segments.append(seg)
        self._last_kf = b
        return seg

    def finish(self) -> list[Segment]:
        """The end of the video: the last segments (all of them for SKIM)."""
        if self.num_frames == 0:
            from lgvsc.errors import VideoError

            raise VideoError(f"{self.name or 'the video'}: the video stream has no decodable frames")
        c = self.encoder.config
        sel = self.skem.finish() if self._run_skem else None
        if c.method == "skim":
            sel = skim(self.num_frames, c.skim_count if sel is None else len(sel.indices))
            sel.focus, sel.threshold = c.focus, c.threshold
            self._last_kf = 0
            self.selection = sel
            return [self._close(b) for b in sel.indices[1:]]
        self.selection = sel
        return [self._close(b) for b in sel.indices[len(self.segments) + 1:]]

    def clip(self) -> VideoClip:
        """The frames so far as a clip (read from the store)."""
        return VideoClip(frames=self.store, fps=self.fps, name=self.name)  # type: ignore[arg-type]

    def stream(self, progress: bool = False) -> SemanticStream:
        """Code the keyframes under the budget (after :meth:`finish`): the whole stream."""
        if self.selection is None:
            raise RuntimeError("stream before finish")
        return self.encoder._code(self.clip(), self.selection, self.segments, progress)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _too_small(budget: int, overhead: int, n: int, smallest: int = 0) -> str:
    extra = f" and the smallest keyframes {smallest} B" if smallest else ""
    return (f"the byte budget of {budget} B cannot hold this stream: header, captions and motion take {overhead} B"
            f"{extra} for {n} keyframes; raise --target-cbr, or use fewer keyframes (--threshold, SKIM)")


#: Frames the AV1 search keeps decoded (resized anchors, source luma); a miss costs a read and a resize.
CACHED_FRAMES = 64
#: Bytes of coded units the AV1 search keeps (a miss re-encodes the unit: SVT-AV1 with one thread gives the
#: same bytes); their sizes and errors are kept for every candidate. It held every unit of every candidate,
#: 7.6 MB for a 60 s clip, growing with the length (issue 17).
CACHED_UNIT_BYTES = 4 << 20


class _LRU:
    """The ``maxsize`` most recently used values; thread-safe (the search encodes on a pool)."""

    def __init__(self, maxsize: int, cost: Callable[[object], int] | None = None) -> None:
        self.maxsize = maxsize
        self.cost = cost or (lambda _v: 1)  # the weight of a value against ``maxsize`` (default: one each)
        self._d: OrderedDict = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get(self, key, make: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached value of ``key``, or ``make()`` (kept)."""
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        value = make()
        with self._lock:
            if key not in self._d:  # another thread may have made it meanwhile
                self._d[key] = value
                self._total += self.cost(value)
            while self._total > self.maxsize and len(self._d) > 1:
                self._total -= self.cost(self._d.popitem(last=False)[1])
        return value


class _Av1Planner:
    """The AV1 search of :meth:`SemanticEncoder.encode` (see the module docstring)."""

    def __init__(self, enc: SemanticEncoder, clip: VideoClip, stream: SemanticStream, codec) -> None:
        self.enc, self.clip, self.stream, self.codec = enc, clip, stream, codec
        self.kfi = stream.keyframe_indices()
        self.n = clip.num_frames
        # coded units bounded in bytes; the search needs only their sizes and errors, kept for each candidate
        self._units: _LRU = _LRU(CACHED_UNIT_BYTES, cost=lambda us: sum(len(u) + 64 for u in us))
        self._sizes: dict[tuple, int] = {}
        self._mse: dict[tuple, list[float]] = {}
        # frame caches bounded (least recently used out): they held every anchor tried, growing with the video
        self._frames: _LRU = _LRU(CACHED_FRAMES)
        self._src_luma: _LRU = _LRU(CACHED_FRAMES)
        self._executor = None
        self.preset = None  # the codec's (fast) preset for the search; FINAL_PRESET for the stream sent

    # -- the simulated decode that places refinements ------------------------------------------------
    def refinement_order(self, max_refs: int) -> tuple[list[int], list[float]]:
        """Greedy: add the frame where the simulated decode is worst, ``max_refs`` times at most.

        Returns the frames in the order added and the mean luma MSE of the simulated decode after
        0, 1, ... additions (at :data:`ANALYSIS_WIDTH`)."""
        import cv2

        from lgvsc.backends.av1_keyframe import luma
        from lgvsc.backends.classical_generator import FlowInterpolationGenerator

        v = self.stream.video
        aw = ANALYSIS_WIDTH
        ah = max(8, 2 * round(v.height * aw / v.width / 2))
        from lgvsc.framestore import FrameStore

        # on disk, luma on demand: memory bounded by a segment, not by the video's length (issue 17)
        small = FrameStore.from_frames(cv2.resize(f, (aw, ah), interpolation=cv2.INTER_AREA)
                                       for f in self.clip.frames)
        gen = FlowInterpolationGenerator()
        fps = float(self.clip.fps)
        err = np.zeros(self.n)  # luma MSE of the simulated decode

        def span(a: int, b: int) -> None:
            # the span's frames one at a time (the same values as _span's array, which held a whole segment:
            # 500 MB at 144 px for a 10-minute still shot)
            for k, f in enumerate(gen._span_frames(small[a], small[b], b - a + 1, fps)):
                if 0 < k < b - a:
                    err[a + k] = float(np.mean((luma(f) - luma(small[a + k])) ** 2))
            err[a] = err[b] = 0.0

        for a, b in zip(self.kfi, self.kfi[1:], strict=False):
            span(a, b)
        anchors = list(self.kfi)
        order, curve = [], [float(err.mean())]
        for _ in range(max_refs):
            j = int(np.argmax(err))
            if err[j] <= 0.5:  # nothing left worth a frame
                break
            k = int(np.searchsorted(anchors, j))
            a, b = anchors[k - 1], anchors[k]
            anchors.insert(k, j)
            span(a, j)
            span(j, b)
            order.append(j)
            curve.append(float(err.mean()))
        return order, curve

    # -- coding ------------------------------------------------------------------------------------
    def groups(self, refs: list[int]) -> list[list[int]]:
        """Anchor frames of each unit: every segment's start keyframe and its refinements; the last keyframe."""
        rs = sorted(refs)
        out = [[a, *[r for r in rs if a < r < b]] for a, b in zip(self.kfi, self.kfi[1:], strict=False)]
        return [*out, [self.kfi[-1]]]

    def _small(self, k: int, size: tuple[int, int]) -> np.ndarray:
        import cv2

        def make() -> np.ndarray:
            f = self.clip.frames[k]
            return f if f.shape[1::-1] == size else cv2.resize(f, size, interpolation=cv2.INTER_AREA)

        return self._frames.get((k, size), make)

    def _key(self, group: list[int], size: tuple[int, int], qp: int) -> tuple:
        # A group is its segment's start and how many refinements it holds: the refinements are always a
        # prefix of one fixed order (groups(order[:n])), so (start, count) names it exactly, in a few bytes
        # (the whole tuple of frame indices was kept per candidate, growing with the length).
        return (group[0], len(group), size, qp, self.preset)

    def units(self, group: list[int], size: tuple[int, int], qp: int) -> list[bytes]:
        key = self._key(group, size, qp)

        def make() -> list[bytes]:
            frames = _LazyFrames(group, lambda k: self._small(k, size))  # one resized frame at a time
            us = self.codec.encode_sequence(frames, size[0], size[1], qp, preset=self.preset)
            self._sizes[key] = sum(len(u) for u in us)
            return us

        return self._units.get(key, make)

    def prefetch(self, groups, size, qps) -> None:
        """Encode the units not yet cached in parallel (SVT-AV1 keeps a core busy only on big frames)."""
        todo = [(g, q) for g, q in zip(groups, qps, strict=True) if self._key(g, size, q) not in self._sizes]
        if len(todo) > 1:
            list(self._pool().map(lambda gq: self.units(gq[0], size, gq[1]), todo))

    def _pool(self):
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2)))
        return self._executor

    def unit_errors(self, group: list[int], size: tuple[int, int], qp: int) -> list[float]:
        """Luma MSE of each decoded anchor of a unit against the source, at the video size."""
        from lgvsc.backends.av1_keyframe import luma

        key = self._key(group, size, qp)
        if key not in self._mse:
            v = self.stream.video
            dec = _iter_decode(self.codec, self.units(group, size, qp), v.width, v.height)
            out = []
            for d, k in zip(dec, group, strict=True):
                src = self._src_luma.get(k, lambda k=k: luma(self.clip.frames[k]))
                out.append(float(np.mean((luma(d) - src) ** 2)))
            self._mse[key] = out
        return self._mse[key]

    def unit_bytes(self, group: list[int], size, qp: int) -> int:
        # data plus msgpack framing: bin header (2-3 B) and, for refinements, [frame_index, data] (~4 B)
        key = self._key(group, size, qp)
        if key not in self._sizes:
            self.units(group, size, qp)
        return self._sizes[key] + 3 + 6 * (len(group) - 1)

    def total(self, groups, size, qps) -> int:
        self.prefetch(groups, size, qps)
        return sum(self.unit_bytes(g, size, q) for g, q in zip(groups, qps, strict=True))

    def fit_global_qp(self, groups, size, avail: int, hint: int | None) -> int | None:
        """Lowest single qp for every unit whose stream fits ``avail`` (``None`` if not even qp 63).

        Starts from ``hint`` corrected by the usual AV1 rate slope (about 6 % fewer bytes per qp step),
        then walks one step at a time to the boundary: two or three encodes instead of a bisection."""
        from lgvsc.backends.av1_keyframe import QP_MAX, QP_MIN

        size_at = lambda q: self.total(groups, size, [q] * len(groups))  # noqa: E731
        q = min(QP_MAX, max(QP_MIN, hint if hint is not None else 50))
        b = size_at(q)
        q = min(QP_MAX, max(QP_MIN, q + math.ceil(math.log(b / avail) / 0.06)))
        if size_at(q) <= avail:
            while q > QP_MIN and size_at(q - 1) <= avail:
                q -= 1
            return q
        while q < QP_MAX:
            q += 1
            if size_at(q) <= avail:
                return q
        return None

    def distortion(self, groups, size, qps, curve_value: float) -> float:
        """Quick estimate of the decode's mean luma MSE: the simulated interpolation's (uncoded anchors, analysis
        size) + the measured coding error of the anchors, each weighted by the frames it stands for."""
        anchors, errs = [], []
        for g, q in zip(groups, qps, strict=True):
            anchors += g
            errs += self.unit_errors(g, size, q)
        order = np.argsort(anchors)
        a = np.asarray(anchors)[order]
        e = np.asarray(errs)[order]
        mid = np.concatenate([[0.0], (a[1:] + a[:-1]) / 2.0, [self.n]])
        weights = np.diff(mid) / self.n
        return float(curve_value + np.sum(weights * e))

    def simulate(self, groups, size, qps, step: int = SIMULATION_STEP) -> tuple[float, float]:
        """``(mean SSIM-Y, luma MSE)`` of the real decode (coded anchors, the classical generator at the video
        size) on every ``step``-th frame: what the final choice among the quick estimate's best is made by."""
        from lgvsc.backends.av1_keyframe import luma, luma_ssim
        from lgvsc.backends.classical_generator import FlowInterpolationGenerator

        v = self.stream.video
        gen, fps = FlowInterpolationGenerator(), float(self.clip.fps)
        # One unit at a time (memory bounded by a segment, not by the video, issue 17); the scores are
        # kept in the order of the whole-video form (anchors first, then the spans), so the means are identical.
        scores: tuple[list[float], list[float], list[float], list[float]] = ([], [], [], [])

        def score(k: int, f: np.ndarray, ms: list[float], ss: list[float]) -> None:
            src = self._src_luma.get(k, lambda k=k: luma(self.clip.frames[k]))
            y = luma(f)
            ms.append(float(np.mean((y - src) ** 2)))
            ss.append(luma_ssim(y, src))

        prev: tuple[int, np.ndarray] | None = None
        for g, q in sorted(zip(groups, qps, strict=True), key=lambda gq: gq[0][0]):
            # one decoded anchor at a time (a unit may hold hundreds of refinements): the previous anchor and
            # this one make each span
            for b, fb in zip(g, _iter_decode(self.codec, self.units(g, size, q), v.width, v.height), strict=True):
                if b % step == 0:
                    score(b, fb, scores[0], scores[1])
                if prev is not None:
                    a, fa = prev
                    offs = [k - a for k in range(a + 1, b) if k % step == 0]
                    # SIMULATION_CHUNK frames at a time (the same values): a whole span's list held 720 full-size
                    # frames, 400 MB, for a 2-minute still shot
                    for c in range(0, len(offs), SIMULATION_CHUNK):
                        part = offs[c:c + SIMULATION_CHUNK]
                        for o, f in zip(part, gen.frames_at(fa, fb, b - a + 1, fps, part, flow_scale=0.25),
                                        strict=True):
                            score(a + o, f, scores[2], scores[3])
                prev = (b, fb)
        return float(np.mean(scores[1] + scores[3])), float(np.mean(scores[0] + scores[2]))

    # -- the search --------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        finally:
            if self._executor is not None:
                self._executor.shutdown()

    def _run(self) -> None:
        from lgvsc.backends.av1_keyframe import QP_MIN, ladder_sizes

        enc, stream = self.enc, self.stream
        budget = enc.stream_budget(stream.video)
        enc.stats.budget_bytes = budget
        overhead = enc._overhead(stream)
        avail = budget - overhead
        if avail < 16 * len(self.kfi):
            raise BudgetError(_too_small(budget, overhead, len(self.kfi)))
        v = stream.video
        sizes = ladder_sizes(v.width, v.height)
        max_refs = 0
        if enc.config.refine == "auto":
            max_refs = max(0, min(self.n - len(self.kfi), avail // 60, self.n // 2))
        order, curve = self.refinement_order(max_refs) if max_refs else ([], [0.0])
        best = None  # (D, N, size_index, qps)
        measured: dict[tuple[int, int], tuple] = {}

        def measure(n_refs: int, i: int, hint: int | None):
            if (n_refs, i) not in measured:
                groups = self.groups(order[:n_refs])
                q = self.fit_global_qp(groups, sizes[i], avail, hint)
                enc.stats.candidates += 1
                measured[(n_refs, i)] = None if q is None else (
                    self.distortion(groups, sizes[i], [q] * len(groups), curve[n_refs]), n_refs, i, [q] * len(groups))
            return measured[(n_refs, i)]

        def best_size(n_refs: int, start: int | None, hint: int | None):
            """From ``start`` (or the largest size that fits), walk the size ladder while the measured
            distortion falls."""
            i = 0 if start is None else start
            while i < len(sizes) and measure(n_refs, i, hint) is None:
                i += 1  # smaller sizes until one fits
            if i == len(sizes):
                return None
            for step in (1, -1) if start is None else (1,):  # more refinements never want a larger picture
                j = i
                while 0 <= j + step < len(sizes):
                    cur, nxt = measure(n_refs, j, hint), measure(n_refs, j + step, hint)
                    if nxt is None or nxt[0] >= cur[0]:
                        break
                    j += step
            return min(c for c in measured.values() if c is not None and c[1] == n_refs)

        si, hint, worse = None, None, 0
        for n_refs in [0, *_geometric(len(order))]:
            here = best_size(n_refs, si, hint)
            if here is None:
                continue
            si, hint = here[2], here[3][0]
            if best is None or here[0] < best[0]:
                best, worse = here, 0
            else:
                worse += 1
                if worse >= 2:  # more refinements keep costing more than they buy
                    break
        if best is not None and best[1]:  # refine the count between its geometric neighbours
            for n_refs in sorted({round(best[1] / 1.4), round(best[1] * 1.4)} - {0}):
                if n_refs <= len(order):
                    here = best_size(n_refs, best[2], best[3][0])
                    if here is not None and here[0] < best[0]:
                        best = here
        if best is None:
            smallest = self.total(self.groups([]), sizes[-1], [63] * len(self.kfi))
            raise BudgetError(_too_small(budget, overhead, len(self.kfi), smallest))
        # the quick estimate ranks; the simulated decode of the best candidate of each of the best few sizes decides
        per_size: dict[int, tuple] = {}
        for c in measured.values():
            if c is not None and (c[2] not in per_size or c[0] < per_size[c[2]][0]):
                per_size[c[2]] = c
        finalists = []
        for c in sorted(per_size.values())[:FINALISTS]:
            for factor in (2.0, 0.5):  # the walk above explored counts near the overall best size only
                while True:
                    n_next = min(len(order), max(0, round(c[1] * factor) if c[1] else int(factor >= 1)))
                    if n_next == c[1]:
                        break
                    nxt = measure(n_next, c[2], c[3][0])
                    if nxt is None or nxt[0] >= c[0]:
                        break
                    c = nxt
            finalists.append(c)
        scored = [(self.simulate(self.groups(order[:c[1]]), sizes[c[2]], c[3]), c) for c in finalists]
        for (ss, _), c in scored:
            log.info("candidate %dx%d with %d refinements at qp %d: simulated SSIM-Y %.4f", *sizes[c[2]], c[1],
                     c[3][0], ss)
        (sim_ssim, sim_mse), best = max(scored, key=lambda sc: sc[0][0])
        _, n_refs, i, qps = best
        size, groups = sizes[i], self.groups(order[:n_refs])
        # the stream sent is coded at a slower preset (fewer bytes for the same picture): fit its qp again
        self.preset = FINAL_PRESET
        q = self.fit_global_qp(groups, size, avail, qps[0])
        if q is None:  # never seen: the slower preset is larger at every qp
            self.preset = None
        else:
            qps = [q] * len(groups)
        # spend what the single qp left: lower the qp of one unit at a time while the stream still fits
        changed = True
        while changed and self.total(groups, size, qps) < (1 - BUDGET_TOLERANCE / 3) * avail:
            changed = False
            for u in sorted(range(len(groups)), key=lambda u: -len(groups[u])):
                if qps[u] > QP_MIN:
                    trial = qps.copy()
                    trial[u] -= 1
                    if self.total(groups, size, trial) <= avail:
                        qps, changed = trial, True
        self._write(groups, size, qps)
        while len(stream_to_bytes(stream)) > budget:  # framing estimate short: raise the biggest unit's qp
            u = max((u for u in range(len(groups)) if qps[u] < 63), key=lambda u: self.unit_bytes(groups[u], size,
                                                                                                     qps[u]))
            qps[u] += 1
            self._write(groups, size, qps)
        # the estimate is the finalist's simulated decode (at the search preset; the stream sent is no worse)
        enc.stats.coded_size, enc.stats.qp, enc.stats.refinements = size, qps, n_refs
        enc.stats.estimated_psnr_y = 10 * math.log10(255.0**2 / max(sim_mse, 1e-6))
        enc.stats.estimated_ssim_y = sim_ssim
        log.info("AV1: %dx%d, %d refinement frames, qp %s, estimated SSIM-Y %.3f, PSNR-Y %.1f dB (%d candidates)",
                 size[0], size[1], n_refs, qps, enc.stats.estimated_ssim_y, enc.stats.estimated_psnr_y,
                 enc.stats.candidates)

    def _write(self, groups, size, qps) -> None:
        kfs, stream = [], self.stream
        for g, q in zip(groups, qps, strict=True):
            kfs.append(Keyframe(frame_index=g[0], codec_id=self.codec.codec_id, data=self.units(g, size, q)[0],
                                coded_width=size[0], coded_height=size[1]))
        stream.keyframes = kfs
        for seg, g, q in zip(stream.segments, groups, qps, strict=False):
            seg.refinements = [Refinement(frame_index=k, data=u) for k, u in zip(g[1:], self.units(g, size, q)[1:],
                                                                                 strict=True)]


class _LazyFrames:
    """Frames ``keys`` made one at a time by ``make`` as they are iterated (a sized iterable for
    ``encode_sequence``): a unit of hundreds of anchors is never held resized all at once."""

    def __init__(self, keys: list[int], make: Callable[[int], np.ndarray]) -> None:
        self.keys, self.make = keys, make

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self):
        return (self.make(k) for k in self.keys)


def _iter_decode(codec, units: list[bytes], width: int, height: int):
    """The decoded frames of a sub-stream one at a time where the codec can (AV1), else its list."""
    it = getattr(codec, "iter_decode_sequence", None)
    return it(units, width, height) if it is not None else iter(codec.decode_sequence(units, width, height))


def _geometric(n: int) -> list[int]:
    """Candidate refinement counts up to ``n``: 1, 2, 4, 8, ... and ``n``."""
    out, c = [], 1
    while c <= n:
        out.append(c)
        c *= 2
    if n and (not out or out[-1] != n):
        out.append(n)
    return out
