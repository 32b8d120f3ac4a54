"""Tiny checkpoints in the authors' released layout, written offline, for tests and the README's offline path.

A folder written here looks like what the authors' training code saves (``docs/official.md``): one Qwen2-VL
``save_pretrained`` of transformers 4.52 with the 25 transition-adapter tensors under ``latent_moe_transition.``,
the five PLUME tokens added as plain tokens in the authors' order, slow-tokenizer files without ``tokenizer.json``
and a ``config.json`` with both the legacy top-level text fields and ``text_config``. :data:`LAYOUTS` names one
folder per layout variant the converter must read.

The weights are random, but a few embedding rows are set so that the greedy continuation is controlled: right
after the forced ``<gen_emb>`` the model predicts ``<|im_end|>`` (it stops at once, like a trained model), or, with
``continuation="second_gen_emb"``, the word ``" dog"`` and then ``<gen_emb>`` again.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, GenerationConfig, Qwen2VLForConditionalGeneration

from plume_st.backbones.families import COPY_INIT_SOURCES
from plume_st.backbones.tiny import QWEN_CHAT_TEMPLATE, build_tiny_backbone
from plume_st.convert.official import ADAPTER_PREFIX, adapter_shapes

OFFICIAL_TOKENS = ("<gen_emb>", "<disc_emb>", "<bot>", "<eot>", "<ct>")
"""The PLUME tokens in the order the authors add them (ids follow the base vocabulary)."""
CONTINUATION_WORD = "Ġdog"
"""The token (byte-level ``" dog"``) the ``"second_gen_emb"`` checkpoints write between the two ``<gen_emb>``."""
_INPUT_NORM, _OUTPUT_NORM = 1.0, 30.0


@dataclass(frozen=True)
class OfficialLayout:
    """One way the authors' code may have laid a checkpoint out.

    Args:
        legacy_keys: Backbone keys ``model.*`` / ``visual.*`` (older transformers) instead of
            ``model.language_model.*`` / ``model.visual.*`` (4.52).
        tied: Whether input and output embeddings are tied (the 2B is, the 7B is not).
        lm_head_saved: Whether a tied checkpoint still carries ``lm_head.weight``.
        dtype: ``"float32"`` or ``"bfloat16"``.
        shards: Number of safetensors files (more than one writes ``model.safetensors.index.json``).
        preprocessor: Whether ``preprocessor_config.json`` is present (intermediate ``checkpoint-N/`` lack it).
        continuation: ``"stop"`` (``<|im_end|>`` after the forced ``<gen_emb>``) or ``"second_gen_emb"``.
    """

    legacy_keys: bool = False
    tied: bool = True
    lm_head_saved: bool = False
    dtype: str = "float32"
    shards: int = 1
    preprocessor: bool = True
    continuation: str = "stop"


LAYOUTS: dict[str, OfficialLayout] = {
    "tied": OfficialLayout(),
    "tied_with_lm_head": OfficialLayout(lm_head_saved=True),
    "untied": OfficialLayout(tied=False),
    "legacy_keys": OfficialLayout(legacy_keys=True, tied=False),
    "sharded": OfficialLayout(shards=3),
    "bfloat16": OfficialLayout(dtype="bfloat16", tied=False),
    "no_preprocessor": OfficialLayout(preprocessor=False),
    "second_gen_emb": OfficialLayout(tied=False, continuation="second_gen_emb"),
}
"""Every layout variant the converter reads, one tiny checkpoint each."""


def _adapter_tensors(hidden: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The 25 adapter tensors with the authors' names and shapes, random, large enough to move the state."""
    tensors = {}
    for name, shape in adapter_shapes(hidden).items():
        fan_in = shape[-1] if name.endswith("fc1.weight") or name.endswith("fc2.weight") else 1
        tensors[ADAPTER_PREFIX + name] = torch.randn(*shape, generator=generator) * fan_in**-0.5 * 0.5
    tensors[ADAPTER_PREFIX + "ln.weight"] += 1
    return tensors


