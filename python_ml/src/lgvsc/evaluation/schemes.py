# SPDX-License-Identifier: GPL-3.0-or-later
"""The compared schemes: what each one sends, and what its receiver makes of what arrives.

Every scheme turns a clip into **units** (byte strings) that travel over the
link one after the other, and rebuilds a full-length clip from the units that
come back (:class:`Reception`). The link (:mod:`lgvsc.evaluation.link`) is the
same for all of them, and so is the CBR (:func:`lgvsc.accounting.cbr_for_bits`).

* ``lgvsc`` — the semantic stream with SKEM keyframes (:class:`SemanticScheme`);
  units are the PDUs of :func:`lgvsc.packets.packetize`. A PDU with any bit
  error is dropped, as the PHY's CRC would; the reassembler gets the rest and
  the decoder conceals what is missing.
* ``skim`` — the same with uniform keyframes, as many as SKEM chose.
* ``h264`` / ``h265`` — FFmpeg (PyAV's libx264 / libx265) at QP 51 with a fixed
  GOP (:class:`H26xScheme`); units are the coded access units. Bit errors are
  **left in** the bitstream and whatever FFmpeg decodes is scored. Framing
  (unit boundaries and timestamps) is assumed to arrive intact, as a container
  or RTP header protected by its own check would. A frame the decoder does not
  deliver is shown as a **repeat of the last delivered frame** (black before
  the first one), as a player does.
* ``text-only`` — captions only (:class:`TextOnlyScheme`, the paper's text-only
  baseline): units are the SKEM stream's header and segment metadata (captions,
  motion scores), no keyframes. An errored unit is dropped (CRC); a lost
  caption is concealed as the semantic decoder does (the previous segment's
  caption, an empty prompt before the first). Each segment is generated from
  its caption alone by the profile's generator when it has a text-only mode
  (hf profile with an LTX-Video ``LTXConditionPipeline``); otherwise (classical
  profile, Wan 2.1 FLF2V) its quality cells are skipped with the reason and
  only its CBR is computed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from lgvsc.video import VideoClip

__all__ = [
    "SCHEMES",
    "PAPER_GOPS",
    "DEFAULT_GOPS",
    "Prepared",
    "Reception",
    "Scheme",
    "SemanticScheme",
    "H26xScheme",
    "TextOnlyScheme",
    "SchemeSkipped",
    "make_scheme",
]

log = logging.getLogger(__name__)

#: Scheme names in report order.
SCHEMES: tuple[str, ...] = ("lgvsc", "skim", "h264", "h265", "text-only")

#: The paper's GOP lengths (frames) for its H.26x baselines.
PAPER_GOPS: dict[str, tuple[int, ...]] = {"h264": (400, 80, 20), "h265": (400, 50, 13)}
#: Default GOP per codec: the paper's first (longest, lowest CBR: one I-frame for clips up to 16 s at 24 fps).
DEFAULT_GOPS: dict[str, int] = {"h264": 400, "h265": 400}
H26X_QP = 51


class SchemeSkipped(Exception):
    """The scheme cannot produce a reconstruction in this configuration (the message says why)."""


@dataclass
class Prepared:
    """What a scheme sends for one clip.

    :param units: byte strings sent one after the other (PDUs, access units)
    :param payload_bytes: the payload the paper's CBR counts (semantic stream, bitstream)
    :param info: scheme facts for the report (keyframes, GOP, ...)
    """

    units: list[bytes]
    payload_bytes: int
    info: dict[str, Any] = field(default_factory=dict)
    context: Any = None  # scheme-private (e.g. the stream, timestamps)


@dataclass
class Reception:
    """A scheme's reconstruction and what happened on the way."""

    frames: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)


def units_digest(units: list[bytes | None]) -> str:
    """A hash of what a receiver got (``None`` = unit dropped), used to reuse identical reconstructions."""
    h = hashlib.sha256()
    for u in units:
        if u is None:
            h.update(b"\x00none")
        else:
            h.update(len(u).to_bytes(4, "big"))
            h.update(u)
    return h.hexdigest()


class Scheme:
    """Base class: :meth:`prepare` once per clip, :meth:`receive` per channel realisation."""

    name: str = ""
    #: True: units with bit errors are dropped (CRC); False: delivered with their errors.
    drops_errored_units: bool = True

    def prepare(self, clip: VideoClip) -> Prepared:
        raise NotImplementedError

    def receive(self, clip: VideoClip, prepared: Prepared, units: list[bytes | None]) -> Reception:
        """Rebuild ``clip.num_frames`` frames from ``units`` (``None`` where a unit was dropped)."""
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """Everything that changes this scheme's output (goes into the cell cache key)."""
        return {"name": self.name}


