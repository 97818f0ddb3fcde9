# SPDX-License-Identifier: GPL-3.0-or-later
"""Tiny, randomly initialised Hugging Face models saved with ``save_pretrained``.

No model weights can be downloaded on the build machines, so the tests (and
anyone who wants to try ``--profile hf`` without weights) build these models,
save them to a folder and load them back through the very ``from_pretrained``
path a user takes with real checkpoints. They produce noise, not semantics:
use them to check plumbing (prompts, shapes, frame counts, score ranges), never
quality. See ``docs/OFFLINE_MODELS.md`` in the shared docs for what is known to
build offline; every builder below is deterministic for a given ``seed``.

Examples
--------
>>> import tempfile
>>> from lgvsc.testing.tiny_models import build_tiny_llava
>>> path = build_tiny_llava(tempfile.mkdtemp())
>>> sorted(p.name for p in path.iterdir())[:2]
['chat_template.jinja', 'config.json']
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "TINY_IMAGE_SIZE",
    "build_tiny_bpe_tokenizer",
    "build_tiny_llava",
    "build_tiny_clip",
    "build_tiny_wan_flf2v",
    "build_tiny_ltx_condition",
    "build_all",
]

#: Side of the square images the tiny vision towers take.
TINY_IMAGE_SIZE = 32

# The LLaVA-1.5 chat template of the llava-hf checkpoints, reduced to what the
# backends use: "USER: <image>\n<text> ASSISTANT:".
_LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] != 'system' %}{{ message['role'].upper() + ': ' }}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' ' }}{% endfor %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

_WORDS = (
    "yes no Yes No YES NO a the of and to in is are this that image video frame clip picture scene "
    "describe description similar different same perspective general main object background foreground "
    "person man woman child dog cat car tree house sky water road street field grass city room table "
    "walking running sitting standing moving static camera pan zoom slow fast red green blue white black "
    "bright dark light shadow sun cloud rain snow mountain river beach sea forest building window door "
    "answer determine whether they use or with on at from by for one two three small large left right "
    "aesthetic score motion USER ASSISTANT sentence short"
).split()


def _corpus() -> list[str]:
    """Training text in which Yes/No/yes/no occur bare, space-prefixed and inside sentences."""
    lines = list(_WORDS)
    lines += [" " + w for w in _WORDS]
    for i, w in enumerate(_WORDS):
        v = _WORDS[(i * 7 + 3) % len(_WORDS)]
        lines.append(f"USER: Describe the {w} of this image. ASSISTANT: A {v} {w} in the scene.")
        lines.append(f"Determine whether they are similar from the perspective of {w}, use yes or no to answer.")
        lines.append(f"Yes, the {w} is {v}. No, the {v} is not {w}. yes no Yes No")
    return lines * 3


def build_tiny_bpe_tokenizer(vocab_size: int = 1000):
    """A byte-level BPE ``PreTrainedTokenizerFast`` with ``<pad> <s> </s> <unk> <image>``.

    ``Yes``, ``No``, ``yes`` and ``no`` (bare and space-prefixed) are single tokens.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>", "<image>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
    )


def build_tiny_llava(path: str | Path, seed: int = 0) -> Path:
    """Save a tiny random LLaVA (CLIP-ViT 32 px / patch 8 + 2-layer Llama) and its processor to ``path``.

    Loads with ``AutoModelForImageTextToText`` and ``AutoProcessor``, like ``llava-hf/llava-1.5-7b-hf``.
    """
    import torch
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_bpe_tokenizer()
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=TINY_IMAGE_SIZE,
        patch_size=8,
        projection_dim=32,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=tokenizer.image_token_id,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": TINY_IMAGE_SIZE}, crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=_LLAVA_CHAT_TEMPLATE,
    )
    model.save_pretrained(path, safe_serialization=True)
    processor.save_pretrained(path)
    return path


