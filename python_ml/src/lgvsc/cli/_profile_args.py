# SPDX-License-Identifier: GPL-3.0-or-later
"""Command-line options shared by ``encode`` and ``decode``: the backend profile and its models."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_profile_arguments", "profile_options"]

_HF_KEYS = ("vlm_model", "judge_model", "caption_model", "generator_model", "device", "dtype", "gen_steps", "seed",
            "psss_batch", "gen_preset", "gen_guidance", "gen_scheduler", "gen_timesteps", "gen_max_frames",
            "use_prev_tail")


def _psss_batch(text: str) -> str | int:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}")
    return value


def add_profile_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("backends")
    g.add_argument("--profile", choices=("classical", "hf"), default="classical",
                   help="classical: measured features, WebP keyframes, optical-flow interpolation, no weights "
                        "(default); hf: Hugging Face VLM judge/captioner and video generator")
    g.add_argument("--vlm-model", help="hf: VLM (hub id or local path) for both PSSS and captions")
    g.add_argument("--judge-model", help="hf: VLM for PSSS (overrides --vlm-model)")
    g.add_argument("--caption-model", help="hf: VLM for captions (overrides --vlm-model)")
    g.add_argument("--generator-model", help="hf: diffusers first/last-frame video pipeline, Wan FLF2V or LTX condition "
                   "(hub id or path); LTX also serves the text-only baseline of lgvsc eval")
    g.add_argument("--device", help="hf: cpu, cuda, cuda:N, mps or auto (default auto)")
    g.add_argument("--dtype", help="hf: auto, float32, float16 or bfloat16 (default auto)")
    g.add_argument("--psss-batch", type=_psss_batch, metavar="N|auto",
                   help="hf: PSSS batch (frames/pairs per VLM call) and SKEM's speculative window; auto starts at "
                        "32 and halves when the GPU runs out of memory (default 16)")
    g.add_argument("--gen-preset", choices=("ltx-distilled", "ltx-dev", "wan"),
                   help="hf: DSA settings: ltx-distilled (guidance 1, 8 custom timesteps, for LTX distilled "
                        "checkpoints), ltx-dev (30 steps, guidance 5), wan (30 steps, guidance 5); flags override")
    g.add_argument("--gen-steps", type=int, help="hf: denoising steps of the generator (default 30)")
    g.add_argument("--gen-guidance", type=float, help="hf: guidance scale (default 5; 1 disables the negative pass)")
    g.add_argument("--gen-scheduler", metavar="CLASS",
                   help="hf: diffusers scheduler class replacing the checkpoint's, e.g. UniPCMultistepScheduler")
    g.add_argument("--gen-timesteps", metavar="T1,T2,...", help="hf: custom denoising timesteps (LTX)")
    g.add_argument("--gen-max-frames", type=int, help="hf: most frames per generator call (default 81); longer "
                   "segments are generated in chunks")
    g.add_argument("--prev-tail", dest="use_prev_tail", action=argparse.BooleanOptionalAction, default=None,
                   help="hf: condition LTX on the previous segment's last t+1 frames (default on)")
    g.add_argument("--seed", type=int, help="hf: session seed; each segment's seed is derived from it (default 0)")


def profile_options(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in _HF_KEYS if getattr(args, k, None) is not None}
