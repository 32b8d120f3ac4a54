"""The ``"explicit"`` reasoning mode: a greedy rationale, then the state of the generated ``<gen_emb>``.

This is the UME-R1-style baseline (and what a stage-0 checkpoint of the curriculum does): after the prefix, ``<eot>``
is fed, the model writes its rationale token by token for the whole batch at once, and each row's embedding is the
last-layer state at the first ``<gen_emb>`` *it generated* (the prompt itself contains the literal text
``<gen_emb>``, so only generated tokens count). A row that reaches ``max_new_tokens`` or writes the end-of-turn token
without ``<gen_emb>`` gets ``<gen_emb>`` forced as its next token.

Finished rows are masked out of later steps; once at most ``compact_below`` of the rows still decoding are active,
the batch and its KV cache are compacted to the active rows (``DynamicCache.batch_select_indices``), so a long
rationale does not make the rows that already finished pay for every step it takes. A row's states do not depend on
the other rows of its batch, so compacting changes no result.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from .plume_prompt import EOT, GEN_EMB

COMPACT_BELOW = 0.5
"""Compact the batch once at most this share of its rows is still decoding (0: never)."""


def select_rows(state: Any, rows: torch.Tensor) -> Any:
    """The rollout state of ``rows`` only (its cache compacted in place: the full one is not used again)."""
    state.past_key_values.batch_select_indices(rows)
    mask, next_position = state.attention_mask[rows], state.next_position[rows]
    return dataclasses.replace(state, attention_mask=mask, next_position=next_position)


def generate_rationale(
    rollout: Any, state: Any, batch_size: int, device: torch.device, compact_below: float = COMPACT_BELOW
) -> torch.Tensor:
    """Greedy decoding after ``<eot>`` for a batch; returns the state at each row's generated ``<gen_emb>``.

    Args:
        rollout: The :class:`~latent_rollout.LatentRollout` module (its ``extend``, ``embed_tokens``,
            ``max_new_tokens`` and input module are used).
        state: The :class:`~latent_rollout.RolloutState` right after the prefix (its cache is compacted in place).
        batch_size: Rows in the batch.
        device: Their device.
        compact_below: Compact the batch and its cache once at most this share of its rows is active (0: never).

    Returns:
        (B, D) last-layer states, in the backbone's dtype.
    """
    input_module = rollout.input_module
    tokenizer = input_module.tokenizer
    gen_id, end_id = input_module.token_id(GEN_EMB), tokenizer.convert_tokens_to_ids("<|im_end|>")
    tokens = torch.full((batch_size,), input_module.token_id(EOT), dtype=torch.long, device=device)
    active = torch.ones(batch_size, dtype=torch.bool, device=device)
    rows = torch.arange(batch_size, device=device)  # the batch row of every row still decoding
    result = None
    for step in range(rollout.max_new_tokens + 2):
        hidden = rollout.extend(state, rollout.embed_tokens(tokens)[:, None], active[:, None].long())[:, -1]
        if result is None:
            result = hidden.new_zeros(batch_size, hidden.shape[-1])
        reached = active & (tokens == gen_id)
        result[rows[reached]] = hidden[reached]
        active = active & ~reached
        if not active.any():
            break
        next_tokens = input_module.causal_lm.lm_head(hidden).argmax(dim=-1)
        force = (next_tokens == end_id) | (step >= rollout.max_new_tokens)
        next_tokens = torch.where(force, torch.full_like(next_tokens, gen_id), next_tokens)
        tokens = torch.where(active, next_tokens, torch.full_like(next_tokens, tokenizer.pad_token_id))
        if active.sum() <= compact_below * active.numel():
            keep = active.nonzero().squeeze(1)
            state, rows, tokens, active = select_rows(state, keep), rows[keep], tokens[keep], active[keep]
    return result
