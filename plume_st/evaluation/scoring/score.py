"""Score one task from its embeddings: cosine ranking, the dataset's metric, and per-query predictions.

Under ``--protocol vlm2vec`` a query's candidates are ranked in the public harness's order (``argsort(-scores)``) and
the metric is that ranking's; under ``--protocol plume`` ties are averaged (see :mod:`.metrics`).
Graded sets get two NDCG@5 values: the correct one and the reference's (grades attached as the public harness does,
always on its ranking). The dataset's ``score`` is the protocol's default: the reference value under ``vlm2vec``, the
correct one under ``plume``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plume_st.evaluation.protocol import Protocol
from plume_st.evaluation.scoring.metrics import (
    hit_at_1,
    hit_at_1_ranked,
    ndcg_at_k,
    ndcg_ranked,
    reference_order,
    top_ranked,
)
from plume_st.evaluation.task import EvalTask

PREDICTIONS_TOP_K = 10
NDCG_K = 5


@dataclass
class DatasetResult:
    """The score of one dataset (0-100) and what produced it.

    Attributes:
        name: Dataset name.
        metric: ``"hit@1"`` or ``"ndcg@5"``.
        score: Mean of the per-query metric times 100 (graded sets: the protocol's default NDCG value).
        num_queries: Queries scored.
        num_candidates: Size of the candidate pool (global) or mean list length (local).
        predictions: One record per query (top candidates, positives, per-query value).
        max_queries: The ``max_queries`` limit of the run (``None``: every query, comparable with the paper).
        skipped_queries: Queries of the annotations left out for having no positive (visual-document qrels).
        protocol: The protocol the score was computed under.
        ndcg_correct: NDCG@5 (0-100) with every page's own grade (``None`` for hit@1 datasets).
        ndcg_reference: NDCG@5 (0-100) with the grades as the public harness attaches them (``None`` for hit@1).
        mixed_grade_queries: Queries whose positives have different grades (only these can make the two differ).
        hash_order_dependent: The reference value depends on Python's hash order (string corpus ids).
    """

    name: str
    metric: str
    score: float
    num_queries: int
    num_candidates: float
    predictions: list[dict[str, Any]] = field(default_factory=list, repr=False)
    max_queries: int | None = None
    skipped_queries: int = 0
    protocol: Protocol = field(default_factory=Protocol)
    ndcg_correct: float | None = None
    ndcg_reference: float | None = None
    mixed_grade_queries: int = 0
    hash_order_dependent: bool = False

    def to_json(self) -> dict[str, Any]:
        """The score file's content."""
        out = {"dataset": self.name, **self.protocol.to_json(), "metric": self.metric, "score": self.score}
        out[self.metric] = self.score / 100.0
        if self.ndcg_correct is not None:
            out |= {
                "ndcg@5_correct": self.ndcg_correct,
                "ndcg@5_reference": self.ndcg_reference,
                "mixed_grade_queries": self.mixed_grade_queries,
                "reference_hash_order_dependent": self.hash_order_dependent,
            }
        return out | {
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
    if not relevance:
        return gains
    if whole_pool:  # cands is arange(pool size)
        gains[list(relevance)] = list(relevance.values())
    else:
        position = {int(c): j for j, c in enumerate(cands)}
        for idx, grade in relevance.items():
            gains[position[idx]] = grade
    return gains


def _check(task: EvalTask, query_emb: np.ndarray, cand_emb: np.ndarray) -> None:
    if len(query_emb) != len(task.queries) or len(cand_emb) != len(task.candidates):
        raise ValueError(
            f"{task.spec.name}: got {len(query_emb)} query / {len(cand_emb)} candidate embeddings for "
            f"{len(task.queries)} queries / {len(task.candidates)} candidates."
        )
    for side, emb in (("query", query_emb), ("candidate", cand_emb)):
        bad = int((~np.isfinite(np.asarray(emb, dtype=np.float64)).all(axis=1)).sum()) if len(emb) else 0
        if bad:
            raise ValueError(f"{task.spec.name}: {bad} of {len(emb)} {side} embeddings contain NaN or inf.")


def score_task(
    task: EvalTask,
    query_emb: np.ndarray,
    cand_emb: np.ndarray,
    chunk: int = 1024,
    protocol: Protocol = Protocol(),
) -> DatasetResult:
    """Rank each query's candidates by cosine similarity and average the dataset's metric.

    Args:
        task: The task.
        query_emb: One row per query (same order as ``task.queries``).
        cand_emb: One row per pool candidate (same order as ``task.candidates``).
        chunk: Queries scored per matrix product (bounds memory on large global pools).
        protocol: ``vlm2vec``: the reference's ranking and default NDCG; ``plume``: ties averaged, correct NDCG.

    Returns:
        The dataset result, predictions included.

    Raises:
        ValueError: The embedding counts do not match the task, or some embedding is not finite (NaN / inf).
    """
    _check(task, query_emb, cand_emb)
    q, c = _normalize(query_emb), _normalize(cand_emb)
    metric, graded = task.spec.metric, task.spec.metric == "ndcg@5"
    values, reference_values, records, sizes = [], [], [], []
    whole_pool = np.arange(len(task.candidates))
    is_global = task.query_candidates is None
    needs_order = protocol.is_reference or graded  # the reference ranking (the reference NDCG always uses it)
    for start in range(0, len(q), chunk):
        sims = q[start : start + chunk] @ c.T
        orders = reference_order(sims) if is_global and needs_order else None  # argsort row by row, as the reference
        for offset, row in enumerate(sims):
            qi = start + offset
            cands = whole_pool if is_global else np.asarray(task.query_candidates[qi])
            scores = row[cands]
            gains = _gains(task.relevance[qi], cands, is_global)
            order = None
            if needs_order:
                order = orders[offset] if orders is not None else reference_order(scores)
            if protocol.is_reference:
                value = hit_at_1_ranked(order, gains) if not graded else ndcg_ranked(order, gains, NDCG_K)
                top = cands[order[:PREDICTIONS_TOP_K]]
            else:
                value = hit_at_1(scores, gains) if not graded else ndcg_at_k(scores, gains, k=NDCG_K)
                top = cands[top_ranked(scores, PREDICTIONS_TOP_K)[:PREDICTIONS_TOP_K]]
            record = {
                "query": task.queries[qi].display_name,
                "prediction": [task.candidates[i].display_name for i in top],
                "positives": {task.candidates[i].display_name: g for i, g in task.relevance[qi].items()},
                metric: value,
            }
            if graded:
                grades = task.relevance if task.reference_relevance is None else task.reference_relevance
                reference_values.append(ndcg_ranked(order, _gains(grades[qi], cands, is_global), NDCG_K))
                record["ndcg@5_reference"] = reference_values[-1]
            values.append(value)
            sizes.append(len(cands))
            records.append(record)
    correct = 100.0 * float(np.mean(values))
    reference = 100.0 * float(np.mean(reference_values)) if graded else None
    use_reference = graded and protocol.default_ndcg == "reference"
    return DatasetResult(
        name=task.spec.name,
        metric=metric,
        score=reference if use_reference else correct,
        num_queries=len(values),
        num_candidates=float(np.mean(sizes)),
        predictions=records,
        skipped_queries=task.skipped_queries,
        protocol=protocol,
        ndcg_correct=correct if graded else None,
        ndcg_reference=reference,
        mixed_grade_queries=task.mixed_grade_queries,
        hash_order_dependent=task.hash_order_dependent,
    )
