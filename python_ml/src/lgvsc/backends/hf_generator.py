# SPDX-License-Identifier: GPL-3.0-or-later
"""DSA segment generation with a diffusers first/last-frame video pipeline.

The paper's DSA decoder rebuilds each segment at its true length from its two
boundary keyframes, prompted with the caption, the aesthetic phrase and the
motion score, and conditioned on the tail of the previous segment. Two
diffusers pipeline families are supported, loaded with
``DiffusionPipeline.from_pretrained`` and told apart by their ``__call__``:

- **Wan 2.1 FLF2V** (``WanImageToVideoPipeline``, e.g.
  ``Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers``): ``image=`` first keyframe,
  ``last_image=`` last keyframe.
- **LTX-Video with conditions** (``LTXConditionPipeline``, e.g.
  ``Lightricks/LTX-Video-0.9.5``): ``LTXVideoCondition`` items at frame
  indices: the first keyframe (or the previous segment's tail, as a video
  condition) at frame 0 and the last keyframe at the last frame.

Per segment of ``F`` frames at ``H x W``:

1. Frame count: the pipeline needs ``F' = k * t + 1`` frames (``t`` = the VAE's
   temporal factor: 4 for Wan, 8 for LTX) with ``F' > 1``. ``F'`` is the
   smallest such count ``>= F``, so the generated motion is only ever
   thinned, never stretched; it is capped at ``max_frames``.
2. Size: height and width must be multiples of the VAE's spatial factor times
   the patch size (16 for Wan, 32 for LTX). The keyframes are resized to the
   working size (``size=`` option, default the source size rounded half up to
   the multiple), and the output is resized back to ``H x W``.
3. Prompt: ``"<caption>, aesthetic score 6.5, motion score <x>"`` (the paper's).
4. The generated frames are resampled to exactly ``F`` by linear
   interpolation in time (first and last frames kept as generated).

Previous-segment tail (``use_prev_tail=True``): LTX takes the last
``t + 1`` frames of the previous segment as a video condition ending at the
segment's frame 0; they are generated too and cut off the output. Wan 2.1
FLF2V conditions on exactly two images, so there the last frame the viewer saw
replaces the decoded first keyframe as the start image (no jump at the join).
Without a tail, or by default, the decoded first keyframe is the start, as the
paper's boundary condition. ``paste_keyframes=True`` overwrites frame 0 and
the last frame with the received keyframes (exact boundaries).

Text only (:meth:`HFSegmentGenerator.generate_text_only`, the paper's
text-only baseline): LTX's ``LTXConditionPipeline`` also generates from the
prompt alone (no conditions); the same frame-count, size and resampling rules
apply. Wan 2.1 FLF2V needs its two images, so it has no text-only mode
(:attr:`HFSegmentGenerator.supports_text_only` is ``False``).
"""

from __future__ import annotations

import inspect
import logging
import math
import os
from typing import Any

import numpy as np

from ..errors import UserError
from .base import SegmentGenerator, SegmentRequest
from .hf_common import load_diffusers_pipeline, to_pil

__all__ = ["HFSegmentGenerator", "segment_prompt", "pipeline_frame_count", "resample_frames", "AESTHETIC_PHRASE"]

log = logging.getLogger(__name__)

#: The paper's aesthetic phrase appended to every caption.
AESTHETIC_PHRASE = "aesthetic score 6.5"


def segment_prompt(caption: str, motion_score: float) -> str:
    """The DSA prompt: caption + aesthetic phrase + motion score.

    >>> segment_prompt("a dog runs on a beach", 3.5)
    'a dog runs on a beach, aesthetic score 6.5, motion score 3.5'
    """
    parts = [p for p in (" ".join(caption.split()).rstrip(". "), AESTHETIC_PHRASE) if p]
    return ", ".join(parts) + f", motion score {round(float(motion_score), 2):g}"


