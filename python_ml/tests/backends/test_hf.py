# SPDX-License-Identifier: GPL-3.0-or-later
"""The HF profile's lazy backend mapping."""

import argparse

import pytest

from lgvsc.backends.base import Captioner, SegmentGenerator, SemanticJudge
from lgvsc.backends.hf import build_hf_backends
from lgvsc.errors import UserError


def test_lazy_shared_and_typed(tiny_models):
    opts = {"vlm_model": str(tiny_models["llava"]), "hf_generator_model": str(tiny_models["wan_flf2v"]),
            "device": "cpu", "dtype": "float32", "gen_steps": 1, "description_tokens": 3, "other": "ignored"}
    b = build_hf_backends(opts)
    assert sorted(b) == ["captioner", "generator", "judge"] and len(b) == 3
    assert b.loaded() == []
    judge = b["judge"]
    assert isinstance(judge, SemanticJudge) and judge.description_tokens == 3
    assert b.loaded() == ["judge"]  # the generator is not loaded by an encoder
    cap = b["captioner"]
    assert isinstance(cap, Captioner)
    assert cap.vlm is judge.vlm  # one copy of the VLM
    gen = b["generator"]
    assert isinstance(gen, SegmentGenerator) and gen.num_inference_steps == 1
    assert b["judge"] is judge
    with pytest.raises(KeyError):
        b["codec"]


def test_namespace_options_and_separate_models(tiny_models, tmp_path):
    from lgvsc.testing.tiny_models import build_tiny_llava

    other = build_tiny_llava(tmp_path / "other-llava", seed=1)
    ns = argparse.Namespace(judge_model=str(tiny_models["llava"]), caption_model=str(other), device="cpu",
                            caption_frames=1, gen_size="32x48")
    b = build_hf_backends(ns)
    assert b["judge"].vlm is not b["captioner"].vlm
    assert b["captioner"].num_frames == 1


def test_default_hub_ids_fail_clearly_offline():
    b = build_hf_backends({"device": "cpu"})
    with pytest.raises(UserError, match="llava-hf/llava-1.5-7b-hf.*HF_HUB_OFFLINE"):
        b["judge"]
    with pytest.raises(UserError, match="Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers"):
        b["generator"]


def test_bad_generator_size(tiny_models):
    b = build_hf_backends({"generator_model": str(tiny_models["wan_flf2v"]), "device": "cpu", "gen_size": "big"})
    with pytest.raises(UserError, match="HxW"):
        b["generator"]
