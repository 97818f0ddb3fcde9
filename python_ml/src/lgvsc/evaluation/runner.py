# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the evaluation grid: video × scheme × SNR × seed, one cached cell at a time.

Each cell sends a scheme's units through the link (:mod:`lgvsc.evaluation.link`),
rebuilds the clip and scores it against the source. A finished cell is stored
as ``OUTDIR/cells/<key>.json`` (plus a PNG of its middle frame), where the key
hashes the video's bytes, the normalisation, the scheme's parameters, the SNR,
the seed and the link settings: a rerun skips every cell already computed
(resume), and a change of any parameter computes new cells.

Identical receptions (same units received, e.g. every error-free cell of a
scheme) are decoded and scored once per run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lgvsc.errors import UserError
from lgvsc.evaluation.link import TRANSPORTS, Link, cell_seed
from lgvsc.evaluation.schemes import MATCHED, SCHEMES, Prepared, SchemeSkipped, make_scheme, units_digest

__all__ = ["DEFAULT_SNRS", "LGVSC_TARGET_CBR", "VIDEO_EXTENSIONS", "EvalConfig", "EvalRun", "find_videos",
           "preset_target_cbr", "run_evaluation"]

log = logging.getLogger(__name__)

DEFAULT_SNRS: tuple[float, ...] = (0.0, 2.0, 4.0, 6.0, 8.0, 10.0)
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".y4m", ".m4v", ".mpg", ".mpeg", ".ts")
CACHE_VERSION = 2
#: The paper's full-system CBR is 6.1–6.6e-4: each cell's semantic stream gets the largest whole number of
#: LDPC blocks of its preset whose CBR does not exceed the upper figure.
LGVSC_TARGET_CBR = 6.6e-4
SAMPLE_WIDTH = 288

#: Model-based metrics we never estimate; the reason is printed in the report.
UNAVAILABLE_METRICS = {
    "lpips": "unavailable: no LPIPS-VGG weights given (--lpips-weights: torchvision's VGG16 + the lpips "
             "package's lin0..lin4 heads, local files)",
    "dists": "unavailable: no DISTS weights given (--dists-weights: torchvision's VGG16 + DISTS alpha/beta, "
             "local files)",
}


