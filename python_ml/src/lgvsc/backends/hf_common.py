# SPDX-License-Identifier: GPL-3.0-or-later
"""Loading Hugging Face models for the backends: hub id or local folder, safetensors only.

Every HF backend loads through :func:`load_vlm`, :func:`load_diffusers_pipeline` or
:func:`resolve_source`, so they share one behaviour:

- ``source`` is a local folder (never touches the network) or a hub id
  (``owner/name``, optionally ``owner/name@revision``).
- Weights load with ``use_safetensors=True``: a checkpoint that only ships
  pickled ``.bin`` weights is refused rather than unpickled.
- ``HF_HUB_OFFLINE=1`` is honoured: a hub id that is not in the local cache
  fails at once with a :class:`~lgvsc.errors.UserError` that says so, instead
  of retrying the network.
- ``device`` is ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``
  (accelerate's ``device_map="auto"``, spreads a large model over the GPUs);
  ``dtype`` is ``"auto"`` (bfloat16 on CUDA, float32 elsewhere), ``"float32"``,
  ``"bfloat16"`` or ``"float16"``.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError

__all__ = [
    "ModelSource",
    "hub_offline",
    "resolve_source",
    "resolve_device",
    "resolve_dtype",
    "pretrained_kwargs",
    "load_vlm",
    "load_diffusers_pipeline",
    "offload_needed",
    "OFFLOAD_FRACTION",
    "to_pil",
    "VisionLanguageModel",
]

log = logging.getLogger(__name__)

_DTYPES = ("auto", "float32", "bfloat16", "float16")
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: a local folder or a hub id (with an optional revision)."""

    location: str
    revision: str | None = None
    local: bool = False

    def __str__(self) -> str:
        return self.location + (f"@{self.revision}" if self.revision else "")


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set to a true value.

    Read from the environment at call time (``huggingface_hub`` reads it only once, at import).
    """
    truthy = {"1", "true", "yes", "on"}
    env = os.environ.get("HF_HUB_OFFLINE", "") or os.environ.get("TRANSFORMERS_OFFLINE", "")
    if env.strip():
        return env.strip().lower() in truthy
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover - huggingface_hub ships with transformers
        return False


def resolve_source(source: str | os.PathLike[str], what: str = "Hugging Face") -> ModelSource:
    """Check ``source`` and say where it comes from; raise :class:`UserError` if it cannot load.

    :param source: a local folder, or a hub id ``owner/name[@revision]``.
    :param what: what the model is for, used in error messages (e.g. ``"semantic judge"``).
    :output: a :class:`ModelSource`; for a hub id while offline, the id is checked against the local cache.
    """
    text = os.fspath(source).strip()
    if not text:
        raise UserError(f"no {what} model given (pass a local folder or a Hugging Face hub id)")
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"{what} model {text!r} is a file; pass the folder that holds config.json")
        if not any((path / n).is_file() for n in ("config.json", "model_index.json")):
            raise UserError(f"{what} model folder {text!r} has no config.json or model_index.json")
        return ModelSource(str(path), local=True)
    repo, _, revision = text.partition("@")
    if not _HUB_ID.fullmatch(repo):
        raise UserError(f"{what} model {text!r}: no such folder, and it is not a hub id of the form owner/name")
    src = ModelSource(repo, revision or None, local=False)
    if hub_offline():
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            snapshot_download(repo, revision=src.revision, local_files_only=True)
        except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError) as exc:
            raise UserError(
                f"{what} model {src} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; "
                f"download it first (huggingface-cli download {repo}) or pass a local folder"
            ) from exc
    return src


def resolve_device(device: str | None) -> str:
    """Normalise a device option: ``None``/``"auto"`` keeps ``"auto"``; anything else is checked by torch."""
    import torch

    if device is None or device == "auto":
        return "auto"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UserError(f"unknown device {device!r} (use cpu, cuda, cuda:N, mps or auto)") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device!r} requested but CUDA is not available on this machine")
    return str(dev)


def resolve_dtype(dtype: str | None, device: str):
    """Map a dtype option to a ``torch.dtype``: ``auto`` = bfloat16 on CUDA, float32 elsewhere."""
    import torch

    name = (dtype or "auto").lower()
    if name not in _DTYPES:
        raise UserError(f"unknown dtype {dtype!r} (use one of {', '.join(_DTYPES)})")
    if name == "auto":
        on_gpu = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
        return torch.bfloat16 if on_gpu else torch.float32
    return getattr(torch, name)


def pretrained_kwargs(src: ModelSource) -> dict[str, Any]:
    """``from_pretrained`` keyword arguments for ``src``: safetensors only, local files only when offline."""
    kw: dict[str, Any] = {"use_safetensors": True}
    if src.revision:
        kw["revision"] = src.revision
    if hub_offline() or src.local:
        kw["local_files_only"] = True
    return kw


def load_vlm(source: str | os.PathLike[str], device: str | None = "auto", dtype: str | None = "auto",
             what: str = "vision-language"):
    """Load a vision-language model with ``AutoModelForImageTextToText`` and its ``AutoProcessor``.

    :output: ``(model, processor, device)``: the model in eval mode, and the device its inputs go to.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    src = resolve_source(source, what)
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    kw = pretrained_kwargs(src)
    try:
        processor = AutoProcessor.from_pretrained(src.location, **{k: v for k, v in kw.items() if k != "use_safetensors"})
        if dev == "auto":
            model = AutoModelForImageTextToText.from_pretrained(src.location, dtype=torch_dtype, device_map="auto", **kw)
        else:
            model = AutoModelForImageTextToText.from_pretrained(src.location, dtype=torch_dtype, **kw).to(dev)
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"cannot load {what} model {src}: {exc}") from exc
    model.eval()
    input_device = str(model.device) if dev == "auto" else dev
    log.info("loaded %s model %s (%s) on %s as %s", what, src, type(model).__name__, input_device, torch_dtype)
    return model, processor, input_device


