# SPDX-License-Identifier: GPL-3.0-or-later
"""LPIPS-VGG from local weight files: random weights in the torchvision / lpips key layout.

The weights are written with the *published* key names and shapes (spelled out here,
independently of the network code), saved to a temp folder and loaded through the
same path a user takes (``LpipsScorer(paths)``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from lgvsc.errors import UserError
from lgvsc.metrics.lpips import LpipsScorer
from lgvsc.metrics.vgg16 import WeightsError

#: torchvision vgg16 ``features`` convolutions: (index, out channels, in channels).
VGG16_CONVS = [(0, 64, 3), (2, 64, 64), (5, 128, 64), (7, 128, 128), (10, 256, 128), (12, 256, 256),
               (14, 256, 256), (17, 512, 256), (19, 512, 512), (21, 512, 512), (24, 512, 512), (26, 512, 512),
               (28, 512, 512)]


def vgg16_state(seed: int = 0, classifier: bool = True) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for i, co, ci in VGG16_CONVS:
        sd[f"features.{i}.weight"] = torch.randn(co, ci, 3, 3, generator=g) * (2.0 / (9 * ci)) ** 0.5
        sd[f"features.{i}.bias"] = torch.randn(co, generator=g) * 0.01
    if classifier:  # torchvision's file has it; LPIPS ignores it
        sd["classifier.6.bias"] = torch.zeros(10)
    return sd


def lin_state(seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g)
            for i, c in enumerate((64, 128, 256, 512, 512))}


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("lpips")
    save_file(vgg16_state(), str(d / "vgg16.safetensors"))
    torch.save(lin_state(), d / "vgg.pth")  # the lpips package ships its heads as .pth
    return d


def _clip(n=2, h=48, w=64, seed=0):
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h)], -1)
    rng = np.random.default_rng(seed)
    return np.stack([np.clip(base + rng.normal(0, 5, base.shape), 0, 255) for _ in range(n)]).astype(np.uint8)


def _noisy(clip, sigma, seed=3):
    rng = np.random.default_rng(seed)
    return np.clip(clip + rng.normal(0, sigma, clip.shape), 0, 255).astype(np.uint8)


def test_identical_is_zero_and_distance_grows_with_noise(weights_dir):
    scorer = LpipsScorer([weights_dir])
    ref = _clip()
    assert scorer.score(ref, ref) == pytest.approx(0.0, abs=1e-6)
    d = [scorer.score(ref, _noisy(ref, s)) for s in (4, 16, 48, 96)]
    assert all(a < b for a, b in zip(d, d[1:], strict=False)), d
    assert d[0] > 0


def test_lpips_model_state_dict_layout_loads_too(tmp_path, weights_dir):
    # the lpips package's own LPIPS(net="vgg") state dict names the backbone net.sliceK.N.*
    taps = [(4, 1), (9, 2), (16, 3), (23, 4), (30, 5)]
    sd = {}
    for k, v in vgg16_state().items():
        if k.startswith("features."):
            i = int(k.split(".")[1])
            sl = next(s for end, s in taps if i < end)
            sd[k.replace("features.", f"net.slice{sl}.")] = v
    sd.update(lin_state())
    sd["scaling_layer.shift"] = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    save_file(sd, str(tmp_path / "lpips_full.safetensors"))
    ref = _clip()
    test = _noisy(ref, 30)
    a = LpipsScorer([tmp_path / "lpips_full.safetensors"]).score(ref, test)
    b = LpipsScorer([weights_dir]).score(ref, test)
    assert a == pytest.approx(b, rel=1e-5)


def test_mismatched_weights_fail_clearly(tmp_path):
    sd = vgg16_state(classifier=False)
    lin = lin_state()
    save_file(sd, str(tmp_path / "vgg_only.safetensors"))
    with pytest.raises(WeightsError, match=r"missing key\(s\).*lin0\.model\.1\.weight"):
        LpipsScorer([tmp_path / "vgg_only.safetensors"])
    bad = dict(sd, **lin)
    bad["lin2.model.1.weight"] = torch.rand(1, 128, 1, 1)
    save_file(bad, str(tmp_path / "bad_shape.safetensors"))
    with pytest.raises(WeightsError, match=r"shape mismatch.*lin2\.model\.1\.weight"):
        LpipsScorer([tmp_path / "bad_shape.safetensors"])
    extra = dict(sd, **lin, **{"alpha": torch.ones(1, 1475, 1, 1)})
    save_file(extra, str(tmp_path / "extra.safetensors"))
    with pytest.raises(WeightsError, match=r"unexpected key\(s\).*alpha"):
        LpipsScorer([tmp_path / "extra.safetensors"])
    assert issubclass(WeightsError, UserError)


def test_missing_unreadable_or_pickled_files_are_refused(tmp_path):
    with pytest.raises(WeightsError, match="no such weight file"):
        LpipsScorer([tmp_path / "nope.safetensors"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError, match="no weight files"):
        LpipsScorer([tmp_path / "empty"])
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match="cannot read"):
        LpipsScorer([tmp_path / "junk.safetensors"])
    torch.save({"model": object()}, tmp_path / "pickled.pth")  # arbitrary pickle: weights_only refuses
    with pytest.raises(WeightsError, match="cannot read"):
        LpipsScorer([tmp_path / "pickled.pth"])
    (tmp_path / "w.txt").write_text("x")
    with pytest.raises(WeightsError, match="not a weight file"):
        LpipsScorer([tmp_path / "w.txt"])


def test_frame_subset_is_even_and_bounded(weights_dir):
    s = LpipsScorer([weights_dir], max_frames=4)
    assert list(s.frame_indices(3)) == [0, 1, 2]
    assert list(s.frame_indices(100)) == [0, 33, 66, 99]
    with pytest.raises(ValueError, match="one shape"):
        s.score(_clip(2), _clip(3))