class SemanticScheme(Scheme):
    """LGVSC (SKEM) or its SKIM baseline through the packetiser, reassembler and concealing decoder.

    :param method: ``skem`` or ``skim``
    :param backends: :class:`lgvsc.profiles.Backends`
    :param mtu: PDU size limit (bytes)
    :param skim_count: SKIM keyframe count (the runner passes SKEM's count for the same clip)
    """

    def __init__(self, method: str, backends: Any, mtu: int = 1500, skim_count: int | None = None,
                 encoder_options: dict[str, Any] | None = None) -> None:
        if method not in ("skem", "skim"):
            raise ValueError(f"method must be skem or skim, got {method!r}")
        self.method = method
        self.name = "lgvsc" if method == "skem" else "skim"
        self.backends = backends
        self.mtu = int(mtu)
        self.skim_count = skim_count
        self.encoder_options = dict(encoder_options or {})

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "profile": getattr(self.backends, "profile", "?"), "mtu": self.mtu,
                "skim_count": self.skim_count, **self.encoder_options}

    def encode(self, clip: VideoClip):
        from lgvsc.encoder import EncoderConfig, SemanticEncoder

        cfg = EncoderConfig(method=self.method, skim_count=self.skim_count, **self.encoder_options)
        return SemanticEncoder(self.backends, cfg).encode(clip)

    def prepare(self, clip: VideoClip, stream: Any = None) -> Prepared:
        from lgvsc.packets import packetize
        from lgvsc.wire import stream_to_bytes

        stream = stream if stream is not None else self.encode(clip)
        pdus = packetize(stream, self.mtu)
        return Prepared(units=pdus, payload_bytes=len(stream_to_bytes(stream)),
                        info={"keyframes": stream.keyframe_indices(), "num_pdus": len(pdus)}, context=stream)

    def receive(self, clip: VideoClip, prepared: Prepared, units: list[bytes | None]) -> Reception:
        from lgvsc.decoder import SemanticDecoder
        from lgvsc.errors import PacketError
        from lgvsc.packets import Reassembler
        from lgvsc.stream import SemanticStream

        rx = Reassembler()
        for u in units:
            if u is None:
                continue
            try:
                rx.feed(u)
            except PacketError as exc:  # cannot happen for CRC-clean PDUs; counted, never fatal
                log.warning("reassembler rejected a PDU: %s", exc)
        stream, missing = rx.snapshot(prepared.context.stream_id)
        header_lost = stream is None
        if header_lost:
            # Every copy of the header was lost: the evaluation knows the format out of band and
            # lets the decoder produce its all-grey full-length output.
            stream = SemanticStream(video=clip.info(), keyframes=[], segments=[])
        frames, report = SemanticDecoder(self.backends.generator).decode(stream)
        sent = prepared.info["keyframes"]
        got = [k.frame_index for k in stream.keyframes]
        return Reception(frames=frames, stats={
            "pdus_sent": len(units),
            "pdus_lost": sum(u is None for u in units),
            "header_lost": header_lost,
            "keyframes_sent": sent,
            "keyframes_lost": [k for k in sent if k not in got],
            "frames_concealed": 0,
            "decode_failures": int(len(report.keyframes_concealed) + len(report.captions_concealed)),
            "concealment": report.summary(),
        })


def _encode_h26x(clip: VideoClip, codec: str, gop: int, qp: int) -> tuple[list[bytes], list[int], list[int]]:
    """Access units (decode order), their pts and dts, from PyAV's libx264/libx265 at fixed QP and GOP."""
    import av

    lib = {"h264": "libx264", "h265": "libx265"}[codec]
    ctx = av.CodecContext.create(lib, "w")
    ctx.width, ctx.height = clip.width, clip.height
    ctx.pix_fmt = "yuv420p"
    rate = Fraction(clip.fps).limit_denominator(1001)
    ctx.time_base = 1 / rate
    ctx.framerate = rate
    # Fixed QP and a fixed GOP: keyint = min-keyint = GOP, no scene-cut I-frames.
    params = f"qp={qp}:keyint={gop}:min-keyint={gop}:scenecut=0"
    if codec == "h265":
        ctx.options = {"x265-params": params + ":log-level=error", "preset": "medium"}
    else:
        ctx.options = {"x264-params": params, "preset": "medium"}
    units, pts, dts = [], [], []

    def take(packets) -> None:
        for p in packets:
            units.append(bytes(p))
            pts.append(int(p.pts))
            dts.append(int(p.dts) if p.dts is not None else int(p.pts))

    for i, f in enumerate(clip.frames):
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
        vf.pts = i
        take(ctx.encode(vf))
    take(ctx.encode(None))
    return units, pts, dts


