"""Building a PLUME model from a Qwen-VL backbone."""

from __future__ import annotations

from typing import Any

import torch

from plume_st.backbones.families import get_family
from plume_st.model import PlumeSentenceTransformer
from plume_st.modules import LatentRollout, PlumeInput, PlumePooling
from plume_st.modules.plume_prompt import PLUME_TOKENS

PAPER_MAX_PIXELS = 2_359_296
"""The paper's per-image pixel maximum (Qwen2-VL's processor default, 12,845,056, allows 16k tokens per image)."""
DEFAULT_MAX_SEQ_LENGTH = 8192
"""plume-st's default prompt bound in tokens: long texts are cut to fit (media tokens never are)."""


def add_plume_tokens(input_module: PlumeInput) -> list[int]:
    """Add ``<disc_emb> <gen_emb> <bot> <eot> <ct>`` to the tokenizer and copy-initialise their embeddings.

    Each new row of the input embedding (and of the output head when it is not tied) starts as a copy of the
    family's source token (:data:`plume_st.backbones.families.COPY_INIT_SOURCES`). Tokens already present are
    left untouched.

    Returns:
        The ids of the tokens that were added.
    """
    model = input_module.causal_lm
    tokenizer = input_module.tokenizer
    family = get_family(model.config.model_type)
    new_tokens = [token for token in PLUME_TOKENS if input_module.token_id(token) is None]
    if not new_tokens:
        return []
    tokenizer.add_special_tokens({"additional_special_tokens": new_tokens}, replace_extra_special_tokens=False)
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:  # Qwen checkpoints carry spare rows
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    input_rows = model.get_input_embeddings().weight
    output_rows = model.get_output_embeddings().weight
    added = []
    with torch.no_grad():
        for token in new_tokens:
            source = family.copy_init_sources[token]
            token_id, source_id = input_module.token_id(token), input_module.token_id(source)
            if source_id is None:
                raise ValueError(f"Cannot initialise {token}: the tokenizer has no {source} to copy from")
            input_rows[token_id] = input_rows[source_id]
            if output_rows.data_ptr() != input_rows.data_ptr():
                output_rows[token_id] = output_rows[source_id]
            added.append(token_id)
    return added


def build_plume_model(
    backbone: str,
    latent_steps: int = 8,
    num_experts: int = 4,
    top_k: int = 2,
    shared_expert: bool = True,
    reasoning: str = "latent",
    position_scheme: str = "default",
    expert_dropout: float = 0.1,
    num_frames: int = 8,
    min_pixels: int | None = None,
    max_pixels: int | None = PAPER_MAX_PIXELS,
    video_max_pixels: int | None = None,
    max_seq_length: int | None = DEFAULT_MAX_SEQ_LENGTH,
    max_new_tokens: int = 512,
    transition: str = "adapter",
    anchor_guidance: bool = True,
    model_kwargs: dict[str, Any] | None = None,
    seed: int = 0,
    device: str | None = None,
) -> PlumeSentenceTransformer:
    """Build an (untrained) PLUME model: backbone + PLUME tokens + a fresh transition adapter.

    Args:
        backbone: A local backbone folder or a Hugging Face Hub id such as ``"Qwen/Qwen2-VL-2B-Instruct"``
            (a Hub id is downloaded by transformers; nothing else touches the network).
        latent_steps: Default number of latent steps K.
        num_experts: Routed experts M of the adapter.
        top_k: Experts per row.
        shared_expert: Whether the adapter has the always-on shared expert.
        reasoning: Default mode: ``"latent"``, ``"none"`` or ``"explicit"``.
        position_scheme: ``"default"`` or ``"official"`` (see :class:`~plume_st.modules.LatentRollout`).
        expert_dropout: Dropout inside the experts.
        num_frames: Frames sampled uniformly from each video.
        min_pixels: Minimum pixels per image (``None``: the processor's default).
        max_pixels: Maximum pixels per image (default: the paper's 2,359,296; ``None``: the processor's default,
            12.8 M pixels for Qwen2-VL).
        video_max_pixels: Maximum pixels per video frame (``None``: the processor's default).
        max_seq_length: Longest prompt in tokens; longer user texts are cut (``None``: the tokenizer's bound).
        max_new_tokens: Longest rationale in ``"explicit"`` mode.
        transition: ``"adapter"``, or ``"identity"`` for the ablation without a latent transition.
        anchor_guidance: Whether the router sees the anchor (``False``: the ablation without it).
        model_kwargs: Passed to ``from_pretrained`` of the backbone (``dtype``, ``attn_implementation``, ...).
        seed: Seed of the adapter's initialisation.
        device: Device of the returned model (``None``: sentence-transformers' default).

    Returns:
        A SentenceTransformer with the modules PlumeInput -> LatentRollout -> PlumePooling.
    """
    input_module = PlumeInput(
        backbone,
        num_frames=num_frames,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        video_max_pixels=video_max_pixels,
        model_kwargs=dict(model_kwargs or {}),
    )
    add_plume_tokens(input_module)
    if max_seq_length is not None:
        input_module.max_seq_length = max_seq_length
    torch.manual_seed(seed)
    rollout = LatentRollout(
        hidden_size=input_module.get_embedding_dimension(),
        latent_steps=latent_steps,
        reasoning=reasoning,
        num_experts=num_experts,
        top_k=top_k,
        shared_expert=shared_expert,
        expert_dropout=expert_dropout,
        position_scheme=position_scheme,
        max_new_tokens=max_new_tokens,
        transition=transition,
        anchor_guidance=anchor_guidance,
    )
    dtype = next(input_module.parameters()).dtype
    rollout.to(dtype)
    return PlumeSentenceTransformer(modules=[input_module, rollout, PlumePooling()], device=device)
