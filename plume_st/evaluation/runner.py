"""Run MMEB-v2 with any sentence-transformers model: load, encode (cached, sharded), score, report.

Output folder::

    OUT/<dataset>_score.json   the protocol, the dataset's metric (0-100 and as a fraction; graded sets: both NDCG@5
                               values), query and candidate counts
    OUT/<dataset>_pred.jsonl   per query: top-10 candidates, positives, the per-query value
    OUT/report.json|md         per-dataset, per-category, per-modality and All (mean over the 78 datasets)
    OUT/cache/<dataset>/<query|candidate>/*.npz   embeddings by input hash; a rerun encodes only what is missing
    OUT/cache/settings.json    model fingerprint and encode settings the cache was made with (others are refused)

Sharding: with ``world_size`` w > 1 (or ``RANK``/``WORLD_SIZE`` in the environment, as set by ``torchrun``), every
rank encodes its share of each dataset into the cache; rank 0 waits for the other shares, scores and writes the
report, the other ranks return ``None``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from plume_st.evaluation.encoding.cache import EmbeddingCache
from plume_st.evaluation.encoding.encode import encode_items
from plume_st.evaluation.encoding.fingerprint import FingerprintError, model_fingerprint
from plume_st.evaluation.loaders import load_task
from plume_st.evaluation.loaders.annotations import AnnotationsNotFound
from plume_st.evaluation.protocol import NDCG_VARIANTS, protocol_for
from plume_st.evaluation.registry import select_datasets
from plume_st.evaluation.report import build_report, write_report
from plume_st.evaluation.scoring.score import DatasetResult, score_task

logger = logging.getLogger(__name__)


def distributed_rank() -> tuple[int, int]:
    """``(RANK, WORLD_SIZE)`` from the environment (``(0, 1)`` when unset)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def _check_settings(out_dir: Path, settings: dict[str, Any], rank: int, timeout: float = 600.0) -> None:
    """Refuse a cache made with other settings; rank 0 writes them, other ranks wait for them and compare.

    Raises:
        ValueError: The cache was written with other settings, or by a model without an id (``model`` ``None``).
        TimeoutError: A rank other than 0 found no settings from rank 0 within ``timeout`` seconds.
    """
    path = out_dir / "cache" / "settings.json"
    deadline = time.monotonic() + timeout
    while rank != 0 and not path.is_file():
        if time.monotonic() > deadline:
            raise TimeoutError(f"rank {rank}: rank 0 wrote no {path} within {timeout:.0f} s; did rank 0 start?")
        time.sleep(0.2)
    if path.is_file():
        previous = json.loads(path.read_text(encoding="utf-8"))
        # rank 0 never resumes a cache of an unidentified model (other ranks join the run rank 0 just started)
        if rank == 0 and previous.get("model") is None:
            raise ValueError(
                f"{path} was written by a model without an id (no fingerprint, no model_id): its cached embeddings "
                "do not apply to any later run. Choose another output folder or delete its cache/."
            )
        if previous != settings:
            raise ValueError(
                f"{path} was written with {previous}, this run uses {settings}: its cached embeddings do not apply. "
                "Choose another output folder or delete its cache/."
            )
    elif rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".settings-{os.getpid()}.tmp")
        tmp.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def _model_id(model: Any, source: str | None) -> str | None:
    try:
        return model_fingerprint(model, source)
    except FingerprintError as err:
        logger.warning("%s Its embeddings are cached, but this output folder can never be resumed.", err)
        return None