#: ``cpu_offload="auto"`` offloads when the pipeline's weights exceed this fraction of the GPU's memory.
OFFLOAD_FRACTION = 0.85


def offload_needed(weight_bytes: int, gpu_bytes: int, fraction: float = OFFLOAD_FRACTION) -> bool:
    """Whether ``weight_bytes`` of weights leave too little of ``gpu_bytes`` for activations (``auto`` offload).

    >>> offload_needed(42 * 2**30, 80 * 2**30), offload_needed(42 * 2**30, 48 * 2**30)
    (False, True)
    """
    return gpu_bytes > 0 and weight_bytes > fraction * gpu_bytes


def _pipeline_weight_bytes(pipe) -> int:
    import torch

    comps = getattr(pipe, "components", {}) or {}
    return int(sum(p.numel() * p.element_size() for c in comps.values() if isinstance(c, torch.nn.Module)
                   for p in c.parameters()))


def load_diffusers_pipeline(source: str | os.PathLike[str], device: str | None = "auto",
                            dtype: str | None = "auto", what: str = "video generator",
                            cpu_offload: bool | str = False):
    """Load a diffusers pipeline with ``DiffusionPipeline.from_pretrained`` (class from ``model_index.json``).

    ``device="auto"`` puts it on CUDA when available, else the CPU. ``cpu_offload=True`` uses
    ``enable_model_cpu_offload`` (keeps one component on the GPU at a time); ``"auto"`` does so only when the
    weights exceed :data:`OFFLOAD_FRACTION` of the GPU's memory (:func:`offload_needed`).
    :output: ``(pipeline, device)``.
    """
    import torch
    from diffusers import DiffusionPipeline

    src = resolve_source(source, what)
    dev = resolve_device(device)
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch_dtype = resolve_dtype(dtype, dev)
    kw = pretrained_kwargs(src)
    try:
        pipe = DiffusionPipeline.from_pretrained(src.location, dtype=torch_dtype, **kw)
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"cannot load {what} pipeline {src}: {exc}") from exc
    if cpu_offload == "auto":
        gpu = torch.cuda.get_device_properties(torch.device(dev)).total_memory if dev.startswith("cuda") else 0
        weights = _pipeline_weight_bytes(pipe)
        cpu_offload = offload_needed(weights, gpu)
        if cpu_offload:
            log.info("%s weights %.1f GiB exceed %.0f%% of the GPU's %.1f GiB: model CPU offload on", what,
                     weights / 2**30, OFFLOAD_FRACTION * 100, gpu / 2**30)
    if cpu_offload and dev.startswith("cuda"):
        pipe.enable_model_cpu_offload(device=dev)
    else:
        pipe.to(dev)
    pipe.set_progress_bar_config(disable=True)
    log.info("loaded %s pipeline %s (%s) on %s as %s", what, src, type(pipe).__name__, dev, torch_dtype)
    return pipe, dev


