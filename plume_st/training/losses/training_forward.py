"""The batched training forward of PLUME: one prefix pass, K latent steps, one teacher-forced suffix pass.

For a batch of one side (the features of one collated column) and the current :class:`StageSpec`::

    prefix pass (PlumeInput.forward, through the model so DDP sees it)  -> cache, anchor c(x), z(0) = h(<bot>)
    K latent steps for all rows at once (LatentRollout.rollout)        -> z~(1..K), router probabilities (B, K, M)
    one pass over [z~(K), the stage's suffix], right-padded (close)     -> suffix states (B, T, D)

(1 + K backbone passes: z~(K) joins the suffix pass, since the state z(K) after it is never used.)

Positions continue per row after the prefix (``RolloutState``), gradients flow through every latent step, and
the returned :class:`TrainingOutputs` carries what the loss needs: the state at each row's ``<gen_emb>``, the
anchor, the logits of the supervised suffix positions with their labels, and the router probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

from ..curriculum import StageSpec
from ..data.suffix import IGNORE_INDEX, Suffix, SuffixPieces, assemble_suffix


@dataclass
class TrainingOutputs:
    """What the training forward of one side hands to the loss.

    Attributes:
        gen_embedding: Last-layer state at each row's ``<gen_emb>`` (B, D), not normalised.
        anchor_embedding: Last-layer state at ``<disc_emb>`` (B, D), not normalised.
        logits: Logits of the supervised suffix positions (N, V).
        labels: Their next-token targets (N,).
        router_probs: Router probabilities of every latent step (B, K, M).
        latent_inputs: The adapter outputs fed to the backbone at every step (B, K, D).
        suffix: The assembled suffix (ids, mask, labels).
    """

    gen_embedding: torch.Tensor
    anchor_embedding: torch.Tensor
    logits: torch.Tensor
    labels: torch.Tensor
    router_probs: torch.Tensor
    latent_inputs: torch.Tensor
    suffix: Suffix

    def cross_entropy_sum(self) -> torch.Tensor:
        """Summed token cross-entropy of the supervised suffix positions (float32)."""
        return F.cross_entropy(self.logits.float(), self.labels, reduction="sum")

    @property
    def num_tokens(self) -> int:
        return int(self.labels.numel())


def unwrap_model(model: Any) -> Any:
    """The SentenceTransformer inside DDP / DeepSpeed / compile wrappers."""
    while hasattr(model, "module") and not hasattr(model, "_first_module"):
        model = model.module
    return getattr(model, "_orig_mod", model)


_PREFIX_KEYS = ("think_ids", "think_mask", "answer_ids", "answer_mask")


def prefix_pass(model: Any, features: dict[str, Any]) -> dict[str, Any]:
    """Run :meth:`PlumeInput.forward` through the (possibly DDP-wrapped) model and return what it hands on.

    The call goes through the wrapper (``reasoning="none"``: the later modules only pool the anchor) so that DDP
    prepares its gradient reduction; a forward hook on the input module keeps the prefix outputs (cache, anchor,
    ``z(0)``, next positions) before the later modules see them.
    """
    kept: dict[str, Any] = {}
    handle = unwrap_model(model)[0].register_forward_hook(lambda module, args, output: kept.update(output))
    try:
        model(features, reasoning="none")
    finally:
        handle.remove()
    return kept


def training_forward(model: Any, features: dict[str, Any], spec: StageSpec, pieces: SuffixPieces) -> TrainingOutputs:
    """Run one side of a batch through the stage's training sequence.

    Args:
        model: The PLUME SentenceTransformer, possibly wrapped (DDP); the prefix pass goes through the wrapper.
        features: One collated column (prefix features plus ``think_*`` / ``answer_*``); not modified.
        spec: The current curriculum stage.
        pieces: Token ids of the suffix's fixed pieces.

    Returns:
        The :class:`TrainingOutputs` of the side.
    """
    core = unwrap_model(model)
    input_module, rollout = core[0], core[1]
    suffix = assemble_suffix(
        features["think_ids"], features["think_mask"], features["answer_ids"], features["answer_mask"], spec, pieces
    )
    prefix = prefix_pass(model, {key: value for key, value in features.items() if key not in _PREFIX_KEYS})
    state = rollout.start(prefix)
    fed, probs = rollout.rollout(state, prefix["bot_state"], prefix["anchor_embedding"], spec.num_latent)
    hidden = rollout.close(state, fed, rollout.embed_tokens(suffix.input_ids), suffix.attention_mask)
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    gen = hidden[rows, suffix.lengths - 1]
    supervised = suffix.labels != IGNORE_INDEX
    logits = input_module.causal_lm.lm_head(hidden[supervised])
    return TrainingOutputs(
        gen_embedding=gen,
        anchor_embedding=prefix["anchor_embedding"],
        logits=logits,
        labels=suffix.labels[supervised],
        router_probs=probs,
        latent_inputs=fed,
        suffix=suffix,
    )
