"""Random Qwen2-VL backbones of a chosen size for the benchmarks (tiny tokenizer and processors, no download).

``tiny`` is the test suite's backbone (hidden 64, 2 layers); ``small`` (hidden 256, 4 layers) is the quick CPU check;
``mid`` (hidden 768, 8 layers, a 4-layer vision tower) is the size the CPU targets of the benchmarks refer to; ``2b``
is Qwen2-VL-2B's shape (hidden 1536, 28 layers, its 32-layer vision tower and its 151,936-row vocabulary tied to
``lm_head``, so that every generated token pays the real ``lm_head`` product: 2.2 B parameters) for the GPU check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, Qwen2VLForConditionalGeneration

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {},
    "small": {
        "text": {
            "hidden_size": 256,
            "intermediate_size": 1024,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
        },
        "vision": {"depth": 2, "embed_dim": 128, "hidden_size": 256, "num_heads": 4},
    },
    "mid": {
        "text": {
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 8,
            "num_attention_heads": 12,
            "num_key_value_heads": 2,
        },
        "vision": {"depth": 4, "embed_dim": 384, "hidden_size": 768, "num_heads": 6, "mlp_ratio": 4},
    },
    "2b": {
        "text": {
            "hidden_size": 1536,
            "intermediate_size": 8960,
            "num_hidden_layers": 28,
            "num_attention_heads": 12,
            "num_key_value_heads": 2,
            "vocab_size": 151936,
        },
        "vision": {"depth": 32, "embed_dim": 1280, "hidden_size": 1536, "num_heads": 16, "mlp_ratio": 4},
        "tie_word_embeddings": True,
    },
}


def make_backbone(out: Path, size: str, dtype: torch.dtype = torch.float32) -> Path:
    """Write a random Qwen2-VL backbone folder of the given size (tiny tokenizer and processors).

    Args:
        out: Folder to create.
        size: A key of :data:`SIZES`.
        dtype: Dtype the random weights are created and saved in (``bfloat16`` halves the 2B build's time and disk).

    Returns:
        The folder.
    """
    from plume_st.backbones.tiny import build_tiny_backbone

    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    build_tiny_backbone(out, "qwen2_vl")
    if not SIZES[size]:
        return out
    config = AutoConfig.from_pretrained(out)
    for key, value in SIZES[size]["text"].items():
        setattr(config.text_config, key, value)
    head_dim = config.text_config.hidden_size // config.text_config.num_attention_heads
    config.text_config.rope_parameters["mrope_section"] = [head_dim // 8, head_dim // 16 * 3, head_dim // 16 * 3]
    config.text_config.layer_types = ["full_attention"] * config.text_config.num_hidden_layers
    for key, value in SIZES[size]["vision"].items():
        setattr(config.vision_config, key, value)
    if SIZES[size].get("tie_word_embeddings"):  # Qwen2-VL-2B shares its input embedding with lm_head
        config.tie_word_embeddings = config.text_config.tie_word_embeddings = True
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        torch.manual_seed(0)
        model = Qwen2VLForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(default_dtype)
    model.save_pretrained(out)
    return out
