# SPDX-License-Identifier: GPL-3.0-or-later
"""DISTS (Ding et al. 2020) in plain torch, from local weight files only.

Written here because ``DISTS_pytorch`` and ``piq`` import torchvision, which
does not work on lgvsc's machines. The computation follows the reference
``DISTS_pytorch.DISTS``: ImageNet mean/std normalisation, VGG16 whose four
max-pools (``features`` indices 4, 9, 16, 23) are replaced by **L2 pooling**
(Hann window 5 → 3×3 taps, stride 2, padding 1, ``sqrt(conv(x²) + 1e-12)``),
the input and the five stages' outputs (3 + 64 + 128 + 256 + 512 + 512 = 1475
channels); per channel a structure term ``(2 μx μy + c) / (μx² + μy² + c)``
and a texture term ``(2 σxy + c) / (σx² + σy² + c)`` (``c = 1e-6``), weighted
by ``alpha`` / ``beta`` (each ``(1, 1475, 1, 1)``, normalised by their joint
sum); DISTS = 1 − the weighted sum. Lower is closer; identical images give 0.

Weights (nothing is downloaded): the VGG16 backbone as torchvision saves it
(``features.N.*``; ``classifier.*`` ignored) or as the reference model's state
dict (``stageK.N.*``; its L2-pooling ``filter`` and ``mean``/``std`` buffers are
recomputed here and ignored), plus ``alpha`` and ``beta`` as in the reference
``weights.pt``. One or more files or folders; ``.safetensors`` preferred,
``.pt``/``.pth`` read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lgvsc.metrics.vgg16 import ClipPairScorer, load_into, load_weight_files, vgg16_features

__all__ = ["DISTS_CHANNELS", "DistsVGG", "DistsScorer", "L2Pooling"]

DISTS_CHANNELS = (3, 64, 128, 256, 512, 512)
#: (first, end) of each stage's VGG16 modules after the pooling that opens it.
_STAGES = ((0, 4), (5, 9), (10, 16), (17, 23), (24, 30))


class L2Pooling(nn.Module):
    """The reference's ``L2pooling(filter_size=5, stride=2)``: a depthwise Hann blur of x², square-rooted."""

    def __init__(self, channels: int, filter_size: int = 5, stride: int = 2) -> None:
        super().__init__()
        self.padding = (filter_size - 2) // 2
        self.stride = stride
        a = np.hanning(filter_size)[1:-1]
        g = torch.tensor(a[:, None] * a[None, :], dtype=torch.float32)
        g = g / g.sum()
        self.register_buffer("filter", g[None, None].repeat(channels, 1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x ** 2, self.filter, stride=self.stride, padding=self.padding, groups=x.shape[1])
        return (out + 1e-12).sqrt()


class DistsVGG(nn.Module):
    """DISTS; :meth:`forward` takes two ``(N, 3, H, W)`` float batches in [0, 1] and returns ``(N,)``."""

    def __init__(self) -> None:
        super().__init__()
        self.features = vgg16_features()
        self.pools = nn.ModuleList([L2Pooling(c) for c in DISTS_CHANNELS[1:5]])
        total = sum(DISTS_CHANNELS)
        self.alpha = nn.Parameter(torch.full((1, total, 1, 1), 0.1))
        self.beta = nn.Parameter(torch.full((1, total, 1, 1), 0.1))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        self.eval()

    def _feats(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.mean) / self.std
        out = [x]  # the reference uses the unnormalised input as stage 0
        for k, (a, b) in enumerate(_STAGES):
            if k:
                h = self.pools[k - 1](h)
            h = self.features[a:b](h)
            out.append(h)
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        c1 = c2 = 1e-6
        w_sum = self.alpha.sum() + self.beta.sum()
        alpha = torch.split(self.alpha / w_sum, list(DISTS_CHANNELS), dim=1)
        beta = torch.split(self.beta / w_sum, list(DISTS_CHANNELS), dim=1)
        dist1 = dist2 = torch.zeros(x.shape[0], device=x.device)
        for k, (fx, fy) in enumerate(zip(self._feats(x), self._feats(y), strict=True)):
            mx, my = fx.mean([2, 3], keepdim=True), fy.mean([2, 3], keepdim=True)
            s1 = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
            dist1 = dist1 + (alpha[k] * s1).sum(dim=(1, 2, 3))
            vx = ((fx - mx) ** 2).mean([2, 3], keepdim=True)
            vy = ((fy - my) ** 2).mean([2, 3], keepdim=True)
            cov = (fx * fy).mean([2, 3], keepdim=True) - mx * my
            s2 = (2 * cov + c2) / (vx + vy + c2)
            dist2 = dist2 + (beta[k] * s2).sum(dim=(1, 2, 3))
        return 1 - (dist1 + dist2)

    def load_weights(self, paths: Iterable[str | os.PathLike]) -> None:
        """Load the backbone and ``alpha``/``beta`` from local files (see the module docstring)."""
        load_into(self, load_weight_files(paths), "DISTS",
                  rename=[(r"^stage\d+\.(\d+)\.(weight|bias)$", r"features.\1.\2")],
                  ignore=(r"classifier\..*", r"stage\d+\.\d+\.filter", r"mean", r"std"))


class DistsScorer(ClipPairScorer):
    """DISTS of clips from local weights (evenly spaced subset of at most ``max_frames`` frames)."""

    name = "DISTS"

    def __init__(self, weights: Iterable[str | os.PathLike], max_frames: int = 16, batch_size: int = 4) -> None:
        super().__init__(max_frames, batch_size)
        self.net = DistsVGG()
        self.net.load_weights(weights)
