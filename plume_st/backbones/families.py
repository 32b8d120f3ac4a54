"""What differs between the supported Qwen-VL families, in one place per family.

Everything PLUME does with a backbone goes through transformers' own classes; the per-family facts are the model
and processor classes, how to make a tiny random config of it, and which existing token embeddings the five added
PLUME tokens are initialised from (the authors copy ``<|object_ref_start|>`` for ``<disc_emb>``/``<bot>`` and
``<|object_ref_end|>`` for ``<gen_emb>``/``<eot>``/``<ct>``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transformers import (
    PretrainedConfig,
    PreTrainedModel,
    ProcessorMixin,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)

COPY_INIT_SOURCES: dict[str, str] = {
    "<disc_emb>": "<|object_ref_start|>",
    "<bot>": "<|object_ref_start|>",
    "<gen_emb>": "<|object_ref_end|>",
    "<eot>": "<|object_ref_end|>",
    "<ct>": "<|object_ref_end|>",
}
"""Added token -> existing token whose input (and output) embedding row it starts as a copy of."""

_TINY_TEXT: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
}
_TINY_PIXELS = {"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 16}


@dataclass(frozen=True)
class BackboneFamily:
    """The family-specific facts of one Qwen-VL generation.

    Args:
        name: Family id, also ``config.model_type``.
        model_class: The ``*ForConditionalGeneration`` class.
        processor_class: The processor class.
        tiny_config: Builds a tiny random config from ``vocab_size``, ``token_ids`` and ``pad_token_id``.
        tiny_processors: Builds the (image processor, video processor) pair of a tiny backbone.
        vision_tokens: Config attribute -> special token, for the vision placeholders.
        copy_init_sources: Added PLUME token -> source token for the copy initialisation.
    """

    name: str
    model_class: type[PreTrainedModel]
    processor_class: type[ProcessorMixin]
    tiny_config: Callable[..., PretrainedConfig]
    tiny_processors: Callable[[], tuple[Any, Any]]
    vision_tokens: dict[str, str] = field(
        default_factory=lambda: {
            "image_token_id": "<|image_pad|>",
            "video_token_id": "<|video_pad|>",
            "vision_start_token_id": "<|vision_start|>",
            "vision_end_token_id": "<|vision_end|>",
        }
    )
    copy_init_sources: dict[str, str] = field(default_factory=lambda: dict(COPY_INIT_SOURCES))


def _text(mrope: dict[str, Any], **extra: Any) -> dict[str, Any]:
    rope = {"rope_type": "default", "rope_theta": 10000.0, **mrope}
    return {**_TINY_TEXT, "rope_parameters": rope, "bos_token_id": None, "eos_token_id": None, **extra}


def _qwen2_vl_config(vocab_size: int, token_ids: dict[str, int], pad_token_id: int) -> PretrainedConfig:
    text = _text({"mrope_section": [2, 3, 3]}, vocab_size=vocab_size, pad_token_id=pad_token_id)
    vision = {"depth": 1, "embed_dim": 32, "hidden_size": 64, "num_heads": 2, "mlp_ratio": 2}
    return Qwen2VLConfig(text_config=text, vision_config=vision, **token_ids)


def _qwen2_5_vl_config(vocab_size: int, token_ids: dict[str, int], pad_token_id: int) -> PretrainedConfig:
    text = _text({"mrope_section": [2, 3, 3]}, vocab_size=vocab_size, pad_token_id=pad_token_id)
    vision = {
        "depth": 1,
        "hidden_size": 32,
        "intermediate_size": 64,
        "out_hidden_size": 64,
        "num_heads": 2,
        "fullatt_block_indexes": [0],
        "window_size": 56,
    }
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **token_ids)


def _qwen3_vl_config(vocab_size: int, token_ids: dict[str, int], pad_token_id: int) -> PretrainedConfig:
    text = _text(
        {"mrope_section": [2, 3, 3], "mrope_interleaved": True},
        vocab_size=vocab_size,
        pad_token_id=pad_token_id,
        head_dim=16,
    )
    vision = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "out_hidden_size": 64,
        "num_heads": 2,
        "patch_size": 16,
        "num_position_embeddings": 64,
        "deepstack_visual_indexes": [0],
    }
    return Qwen3VLConfig(text_config=text, vision_config=vision, **token_ids)


def _qwen2_processors() -> tuple[Any, Any]:
    return Qwen2VLImageProcessor(size=_TINY_PIXELS), Qwen2VLVideoProcessor(size=_TINY_PIXELS)


def _qwen3_processors() -> tuple[Any, Any]:
    pixels = {"shortest_edge": 64 * 64, "longest_edge": 32 * 32 * 16}
    return (
        Qwen2VLImageProcessor(size=pixels, patch_size=16),
        Qwen3VLVideoProcessor(size=pixels, patch_size=16),
    )


FAMILIES: dict[str, BackboneFamily] = {
    "qwen2_vl": BackboneFamily(
        "qwen2_vl", Qwen2VLForConditionalGeneration, Qwen2VLProcessor, _qwen2_vl_config, _qwen2_processors
    ),
    "qwen2_5_vl": BackboneFamily(
        "qwen2_5_vl", Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor, _qwen2_5_vl_config, _qwen2_processors
    ),
    "qwen3_vl": BackboneFamily(
        "qwen3_vl", Qwen3VLForConditionalGeneration, Qwen3VLProcessor, _qwen3_vl_config, _qwen3_processors
    ),
}


def get_family(name_or_model_type: str) -> BackboneFamily:
    """Return the family of a name or ``config.model_type``.

    Raises:
        ValueError: If the family is not supported.
    """
    if name_or_model_type not in FAMILIES:
        raise ValueError(
            f"Unsupported backbone family {name_or_model_type!r}; PLUME supports {sorted(FAMILIES)} "
            "(Qwen2-VL, Qwen2.5-VL, Qwen3-VL)."
        )
    return FAMILIES[name_or_model_type]
