# SPDX-License-Identifier: GPL-3.0-or-later
"""Semantic (DSA) decoder: :class:`~lgvsc.stream.SemanticStream` -> full-length video, with concealment.

The output always has ``stream.video.num_frames`` frames at the source size
and frame rate, whatever was lost:

* a keyframe that is missing or undecodable is **concealed from its
  neighbours** (the flow-interpolated frame at its position between the
  nearest decoded keyframes on each side; a copy of the nearer one when the
  classical judge sees a cut between them, or of the only one there is);
* a segment whose caption (or whole metadata) is missing takes the **caption
  and motion score of the previous segment**;
* with no decodable keyframe at all the video is **mid-grey** (value 128);
* refinement frames (beyond the paper, docs/keyframe-channel.md) are decoded from
  the segment's start keyframe and passed to the generator; when the start
  keyframe or any refinement of the chain is lost or undecodable, the segment is
  generated from its two boundary keyframes alone. Other segments never depend on them.

:class:`DecodeReport` says what was concealed. Two ways to use it:

* :class:`SemanticDecoder` decodes a whole stream (``decode`` into memory, or
  ``decode_iter`` frame by frame, constant memory);
* :class:`SegmentDecoder` is the incremental API for a decoder worker: call
  :meth:`SegmentDecoder.decode_keyframe` as each keyframe arrives and
  :meth:`SegmentDecoder.decode_segment` as soon as a segment's two boundary
  keyframes are decoded. Segment ``k`` returns frames ``start..end``
  *inclusive*; consecutive segments share their boundary frame, so when
  concatenating drop the first frame of every segment after the first
  (:meth:`SegmentDecoder.frames_to_emit` does it).
"""

from __future__ import annotations

import bisect
import logging
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from lgvsc.backends.base import KeyframeCodec, SegmentGenerator, SegmentRequest
from lgvsc.backends.classical_generator import interpolate_at
from lgvsc.backends.classical_keyframe import keyframe_codec_for
from lgvsc.stream import REFINEMENT_CODEC, Keyframe, Segment, SemanticStream, VideoInfo

__all__ = ["GREY", "DecodeReport", "SegmentDecoder", "SemanticDecoder", "MAX_FRAMES", "MAX_PIXELS", "PIECE_FRAMES", "RefinementFrames", "keep_tail",
           "declare_keyframes"]

log = logging.getLogger(__name__)

GREY = 128
MAX_FRAMES = 24 * 3600 * 2  # two hours at 24 fps
MAX_PIXELS = 4096 * 4096
MAX_CHUNK_FRAMES = 240  # a longer segment is generated in chunks (bounded memory)
#: Frames per piece when the generator makes a chunk piece by piece (the classical one does): what the decoder
#: holds at once, whatever a segment's length (a short clip's segments and a long one's cost the same).
PIECE_FRAMES = 16
#: Refinement frames held for one generator request at most: a chunk with more is cut at a refinement frame
#: (for the classical generator, which interpolates between consecutive anchors, the frames are the same).
MAX_CHUNK_REFINEMENTS = 16
#: A chunk never holds more than this many bytes of frames (fewer frames per chunk for big geometries).
MAX_CHUNK_BYTES = 256 * 1024 * 1024
#: Boundary (key)frames held at once while frames are generated: decoded when first needed, dropped after.
KEYFRAME_WINDOW = 6
CUT_THRESHOLD = 0.35  # classical S_rel above which two keyframes are different scenes