def to_pil(frame):
    """An ``(H, W, 3)`` uint8 RGB array as a ``PIL.Image`` (checked)."""
    import numpy as np
    from PIL import Image

    arr = np.asarray(frame)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got shape {arr.shape} dtype {arr.dtype}")
    return Image.fromarray(arr, "RGB")


class VisionLanguageModel:
    """A loaded VLM and its processor, shared by the judge and the captioner (one copy in memory).

    :param model: an ``AutoModelForImageTextToText`` model.
    :param processor: its ``AutoProcessor``; the tokenizer is switched to left padding for batched generation.
    :param device: where inputs go (the model's first device with ``device_map="auto"``).
    :param source: where it was loaded from (for logs and error messages).
    """

    def __init__(self, model, processor, device: str, source: str = "") -> None:
        self.model = model
        self.processor = processor
        self.device = device
        self.source = source
        tok = self.tokenizer
        tok.padding_side = "left"
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token

    @classmethod
    def load(cls, source: str | os.PathLike[str], device: str | None = "auto", dtype: str | None = "auto",
             what: str = "vision-language") -> VisionLanguageModel:
        """Load with :func:`load_vlm`."""
        model, processor, dev = load_vlm(source, device, dtype, what)
        return cls(model, processor, dev, os.fspath(source))

    @property
    def tokenizer(self):
        return getattr(self.processor, "tokenizer", self.processor)

    def chat_text(self, user_text: str, n_images: int = 0) -> str:
        """The model's own chat format for one user turn holding ``n_images`` images then ``user_text``.

        Uses the processor's chat template; a processor without one gets the LLaVA-1.5 format
        ``USER: <image>\\n<text> ASSISTANT:``.
        """
        content: list[dict[str, Any]] = [{"type": "image"} for _ in range(n_images)]
        content.append({"type": "text", "text": user_text})
        if getattr(self.processor, "chat_template", None):
            return self.processor.apply_chat_template(
                [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
            )
        image_token = getattr(self.processor, "image_token", "<image>")
        return "USER: " + f"{image_token}\n" * n_images + f"{user_text} ASSISTANT:"

    def inputs(self, texts: list[str], images: list | None = None):
        """Processor inputs for a batch (left padded), on the model's device, floats in the model's dtype."""
        kw: dict[str, Any] = {"text": texts, "return_tensors": "pt", "padding": True}
        if images:
            kw["images"] = images
        batch = self.processor(**kw)
        batch = batch.to(self.device)
        if "pixel_values" in batch:
            batch["pixel_values"] = batch["pixel_values"].to(self.model.dtype)
        return batch

    def generate(self, texts: list[str], images: list | None = None, max_new_tokens: int = 64) -> list[str]:
        """Greedy generation for a batch; returns only the new text of each prompt, stripped."""
        import torch

        batch = self.inputs(texts, images)
        with torch.inference_mode():
            out = self.model.generate(
                **batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=self.tokenizer.pad_token_id
            )
        new = out[:, batch["input_ids"].shape[1]:]
        return [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]

    def first_token_probabilities(self, texts: list[str], images: list | None = None):
        """Softmax over the vocabulary of the first generated token of each prompt: ``(B, V)`` float32 on CPU.

        Uses ``generate(max_new_tokens=1, return_dict_in_generate=True)`` and its raw first-step logits
        (``output_logits``): identical to ``scores[0]`` when no logits processor is configured, and immune to
        a checkpoint's generation config adding one (repetition penalty, bad-word masks) that would bend
        the probabilities.
        """
        import torch

        batch = self.inputs(texts, images)
        with torch.inference_mode():
            out = self.model.generate(
                **batch,
                max_new_tokens=1,
                do_sample=False,
                output_scores=True,
                output_logits=True,
                return_dict_in_generate=True,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        return out.logits[0].float().softmax(-1).cpu()
