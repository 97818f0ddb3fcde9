# SPDX-License-Identifier: GPL-3.0-or-later
"""DISTS from local weight files: random weights in the torchvision / DISTS_pytorch key layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from test_lpips import _clip, _noisy, vgg16_state

from lgvsc.metrics.dists import DistsScorer, L2Pooling
from lgvsc.metrics.vgg16 import WeightsError


def alpha_beta(seed: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"alpha": 0.1 + 0.01 * torch.randn(1, 1475, 1, 1, generator=g),
            "beta": 0.1 + 0.01 * torch.randn(1, 1475, 1, 1, generator=g)}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    d = tmp_path_factory.mktemp("dists")
    save_file(vgg16_state(), str(d / "vgg16.safetensors"))
    torch.save(alpha_beta(), d / "weights.pt")  # DISTS_pytorch ships alpha/beta as weights.pt
    return [d / "vgg16.safetensors", d / "weights.pt"]


def test_identical_is_zero_and_distance_grows_with_noise(weights):
    scorer = DistsScorer(weights)
    ref = _clip()
    assert scorer.score(ref, ref) == pytest.approx(0.0, abs=1e-5)
    d = [scorer.score(ref, _noisy(ref, s)) for s in (4, 16, 48, 96)]
    assert all(a < b for a, b in zip(d, d[1:], strict=False)), d
    assert d[0] > 0


def test_reference_state_dict_layout_loads_too(tmp_path, weights):
    # DISTS_pytorch's model: stageK.N.* for VGG convs, stageK.N.filter for its L2 pooling, mean/std buffers
    stage_of = lambda i: 1 if i < 4 else 2 if i < 9 else 3 if i < 16 else 4 if i < 23 else 5  # noqa: E731
    sd = {k.replace("features.", f"stage{stage_of(int(k.split('.')[1]))}."): v
          for k, v in vgg16_state(classifier=False).items()}
    sd.update(alpha_beta())
    sd["stage2.4.filter"] = torch.ones(64, 1, 3, 3)
    sd["mean"] = torch.zeros(1, 3, 1, 1)
    save_file(sd, str(tmp_path / "dists_full.safetensors"))
    ref = _clip()
    test = _noisy(ref, 30)
    assert DistsScorer([tmp_path / "dists_full.safetensors"]).score(ref, test) == pytest.approx(
        DistsScorer(weights).score(ref, test), rel=1e-5)


def test_l2_pooling_matches_the_reference_filter():
    pool = L2Pooling(2)
    # Hann(5)[1:-1] = [.5, 1, .5]; outer product normalised: centre 1/4, edges 1/8, corners 1/16
    f = pool.filter[0, 0].numpy()
    assert np.allclose(f, np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16)
    x = torch.full((1, 2, 8, 8), 3.0)
    y = pool(x)
    assert y.shape == (1, 2, 4, 4)
    assert torch.allclose(y[..., 1:, 1:], torch.tensor(3.0))  # interior: sqrt(mean of 9) = 3


def test_wrong_alpha_shape_or_missing_backbone_fail_clearly(tmp_path):
    ab = alpha_beta()
    save_file(ab, str(tmp_path / "ab.safetensors"))
    with pytest.raises(WeightsError, match=r"DISTS weights do not match.*missing key\(s\).*features\.0\.weight"):
        DistsScorer([tmp_path / "ab.safetensors"])
    bad = dict(vgg16_state(), alpha=torch.ones(1, 1000, 1, 1), beta=ab["beta"])
    save_file(bad, str(tmp_path / "bad.safetensors"))
    with pytest.raises(WeightsError, match=r"shape mismatch.*alpha: file \(1, 1000, 1, 1\)"):
        DistsScorer([tmp_path / "bad.safetensors"])
