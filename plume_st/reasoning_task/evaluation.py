"""Scoring a model on a reasoning-task split: hit@1 against the 18 candidates and the reasoning compute per query.

hit@1 is the share of queries whose most similar candidate is their answer (chance 1/18). The compute is counted
on the backbone itself: a forward hook on the language model adds up the token positions it processes *after* the
prefix pass (the K latent steps and the closing suffix, or every generated rationale token), per query, and the
number of such passes per batch; the wall time of encoding the queries is measured too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from plume_st.training.data.ume_data import convert_side, iter_ume_records, side_input


@dataclass
class SplitData:
    """The queries of a split as ``encode`` inputs, their answer labels and reasoning steps."""

    queries: list[dict[str, Any]]
    labels: torch.Tensor
    steps: torch.Tensor


def load_split(path: str | Path, media_root: str | Path | None = None) -> SplitData:
    """Read a split's JSONL (media paths joined with ``media_root``, default the file's folder)."""
    root = str(Path(path).parent if media_root is None else media_root)
    queries, labels, steps = [], [], []
    for _, _, record in iter_ume_records(path):
        queries.append(side_input(convert_side(record["qry"], root)))
        labels.append(int(record["label"]))
        steps.append(int(record["steps"]))
    if not queries:
        raise ValueError(f"{path}: the split holds no queries")
    return SplitData(queries, torch.tensor(labels), torch.tensor(steps))


class ReasoningCostMeter:
    """Counts what the language model processes after the prefix while it is active (a context manager).

    Calls with ``inputs_embeds`` are the ones after the prefix (latent steps, suffix, generated tokens); the prefix
    pass feeds ``input_ids``. A row counts for a position when its attention mask is on there.
    """

    def __init__(self, model: Any) -> None:
        self.language_model = model[0].causal_lm.model
        self.positions = 0
        self.passes = 0
        self._handle = None

    def _hook(self, module: Any, args: tuple, kwargs: dict[str, Any]) -> None:
        embeds = kwargs.get("inputs_embeds")
        if embeds is None:
            return
        length = embeds.shape[1]
        self.positions += int(kwargs["attention_mask"][:, -length:].sum())
        self.passes += 1

    def __enter__(self) -> ReasoningCostMeter:
        self._handle = self.language_model.register_forward_pre_hook(self._hook, with_kwargs=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._handle.remove()


def evaluate_split(
    model: Any, split: SplitData, candidates: list[str], batch_size: int = 32, **encode_kwargs: Any
) -> dict[str, Any]:
    """hit@1 of ``model`` on a split, overall and per number of reasoning steps, with the compute per query.

    Args:
        model: A PLUME SentenceTransformer.
        split: The split's queries and labels.
        candidates: The candidate answers (label ``i`` is ``candidates[i]``).
        batch_size: Encoding batch size.
        **encode_kwargs: ``reasoning=``, ``latent_steps=`` (used for queries and candidates alike).

    Returns:
        ``{"hit_at_1", "hit_at_1_by_steps", "num_queries_by_steps", "positions_per_query", "passes_per_batch",
        "seconds_per_query", "num_queries", "predictions"}``.
    """
    was_training = model.training
    model.eval()
    try:
        documents = model.encode(candidates, batch_size=batch_size, convert_to_tensor=True, **encode_kwargs)
        num_batches = -(-len(split.queries) // batch_size)
        with ReasoningCostMeter(model) as meter:
            start = time.perf_counter()
            queries = model.encode(split.queries, batch_size=batch_size, convert_to_tensor=True, **encode_kwargs)
            seconds = time.perf_counter() - start
    finally:
        model.train(was_training)
    predictions = model.similarity(queries, documents).argmax(dim=1).cpu()
    correct = (predictions == split.labels).float()
    by_steps = {int(s): correct[split.steps == s].mean().item() for s in torch.unique(split.steps)}
    return {
        "hit_at_1": correct.mean().item(),
        "hit_at_1_by_steps": by_steps,
        "num_queries_by_steps": {int(s): int((split.steps == s).sum()) for s in torch.unique(split.steps)},
        "positions_per_query": meter.positions / len(split.queries),
        "passes_per_batch": meter.passes / num_batches,
        "seconds_per_query": seconds / len(split.queries),
        "num_queries": len(split.queries),
        "predictions": predictions.tolist(),
    }
