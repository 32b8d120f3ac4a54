"""Random Qwen2-VL backbones of a chosen size for the benchmarks (tiny tokenizer and processors, no download)."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoConfig, Qwen2VLForConditionalGeneration

SIZES = {
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
    "2b": {
        "text": {
            "hidden_size": 1536,
            "intermediate_size": 8960,
            "num_hidden_layers": 28,
            "num_attention_heads": 12,
            "num_key_value_heads": 2,
        },
        "vision": {"depth": 32, "embed_dim": 1280, "hidden_size": 1536, "num_heads": 16, "mlp_ratio": 4},
    },
}


def make_backbone(out: Path, size: str) -> Path:
    """A random Qwen2-VL backbone folder of the given size (tiny tokenizer and processors)."""
    from plume_st.backbones.tiny import build_tiny_backbone

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
    Qwen2VLForConditionalGeneration(config).save_pretrained(out)
    return out
