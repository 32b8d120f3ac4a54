"""The authors' greedy continuation after the forced ``<gen_emb>``: the embedding is the state of the last one.

The authors' released code does not stop at the forced ``<eot></think>\\n<gen_emb>`` suffix: it keeps decoding
greedily (the argmax of ``lm_head`` over the last state, each token at the next position) until the model writes
``<gen_emb>`` again, an end-of-sequence token of the backbone's ``generation_config``, or ``max_tokens`` new
tokens, and reads the state of the *last* ``<gen_emb>`` among the forced and the decoded ones. A trained model
writes ``<|im_end|>`` straight after the forced ``<gen_emb>``: then this costs one ``lm_head`` product and no
backbone pass. The whole batch decodes at once; finished rows are masked out of later steps.
"""

from __future__ import annotations

from typing import Any

import torch

from .plume_prompt import GEN_EMB


def stop_token_ids(input_module: Any) -> list[int]:
    """The end-of-sequence ids of the backbone's ``generation_config`` (else the tokenizer's end token)."""
    eos = getattr(input_module.causal_lm.generation_config, "eos_token_id", None)
    if eos is None:
        eos = input_module.tokenizer.eos_token_id
    return [eos] if isinstance(eos, int) else list(eos or [])


def continue_to_last_gen_emb(rollout: Any, state: Any, gen_state: torch.Tensor, max_tokens: int) -> torch.Tensor:
    """Decode greedily after the forced ``<gen_emb>`` and return the state of each row's last ``<gen_emb>``.

    Args:
        rollout: The :class:`~latent_rollout.LatentRollout` module (its ``extend``, ``embed_tokens`` and input
            module are used).
        state: The :class:`~latent_rollout.RolloutState` right after the forced suffix.
        gen_state: (B, D) last-layer states at the forced ``<gen_emb>``.
        max_tokens: Most tokens decoded per row.

    Returns:
        (B, D) states: a row's decoded ``<gen_emb>`` where it wrote one, else its forced one.
    """
    input_module = rollout.input_module
    lm_head = input_module.causal_lm.lm_head
    gen_id = input_module.token_id(GEN_EMB)
    stop = torch.tensor(stop_token_ids(input_module), dtype=torch.long, device=gen_state.device)
    pad_id = input_module.tokenizer.pad_token_id or 0
    result, hidden = gen_state, gen_state
    active = torch.ones(gen_state.shape[0], dtype=torch.bool, device=gen_state.device)
    for _ in range(max_tokens):
        tokens = lm_head(hidden).argmax(dim=-1)
        active = active & ~torch.isin(tokens, stop)
        if not active.any():
            break
        tokens = torch.where(active, tokens, torch.full_like(tokens, pad_id))
        hidden = rollout.extend(state, rollout.embed_tokens(tokens)[:, None], active[:, None].long())[:, -1]
        reached = active & (tokens == gen_id)
        result = torch.where(reached[:, None], hidden, result)
        active = active & ~reached
        if not active.any():
            break
    return result
