# SPDX-License-Identifier: GPL-3.0-or-later
"""CLIP score between a source clip and its reconstruction: ``(cos + 1) / 2`` of CLIP image embeddings.

The paper reports the CLIP score with ViT-B/32 (``openai/clip-vit-base-patch32``)
as the frame-wise cosine similarity of image embeddings mapped to [0, 1]. It
needs CLIP weights: without them the score is *unavailable*
(:class:`ClipScoreUnavailable`), never estimated.

Examples
--------
>>> import tempfile, numpy as np
>>> from lgvsc.testing.tiny_models import build_tiny_clip
>>> scorer = ClipScorer(build_tiny_clip(tempfile.mkdtemp()), device="cpu")
>>> clip = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
>>> round(scorer.score(clip, clip), 6)
1.0
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..errors import UserError

__all__ = ["ClipScorer", "ClipScoreUnavailable", "clip_score", "DEFAULT_CLIP_MODEL"]

#: The paper's CLIP model.
DEFAULT_CLIP_MODEL = "openai/clip-vit-base-patch32"


class ClipScoreUnavailable(UserError):
    """No CLIP weights were given, or they cannot be loaded: the CLIP score is reported as unavailable."""


class ClipScorer:
    """Frame-wise CLIP score with ``CLIPModel`` + ``AutoProcessor`` loaded by ``from_pretrained``.

    :param model: local folder or hub id of a CLIP checkpoint (e.g. ``openai/clip-vit-base-patch32``);
        ``None`` or empty raises :class:`ClipScoreUnavailable`.
    :param device: ``cpu``, ``cuda[:N]``, ``mps`` or ``auto``.
    :param dtype: ``auto`` (bfloat16 on CUDA), ``float32``, ``bfloat16`` or ``float16``.
    :param batch_size: frames per forward pass.
    """

    def __init__(self, model: str | os.PathLike[str] | None, *, device: str | None = "auto",
                 dtype: str | None = "float32", batch_size: int = 32) -> None:
        if model is None or not os.fspath(model).strip():
            raise ClipScoreUnavailable(
                "CLIP score unavailable: no CLIP weights given (pass a local folder or hub id such as "
                f"{DEFAULT_CLIP_MODEL})"
            )
        from transformers import AutoProcessor, CLIPModel

        from ..backends.hf_common import pretrained_kwargs, resolve_device, resolve_dtype, resolve_source

        try:
            src = resolve_source(model, "CLIP")
        except UserError as exc:
            raise ClipScoreUnavailable(f"CLIP score unavailable: {exc}") from exc
        dev = resolve_device(device)
        if dev == "auto":
            import torch

            dev = "cuda" if torch.cuda.is_available() else "cpu"
        kw = pretrained_kwargs(src)
        try:
            self.model = CLIPModel.from_pretrained(src.location, dtype=resolve_dtype(dtype, dev), **kw).to(dev).eval()
            self.processor = AutoProcessor.from_pretrained(
                src.location, **{k: v for k, v in kw.items() if k != "use_safetensors"})
        except (OSError, ValueError, KeyError) as exc:
            raise ClipScoreUnavailable(f"CLIP score unavailable: cannot load {src}: {exc}") from exc
        self.device = dev
        self.batch_size = max(1, int(batch_size))

    def embed(self, frames: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Unit-norm image embeddings ``(N, D)`` float32 of ``(H, W, 3)`` uint8 RGB frames."""
        import torch
        from PIL import Image

        images = [Image.fromarray(np.asarray(f, dtype=np.uint8), "RGB") for f in frames]
        out = []
        for i in range(0, len(images), self.batch_size):
            batch = self.processor(images=images[i:i + self.batch_size], return_tensors="pt")
            pixels = batch["pixel_values"].to(self.device, self.model.dtype)
            with torch.inference_mode():
                feats = self.model.get_image_features(pixel_values=pixels)
            if not isinstance(feats, torch.Tensor):  # transformers 5 returns a model output
                feats = feats.pooler_output
            feats = torch.nn.functional.normalize(feats.float(), dim=-1)
            out.append(feats.cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def frame_scores(self, reference: np.ndarray, test: np.ndarray) -> np.ndarray:
        """``(cos + 1) / 2`` per frame pair of two clips with the same frame count, in [0, 1]."""
        if len(reference) != len(test):
            raise ValueError(f"clips differ in frame count: {len(reference)} vs {len(test)}")
        if len(reference) == 0:
            raise ValueError("cannot score empty clips")
        cos = np.sum(self.embed(reference) * self.embed(test), axis=-1)
        return np.clip((cos + 1.0) / 2.0, 0.0, 1.0)

    def score(self, reference: np.ndarray, test: np.ndarray) -> float:
        """Mean frame-wise CLIP score of two ``(F, H, W, 3)`` uint8 clips."""
        return float(np.mean(self.frame_scores(reference, test)))


def clip_score(reference: np.ndarray, test: np.ndarray, model: str | os.PathLike[str] | None,
               device: str | None = "auto") -> float:
    """One-shot :meth:`ClipScorer.score`; raises :class:`ClipScoreUnavailable` without weights."""
    return ClipScorer(model, device=device).score(reference, test)
