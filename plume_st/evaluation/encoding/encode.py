"""Encode evaluation items with any sentence-transformers model: only the uncached ones of this rank's shard.

Sharding: the unique keys of a side are sorted and rank ``r`` of ``w`` takes every ``w``-th key starting at ``r`` —
the same split in every process, whatever is already cached. Items are grouped by input kind (text, image, video)
and encoded a chunk at a time (``8 * batch_size`` items, videos ``2 * batch_size``: their frames are decoded and held
at once); each chunk is written to the cache as soon as it is encoded, so an interrupted run loses at most one chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from plume_st.evaluation.encoding.cache import EmbeddingCache
from plume_st.evaluation.items import EvalItem, to_model_input

CHUNK_BATCHES = 8
VIDEO_CHUNK_BATCHES = 2  # a video item holds its decoded frames until its chunk is encoded


def shard(items: Sequence[EvalItem], rank: int = 0, world_size: int = 1) -> list[EvalItem]:
    """This rank's unique items: sorted by key, every ``world_size``-th from ``rank``."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, {world_size})")
    unique = {item.key: item for item in items}
    return [unique[k] for k in sorted(unique)[rank::world_size]]


def encode_items(
    model: Any,
    items: Sequence[EvalItem],
    cache: EmbeddingCache,
    batch_size: int = 16,
    rank: int = 0,
    world_size: int = 1,
    encode_kwargs: dict[str, Any] | None = None,
    chunk_size: int | None = None,
    show_progress_bar: bool = False,
    desc: str = "encoding",
) -> int:
    """Encode this rank's uncached items into ``cache``.

    Args:
        model: Anything with sentence-transformers' ``encode(inputs, batch_size=, show_progress_bar=,
            convert_to_numpy=, **kwargs)``.
        items: All items of one side of a task (repeats allowed).
        cache: Where vectors are looked up and stored.
        batch_size: Passed to ``encode``.
        rank: This process's rank.
        world_size: Number of processes sharing the work.
        encode_kwargs: Extra ``encode`` keyword arguments (e.g. ``{"reasoning": "latent"}``).
        chunk_size: Items per ``encode`` call and cache file (default ``8 * batch_size``, for videos
            ``VIDEO_CHUNK_BATCHES * batch_size``).
        show_progress_bar: Show a progress bar over the items to encode.
        desc: Progress bar label.

    Returns:
        The number of items encoded (0 when everything was cached).
    """
    todo = [item for item in shard(items, rank, world_size) if item.key not in cache]
    todo.sort(key=lambda item: item.kind)  # stable: text, image, video groups
    with tqdm(total=len(todo), desc=desc, disable=not show_progress_bar or not todo, leave=False) as bar:
        start = 0
        while start < len(todo):
            kind = todo[start].kind
            size = chunk_size or (VIDEO_CHUNK_BATCHES if kind == "video" else CHUNK_BATCHES) * batch_size
            chunk = [it for it in todo[start : start + size] if it.kind == kind]
            vectors = model.encode(
                [to_model_input(it) for it in chunk],
                batch_size=batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                **(encode_kwargs or {}),
            )
            if hasattr(vectors, "detach"):  # a tensor despite convert_to_numpy (e.g. bf16)
                vectors = vectors.detach().float().cpu().numpy()
            cache.write([it.key for it in chunk], np.asarray(vectors))
            bar.update(len(chunk))
            start += len(chunk)
    return len(todo)
