# SPDX-License-Identifier: GPL-3.0-or-later
"""The text-only baseline with a tiny random LTX-Video pipeline: captions over the link, video from text."""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import pytest

from lgvsc.evaluation import EvalConfig, run_evaluation, write_outputs
from lgvsc.evaluation.schemes import SchemeSkipped, SemanticScheme, TextOnlyScheme
from lgvsc.profiles import Backends, build_backends
from lgvsc.samples import drawn_scene
from lgvsc.video import VideoClip, write_video

os.environ["HF_HUB_OFFLINE"] = "1"  # tiny local models only

W, H, N = 64, 64, 12


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from lgvsc.testing.tiny_models import build_tiny_llava, build_tiny_ltx_condition

    root = tmp_path_factory.mktemp("tiny-text-only")
    return {"llava": build_tiny_llava(root / "llava"), "ltx": build_tiny_ltx_condition(root / "ltx")}


@pytest.fixture(scope="module")
def scene():
    d = drawn_scene(num_frames=N, width=W, height=H, cuts=(6,), speed=2.0)
    return VideoClip(d.frames, Fraction(24))


@pytest.fixture(scope="module")
def text_only(tiny, scene):
    """Text-only over the classical encoder's SKEM stream (two scenes: at least two segments), LTX at the receiver."""
    from lgvsc.backends.hf_generator import HFSegmentGenerator

    classical = build_backends("classical", captions=["a red square slides right.", "a blue disc on grass."])
    stream = SemanticScheme("skem", classical).encode(scene)
    assert len(stream.segments) >= 2
    gen = HFSegmentGenerator(str(tiny["ltx"]), device="cpu", dtype="float32", num_inference_steps=1,
                             guidance_scale=1.0, max_sequence_length=16)
    be = Backends(classical.judge, classical.captioner, classical.keyframe_codec, classical.motion, gen, profile="hf")
    scheme = TextOnlyScheme(be)
    return scheme, scheme.prepare(scene, stream), stream


def test_sends_header_and_captions_only(text_only):
    scheme, prep, stream = text_only
    assert scheme.skip_reason() is None
    assert len(prep.units) == 1 + len(stream.segments)
    assert prep.payload_bytes == sum(map(len, prep.units)) == TextOnlyScheme.payload_bytes(stream)
    assert not any(kf.data in u for u in prep.units for kf in stream.keyframes)


def test_clean_reception_is_full_length_and_caption_driven(text_only, scene):
    scheme, prep, stream = text_only
    rec = scheme.receive(scene, prep, list(prep.units))
    assert rec.frames.shape == scene.frames.shape and rec.frames.dtype == np.uint8
    assert rec.stats["decode_failures"] == 0 and not rec.stats["header_lost"]
    assert rec.frames.std() > 0


def test_lost_caption_takes_the_previous_one(text_only, scene):
    scheme, prep, stream = text_only
    clean = scheme.receive(scene, prep, list(prep.units))
    units = list(prep.units)
    units[2] = None  # segment 1's caption lost: its span is generated from segment 0's caption
    rec = scheme.receive(scene, prep, units)
    assert rec.stats["decode_failures"] == 1 and "segments [1]" in rec.stats["concealment"]
    s0, s1 = stream.segments[0], stream.segments[1]
    same = scheme.backends.generator.generate_text_only(s0.caption, s1.num_frames, W, H, 24.0, s0.motion_score)
    np.testing.assert_array_equal(rec.frames[s1.start_frame + 1:s1.end_frame + 1], same[1:])
    assert not np.array_equal(rec.frames, clean.frames)
    # Everything lost, header included: one span, an empty prompt, still the full length.
    none = scheme.receive(scene, prep, [None] * len(prep.units))
    assert none.frames.shape == scene.frames.shape and none.stats["header_lost"]
    assert scheme.backends.generator.last_call["prompt"].startswith("aesthetic score")


def test_classical_profile_and_wan_are_skipped_with_the_reason(scene):
    scheme = TextOnlyScheme(build_backends("classical"))
    assert "classical profile has none" in scheme.skip_reason()
    with pytest.raises(SchemeSkipped, match="text-to-video"):
        scheme.receive(scene, scheme.prepare(scene), [])


def test_eval_computes_the_text_only_row_with_the_hf_profile(tiny, scene, tmp_path):
    write_video(tmp_path / "scene.mp4", scene.frames, 24, crf=0)
    opts = {"vlm_model": str(tiny["llava"]), "generator_model": str(tiny["ltx"]), "device": "cpu",
            "dtype": "float32", "description_tokens": 4, "gen_steps": 1, "gen_guidance": 1.0,
            "captions": ["a red square slides right.", "a blue disc on grass."]}
    cfg = EvalConfig(snrs=(10.0,), schemes=("lgvsc", "text-only"), design_snr=10.0, width=W, height=H,
                     max_frames=N, threads=1, profile="hf", profile_options=opts)
    run = run_evaluation([tmp_path / "scene.mp4"], tmp_path / "out", cfg, progress=False)
    rows = {r["scheme"]: r for r in run.rows}
    t, lg = rows["text-only"], rows["lgvsc"]
    assert t["status"] == "ok" and t["note"] == "" and t["output_frames"] == t["frames"] == N
    assert 0 < t["cbr"] < lg["cbr"] and 0 < t["psnr_y"] <= 100 and 0 < t["ssim_y"] <= 1
    assert t["block_errors"] == 0 and t["decode_failures"] == 0
    write_outputs(tmp_path / "out", run, cfg, argv=["scene.mp4"])
    report = (tmp_path / "out" / "report.md").read_text()
    assert "text-only" in report and "Skipped" not in report
