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
import math
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
    "MatchedScheme",
    "MATCHED",
    "MATCHED_LADDER",
    "TextOnlyScheme",
    "concealed_frames",
    "fragment_units",
    "SchemeSkipped",
    "make_scheme",
]

log = logging.getLogger(__name__)

#: Scheme names in report order.
SCHEMES: tuple[str, ...] = ("lgvsc", "skim", "h264", "h265", "h264-matched", "h265-matched", "av1-matched",
                            "text-only")
#: The equal-bytes conventional baselines (:class:`MatchedScheme`): codec per scheme name.
MATCHED: dict[str, str] = {"h264-matched": "h264", "h265-matched": "h265", "av1-matched": "av1"}
#: The ladder the matched baselines choose from: (size divisor, frame-rate divisor), best rung wins.
MATCHED_LADDER: tuple[tuple[int, int], ...] = ((2, 1), (2, 2), (3, 2), (3, 4), (4, 4))
#: A matched stream uses between this fraction of the lgvsc bytes and all of them (never more).
MATCHED_FILL = 0.95

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

    def encode(self, clip: VideoClip, target_cbr: float | None = None):
        """The semantic stream; ``target_cbr`` (the encoder's QPSK-rate-1/2 units) sets the byte budget."""
        from lgvsc.encoder import EncoderConfig, SemanticEncoder

        opts = dict(self.encoder_options)
        if target_cbr is not None and opts.get("keyframe_bytes") is None:
            opts["target_cbr"] = float(target_cbr)
        cfg = EncoderConfig(method=self.method, skim_count=self.skim_count, **opts)
        return SemanticEncoder(self.backends, cfg).encode(clip)

    def prepare(self, clip: VideoClip, stream: Any = None, target_cbr: float | None = None) -> Prepared:
        from lgvsc.packets import packetize
        from lgvsc.wire import stream_to_bytes

        stream = stream if stream is not None else self.encode(clip, target_cbr)
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
            "frames_concealed": concealed_frames(report, clip.num_frames),
            "decode_failures": int(len(report.keyframes_concealed) + len(report.captions_concealed)),
            "concealment": report.summary(),
        })


def concealed_frames(report: Any, num_frames: int) -> int:
    """Frames of segments whose keyframe (either end) or metadata was concealed; all of them if all grey."""
    if report.all_grey:
        return int(num_frames)
    kfs = sorted(report.keyframes_expected)
    bad_kf = set(report.keyframes_concealed)
    bad_seg = set(report.segments_missing) | set(report.captions_concealed)
    frames: set[int] = set()
    for i, (a, b) in enumerate(zip(kfs, kfs[1:], strict=False)):
        if a in bad_kf or b in bad_kf or i in bad_seg:
            frames.update(range(a, b + 1))
    frames.update(k for k in bad_kf if 0 <= k < num_frames)
    return len(frames)


def fragment_units(units: list[bytes], mtu: int) -> tuple[list[bytes], list[int]]:
    """Cut each access unit into PDUs of at most ``mtu`` bytes; returns the PDUs and each one's unit index."""
    pdus, owner = [], []
    for i, u in enumerate(units):
        for j in range(0, max(len(u), 1), mtu):
            pdus.append(u[j:j + mtu])
            owner.append(i)
    return pdus, owner


def reassemble_units(pdus: list[bytes | None], owner: list[int], count: int) -> list[bytes | None]:
    """Each access unit from its PDUs as received: the concatenation of those that arrived (``None``: none did)."""
    parts: list[list[bytes]] = [[] for _ in range(count)]
    seen = [False] * count
    for p, i in zip(pdus, owner, strict=True):
        if p is not None:
            parts[i].append(p)
            seen[i] = True
    return [b"".join(ps) if ok else None for ps, ok in zip(parts, seen, strict=True)]


_ENCODERS = {"h264": "libx264", "h265": "libx265", "av1": "libsvtav1"}
_DECODERS = {"h264": "h264", "h265": "hevc", "av1": "libdav1d"}


