# SPDX-License-Identifier: GPL-3.0-or-later
"""The Hugging Face profile: builds the HF judge, captioner and segment generator from options.

:func:`build_hf_backends` returns a lazy mapping with the keys ``judge``,
``captioner`` and ``generator``: a model is loaded on first access only, so an
encoder never loads the video generator and a decoder never loads the VLM.
When the judge and the captioner name the same model they share one copy.
The keyframe codec and the motion estimator have no HF variant; the profile
code takes them from the classical backends.

Options (a mapping, or any object with attributes such as an ``argparse.Namespace``;
each key may also be spelled with an ``hf_`` prefix, unknown keys are ignored):

=====================  ==========================================  =====================================
key                    meaning                                     default
=====================  ==========================================  =====================================
``vlm_model``          VLM for both judge and captioner            ``llava-hf/llava-1.5-7b-hf``
``judge_model``        VLM for PSSS (overrides ``vlm_model``)      ``vlm_model``
``caption_model``      VLM for captions (overrides ``vlm_model``)  ``vlm_model``
``generator_model``    Wan FLF2V or LTX condition pipeline         ``Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers``
``device``             ``cpu``, ``cuda[:N]``, ``mps``, ``auto``    ``auto``
``dtype``              ``auto``, ``float32``, ``bfloat16``, ...    ``auto``
``description_tokens`` round-1 description length                  64
``psss_batch``         frames / pairs per judge batch and SKEM's   16
                       speculative window, or ``auto`` (halves on
                       out-of-memory); alias ``judge_batch_size``
``caption_frames``     frames shown per caption                    3
``caption_tokens``     caption length                              48
``gen_preset``         DSA settings: ``ltx-distilled``, ``ltx-dev``,  none
                       ``wan`` (``DSA_PRESETS``)
``gen_steps``          denoising steps                             30 (or the preset's)
``gen_guidance``       guidance scale                              5.0 (or the preset's)
``gen_scheduler``      diffusers scheduler class name              the checkpoint's
``gen_timesteps``      custom timesteps (list or "a,b,c")          none (or the preset's)
``decode_timestep``,   LTX pipeline options                        the preset's / pipeline's
``decode_noise_scale``,
``image_cond_noise_scale``,
``guidance_rescale``
``gen_size``           working ``(h, w)`` or ``"HxW"``             source size rounded to 16
``gen_max_frames``     frames per pipeline call                    81
``seed``               session seed (one derived seed per segment) 0
``use_prev_tail``      LTX: add the previous t+1 frames            True
``paste_keyframes``    exact boundary frames                       False
``cpu_offload``        ``enable_model_cpu_offload`` on CUDA;       ``auto``
                       ``auto``: when the weights pass 85 % of
                       the GPU's memory
=====================  ==========================================  =====================================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import UserError

__all__ = ["build_hf_backends", "HFBackends", "DEFAULT_VLM", "DEFAULT_GENERATOR"]

#: Default VLM (PSSS and captions): the paper used InternVL2-8B / PLLaVA-7B; LLaVA-1.5 loads with AutoProcessor.
DEFAULT_VLM = "llava-hf/llava-1.5-7b-hf"
#: Default first/last-frame generator.
DEFAULT_GENERATOR = "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers"

_KEYS = ("judge", "captioner", "generator")


def _get(options: Any, key: str, default: Any = None) -> Any:
    for k in (key, "hf_" + key):
        if isinstance(options, Mapping):
            if options.get(k) is not None:
                return options[k]
        elif getattr(options, k, None) is not None:
            return getattr(options, k)
    return default


_PIPELINE_OPTIONS = ("decode_timestep", "decode_noise_scale", "image_cond_noise_scale", "guidance_rescale")


def _floats(value: Any) -> list[float] | None:
    if value is None or value == "":
        return None
    try:
        return [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except ValueError as exc:
        raise UserError(f"timesteps {value!r} are not a comma-separated list of numbers") from exc


def _offload(value: Any) -> bool | str:
    if isinstance(value, str):
        v = value.strip().lower()
        if v == "auto":
            return "auto"
        if v in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return v in ("1", "true", "yes", "on")
        raise UserError(f"cpu_offload {value!r}: use auto, true or false")
    return bool(value)


def _batch(value: Any) -> int | str:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        b = int(value)
    except (TypeError, ValueError) as exc:
        raise UserError(f"PSSS batch {value!r} is not a positive integer or 'auto'") from exc
    if b < 1:
        raise UserError(f"PSSS batch must be >= 1 or 'auto', got {b}")
    return b


def _size(value: Any) -> tuple[int, int] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            h, w = (int(v) for v in value.lower().split("x"))
        except ValueError as exc:
            raise UserError(f"generator size {value!r} is not of the form HxW (e.g. 320x576)") from exc
        return h, w
    h, w = value
    return int(h), int(w)


class HFBackends(Mapping):
    """Lazy mapping ``judge`` / ``captioner`` / ``generator`` → HF backend, loaded on first access."""

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else {}
        self._built: dict[str, Any] = {}
        self._vlms: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in _KEYS:
            raise KeyError(key)
        if key not in self._built:
            self._built[key] = getattr(self, "_build_" + key)()
        return self._built[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_KEYS)

    def __len__(self) -> int:
        return len(_KEYS)

    def loaded(self) -> list[str]:
        """Keys whose backend has been built so far."""
        return [k for k in _KEYS if k in self._built]

    def _opt(self, key: str, default: Any = None) -> Any:
        return _get(self.options, key, default)

    def _vlm(self, source: Any, what: str):
        from .hf_common import VisionLanguageModel

        key = str(source)
        if key not in self._vlms:
            self._vlms[key] = VisionLanguageModel.load(source, self._opt("device", "auto"), self._opt("dtype", "auto"),
                                                       what=what)
        return self._vlms[key]

    def _build_judge(self):
        from .hf_judge import HFSemanticJudge

        src = self._opt("judge_model", self._opt("vlm_model", DEFAULT_VLM))
        return HFSemanticJudge(
            self._vlm(src, "semantic judge"),
            description_tokens=int(self._opt("description_tokens", 64)),
            batch_size=_batch(self._opt("psss_batch", self._opt("judge_batch_size", 16))),
        )

    def _build_captioner(self):
        from .hf_captioner import HFCaptioner

        src = self._opt("caption_model", self._opt("vlm_model", DEFAULT_VLM))
        return HFCaptioner(
            self._vlm(src, "captioner"),
            num_frames=int(self._opt("caption_frames", 3)),
            max_new_tokens=int(self._opt("caption_tokens", 48)),
        )

    def _build_generator(self):
        from .hf_generator import HFSegmentGenerator

        steps, guidance = self._opt("gen_steps"), self._opt("gen_guidance")
        return HFSegmentGenerator(
            self._opt("generator_model", DEFAULT_GENERATOR),
            device=self._opt("device", "auto"),
            dtype=self._opt("dtype", "auto"),
            size=_size(self._opt("gen_size")),
            num_inference_steps=None if steps is None else int(steps),
            guidance_scale=None if guidance is None else float(guidance),
            negative_prompt=self._opt("negative_prompt"),
            seed=int(self._opt("seed", 0)),
            max_frames=int(self._opt("gen_max_frames", 81)),
            use_prev_tail=bool(self._opt("use_prev_tail", True)),
            paste_keyframes=bool(self._opt("paste_keyframes", False)),
            cpu_offload=_offload(self._opt("cpu_offload", "auto")),
            scheduler=self._opt("gen_scheduler"),
            timesteps=_floats(self._opt("gen_timesteps")),
            pipeline_options={k: float(self._opt(k)) for k in _PIPELINE_OPTIONS if self._opt(k) is not None},
            preset=self._opt("gen_preset"),
        )


def build_hf_backends(options: Any = None) -> HFBackends:
    """The HF profile's backends as a lazy mapping (``judge``, ``captioner``, ``generator``).

    >>> b = build_hf_backends({"device": "cpu"})
    >>> sorted(b), b.loaded()
    (['captioner', 'generator', 'judge'], [])
    """
    return HFBackends(options)