def _decode_h26x(codec: str, units: list[bytes | None], pts: list[int], dts: list[int], num_frames: int,
                 height: int, width: int) -> tuple[np.ndarray, int, int]:
    """Decode (possibly corrupted) access units; returns frames, frames not delivered, decoder errors."""
    import av

    ctx = av.CodecContext.create({"h264": "h264", "h265": "hevc"}[codec], "r")
    got: dict[int, np.ndarray] = {}
    errors = 0

    def take(frames) -> None:
        for fr in frames:
            if fr.pts is None or not 0 <= fr.pts < num_frames:
                continue
            img = fr.to_ndarray(format="rgb24")
            if img.shape == (height, width, 3):  # corrupted headers can change the size: not a frame of ours
                got[int(fr.pts)] = img

    for data, p, d in zip(units, pts, dts, strict=True):
        if data is None:
            continue
        pkt = av.Packet(data)
        pkt.pts, pkt.dts = p, d
        try:
            take(ctx.decode(pkt))
        except (av.FFmpegError, ValueError) as exc:
            errors += 1
            log.debug("decoder error at pts %d: %s", p, exc)
    try:
        take(ctx.decode(None))
    except (av.FFmpegError, ValueError):
        errors += 1
    out = np.zeros((num_frames, height, width, 3), np.uint8)  # black until the first delivered frame
    last = None
    missing = 0
    for i in range(num_frames):
        if i in got:
            last = got[i]
        else:
            missing += 1
        if last is not None:
            out[i] = last
    return out, missing, errors


class H26xScheme(Scheme):
    """H.264 / H.265 at QP 51 with a fixed GOP, bit errors left in (see the module docstring)."""

    drops_errored_units = False

    def __init__(self, codec: str, gop: int | None = None, qp: int = H26X_QP) -> None:
        if codec not in PAPER_GOPS:
            raise ValueError(f"codec must be h264 or h265, got {codec!r}")
        gop = DEFAULT_GOPS[codec] if gop is None else int(gop)
        if gop < 1:
            raise ValueError(f"GOP must be >= 1, got {gop}")
        if not 0 <= qp <= 51:
            raise ValueError(f"QP must lie in 0..51, got {qp}")
        self.name = codec
        self.codec = codec
        self.gop = gop
        self.qp = int(qp)

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "gop": self.gop, "qp": self.qp}

    def prepare(self, clip: VideoClip) -> Prepared:
        if clip.width % 2 or clip.height % 2:
            raise ValueError(f"{self.codec} (yuv420p) needs even frame sizes, got {clip.width}x{clip.height}")
        units, pts, dts = _encode_h26x(clip, self.codec, self.gop, self.qp)
        return Prepared(units=units, payload_bytes=sum(map(len, units)),
                        info={"gop": self.gop, "qp": self.qp, "access_units": len(units)}, context=(pts, dts))

    def receive(self, clip: VideoClip, prepared: Prepared, units: list[bytes | None]) -> Reception:
        pts, dts = prepared.context
        frames, missing, errors = _decode_h26x(self.codec, units, pts, dts, clip.num_frames, clip.height,
                                               clip.width)
        corrupted = sum(u is not None and u != s for u, s in zip(units, prepared.units, strict=True))
        return Reception(frames=frames, stats={
            "units_sent": len(units),
            "units_corrupted": corrupted,
            "frames_concealed": missing,
            "decode_failures": missing,
            "decoder_errors": errors,
            "concealment": f"{missing} of {clip.num_frames} frames not delivered by the decoder "
                           f"(shown as a repeat of the last delivered frame, black before the first); "
                           f"{corrupted} access units carried bit errors; {errors} decoder errors",
        })