def build_tiny_clip(path: str | Path, seed: int = 0) -> Path:
    """Save a tiny random ``CLIPModel`` and its processor (for the CLIP-score metric) to ``path``."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor, CLIPTextConfig

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_bpe_tokenizer()
    text = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=64,
        projection_dim=16,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=TINY_IMAGE_SIZE,
        patch_size=8,
        projection_dim=16,
    )
    config = CLIPConfig(text_config=text.to_dict(), vision_config=vision, projection_dim=16)
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": TINY_IMAGE_SIZE}, crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE}
    )
    processor = CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
    model.save_pretrained(path, safe_serialization=True)
    processor.save_pretrained(path)
    return path


def _tiny_umt5_tokenizer():
    """A Unigram ``T5Tokenizer`` built from a trained (piece, score) list (no ``spiece.model`` file)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import T5Tokenizer

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=400, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>", show_progress=False
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    vocab = _unigram_vocab(tok)
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def _unigram_vocab(tok) -> list[tuple[str, float]]:
    """The ``(piece, score)`` list of a trained ``tokenizers`` Unigram model, in id order."""
    import json

    model = json.loads(tok.to_str())["model"]
    return [(piece, float(score)) for piece, score in model["vocab"]]


def build_tiny_wan_flf2v(path: str | Path, seed: int = 0) -> Path:
    """Save a tiny random Wan 2.1 first/last-frame-to-video pipeline (``WanImageToVideoPipeline``) to ``path``.

    Same component classes as ``Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers``: ``AutoencoderKLWan``,
    ``WanTransformer3DModel`` (36 input channels, image embeddings of both boundary frames), ``UMT5EncoderModel``
    with a Unigram ``T5Tokenizer``, ``CLIPVisionModel`` with a PIL image processor, flow-matching scheduler.
    """
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        CLIPVisionModel,
        UMT5Config,
        UMT5EncoderModel,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _tiny_umt5_tokenizer()
    torch.manual_seed(seed)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    torch.manual_seed(seed)
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=len(tokenizer),
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
        )
    )
    patch = 8
    tokens_per_image = (TINY_IMAGE_SIZE // patch) ** 2 + 1
    torch.manual_seed(seed)
    image_encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=TINY_IMAGE_SIZE,
            patch_size=patch,
            projection_dim=16,
        )
    )
    torch.manual_seed(seed)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=36,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
        image_dim=16,
        pos_embed_seq_len=2 * tokens_per_image,
    )
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": TINY_IMAGE_SIZE}, crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE}
    )
    pipe = WanImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        image_processor=image_processor,
        image_encoder=image_encoder,
        transformer=transformer,
    )
    pipe.save_pretrained(path, safe_serialization=True)
    return path


def build_tiny_ltx_condition(path: str | Path, seed: int = 0) -> Path:
    """Save a tiny random LTX-Video ``LTXConditionPipeline`` (conditions at frame indices) to ``path``.

    Same component classes as ``Lightricks/LTX-Video-0.9.5``: ``AutoencoderKLLTXVideo`` (here 4x spatial and
    4x temporal compression), ``LTXVideoTransformer3DModel``, ``T5EncoderModel`` with a Unigram ``T5Tokenizer``,
    flow-matching scheduler.
    """
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXConditionPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _tiny_umt5_tokenizer()
    torch.manual_seed(seed)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4, attention_head_dim=8,
        cross_attention_dim=32, num_layers=1, caption_channels=32,
    )
    torch.manual_seed(seed)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1, 1, 1, 1), timestep_conditioning=False,
        patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )
    torch.manual_seed(seed)
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                 relative_attention_num_buckets=8, pad_token_id=tokenizer.pad_token_id,
                 eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id)
    )
    pipe = LTXConditionPipeline(
        transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(), text_encoder=text_encoder,
        tokenizer=tokenizer,
    )
    pipe.save_pretrained(path, safe_serialization=True)
    return path


def build_all(root: str | Path, seed: int = 0) -> dict[str, Path]:
    """Build every tiny model under ``root``: keys ``llava``, ``clip``, ``wan_flf2v``, ``ltx_condition``."""
    root = Path(root)
    return {
        "llava": build_tiny_llava(root / "tiny-llava", seed),
        "clip": build_tiny_clip(root / "tiny-clip", seed),
        "wan_flf2v": build_tiny_wan_flf2v(root / "tiny-wan-flf2v", seed),
        "ltx_condition": build_tiny_ltx_condition(root / "tiny-ltx-condition", seed),
    }


if __name__ == "__main__":  # pragma: no cover - manual helper
    import sys

    for name, p in build_all(sys.argv[1] if len(sys.argv) > 1 else "tiny-models").items():
        print(f"{name}: {p}")
