"""Ranking metrics of MMEB-v2: hit@1 and NDCG@5 with linear gain, with ties averaged or on the reference's order.

``--protocol plume``: candidates are ranked by score, descending. Scores within ``TIE_TOLERANCE`` of each other form a
tie group, and a metric is its expected value over all orders of the tied candidates (every order equally likely).
This is deterministic and makes uninformative embeddings (all scores equal) score exactly the chance level, whereas
breaking ties by candidate position would give 100 on tasks whose positive is listed first. The ranked lists written
to prediction files break ties by candidate position (stable sort).

``--protocol vlm2vec``: the public harness's ranking, numpy's ``argsort(-scores)`` (:func:`reference_order`), and
the metric of that one order (:func:`hit_at_1_ranked`, :func:`ndcg_ranked`). Its graded NDCG attaches the grades as
:func:`reference_grades` does.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

TIE_TOLERANCE = 1e-6


def rank(scores: np.ndarray) -> np.ndarray:
    """Candidate indices by score descending; equal scores keep candidate order (stable)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def top_ranked(scores: np.ndarray, k: int, tolerance: float = TIE_TOLERANCE) -> np.ndarray:
    """A prefix of :func:`rank` that holds the first ``k`` positions and every tie group reaching into them.

    Only candidates scoring at least the k-th best score minus ``tolerance`` can be part of those groups, so only they
    are sorted: large global pools are ranked in linear time.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) <= 4 * k:
        return rank(scores)
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    subset = np.flatnonzero(scores >= kth - tolerance)
    return subset[rank(scores[subset])]


def _group_end(ranked_scores: np.ndarray, start: int, tolerance: float) -> int:
    """End (exclusive) of the tie group that starts at ``start`` in scores sorted descending."""
    ascending = -ranked_scores
    return int(np.searchsorted(ascending, ascending[start] + tolerance, side="right"))


def tie_groups(scores: np.ndarray, tolerance: float = TIE_TOLERANCE) -> list[np.ndarray]:
    """Ranked candidate indices split into groups of tied scores (each within ``tolerance`` of its group's top)."""
    scores = np.asarray(scores, dtype=np.float64)
    order = rank(scores)
    ranked = scores[order]
    groups, start = [], 0
    while start < len(order):
        end = _group_end(ranked, start, tolerance)
        groups.append(order[start:end])
        start = end
    return groups


def hit_at_1(scores: np.ndarray, gains: np.ndarray, tolerance: float = TIE_TOLERANCE) -> float:
    """Probability that the first-ranked candidate is relevant (gain > 0), ties averaged.

    Args:
        scores: Similarity of the query to each of its candidates.
        gains: Relevance of each candidate (0 = not relevant).
        tolerance: Scores closer than this to the best score tie with it.

    Returns:
        A value in [0, 1]: the share of relevant candidates in the top tie group.
    """
    scores = np.asarray(scores, dtype=np.float64)
    top = scores >= scores.max() - tolerance
    return float((np.asarray(gains)[top] > 0).mean())


def dcg(gains_in_rank_order: np.ndarray, k: int) -> float:
    """Discounted cumulative gain with linear gain: sum of ``gain / log2(position + 1)`` over the first ``k``."""
    g = np.asarray(gains_in_rank_order, dtype=np.float64)[:k]
    return float((g / np.log2(np.arange(2, len(g) + 2))).sum())


def ndcg_at_k(scores: np.ndarray, gains: np.ndarray, k: int = 5, tolerance: float = TIE_TOLERANCE) -> float:
    """NDCG@k with linear gain (gain = relevance grade), ties averaged.

    The ideal DCG sorts all of the query's grades (its qrels) descending. Inside a tie group every position gets the
    group's mean gain, which is the expected DCG over random orders of the group.

    Returns:
        A value in [0, 1]; 0 when the query has no relevant candidate.
    """
    gains = np.asarray(gains, dtype=np.float64)
    ideal = dcg(np.sort(gains)[::-1], k)
    if ideal <= 0:
        return 0.0
    scores = np.asarray(scores, dtype=np.float64)
    order = top_ranked(scores, k, tolerance)
    ranked = scores[order]
    expected = np.empty(min(k, len(gains)))
    start = 0
    while start < len(expected):  # only the groups that reach into the top k
        end = _group_end(ranked, start, tolerance)
        expected[start:end] = gains[order[start:end]].mean()
        start = end
    return dcg(expected, k) / ideal


def reference_order(scores: np.ndarray) -> np.ndarray:
    """The public harness's ranking: ``np.argsort(-scores)`` with numpy's default sort (ties in its order)."""
    return np.argsort(-np.asarray(scores))


def hit_at_1_ranked(order: np.ndarray, gains: np.ndarray) -> float:
    """1.0 when the first candidate of ``order`` is relevant (gain > 0), else 0.0."""
    return float(len(order) > 0 and np.asarray(gains)[order[0]] > 0)


def ndcg_ranked(order: np.ndarray, gains: np.ndarray, k: int = 5) -> float:
    """NDCG@k with linear gain of one ranking ``order``; the ideal DCG sorts all of ``gains`` descending.

    Returns:
        A value in [0, 1]; 0 when no candidate is relevant.
    """
    gains = np.asarray(gains, dtype=np.float64)
    ideal = dcg(np.sort(gains)[::-1], k)
    return dcg(gains[np.asarray(order)[:k]], k) / ideal if ideal > 0 else 0.0


def reference_grades(positives: Sequence[tuple[Hashable, float]]) -> dict[Hashable, float]:
    """The grades the public harness (VLM2Vec 6e1e1d4, ``RankingMetrics.evaluate``) attaches to a query's documents.

    It de-duplicates the labels with ``list(set(labels))`` and then zips them with the grades in their original
    (qrels) order, so when the positives have different grades a grade can land on another document. Integer ids
    have a fixed ``set`` order; string ids have Python's hash order (``PYTHONHASHSEED``), which this reproduces for
    the running process only.

    Args:
        positives: ``(document id, grade)`` pairs in qrels order, ids as the annotations hold them.

    Returns:
        Document id -> the grade the reference uses.
    """
    labels = [doc for doc, _ in positives]
    return dict(zip(list(set(labels)), [grade for _, grade in positives]))