def write_dataset_outputs(out_dir: Path, result: DatasetResult) -> None:
    """Write ``<name>_score.json`` and ``<name>_pred.jsonl``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{result.name}_score.json").write_text(json.dumps(result.to_json(), indent=2) + "\n", "utf-8")
    with (out_dir / f"{result.name}_pred.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in result.predictions)


def graded_entry(result: DatasetResult) -> dict[str, Any]:
    """What the report needs of a graded dataset: both NDCG@5 values and why they may differ."""
    return {
        "correct": result.ndcg_correct,
        "reference": result.ndcg_reference,
        "mixed_grade_queries": result.mixed_grade_queries,
        "hash_order_dependent": result.hash_order_dependent,
    }


def evaluate_mmeb(
    model: Any,
    data_root: Path,
    out_dir: Path,
    modalities: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    batch_size: int = 16,
    reasoning: str | None = None,
    annotations_root: Path | None = None,
    from_hub: bool = False,
    rank: int | None = None,
    world_size: int | None = None,
    max_queries: int | None = None,
    model_id: str | None = None,
    model_source: str | None = None,
    shard_timeout: float = 24 * 3600.0,
    show_progress_bar: bool = True,
    protocol: str = "vlm2vec",
    ndcg: str | None = None,
    truncate_dim: int | None = None,
) -> dict[str, Any] | None:
    """Evaluate ``model`` on MMEB-v2 datasets and write scores, predictions and the report into ``out_dir``.

    Args:
        model: A sentence-transformers model (anything with its ``encode``).
        data_root: The unpacked public MMEB-V2 files (and ``annotations/`` unless ``annotations_root`` is given).
        out_dir: Output folder; rerunning into the same folder resumes from its embedding cache.
        modalities: Subset of ``image``, ``video``, ``visdoc`` (default all).
        datasets: Dataset names (default all of the chosen modalities).
        batch_size: ``encode`` batch size.
        reasoning: Passed to ``encode(reasoning=...)`` when given (PLUME: ``latent``, ``none``, ``explicit``).
        annotations_root: Local annotations folder (default ``data_root/annotations``).
        from_hub: Load annotations without a local copy from the Hugging Face Hub (network).
        rank: This process's rank (default from ``RANK``, else 0).
        world_size: Number of processes (default from ``WORLD_SIZE``, else 1).
        max_queries: Evaluate only the first queries of each dataset (quick checks): global pools stay whole, but the
            scores are marked as subsampled and are not comparable with the paper's.
        model_id: Identifies the model in the cache settings (default: a fingerprint of its weights,
            :func:`~plume_st.evaluation.encoding.fingerprint.model_fingerprint`; a model without one never resumes).
        model_source: The folder or Hub id the model was loaded from (part of the default ``model_id``).
        shard_timeout: Seconds rank 0 waits for the other ranks' embeddings of one dataset (and other ranks for rank
            0's ``settings.json``).
        show_progress_bar: Progress over datasets and items.
        protocol: ``"vlm2vec"`` (the public harness, leaderboard-comparable) or ``"plume"``
            (:mod:`plume_st.evaluation.protocol`); a model of the official profile gets the authors' prompt style.
        ndcg: Graded NDCG value the report's means use, ``"reference"`` or ``"correct"`` (default: the protocol's);
            score files hold both.
        truncate_dim: Keep the first n dimensions of every embedding (``encode(truncate_dim=...)``; part of the
            cache settings, so a cache of another size is refused).

    Returns:
        The report dictionary (rank 0) or ``None`` (other ranks).

    Raises:
        ValueError: An unknown ``protocol`` or ``ndcg``, or a ``truncate_dim`` outside 1..the embedding size.
    """
    env_rank, env_world = distributed_rank()
    rank = env_rank if rank is None else rank
    world_size = env_world if world_size is None else world_size
    out_dir, data_root = Path(out_dir), Path(data_root)
    encode_kwargs = {"reasoning": reasoning} if reasoning else {}
    if truncate_dim is not None:
        full = model.get_embedding_dimension() if callable(getattr(model, "get_embedding_dimension", None)) else None
        if truncate_dim < 1 or (full is not None and truncate_dim > full):
            raise ValueError(f"truncate_dim must be between 1 and the embedding size {full}, got {truncate_dim}")
        encode_kwargs["truncate_dim"] = truncate_dim
    run_protocol = protocol_for(protocol, model)
    if ndcg is not None and ndcg not in NDCG_VARIANTS:
        raise ValueError(f"ndcg must be one of {', '.join(NDCG_VARIANTS)}, not {ndcg!r}")
    model_id = model_id or _model_id(model, model_source)
    _check_settings(out_dir, {"model": model_id, "encode_kwargs": encode_kwargs}, rank, shard_timeout)
    scores: dict[str, float] = {}
    skipped: dict[str, int] = {}
    graded: dict[str, dict[str, Any]] = {}
    missing: dict[str, str] = {}
    specs = select_datasets(modalities, datasets)
    for spec in tqdm(specs, desc=f"MMEB-v2 (rank {rank})", disable=not show_progress_bar):
        try:
            task = load_task(spec, data_root, annotations_root, from_hub, max_queries, run_protocol)
        except AnnotationsNotFound as err:
            missing[spec.name] = str(err)
            continue
        except FileNotFoundError as err:
            missing[spec.name] = f"media missing: {err}"
            logger.warning("%s: media missing: %s", spec.name, err)
            continue
        caches = {}
        for side, items in (("query", task.queries), ("candidate", task.candidates)):
            caches[side] = EmbeddingCache(out_dir / "cache" / spec.name / side, rank)
            encode_items(
                model, items, caches[side], batch_size, rank, world_size, encode_kwargs,
                show_progress_bar=show_progress_bar, desc=f"{spec.name} {side}",
            )  # fmt: skip
        if rank != 0:
            continue
        keys = {"query": [q.key for q in task.queries], "candidate": [c.key for c in task.candidates]}
        for side in caches:
            caches[side].wait_for(keys[side], shard_timeout)
        query_emb, cand_emb = caches["query"].get(keys["query"]), caches["candidate"].get(keys["candidate"])
        result = score_task(task, query_emb, cand_emb, protocol=run_protocol)
        result.max_queries = max_queries
        write_dataset_outputs(out_dir, result)
        scores[spec.name] = result.score
        skipped[spec.name] = result.skipped_queries
        if result.ndcg_correct is not None:
            graded[spec.name] = graded_entry(result)
    if missing:
        logger.warning(
            "%d of %d selected datasets are missing (listed in the report); annotations are read from %s%s.",
            len(missing), len(specs), annotations_root or data_root / "annotations", " or the Hub" if from_hub else "",
        )  # fmt: skip
    if rank != 0:
        return None
    report = build_report(scores, missing, max_queries, skipped, run_protocol, graded, ndcg)
    write_report(out_dir, report)
    return report
