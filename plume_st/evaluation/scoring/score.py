"""Score one task from its embeddings: cosine ranking, the dataset's metric, and per-query predictions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plume_st.evaluation.scoring.metrics import hit_at_1, ndcg_at_k, top_ranked
from plume_st.evaluation.task import EvalTask

PREDICTIONS_TOP_K = 10


@dataclass
class DatasetResult:
    """The score of one dataset (0-100) and what produced it.

    Attributes:
        name: Dataset name.
        metric: ``"hit@1"`` or ``"ndcg@5"``.
        score: Mean of the per-query metric times 100.
        num_queries: Queries scored.
        num_candidates: Size of the candidate pool (global) or mean list length (local).
        predictions: One record per query (top candidates, positives, per-query value).
        max_queries: The ``max_queries`` limit of the run (``None``: every query, comparable with the paper).
        skipped_queries: Queries of the annotations left out for having no positive (visual-document qrels).
    """

    name: str
    metric: str
    score: float
    num_queries: int
    num_candidates: float
    predictions: list[dict[str, Any]] = field(default_factory=list, repr=False)
    max_queries: int | None = None
    skipped_queries: int = 0

    def to_json(self) -> dict[str, Any]:
        """The score file's content."""
        return {
            "dataset": self.name,
            "metric": self.metric,
            "score": self.score,
            self.metric: self.score / 100.0,
            "num_queries": self.num_queries,
            "num_candidates": self.num_candidates,
            "max_queries": self.max_queries,
            "skipped_queries": self.skipped_queries,
        }


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _gains(relevance: dict[int, float], cands: np.ndarray, whole_pool: bool) -> np.ndarray:
    """Relevance of each candidate of a query (0 for non-positives), vectorised for large global pools."""
    gains = np.zeros(len(cands))
    if whole_pool:  # cands is arange(pool size)
        gains[list(relevance)] = list(relevance.values())
    else:
        position = {int(c): j for j, c in enumerate(cands)}
        for idx, grade in relevance.items():
            gains[position[idx]] = grade
    return gains


def score_task(task: EvalTask, query_emb: np.ndarray, cand_emb: np.ndarray, chunk: int = 1024) -> DatasetResult:
    """Rank each query's candidates by cosine similarity and average the dataset's metric.

    Args:
        task: The task.
        query_emb: One row per query (same order as ``task.queries``).
        cand_emb: One row per pool candidate (same order as ``task.candidates``).
        chunk: Queries scored per matrix product (bounds memory on large global pools).

    Returns:
        The dataset result, predictions included.

    Raises:
        ValueError: The embedding counts do not match the task, or some embedding is not finite (NaN / inf).
    """
    if len(query_emb) != len(task.queries) or len(cand_emb) != len(task.candidates):
        raise ValueError(
            f"{task.spec.name}: got {len(query_emb)} query / {len(cand_emb)} candidate embeddings for "
            f"{len(task.queries)} queries / {len(task.candidates)} candidates."
        )
    for side, emb in (("query", query_emb), ("candidate", cand_emb)):
        bad = int((~np.isfinite(np.asarray(emb, dtype=np.float64)).all(axis=1)).sum()) if len(emb) else 0
        if bad:
            raise ValueError(f"{task.spec.name}: {bad} of {len(emb)} {side} embeddings contain NaN or inf.")
    q, c = _normalize(query_emb), _normalize(cand_emb)
    metric = task.spec.metric
    values, records, sizes = [], [], []
    whole_pool = np.arange(len(task.candidates))
    for start in range(0, len(q), chunk):
        sims = q[start : start + chunk] @ c.T
        for offset, row in enumerate(sims):
            qi = start + offset
            cands = whole_pool if task.query_candidates is None else np.asarray(task.query_candidates[qi])
            scores = row[cands]
            gains = _gains(task.relevance[qi], cands, task.query_candidates is None)
            value = hit_at_1(scores, gains) if metric == "hit@1" else ndcg_at_k(scores, gains, k=5)
            values.append(value)
            sizes.append(len(cands))
            top = cands[top_ranked(scores, PREDICTIONS_TOP_K)[:PREDICTIONS_TOP_K]]
            records.append(
                {
                    "query": task.queries[qi].display_name,
                    "prediction": [task.candidates[i].display_name for i in top],
                    "positives": {task.candidates[i].display_name: g for i, g in task.relevance[qi].items()},
                    metric: value,
                }
            )
    return DatasetResult(
        name=task.spec.name,
        metric=metric,
        score=100.0 * float(np.mean(values)),
        num_queries=len(values),
        num_candidates=float(np.mean(sizes)),
        predictions=records,
        skipped_queries=task.skipped_queries,
    )
