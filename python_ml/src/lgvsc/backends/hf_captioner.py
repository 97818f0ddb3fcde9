# SPDX-License-Identifier: GPL-3.0-or-later
"""Segment captions with a Hugging Face vision-language model.

The paper captions each segment with PLLaVA-7B (a video LLM). Here any
``AutoModelForImageTextToText`` checkpoint works; the segment is shown as a
few frames spread over it (first, middle, last for ``num_frames=3``) in one
prompt. A processor or model that refuses several images in one prompt
(an error raised while preparing or running the batch) makes the captioner fall back, once
and for good, to the single representative middle frame, with a warning.
LLaVA-1.5 accepts several images although it was trained on one; give it
``num_frames=1`` if its multi-image captions read worse.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from .base import Captioner
from .hf_common import VisionLanguageModel, to_pil

__all__ = ["HFCaptioner", "CAPTION_PROMPT", "pick_frames"]

log = logging.getLogger(__name__)

#: Instruction for several frames of one segment; ``{n}`` is the number of frames shown.
CAPTION_PROMPT = "These are {n} frames of one video clip in order. Describe the video in one sentence."
#: Instruction when only one representative frame is shown.
CAPTION_PROMPT_SINGLE = "Describe this video frame in one sentence."


def pick_frames(frames: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
    """``n`` frames spread evenly over the segment, first and last included (the middle one for ``n=1``).

    >>> import numpy as np
    >>> fr = [np.full((2, 2, 3), i, np.uint8) for i in range(9)]
    >>> [int(f[0, 0, 0]) for f in pick_frames(fr, 3)]
    [0, 4, 8]
    """
    if not frames:
        raise ValueError("a segment needs at least one frame to caption")
    if n <= 1:
        return [frames[len(frames) // 2]]
    idx = np.unique(np.round(np.linspace(0, len(frames) - 1, min(n, len(frames)))).astype(int))
    return [frames[i] for i in idx]


class HFCaptioner(Captioner):
    """One caption per segment from a VLM.

    :param model: local folder or hub id (e.g. ``llava-hf/llava-1.5-7b-hf``), or a loaded
        :class:`~lgvsc.backends.hf_common.VisionLanguageModel` (shared with the judge).
    :param device: ``cpu``, ``cuda[:N]``, ``mps`` or ``auto``.
    :param dtype: ``auto``, ``float32``, ``bfloat16`` or ``float16``.
    :param num_frames: frames shown per segment (1 = the middle frame only).
    :param max_new_tokens: caption length limit in tokens.

    :input: a segment's frames, ``(H, W, 3)`` uint8 RGB.
    :output: a one-line caption (may be empty for a random model).
    """

    name = "hf-caption"

    def __init__(
        self,
        model: str | os.PathLike[str] | VisionLanguageModel,
        *,
        device: str | None = "auto",
        dtype: str | None = "auto",
        num_frames: int = 3,
        max_new_tokens: int = 48,
    ) -> None:
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        self.vlm = model if isinstance(model, VisionLanguageModel) else VisionLanguageModel.load(
            model, device, dtype, what="captioner")
        self.num_frames = int(num_frames)
        self.max_new_tokens = int(max_new_tokens)
        #: The chat-formatted text of the last caption call, for logs and tests.
        self.last_text = ""

    def _run(self, frames: list[np.ndarray]) -> str:
        prompt = CAPTION_PROMPT.format(n=len(frames)) if len(frames) > 1 else CAPTION_PROMPT_SINGLE
        self.last_text = self.vlm.chat_text(prompt, n_images=len(frames))
        return self.vlm.generate([self.last_text], [to_pil(f) for f in frames], self.max_new_tokens)[0]

    def caption(self, frames: Sequence[np.ndarray]) -> str:
        """Caption of one segment from ``num_frames`` of its frames."""
        chosen = pick_frames(list(frames), self.num_frames)
        if len(chosen) > 1:
            try:
                text = self._run(chosen)
            except (ValueError, RuntimeError, IndexError, TypeError) as exc:
                log.warning("captioner %s cannot take %d images in one prompt (%s); using the middle frame only",
                            self.vlm.source, len(chosen), exc)
                self.num_frames = 1
                text = self._run(pick_frames(list(frames), 1))
        else:
            text = self._run(chosen)
        return " ".join(text.split())
