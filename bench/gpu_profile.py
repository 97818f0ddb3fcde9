# SPDX-License-Identifier: GPL-3.0-or-later
"""GPU profile of the hf profile at full size: PSSS, SKEM and DSA with randomly initialised models.

Full-size models are built from their published configs (``bench/gpu_profile_configs.json``)
with random weights: random init costs exactly what trained weights cost, and nothing is
downloaded. Measured, per model:

- **PSSS** (judges: LLaVA-1.5-7B, Qwen2.5-VL-3B): seconds per candidate of the paper's two
  rounds (64-token descriptions), one candidate at a time (the last keyframe's description
  reused), naively per pair (both frames described), and in batches of ``--batch``.
- **SKEM** real-time factor on a ``--clip-seconds`` clip at 24 fps (candidates every 0.2 s),
  through :func:`lgvsc.skem.skem` itself (speculative batches), and whether the speculative
  batches pick exactly the sequential keyframes (threshold put between the scores of a
  short probe, since random weights give no semantic scores).
- **DSA** (generators: LTX-Video-2B, Wan2.1-FLF2V-14B): seconds per generated second of a
  ``--frames``-frame segment at ``--size`` through :class:`lgvsc.backends.hf_generator.HFSegmentGenerator`
  (per DSA preset), the time of one denoising step, and peak GPU memory.

Each figure is printed against its target (docs/models.md) with the ratio, and all go to
``--out`` as JSON. ``--tiny`` uses the tiny shapes of :mod:`lgvsc.testing.tiny_models` on the
CPU (CI keeps the script working with it; its figures say nothing about full size).
``--params-only`` builds every full-size model on PyTorch's meta device (no memory) and prints
the exact parameter counts and bf16 weight sizes.

Run on a GPU: ``.venv/bin/python bench/gpu_profile.py --out gpu_profile.json``
Run in CI: ``.venv/bin/python bench/gpu_profile.py --tiny --out /tmp/gp.json``
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main", "load_configs", "TensorJudge", "build_vlm", "build_pipeline", "TARGETS"]

CONFIGS = Path(__file__).with_name("gpu_profile_configs.json")
FPS = 24
#: Targets of issue 16 (one H100/H200-class GPU, bf16); not applicable to --tiny runs.
TARGETS = {
    "psss_batched_s_per_candidate": 0.2,  # <= : 1x real time with candidates every 0.2 s
    "skem_realtime_factor": 1.0,  # >=
    "dsa_ltx_s_per_generated_s": 5.0,  # <= ; the paper's Open-Sora: 24.5
}
#: Reference figures measured on one H100 with random-init full-size models (docs/DESIGN.md), for the ratios.
ANCHORS = {"llava_naive_pair_s": 6.1, "llava_reuse_s": 3.1, "llava_batch16_s": 0.22, "wan14b_step_s": 0.68,
           "ltx2b_step_s": 0.077}


def load_configs(path: Path = CONFIGS) -> dict[str, Any]:
    """The published configs (and tiny shapes) of every profiled model."""
    return json.loads(Path(path).read_text())


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _now(device: str) -> float:
    _sync(device)
    return time.perf_counter()


@contextlib.contextmanager
def building(device: str, dtype) -> Iterator[None]:
    """Create parameters directly on ``device`` in ``dtype`` (no full-precision CPU copy of a 14B model)."""
    import torch

    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            yield
    finally:
        torch.set_default_dtype(old)


def _params(*modules) -> int:
    return int(sum(p.numel() for m in modules if m is not None for p in m.parameters()))


def _peak_gb(device: str) -> float | None:
    import torch

    if device.startswith("cuda"):
        return round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return None


def _reset_peak(device: str) -> None:
    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


# ---------------------------------------------------------------------------------------------- VLM (PSSS)


def build_vlm(entry: dict[str, Any], tiny: bool, device: str, dtype):
    """``(model, config, image_size)``: the VLM of ``entry`` with random weights."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    spec = entry["tiny"] if tiny else entry
    cfg_dict = dict(spec["config"])
    cfg = AutoConfig.for_model(cfg_dict.pop("model_type"), **cfg_dict)
    with building(device, dtype):
        model = AutoModelForImageTextToText.from_config(cfg, dtype=dtype)
    return model.eval(), cfg, int(spec["image_size"])


