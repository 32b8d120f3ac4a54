"""Embedding a large corpus on Ray Data, on one machine or a cluster with the same code, into a folder you can trust.

The manifest (parquet or JSONL) has one row per item: ``id`` and any of ``text``, ``image`` (a path or URL) and
``video`` (a path or URL). ``map_batches`` runs :class:`CorpusEmbedder`, an actor class that loads the model once per
worker (the model is never pickled), prepares each row as the server prepares a request item (the manifest's local
paths are read: its owner wrote it; URLs only from ``allowed_media_domains``) and embeds each batch with
:func:`~plume_st.serving.jobs.encode_jobs`. A bad row is not dropped: it gets a null embedding and its problem.

The output folder: parquet files ``part-<run>-<n>.parquet`` with one schema (``id``, ``embedding`` a fixed-size list
of float32 or null, ``error`` a string or null), each written whole under a hidden name and then renamed, and
``_summary.json`` (rows, errors, model, settings), written last: a folder without it is an unfinished job.
``mode="resume"`` embeds only the ids not yet written, so a killed job rerun gives every id exactly once.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from plume_st.modules.errors import PlumeInputError

from .jobs import Job, encode_jobs, short_problem
from .media_policy import MediaPolicy, read_media
from .prepare import checked_text, decode_image, decode_video
from .request import ServeLimits

MEDIA_COLUMNS = ("text", "image", "video")
MODES = ("error", "overwrite", "resume")
SUMMARY = "_summary.json"
PART_PREFIX = "part-"


def prepare_row(row: dict[str, Any], policy: MediaPolicy, limits: ServeLimits, num_frames: int) -> dict[str, Any]:
    """One manifest row as a ready ``encode`` dict (missing cells, ``None`` or NaN, are left out)."""
    deadline = time.monotonic() + policy.fetch_timeout_s
    item: dict[str, Any] = {}
    if _present(row.get("text")):
        item["text"] = checked_text(str(row["text"]))
    for kind, decode in (("image", decode_image), ("video", decode_video)):
        source = row.get(kind)
        if _present(source):
            source = str(source)
            if "://" not in source and not source.startswith("data:"):
                source = os.path.abspath(source)
            data = read_media(source, kind, policy, deadline)
            item[kind] = decode(data, limits) if kind == "image" else decode(data, limits, num_frames)
    if not item:
        raise PlumeInputError("the row has no text, image or video")
    return item


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))


class CorpusEmbedder:
    """Ray Data actor: loads the PLUME model once, embeds batches of manifest rows into the output schema.

    Args:
        model_name_or_path: The PLUME model.
        device: Its device (``None``: CUDA when the worker has a GPU).
        encode_settings: ``(input_type, prompt, reasoning, latent_steps)``, as in a server request.
        allowed_media_domains: Hosts whose URLs the manifest may name.
        model_kwargs: Passed to the backbone's ``from_pretrained`` (``dtype``, ``attn_implementation``).
    """

    def __init__(
        self,
        model_name_or_path: str,
        device: str | None = None,
        encode_settings: tuple = (),
        allowed_media_domains: tuple[str, ...] = (),
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(
            model_name_or_path, trust_remote_code=True, device=device, model_kwargs=model_kwargs
        )
        self.settings = tuple(encode_settings) or (None, None, None, None)
        self.policy = MediaPolicy(allowed_local_media_path=os.sep, allowed_media_domains=allowed_media_domains)
        self.limits = ServeLimits()
        self.dimension = self.model.get_embedding_dimension()
        self.num_frames = getattr(self.model[0], "num_frames", 8)

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        rows = batch.select([key for key in MEDIA_COLUMNS if key in batch.column_names]).to_pylist()
        problems: list[str | None] = [None] * len(rows)
        ready: dict[int, dict[str, Any]] = {}
        for index, row in enumerate(rows):
            try:
                ready[index] = prepare_row(row, self.policy, self.limits, self.num_frames)
            except PlumeInputError as error:
                problems[index] = short_problem(error.problem)
            except (ValueError, TypeError, OSError):  # not foreseen: the row's fault, told without details
                problems[index] = "could not read this row"
        outcomes = encode_jobs(self.model, [Job(item, self.settings) for item in ready.values()])
        vectors = np.zeros((len(rows), self.dimension), np.float32)
        for index, outcome in zip(ready, outcomes):
            if outcome.problem:
                problems[index] = outcome.problem
            else:
                vectors[index] = outcome.embedding
        failed = np.array([problem is not None for problem in problems], dtype=bool)
        embedding = pa.FixedSizeListArray.from_arrays(
            pa.array(vectors.reshape(-1), pa.float32()), self.dimension, mask=pa.array(failed)
        )
        return pa.table({"id": batch["id"], "embedding": embedding, "error": pa.array(problems, pa.string())})


def _drop_done(batch: Any, done: Any) -> Any:
    """``batch`` without the rows whose id is in ``done`` (a resumed job)."""
    import pyarrow.compute as pc

    return batch.filter(pc.invert(pc.is_in(batch["id"], value_set=done)))


def _prepare_folder(out: Path, mode: str) -> Any:
    """Apply ``mode`` to the output folder; return the ids already written (a pyarrow array) for ``resume``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    out.mkdir(parents=True, exist_ok=True)
    entries = list(out.iterdir())
    ours = [
        p for p in entries if p.name.startswith((PART_PREFIX, f".{PART_PREFIX}", f".{SUMMARY}")) or p.name == SUMMARY
    ]
    if entries and mode == "error":
        raise FileExistsError(
            f"the output folder {str(out)!r} is not empty: pass --mode resume (mode='resume') to embed only the ids "
            "not written yet, or --mode overwrite (mode='overwrite') to replace its embeddings"
        )
    if len(ours) != len(entries):
        raise FileExistsError(f"the output folder {str(out)!r} holds files that are not a plume-st corpus output")
    for path in ours:
        if mode == "overwrite" or not path.name.startswith(PART_PREFIX):  # resume keeps the finished parts
            path.unlink()
    parts = sorted(out.glob(f"{PART_PREFIX}*.parquet"))
    if not parts:
        return pa.array([])
    return pq.read_table([str(part) for part in parts], columns=["id"]).column("id").combine_chunks()


