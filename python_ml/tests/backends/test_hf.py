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


def test_hf_profile_encodes_and_decodes_a_clip(tiny_models):
    """The whole codec runs on the HF profile with tiny models: full-length output at the source size."""
    from lgvsc.decoder import SemanticDecoder
    from lgvsc.encoder import EncoderConfig, SemanticEncoder
    from lgvsc.profiles import build_backends
    from lgvsc.samples import drawn_scene
    from lgvsc.video import VideoClip

    b = build_backends("hf", vlm_model=str(tiny_models["llava"]), generator_model=str(tiny_models["wan_flf2v"]),
                       device="cpu", gen_steps=1, description_tokens=4, caption_tokens=4)
    d = drawn_scene(num_frames=24, width=64, height=48, cuts=(12,))
    # a fixed keyframe budget: the CBR-derived one is a few bytes for so small a clip
    stream = SemanticEncoder(b, EncoderConfig(keyframe_bytes=600)).encode(VideoClip(d.frames, d.fps))
    assert stream.keyframe_indices()[0] == 0 and stream.keyframe_indices()[-1] == 23
    assert all(isinstance(seg.caption, str) for seg in stream.segments)
    frames, report = SemanticDecoder(b.generator, {b.keyframe_codec.codec_id: b.keyframe_codec}).decode(stream)
    assert frames.shape == (24, 48, 64, 3) and frames.dtype.name == "uint8"
    assert not report.concealed
    assert b.generator.last_call["prompt"].endswith(", aesthetic score 6.5, motion score "
                                                    f"{round(stream.segments[-1].motion_score, 2):g}")
