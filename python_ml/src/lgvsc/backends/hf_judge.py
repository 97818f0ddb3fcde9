# SPDX-License-Identifier: GPL-3.0-or-later
"""PSSS with a vision-language model: the paper's two-round, first-token-probability judge.

Round 1 (:meth:`HFSemanticJudge.describe`, batched): the VLM describes each frame
with the semantic focus in the question. Round 2 (:meth:`HFSemanticJudge.compare`):
the VLM reads the paper's question on the two descriptions,

    "<Info A>, <Info B>. Determine whether they are similar from the perspective
    of <Semantic Focus>, use yes or no to answer."

and ``S_rel = P("No") - P("Yes")`` is read from the softmax of the first
generated token (range [-1, 1]; higher = more different).

Decisions:

- Round 2 is text only. In the paper Info A/B are the round-1 descriptions;
  sending both images again would double the vision tokens of every compare
  and defeat the point of the batched first round (SKEM reuses the last
  keyframe's description for every candidate).
- P("Yes") sums the probabilities of every single-token spelling of the
  answer the tokenizer has: ``Yes/yes/YES``, with and without a leading space
  (``" Yes"``, ``"▁Yes"``, ``"ĠYes"``). Models differ in which one they emit
  first after the chat prompt, and a model that answers " yes" means yes.
  Same for "No". Spellings that need several tokens are ignored.
- A trailing full stop of a description is dropped before it goes into the
  question, so the prompt reads "<A>, <B>. Determine ...".
- ``batch_size="auto"`` (``--psss-batch auto``) starts at :data:`AUTO_BATCH` and
  halves the batch (and retries it) whenever the accelerator runs out of memory;
  SKEM's speculative window follows it. A fixed size that runs out of memory is a
  clear error naming the option.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import UserError
from .base import Focus, SemanticJudge
from .hf_common import VisionLanguageModel, to_pil

__all__ = ["HFSemanticJudge", "COMPARE_TEMPLATE", "DESCRIBE_PROMPTS", "FOCUS_PHRASES", "AUTO_BATCH",
           "answer_token_ids", "is_out_of_memory"]

log = logging.getLogger(__name__)

#: The paper's round-2 question.
COMPARE_TEMPLATE = (
    "{a}, {b}. Determine whether they are similar from the perspective of {focus}, use yes or no to answer."
)

#: The paper's three focus prompts, as they appear in the question.
FOCUS_PHRASES = {Focus.GENERAL: "general", Focus.MAIN_OBJECT: "main object", Focus.BACKGROUND: "background"}

#: Round-1 instruction per focus.
DESCRIBE_PROMPTS = {
    Focus.GENERAL: "Describe this image in one sentence.",
    Focus.MAIN_OBJECT: "Describe the main object of this image in one sentence.",
    Focus.BACKGROUND: "Describe the background of this image in one sentence.",
}


def answer_token_ids(tokenizer, word: str) -> list[int]:
    """Ids of every single-token spelling of ``word`` (case and leading-space variants).

    >>> from lgvsc.testing.tiny_models import build_tiny_bpe_tokenizer
    >>> tok = build_tiny_bpe_tokenizer()
    >>> len(answer_token_ids(tok, "Yes")) >= 4   # Yes, yes, " Yes", " yes" (YES too if in the vocabulary)
    True
    """
    spellings = {word, word.lower(), word.upper(), word.capitalize()}
    vocab = tokenizer.get_vocab()
    unk = tokenizer.unk_token_id
    ids: set[int] = set()
    for s in spellings:
        for text in (s, " " + s):
            enc = tokenizer.encode(text, add_special_tokens=False)
            if len(enc) == 1 and enc[0] != unk:
                ids.add(int(enc[0]))
        for piece in (s, "▁" + s, "Ġ" + s):  # raw, SentencePiece and byte-level BPE word starts
            if piece in vocab and vocab[piece] != unk:
                ids.add(int(vocab[piece]))
    return sorted(ids)


#: First batch size of ``batch_size="auto"`` (the H100 anchor in docs/DESIGN.md was measured at 16).
AUTO_BATCH = 32


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an accelerator (or host) out-of-memory error (``torch.OutOfMemoryError`` and kin)."""
    return isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def _clean(description: str) -> str:
    text = " ".join(str(description).split())
    return text[:-1] if text.endswith(".") else text


def _free_accelerator_cache() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch ships with the hf extra
        pass


