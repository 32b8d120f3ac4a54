"""Metrics against hand-computed values: hit@1, NDCG@5 (linear, graded), ties, duplicates in global mode."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plume_st.evaluation.items import EvalItem
from plume_st.evaluation.protocol import Protocol
from plume_st.evaluation.registry import get_dataset
from plume_st.evaluation.scoring.metrics import hit_at_1, ndcg_at_k, rank, tie_groups, top_ranked
from plume_st.evaluation.scoring.score import score_task
from plume_st.evaluation.task import TaskBuilder


def test_hit_at_1_first_ranked_is_positive():
    assert hit_at_1(np.array([0.9, 0.5, 0.1]), np.array([1, 0, 0])) == 1.0
    assert hit_at_1(np.array([0.2, 0.8, 0.1]), np.array([1, 0, 0])) == 0.0
    # several positives: any of them first is a hit
    assert hit_at_1(np.array([0.2, 0.8, 0.1]), np.array([1, 1, 0])) == 1.0


def test_hit_at_1_ties_are_averaged_not_won_by_position():
    # positive listed first but tied with two negatives at the top: 1 chance in 3
    assert hit_at_1(np.array([0.5, 0.5, 0.5, 0.1]), np.array([1, 0, 0, 0])) == pytest.approx(1 / 3)
    # constant scores: chance level 1 / n
    assert hit_at_1(np.zeros(4), np.array([1, 0, 0, 0])) == pytest.approx(0.25)
    # two positives in a top group of four
    assert hit_at_1(np.ones(4), np.array([1, 0, 1, 0])) == pytest.approx(0.5)
    # within the tolerance counts as a tie, beyond it does not
    assert hit_at_1(np.array([0.5 + 1e-9, 0.5]), np.array([0, 1])) == pytest.approx(0.5)
    assert hit_at_1(np.array([0.5 + 1e-3, 0.5]), np.array([0, 1])) == 0.0


def test_rank_is_stable_and_tie_groups_follow_it():
    scores = np.array([0.1, 0.7, 0.7, 0.9])
    assert rank(scores).tolist() == [3, 1, 2, 0]
    assert [g.tolist() for g in tie_groups(scores)] == [[3], [1, 2], [0]]


def test_ndcg_at_5_linear_gain_with_graded_qrels():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    gains = np.array([2, 0, 1, 0, 0, 3])
    dcg = 2 / math.log2(2) + 1 / math.log2(4)  # ranks 1 and 3; the grade-3 page is 6th, outside the top 5
    idcg = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(scores, gains, k=5) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(scores, gains, k=5) == pytest.approx(0.525005, abs=1e-6)
    # perfect order scores 1, no relevant page scores 0
    assert ndcg_at_k(np.array([0.1, 0.9, 0.5]), np.array([1, 3, 2])) == pytest.approx(1.0)
    assert ndcg_at_k(np.array([0.1, 0.9]), np.array([0, 0])) == 0.0


def test_ndcg_ties_use_the_expected_gain_of_the_group():
    # all four tied: each position gets the mean gain 1/4
    expected = 0.25 * (1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4) + 1 / math.log2(5))
    assert ndcg_at_k(np.zeros(4), np.array([1, 0, 0, 0])) == pytest.approx(expected)
    # a clear winner, then a tie of a grade-2 and a grade-0 page at ranks 2-3
    scores, gains = np.array([0.9, 0.3, 0.3]), np.array([1, 2, 0])
    dcg = 1 / math.log2(2) + 1.0 / math.log2(3) + 1.0 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(scores, gains) == pytest.approx(dcg / idcg)


def test_global_mode_deduplicates_candidates_and_maps_positives():
    spec = get_dataset("MSR-VTT")
    builder = TaskBuilder(spec)
    video_a = EvalItem(text="", image="a.jpg", name="a")
    video_b = EvalItem(text="", image="b.jpg", name="b")
    builder.add_global(EvalItem(text="q1"), [video_a])
    builder.add_global(EvalItem(text="q2"), [EvalItem(text="", image="a.jpg", name="a")])  # same identity as a
    builder.add_global(EvalItem(text="q3"), [video_b])
    builder.add_corpus([video_b, video_a, EvalItem(text="", image="c.jpg", name="c")])
    task = builder.build()
    assert [c.name for c in task.candidates] == ["a", "b", "c"]
    assert task.relevance == [{0: 1.0}, {0: 1.0}, {1: 1.0}]
    assert task.candidates_of(2) == [0, 1, 2]
    # a = (1, 0), b = (0, -1), c = (-1, 1); q1 and q2 rank a first (hits), q3 is a zero vector: all three tie (1/3)
    queries = np.array([[1.0, 0.0], [2.0, 0.5], [0.0, 0.0]])
    cands = np.array([[1.0, 0.0], [0.0, -1.0], [-1.0, 1.0]])
    result = score_task(task, queries, cands, protocol=Protocol("plume"))
    assert result.metric == "hit@1"
    assert result.score == pytest.approx(100 * (1 + 1 + 1 / 3) / 3)
    assert result.num_candidates == 3
    assert result.predictions[0]["prediction"][:1] == ["a"]


def test_local_mode_collapses_duplicate_candidates_and_scores_ties_at_chance():
    spec = get_dataset("ImageNet-1K")
    builder = TaskBuilder(spec)
    pos, neg = EvalItem(text="cat"), EvalItem(text="dog")
    builder.add_local(EvalItem(text="q1"), [pos, neg, EvalItem(text="cat"), EvalItem(text="owl")])
    builder.add_local(EvalItem(text="q2"), [neg, pos])
    task = builder.build()
    assert task.query_candidates == [[0, 1, 2], [1, 0]]
    assert task.relevance == [{0: 1.0}, {1: 1.0}]
    constant = score_task(task, np.ones((2, 3)), np.ones((3, 3)), protocol=Protocol("plume"))
    assert constant.score == pytest.approx(100 * (1 / 3 + 1 / 2) / 2)
    assert constant.num_candidates == 2.5


def test_top_ranked_is_a_prefix_of_the_full_ranking_with_whole_tie_groups():
    scores = np.array([0.1] * 30 + [0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.2] + [0.1] * 10)
    top = top_ranked(scores, k=3)
    assert top.tolist() == rank(scores)[:6].tolist() == [30, 31, 32, 33, 34, 35]  # the 0.5 group is kept whole
    gains = np.zeros(len(scores))
    gains[[31, 40]] = [1, 1]
    # positions 2-5 share the 0.5 group's mean gain 1/5; the other positive is in the 0.1 tail (beyond the top 5)
    expected = (0.2 / math.log2(3) + 0.2 / math.log2(4) + 0.2 / math.log2(5) + 0.2 / math.log2(6)) / (
        1 + 1 / math.log2(3)
    )
    assert ndcg_at_k(scores, gains) == pytest.approx(expected)
