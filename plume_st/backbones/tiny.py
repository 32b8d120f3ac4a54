"""Tiny random Qwen-VL backbones, built offline in about two seconds.

The tests, the demo and the benchmarks run on these: a 2-layer, hidden-64 language model with a depth-1 vision
tower, a byte-level BPE tokenizer trained on the fly with the Qwen special tokens and chat template, and the
family's real image and video processors. The folder loads with ``AutoModelForImageTextToText`` /
``AutoProcessor`` exactly like a Hub backbone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoProcessor, PreTrainedTokenizerFast

from plume_st.backbones.families import FAMILIES, get_family

QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
]

QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "Represent the above input text, images, videos, or any combination of the three as embeddings.",
    "First output the thinking process in <think> </think> tags and then summarize the entire input in a word or "
    "sentence. Finally, use the tag to represent the entire input.",
    "a dog catching a frisbee in the park; a red square; a blue circle; a green triangle; what breed is it?",
    "The image shows a cat sitting on a chair. The video shows a ball moving from left to right.",
    "Find the document page that answers the question. The chart shows sales growing every year.",
    "You are a helpful assistant. system user assistant <answer> </answer>",
    "0 1 2 3 4 5 6 7 8 9 the of and to in is it that with for on as by at from",
]


def train_byte_level_tokenizer(vocab_size: int = 600) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer with the Qwen special tokens and chat template.

    Args:
        vocab_size: Size of the learned vocabulary (special tokens included).

    Returns:
        A left-padding fast tokenizer whose pad token is ``<|endoftext|>``.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=QWEN_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        model_max_length=32768,
    )
    fast.chat_template = QWEN_CHAT_TEMPLATE
    return fast


def _resize_text(config: Any, sizes: dict[str, int]) -> None:
    """Set the language model's sizes; the mRoPE sections (temporal, height, width) keep the tiny 2:3:3 split."""
    allowed = {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads"}
    unknown = set(sizes) - allowed
    if unknown:
        raise ValueError(f"unknown text_config keys {sorted(unknown)}; choose from {sorted(allowed)}")
    for key, value in sizes.items():
        setattr(config, key, value)
    head_dim = config.hidden_size // config.num_attention_heads
    if getattr(config, "head_dim", None) is not None:
        config.head_dim = head_dim
    config.rope_parameters["mrope_section"] = [head_dim // 8, head_dim // 16 * 3, head_dim // 16 * 3]
    config.layer_types = ["full_attention"] * config.num_hidden_layers


def build_tiny_backbone(
    out_dir: str | Path, family: str = "qwen2_vl", seed: int = 0, text_config: dict[str, int] | None = None
) -> Path:
    """Write a tiny random Qwen-VL backbone folder (model, tokenizer, image and video processor).

    Args:
        out_dir: Folder to create or overwrite.
        family: ``"qwen2_vl"``, ``"qwen2_5_vl"`` or ``"qwen3_vl"``.
        seed: Seed of the random weights.
        text_config: Sizes of the language model to use instead of the tiny ones (``hidden_size``,
            ``intermediate_size``, ``num_hidden_layers``, ``num_attention_heads``, ``num_key_value_heads``); the
            multimodal RoPE sections follow the head size.

    Returns:
        The folder, loadable with ``AutoModelForImageTextToText`` and ``AutoProcessor``.
    """
    spec = get_family(family)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train_byte_level_tokenizer()
    token_ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in spec.vision_tokens.items()}
    config = spec.tiny_config(vocab_size=len(tokenizer), token_ids=token_ids, pad_token_id=tokenizer.pad_token_id)
    if text_config:
        _resize_text(config.text_config, text_config)
        # The vision merger writes the language model's width (Qwen2-VL calls it hidden_size, later ones
        # out_hidden_size).
        width = "out_hidden_size" if hasattr(config.vision_config, "out_hidden_size") else "hidden_size"
        setattr(config.vision_config, width, config.text_config.hidden_size)
    torch.manual_seed(seed)
    model = spec.model_class(config)
    model.save_pretrained(out_dir)
    image_processor, video_processor = spec.tiny_processors()
    processor = spec.processor_class(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=QWEN_CHAT_TEMPLATE,
    )
    processor.save_pretrained(out_dir)
    AutoProcessor.from_pretrained(out_dir)  # fail here, not in the caller, if the folder is incomplete
    return out_dir


__all__ = ["FAMILIES", "build_tiny_backbone", "train_byte_level_tokenizer"]
