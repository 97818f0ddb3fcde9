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
   smallest such count ``>= F``, and the output is thinned to ``F`` by linear
   interpolation in time (first and last frames kept as generated), so the
   generated motion is only ever thinned, never stretched.
2. Long segments: when ``F'`` would exceed ``max_frames`` the segment is
   generated as several chunks, each at most ``max_frames`` frames, joined at
   shared frames: chunk ``c + 1`` starts on the last frame of chunk ``c``
   (LTX: on its last ``t + 1`` frames as a video condition). Only the last
   chunk is conditioned on the last keyframe (LTX); Wan FLF2V needs an end
   image for every chunk, so an intermediate chunk ends on the
   flow-interpolated frame between the piece's two anchors.
3. Size: height and width must be multiples of the VAE's spatial factor times
   the patch size (16 for Wan, 32 for LTX). The keyframes are resized to the
   working size (``size=`` option, default the source size rounded half up to
   the multiple), and the output is resized back to ``H x W``.
4. Prompt: ``"<caption>, aesthetic score 6.5, motion score <x>"`` (the paper's).
5. Seed: each pipeline call draws its noise from a seed derived from the
   session ``seed``, the segment index and the chunk (:func:`derive_seed`), so
   segments differ from each other and the same stream decodes identically.

Conditioning (the paper: both boundary keyframes and the previous tail):

- **LTX** (``LTXConditionPipeline``): the first keyframe at the segment's
  frame 0 and the last keyframe at its last frame. With ``use_prev_tail=True``
  and a tail of at least ``t + 1`` frames (:attr:`HFSegmentGenerator.tail_frames`),
  the last ``t + 1`` frames of the previous segment are *added* as a video
  condition ending at the segment's frame 0 (they are generated too and cut
  off the output); the first keyframe stays a condition at that frame.
- **Wan 2.1 FLF2V** conditions on exactly two images: the decoded first and
  last keyframes. It has no place for a tail, so ``use_prev_tail`` does not
  change it (the start image is never replaced by the previous frame).
- **Refinement frames** (``SegmentRequest.refinements``, beyond the paper):
  LTX takes each as an image condition at its frame (mapped through the
  thinning of step 1); for Wan FLF2V the segment is split at them and each
  piece runs from one anchor image to the next.

``paste_keyframes=True`` overwrites frame 0, the last frame and the
refinement frames with the received frames (exact anchors).

Fast path (``docs/models.md``): ``scheduler`` swaps the pipeline's scheduler for
another diffusers scheduler class built from the same config; ``timesteps`` and
``pipeline_options`` (``decode_timestep``, ``image_cond_noise_scale``,
``guidance_rescale``...) go to the pipeline call when it takes them;
:data:`DSA_PRESETS` names the settings the diffusers documentation gives for
LTX distilled (guidance 1, 8 custom timesteps) and dev checkpoints.

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
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import UserError
from .base import SegmentGenerator, SegmentRequest
from .classical_generator import interpolate_at
from .hf_common import load_diffusers_pipeline, to_pil

__all__ = ["HFSegmentGenerator", "segment_prompt", "pipeline_frame_count", "resample_frames", "derive_seed",
           "chunk_spans", "DSA_PRESETS", "AESTHETIC_PHRASE"]

log = logging.getLogger(__name__)

#: The paper's aesthetic phrase appended to every caption.
AESTHETIC_PHRASE = "aesthetic score 6.5"

#: Named DSA settings, from the diffusers LTX-Video documentation (docs/models.md). Explicit options override them.
DSA_PRESETS: dict[str, dict[str, Any]] = {
    # Guidance- and timestep-distilled LTX checkpoints (e.g. Lightricks/LTX-Video-0.9.7-distilled): 8 steps, no CFG.
    "ltx-distilled": {"guidance_scale": 1.0, "timesteps": [1000, 993, 987, 981, 975, 909, 725, 0.03],
                      "decode_timestep": 0.05, "decode_noise_scale": 0.025, "image_cond_noise_scale": 0.0,
                      "guidance_rescale": 0.7},
    # LTX dev checkpoints (0.9.5, 0.9.7-dev): 30 steps with CFG.
    "ltx-dev": {"num_inference_steps": 30, "guidance_scale": 5.0, "decode_timestep": 0.05,
                "decode_noise_scale": 0.025, "image_cond_noise_scale": 0.0, "guidance_rescale": 0.7},
    # Wan 2.1 FLF2V: the defaults of this backend.
    "wan": {"num_inference_steps": 30, "guidance_scale": 5.0},
}
_CALL_KEYS = ("num_inference_steps", "guidance_scale", "timesteps")


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


