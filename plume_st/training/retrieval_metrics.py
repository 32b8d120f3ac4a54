"""hit@1 of a model on a small query -> document retrieval set (query ``i`` matches document ``i``)."""

from __future__ import annotations

from typing import Any

import torch


def hit_at_1(
    model: Any, queries: list[Any], documents: list[Any], batch_size: int = 16, **encode_kwargs: Any
) -> float:
    """Fraction of queries whose most similar document is their own.

    Args:
        model: A SentenceTransformer (PLUME or any other).
        queries: The query inputs.
        documents: The document inputs, aligned with ``queries``.
        batch_size: Encoding batch size.
        **encode_kwargs: Passed to ``encode`` (``reasoning=``, ``latent_steps=``, ...).
    """
    if len(queries) != len(documents):
        raise ValueError(f"{len(queries)} queries but {len(documents)} documents; they must be aligned")
    was_training = model.training
    try:
        q = model.encode(queries, batch_size=batch_size, convert_to_tensor=True, **encode_kwargs)
        d = model.encode(documents, batch_size=batch_size, convert_to_tensor=True, **encode_kwargs)
    finally:
        model.train(was_training)
    predicted = model.similarity(q, d).argmax(dim=1)
    return (predicted == torch.arange(len(queries), device=predicted.device)).float().mean().item()