def pipeline_frame_count(num_frames: int, temporal_factor: int = 4, max_frames: int | None = 81) -> int:
    """Smallest ``k * temporal_factor + 1 >= num_frames`` with ``k >= 1``, capped at ``max_frames``.

    >>> [pipeline_frame_count(n) for n in (2, 5, 6, 9, 24, 200)]
    [5, 5, 9, 9, 25, 81]
    """
    if num_frames < 2:
        raise ValueError(f"a segment has at least 2 frames, got {num_frames}")
    t = max(int(temporal_factor), 1)
    k = max(1, math.ceil((num_frames - 1) / t))
    if max_frames is not None:
        k = min(k, max(1, (int(max_frames) - 1) // t))
    return k * t + 1


def resample_frames(frames: np.ndarray, num_frames: int) -> np.ndarray:
    """Resample ``(F', H, W, C)`` frames to ``num_frames`` by linear interpolation in time (ends kept).

    >>> clip = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1)
    >>> resample_frames(clip, 3).ravel().tolist()
    [0.0, 2.0, 4.0]
    """
    src = np.asarray(frames, dtype=np.float32)
    n = src.shape[0]
    if n == num_frames:
        return src
    pos = np.linspace(0.0, n - 1, num_frames)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (pos - lo).reshape(-1, *([1] * (src.ndim - 1))).astype(np.float32)
    return src[lo] * (1.0 - w) + src[hi] * w


def _resize(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    shrink = width < frame.shape[1] or height < frame.shape[0]
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


class HFSegmentGenerator(SegmentGenerator):
    """First/last-frame-conditioned segment generation with a diffusers pipeline (Wan 2.1 FLF2V or LTX).

    :param model: local folder or hub id of a diffusers pipeline whose ``__call__`` takes ``last_image``
        (``WanImageToVideoPipeline``) or LTX ``conditions`` (``LTXConditionPipeline``), or a built pipeline.
    :param device: ``cpu``, ``cuda[:N]`` or ``auto`` (CUDA when available).
    :param dtype: ``auto`` (bfloat16 on CUDA), ``float32``, ``bfloat16`` or ``float16``.
    :param size: working ``(height, width)``; default the source size rounded to the pipeline's multiple.
    :param num_inference_steps: denoising steps per segment.
    :param guidance_scale: classifier-free guidance scale (``<= 1`` disables the negative pass).
    :param negative_prompt: negative prompt (None = the pipeline's default of none).
    :param seed: seed of each segment's noise (the same request gives the same segment).
    :param max_frames: cap on the frames generated per call (81 for Wan 2.1); longer segments are resampled.
    :param use_prev_tail: condition on the previous segment's tail (see module docstring).
    :param paste_keyframes: overwrite the first/last output frames with the received keyframes.
    :param cpu_offload: ``enable_model_cpu_offload`` on CUDA (14B Wan on one 80 GB GPU).

    :input: a :class:`~lgvsc.backends.base.SegmentRequest`.
    :output: ``(num_frames, H, W, 3)`` uint8 at the keyframes' size.
    """

    name = "hf-dsa"

    def __init__(
        self,
        model: Any,
        *,
        device: str | None = "auto",
        dtype: str | None = "auto",
        size: tuple[int, int] | None = None,
        num_inference_steps: int = 30,
        guidance_scale: float = 5.0,
        negative_prompt: str | None = None,
        seed: int = 0,
        max_frames: int = 81,
        use_prev_tail: bool = False,
        paste_keyframes: bool = False,
        cpu_offload: bool = False,
        max_sequence_length: int = 512,
    ) -> None:
        if num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be >= 1, got {num_inference_steps}")
        if max_frames < 2:
            raise ValueError(f"max_frames must be >= 2, got {max_frames}")
        if isinstance(model, (str, os.PathLike)):
            self.pipe, self.device = load_diffusers_pipeline(model, device, dtype, "segment generator", cpu_offload)
        else:
            self.pipe, self.device = model, str(getattr(model, "device", "cpu"))
        params = inspect.signature(self.pipe.__call__).parameters
        if "last_image" in params:
            self.kind = "wan-flf2v"
            self.temporal_factor = int(getattr(self.pipe, "vae_scale_factor_temporal", 4))
            spatial = int(getattr(self.pipe, "vae_scale_factor_spatial", 8))
            transformer = getattr(self.pipe, "transformer", None)
            patch = tuple(getattr(getattr(transformer, "config", None), "patch_size", (1, 2, 2)))
            self.multiple = spatial * int(patch[-1])
        elif "conditions" in params and hasattr(self.pipe, "vae_temporal_compression_ratio"):
            self.kind = "ltx-condition"
            self.temporal_factor = int(self.pipe.vae_temporal_compression_ratio)
            spatial = int(getattr(self.pipe, "vae_spatial_compression_ratio", 32))
            patch = int(getattr(getattr(self.pipe, "transformer", None), "config", {}).get("patch_size", 1))
            self.multiple = max(32, spatial * patch)  # LTXConditionPipeline.check_inputs wants multiples of 32
        else:
            raise UserError(
                f"segment generator pipeline {type(self.pipe).__name__} has no first/last-frame conditioning "
                "(neither last_image nor LTX conditions); use a Wan 2.1 FLF2V pipeline such as "
                "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers, or an LTXConditionPipeline"
            )
        self._call_params = set(params)
        if size is not None:
            h, w = size
            if h < self.multiple or w < self.multiple:
                raise ValueError(f"size {size} is smaller than the pipeline's multiple {self.multiple}")
        self.size = size
        self.num_inference_steps = int(num_inference_steps)
        self.guidance_scale = float(guidance_scale)
        self.negative_prompt = negative_prompt
        self.seed = int(seed)
        self.max_frames = int(max_frames)
        self.use_prev_tail = bool(use_prev_tail)
        self.paste_keyframes = bool(paste_keyframes)
        self.max_sequence_length = int(max_sequence_length)
        #: What the last :meth:`generate` call asked the pipeline for (prompt, num_frames, height, width).
        self.last_call: dict[str, Any] = {}

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """The pipeline's ``(height, width)`` for a source of ``height x width``."""
        if self.size is not None:
            height, width = self.size
        m = self.multiple
        # Round half up (not Python's half-to-even), so 40 -> 48 and 56 -> 64 alike.
        return max(m, int(height / m + 0.5) * m), max(m, int(width / m + 0.5) * m)

    @property
    def supports_text_only(self) -> bool:
        """Whether the pipeline generates from a prompt alone (LTX: yes; Wan 2.1 FLF2V needs two images)."""
        return self.kind == "ltx-condition"

    def text_only_reason(self) -> str:
        """Why :meth:`generate_text_only` is unavailable (empty when it is available)."""
        if self.supports_text_only:
            return ""
        return (f"the hf generator's {type(self.pipe).__name__} (Wan 2.1 FLF2V) needs first and last images "
                "and has no text-only mode; give an LTXConditionPipeline (e.g. Lightricks/LTX-Video-0.9.5) "
                "as the generator model")

    def _run_pipeline(self, kwargs: dict[str, Any], skip: int, num_frames: int, width: int,
                      height: int) -> np.ndarray:
        """Call the pipeline, drop ``skip`` leading frames (conditioning tail), resample to exactly
        ``num_frames`` and resize to ``width`` x ``height``: ``(num_frames, H, W, 3)`` uint8."""
        import torch

        if "max_sequence_length" in self._call_params:
            kwargs["max_sequence_length"] = self.max_sequence_length
        with torch.inference_mode():
            video = self.pipe(**kwargs).frames[0]
        video = np.asarray(video, dtype=np.float32)
        if video.ndim != 4 or video.shape[-1] != 3:
            raise RuntimeError(f"pipeline returned frames of shape {video.shape}, expected (F, H, W, 3)")
        video = resample_frames(video[skip:], num_frames)
        out = np.empty((num_frames, height, width, 3), np.uint8)
        for i, f in enumerate(video):
            out[i] = _resize(np.clip(np.rint(f * 255.0), 0, 255).astype(np.uint8), width, height)
        return out

    def _common_kwargs(self, prompt: str, width: int, height: int, n_gen: int) -> dict[str, Any]:
        """Pipeline arguments every call shares (segments and text-only): size, length, steps, seed."""
        import torch

        gen_device = "cpu" if str(self.device).startswith("mps") else self.device
        return dict(
            prompt=prompt,
            negative_prompt=self.negative_prompt,
            height=height,
            width=width,
            num_frames=n_gen,
            num_inference_steps=self.num_inference_steps,
            guidance_scale=self.guidance_scale,
            generator=torch.Generator(device=gen_device).manual_seed(self.seed),
            output_type="np",
        )

    def generate_text_only(self, caption: str, num_frames: int, width: int, height: int, fps: float = 24.0,
                           motion_score: float = 0.0) -> np.ndarray:
        """Generate ``num_frames`` frames of ``height x width`` from the DSA prompt alone (no image conditions).

        :raises UserError: when the pipeline has no text-only mode (see :attr:`supports_text_only`).
        :output: ``(num_frames, height, width, 3)`` uint8.
        """

        if not self.supports_text_only:
            raise UserError(self.text_only_reason())
        if num_frames < 1 or width < 1 or height < 1:
            raise ValueError(f"need num_frames, width and height >= 1, got {num_frames}, {width}, {height}")
        work_h, work_w = self.working_size(height, width)
        n_gen = pipeline_frame_count(max(int(num_frames), 2), self.temporal_factor, self.max_frames)
        prompt = segment_prompt(caption, motion_score)
        self.last_call = {"prompt": prompt, "num_frames": n_gen, "height": work_h, "width": work_w,
                          "tail_frames": 0, "text_only": True}
        log.debug("text-only: %d frames -> pipeline %d at %dx%d, prompt %r", num_frames, n_gen, work_w, work_h,
                  prompt)
        kwargs = self._common_kwargs(prompt, work_w, work_h, n_gen)
        if "frame_rate" in self._call_params:
            kwargs["frame_rate"] = int(round(fps))
        return self._run_pipeline(kwargs, skip=0, num_frames=int(num_frames), width=width, height=height)

    def _tail(self, request: SegmentRequest, width: int, height: int) -> list[np.ndarray]:
        """The previous segment's tail frames to condition on (at the working size), or none."""
        if not self.use_prev_tail or request.prev_tail is None or len(request.prev_tail) == 0:
            return []
        tail = [np.asarray(f, dtype=np.uint8) for f in request.prev_tail]
        if self.kind == "wan-flf2v":
            tail = tail[-1:]
        else:
            t = self.temporal_factor
            keep = min(len(tail) - 1, t) // t * t + 1  # a video condition holds k * t + 1 frames
            tail = tail[-keep:]
        return [_resize(f, width, height) for f in tail]

    def generate(self, request: SegmentRequest) -> np.ndarray:
        """Generate one segment: exactly ``request.num_frames`` frames at the keyframes' size."""

        src_h, src_w = request.first.shape[:2]
        height, width = self.working_size(src_h, src_w)
        tail = self._tail(request, width, height)
        lead = len(tail) - 1 if self.kind == "ltx-condition" and tail else 0  # tail frames before frame 0
        n_gen = pipeline_frame_count(request.num_frames + lead, self.temporal_factor, self.max_frames)
        first = to_pil(tail[-1] if tail else _resize(request.first, width, height))
        last = to_pil(_resize(request.last, width, height))
        prompt = segment_prompt(request.caption, request.motion_score)
        self.last_call = {"prompt": prompt, "num_frames": n_gen, "height": height, "width": width,
                          "tail_frames": len(tail)}
        log.debug("DSA segment: %d frames -> pipeline %d at %dx%d (tail %d), prompt %r", request.num_frames, n_gen,
                  width, height, len(tail), prompt)
        kwargs = self._common_kwargs(prompt, width, height, n_gen)
        if self.kind == "wan-flf2v":
            kwargs.update(image=first, last_image=last)
        else:
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            start = (LTXVideoCondition(video=[to_pil(f) for f in tail], frame_index=0) if len(tail) > 1
                     else LTXVideoCondition(image=first, frame_index=0))
            kwargs["conditions"] = [start, LTXVideoCondition(image=last, frame_index=n_gen - 1)]
            if "frame_rate" in self._call_params:
                kwargs["frame_rate"] = int(round(request.fps))
        out = self._run_pipeline(kwargs, skip=lead, num_frames=request.num_frames, width=src_w, height=src_h)
        if self.paste_keyframes:
            out[0] = request.first
            out[-1] = request.last
        return out