@dataclass
class EvalConfig:
    """Everything that defines an evaluation (saved to ``metadata.json``)."""

    snrs: tuple[float, ...] = DEFAULT_SNRS
    schemes: tuple[str, ...] = SCHEMES
    #: PDU loss rates after the link (i.i.d., or Gilbert–Elliott with mean burst ``burst`` PDUs).
    losses: tuple[float, ...] = (0.0,)
    burst: float | None = None
    channel: str = "awgn"
    transport: str = "linksim"
    design_snr: float | None = None
    seeds: int = 1
    profile: str = "classical"
    profile_options: dict[str, Any] = field(default_factory=dict)
    width: int | None = 576
    height: int | None = 320
    fps: float | None = 24.0
    max_frames: int | None = None
    gops: dict[str, int] = field(default_factory=dict)
    mtu: int = 1500
    num_iter: int = 20
    clip_model: str | None = None
    keyframe_bytes: int | None = None
    #: Local weight files/folders for LPIPS-VGG and DISTS (``None``: reported unavailable).
    lpips_weights: tuple[str, ...] | None = None
    dists_weights: tuple[str, ...] | None = None
    #: Frames per clip scored by LPIPS/DISTS (evenly spaced; VGG16 is slow on a CPU).
    perceptual_frames: int = 16
    #: ``phy`` transport: gr-lgvsc PHY (ofdm, psk), its FEC (none, cc) and the GNU Radio interpreter.
    phy: str = "ofdm"
    fec: str = "none"
    #: ``phy`` transport, OFDM: the MCS of every cell (``auto``: the paper preset of the cell's SNR).
    mcs: str = "auto"
    gr_python: str = "/usr/bin/python3"
    #: torch CPU threads (``None``: leave torch's default). One thread is fastest for the small LDPC
    #: batches here when other processes share the cores (OpenMP spin-waits otherwise).
    threads: int | None = None

    def validate(self) -> None:
        """Raise :class:`UserError` naming the first bad setting."""
        from lgvsc.linksim import LINK_CHANNELS

        if not self.snrs:
            raise UserError("the SNR list is empty: give at least one --snr value")
        if any(not math.isfinite(s) for s in self.snrs):
            raise UserError(f"SNRs must be finite numbers, got {list(self.snrs)}")
        if not self.schemes:
            raise UserError("no scheme selected")
        bad = [s for s in self.schemes if s not in SCHEMES]
        if bad:
            raise UserError(f"unknown scheme(s) {', '.join(bad)}; choose from {', '.join(SCHEMES)}")
        if self.transport not in TRANSPORTS:
            raise UserError(f"unknown transport {self.transport!r}; choose one of {', '.join(TRANSPORTS)}")
        if self.transport == "phy":
            from lgvsc.evaluation.phy import PHY_CHANNELS

            if self.channel not in PHY_CHANNELS:
                raise UserError(f"channel {self.channel!r} is not offered by the phy transport; choose one of "
                                f"{', '.join(PHY_CHANNELS)}")
            if self.phy not in ("ofdm", "psk"):
                raise UserError(f"unknown PHY {self.phy!r}; choose ofdm or psk")
            if self.fec not in ("none", "cc"):
                raise UserError(f"unknown FEC mode {self.fec!r}; choose none or cc")
            from lgvsc.evaluation.phy import phy_mcs_names

            names = phy_mcs_names(self.phy)
            if self.mcs != "auto" and self.mcs not in names:
                raise UserError(f"unknown MCS {self.mcs!r} for the {self.phy} PHY; choose auto or one of "
                                f"{', '.join(names)}")
            if self.profile not in ("classical", "hf"):
                raise UserError(f"the phy transport runs the classical or hf profile, not {self.profile!r}")
        elif self.channel not in LINK_CHANNELS:
            raise UserError(f"unknown channel {self.channel!r}; choose one of {', '.join(LINK_CHANNELS)}")
        if self.perceptual_frames < 1:
            raise UserError("--perceptual-frames must be >= 1")
        for opt, paths in (("--lpips-weights", self.lpips_weights), ("--dists-weights", self.dists_weights)):
            for p in paths or ():
                if not Path(p).exists():
                    raise UserError(f"{opt}: {p}: no such file or folder")
        if self.seeds < 1:
            raise UserError(f"--seeds must be >= 1, got {self.seeds}")
        if not self.losses:
            raise UserError("the loss list is empty: give at least one --loss value")
        if any(not (math.isfinite(x) and 0.0 <= x < 1.0) for x in self.losses):
            raise UserError(f"--loss values must lie in [0, 1), got {list(self.losses)}")
        if self.burst is not None:
            from lgvsc.evaluation.loss import GilbertElliott

            if not (math.isfinite(self.burst) and self.burst >= 1.0):
                raise UserError(f"--burst-loss (mean burst length in PDUs) must be >= 1, got {self.burst}")
            for x in self.losses:
                try:
                    GilbertElliott(x, self.burst)
                except ValueError as exc:
                    raise UserError(f"--loss {x:g} --burst-loss {self.burst:g}: {exc}") from None
        if self.transport == "phy" and (any(x > 0 for x in self.losses) or self.burst is not None):
            raise UserError("--loss/--burst-loss run over the linksim transport (the phy transport's loss is "
                            "the radio's own)")
        if self.design_snr is not None and not math.isfinite(self.design_snr):
            raise UserError("--design-snr must be a finite number")
        for codec, gop in self.gops.items():
            if gop < 1:
                raise UserError(f"--{codec}-gop must be >= 1, got {gop}")
        if (self.width is None) != (self.height is None):
            raise UserError("give both width and height, or neither")
        if self.width is not None and (self.width % 2 or self.height % 2):
            raise UserError(f"width and height must be even (yuv420p), got {self.width}x{self.height}")
        if self.keyframe_bytes is not None and self.keyframe_bytes < 64:
            raise UserError("keyframe bytes must be >= 64")

    def link_params(self) -> dict[str, Any]:
        if self.transport == "phy":
            return {"transport": "phy", "channel": self.channel, "phy": self.phy, "fec": self.fec, "mcs": self.mcs,
                    "mtu": self.mtu}
        return {"transport": self.transport, "channel": self.channel, "design_snr": self.design_snr,
                "num_iter": self.num_iter}

    def metric_params(self) -> dict[str, Any]:
        """Identity of the model-based metrics (part of the cell key): weight files by path, size and mtime."""
        def ident(paths):
            if not paths:
                return None
            out = []
            for p in map(Path, paths):
                files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
                out += [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files]
            return out

        return {"clip_model": self.clip_model, "lpips": ident(self.lpips_weights),
                "dists": ident(self.dists_weights), "perceptual_frames": self.perceptual_frames}