class TensorJudge:
    """The paper's two-round PSSS at a real VLM's shapes, fed token ids directly (random weights have no
    tokenizer): round 1 generates exactly ``description_tokens`` tokens per frame from the image tokens and a
    24-token instruction; round 2 reads both descriptions in a 33-token question and takes ``P(no) - P(yes)``
    of the first generated token. It has SKEM's judge interface (``describe``, ``compare``, ``compare_batch``,
    ``batch_size``), so :func:`lgvsc.skem.skem` runs on it unchanged.
    """

    name = "tensor-psss"

    def __init__(self, model, cfg, family: str, image_size: int, device: str, description_tokens: int = 64,
                 batch_size: int = 16) -> None:
        import torch

        self.model, self.cfg, self.family = model, cfg, family
        self.image_size, self.device = int(image_size), device
        self.description_tokens, self.batch_size = int(description_tokens), int(batch_size)
        text = cfg.get_text_config()
        vocab = int(text.vocab_size)
        if family == "llava":
            vc = cfg.vision_config
            self.image_token = int(getattr(cfg, "image_token_id", None) or cfg.image_token_index)
            self.image_tokens = (self.image_size // int(vc.patch_size)) ** 2  # "default" strategy drops CLS
            self.wrap = ([], [])
        elif family == "qwen2_5_vl":
            vc = cfg.vision_config
            self.patch, self.merge, self.tpatch = int(vc.patch_size), int(vc.spatial_merge_size), int(
                vc.temporal_patch_size)
            self.grid = self.image_size // self.patch
            self.image_token = int(cfg.image_token_id)
            self.image_tokens = self.grid * self.grid // (self.merge * self.merge)
            self.wrap = ([int(cfg.vision_start_token_id)], [int(cfg.vision_end_token_id)])
        else:
            raise ValueError(f"unknown VLM family {family!r}")
        specials = {self.image_token, *self.wrap[0], *self.wrap[1]}
        for key in ("bos_token_id", "eos_token_id", "pad_token_id", "video_token_id", "vision_token_id"):
            v = getattr(cfg, key, None) or getattr(text, key, None)
            if isinstance(v, int):
                specials.add(v)
        pool = np.array([i for i in range(3, min(vocab, 30000)) if i not in specials])
        rng = np.random.default_rng(0)

        def ids(n: int) -> list[int]:
            return [int(v) for v in rng.choice(pool, n)]

        # Token counts of the LLaVA-1.5 chat prompts of lgvsc.backends.hf_judge (its own tokenizer).
        self.describe_prefix, self.describe_suffix = ids(4), ids(20)
        self.compare_prefix, self.compare_mid, self.compare_suffix = ids(3), ids(1), ids(29)
        self.yes, self.no = (int(v) for v in rng.choice(pool, 2, replace=False))
        self.pad = int(getattr(text, "pad_token_id", None) or 0)
        self._torch = torch

    # -- inputs
    def _pixels(self, frames: Sequence[np.ndarray]) -> dict[str, Any]:
        import cv2

        torch = self._torch
        s = self.image_size
        arr = np.stack([cv2.resize(np.ascontiguousarray(f), (s, s), interpolation=cv2.INTER_AREA) for f in frames])
        x = torch.from_numpy(arr).to(self.device).permute(0, 3, 1, 2).to(self.model.dtype) / 127.5 - 1.0
        if self.family == "llava":
            return {"pixel_values": x}
        b, g, p = x.shape[0], self.grid, self.patch
        patches = x.reshape(b, 3, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(b * g * g, 3, 1, p, p)
        patches = patches.expand(-1, -1, self.tpatch, -1, -1).reshape(b * g * g, -1)  # a still image: t repeated
        grid = torch.tensor([[1, g, g]] * b, device=self.device)
        return {"pixel_values": patches, "image_grid_thw": grid}

    def _generate(self, rows: list[list[int]], new_tokens: int, extra: dict[str, Any] | None = None,
                  logits: bool = False):
        torch = self._torch
        ids = torch.tensor(rows, device=self.device)
        kw = dict(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                  min_new_tokens=new_tokens, do_sample=False, pad_token_id=self.pad, **(extra or {}))
        if logits:
            kw.update(output_logits=True, return_dict_in_generate=True)
        with torch.inference_mode():
            return self.model.generate(**kw), ids.shape[1]

    def _chunks(self, items: Sequence[Any]) -> Iterator[Sequence[Any]]:
        for i in range(0, len(items), self.batch_size):
            yield items[i:i + self.batch_size]

    # -- the judge interface SKEM uses
    def describe(self, frames: Sequence[np.ndarray], focus=None) -> list[Any]:
        row = self.describe_prefix + self.wrap[0] + [self.image_token] * self.image_tokens + self.wrap[1] + \
            self.describe_suffix
        out: list[Any] = []
        for chunk in self._chunks(list(frames)):
            gen, n = self._generate([row] * len(chunk), self.description_tokens, self._pixels(chunk))
            out += [r.cpu() for r in gen[:, n:]]
        return out

    def compare_batch(self, pairs: Sequence[tuple[Any, Any]], focus=None) -> list[float]:
        out: list[float] = []
        for chunk in self._chunks(list(pairs)):
            rows = [self.compare_prefix + a.tolist() + self.compare_mid + b.tolist() + self.compare_suffix
                    for a, b in chunk]
            gen, _ = self._generate(rows, 1, logits=True)
            probs = gen.logits[0].float().softmax(-1).cpu()
            out += [float(np.clip(n - y, -1, 1)) for y, n in zip(probs[:, self.yes].tolist(),
                                                                  probs[:, self.no].tolist(), strict=True)]
        return out

    def compare(self, a: Any, b: Any, focus=None) -> float:
        return self.compare_batch([(a, b)])[0]


def _median_time(device: str, fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = _now(device)
        fn()
        times.append(_now(device) - t0)
    return statistics.median(times)


def profile_psss(name: str, entry: dict[str, Any], args, device: str, dtype) -> dict[str, Any]:
    from lgvsc.samples import drawn_scene
    from lgvsc.skem import candidate_step, skem

    _reset_peak(device)
    t0 = time.perf_counter()
    model, cfg, image_size = build_vlm(entry, args.tiny, device, dtype)
    build_s = time.perf_counter() - t0
    judge = TensorJudge(model, cfg, entry["family"], image_size, device, args.description_tokens, args.batch)
    h, w = args.size
    n = int(round(args.clip_seconds * FPS))
    clip = drawn_scene(num_frames=n, width=w, height=h, cuts=(n // 3, 2 * n // 3)).frames
    b = args.batch
    judge.describe(clip[:1])  # warm-up (kernels, caches)
    ref = judge.describe(clip[:1])[0]
    judge.compare_batch([(ref, ref)])
    reuse = _median_time(device, lambda: judge.compare_batch([(ref, judge.describe(clip[1:2])[0])]), args.reps)
    naive = _median_time(device, lambda: judge.compare(judge.describe(clip[:1])[0], judge.describe(clip[1:2])[0]),
                         args.reps)
    frames_b = clip[:b] if len(clip) >= b else np.concatenate([clip] * math.ceil(b / len(clip)))[:b]
    batched = _median_time(device, lambda: judge.compare_batch([(ref, d) for d in judge.describe(frames_b)]),
                           args.reps) / b
    t0 = _now(device)
    sel = skem(clip, judge, fps=FPS)
    skem_s = _now(device) - t0
    cands = len(range(candidate_step(FPS), n - 1, candidate_step(FPS)))
    ident = _identity(judge, clip)
    return {
        "model": name, "checkpoint": entry["checkpoint"], "params": _params(model),
        "build_s": round(build_s, 2), "batch": b, "description_tokens": args.description_tokens,
        "image_tokens": judge.image_tokens,
        "naive_pair_s": round(naive, 4), "sequential_s_per_candidate": round(reuse, 4),
        "batched_s_per_candidate": round(batched, 4), "batch_speedup": round(reuse / batched, 2),
        "skem": {"clip_s": args.clip_seconds, "candidates": cands, "keyframes": len(sel.indices),
                 "seconds": round(skem_s, 3), "realtime_factor": round(args.clip_seconds / skem_s, 3)},
        "speculative_identical": ident,
        "peak_gpu_gb": _peak_gb(device),
    }


def _identity(judge: TensorJudge, clip: np.ndarray) -> dict[str, Any]:
    """Speculative vs one-at-a-time SKEM on 12 frames at 5 fps (10 candidates, windows of 4)."""
    from lgvsc.skem import skem

    short = clip[:: max(1, len(clip) // 12)][:12]
    saved, judge.batch_size = judge.batch_size, 4
    try:
        probe = skem(short, judge, fps=5, threshold=1.0, speculative=False)
        ranked = sorted(probe.scores.values())
        gaps = [(b - a, (a + b) / 2) for a, b in zip(ranked, ranked[1:], strict=False)] or [(0.0, ranked[0])]
        threshold = max(gaps[len(gaps) // 4:3 * len(gaps) // 4 + 1])[1]
        seq = skem(short, judge, fps=5, threshold=threshold, speculative=False)
        spec = skem(short, judge, fps=5, threshold=threshold)
    finally:
        judge.batch_size = saved
    margin = min(abs(s - threshold) for s in seq.scores.values())
    return {"identical": seq.indices == spec.indices, "keyframes": seq.indices, "threshold": threshold,
            "margin": margin}


# ---------------------------------------------------------------------------------------------- DSA


def _t5_tokenizer():
    from lgvsc.testing.tiny_models import _tiny_umt5_tokenizer  # ids < 400: valid in every T5 vocabulary

    return _tiny_umt5_tokenizer()


def build_pipeline(entry: dict[str, Any], tiny: bool, device: str, dtype):
    """The diffusers pipeline of ``entry`` (LTX condition or Wan FLF2V) with random weights."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    spec = entry["tiny"] if tiny else entry
    family = entry["family"]
    tokenizer = _t5_tokenizer()
    if family == "ltx":
        from diffusers import AutoencoderKLLTXVideo, LTXConditionPipeline, LTXVideoTransformer3DModel
        from transformers import T5Config, T5EncoderModel

        with building(device, dtype):
            transformer = LTXVideoTransformer3DModel.from_config(spec["transformer"])
            vae = AutoencoderKLLTXVideo.from_config(spec["vae"])
            text_encoder = T5EncoderModel(T5Config(**spec["text_encoder"]))
        pipe = LTXConditionPipeline(transformer=transformer, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                    scheduler=FlowMatchEulerDiscreteScheduler())
    elif family == "wan":
        from diffusers import AutoencoderKLWan, WanImageToVideoPipeline, WanTransformer3DModel
        from transformers import (
            CLIPImageProcessorPil,
            CLIPVisionConfig,
            CLIPVisionModel,
            UMT5Config,
            UMT5EncoderModel,
        )

        with building(device, dtype):
            transformer = WanTransformer3DModel.from_config(spec["transformer"])
            vae = AutoencoderKLWan.from_config(spec["vae"])
            text_encoder = UMT5EncoderModel(UMT5Config(**spec["text_encoder"]))
            image_encoder = CLIPVisionModel(CLIPVisionConfig(**spec["image_encoder"]))
        side = int(spec["image_encoder"]["image_size"])
        processor = CLIPImageProcessorPil(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
        pipe = WanImageToVideoPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae,
                                       scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
                                       image_processor=processor, image_encoder=image_encoder,
                                       transformer=transformer)
    else:
        raise ValueError(f"unknown generator family {family!r}")
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _pipe_params(pipe) -> int:
    return _params(*(getattr(pipe, k, None) for k in ("transformer", "vae", "text_encoder", "image_encoder")))


def profile_dsa(name: str, entry: dict[str, Any], args, device: str, dtype) -> list[dict[str, Any]]:
    from lgvsc.backends.base import SegmentRequest
    from lgvsc.backends.hf_generator import DSA_PRESETS, HFSegmentGenerator

    _reset_peak(device)
    t0 = time.perf_counter()
    pipe = build_pipeline(entry, args.tiny, device, dtype)
    build_s = time.perf_counter() - t0
    h, w = args.size
    rng = np.random.default_rng(0)
    first, last = (rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(2))
    req = SegmentRequest(first, last, args.frames, caption="a person walks a dog along a beach at sunset",
                         motion_score=2.0, fps=FPS)
    presets = ["ltx-distilled", "ltx-dev"] if entry["family"] == "ltx" else ["wan"]
    seq_len = 16 if args.tiny else 512
    out = []
    for preset in presets:
        gen = HFSegmentGenerator(pipe, preset=preset, max_sequence_length=seq_len, max_frames=max(81, args.frames),
                                 num_inference_steps=args.steps)
        if args.steps and gen.timesteps:  # the distilled schedule has its own step count
            gen.timesteps = gen.timesteps[:1] + gen.timesteps[-(args.steps - 1):] if args.steps > 1 else None
        steps = len(gen.timesteps) if gen.timesteps else gen.num_inference_steps
        one = HFSegmentGenerator(pipe, num_inference_steps=1, guidance_scale=gen.guidance_scale,
                                 pipeline_options=gen.pipeline_options, max_sequence_length=seq_len,
                                 max_frames=max(81, args.frames))
        one.generate(req)  # warm-up
        t_one = _median_time(device, lambda one=one: one.generate(req), 1)
        _reset_peak(device)
        t_full = _median_time(device, lambda gen=gen: gen.generate(req), 1)
        generated_s = (args.frames - 1) / FPS  # a segment adds its frames after the shared first one
        out.append({
            "model": name, "checkpoint": entry["checkpoint"], "preset": preset, "params": _pipe_params(pipe),
            "build_s": round(build_s, 2), "frames": args.frames, "size": f"{w}x{h}",
            "pipeline_frames": gen.last_call["num_frames"], "steps": steps, "guidance": gen.guidance_scale,
            "cfg_passes": 2 if gen.guidance_scale > 1 else 1, "segment_s": round(t_full, 3),
            "step_s": round((t_full - t_one) / max(1, steps - 1), 4) if steps > 1 else None,
            "s_per_generated_s": round(t_full / generated_s, 3), "peak_gpu_gb": _peak_gb(device),
            "preset_settings": DSA_PRESETS[preset],
        })
    del pipe
    return out


# ---------------------------------------------------------------------------------------------- params only


def params_only(configs: dict[str, Any]) -> dict[str, Any]:
    """Exact parameter counts of every full-size model, built on the meta device (no memory)."""
    import torch

    out: dict[str, Any] = {}
    for name, entry in configs["vlm"].items():
        model, _, _ = build_vlm(entry, False, "meta", torch.bfloat16)
        out[name] = {"params": _params(model)}
    for name, entry in configs["generator"].items():
        pipe = build_pipeline(entry, False, "meta", torch.bfloat16)
        parts = {k: _params(getattr(pipe, k)) for k in ("transformer", "vae", "text_encoder", "image_encoder")
                 if getattr(pipe, k, None) is not None}
        out[name] = {"params": sum(parts.values()), "components": parts}
    for v in out.values():
        v["weights_gb_bf16"] = round(v["params"] * 2 / 2**30, 2)
    return out


# ---------------------------------------------------------------------------------------------- report


def _verdicts(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each measured figure against its target (full size only) and the H100 anchors."""
    rows = []
    full = not result["tiny"]
    for p in result.get("psss", []):
        big = p["model"].startswith("llava") and full
        rows.append({"what": f"PSSS {p['model']} batched s/candidate", "value": p["batched_s_per_candidate"],
                     "target": f"<= {TARGETS['psss_batched_s_per_candidate']}" if big else None,
                     "ok": p["batched_s_per_candidate"] <= TARGETS["psss_batched_s_per_candidate"] if big else None,
                     "ratio_to_sequential": round(p["batched_s_per_candidate"] / p["sequential_s_per_candidate"], 3)})
        rows.append({"what": f"SKEM {p['model']} real-time factor", "value": p["skem"]["realtime_factor"],
                     "target": f">= {TARGETS['skem_realtime_factor']}" if big else None,
                     "ok": p["skem"]["realtime_factor"] >= TARGETS["skem_realtime_factor"] if big else None})
        rows.append({"what": f"SKEM {p['model']} speculative = sequential keyframes",
                     "value": p["speculative_identical"]["identical"], "target": "True",
                     "ok": bool(p["speculative_identical"]["identical"])})
    for d in result.get("dsa", []):
        ltx = d["model"].startswith("ltx") and full
        rows.append({"what": f"DSA {d['model']} ({d['preset']}) s per generated s", "value": d["s_per_generated_s"],
                     "target": f"<= {TARGETS['dsa_ltx_s_per_generated_s']}" if ltx else None,
                     "ok": d["s_per_generated_s"] <= TARGETS["dsa_ltx_s_per_generated_s"] if ltx else None,
                     "ratio_to_paper_opensora": round(d["s_per_generated_s"] / 24.5, 3)})
    return rows


def _parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"size {text!r} is not HxW (e.g. 320x576)") from exc
    if h < 32 or w < 32 or h % 32 or w % 32:
        raise argparse.ArgumentTypeError(f"size {text!r}: height and width must be multiples of 32")
    return h, w


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="tiny shapes on the CPU (CI); figures say nothing of full size")
    p.add_argument("--params-only", action="store_true", help="only count the full-size parameters (meta device)")
    p.add_argument("--device", default="auto", help="cuda, cuda:N, cpu or auto (default: cuda if available)")
    p.add_argument("--dtype", default="auto", choices=("auto", "bfloat16", "float16", "float32"),
                   help="auto: bfloat16 on CUDA, float32 on the CPU")
    p.add_argument("--vlm", default=None, help="comma-separated judges to profile (default: all in the JSON)")
    p.add_argument("--generators", default=None, help="comma-separated generators (default: all in the JSON)")
    p.add_argument("--skip-psss", action="store_true")
    p.add_argument("--skip-dsa", action="store_true")
    p.add_argument("--batch", type=int, default=16, help="PSSS batch / SKEM speculative window (default 16)")
    p.add_argument("--description-tokens", type=int, default=None, help="round-1 length (default 64; tiny 8)")
    p.add_argument("--clip-seconds", type=float, default=None, help="SKEM clip length (default 10; tiny 2)")
    p.add_argument("--frames", type=int, default=None, help="DSA segment frames (default 49; tiny 9)")
    p.add_argument("--size", type=_parse_size, default=None, help="frame HxW (default 320x576; tiny 32x64)")
    p.add_argument("--reps", type=int, default=3, help="repetitions per PSSS timing (median)")
    p.add_argument("--steps", type=int, default=None,
                   help="denoising steps instead of each preset's (default: the preset's; tiny 2)")
    p.add_argument("--configs", type=Path, default=CONFIGS)
    p.add_argument("--out", type=Path, help="write the results as JSON")
    args = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("gpu_profile: torch is not installed (use the ML venv: .venv/bin/python)", file=sys.stderr)
        return 2
    try:
        configs = load_configs(args.configs)
    except (OSError, ValueError) as exc:
        print(f"gpu_profile: cannot read {args.configs}: {exc}", file=sys.stderr)
        return 2
    if args.batch < 1 or args.reps < 1:
        print("gpu_profile: --batch and --reps must be >= 1", file=sys.stderr)
        return 2
    if args.params_only:
        counts = params_only(configs)
        for name, v in counts.items():
            print(f"{name}: {v['params'] / 1e9:.3f} B parameters, {v['weights_gb_bf16']} GiB in bf16")
        if args.out:
            args.out.write_text(json.dumps({"params": counts}, indent=2) + "\n")
        return 0
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        print(f"gpu_profile: --device {device} but CUDA is not available", file=sys.stderr)
        return 2
    if not args.tiny and not device.startswith("cuda"):
        print("gpu_profile: full-size models need a GPU; use --tiny on the CPU (or --params-only)", file=sys.stderr)
        return 2
    dtype = {"auto": torch.bfloat16 if device.startswith("cuda") else torch.float32, "bfloat16": torch.bfloat16,
             "float16": torch.float16, "float32": torch.float32}[args.dtype]
    args.description_tokens = args.description_tokens or (8 if args.tiny else 64)
    args.clip_seconds = args.clip_seconds or (2.0 if args.tiny else 10.0)
    args.frames = args.frames or (9 if args.tiny else 49)
    args.size = args.size or ((32, 64) if args.tiny else (320, 576))
    args.steps = args.steps or (2 if args.tiny else None)
    if args.tiny:
        args.batch = min(args.batch, 4)
    vlms = args.vlm.split(",") if args.vlm else list(configs["vlm"])
    gens = args.generators.split(",") if args.generators else list(configs["generator"])
    unknown = [n for n in vlms if n not in configs["vlm"]] + [n for n in gens if n not in configs["generator"]]
    if unknown:
        print(f"gpu_profile: unknown model(s) {', '.join(unknown)}; known: "
              f"{', '.join([*configs['vlm'], *configs['generator']])}", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    import diffusers
    import transformers

    result: dict[str, Any] = {
        "tiny": args.tiny, "device": device, "dtype": str(dtype).removeprefix("torch."),
        "gpu": torch.cuda.get_device_name(device) if device.startswith("cuda") else None,
        "host": platform.node(), "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                                              "diffusers": diffusers.__version__},
        "size": f"{args.size[1]}x{args.size[0]}", "psss": [], "dsa": [],
    }
    if not args.skip_psss:
        for name in vlms:
            result["psss"].append(profile_psss(name, configs["vlm"][name], args, device, dtype))
            gc.collect()
    if not args.skip_dsa:
        for name in gens:
            result["dsa"] += profile_dsa(name, configs["generator"][name], args, device, dtype)
            gc.collect()
    result["verdicts"] = _verdicts(result)
    label = "tiny (CPU shapes; no full-size meaning)" if args.tiny else f"{result['gpu']} {result['dtype']}"
    print(f"gpu_profile: {label}")
    for v in result["verdicts"]:
        target = f" target {v['target']}: {'ok' if v['ok'] else 'MISS'}" if v["target"] else ""
        extra = "".join(f", {k} {v[k]}" for k in ("ratio_to_sequential", "ratio_to_paper_opensora") if k in v)
        print(f"  {v['what']}: {v['value']}{target}{extra}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