def _encode_frames(frames: np.ndarray, fps: Fraction, codec: str, options: dict[str, str]
                   ) -> tuple[list[bytes], list[int], list[int]]:
    """Access units (decode order), their pts and dts, from PyAV's encoder for ``codec``."""
    import os

    import av

    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1: errors only (it prints its banner otherwise)
    ctx = av.CodecContext.create(_ENCODERS[codec], "w")
    ctx.height, ctx.width = frames.shape[1:3]
    ctx.pix_fmt = "yuv420p"
    rate = Fraction(fps).limit_denominator(1001)
    ctx.time_base = 1 / rate
    ctx.framerate = rate
    ctx.options = dict(options)
    units, pts, dts = [], [], []

    def take(packets) -> None:
        for p in packets:
            units.append(bytes(p))
            pts.append(int(p.pts))
            dts.append(int(p.dts) if p.dts is not None else int(p.pts))

    for i, f in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
        vf.pts = i
        take(ctx.encode(vf))
    take(ctx.encode(None))
    return units, pts, dts


def _encode_h26x(clip: VideoClip, codec: str, gop: int, qp: int) -> tuple[list[bytes], list[int], list[int]]:
    """Access units (decode order), their pts and dts, from PyAV's libx264/libx265 at fixed QP and GOP."""
    # Fixed QP and a fixed GOP: keyint = min-keyint = GOP, no scene-cut I-frames.
    params = f"qp={qp}:keyint={gop}:min-keyint={gop}:scenecut=0"
    if codec == "h265":
        options = {"x265-params": params + ":log-level=error", "preset": "medium"}
    else:
        options = {"x264-params": params, "preset": "medium"}
    return _encode_frames(clip.frames, clip.fps, codec, options)


def _decode_h26x(codec: str, units: list[bytes | None], pts: list[int], dts: list[int], num_frames: int,
                 height: int, width: int, delivered: set[int] | None = None) -> tuple[np.ndarray, int, int]:
    """Decode (possibly corrupted) access units; returns frames, frames not delivered, decoder errors.

    ``delivered``, if given, receives the indices of the frames the decoder delivered.
    """
    import av

    ctx = av.CodecContext.create(_DECODERS[codec], "r")
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
    if delivered is not None:
        delivered.update(got)
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
    """H.264 / H.265 at QP 51 with a fixed GOP, bit errors left in (see the module docstring).

    The access units travel as PDUs of at most ``mtu`` bytes (fragments, as RTP's FU-A); the receiver joins
    the fragments of each access unit that arrived (with their bit errors) and FFmpeg decodes that.
    """

    drops_errored_units = False

    def __init__(self, codec: str, gop: int | None = None, qp: int = H26X_QP, mtu: int = 1500) -> None:
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
        self.mtu = int(mtu)

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "gop": self.gop, "qp": self.qp, "mtu": self.mtu}

    def prepare(self, clip: VideoClip) -> Prepared:
        if clip.width % 2 or clip.height % 2:
            raise ValueError(f"{self.codec} (yuv420p) needs even frame sizes, got {clip.width}x{clip.height}")
        units, pts, dts = _encode_h26x(clip, self.codec, self.gop, self.qp)
        pdus, owner = fragment_units(units, self.mtu)
        return Prepared(units=pdus, payload_bytes=sum(map(len, units)),
                        info={"gop": self.gop, "qp": self.qp, "access_units": len(units), "num_pdus": len(pdus)},
                        context=(pts, dts, owner))

    def receive(self, clip: VideoClip, prepared: Prepared, units: list[bytes | None]) -> Reception:
        pts, dts, owner = prepared.context
        aus = reassemble_units(units, owner, len(pts))
        frames, missing, errors = _decode_h26x(self.codec, aus, pts, dts, clip.num_frames, clip.height,
                                               clip.width)
        corrupted = sum(u is not None and u != s for u, s in zip(units, prepared.units, strict=True))
        lost = sum(u is None for u in units)
        return Reception(frames=frames, stats={
            "units_sent": len(units),
            "units_corrupted": corrupted,
            "pdus_sent": len(units),
            "pdus_lost": lost,
            "frames_concealed": missing,
            "decode_failures": missing,
            "decoder_errors": errors,
            "concealment": f"{missing} of {clip.num_frames} frames not delivered by the decoder "
                           f"(shown as a repeat of the last delivered frame, black before the first); "
                           f"{corrupted} PDUs carried bit errors, {lost} lost; {errors} decoder errors",
        })


@dataclass
class _Rung:
    size_div: int
    rate_div: int
    width: int
    height: int
    crf: float
    bytes: int
    units: list[bytes]
    pts: list[int]
    dts: list[int]
    psnr_y: float = float("nan")