def find_videos(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders expanded to their video files (sorted); :class:`UserError` if none."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS)
            if not found:
                raise UserError(f"{p}: folder contains no video files ({', '.join(VIDEO_EXTENSIONS)})")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise UserError(f"{p}: no such file or folder")
    if not out:
        raise UserError("no videos given")
    return out


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass
class EvalRun:
    """What :func:`run_evaluation` computed (or found in the cache)."""

    rows: list[dict[str, Any]]
    videos: list[dict[str, Any]]
    timings: dict[str, float]
    computed: int
    cached: int
    metric_notes: dict[str, str]
    cells_dir: Path


class _VideoState:
    """Lazily read clip and prepared schemes of one video."""

    def __init__(self, path: Path, key: str, config: EvalConfig, timings: dict[str, float]) -> None:
        self.path, self.key, self.config, self.timings = path, key, config, timings
        self._clip = None
        self.prepared: dict[tuple[str, str], Prepared] = {}
        self.schemes: dict[str, Any] = {}
        self.skem_streams: dict[str, Any] = {}  # per preset: the budget differs
        #: phy transport: the bytes lgvsc's loopback actually sent per (SNR, seed), the matched baselines' budget
        self.phy_lgvsc_bytes: dict[tuple[float, int], int] = {}

    @property
    def clip(self):
        if self._clip is None:
            from lgvsc.video import read_video

            t = time.perf_counter()
            c = self.config
            self._clip = read_video(self.path, c.width, c.height, c.fps, max_frames=c.max_frames)
            self.timings["read"] += time.perf_counter() - t
            if self._clip.width % 2 or self._clip.height % 2:
                raise UserError(f"{self.path}: {self._clip.width}x{self._clip.height} has an odd side; "
                                "give an even --width/--height")
        return self._clip


def _score(ref: np.ndarray, test: np.ndarray, clip_scorer: Any, perceptual: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    from lgvsc.metrics.fast import clip_quality

    out: dict[str, Any] = clip_quality(ref, test).means()
    out.update(lpips=float("nan"), dists=float("nan"),
               clip_score=float(clip_scorer.score(ref, test)) if clip_scorer is not None else float("nan"))
    for name, scorer in (perceptual or {}).items():
        out[name] = scorer.score(ref, test)
    return out


def preset_target_cbr(clip: Any, preset: Any, target: float = LGVSC_TARGET_CBR) -> float:
    """The encoder's ``target_cbr`` (its QPSK rate-1/2 units) that gives the byte budget of ``preset``.

    The budget is the largest payload in whole LDPC blocks of the preset (its modulation and code rate)
    whose paper CBR does not exceed ``target`` (:func:`lgvsc.accounting.payload_bits_for_cbr`).
    """
    from lgvsc.accounting import payload_bits_for_cbr

    bits = payload_bits_for_cbr(target, clip.width, clip.height, clip.num_frames, preset.modulation,
                                block=(preset.k, preset.n))
    return _target_for_bits(clip, bits)


def mcs_target_cbr(clip: Any, modulation: str, code_rate: float, target: float = LGVSC_TARGET_CBR) -> float:
    """As :func:`preset_target_cbr` for a gr-lgvsc MCS: the budget follows its modulation and code rate."""
    from lgvsc.accounting import payload_bits_for_cbr

    return _target_for_bits(clip, payload_bits_for_cbr(target, clip.width, clip.height, clip.num_frames,
                                                       modulation, code_rate=code_rate))


@dataclass(frozen=True)
class _McsBudget:
    """The phy transport's stand-in for a linksim preset: a name (cache key) and the encoder's target."""

    name: str
    target: float


def _budget_target(vs: _VideoState, preset: Any, config: EvalConfig) -> float | None:
    if config.keyframe_bytes or preset is None:  # no preset: the encoder's own default budget
        return None
    if isinstance(preset, _McsBudget):
        return preset.target
    return preset_target_cbr(vs.clip, preset)


def _target_for_bits(clip: Any, bits: int) -> float:
    from lgvsc.accounting import source_values

    budget_bytes = max(1, bits // 8)
    # The encoder's budget is floor(target_cbr · C·H·W·F) bits / 8 (one bit per QPSK-1/2 symbol).
    return (budget_bytes * 8 + 0.5) / source_values(clip.width, clip.height, clip.num_frames)


def _save_sample(frame: np.ndarray, path: Path) -> None:
    from PIL import Image

    img = Image.fromarray(frame)
    if img.width > SAMPLE_WIDTH:
        img = img.resize((SAMPLE_WIDTH, round(img.height * SAMPLE_WIDTH / img.width)), Image.Resampling.LANCZOS)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    img.save(tmp)
    os.replace(tmp, path)


def run_evaluation(videos: list[Path], outdir: str | os.PathLike, config: EvalConfig,
                   progress: bool = True) -> EvalRun:
    """Compute (or load from the cell cache) every cell; see the module docstring."""
    from tqdm import tqdm

    from lgvsc.accounting import cbr_for_bits, source_values
    from lgvsc.profiles import build_backends

    config.validate()
    if not videos:
        raise UserError("no videos given")
    outdir = Path(outdir)
    cells_dir = outdir / "cells"
    cells_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = defaultdict(float)
    t0 = time.perf_counter()
    if config.threads:
        import torch

        torch.set_num_threads(int(config.threads))
    backends = build_backends(config.profile, **config.profile_options)
    enc_opts = {"keyframe_bytes": config.keyframe_bytes} if config.keyframe_bytes else {}
    schemes = {name: make_scheme(name, backends, config.gops, config.mtu, enc_opts) for name in config.schemes}
    link = Link(config.channel, config.design_snr, config.num_iter)
    metric_notes = dict(UNAVAILABLE_METRICS)
    clip_scorer = None
    if config.clip_model:
        from lgvsc.metrics.clip_score import ClipScorer

        clip_scorer = ClipScorer(config.clip_model, device=config.profile_options.get("device") or "auto")
        metric_notes["clip_score"] = f"CLIP score with {config.clip_model}"
    else:
        metric_notes["clip_score"] = "unavailable: no CLIP weights given (--clip-model)"
    perceptual: dict[str, Any] = {}
    pf = config.perceptual_frames
    if config.lpips_weights:
        from lgvsc.metrics.lpips import LpipsScorer

        perceptual["lpips"] = LpipsScorer(config.lpips_weights, max_frames=pf)
        metric_notes["lpips"] = (f"LPIPS-VGG v0.1 (lower is better) from {', '.join(config.lpips_weights)}; "
                                 f"{pf} evenly spaced frames per clip")
    if config.dists_weights:
        from lgvsc.metrics.dists import DistsScorer

        perceptual["dists"] = DistsScorer(config.dists_weights, max_frames=pf)
        metric_notes["dists"] = (f"DISTS (lower is better) from {', '.join(config.dists_weights)}; "
                                 f"{pf} evenly spaced frames per clip")
    clip_scorer_all = (clip_scorer, perceptual)
    from lgvsc.metrics.fast import CONVENTIONS

    metric_notes.update(CONVENTIONS)
    metric_notes["ms_ssim"] = CONVENTIONS["ms_ssim"] + "; window 11 unless the frames are too small"
    timings["setup"] += time.perf_counter() - t0

    states = []
    for p in videos:
        t = time.perf_counter()
        c = config
        norm = {"width": c.width, "height": c.height, "fps": c.fps, "max_frames": c.max_frames}
        key = hashlib.sha256(json.dumps([_file_hash(p), norm], sort_keys=True).encode()).hexdigest()[:16]
        timings["hash"] += time.perf_counter() - t
        vs = _VideoState(p, key, config, timings)
        vs.backends, vs.encoder_options = backends, enc_opts
        states.append(vs)

    # SKIM's count is SKEM's: put lgvsc first so its stream is at hand.
    order = sorted(config.schemes, key=lambda s: SCHEMES.index(s))
    total = len(states) * len(order) * len(config.snrs) * len(config.losses) * config.seeds
    rows: list[dict[str, Any]] = []
    computed = cached = 0
    recon_cache: dict[tuple[str, str, str], tuple[dict[str, Any], dict[str, Any], str]] = {}
    with tqdm(total=total, desc="eval cells", unit="cell", disable=not progress) as bar:
        for vs in states:
            for name in order:
                scheme = schemes[name]
                for snr, loss in ((a, b) for a in config.snrs for b in config.losses):
                    for seed in range(config.seeds):
                        params = {"v": CACHE_VERSION, "video": vs.key, "scheme": _scheme_params(vs, scheme, name),
                                  "snr": float(snr), "seed": seed, "link": config.link_params(),
                                  "metrics": config.metric_params()}
                        if loss > 0 or config.burst is not None:
                            params["loss"] = [float(loss), config.burst]
                        ckey = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:24]
                        cpath = cells_dir / f"{ckey}.json"
                        if cpath.exists():
                            try:
                                rows.append(json.loads(cpath.read_text()))
                                _note_phy_bytes(vs, config, rows[-1])
                                cached += 1
                                bar.update(1)
                                continue
                            except (OSError, ValueError):
                                log.warning("cell cache %s unreadable; recomputing", cpath)
                        row = _compute_cell(vs, name, scheme, snr, seed, link, config, clip_scorer_all, ckey,
                                            cells_dir, recon_cache, timings, cbr_for_bits, source_values, loss)
                        _atomic_write(cpath, json.dumps(row, sort_keys=True).encode())
                        rows.append(row)
                        _note_phy_bytes(vs, config, row)
                        computed += 1
                        bar.update(1)
    video_info = []
    for vs in states:
        src = cells_dir / f"src-{vs.key}.png"
        entry = {"path": str(vs.path), "name": vs.path.name, "key": vs.key}
        if vs._clip is not None:
            c = vs._clip
            entry.update(width=c.width, height=c.height, fps=float(c.fps), num_frames=c.num_frames)
            if not src.exists():
                _save_sample(c.frames[c.num_frames // 2], src)
        video_info.append(entry)
    timings["total"] = time.perf_counter() - t0
    return EvalRun(rows=rows, videos=video_info, timings=dict(timings), computed=computed, cached=cached,
                   metric_notes=metric_notes, cells_dir=cells_dir)


def _note_phy_bytes(vs: _VideoState, config: EvalConfig, row: dict[str, Any]) -> None:
    if config.transport == "phy" and row.get("scheme") == "lgvsc" and row.get("status") == "ok":
        vs.phy_lgvsc_bytes[(float(row["snr_db"]), int(row["seed"]))] = int(row["payload_bytes"])


def _scheme_params(vs: _VideoState, scheme: Any, name: str) -> dict[str, Any]:
    p = scheme.params()
    if name == "skim":
        p["skim_count"] = "skem"  # SKEM's count for this video (a function of the video key)
    if name in ("lgvsc", "skim", "text-only", *MATCHED):
        p["budget"] = ["per-preset", LGVSC_TARGET_CBR]  # the cell's preset sets the semantic stream's budget
    if name in MATCHED and vs.config.transport == "phy":  # lgvsc's loopback bytes when it runs, else a local encode
        p["budget_from"] = "lgvsc cell" if "lgvsc" in vs.config.schemes else "local encode"
    return p


def _skem_stream(vs: _VideoState, scheme: Any, preset: Any, config: EvalConfig, timings: dict[str, float]):
    """The lgvsc (SKEM) stream of this video at ``preset``'s budget (encoded once per preset)."""
    from lgvsc.evaluation.schemes import SemanticScheme

    key = preset.name if preset is not None else "default"
    if key not in vs.skem_streams:
        t = time.perf_counter()
        skem = SemanticScheme("skem", vs.backends, config.mtu, encoder_options=vs.encoder_options)
        target = _budget_target(vs, preset, config)
        vs.skem_streams[key] = skem.encode(vs.clip, target)
        timings["encode:lgvsc"] += time.perf_counter() - t
    return vs.skem_streams[key]


def _prepare(vs: _VideoState, name: str, scheme: Any, timings: dict[str, float], preset: Any = None,
             config: EvalConfig | None = None) -> Prepared:
    """What ``name`` sends for this video in a cell of ``preset`` (semantic budgets and matched bytes follow it)."""
    per_preset = name in ("lgvsc", "skim", "text-only", *MATCHED)
    key = (name, (preset.name if preset is not None else "default") if per_preset else "")
    if key in vs.prepared:
        return vs.prepared[key]
    clip = vs.clip
    config = config or vs.config
    if per_preset:
        stream = _skem_stream(vs, scheme, preset, config, timings)
    t = time.perf_counter()
    if name == "lgvsc":
        prep = scheme.prepare(clip, stream)
    elif name == "skim":
        scheme.skim_count = len(stream.keyframes)
        prep = scheme.prepare(clip, target_cbr=_budget_target(vs, preset, config))
        scheme.skim_count = None
    elif name == "text-only":
        prep = scheme.prepare(clip, stream)
    elif name in MATCHED:
        from lgvsc.wire import stream_to_bytes

        try:
            prep = scheme.prepare(clip, len(stream_to_bytes(stream)))
        except SchemeSkipped as exc:
            prep = Prepared(units=[], payload_bytes=0, info={"skipped": str(exc)})
    else:
        prep = scheme.prepare(clip)
    timings[f"encode:{name}"] += time.perf_counter() - t
    vs.prepared[key] = prep
    return prep


#: What an encoder's ``Prepared.info`` contributes to a row.
_PREP_INFO_KEYS = ("gop", "qp", "num_pdus", "rung", "crf", "budget_bytes", "fill")


def _record_prepared(row: dict[str, Any], name: str, prep: Prepared) -> bool:
    """Copy the encoder's info into ``row`` (both transports); True when a matched scheme found no rung
    that fits, in which case ``row`` is complete as a skipped cell."""
    row.update({k: v for k, v in prep.info.items() if k in _PREP_INFO_KEYS})
    if name in MATCHED:
        row["ladder"] = json.dumps(prep.info.get("ladder", []))
        if "skipped" in prep.info:
            row.update(status="skipped", note=prep.info["skipped"], output_frames=0)
            return True
    return False


def _compute_cell(vs, name, scheme, snr, seed, link, config, scorers, ckey, cells_dir, recon_cache, timings,
                  cbr_for_bits, source_values, loss: float = 0.0) -> dict[str, Any]:
    if config.transport == "phy":
        return _compute_phy_cell(vs, name, scheme, snr, seed, config, scorers, ckey, cells_dir, timings,
                                 cbr_for_bits)
    from lgvsc.evaluation.loss import loss_mask

    clip_scorer, perceptual = scorers
    preset = link.preset(snr)
    prep = _prepare(vs, name, scheme, timings, preset, config)
    clip = vs.clip
    row: dict[str, Any] = {
        "video": vs.path.name, "video_key": vs.key, "scheme": name, "snr_db": float(snr),
        "loss": float(loss), "burst": config.burst if config.burst is not None else float("nan"),
        "design_snr_db": config.design_snr if config.design_snr is not None else float(snr),
        "channel": config.channel, "transport": config.transport, "seed": seed, "cell": ckey,
        "preset": preset.name, "k": preset.k, "n": preset.n, "modulation": preset.modulation,
        "frames": clip.num_frames, "width": clip.width, "height": clip.height, "fps": float(clip.fps),
        "payload_bytes": prep.payload_bytes,
        "cbr": cbr_for_bits(prep.payload_bytes * 8, clip.info(), preset.modulation, block=(preset.k, preset.n)),
    }
    if _record_prepared(row, name, prep):
        return row
    if name == "text-only":
        reason = scheme.skip_reason()
        if reason is not None:  # no text-to-video generator in this profile: only the CBR is computed
            row.update(status="skipped", note=reason, output_frames=0)
            return row
    t = time.perf_counter()
    out = link.send(prep.units, snr, cell_seed(seed, snr, name, vs.key))
    timings["link"] += time.perf_counter() - t
    row.update(out.stats)
    row["cbr_link"] = out.stats["channel_symbols"] / source_values(clip.width, clip.height, clip.num_frames)
    received = [None if (err and scheme.drops_errored_units) else u
                for u, err in zip(out.units, out.errored, strict=True)]
    if loss > 0:  # PDU loss after the link, the same model for every scheme
        mask = loss_mask(len(received), loss, config.burst, cell_seed(seed, snr + 1000 * loss, name, vs.key))
        received = [None if m else u for u, m in zip(received, mask, strict=True)]
        row["pdus_dropped_by_loss"] = int(mask.sum())
    else:
        row["pdus_dropped_by_loss"] = 0
    rkey = (vs.key, name, units_digest(received))
    if rkey not in recon_cache:
        t = time.perf_counter()
        try:
            rec = scheme.receive(clip, prep, received)
        except SchemeSkipped as exc:
            row.update(status="skipped", note=str(exc), output_frames=0)
            return row
        timings[f"decode:{name}"] += time.perf_counter() - t
        if len(rec.frames) != clip.num_frames:
            raise RuntimeError(f"{name} produced {len(rec.frames)} frames for {clip.num_frames}")
        t = time.perf_counter()
        scores = _score(clip.frames, rec.frames, clip_scorer, perceptual)
        timings["metrics"] += time.perf_counter() - t
        sample = f"{ckey}.png"
        _save_sample(rec.frames[clip.num_frames // 2], cells_dir / sample)
        stats = dict(rec.stats)
        stats["output_frames"] = int(len(rec.frames))
        recon_cache[rkey] = (scores, stats, sample)
    scores, stats, sample = recon_cache[rkey]
    if not (cells_dir / sample).exists():  # reused reconstruction from a cell computed in an earlier run
        sample = ""
    row.update(scores)
    row.update({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in stats.items()})
    row.update(status="ok", note="", sample=sample)
    return row


def _phy_clip_path(vs: _VideoState, cells_dir: Path) -> Path:
    """The normalised clip written losslessly once per video, for the loopback's encoder worker."""
    from lgvsc.video import write_video

    path = cells_dir / f"clip-{vs.key}.mp4"
    if not path.exists():
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.mp4")
        write_video(tmp, vs.clip.frames, vs.clip.fps, crf=0)
        os.replace(tmp, path)
    return path


def _compute_phy_cell(vs, name, scheme, snr, seed, config, scorers, ckey, cells_dir, timings,
                      cbr_for_bits) -> dict[str, Any]:
    """A cell over the real GNU Radio PHY (:mod:`lgvsc.evaluation.phy`) at the cell's MCS."""
    from lgvsc.accounting import source_values
    from lgvsc.evaluation.phy import cell_mcs, mcs_rate, phy_seed, run_pdu_cell, run_phy_cell

    clip_scorer, perceptual = scorers
    clip = vs.clip
    mcs = cell_mcs(snr, config.mcs, config.phy, config.fec)
    modulation, rate = mcs_rate(mcs, config.phy)
    budget = _McsBudget(f"phy:{config.phy}:{mcs}", mcs_target_cbr(clip, modulation, rate))
    row: dict[str, Any] = {
        "video": vs.path.name, "video_key": vs.key, "scheme": name, "snr_db": float(snr),
        "loss": 0.0, "design_snr_db": float("nan"), "channel": config.channel, "transport": "phy", "seed": seed,
        "cell": ckey, "preset": f"{config.phy} {mcs}", "mcs": mcs, "k": None, "n": None, "modulation": modulation,
        "code_rate": rate, "frames": clip.num_frames, "width": clip.width, "height": clip.height,
        "fps": float(clip.fps),
    }

    def cbr(nbytes: int) -> float:
        return cbr_for_bits(nbytes * 8, clip.info(), modulation, code_rate=rate)

    if name in ("h264", "h265", "text-only", *MATCHED):
        sent = vs.phy_lgvsc_bytes.get((float(snr), int(seed)))
        if name in MATCHED and sent is not None:  # the bytes lgvsc's loopback sent in this cell (lgvsc runs first)
            key = (name, f"phy-bytes:{sent}")
            if key not in vs.prepared:
                t = time.perf_counter()
                try:
                    vs.prepared[key] = scheme.prepare(clip, sent)
                except SchemeSkipped as exc:
                    vs.prepared[key] = Prepared(units=[], payload_bytes=0, info={"skipped": str(exc)})
                timings[f"encode:{name}"] += time.perf_counter() - t
            prep = vs.prepared[key]
        else:  # no lgvsc cell in this run: the lgvsc stream encoded here at the cell's MCS budget
            prep = _prepare(vs, name, scheme, timings, budget, config)
        row["payload_bytes"] = prep.payload_bytes
        row["cbr"] = cbr(prep.payload_bytes)
        if _record_prepared(row, name, prep):
            return row
        if name == "text-only":
            row.update(status="skipped", output_frames=0,
                       note=scheme.skip_reason() or "text-only runs over the linksim transport only (the phy "
                                                    "loopback carries semantic streams)")
            return row
        if config.channel != "awgn":
            row.update(status="skipped", output_frames=0,
                       note="H.26x PDUs go through the PHY with GNU Radio's channel_model (AWGN) only; the "
                            f"{config.channel} emulator runs inside the semantic loopback")
            return row
        t = time.perf_counter()
        out = run_pdu_cell(prep.units, snr, phy_seed(seed, snr, name, vs.key), cells_dir / f"phy-{ckey}",
                           phy=config.phy, fec=config.fec, mcs=mcs, mtu=config.mtu, gr_python=config.gr_python)
        timings["phy:pdus"] += time.perf_counter() - t
        row.update(out.stats)
        row["cbr_link"] = out.stats["samples_tx"] / source_values(clip.width, clip.height, clip.num_frames)
        t = time.perf_counter()
        rec = scheme.receive(clip, prep, out.received)
        timings[f"decode:{name}"] += time.perf_counter() - t
        if len(rec.frames) != clip.num_frames:
            raise RuntimeError(f"{name} produced {len(rec.frames)} frames for {clip.num_frames}")
        t = time.perf_counter()
        row.update(_score(clip.frames, rec.frames, clip_scorer, perceptual))
        timings["metrics"] += time.perf_counter() - t
        sample = f"{ckey}.png"
        _save_sample(rec.frames[clip.num_frames // 2], cells_dir / sample)
        row.update({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in rec.stats.items()})
        row["output_frames"] = int(len(rec.frames))
        row["concealment"] = f"PHY {mcs}: {row.get('concealment', '')}"
        row.update(status="ok", note="", sample=sample)
        return row
    t = time.perf_counter()
    clip_path = _phy_clip_path(vs, cells_dir)
    timings["phy:write clip"] += time.perf_counter() - t
    t = time.perf_counter()
    out = run_phy_cell(clip, clip_path, scheme.method, snr, phy_seed(seed, snr, name, vs.key),
                       cells_dir / f"phy-{ckey}", channel=config.channel, phy=config.phy, fec=config.fec,
                       profile=config.profile, keyframe_bytes=config.keyframe_bytes, gr_python=config.gr_python,
                       generator=scheme.backends.generator, mcs=mcs, mtu=config.mtu,
                       target_cbr=_budget_target(vs, budget, config))
    timings["phy:loopback"] += time.perf_counter() - t
    if out.payload_bytes < 0:  # header lost: the loopback left no stream; its size is the local encoder's
        out.payload_bytes = _prepare(vs, name, scheme, timings, budget, config).payload_bytes
    row["payload_bytes"] = out.payload_bytes
    row["cbr"] = cbr(out.payload_bytes)
    t = time.perf_counter()
    row.update(_score(clip.frames, out.frames, clip_scorer, perceptual))
    timings["metrics"] += time.perf_counter() - t
    sample = f"{ckey}.png"
    _save_sample(out.frames[clip.num_frames // 2], cells_dir / sample)
    row.update({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in out.stats.items()})
    row["num_pdus"] = out.stats["pdus_sent"]
    if out.stats["header_lost"]:
        row["concealment"] = ("no stream header reached the decoder (all-grey full-length video); link counters "
                              "unknown: the loopback leaves no report for such a run")
        row["keyframes_sent"] = json.dumps(_prepare(vs, name, scheme, timings, budget, config).info["keyframes"])
        row["keyframes_lost"] = row["keyframes_sent"]
    else:
        row["concealment"] = (f"{row['pdus_lost']} of {row['pdus_sent']} PDUs lost on the PHY ({mcs}); keyframes "
                              f"concealed: {out.stats['keyframes_lost']}")
    row.update(status="ok", note="", sample=sample)
    return row


def config_dict(config: EvalConfig) -> dict[str, Any]:
    """JSON-ready form of ``config``."""
    d = asdict(config)
    d["snrs"] = list(config.snrs)
    d["schemes"] = list(config.schemes)
    return d
