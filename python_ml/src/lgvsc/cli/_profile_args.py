# SPDX-License-Identifier: GPL-3.0-or-later
"""Command-line options shared by ``encode`` and ``decode``: the backend profile and its models."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_profile_arguments", "profile_options"]

_HF_KEYS = ("vlm_model", "judge_model", "caption_model", "generator_model", "device", "dtype", "gen_steps", "seed")


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
    g.add_argument("--gen-steps", type=int, help="hf: denoising steps of the generator (default 30)")
    g.add_argument("--seed", type=int, help="hf: generator seed (default 0)")


def profile_options(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in _HF_KEYS if getattr(args, k, None) is not None}
