"""Embedding a large corpus on Ray Data, on one machine or a cluster with the same code.

The manifest (parquet or JSONL) has one row per item: ``id`` and any of ``text``, ``image`` (a path) and ``video``
(a path). ``map_batches`` runs :class:`CorpusEmbedder`, an actor class that loads the model once per worker (the
model is never pickled); each batch is one ``model.encode`` call. A row whose input is bad is not dropped: the output
(parquet: ``id``, ``embedding``, ``error``) has an empty embedding and the problem for it, and the count of such rows
is returned and printed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .server import Job, encode_jobs

MEDIA_COLUMNS = ("text", "image", "video")


def _row_item(row: dict[str, Any]) -> dict[str, Any]:
    """The row's inputs as an ``encode`` dict; missing cells (``None``, or NaN from a parquet null) are left out."""
    return {key: value for key, value in row.items() if value is not None and not _is_nan(value)}


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


class CorpusEmbedder:
    """Ray Data actor: loads the PLUME model once, embeds batches of manifest rows.

    Args:
        model_name_or_path: The PLUME model.
        device: Its device (``None``: CUDA when the worker has a GPU).
        encode_settings: ``(input_type, prompt, reasoning, latent_steps)``, as in a server request.
    """

    def __init__(self, model_name_or_path: str, device: str | None = None, encode_settings: tuple = ()) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_name_or_path, trust_remote_code=True, device=device)
        self.settings = tuple(encode_settings) or (None, None, None, None)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        columns = [key for key in MEDIA_COLUMNS if key in batch]
        rows = [{key: batch[key][i] for key in columns} for i in range(len(batch["id"]))]
        outcomes = encode_jobs(self.model, [Job(_row_item(row), self.settings) for row in rows])
        return {
            "id": batch["id"],
            "embedding": [o.embedding if o.embedding is not None else np.zeros(0, np.float32) for o in outcomes],
            "error": [o.problem or "" for o in outcomes],
        }


def embed_corpus(
    model_name_or_path: str,
    manifest: str,
    out: str,
    *,
    batch_size: int = 32,
    concurrency: int = 1,
    num_gpus: float = 0,
    address: str | None = None,
    encode_settings: tuple = (),
) -> int:
    """Embed every row of ``manifest`` into the parquet folder ``out``; returns (and prints) the number of bad rows.

    Args:
        model_name_or_path: The PLUME model (every worker loads it).
        manifest: A ``.parquet`` file / folder or a ``.jsonl`` file.
        out: Output folder (parquet files with ``id``, ``embedding``, ``error``).
        batch_size: Rows per ``encode`` call.
        concurrency: Number of model workers (actors).
        num_gpus: GPUs per worker.
        address: A Ray cluster (``ray://head:10001``); ``None`` starts or joins a local Ray.
        encode_settings: ``(input_type, prompt, reasoning, latent_steps)``.
    """
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False)
    path = str(manifest)
    dataset = ray.data.read_json(path) if path.endswith((".jsonl", ".json")) else ray.data.read_parquet(path)
    if "id" not in dataset.columns():
        raise ValueError(f"manifest {path!r} has no 'id' column (columns: {dataset.columns()})")
    embedded = dataset.map_batches(
        CorpusEmbedder,
        fn_constructor_args=(model_name_or_path,),
        fn_constructor_kwargs={"encode_settings": encode_settings},
        batch_size=batch_size,
        concurrency=concurrency,
        num_gpus=num_gpus,
        batch_format="numpy",
    )
    Path(out).mkdir(parents=True, exist_ok=True)
    embedded.write_parquet(out)
    errors = int(ray.data.read_parquet(out).filter(lambda row: bool(row["error"])).count())
    print(f"embedded {path} into {out}: {errors} row(s) with errors (see the 'error' column)")
    return errors