def derive_seed(seed: int, *keys: int) -> int:
    """A 32-bit seed mixed from the session ``seed`` and ``keys`` (segment index, chunk...) by numpy's SeedSequence.

    >>> derive_seed(0, 1) == derive_seed(0, 1) != derive_seed(0, 2)
    True
    """
    words = [int(v) % (1 << 32) for v in (seed, *keys)]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def chunk_spans(num_frames: int, max_new_first: int, max_new_rest: int, breaks: Sequence[int] = ()) -> list[
        tuple[int, int]]:
    """Split frames ``0..num_frames-1`` into inclusive spans that share their boundary frames.

    Each span adds at most ``max_new_first`` (the first span) or ``max_new_rest`` (the others) frames after its
    start frame. ``breaks`` are frames where a span must end (and the next start); between two breaks the frames
    are split evenly.

    >>> chunk_spans(9, 8, 8)
    [(0, 8)]
    >>> chunk_spans(30, 12, 8)
    [(0, 7), (7, 14), (14, 21), (21, 29)]
    >>> chunk_spans(10, 12, 12, breaks=[4])
    [(0, 4), (4, 9)]
    """
    if num_frames < 2:
        raise ValueError(f"a segment has at least 2 frames, got {num_frames}")
    if max_new_first < 1 or max_new_rest < 1:
        raise ValueError(f"each chunk must add at least one frame, got {max_new_first}, {max_new_rest}")
    points = [0, *sorted({int(b) for b in breaks if 0 < int(b) < num_frames - 1}), num_frames - 1]
    spans: list[tuple[int, int]] = []
    for a, b in zip(points, points[1:], strict=False):
        d = b - a
        limit = max_new_first if not spans else max_new_rest
        parts = 1 if d <= limit else math.ceil(d / min(limit, max_new_rest))  # even parts within both limits
        edges = [a + (d * k) // parts for k in range(parts + 1)]
        spans += list(zip(edges, edges[1:], strict=False))
    return spans


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
    :param num_inference_steps: denoising steps per segment (ignored by pipelines given ``timesteps``).
    :param guidance_scale: classifier-free guidance scale (``<= 1`` disables the negative pass).
    :param negative_prompt: negative prompt (None = the pipeline's default of none).
    :param seed: session seed; each segment and chunk gets :func:`derive_seed` of it.
    :param max_frames: most frames per pipeline call (81 for Wan 2.1); longer segments are generated in chunks.
    :param use_prev_tail: LTX: add the previous segment's last ``t + 1`` frames as a condition.
    :param paste_keyframes: overwrite the first/last (and refinement) output frames with the received frames.
    :param cpu_offload: ``enable_model_cpu_offload`` on CUDA; ``"auto"``: when the weights would not leave room.
    :param scheduler: name of a diffusers scheduler class to use instead of the checkpoint's (same config).
    :param timesteps: custom denoising timesteps (LTX distilled checkpoints), passed when the pipeline takes them.
    :param pipeline_options: further ``__call__`` arguments (``decode_timestep``, ``guidance_rescale``...).
    :param preset: a key of :data:`DSA_PRESETS`; explicit arguments override its values.

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
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        negative_prompt: str | None = None,
        seed: int = 0,
        max_frames: int = 81,
        use_prev_tail: bool = False,
        paste_keyframes: bool = False,
        cpu_offload: bool | str = False,
        max_sequence_length: int = 512,
        scheduler: str | None = None,
        timesteps: Sequence[float] | None = None,
        pipeline_options: Mapping[str, Any] | None = None,
        preset: str | None = None,
    ) -> None:
        if preset is not None and preset not in DSA_PRESETS:
            raise UserError(f"unknown DSA preset {preset!r}; choose one of {', '.join(DSA_PRESETS)}")
        settings = dict(DSA_PRESETS.get(preset or "", {}))
        for key, value in (("num_inference_steps", num_inference_steps), ("guidance_scale", guidance_scale),
                           ("timesteps", timesteps)):
            if value is not None:
                settings[key] = value
        extra = {k: v for k, v in settings.items() if k not in _CALL_KEYS}
        extra.update(pipeline_options or {})
        num_inference_steps = int(settings.get("num_inference_steps", 30))
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
        self.num_inference_steps = num_inference_steps
        self.guidance_scale = float(settings.get("guidance_scale", 5.0))
        self.timesteps = [float(v) for v in settings["timesteps"]] if settings.get("timesteps") else None
        if self.timesteps is not None and "timesteps" not in self._call_params:
            raise UserError(f"the generator's {type(self.pipe).__name__} takes no custom timesteps")
        unknown = sorted(k for k in extra if k not in self._call_params)
        if unknown:
            # A preset names options of another pipeline family: keep what this one takes, refuse typos.
            if preset is None or any(k in (pipeline_options or {}) for k in unknown):
                raise UserError(f"the generator's {type(self.pipe).__name__} takes no {', '.join(unknown)}")
            extra = {k: v for k, v in extra.items() if k in self._call_params}
        self.pipeline_options = extra
        if scheduler:
            self._set_scheduler(scheduler)
        self.negative_prompt = negative_prompt
        self.seed = int(seed)
        self.max_frames = int(max_frames)
        self.use_prev_tail = bool(use_prev_tail)
        if self.use_prev_tail and self.kind == "wan-flf2v":
            log.info("Wan 2.1 FLF2V conditions on two images only: the previous tail is not used")
        self.paste_keyframes = bool(paste_keyframes)
        self.max_sequence_length = int(max_sequence_length)
        #: What the last pipeline call was asked for (prompt, num_frames, height, width, tail_frames, conditions...).
        self.last_call: dict[str, Any] = {}
        #: One such record per pipeline call of the last :meth:`generate` (several for a chunked segment).
        self.last_calls: list[dict[str, Any]] = []

    def _set_scheduler(self, name: str) -> None:
        import diffusers
        from diffusers import SchedulerMixin

        cls = getattr(diffusers, str(name), None)
        if not (isinstance(cls, type) and issubclass(cls, SchedulerMixin)):
            raise UserError(f"unknown diffusers scheduler {name!r} (give a class name such as "
                            "FlowMatchEulerDiscreteScheduler or UniPCMultistepScheduler)")
        try:
            self.pipe.scheduler = cls.from_config(self.pipe.scheduler.config)
        except (TypeError, ValueError, AttributeError) as exc:
            raise UserError(f"scheduler {name} cannot replace {type(self.pipe.scheduler).__name__}: {exc}") from exc

    @property
    def cap_frames(self) -> int:
        """Most frames one pipeline call generates: the largest ``k * t + 1 <= max_frames`` (at least ``t + 1``)."""
        return pipeline_frame_count(self.max_frames, self.temporal_factor, self.max_frames)

    @property
    def tail_frames(self) -> int:
        """How many previous frames the generator conditions on (``t + 1`` for LTX with ``use_prev_tail``, else 0).

        The decoders pass the last this many frames they emitted as ``SegmentRequest.prev_tail``.
        """
        t = self.temporal_factor
        if self.kind == "ltx-condition" and self.use_prev_tail and self.cap_frames >= 2 * t + 1:
            return t + 1
        return 0

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

    def _common_kwargs(self, prompt: str, width: int, height: int, n_gen: int, seed: int) -> dict[str, Any]:
        """Pipeline arguments every call shares (segments and text-only): size, length, steps, seed, fast path."""
        import torch

        gen_device = "cpu" if str(self.device).startswith("mps") else self.device
        kw = dict(
            prompt=prompt,
            negative_prompt=self.negative_prompt,
            height=height,
            width=width,
            num_frames=n_gen,
            num_inference_steps=self.num_inference_steps,
            guidance_scale=self.guidance_scale,
            generator=torch.Generator(device=gen_device).manual_seed(seed),
            output_type="np",
        )
        if self.timesteps is not None:
            kw["timesteps"] = list(self.timesteps)
        kw.update(self.pipeline_options)
        return kw

    def generate_text_only(self, caption: str, num_frames: int, width: int, height: int, fps: float = 24.0,
                           motion_score: float = 0.0, segment_index: int = 0) -> np.ndarray:
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
        seed = derive_seed(self.seed, segment_index, 0, 0)
        self.last_call = {"prompt": prompt, "num_frames": n_gen, "height": work_h, "width": work_w,
                          "tail_frames": 0, "text_only": True, "seed": seed}
        self.last_calls = [self.last_call]
        log.debug("text-only: %d frames -> pipeline %d at %dx%d, prompt %r", num_frames, n_gen, work_w, work_h,
                  prompt)
        kwargs = self._common_kwargs(prompt, work_w, work_h, n_gen, seed)
        if "frame_rate" in self._call_params:
            kwargs["frame_rate"] = int(round(fps))
        return self._run_pipeline(kwargs, skip=0, num_frames=int(num_frames), width=width, height=height)

    def _tail(self, request: SegmentRequest) -> list[np.ndarray]:
        """The previous segment's last ``t + 1`` frames (source size) to condition on, or none."""
        n = self.tail_frames
        if n == 0 or request.prev_tail is None or len(request.prev_tail) < n:
            return []
        return [np.asarray(f, dtype=np.uint8) for f in request.prev_tail[-n:]]

    def generate(self, request: SegmentRequest) -> np.ndarray:
        """Generate one segment: exactly ``request.num_frames`` frames at the keyframes' size."""
        src_h, src_w = request.first.shape[:2]
        height, width = self.working_size(src_h, src_w)
        n, t, cap = request.num_frames, self.temporal_factor, self.cap_frames
        refs = dict(request.refinements)
        prompt = segment_prompt(request.caption, request.motion_score)
        ltx = self.kind == "ltx-condition"
        tail = self._tail(request) if ltx else []
        inner_lead = t if ltx and cap >= 2 * t + 1 else 0  # chunks of one segment join on t + 1 LTX frames
        first_lead = len(tail) - 1 if tail else 0
        # Wan FLF2V takes two images: the segment is split at its refinements (anchors); LTX conditions on them.
        breaks = [] if ltx else sorted(refs)
        spans = chunk_spans(n, cap - first_lead - 1, cap - inner_lead - 1, breaks)
        anchors = {0: request.first, n - 1: request.last, **refs}
        out = np.empty((n, src_h, src_w, 3), np.uint8)
        history = list(tail)  # frames before and at the current chunk's start, for the LTX video condition

        def work(frame: np.ndarray):
            return to_pil(_resize(np.ascontiguousarray(frame), width, height))

        self.last_calls = []
        for c, (s, e) in enumerate(spans):
            m = e - s + 1
            conditions: list[tuple[str, int]] = []
            kw_extra: dict[str, Any] = {}
            if ltx:
                from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

                lead = first_lead if c == 0 else inner_lead
                if lead and len(history) < lead + 1:  # a short first chunk: a video condition holds k*t+1 frames
                    lead = (len(history) - 1) // t * t if history else 0
                cond_tail = history[-(lead + 1):] if lead else []
                n_gen = pipeline_frame_count(m + lead, t, None)
                conds = []
                if cond_tail:
                    conds.append(LTXVideoCondition(video=[work(f) for f in cond_tail], frame_index=0))
                    conditions.append(("tail", 0))
                if s == 0:
                    conds.append(LTXVideoCondition(image=work(request.first), frame_index=lead))
                    conditions.append(("first", lead))
                elif not cond_tail:  # chunks too short for a video condition join on the shared frame
                    conds.append(LTXVideoCondition(image=work(out[s]), frame_index=0))
                    conditions.append(("shared", 0))
                for off in sorted(refs):
                    if s < off <= e:  # at its frame after thinning the n_gen - lead frames to m
                        idx = lead + int(round((off - s) * (n_gen - lead - 1) / (m - 1)))
                        conds.append(LTXVideoCondition(image=work(refs[off]), frame_index=idx))
                        conditions.append(("refinement", idx))
                if e == n - 1:
                    conds.append(LTXVideoCondition(image=work(request.last), frame_index=n_gen - 1))
                    conditions.append(("last", n_gen - 1))
                kw_extra["conditions"] = conds
                if "frame_rate" in self._call_params:
                    kw_extra["frame_rate"] = int(round(request.fps))
            else:
                lead, cond_tail = 0, []
                n_gen = pipeline_frame_count(m, t, None)
                a = max(k for k in anchors if k <= s)
                b = min(k for k in anchors if k >= e)
                start = anchors[s] if s in anchors else out[s]  # a shared frame the previous chunk generated
                if e in anchors:
                    end = anchors[e]
                else:  # Wan needs an end image: the flow-interpolated frame between the piece's anchors
                    end = interpolate_at(anchors[a], anchors[b], (e - a) / (b - a))
                kw_extra.update(image=work(start), last_image=work(end))
                conditions += [("first" if s == 0 else "refinement" if s in refs else "shared", 0),
                               ("last" if e == n - 1 else "refinement" if e in refs else "interpolated", n_gen - 1)]
            seed = derive_seed(self.seed, request.segment_index, request.chunk_index, c)
            call = {"prompt": prompt, "num_frames": n_gen, "height": height, "width": width,
                    "tail_frames": len(cond_tail), "span": (s, e), "seed": seed, "conditions": conditions}
            self.last_calls.append(call)
            self.last_call = call
            log.debug("DSA segment %d chunk %d: frames %d..%d -> pipeline %d at %dx%d (tail %d), prompt %r",
                      request.segment_index, c, s, e, n_gen, width, height, len(cond_tail), prompt)
            kwargs = self._common_kwargs(prompt, width, height, n_gen, seed)
            kwargs.update(kw_extra)
            video = self._run_pipeline(kwargs, skip=lead, num_frames=m, width=src_w, height=src_h)
            if c == 0:
                out[s:e + 1] = video
                history = (history + list(out[1 if history else 0:e + 1]))[-(t + 1):]
            else:
                out[s + 1:e + 1] = video[1:]  # frame s is shared with the previous chunk
                history = (history + list(out[s + 1:e + 1]))[-(t + 1):]
        if self.paste_keyframes:
            for off, frame in anchors.items():
                out[off] = frame
        return out
