"""End to end on the miniature MMEB-v2: an oracle scores 100, constant embeddings score the chance level."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from plume_st.evaluation.items import to_model_input
from plume_st.evaluation.loaders import load_task
from plume_st.evaluation.registry import get_dataset
from plume_st.evaluation.runner import evaluate_mmeb

FIXTURE_DATASETS = 24


def _discounts(n: int) -> float:
    return sum(1 / math.log2(p + 2) for p in range(min(n, 5)))


def chance_ndcg5(grades: list[float], pool: int) -> float:
    """NDCG@5 when every page ties: each position gets the mean gain sum(grades) / pool."""
    ideal = sum(g / math.log2(p + 2) for p, g in enumerate(sorted(grades, reverse=True)[:5]))
    return sum(grades) / pool * _discounts(pool) / ideal


# Chance level of each fixture dataset, from its layout: hit@1 = positives / candidates of each query, averaged.
CHANCE = {
    "ImageNet-1K": 1 / 4, "N24News": 1 / 4, "OK-VQA": 1 / 4, "MSCOCO_t2i": 1 / 4, "VisualNews_i2t": 1 / 5,
    "RefCOCO": 1 / 4,
    "HMDB51": 1 / 3,  # global over 3 distinct labels
    "SmthSmthV2": 1 / 4,
    "MSR-VTT": 1 / 3, "MSVD": 1 / 3, "DiDeMo": 1 / 3, "VATEX": 1 / 3, "YouCook2": 1 / 3,  # 3 distinct videos
    "Video-MME": 1 / 4, "NExTQA": 1 / 5, "EgoSchema": 1 / 5, "MVBench": 1 / 3, "ActivityNetQA": 1 / 2,
    "QVHighlight": 1 / 4,
    "MomentSeeker": (1 / 4 + 1 / 4 + 2 / 4) / 3,  # the third query has two positive clips
    "ViDoRe_arxivqa": chance_ndcg5([1], 6),
    "ViDoRe_esg_reports_v2_multilingual": (chance_ndcg5([2, 1], 6) + chance_ndcg5([2], 6) + chance_ndcg5([1], 6)) / 3,
    "VisRAG_ChartQA": chance_ndcg5([1], 5),
    "ViDoSeek-page": (2 * chance_ndcg5([1], 5) + chance_ndcg5([1, 2], 5)) / 3,
}  # fmt: skip


def oracle_table(root, identity, dim: int = 64) -> dict:
    """Vectors that put every query on its positive (graded positives slightly off, in grade order)."""
    rng = np.random.default_rng(0)
    table = {}
    for name in CHANCE:
        task = load_task(get_dataset(name), root)
        parent = list(range(len(task.queries)))

        def find(i: int, parent: list[int] = parent) -> int:
            while parent[i] != i:
                i = parent[i]
            return i

        owner: dict[int, int] = {}
        for qi, rel in enumerate(task.relevance):
            for ci in rel:
                if ci in owner:
                    parent[find(qi)] = find(owner[ci])  # queries sharing a positive share a vector
                else:
                    owner[ci] = qi
        base = {q: rng.standard_normal(dim) for q in range(len(task.queries))}
        for qi, query in enumerate(task.queries):
            table[identity(to_model_input(query))] = base[find(qi)]
        for ci, cand in enumerate(task.candidates):
            vec = rng.standard_normal(dim)
            if ci in owner:
                rel = task.relevance[owner[ci]]
                b = base[find(owner[ci])]
                vec = b / np.linalg.norm(b) + 0.5 * (max(rel.values()) - rel[ci]) * vec / np.linalg.norm(vec)
            table[identity(to_model_input(cand))] = vec
    return table


def test_fixture_covers_every_category(mini_mmeb):
    names = sorted(p.name for p in (mini_mmeb / "annotations").iterdir())
    assert names == sorted(CHANCE)
    assert {(get_dataset(n).modality, get_dataset(n).category) for n in names} == {
        (m, c) for m, cats in {"image": "CLS QA RET GD", "video": "CLS QA RET MRET",
                               "visdoc": "VDRv1 VDRv2 VisRAG OOD"}.items() for c in cats.split()
    }  # fmt: skip
    assert (mini_mmeb / "video-tasks/frames/video_cls/SSv2/1000/frame_10.jpg").is_file()
    assert (mini_mmeb / "visdoc-tasks/ViDoRe_arxivqa/100.png").is_file()


def test_oracle_scores_100_everywhere(mini_mmeb, tmp_path, fake_encoder, identity):
    report = evaluate_mmeb(
        fake_encoder(oracle_table(mini_mmeb, identity)), mini_mmeb, tmp_path, show_progress_bar=False
    )
    correct = {name: d.get("ndcg@5_correct", d["score"]) for name, d in report["datasets"].items()}
    assert correct == pytest.approx(dict.fromkeys(CHANCE, 100.0))
    # The reference NDCG of the two sets with a mixed-grade query (grades 2 and 1): the perfect ranking scores 100 when
    # the set order of the string ids keeps the grades on their pages, else (1 + 2 / log2 3) / (2 + 1 / log2 3).
    swapped = 100 * (2 + (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))) / 3
    for name in ("ViDoRe_esg_reports_v2_multilingual", "ViDoSeek-page"):
        d = report["datasets"][name]
        assert d["score"] == d["ndcg@5_reference"] and d["marks"] == (["§"] if "Seek" in name else []) + ["†", "‡"]
        assert d["ndcg@5_reference"] == pytest.approx(100.0) or d["ndcg@5_reference"] == pytest.approx(swapped)
    scores = {name: d["score"] for name, d in report["datasets"].items()}
    assert report["all"] == {
        "score": pytest.approx(sum(scores.values()) / 24), "n_datasets": 24, "n_expected": 78, "partial": True,
        "paper_comparable": False,
    }  # fmt: skip
    assert len(report["missing"]) == 78 - FIXTURE_DATASETS
    assert report["categories"]["video/MRET"]["n_datasets"] == 2
    saved = json.loads((tmp_path / "MSR-VTT_score.json").read_text())
    assert saved["metric"] == "hit@1" and saved["score"] == pytest.approx(100.0) and saved["num_queries"] == 4
    preds = [json.loads(line) for line in (tmp_path / "ViDoSeek-page_pred.jsonl").read_text().splitlines()]
    assert preds[2]["prediction"][:2] == ["ViDoSe_p4", "ViDoSe_p3"]  # grade 2 before grade 1
    assert preds[2]["positives"] == {"ViDoSe_p3": 1.0, "ViDoSe_p4": 2.0}


def test_constant_embeddings_score_chance(mini_mmeb, tmp_path, fake_encoder):
    report = evaluate_mmeb(
        fake_encoder(constant=True), mini_mmeb, tmp_path, show_progress_bar=False, protocol="plume"
    )  # ties averaged
    scores = {name: d["score"] for name, d in report["datasets"].items()}
    assert scores == pytest.approx({name: 100 * value for name, value in CHANCE.items()})
    assert scores["ImageNet-1K"] == pytest.approx(25.0)
    assert scores["ViDoRe_arxivqa"] == pytest.approx(49.1410, abs=1e-4)
    image = [CHANCE[n] * 100 for n in CHANCE if get_dataset(n).modality == "image"]
    assert report["modalities"]["image"]["score"] == pytest.approx(sum(image) / len(image))
    assert report["modalities"]["image"]["n_datasets"] == 6 and report["modalities"]["image"]["partial"]
