# SPDX-License-Identifier: GPL-3.0-or-later
"""CLIP score with a tiny random CLIP loaded through from_pretrained; unavailable without weights."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lgvsc.errors import UserError  # noqa: E402
from lgvsc.metrics.clip_score import ClipScorer, ClipScoreUnavailable, clip_score  # noqa: E402


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory):
    from lgvsc.testing.tiny_models import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="module")
def scorer(clip_path):
    return ClipScorer(clip_path, device="cpu")


@pytest.fixture
def clips():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (2, 3, 40, 50, 3), dtype=np.uint8)


@pytest.mark.parametrize("model", [None, "", "  "])
def test_unavailable_without_weights(model, clips):
    with pytest.raises(ClipScoreUnavailable, match="unavailable"):
        clip_score(clips[0], clips[1], model)
    assert issubclass(ClipScoreUnavailable, UserError)


def test_unavailable_for_uncached_hub_id_offline():
    with pytest.raises(ClipScoreUnavailable, match="HF_HUB_OFFLINE"):
        ClipScorer("openai/clip-vit-base-patch32", device="cpu")


def test_identical_clips_score_one(scorer, clips):
    assert scorer.score(clips[0], clips[0]) == pytest.approx(1.0, abs=1e-6)


def test_score_is_mapped_cosine_of_image_embeddings(scorer, clip_path, clips):
    from transformers import AutoProcessor, CLIPModel

    model = CLIPModel.from_pretrained(clip_path).eval()
    proc = AutoProcessor.from_pretrained(clip_path)

    def emb(clip):
        from PIL import Image

        px = proc(images=[Image.fromarray(f) for f in clip], return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            out = model.get_image_features(pixel_values=px)
        feats = out if isinstance(out, torch.Tensor) else out.pooler_output
        return torch.nn.functional.normalize(feats, dim=-1).numpy()

    expected = ((emb(clips[0]) * emb(clips[1])).sum(-1) + 1) / 2
    got = scorer.frame_scores(clips[0], clips[1])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.all((got >= 0) & (got <= 1)) and np.all(got < 1)
    assert scorer.score(clips[0], clips[1]) == pytest.approx(float(expected.mean()), abs=1e-5)


def test_mismatched_or_empty_clips(scorer, clips):
    with pytest.raises(ValueError, match="frame count"):
        scorer.frame_scores(clips[0], clips[1][:2])
    with pytest.raises(ValueError, match="empty"):
        scorer.frame_scores(clips[0][:0], clips[1][:0])
