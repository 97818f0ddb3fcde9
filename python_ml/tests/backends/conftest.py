# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the Hugging Face backend tests: tiny random models built once per session, offline."""

import os

# Tests never go online: a hub id that is not cached must fail at once.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Paths of the tiny random LLaVA, CLIP, Wan FLF2V and LTX checkpoints (saved with ``save_pretrained``)."""
    from lgvsc.testing.tiny_models import build_all

    return build_all(tmp_path_factory.mktemp("tiny-hf-models"))


@pytest.fixture(scope="session")
def tiny_vlm(tiny_models):
    """The tiny LLaVA loaded once through the user's path (``from_pretrained``), on the CPU in float32."""
    from lgvsc.backends.hf_common import VisionLanguageModel

    return VisionLanguageModel.load(tiny_models["llava"], device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def tiny_wan(tiny_models):
    """The tiny Wan FLF2V pipeline loaded once with ``DiffusionPipeline.from_pretrained``."""
    from lgvsc.backends.hf_common import load_diffusers_pipeline

    pipe, _ = load_diffusers_pipeline(tiny_models["wan_flf2v"], device="cpu", dtype="float32")
    return pipe


@pytest.fixture(scope="session")
def tiny_ltx(tiny_models):
    """The tiny LTX-Video condition pipeline loaded once with ``DiffusionPipeline.from_pretrained``."""
    from lgvsc.backends.hf_common import load_diffusers_pipeline

    pipe, _ = load_diffusers_pipeline(tiny_models["ltx_condition"], device="cpu", dtype="float32")
    return pipe


@pytest.fixture
def frames():
    """Five random 40x56 RGB frames (not a multiple of 16 on purpose)."""
    import numpy as np

    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (40, 56, 3), dtype=np.uint8) for _ in range(5)]