def _write_part(table: Any, out: Path, name: str) -> None:
    """Write ``table`` under a hidden name, then rename it: a killed job leaves only whole files."""
    import pyarrow.parquet as pq

    hidden = out / f".{name}.tmp"
    pq.write_table(table, hidden)
    os.replace(hidden, out / name)


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
    mode: str = "error",
    allowed_media_domains: tuple[str, ...] = (),
    model_kwargs: dict[str, Any] | None = None,
    rows_per_file: int = 1000,
) -> int:
    """Embed every row of ``manifest`` into the parquet folder ``out``; returns (and prints) the number of bad rows.

    Args:
        model_name_or_path: The PLUME model (every worker loads it).
        manifest: A ``.parquet`` file / folder or a ``.jsonl`` file.
        out: Output folder (see the module docstring).
        batch_size: Rows per ``encode`` call.
        concurrency: Number of model workers (actors).
        num_gpus: GPUs per worker.
        address: A Ray cluster (``ray://head:10001``); ``None`` starts a local Ray on loopback (or joins a running
            one).
        encode_settings: ``(input_type, prompt, reasoning, latent_steps)``.
        mode: What to do when ``out`` is not empty: ``"error"``, ``"overwrite"`` or ``"resume"``.
        allowed_media_domains: Hosts whose URLs the manifest may name.
        model_kwargs: Passed to every worker's ``from_pretrained`` (``dtype``, ``attn_implementation``).
        rows_per_file: Rows per output file (the unit of progress a resumed job keeps).

    Raises:
        FileExistsError: ``out`` is not empty and ``mode`` is ``"error"`` (or it holds other files).
        ValueError: An unknown ``mode``, a manifest without ``id``.
    """
    import pyarrow.parquet as pq

    from .ray_cluster import start_ray

    folder = Path(out)
    done = _prepare_folder(folder, mode)
    start_ray(address)
    import ray

    path = str(manifest)
    dataset = ray.data.read_json(path) if path.endswith((".jsonl", ".json")) else ray.data.read_parquet(path)
    if "id" not in dataset.columns():
        raise ValueError(f"manifest {path!r} has no 'id' column (columns: {dataset.columns()})")
    if len(done):
        dataset = dataset.map_batches(_drop_done, fn_kwargs={"done": done}, batch_format="pyarrow")
    dataset = dataset.repartition(target_num_rows_per_block=rows_per_file)  # results stream back file by file
    embedded = dataset.map_batches(
        CorpusEmbedder,
        fn_constructor_args=(model_name_or_path,),
        fn_constructor_kwargs={
            "encode_settings": encode_settings,
            "allowed_media_domains": allowed_media_domains,
            "model_kwargs": model_kwargs,
        },
        batch_size=batch_size,
        concurrency=concurrency,
        num_gpus=num_gpus,
        batch_format="pyarrow",
    )
    run = uuid.uuid4().hex[:8]
    for number, block in enumerate(embedded.iter_batches(batch_format="pyarrow", batch_size=rows_per_file)):
        if block.num_rows:
            _write_part(block, folder, f"{PART_PREFIX}{run}-{number:05d}.parquet")
    written = pq.read_table([str(part) for part in folder.glob(f"{PART_PREFIX}*.parquet")], columns=["id", "error"])
    errors = written.num_rows - written.column("error").null_count
    summary = {
        "rows": written.num_rows,
        "errors": errors,
        "model": model_name_or_path,
        "manifest": path,
        "settings": dict(zip(("input_type", "prompt", "reasoning", "latent_steps"), encode_settings)),
        "allowed_media_domains": list(allowed_media_domains),
    }
    hidden = folder / f".{SUMMARY}.tmp"
    hidden.write_text(json.dumps(summary, indent=2))
    os.replace(hidden, folder / SUMMARY)
    print(f"embedded {path} into {out}: {written.num_rows} rows, {errors} with errors (see the 'error' column)")
    return errors