def _steer_continuation(model: Qwen2VLForConditionalGeneration, ids: dict[str, int], continuation: str) -> None:
    """Make the greedy continuation after ``<gen_emb>`` deterministic.

    The input rows of ``<gen_emb>`` and the word are enlarged, so the state at either token leans towards its
    row; an output row along it then decides what follows: ``<|im_end|>`` after ``<gen_emb>`` ("stop"), or the
    word after ``<gen_emb>`` and ``<gen_emb>`` after the word ("second_gen_emb").
    """
    inputs = model.get_input_embeddings().weight
    outputs = model.get_output_embeddings().weight
    with torch.no_grad():
        for token in ("<gen_emb>", CONTINUATION_WORD):
            inputs[ids[token]] *= _INPUT_NORM / inputs[ids[token]].norm()
        gen_direction = inputs[ids["<gen_emb>"]] / _INPUT_NORM
        word_direction = inputs[ids[CONTINUATION_WORD]] / _INPUT_NORM
        if continuation == "stop":  # tied: the <|im_end|> row (also its input row) points along <gen_emb>
            outputs[ids["<|im_end|>"]] = _OUTPUT_NORM * gen_direction
        elif inputs.data_ptr() == outputs.data_ptr():
            raise ValueError("continuation='second_gen_emb' needs an untied lm_head")
        else:
            outputs[ids[CONTINUATION_WORD]] = _OUTPUT_NORM * gen_direction
            outputs[ids["<gen_emb>"]] = 2 * _OUTPUT_NORM * word_direction


def _legacy_config(model: Qwen2VLForConditionalGeneration, tied: bool, dtype: str) -> dict[str, Any]:
    """``config.json`` as transformers 4.52 writes it: legacy top-level text fields, ``text_config`` (with
    ``tie_word_embeddings``), and a stale top-level ``vocab_size`` (the base vocabulary's padded size)."""
    config = model.config.to_dict()
    text = dict(config["text_config"])
    rope = text.pop("rope_parameters")
    text.update(
        rope_theta=rope["rope_theta"],
        rope_scaling={"type": "mrope", "rope_type": "default", "mrope_section": rope["mrope_section"]},
        tie_word_embeddings=tied,
        torch_dtype=dtype,
    )
    legacy_keys = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                   "num_key_value_heads", "rms_norm_eps", "max_position_embeddings", "rope_theta", "rope_scaling")
    vision_keys = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id",
                   "vision_config")
    return {
        "architectures": ["Qwen2VLForConditionalGeneration"],
        "model_type": "qwen2_vl",
        **{key: text[key] for key in legacy_keys},
        **{key: config[key] for key in vision_keys},
        "vocab_size": text["vocab_size"] + 274,
        "text_config": text,
        "torch_dtype": dtype,
        "transformers_version": "4.52.4",
    }


def _state_dict(model: Qwen2VLForConditionalGeneration, layout: OfficialLayout) -> dict[str, torch.Tensor]:
    """The backbone's tensors under the layout's key names (contiguous copies, as safetensors wants)."""
    tensors = {}
    for key, value in model.state_dict().items():
        if key == "lm_head.weight" and layout.tied and not layout.lm_head_saved:
            continue
        if layout.legacy_keys:
            key = key.replace("model.language_model.", "model.").replace("model.visual.", "visual.")
        tensors[key] = value.detach().clone().contiguous()
    return tensors


def _write_weights(folder: Path, tensors: dict[str, torch.Tensor], shards: int) -> None:
    if shards == 1:
        save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
        return
    names, weight_map, size = sorted(tensors), {}, 0
    for index in range(shards):
        file = f"model-{index + 1:05d}-of-{shards:05d}.safetensors"
        part = {name: tensors[name] for name in names[index::shards]}
        save_file(part, str(folder / file), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, file))
        size += sum(t.numel() * t.element_size() for t in part.values())
    index_json = {"metadata": {"total_size": size}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index_json, indent=2))