@dataclass
class DecodeReport:
    """What the decoder received, and what it had to conceal."""

    num_frames: int
    fps: float
    width: int
    height: int
    keyframes_expected: list[int] = field(default_factory=list)  # boundary frame indices
    keyframes_decoded: list[int] = field(default_factory=list)
    keyframes_concealed: list[int] = field(default_factory=list)  # missing or undecodable, from neighbours
    keyframes_undecodable: list[int] = field(default_factory=list)  # had data, but bad
    segments_expected: int = 0
    segments_missing: list[int] = field(default_factory=list)  # no metadata received (interval index)
    captions_concealed: list[int] = field(default_factory=list)  # caption from the previous segment
    all_grey: bool = False  # no keyframe at all: mid-grey frames
    refinements_decoded: list[int] = field(default_factory=list)  # frame indices
    refinements_unusable: list[int] = field(default_factory=list)  # sent, but their chain was broken

    @property
    def concealed(self) -> bool:
        return bool(self.keyframes_concealed or self.captions_concealed or self.segments_missing or self.all_grey)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["concealed"] = self.concealed
        return d

    def summary(self) -> str:
        """One human-readable paragraph."""
        lines = [f"{self.num_frames} frames {self.width}x{self.height} @ {self.fps:g} fps; "
                 f"keyframes {len(self.keyframes_decoded)}/{len(self.keyframes_expected)} decoded, "
                 f"segments {self.segments_expected - len(self.segments_missing)}/{self.segments_expected} received"]
        if self.all_grey:
            lines.append("no keyframe could be decoded: the video is mid-grey")
        elif self.keyframes_concealed:
            lines.append(f"keyframes concealed from neighbours at frames {self.keyframes_concealed}"
                         + (f" (undecodable: {self.keyframes_undecodable})" if self.keyframes_undecodable else ""))
        if self.captions_concealed:
            lines.append(f"captions taken from the previous segment for segments {self.captions_concealed}")
        if not self.concealed:
            lines.append("nothing concealed")
        return "; ".join(lines)


def keep_tail(tail: np.ndarray | None, frames: np.ndarray, n: int) -> np.ndarray | None:
    """The last ``n`` frames of ``tail`` followed by ``frames`` (the previous-segment tail a generator reads).

    >>> keep_tail(np.zeros((2, 1, 1, 3), np.uint8), np.ones((3, 1, 1, 3), np.uint8), 4)[:, 0, 0, 0].tolist()
    [0, 1, 1, 1]
    """
    frames = np.asarray(frames)
    if tail is None or len(tail) == 0 or len(frames) >= n:
        out = frames[-n:]
    else:
        out = np.concatenate([np.asarray(tail)[-(n - len(frames)):], frames])
    return out.copy() if len(out) else (None if tail is None else np.asarray(tail)[-n:])


class RefinementFrames:
    """A segment's refinement frames, decoded in order as :meth:`SegmentDecoder.iter_segment` asks for them
    (a chunk's at a time, not the whole segment's: a long segment of a long clip can carry a hundred).

    ``indices`` are their frame indices (ascending); ``frames`` yields ``(frame_index, frame)`` in that order.
    """

    def __init__(self, indices: Sequence[int], frames: Iterator[tuple[int, np.ndarray]]) -> None:
        self.indices = [int(i) for i in indices]
        self._it = frames

    def until(self, last: int) -> list[tuple[int, np.ndarray]]:
        """The next frames up to frame index ``last`` inclusive (each given once)."""
        out = []
        while self.indices and self.indices[0] <= last:
            i, f = next(self._it)
            if i != self.indices[0]:
                raise RuntimeError(f"refinement frames out of order: {i}, expected {self.indices[0]}")
            self.indices.pop(0)
            out.append((i, f))
        return out


def _pieces(generator: SegmentGenerator, req: SegmentRequest, n: int) -> Iterator[np.ndarray]:
    """``generator``'s frames for ``req`` in pieces (one array from a generator that has no ``generate_pieces``)."""
    pieces = getattr(generator, "generate_pieces", None)
    return pieces(req, n) if pieces is not None else iter([generator.generate(req)])


def _cut_at_refinements(cuts: list[int], offsets: Sequence[int], most: int) -> list[int]:
    """``cuts`` with a cut added at a refinement offset wherever a chunk would hold more than ``most``.

    >>> _cut_at_refinements([0, 9], [1, 2, 3, 4, 5], 2)
    [0, 3, 9]
    """
    out = [cuts[0]]
    for a, b in zip(cuts, cuts[1:], strict=False):
        inside = [o for o in offsets if a < o < b]
        for j in range(most, len(inside), most + 1):
            out.append(inside[j])
        out.append(b)
    return out


