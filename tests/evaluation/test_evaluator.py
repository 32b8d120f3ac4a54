"""The in-training evaluator: metric names, chance-level values, results file."""

from __future__ import annotations

import json

import pytest
from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

from plume_st.evaluation.evaluator import MMEBEvaluator


def test_evaluator_scores_a_subset(mini_mmeb, tmp_path, fake_encoder):
    evaluator = MMEBEvaluator(mini_mmeb, ["ImageNet-1K", "HMDB51", "ActivityNetQA"], max_queries=2, reasoning="none",
                              protocol="plume")  # fmt: skip
    assert isinstance(evaluator, SentenceEvaluator)
    assert [len(t.queries) for t in evaluator.tasks] == [2, 2, 2]
    model = fake_encoder(constant=True)
    metrics = evaluator(model, output_path=str(tmp_path), epoch=1, steps=10)
    # two queries each: 4 candidates; global over all 3 labels (max_queries keeps the pool whole); yes / no
    assert metrics == pytest.approx(
        {"mmeb_ImageNet-1K": 25.0, "mmeb_HMDB51": 100 / 3, "mmeb_ActivityNetQA": 50.0, "mmeb_mean": (75 + 100 / 3) / 3}
    )
    assert evaluator.primary_metric == "mmeb_mean"
    assert all(k == {"reasoning": "none"} for k in model.kwargs)
    logged = json.loads((tmp_path / "mmeb_results.jsonl").read_text())
    assert logged["steps"] == 10 and logged["HMDB51"] == pytest.approx(100 / 3)
    assert (logged["protocol"], logged["leaderboard_comparable"]) == ("plume", False)


def test_evaluator_needs_datasets(mini_mmeb):
    with pytest.raises(ValueError):
        MMEBEvaluator(mini_mmeb, [])
    with pytest.raises(KeyError, match="Unknown MMEB-v2 dataset"):
        MMEBEvaluator(mini_mmeb, ["ImageNet-2K"])