def _write_slow_tokenizer(folder: Path, tokenizer: Any, added: dict[str, int]) -> None:
    """``vocab.json``, ``merges.txt``, ``added_tokens.json``, ``special_tokens_map.json``, ``tokenizer_config.json``
    (class ``Qwen2Tokenizer``) and ``chat_template.jinja``; no ``tokenizer.json``."""
    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    specials = {token.content: index for index, token in tokenizer.added_tokens_decoder.items()}
    # ids 0..N-1, the Qwen specials among them: transformers appends added tokens it does not find in vocab.json
    # at len(vocab) onwards, whatever ids added_tokens.json gives
    vocab = backend["model"]["vocab"]
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in backend["model"]["merges"]]
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    all_added = {**specials, **added}
    (folder / "added_tokens.json").write_text(json.dumps(all_added, indent=2, sort_keys=True))
    decoder = {
        str(index): {"content": token, "lstrip": False, "normalized": token in added, "rstrip": False,
                     "single_word": False, "special": token not in added}
        for token, index in sorted(all_added.items(), key=lambda item: item[1])
    }
    extra = [token for token in specials if token not in ("<|endoftext|>", "<|im_end|>")]
    special_map = {"additional_special_tokens": extra, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2))
    tokenizer_config = {
        "add_prefix_space": False, "added_tokens_decoder": decoder, "additional_special_tokens": extra,
        "bos_token": None, "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>", "errors": "replace",
        "model_max_length": 32768, "pad_token": "<|endoftext|>", "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer", "unk_token": None,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
    (folder / "chat_template.jinja").write_text(QWEN_CHAT_TEMPLATE)


def _write_preprocessor(folder: Path, backbone: Path) -> None:
    """``preprocessor_config.json`` and ``video_preprocessor_config.json`` as 4.52 writes them, from the
    backbone's ``processor_config.json``, with the authors' pixel bounds for images."""
    combined = json.loads((backbone / "processor_config.json").read_text())
    pixels = {"min_pixels": 784, "max_pixels": 2_359_296, "size": {"shortest_edge": 784, "longest_edge": 2_359_296}}
    image = {**combined["image_processor"], **pixels, "processor_class": "Qwen2VLProcessor"}
    video = {**combined["video_processor"], "processor_class": "Qwen2VLProcessor"}
    (folder / "preprocessor_config.json").write_text(json.dumps(image, indent=2))
    (folder / "video_preprocessor_config.json").write_text(json.dumps(video, indent=2))


def write_tiny_official(out_dir: str | Path, layout: str | OfficialLayout = "tied", seed: int = 0) -> Path:
    """Write a tiny random Qwen2-VL PLUME checkpoint in the authors' released layout.

    Args:
        out_dir: Folder to create.
        layout: A name of :data:`LAYOUTS` or an :class:`OfficialLayout`.
        seed: Seed of the random weights.

    Returns:
        The folder, readable by :func:`plume_st.convert.convert_official` like a released checkpoint.
    """
    layout = LAYOUTS[layout] if isinstance(layout, str) else layout
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        backbone = build_tiny_backbone(scratch, "qwen2_vl", seed=seed)
        model = Qwen2VLForConditionalGeneration.from_pretrained(backbone)
        if layout.tied:
            model.config.tie_word_embeddings = model.config.text_config.tie_word_embeddings = True
            model.lm_head.weight = model.get_input_embeddings().weight
        tokenizer = AutoTokenizer.from_pretrained(backbone)
        added = {token: len(tokenizer) + index for index, token in enumerate(OFFICIAL_TOKENS)}
        model.resize_token_embeddings(len(tokenizer) + len(OFFICIAL_TOKENS), mean_resizing=False)
        ids = {token: tokenizer.convert_tokens_to_ids(token) for token in ("<|im_end|>", CONTINUATION_WORD)}
        ids.update(added)
        with torch.no_grad():  # the authors' copy initialisation of the new rows
            for token in OFFICIAL_TOKENS:
                source = tokenizer.convert_tokens_to_ids(COPY_INIT_SOURCES[token])
                for rows in {model.get_input_embeddings().weight, model.get_output_embeddings().weight}:
                    rows[added[token]] = rows[source]
        _steer_continuation(model, ids, layout.continuation)
        generator = torch.Generator().manual_seed(seed + 1)
        tensors = {**_state_dict(model, layout), **_adapter_tensors(model.config.text_config.hidden_size, generator)}
        dtype = getattr(torch, layout.dtype)
        _write_weights(out_dir, {key: value.to(dtype) for key, value in tensors.items()}, layout.shards)
        config = _legacy_config(model, layout.tied, layout.dtype)
        (out_dir / "config.json").write_text(json.dumps(config, indent=2))
        eos = [tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")]
        GenerationConfig(eos_token_id=eos, pad_token_id=eos[1], do_sample=False).save_pretrained(out_dir)
        _write_slow_tokenizer(out_dir, tokenizer, added)
        if layout.preprocessor:
            _write_preprocessor(out_dir, Path(backbone))
    return out_dir