class HFSemanticJudge(SemanticJudge):
    """PSSS with a Hugging Face VLM (``AutoModelForImageTextToText`` + ``AutoProcessor``).

    :param model: local folder or hub id (e.g. ``llava-hf/llava-1.5-7b-hf``), or an already loaded
        :class:`~lgvsc.backends.hf_common.VisionLanguageModel` (shared with the captioner).
    :param device: ``cpu``, ``cuda[:N]``, ``mps`` or ``auto``.
    :param dtype: ``auto``, ``float32``, ``bfloat16`` or ``float16``.
    :param description_tokens: maximum new tokens of a round-1 description.
    :param batch_size: frames per round-1 batch and pairs per round-2 batch (SKEM's speculative window too),
        or ``"auto"``: start at :data:`AUTO_BATCH` and halve on out-of-memory errors.

    :input: frames ``(H, W, 3)`` uint8 RGB (any size; the processor resizes).
    :output: :meth:`describe` → ``list[str]``; :meth:`compare` → ``S_rel`` in [-1, 1].

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from lgvsc.testing.tiny_models import build_tiny_llava
    >>> judge = HFSemanticJudge(build_tiny_llava(tempfile.mkdtemp()), device="cpu", description_tokens=4)
    >>> a, b = np.zeros((24, 40, 3), np.uint8), np.full((24, 40, 3), 255, np.uint8)
    >>> -1.0 <= judge.score(a, b) <= 1.0
    True
    """

    name = "hf-psss"

    def __init__(
        self,
        model: str | os.PathLike[str] | VisionLanguageModel,
        *,
        device: str | None = "auto",
        dtype: str | None = "auto",
        description_tokens: int = 64,
        batch_size: int | str = 16,
    ) -> None:
        if description_tokens < 1:
            raise ValueError(f"description_tokens must be >= 1, got {description_tokens}")
        self.adaptive = batch_size == "auto"
        if self.adaptive:
            batch_size = AUTO_BATCH
        if isinstance(batch_size, str) or isinstance(batch_size, bool) or int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1 or 'auto', got {batch_size!r}")
        self.vlm = model if isinstance(model, VisionLanguageModel) else VisionLanguageModel.load(
            model, device, dtype, what="semantic judge")
        self.description_tokens = int(description_tokens)
        self.batch_size = int(batch_size)
        tok = self.vlm.tokenizer
        self.yes_ids = answer_token_ids(tok, "Yes")
        self.no_ids = answer_token_ids(tok, "No")
        if not self.yes_ids or not self.no_ids or set(self.yes_ids) & set(self.no_ids):
            raise UserError(
                f"semantic judge model {self.vlm.source}: its tokenizer has no single-token 'Yes'/'No' answers "
                f"(yes ids {self.yes_ids}, no ids {self.no_ids}); PSSS needs them"
            )
        #: The full model inputs (chat-formatted texts) of the last describe/compare call, for logs and tests.
        self.last_texts: list[str] = []

    # -- prompts -----------------------------------------------------------------------------------
    @staticmethod
    def describe_prompt(focus: Focus = Focus.GENERAL) -> str:
        """Round-1 instruction for ``focus``."""
        return DESCRIBE_PROMPTS[Focus(focus)]

    @staticmethod
    def compare_prompt(a: str, b: str, focus: Focus = Focus.GENERAL) -> str:
        """The paper's round-2 question on two descriptions."""
        return COMPARE_TEMPLATE.format(a=_clean(a), b=_clean(b), focus=FOCUS_PHRASES[Focus(focus)])

    # -- rounds ------------------------------------------------------------------------------------
    def _batched(self, items: Sequence[Any], run) -> list[Any]:
        """``run(chunk)`` over ``items`` in chunks of ``batch_size``; with ``auto``, halve it on out-of-memory."""
        out: list[Any] = []
        i = 0
        while i < len(items):
            chunk = items[i:i + self.batch_size]
            try:
                out += run(chunk)
            except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled, the rest re-raised
                if not is_out_of_memory(exc):
                    raise
                if not self.adaptive or self.batch_size == 1:
                    raise UserError(f"semantic judge ran out of memory with batches of {self.batch_size}; "
                                    "lower --psss-batch (or use --psss-batch auto)") from exc
                self.batch_size = max(1, self.batch_size // 2)
                log.warning("semantic judge out of memory: batch size now %d", self.batch_size)
                _free_accelerator_cache()
                continue
            i += len(chunk)
        return out

    def describe(self, frames: Sequence[np.ndarray], focus: Focus = Focus.GENERAL) -> list[str]:
        """Round 1: one description per frame, generated in batches of ``batch_size`` (left padding)."""
        text = self.vlm.chat_text(self.describe_prompt(focus), n_images=1)
        images = [to_pil(f) for f in frames]
        self.last_texts = [text] * len(images)
        out = self._batched(images, lambda chunk: self.vlm.generate([text] * len(chunk), chunk,
                                                                    self.description_tokens))
        return [" ".join(d.split()) for d in out]

    def answer_probabilities(self, pairs: Sequence[tuple[Any, Any]], focus: Focus = Focus.GENERAL):
        """``(P(Yes), P(No))`` arrays of the first answer token for each pair of descriptions."""
        texts = [self.vlm.chat_text(self.compare_prompt(a, b, focus)) for a, b in pairs]
        self.last_texts = texts
        if not texts:
            return np.zeros(0), np.zeros(0)

        def run(chunk: Sequence[str]) -> list[tuple[float, float]]:
            probs = self.vlm.first_token_probabilities(list(chunk))
            return list(zip(probs[:, self.yes_ids].sum(-1).tolist(), probs[:, self.no_ids].sum(-1).tolist(),
                            strict=True))

        pairs_p = self._batched(texts, run)
        return (np.array([y for y, _ in pairs_p], np.float64), np.array([n for _, n in pairs_p], np.float64))

    def compare_batch(self, pairs: Sequence[tuple[Any, Any]], focus: Focus = Focus.GENERAL) -> list[float]:
        """``S_rel`` for many pairs of descriptions at once (batched round 2)."""
        p_yes, p_no = self.answer_probabilities(pairs, focus)
        return [float(np.clip(n - y, -1.0, 1.0)) for y, n in zip(p_yes, p_no, strict=True)]

    def compare(self, a: Any, b: Any, focus: Focus = Focus.GENERAL) -> float:
        """Round 2: ``S_rel = P("No") - P("Yes")`` of the first answer token, in [-1, 1]."""
        return self.compare_batch([(a, b)], focus)[0]
