"""A tiny PLUME model (random weights, offline) through `plume-st eval` and the in-training evaluator."""

from __future__ import annotations

import json
import math

import pytest
import typer
from typer.testing import CliRunner

import plume_st
from plume_st.backbones.tiny import build_tiny_backbone
from plume_st.evaluation import cli
from plume_st.evaluation.evaluator import MMEBEvaluator
from plume_st.evaluation.runner import evaluate_mmeb

# one dataset per modality plus moment retrieval (clips of frames)
DATASETS = ["ImageNet-1K", "MSR-VTT", "QVHighlight", "ViDoRe_arxivqa"]


@pytest.fixture(scope="module")
def tiny_plume(tmp_path_factory):
    """A tiny PLUME model in eval mode and the folder it is saved in."""
    backbone = build_tiny_backbone(tmp_path_factory.mktemp("backbone"), family="qwen2_vl")
    model = plume_st.build_plume_model(str(backbone), device="cpu")
    model.eval()
    folder = tmp_path_factory.mktemp("plume") / "model"
    model.save_pretrained(str(folder))
    return model, folder


def test_plume_eval_command_writes_a_full_report(tiny_plume, mini_mmeb, tmp_path):
    model, folder = tiny_plume
    app = typer.Typer()
    cli.register(app)
    out = tmp_path / "out"
    args = ["eval", str(folder), "--data", str(mini_mmeb), "--out", str(out), "--datasets", ",".join(DATASETS),
            "--reasoning", "none", "--batch-size", "8"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    scores = {name: d["score"] for name, d in report["datasets"].items()}
    assert sorted(scores) == sorted(DATASETS)
    assert all(0.0 <= s <= 100.0 and math.isfinite(s) for s in scores.values())
    assert report["all"]["n_datasets"] == 4 and report["all"]["partial"] is True
    assert report["all"]["score"] == pytest.approx(sum(scores.values()) / 4)
    assert report["modalities"]["video"]["n_datasets"] == 2 and len(report["missing"]) == 74
    markdown = (out / "report.md").read_text()
    assert "| Img-CLS | Img-QA |" in markdown and "## Missing datasets (74, excluded from every mean)" in markdown
    for name in DATASETS:
        assert json.loads((out / f"{name}_score.json").read_text())["score"] == pytest.approx(scores[name])
        assert len((out / f"{name}_pred.jsonl").read_text().splitlines()) == report_queries(name)
    # the model loaded by the command (from its folder, trust_remote_code) scores like the one in memory
    direct = evaluate_mmeb(model, mini_mmeb, tmp_path / "direct", datasets=DATASETS, reasoning="none",
                           batch_size=8, show_progress_bar=False)  # fmt: skip
    assert {n: d["score"] for n, d in direct["datasets"].items()} == pytest.approx(scores)


def report_queries(name: str) -> int:
    return {"ImageNet-1K": 4, "MSR-VTT": 4, "QVHighlight": 2, "ViDoRe_arxivqa": 4}[name]


def test_plume_latent_mode_in_the_training_evaluator(tiny_plume, mini_mmeb):
    model, _ = tiny_plume
    evaluator = MMEBEvaluator(mini_mmeb, ["MSR-VTT", "ViDoRe_arxivqa"], max_queries=2, reasoning="latent")
    metrics = evaluator(model)
    assert set(metrics) == {"mmeb_MSR-VTT", "mmeb_ViDoRe_arxivqa", "mmeb_mean"}
    assert all(0.0 <= v <= 100.0 for v in metrics.values())
    assert metrics["mmeb_mean"] == pytest.approx((metrics["mmeb_MSR-VTT"] + metrics["mmeb_ViDoRe_arxivqa"]) / 2)