class TextOnlyScheme(Scheme):
    """Captions only: header + segment metadata of the SKEM stream, no keyframes; text-to-video at the receiver."""

    def __init__(self, backends: Any) -> None:
        self.name = "text-only"
        self.backends = backends

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "profile": getattr(self.backends, "profile", "?")}

    @staticmethod
    def payload_bytes(stream: Any) -> int:
        from lgvsc.wire import encode_header, encode_segment

        return len(encode_header(stream)) + sum(len(encode_segment(s)) for s in stream.segments)

    @staticmethod
    def units_of(stream: Any) -> list[bytes]:
        """What text-only sends: the encoded header, then each segment's metadata (sum = :meth:`payload_bytes`)."""
        from lgvsc.wire import encode_header, encode_segment

        return [encode_header(stream)] + [encode_segment(s) for s in stream.segments]

    def prepare(self, clip: VideoClip, stream: Any = None) -> Prepared:
        if stream is None:
            stream = SemanticScheme("skem", self.backends).encode(clip)
        units = self.units_of(stream)
        return Prepared(units=units, payload_bytes=sum(map(len, units)),
                        info={"segments": len(stream.segments), "keyframes": stream.keyframe_indices()})

    def skip_reason(self) -> str | None:
        """Why this profile cannot rebuild a text-only clip, or ``None`` when it can."""
        profile = getattr(self.backends, "profile", "classical")
        if profile == "classical":
            return ("text-only needs a text-to-video generator; the classical profile has none "
                    "(its generator interpolates between keyframes, and text-only sends none)")
        gen = self.backends.generator  # the hf profile loads its generator here
        if getattr(gen, "supports_text_only", False):
            return None
        reason = gen.text_only_reason() if hasattr(gen, "text_only_reason") else (
            f"the {getattr(gen, 'name', type(gen).__name__)} generator has no text-only mode")
        return f"text-only needs a text-to-video generator: {reason}"

    def receive(self, clip: VideoClip, prepared: Prepared, units: list[bytes | None]) -> Reception:
        from lgvsc.wire import decode_header, decode_segment

        reason = self.skip_reason()
        if reason is not None:
            raise SchemeSkipped(reason)
        n = clip.num_frames
        header_lost = units[0] is None
        boundaries: list[int] | None = None
        if not header_lost:
            try:
                boundaries = [i for i in decode_header(units[0]).keyframe_indices if 0 <= i < n]
            except ValueError as exc:  # PacketError  # CRC-clean units decode; counted, never fatal
                log.warning("text-only header undecodable: %s", exc)
                header_lost = True
        segs = []
        for u in units[1:]:
            if u is None:
                continue
            try:
                seg = decode_segment(u)
            except ValueError as exc:  # PacketError
                log.warning("text-only segment undecodable: %s", exc)
                continue
            if 0 <= seg.start_frame < seg.end_frame < n:
                segs.append(seg)
        if header_lost:
            # No header: the clip's format is known out of band (as for lgvsc); the received segments
            # carry their own spans, and each gap between them is generated as one concealed span.
            boundaries = sorted({0, n - 1} | {f for s in segs for f in (s.start_frame, s.end_frame)})
        boundaries = sorted(set(boundaries or []) | {0, max(n - 1, 0)})
        by_span = {(s.start_frame, s.end_frame): s for s in segs}
        gen = self.backends.generator
        out = np.empty((n, clip.height, clip.width, 3), np.uint8)
        concealed: list[int] = []
        prev_caption, prev_motion = "", 0.0
        spans = list(zip(boundaries, boundaries[1:], strict=False)) or [(0, 0)]
        for i, (a, b) in enumerate(spans):
            seg = by_span.get((a, b)) or next((s for s in segs if s.start_frame <= a and b <= s.end_frame), None)
            if seg is not None and seg.caption:
                prev_caption, prev_motion = seg.caption, float(seg.motion_score)
            else:
                concealed.append(i)
                if seg is not None:
                    prev_motion = float(seg.motion_score)
            # Spans share their boundary frame: the first span owns frame 0, every span its last frame.
            first = a if i == 0 else a + 1
            frames = gen.generate_text_only(prev_caption, b - a + 1, clip.width, clip.height, float(clip.fps),
                                            prev_motion)
            out[first:b + 1] = frames[first - a:]
        lost = sum(u is None for u in units[1:])
        return Reception(frames=out, stats={
            "units_sent": len(units),
            "units_lost": sum(u is None for u in units),
            "header_lost": header_lost,
            "frames_concealed": 0,
            "decode_failures": len(concealed),
            "concealment": (f"{lost} of {len(units) - 1} caption units lost"
                            + (", header lost (segment spans from the received captions)" if header_lost else "")
                            + (f"; captions taken from the previous segment (empty prompt before the first) for "
                               f"segments {concealed}" if concealed else "")),
        })


def make_scheme(name: str, backends: Any, gops: dict[str, int] | None = None, mtu: int = 1500,
                encoder_options: dict[str, Any] | None = None) -> Scheme:
    """A scheme by name (one of :data:`SCHEMES`); ``ValueError`` for an unknown name."""
    gops = gops or {}
    if name == "lgvsc":
        return SemanticScheme("skem", backends, mtu, encoder_options=encoder_options)
    if name == "skim":
        return SemanticScheme("skim", backends, mtu, encoder_options=encoder_options)
    if name in ("h264", "h265"):
        return H26xScheme(name, gops.get(name))
    if name == "text-only":
        return TextOnlyScheme(backends)
    raise ValueError(f"unknown scheme {name!r}; choose from {', '.join(SCHEMES)}")
