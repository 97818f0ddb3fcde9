# SPDX-License-Identifier: GPL-3.0-or-later
"""LPIPS (VGG variant, the paper's) in plain torch, from local weight files only.

Written here because the ``lpips`` package imports torchvision, which does not
work on lgvsc's machines. The computation is the ``lpips`` package's
``LPIPS(net="vgg", version="0.1")``: inputs scaled to [-1, 1], its ScalingLayer
(shift ``[-.030, -.088, -.188]``, scale ``[.458, .448, .450]``), VGG16 relu1_2,
relu2_2, relu3_3, relu4_3, relu5_3 (:func:`lgvsc.metrics.vgg16.vgg16_features`),
each unit-normalised over channels, squared difference, 1×1 linear heads
``lin0..lin4`` (no bias), spatial mean, summed over layers. Lower is closer.

Weights (nothing is downloaded; see docs/evaluation.md):

* the VGG16 backbone as torchvision saves it (``features.N.weight/bias``; the
  ``classifier.*`` keys are ignored), or as the ``lpips`` model's state dict
  (``net.sliceK.N.*``);
* the linear heads as in the ``lpips`` package's ``weights/v0.1/vgg.pth``
  (``lin0.model.1.weight`` … ``lin4.model.1.weight``, shapes ``(1, C, 1, 1)``).

Give them as one or more files or folders; ``.safetensors`` preferred, ``.pth``
read with ``torch.load(weights_only=True)``. Without weights LPIPS is reported
unavailable by ``lgvsc eval``, never estimated.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch
from torch import nn

from lgvsc.metrics.vgg16 import ClipPairScorer, load_into, load_weight_files, vgg16_features

__all__ = ["LPIPS_CHANNELS", "LpipsVGG", "LpipsScorer", "lin_keys"]

#: Channels of the five VGG16 taps (relu1_2 .. relu5_3).
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
#: End (exclusive) of each slice of ``features``: relu1_2 is index 3, relu2_2 8, relu3_3 15, relu4_3 22, relu5_3 29.
_TAPS = (4, 9, 16, 23, 30)


def lin_keys() -> list[str]:
    """The ``lpips`` package's keys of the linear heads."""
    return [f"lin{i}.model.1.weight" for i in range(len(LPIPS_CHANNELS))]


class _Lin(nn.Module):
    """The ``lpips`` package's ``NetLinLayer`` (dropout, 1×1 conv without bias), same key layout."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, stride=1, padding=0, bias=False))


class LpipsVGG(nn.Module):
    """LPIPS-VGG v0.1; :meth:`forward` takes two ``(N, 3, H, W)`` float batches in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.features = vgg16_features()
        for i, c in enumerate(LPIPS_CHANNELS):
            self.add_module(f"lin{i}", _Lin(c))
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)
        self.eval()

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = ((2 * x - 1) - self.shift) / self.scale
        out, start = [], 0
        for end in _TAPS:
            h = self.features[start:end](h)
            out.append(h)
            start = end
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(x.shape[0], device=x.device)
        for i, (fx, fy) in enumerate(zip(self._taps(x), self._taps(y), strict=True)):
            nx = fx / (torch.sqrt(torch.sum(fx ** 2, dim=1, keepdim=True)) + 1e-10)
            ny = fy / (torch.sqrt(torch.sum(fy ** 2, dim=1, keepdim=True)) + 1e-10)
            lin = getattr(self, f"lin{i}").model
            total = total + lin((nx - ny) ** 2).mean(dim=(1, 2, 3))
        return total

    def load_weights(self, paths: Iterable[str | os.PathLike]) -> None:
        """Load the backbone and heads from local files (see the module docstring)."""
        load_into(self, load_weight_files(paths), "LPIPS-VGG",
                  rename=[(r"^net\.slice\d+\.(\d+)\.", r"features.\1.")],
                  ignore=(r"classifier\..*", r"scaling_layer\..*"))


class LpipsScorer(ClipPairScorer):
    """LPIPS-VGG of clips from local weights; see :class:`LpipsVGG` and the module docstring.

    :param weights: files and/or folders holding the VGG16 backbone and the linear heads
    :param max_frames: frames scored per clip (evenly spaced; VGG16 at full size is slow on a CPU)
    """

    name = "LPIPS-VGG v0.1"

    def __init__(self, weights: Iterable[str | os.PathLike], max_frames: int = 16, batch_size: int = 4) -> None:
        super().__init__(max_frames, batch_size)
        self.net = LpipsVGG()
        self.net.load_weights(weights)