class SegmentDecoder:
    """Incremental decoding: keyframes as they arrive, segments as soon as both ends are decoded.

    >>> import numpy as np
    >>> from lgvsc.backends.classical_generator import FlowInterpolationGenerator
    >>> from lgvsc.stream import VideoInfo
    >>> dec = SegmentDecoder(VideoInfo(64, 32, 24, 1, 10), FlowInterpolationGenerator())
    >>> a = np.zeros((32, 64, 3), np.uint8); b = np.full((32, 64, 3), 255, np.uint8)
    >>> dec.decode_segment(0, 9, a, b).shape
    (10, 32, 64, 3)
    """

    def __init__(self, video: VideoInfo, generator: SegmentGenerator,
                 codecs: Mapping[str, KeyframeCodec] | None = None, max_frames: int = MAX_FRAMES,
                 max_chunk_frames: int = MAX_CHUNK_FRAMES) -> None:
        if video.width <= 0 or video.height <= 0 or video.width * video.height > MAX_PIXELS:
            raise ValueError(f"video size {video.width}x{video.height} out of bounds (max {MAX_PIXELS} pixels)")
        if not 0 < video.num_frames <= max_frames:
            raise ValueError(f"stream declares {video.num_frames} frames; this decoder accepts 1..{max_frames}")
        if video.fps_num <= 0 or video.fps_den <= 0:
            raise ValueError(f"invalid frame rate {video.fps_num}/{video.fps_den}")
        if max_chunk_frames < 2:
            raise ValueError(f"max_chunk_frames must be >= 2, got {max_chunk_frames}")
        self.video = video
        self.generator = generator
        self.codecs = dict(codecs or {})
        # the cap on a chunk's bytes, checked before anything is allocated (4096x4096 frames: 5 per chunk)
        frame_bytes = video.width * video.height * 3
        self.max_chunk_frames = max(2, min(int(max_chunk_frames), MAX_CHUNK_BYTES // frame_bytes))
        #: frames per piece asked of a generator that streams (:meth:`SegmentGenerator.generate_pieces`)
        self.piece_frames = max(1, min(PIECE_FRAMES, self.max_chunk_frames))

    def codec(self, codec_id: str) -> KeyframeCodec:
        """The codec for ``codec_id`` (given ones first, then the classical ones); ``ValueError`` if unknown."""
        if codec_id not in self.codecs:
            self.codecs[codec_id] = keyframe_codec_for(codec_id)
        return self.codecs[codec_id]

    def decode_keyframe(self, kf: Keyframe) -> np.ndarray:
        """Decode one keyframe to the video size; ``ValueError`` if missing, empty or undecodable."""
        if not kf.data:
            raise ValueError(f"keyframe {kf.frame_index} has no data")
        return self.codec(kf.codec_id).decode(kf.data, self.video.width, self.video.height)

    def decode_refinements(self, start_kf: Keyframe, seg: Segment) -> list[tuple[int, np.ndarray]]:
        """``(frame_index, frame)`` of ``seg``'s refinement frames, decoded after its start keyframe.

        :raises ValueError: the start keyframe is not the segment's or not AV1, or the chain is undecodable.
        """
        if not seg.refinements:
            return []
        if start_kf.frame_index != seg.start_frame or not start_kf.data:
            raise ValueError(f"segment {seg.index}: refinements need its start keyframe {seg.start_frame}")
        if start_kf.codec_id != REFINEMENT_CODEC:
            raise ValueError(f"segment {seg.index}: refinements follow an {REFINEMENT_CODEC} keyframe, "
                             f"not {start_kf.codec_id!r}")
        codec = self.codec(REFINEMENT_CODEC)
        frames = codec.decode_sequence([start_kf.data, *(r.data for r in seg.refinements)],  # type: ignore[attr-defined]
                                       self.video.width, self.video.height)
        return [(r.frame_index, f) for r, f in zip(seg.refinements, frames[1:], strict=True)]

    def iter_refinements(self, start_kf: Keyframe, seg: Segment) -> RefinementFrames:
        """:meth:`decode_refinements` in bounded memory: the chain is decoded once through to check it (a frame
        at a time; ``ValueError`` as there when broken), then again as the frames are asked for."""
        if not seg.refinements:
            return RefinementFrames([], iter(()))
        if start_kf.frame_index != seg.start_frame or not start_kf.data:
            raise ValueError(f"segment {seg.index}: refinements need its start keyframe {seg.start_frame}")
        if start_kf.codec_id != REFINEMENT_CODEC:
            raise ValueError(f"segment {seg.index}: refinements follow an {REFINEMENT_CODEC} keyframe, "
                             f"not {start_kf.codec_id!r}")
        codec = self.codec(REFINEMENT_CODEC)
        units = [start_kf.data, *(r.data for r in seg.refinements)]
        w, h = self.video.width, self.video.height
        if not hasattr(codec, "iter_decode_sequence"):
            return RefinementFrames(seg.refinement_indices(), iter(self.decode_refinements(start_kf, seg)))
        for _ in codec.iter_decode_sequence(units, w, h):  # the check: raises where the chain breaks
            pass

        def frames() -> Iterator[tuple[int, np.ndarray]]:
            it = codec.iter_decode_sequence(units, w, h)
            next(it)  # the start keyframe
            for r, f in zip(seg.refinements, it, strict=True):
                yield r.frame_index, f

        return RefinementFrames(seg.refinement_indices(), frames())

    @property
    def tail_frames(self) -> int:
        """How many previously emitted frames the generator conditions on (its ``tail_frames``; 1 if it says none)."""
        return max(1, int(getattr(self.generator, "tail_frames", 1) or 1))

    def iter_segment(self, start_frame: int, end_frame: int, first: np.ndarray, last: np.ndarray,
                     caption: str = "", motion_score: float = 0.0,
                     prev_tail: np.ndarray | None = None,
                     refinements: Sequence[tuple[int, np.ndarray]] = (),
                     segment_index: int = 0) -> Iterator[np.ndarray]:
        """Yield frames ``start_frame..end_frame`` inclusive in chunks ``(k, H, W, 3)`` of bounded length.

        ``prev_tail`` holds the frames emitted before this segment, ending with its boundary frame
        (the generator's :attr:`tail_frames` of them are used); ``segment_index`` seeds the generator.

        A segment longer than ``max_chunk_frames`` is split at flow-interpolated
        intermediate frames (or a refinement frame where one falls on the split) and
        each piece generated on its own. ``refinements`` are ``(frame_index, frame)``
        pairs strictly inside the segment (see :meth:`decode_refinements`).
        """
        if not 0 <= start_frame < end_frame < self.video.num_frames:
            raise ValueError(f"segment {start_frame}..{end_frame} outside the video (0..{self.video.num_frames - 1})")
        shape = (self.video.height, self.video.width, 3)
        if first.shape != shape or last.shape != shape:
            raise ValueError(f"keyframes must be {shape}, got {first.shape} and {last.shape}")
        n = end_frame - start_frame + 1
        cuts = list(range(0, n - 1, self.max_chunk_frames - 1)) + [n - 1]
        lazy = refinements if isinstance(refinements, RefinementFrames) else None
        if lazy is not None:
            ref_offsets = [i - start_frame for i in lazy.indices if start_frame < i < end_frame]
            refs: dict[int, np.ndarray] = {}
        else:
            refs = {int(i) - start_frame: f for i, f in refinements if start_frame < int(i) < end_frame}
            ref_offsets = sorted(refs)
        cuts = _cut_at_refinements(cuts, ref_offsets, MAX_CHUNK_REFINEMENTS)
        left, keep = first, self.tail_frames
        prev_tail = keep_tail(None, prev_tail, keep) if prev_tail is not None else None
        for k, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
            if lazy is not None:  # this chunk's refinement frames (and its right end's), decoded now
                refs = {i - start_frame: f for i, f in lazy.until(start_frame + b) if start_frame < i < end_frame}
            right = last if b == n - 1 else refs[b] if b in refs else interpolate_at(first, last, b / (n - 1))
            req = SegmentRequest(left, right, num_frames=b - a + 1, caption=caption, motion_score=motion_score,
                                 prev_tail=prev_tail, fps=self.video.fps,
                                 refinements=[(i - a, refs[i]) for i in sorted(refs) if a < i < b],
                                 segment_index=segment_index, chunk_index=k)
            # The generator's frames come in pieces of at most PIECE_FRAMES where it can make them so
            # (the classical one), else as one array: what is held is a piece, not the chunk.
            m, got = b - a + 1, 0
            for out in _pieces(self.generator, req, self.piece_frames):
                out = np.asarray(out)
                if (out.ndim != 4 or out.shape[1:] != shape or out.dtype != np.uint8 or not 0 < len(out) <= m - got):
                    raise RuntimeError(f"generator {self.generator.name} returned {out.shape} {out.dtype}, "
                                       f"expected {(m, *shape)} uint8")
                # out[0] of a chunk after the first repeats the previous chunk's last frame
                emit = out[1:] if got == 0 and k > 0 else out
                # the next chunk's tail: what was emitted up to its first frame (out[0] repeats the tail's last)
                tail_part = out[1:] if got == 0 and prev_tail is not None else out
                got += len(out)
                if len(emit):
                    yield emit
                prev_tail = keep_tail(prev_tail, tail_part, keep) if len(tail_part) else prev_tail
                del out, emit, tail_part  # the piece is the caller's now
            if got != m:
                raise RuntimeError(f"generator {self.generator.name} returned {got} frames, expected {m}")
            left = right

    def decode_segment(self, start_frame: int, end_frame: int, first: np.ndarray, last: np.ndarray,
                       caption: str = "", motion_score: float = 0.0,
                       prev_tail: np.ndarray | None = None,
                       refinements: Sequence[tuple[int, np.ndarray]] = (),
                       segment_index: int = 0) -> np.ndarray:
        """Frames ``start_frame..end_frame`` inclusive, ``(end - start + 1, H, W, 3)`` uint8."""
        chunks = list(self.iter_segment(start_frame, end_frame, first, last, caption, motion_score, prev_tail,
                                        refinements, segment_index))
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    @staticmethod
    def frames_to_emit(segment_frames: np.ndarray, is_first_segment: bool) -> np.ndarray:
        """The frames of a decoded segment to append to the output (the shared boundary only once)."""
        return segment_frames if is_first_segment else segment_frames[1:]


@dataclass
class _Plan:
    boundaries: list[int]
    kf_by_index: dict[int, Keyframe]
    captions: list[str]
    motion: list[float]
    seg_by_span: dict[tuple[int, int], Segment]
    #: decodability already known by the caller (frame index -> decodes), e.g. the decoder worker's;
    #: the others are learnt by decoding them when first needed
    known: dict[int, bool] = field(default_factory=dict)


class _KeyframeWindow:
    """Boundary frames on demand, each keyframe decoded once: whether a keyframe decodes is learnt by
    decoding it when it is first needed (in boundary order), and the frame is kept for its segments.
    At most ``size`` frames are held, least recently used dropped, so peak memory does not grow with
    the keyframe count. A boundary that does not decode is concealed from the nearest decodable
    boundary on each side (found by decoding ahead; the one found is held for when it is reached).
    ``report`` (keyframes decoded / undecodable / concealed, all grey) is complete when the last
    boundary is resolved (:meth:`finish`)."""

    def __init__(self, plan: _Plan, seg_dec: SegmentDecoder, is_cut, report: DecodeReport,
                 size: int = KEYFRAME_WINDOW) -> None:
        self.plan, self.seg_dec, self.is_cut, self.size = plan, seg_dec, is_cut, max(3, size)
        self.report = report
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._grey: np.ndarray | None = None
        self.ok: list[int] = []  # decodable boundaries resolved so far (ascending)
        self.ok_set: set[int] = set()
        self.frontier = 0  # boundaries[:frontier] are resolved
        self.pos = {b: i for i, b in enumerate(plan.boundaries)}

    def _hold(self, b: int, f: np.ndarray) -> np.ndarray:
        self.cache[b] = f
        self.cache.move_to_end(b)
        while len(self.cache) > self.size:
            self.cache.popitem(last=False)
        return f

    def _resolve_next(self) -> None:
        """Resolve ``boundaries[frontier]``: known, or decoded now (the frame is held)."""
        b = self.plan.boundaries[self.frontier]
        self.frontier += 1
        kf = self.plan.kf_by_index.get(b)
        good = self.plan.known.get(b)
        if kf is None or not kf.data:
            good = False
        elif good is None:
            try:
                self._hold(b, self.seg_dec.decode_keyframe(kf))
                good = True
            except ValueError as exc:
                log.warning("keyframe at frame %d undecodable: %s", b, exc)
                good = False
        if good:
            self.ok.append(b)
            self.ok_set.add(b)
            self.report.keyframes_decoded.append(b)
        elif kf is not None and kf.data:
            self.report.keyframes_undecodable.append(b)

    def decodes(self, b: int) -> bool:
        """Whether boundary ``b``'s keyframe decodes (resolving up to it)."""
        i = self.pos[b]
        while self.frontier <= i:
            self._resolve_next()
        return b in self.ok_set

    def _right(self, b: int) -> int | None:
        """The nearest decodable boundary after ``b`` (decoding ahead as far as needed)."""
        j = bisect.bisect_right(self.ok, b)
        while j == len(self.ok) and self.frontier < len(self.plan.boundaries):
            self._resolve_next()
        return self.ok[j] if j < len(self.ok) else None

    def finish(self) -> None:
        """Resolve every boundary left and complete the report (concealed list, all grey)."""
        while self.frontier < len(self.plan.boundaries):
            self._resolve_next()
        if self.ok:
            self.report.keyframes_concealed = [b for b in self.plan.boundaries if b not in self.ok_set]
        else:
            self.report.all_grey = True
            self.report.keyframes_concealed = []

    def get(self, b: int) -> np.ndarray:
        f = self.cache.get(b)
        if f is not None:
            self.cache.move_to_end(b)
            return f
        return self._hold(b, self._make(b))

    def _make(self, b: int) -> np.ndarray:
        if self.decodes(b):  # resolving it may just have decoded it (held): use that frame
            f = self.cache.get(b)
            return f if f is not None else self.seg_dec.decode_keyframe(self.plan.kf_by_index[b])
        j = bisect.bisect_left(self.ok, b)
        left = self.ok[j - 1] if j > 0 else None
        right = self._right(b)
        if left is None and right is None:  # no keyframe decodes at all: mid-grey
            if self._grey is None:
                v = self.seg_dec.video
                self._grey = np.full((v.height, v.width, 3), GREY, np.uint8)
            return self._grey
        if left is not None and right is not None:
            fl, fr = self.get(left), self.get(right)
            if not self.is_cut(fl, fr):
                return interpolate_at(fl, fr, (b - left) / (right - left))
            return (fl if b - left <= right - b else fr).copy()  # a cut between them: no ghostly blend
        return self.get(left if left is not None else right).copy()


class SemanticDecoder:
    """Decode a whole (possibly incomplete) stream; see the module docstring.

    >>> from lgvsc.backends.classical_generator import FlowInterpolationGenerator
    >>> from lgvsc.stream import SemanticStream, VideoInfo
    >>> empty = SemanticStream(video=VideoInfo(64, 32, 24, 1, 12), keyframes=[], segments=[])
    >>> frames, report = SemanticDecoder(FlowInterpolationGenerator()).decode(empty)
    >>> frames.shape, int(frames.mean()), report.all_grey
    ((12, 32, 64, 3), 128, True)
    """

    def __init__(self, generator: SegmentGenerator, codecs: Mapping[str, KeyframeCodec] | None = None,
                 max_frames: int = MAX_FRAMES, max_chunk_frames: int = MAX_CHUNK_FRAMES) -> None:
        self.generator = generator
        self.codecs = dict(codecs or {})
        self.max_frames = max_frames
        self.max_chunk_frames = max_chunk_frames
        self._cut_judge = None

    def _is_cut(self, a: np.ndarray, b: np.ndarray) -> bool:
        if self._cut_judge is None:
            from lgvsc.backends.classical_judge import ClassicalJudge

            self._cut_judge = ClassicalJudge()
        return self._cut_judge.score(a, b) > CUT_THRESHOLD

    def _plan(self, stream: SemanticStream, report: DecodeReport,
              known: Mapping[int, bool] | None = None) -> _Plan:
        """Boundaries, captions and motion per interval, the segment covering each; O(n log n) in the
        keyframe count. No keyframe is decoded here: whether one decodes is learnt when the window
        (:class:`_KeyframeWindow`) first needs it, and that frame is the one used (decoded once).
        """
        v = stream.video
        n = v.num_frames
        kf_by_index: dict[int, Keyframe] = {}
        for kf in stream.keyframes:
            if 0 <= kf.frame_index < n:
                kf_by_index.setdefault(kf.frame_index, kf)
        segs = [s for s in stream.segments if 0 <= s.start_frame < s.end_frame < n]
        bset = {0, n - 1} | set(kf_by_index)
        for s in segs:
            bset |= {s.start_frame, s.end_frame}
        boundaries = sorted(bset)
        report.keyframes_expected = boundaries
        # captions and motion per interval; a segment covering an interval is found by bisection
        by_span = {(s.start_frame, s.end_frame): s for s in segs}
        by_start = sorted(range(len(segs)), key=lambda k: (segs[k].start_frame, k))
        starts = [segs[k].start_frame for k in by_start]
        reach: list[int] = []  # reach[i]: among by_start[:i+1], the segment reaching furthest (earliest on ties)
        for i, k in enumerate(by_start):
            reach.append(k if i == 0 or segs[k].end_frame > segs[reach[-1]].end_frame else reach[-1])
        report.segments_expected = max(len(stream.segments), len(boundaries) - 1)
        captions, motion = [], []
        prev_caption, prev_motion = "", 0.0
        for i, (a, b) in enumerate(zip(boundaries, boundaries[1:], strict=False)):
            seg: Segment | None = by_span.get((a, b))
            if seg is None:
                j = bisect.bisect_right(starts, a) - 1
                if j >= 0 and segs[reach[j]].end_frame >= b:
                    seg = segs[reach[j]]
            if seg is None:
                report.segments_missing.append(i)
            if seg is not None and seg.caption:
                prev_caption, prev_motion = seg.caption, float(seg.motion_score)
            else:
                report.captions_concealed.append(i)
                if seg is not None:
                    prev_motion = float(seg.motion_score)
            captions.append(prev_caption)
            motion.append(prev_motion)
        return _Plan(boundaries, kf_by_index, captions, motion, by_span,
                     {int(k): bool(ok) for k, ok in (known or {}).items()})

    def decode_iter(self, stream: SemanticStream, known: Mapping[int, bool] | None = None,
                    report_first: bool = False) -> tuple[DecodeReport, Iterator[np.ndarray]]:
        """Plan (boundaries, captions, concealment), then yield the frames one by one.

        Frames are generated lazily, and boundary keyframes are decoded once each, when first
        needed, in a window of :data:`KEYFRAME_WINDOW` around the segment being generated, so memory
        does not grow with the number of keyframes. What the report says of the keyframes (decoded,
        undecodable, concealed, all grey) is learnt on the way: it is complete when the frames are
        exhausted; or when this returns, with ``report_first`` (keyframes not in ``known`` are
        decoded now to learn it) or when ``known`` (frame index -> decodes, e.g. the decoder
        worker's, which decoded each keyframe on arrival) covers every keyframe with data.
        :raises ValueError: the stream's video info is out of the decoder's bounds.
        """
        v = stream.video
        seg_dec = SegmentDecoder(v, self.generator, self.codecs, self.max_frames, self.max_chunk_frames)
        report = DecodeReport(num_frames=v.num_frames, fps=v.fps, width=v.width, height=v.height)
        plan = self._plan(stream, report, known)
        window = _KeyframeWindow(plan, seg_dec, self._is_cut, report)
        if report_first or all(not k.data or b in plan.known for b, k in plan.kf_by_index.items()):
            window.finish()  # the report is complete now (with everything known: nothing decoded for it)

        def frames() -> Iterator[np.ndarray]:
            bs = plan.boundaries
            if len(bs) == 1:
                yield window.get(bs[0])
                window.finish()
                return
            prev_tail, keep = None, seg_dec.tail_frames
            for i, (a, b) in enumerate(zip(bs, bs[1:], strict=False)):
                first_chunk = True
                fa, fb = window.get(a), window.get(b)
                refs = self._refinements(plan, window, seg_dec, a, b, report)
                for chunk in seg_dec.iter_segment(a, b, fa, fb, plan.captions[i],
                                                  plan.motion[i], prev_tail, refs, segment_index=i):
                    if first_chunk and i > 0:
                        chunk = chunk[1:]  # the shared boundary frame was emitted by the previous segment
                    first_chunk = False
                    yield from chunk
                    prev_tail = keep_tail(prev_tail, chunk, keep)  # the last frames emitted (t + 1 for LTX)
                del fa, fb
            window.finish()

        return report, frames()

    @staticmethod
    def _refinements(plan: _Plan, window: _KeyframeWindow, seg_dec: SegmentDecoder, a: int, b: int,
                     report: DecodeReport) -> RefinementFrames | list:
        """The decoded refinement frames of the segment spanning ``a..b``; none if its chain is broken."""
        seg = plan.seg_by_span.get((a, b))
        if seg is None or not seg.refinements:
            return []
        kf = plan.kf_by_index.get(a)
        try:
            if kf is None or not window.decodes(a):  # lost or undecodable (resolved: O(1))
                raise ValueError(f"start keyframe {a} lost")
            refs = seg_dec.iter_refinements(kf, seg)  # checked now, decoded again chunk by chunk
        except ValueError as exc:
            log.warning("segment %d: refinement frames unusable: %s", seg.index, exc)
            report.refinements_unusable.extend(seg.refinement_indices())
            return []
        report.refinements_decoded.extend(refs.indices)
        return refs

    def decode(self, stream: SemanticStream) -> tuple[np.ndarray, DecodeReport]:
        """The whole video ``(num_frames, H, W, 3)`` uint8 in memory, and the report."""
        report, it = self.decode_iter(stream)
        out = np.stack(list(it))
        if len(out) != stream.video.num_frames:  # an invariant of the plan; never expected
            raise RuntimeError(f"decoded {len(out)} frames, expected {stream.video.num_frames}")
        return out, report


def declare_keyframes(stream: SemanticStream, indices) -> SemanticStream:
    """``stream`` with an empty keyframe (nothing received) at every frame index of ``indices`` it lacks.

    The decoder conceals an empty keyframe like a missing one, so a keyframe the stream header
    declares is a boundary of the plan, listed in ``keyframes_concealed`` and counted in
    ``keyframes_expected`` even when it was lost together with both its segment metas.
    """
    import dataclasses

    have = {k.frame_index for k in stream.keyframes}
    extra = [Keyframe(frame_index=int(i), codec_id="", data=b"") for i in indices if int(i) not in have]
    if not extra:
        return stream
    return dataclasses.replace(stream, keyframes=sorted([*stream.keyframes, *extra], key=lambda k: k.frame_index))
