# SPDX-License-Identifier: GPL-3.0-or-later
"""VGG16 ``features`` in plain torch, and safe loading of local weight files, for LPIPS and DISTS.

LPIPS (Zhang et al. 2018) and DISTS (Ding et al. 2020) are both built on
torchvision's ImageNet VGG16. torchvision does not work on lgvsc's build machines
(and the ``lpips`` / ``piq`` / ``DISTS_pytorch`` packages import it), so the
network is defined here with **exactly** the layer layout of
``torchvision.models.vgg16().features`` — same ``nn.Sequential`` indices — so
that torchvision's state-dict keys (``features.0.weight`` … ``features.28.bias``)
load unchanged.

Weights are only ever read from local files given by the user: ``.safetensors``
(preferred) or a torch ``.pth``/``.pt``/``.bin`` state dict read with
``torch.load(weights_only=True)`` (tensors only, never arbitrary pickle). Nothing
is downloaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lgvsc.errors import UserError

__all__ = ["VGG16_CONV_INDICES", "WEIGHT_SUFFIXES", "WeightsError", "vgg16_features", "load_weight_files",
           "load_into", "features_keys", "ClipPairScorer"]

#: torchvision's ``vgg16`` configuration "D": channels, "M" = max-pool.
_CFG_D = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
#: Indices of the convolutions in ``features`` (each followed by a ReLU at index + 1).
VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


class WeightsError(UserError):
    """Weight files missing, unreadable, or not matching the network (names the problem)."""


def vgg16_features() -> nn.Sequential:
    """``torchvision.models.vgg16().features`` (31 modules), randomly initialised."""
    layers: list[nn.Module] = []
    c_in = 3
    for v in _CFG_D:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(c_in, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            c_in = int(v)
    return nn.Sequential(*layers)


def features_keys(prefix: str = "features.") -> list[str]:
    """The state-dict keys of :func:`vgg16_features` (as torchvision names them)."""
    return [f"{prefix}{i}.{p}" for i in VGG16_CONV_INDICES for p in ("weight", "bias")]


def _files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.name.endswith(WEIGHT_SUFFIXES))
            if not found:
                raise WeightsError(f"{p}: folder holds no weight files ({', '.join(WEIGHT_SUFFIXES)})")
            out += found
        elif p.is_file():
            if not p.name.endswith(WEIGHT_SUFFIXES):
                raise WeightsError(f"{p}: not a weight file; expected one of {', '.join(WEIGHT_SUFFIXES)}")
            out.append(p)
        else:
            raise WeightsError(f"{p}: no such weight file or folder")
    if not out:
        raise WeightsError("no weight files given")
    return out


def load_weight_files(paths: Iterable[str | os.PathLike]) -> dict[str, torch.Tensor]:
    """All tensors of the given files/folders merged into one state dict (a key twice is an error)."""
    merged: dict[str, torch.Tensor] = {}
    for f in _files(paths):
        try:
            if f.name.endswith(".safetensors"):
                from safetensors.torch import load_file

                sd = load_file(str(f), device="cpu")
            else:  # tensors only: weights_only refuses arbitrary pickled objects
                sd = torch.load(f, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any reader failure is the file's problem
            raise WeightsError(f"{f}: cannot read weights ({type(exc).__name__}: {exc})") from None
        if isinstance(sd, Mapping) and set(sd) == {"state_dict"}:
            sd = sd["state_dict"]
        if not isinstance(sd, Mapping) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
            raise WeightsError(f"{f}: not a flat state dict of tensors")
        for k, v in sd.items():
            if k in merged:
                raise WeightsError(f"{f}: key {k!r} also appears in another weight file")
            merged[str(k)] = v
    return merged


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor], what: str,
              rename: list[tuple[str, str]] = (), ignore: tuple[str, ...] = ()) -> None:
    """Load ``state`` into ``module`` strictly, after ``rename`` (regex, repl) and dropping ``ignore`` patterns.

    Every parameter of ``module`` must be present with its exact shape; a key left over that
    is not ignored is an error too (it means the files are for another network).
    """
    sd: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        if any(re.fullmatch(p, k) for p in ignore):
            continue
        for pat, repl in rename:
            k = re.sub(pat, repl, k)
        sd[k] = v
    own = module.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    bad = [f"{k}: file {tuple(sd[k].shape)} vs network {tuple(own[k].shape)}"
           for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s), e.g. {', '.join(missing[:4])}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s), e.g. {', '.join(unexpected[:4])}")
    if bad:
        problems.append(f"{len(bad)} shape mismatch(es): {'; '.join(bad[:3])}")
    if problems:
        raise WeightsError(f"{what} weights do not match the network: " + "; ".join(problems))
    module.load_state_dict({k: sd[k].to(own[k].dtype) for k in own}, strict=True)


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0


class ClipPairScorer:
    """Base of the LPIPS/DISTS scorers (``net(x, y) -> (N,)``).

    Clips are ``(N, H, W, 3)`` uint8; :meth:`score` uses an evenly spaced subset of frames.
    """

    net: nn.Module

    def __init__(self, max_frames: int = 16, batch_size: int = 4) -> None:
        if max_frames < 1 or batch_size < 1:
            raise ValueError("max_frames and batch_size must be >= 1")
        self.max_frames, self.batch_size = int(max_frames), int(batch_size)

    def frame_indices(self, num_frames: int) -> np.ndarray:
        """At most ``max_frames`` evenly spaced frames (all of them for short clips)."""
        if num_frames <= self.max_frames:
            return np.arange(num_frames)
        return np.unique(np.linspace(0, num_frames - 1, self.max_frames).round().astype(int))

    @torch.no_grad()
    def per_frame(self, ref: np.ndarray, test: np.ndarray) -> np.ndarray:
        """Distance of every frame pair (all frames given)."""
        if ref.shape != test.shape or ref.ndim != 4 or ref.shape[-1] != 3:
            raise ValueError(f"need two (N, H, W, 3) clips of one shape, got {ref.shape} and {test.shape}")
        out = []
        for s in range(0, len(ref), self.batch_size):
            out.append(self.net(_to_tensor(ref[s:s + self.batch_size]), _to_tensor(test[s:s + self.batch_size])))
        return torch.cat(out).cpu().numpy().astype(np.float64) if out else np.zeros(0)

    def score(self, ref: np.ndarray, test: np.ndarray) -> float:
        """Mean distance over :meth:`frame_indices` of the clip."""
        if ref.shape != test.shape:
            raise ValueError(f"need two (N, H, W, 3) clips of one shape, got {ref.shape} and {test.shape}")
        idx = self.frame_indices(len(ref))
        return float(np.mean(self.per_frame(ref[idx], test[idx])))