class MatchedScheme(Scheme):
    """An ordinary codec at the bytes lgvsc used in the same cell (the equal-bytes baseline).

    ``prepare(clip, budget)`` tries each rung of :data:`MATCHED_LADDER` (frame size / d, frame rate / r):
    a CRF search (bisection; x264/x265 take fractional CRFs, SVT-AV1 integers) finds the best quality whose
    bitstream lies within [:data:`MATCHED_FILL` · budget, budget] bytes — never above — and the rung whose
    error-free decode, upscaled (Lanczos) and frame-repeated back to the clip's size and rate, has the
    highest luma PSNR is kept. Its access units travel as PDUs of ``mtu`` bytes through the same link as
    lgvsc's; a PDU with a bit error is dropped (the PHY's CRC, as for lgvsc), and FFmpeg decodes whatever
    arrives (the received fragments of each access unit, joined). Frames it does not deliver repeat the last
    delivered one (black before the first); the decoded frames are upscaled and repeated like the clean ones.
    """

    drops_errored_units = True
    _PRESETS = {"h264": {"preset": "slow"}, "h265": {"preset": "fast"}, "av1": {"preset": "8"}}
    _CRF_RANGE = {"h264": (0.0, 51.0), "h265": (0.0, 51.0), "av1": (1.0, 63.0)}

    def __init__(self, codec: str, mtu: int = 1500, ladder: tuple[tuple[int, int], ...] = MATCHED_LADDER,
                 max_steps: int = 8) -> None:
        if codec not in _ENCODERS:
            raise ValueError(f"codec must be one of {', '.join(_ENCODERS)}, got {codec!r}")
        self.codec = codec
        self.name = f"{codec}-matched"
        self.mtu = int(mtu)
        self.ladder = tuple(ladder)
        self.max_steps = int(max_steps)

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "mtu": self.mtu, "ladder": [list(r) for r in self.ladder],
                "fill": MATCHED_FILL, "options": self._PRESETS[self.codec], "v": 1}

    def _options(self, crf: float) -> dict[str, str]:
        opts = dict(self._PRESETS[self.codec])
        if self.codec == "h265":
            opts["crf"] = f"{crf:.3f}"
            opts["x265-params"] = "log-level=error:info=0"  # no encoder-settings SEI (kBs per keyframe)
        elif self.codec == "av1":
            opts["crf"] = str(int(round(crf)))
        else:
            opts["crf"] = f"{crf:.3f}"
        return opts

    @staticmethod
    def _rung_frames(clip: VideoClip, size_div: int, rate_div: int) -> tuple[np.ndarray, int, int]:
        import cv2

        # Multiples of 8: x265 corrupts its heap on other sizes (seen at 42x32); harmless for the others.
        w = max(16, (clip.width // size_div) // 8 * 8)
        h = max(16, (clip.height // size_div) // 8 * 8)
        frames = clip.frames[::rate_div]
        small = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
        return small, w, h

    def _search(self, clip: VideoClip, size_div: int, rate_div: int, budget: int) -> _Rung | None:
        """The lowest CRF (best quality) whose bitstream fits the budget on this rung, or None."""
        small, w, h = self._rung_frames(clip, size_div, rate_div)
        if self.codec == "h265" and min(w, h) < 64:
            return None  # x265 corrupts its heap on frames smaller than its 64-pixel CTU (seen at 40x32)
        fps = Fraction(clip.fps).limit_denominator(1001) / rate_div
        lo, hi = self._CRF_RANGE[self.codec]
        integer = self.codec == "av1"
        best: _Rung | None = None

        def trial(crf: float) -> _Rung:
            units, pts, dts = _encode_frames(small, fps, self.codec, self._options(crf))
            return _Rung(size_div, rate_div, w, h, crf, sum(map(len, units)), units, pts, dts)

        top = trial(hi)
        if top.bytes > budget:
            return None  # even the coarsest quantiser does not fit
        best = top
        goal = math.log((1 + MATCHED_FILL) / 2 * budget)
        fit, over = (hi, math.log(top.bytes)), None  # bracketing (crf, log bytes): fits / too big
        slope = math.log(2) / 6  # bitstream roughly doubles every 6 CRF steps: the first guess only
        tried = {hi}
        for _ in range(self.max_steps):
            if best.bytes >= MATCHED_FILL * budget:
                break
            if over is None:
                crf = fit[0] - (goal - fit[1]) / slope
            else:  # interpolate log bytes between the bracket's ends (regula falsi)
                (c0, l0), (c1, l1) = fit, over
                crf = c0 + (goal - l0) * (c1 - c0) / (l1 - l0) if l1 != l0 else (c0 + c1) / 2
                crf = min(max(crf, min(c0, c1) + 0.05), max(c0, c1) - 0.05)
            crf = min(max(crf, lo), hi)
            if integer:
                crf = float(round(crf))
            if crf in tried:
                break
            tried.add(crf)
            r = trial(crf)
            if r.bytes <= budget:
                fit = (crf, math.log(r.bytes))
                if r.crf < best.crf:
                    best = r
            else:
                over = (crf, math.log(r.bytes))
        return best

    def _upsample(self, small: np.ndarray, rung: _Rung, clip: VideoClip) -> np.ndarray:
        import cv2

        out = np.empty((clip.num_frames, clip.height, clip.width, 3), np.uint8)
        for i in range(clip.num_frames):
            j = min(i // rung.rate_div, len(small) - 1)
            if i % rung.rate_div == 0 or i == 0:
                frame = cv2.resize(small[j], (clip.width, clip.height), interpolation=cv2.INTER_LANCZOS4)
            out[i] = frame
        return out

    def prepare(self, clip: VideoClip, budget_bytes: int | None = None) -> Prepared:
        from lgvsc.metrics.fast import QualityAccumulator

        if budget_bytes is None or budget_bytes <= 0:
            raise ValueError(f"{self.name} needs the lgvsc bytes of the cell as its budget")
        tried = []
        best: _Rung | None = None
        for size_div, rate_div in self.ladder:
            r = self._search(clip, size_div, rate_div, int(budget_bytes))
            if r is None:
                tried.append({"rung": f"1/{size_div} size, 1/{rate_div} rate", "fits": False})
                continue
            n_small = len(clip.frames[::rate_div])
            small, _, _ = _decode_h26x(self.codec, r.units, r.pts, r.dts, n_small, r.height, r.width)
            acc = QualityAccumulator(ms_ssim=False, ssim=False)  # the rung is chosen by luma PSNR only
            acc.add(clip.frames, self._upsample(small, r, clip))
            r.psnr_y = acc.result().means()["psnr_y"]
            tried.append({"rung": f"{r.width}x{r.height}@{float(clip.fps) / rate_div:g}", "crf": r.crf,
                          "bytes": r.bytes, "psnr_y": round(r.psnr_y, 3)})
            if best is None or r.psnr_y > best.psnr_y:
                best = r
        if best is None:
            raise SchemeSkipped(f"{self.name}: no rung of the ladder fits in {budget_bytes} bytes "
                                f"(even the coarsest quantiser at the smallest size is larger)")
        pdus, owner = fragment_units(best.units, self.mtu)
        info = {"budget_bytes": int(budget_bytes), "rung": f"{best.width}x{best.height}@"
                f"{float(clip.fps) / best.rate_div:g}", "crf": best.crf, "access_units": len(best.units),
                "num_pdus": len(pdus), "fill": best.bytes / budget_bytes, "ladder": tried}
        return Prepared(units=pdus, payload_bytes=best.bytes, info=info, context=(best, owner))

    def receive(self, clip: VideoClip, prepared: Prepared, units: list[bytes | None]) -> Reception:
        rung, owner = prepared.context
        aus = reassemble_units(units, owner, len(rung.pts))
        n_small = len(clip.frames[::rung.rate_div])
        delivered: set[int] = set()
        small, missing, errors = _decode_h26x(self.codec, aus, rung.pts, rung.dts, n_small, rung.height,
                                              rung.width, delivered)
        frames = self._upsample(small, rung, clip)
        # Every output frame shown for a coded frame the decoder did not deliver is concealed.
        concealed = sum(1 for i in range(clip.num_frames) if min(i // rung.rate_div, n_small - 1) not in delivered)
        lost = sum(u is None for u in units)
        return Reception(frames=frames, stats={
            "units_sent": len(units),
            "pdus_sent": len(units),
            "pdus_lost": lost,
            "frames_concealed": concealed,
            "decode_failures": missing,
            "decoder_errors": errors,
            "concealment": f"{missing} of {n_small} coded frames ({prepared.info['rung']}) not delivered by the "
                           f"decoder, {concealed} of {clip.num_frames} output frames concealed (repeat of the last "
                           f"delivered frame, black before the first); {lost} of {len(units)} PDUs lost",
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
        return H26xScheme(name, gops.get(name), mtu=mtu)
    if name in MATCHED:
        return MatchedScheme(MATCHED[name], mtu=mtu)
    if name == "text-only":
        return TextOnlyScheme(backends)
    raise ValueError(f"unknown scheme {name!r}; choose from {', '.join(SCHEMES)}")
