# SPDX-License-Identifier: GPL-3.0-or-later
"""HF PSSS judge with a tiny random LLaVA: prompts, first-token probabilities, batching, range."""

import numpy as np
import pytest
import torch

from lgvsc.backends.base import Focus
from lgvsc.backends.hf_judge import DESCRIBE_PROMPTS, HFSemanticJudge, answer_token_ids
from lgvsc.errors import UserError


@pytest.fixture(scope="module")
def judge(tiny_vlm):
    return HFSemanticJudge(tiny_vlm, description_tokens=6, batch_size=4)


def test_paper_prompt_text():
    text = HFSemanticJudge.compare_prompt("A red car on a road.", "A  blue car\non a road", Focus.MAIN_OBJECT)
    assert text == (
        "A red car on a road, A blue car on a road. Determine whether they are similar from the perspective "
        "of main object, use yes or no to answer."
    )
    for focus, phrase in [(Focus.GENERAL, "general"), (Focus.BACKGROUND, "background")]:
        assert f"from the perspective of {phrase}, use yes or no to answer." in HFSemanticJudge.compare_prompt(
            "a", "b", focus)


def test_compare_sends_the_paper_prompt_in_the_chat_format(judge):
    judge.compare("a dog on grass", "a cat on a sofa", Focus.BACKGROUND)
    (text,) = judge.last_texts
    assert text == ("USER: a dog on grass, a cat on a sofa. Determine whether they are similar from the "
                    "perspective of background, use yes or no to answer. ASSISTANT:")


@pytest.mark.parametrize("focus", list(Focus))
def test_describe_round_uses_focus_prompt_and_one_image(judge, frames, focus):
    out = judge.describe(frames[:2], focus)
    assert len(out) == 2 and all(isinstance(d, str) for d in out)
    assert len(judge.last_texts) == 2
    assert judge.last_texts[0] == f"USER: <image>\n{DESCRIBE_PROMPTS[focus]} ASSISTANT:"
    assert len(set(DESCRIBE_PROMPTS.values())) == 3


def test_yes_no_token_variants(tiny_vlm):
    tok = tiny_vlm.tokenizer
    yes, no = answer_token_ids(tok, "Yes"), answer_token_ids(tok, "No")
    assert not set(yes) & set(no)
    decoded_yes = {tok.decode([i]) for i in yes}
    decoded_no = {tok.decode([i]) for i in no}
    assert {"Yes", "yes", " Yes", " yes"} <= decoded_yes
    assert {"No", "no", " No", " no"} <= decoded_no
    assert all(d.strip().lower() == "yes" for d in decoded_yes)
    assert all(d.strip().lower() == "no" for d in decoded_no)


def _manual_probs(judge, text):
    """Softmax of a plain forward pass at the last prompt position."""
    batch = judge.vlm.inputs([text])
    with torch.no_grad():
        logits = judge.vlm.model(**batch).logits[0, -1].float()
    return logits.softmax(-1)


def test_s_rel_is_p_no_minus_p_yes_of_the_first_token(judge):
    a, b = "a red car on a road", "a white house in the snow"
    s = judge.compare(a, b, Focus.GENERAL)
    probs = _manual_probs(judge, judge.last_texts[0])
    p_yes = float(probs[judge.yes_ids].sum())
    p_no = float(probs[judge.no_ids].sum())
    assert p_yes > 0 and p_no > 0
    assert s == pytest.approx(p_no - p_yes, rel=1e-4, abs=1e-7)
    # Not a constant: another question moves the answer probabilities.
    s2 = judge.compare("yes yes yes", "no", Focus.BACKGROUND)
    assert s2 != pytest.approx(s, rel=1e-3, abs=1e-9)


def test_scores_in_range(judge, frames):
    descs = judge.describe(frames)
    pairs = [(descs[0], d) for d in descs[1:]]
    p_yes, p_no = judge.answer_probabilities(pairs)
    assert np.all((p_yes >= 0) & (p_no >= 0) & (p_yes + p_no <= 1 + 1e-6))
    scores = judge.compare_batch(pairs)
    assert all(-1.0 <= s <= 1.0 for s in scores)
    assert scores == pytest.approx(list(p_no - p_yes), abs=1e-9)
    assert -1.0 <= judge.score(frames[0], frames[1], Focus.MAIN_OBJECT) <= 1.0


def test_batching_is_equivalent_to_one_by_one(judge, tiny_vlm, frames):
    batched = HFSemanticJudge(tiny_vlm, description_tokens=6, batch_size=5).describe(frames)
    single = [HFSemanticJudge(tiny_vlm, description_tokens=6, batch_size=1).describe([f])[0] for f in frames]
    assert batched == single
    # Round 2 with left padding: prompts of different lengths in one batch give the same scores.
    pairs = [("a dog", "a cat"), ("a long description of a busy street with cars", "a road"), ("x", "y z")]
    together = judge.compare_batch(pairs)
    alone = [judge.compare(a, b) for a, b in pairs]
    assert together == pytest.approx(alone, rel=1e-3, abs=1e-7)


def test_speculative_skem_picks_the_sequential_keyframes(tiny_vlm):
    """The tiny VLM's PSSS is noise around 0, so the threshold is put between its scores (away from each)."""
    from lgvsc.skem import skem

    rng = np.random.default_rng(3)
    clip = rng.integers(0, 256, (12, 24, 32, 3), dtype=np.uint8)
    judge = HFSemanticJudge(tiny_vlm, description_tokens=8, batch_size=4)  # 8 tokens: distinct descriptions
    probe = skem(clip, judge, fps=5, threshold=1.0, speculative=False)  # candidates 1..10, vs frame 0
    ranked = sorted(probe.scores.values())
    gaps = [(b - a, (a + b) / 2) for a, b in zip(ranked, ranked[1:], strict=False)]
    threshold = max(gaps[len(gaps) // 4:3 * len(gaps) // 4 + 1])[1]  # the widest gap near the median
    seq = skem(clip, judge, fps=5, threshold=threshold, speculative=False)
    spec = skem(clip, judge, fps=5, threshold=threshold)  # windows of the judge's batch_size (4)
    assert seq.indices == spec.indices and len(seq.indices) > 2
    assert spec.scores.keys() == seq.scores.keys()
    assert list(spec.scores.values()) == pytest.approx(list(seq.scores.values()), rel=1e-3, abs=1e-7)


def test_auto_batch_halves_on_out_of_memory(tiny_vlm, frames):
    judge = HFSemanticJudge(tiny_vlm, description_tokens=3, batch_size="auto")
    assert judge.adaptive and judge.batch_size == 32
    real, calls = judge.vlm.generate, []

    def tight(texts, images=None, max_new_tokens=64):  # the "GPU" holds at most 2 frames per batch
        calls.append(len(texts))
        if len(texts) > 2:
            raise MemoryError("out of memory")
        return real(texts, images, max_new_tokens)

    judge.vlm = type("V", (), {"generate": staticmethod(tight), "chat_text": judge.vlm.chat_text})()
    out = judge.describe(frames)
    assert len(out) == len(frames) and judge.batch_size == 2
    assert calls[:5] == [5, 5, 5, 4, 2]  # batch 32, 16, 8 (all 5 frames), 4, then 2: each failed batch retried
    fixed = HFSemanticJudge(tiny_vlm, description_tokens=3, batch_size=4)
    fixed.vlm = judge.vlm
    with pytest.raises(UserError, match="--psss-batch"):
        fixed.describe(frames)
