"""The MMEB-v2 report: per-dataset scores, per-category, per-modality and All means, as JSON and markdown.

Every mean is unweighted over datasets: a category over its datasets, a modality over its datasets (not over its
categories), All over the 78 datasets. A dataset without a score is listed as missing and left out of every mean;
each mean says over how many of its datasets it is computed and is marked partial when that is not all of them,
because a partial mean is not comparable with the paper's numbers. A run with ``max_queries`` is recorded as such,
and its markdown stars every value under a "subsampled" banner: those scores are not comparable with the paper's
either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plume_st.evaluation.registry import CATEGORIES, DATASETS, MODALITIES

MODALITY_TITLES = {"image": "Image", "video": "Video", "visdoc": "VisDoc"}
CATEGORY_TITLES = {"image": "Img-", "video": "Vid-", "visdoc": ""}


def _group(names: list[str], scores: Mapping[str, float]) -> dict[str, Any]:
    present = [scores[n] for n in names if n in scores]
    return {
        "score": sum(present) / len(present) if present else None,
        "n_datasets": len(present),
        "n_expected": len(names),
        "partial": len(present) < len(names),
    }


def build_report(
    scores: Mapping[str, float],
    missing: Mapping[str, str] | None = None,
    max_queries: int | None = None,
    skipped: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Aggregate dataset scores (0-100) into the report dictionary.

    Args:
        scores: Dataset name -> score.
        missing: Dataset name -> why it has no score (datasets absent from both get "not evaluated").
        max_queries: The run's query limit (``None``: every query).
        skipped: Dataset name -> queries skipped for having no positive.

    Returns:
        ``{"all", "modalities", "categories", "datasets", "missing", "max_queries"}``; groups hold ``score``
        (``None`` when empty), ``n_datasets``, ``n_expected``, ``partial``; datasets hold ``skipped_queries``.
    """
    missing, skipped = dict(missing or {}), dict(skipped or {})
    datasets, absent = {}, {}
    for spec in DATASETS:
        entry = {"modality": spec.modality, "category": spec.category, "metric": spec.metric}
        if spec.name in scores:
            datasets[spec.name] = entry | {"score": scores[spec.name], "skipped_queries": skipped.get(spec.name, 0)}
        else:
            absent[spec.name] = missing.get(spec.name, "not evaluated")
    categories = {
        f"{m}/{c}": _group([s.name for s in DATASETS if s.modality == m and s.category == c], scores)
        for m in MODALITIES
        for c in CATEGORIES[m]
    }
    modalities = {m: _group([s.name for s in DATASETS if s.modality == m], scores) for m in MODALITIES}
    return {
        "all": _group([s.name for s in DATASETS], scores),
        "modalities": modalities,
        "categories": categories,
        "datasets": datasets,
        "missing": absent,
        "max_queries": max_queries,
    }


def _cell(group: dict[str, Any], subsampled: bool = False) -> str:
    if group["score"] is None:
        return "–"
    return f"{group['score']:.1f}" + ("*" if group["partial"] or subsampled else "")


def report_markdown(report: dict[str, Any]) -> str:
    """Render the report: the paper's summary table, the group counts, every dataset, and the missing ones."""
    sub = report.get("max_queries") is not None
    heads, cells = [], []
    for m in MODALITIES:
        for c in CATEGORIES[m]:
            heads.append(f"{CATEGORY_TITLES[m]}{c}")
            cells.append(_cell(report["categories"][f"{m}/{c}"], sub))
        heads.append(MODALITY_TITLES[m])
        cells.append(_cell(report["modalities"][m], sub))
    heads.append("All")
    cells.append(_cell(report["all"], sub))
    total = report["all"]
    row = "| " + " | ".join(cells) + " |"
    lines = ["# MMEB-v2 results", ""]
    if sub:
        lines += [
            f"**Subsampled — not comparable with the paper:** only the first {report['max_queries']} queries of each "
            "dataset were evaluated (max_queries); every value is marked *.",
            "",
        ]
    lines += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads), row, ""]
    if total["partial"]:
        lines += [
            f"**Partial:** {total['n_datasets']} of {total['n_expected']} datasets have a score. Values marked * are "
            "means over the datasets present only (counts below) and are not comparable with the paper's table.",
            "",
        ]
    lines += ["| group | score | datasets |", "|---|---|---|"]
    groups = {"All": total} | {MODALITY_TITLES[m]: g for m, g in report["modalities"].items()}
    groups |= {k: g for k, g in report["categories"].items()}
    lines += [f"| {k} | {_cell(g, sub)} | {g['n_datasets']} / {g['n_expected']} |" for k, g in groups.items()]
    lines += ["", "## Datasets", "", "| dataset | modality | category | metric | score |", "|---|---|---|---|---|"]
    star = "*" if sub else ""
    lines += [
        f"| {name} | {d['modality']} | {d['category']} | {d['metric']} | {d['score']:.2f}{star} |"
        for name, d in report["datasets"].items()
    ]
    skipped = {name: d["skipped_queries"] for name, d in report["datasets"].items() if d.get("skipped_queries")}
    if skipped:
        lines += ["", "Queries without a positive qrel, skipped: " + ", ".join(f"{k} {v}" for k, v in skipped.items())]
    if report["missing"]:
        lines += ["", f"## Missing datasets ({len(report['missing'])}, excluded from every mean)", ""]
        lines += [f"- {name}: {why}" for name, why in report["missing"].items()]
    return "\n".join(lines) + "\n"


def write_report(out_dir: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(report_markdown(report), encoding="utf-8")
    return json_path, md_path
