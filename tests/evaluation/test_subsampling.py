"""--max-queries keeps global pools whole and marks every score as subsampled; skipped queries are counted."""

from __future__ import annotations

import json

import pytest

from plume_st.evaluation.loaders import load_task
from plume_st.evaluation.registry import get_dataset
from plume_st.evaluation.report import build_report, report_markdown
from plume_st.evaluation.runner import evaluate_mmeb


def test_max_queries_subsamples_queries_but_not_global_pools(mini_mmeb):
    for name in ("MSR-VTT", "HMDB51", "ViDoRe_arxivqa"):
        full, few = load_task(get_dataset(name), mini_mmeb), load_task(get_dataset(name), mini_mmeb, max_queries=1)
        assert len(full.queries) > 1 and len(few.queries) == 1
        assert [c.key for c in few.candidates] == [c.key for c in full.candidates]
        assert few.relevance == full.relevance[:1]
    local = load_task(get_dataset("OK-VQA"), mini_mmeb, max_queries=1)
    assert len(local.queries) == 1 and local.query_candidates is not None


def test_max_queries_is_recorded_and_marked_in_every_output(mini_mmeb, tmp_path, fake_encoder):
    report = evaluate_mmeb(
        fake_encoder(constant=True), mini_mmeb, tmp_path, datasets=["MSR-VTT"], max_queries=2, show_progress_bar=False,
        protocol="plume",
    )  # fmt: skip
    score = json.loads((tmp_path / "MSR-VTT_score.json").read_text())
    assert (score["num_queries"], score["num_candidates"], score["max_queries"]) == (2, 3.0, 2)
    assert score["score"] == pytest.approx(100 / 3)  # chance over the whole pool of 3 videos
    assert report["max_queries"] == json.loads((tmp_path / "report.json").read_text())["max_queries"] == 2
    markdown = (tmp_path / "report.md").read_text()
    assert "**Subsampled — not comparable with the paper:** only the first 2 queries" in markdown
    summary = next(line for line in markdown.splitlines() if line.startswith("| –"))
    assert summary.startswith("| –") and summary.count("33.3*") == 3 and "33.3 " not in summary
    assert "| MSR-VTT | video | RET | hit@1 | 33.33* |" in markdown


def test_full_run_has_no_subsampling_banner():
    report = build_report({"MSR-VTT": 50.0})
    assert report["max_queries"] is None
    markdown = report_markdown(report)
    assert "Subsampled" not in markdown and "| MSR-VTT | video | RET | hit@1 | 50.00 |" in markdown


def test_queries_without_positive_qrels_are_counted(mini_mmeb, tmp_path, fake_encoder):
    name = "ViDoRe_esg_reports_v2_multilingual"
    assert load_task(get_dataset(name), mini_mmeb).skipped_queries == 1
    report = evaluate_mmeb(fake_encoder(), mini_mmeb, tmp_path, datasets=[name], show_progress_bar=False)
    assert json.loads((tmp_path / f"{name}_score.json").read_text())["skipped_queries"] == 1
    assert report["datasets"][name]["skipped_queries"] == 1
    assert f"Queries without a positive qrel, skipped: {name} 1" in (tmp_path / "report.md").read_text()
