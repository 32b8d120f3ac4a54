"""The MMEB-v2 report: per-dataset scores, per-category, per-modality and All means, as JSON and markdown.

Every mean is unweighted over datasets: a category over its datasets, a modality over its datasets (not over its
categories), All over the 78 datasets. A dataset without a score is listed as missing and left out of every mean;
each mean says over how many of its datasets it is computed and is marked partial when that is not all of them,
because a partial mean is not comparable with the paper's numbers.
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


def build_report(scores: Mapping[str, float], missing: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Aggregate dataset scores (0-100) into the report dictionary.

    Args:
        scores: Dataset name -> score.
        missing: Dataset name -> why it has no score (datasets absent from both get "not evaluated").

    Returns:
        ``{"all", "modalities", "categories", "datasets", "missing"}``; groups hold ``score`` (``None`` when empty),
        ``n_datasets``, ``n_expected``, ``partial``.
    """
    missing = dict(missing or {})
    datasets, absent = {}, {}
    for spec in DATASETS:
        entry = {"modality": spec.modality, "category": spec.category, "metric": spec.metric}
        if spec.name in scores:
            datasets[spec.name] = entry | {"score": scores[spec.name]}
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
    }


def _cell(group: dict[str, Any]) -> str:
    if group["score"] is None:
        return "–"
    return f"{group['score']:.1f}" + ("*" if group["partial"] else "")


def report_markdown(report: dict[str, Any]) -> str:
    """Render the report: the paper's summary table, the group counts, every dataset, and the missing ones."""
    heads, cells = [], []
    for m in MODALITIES:
        for c in CATEGORIES[m]:
            heads.append(f"{CATEGORY_TITLES[m]}{c}")
            cells.append(_cell(report["categories"][f"{m}/{c}"]))
        heads.append(MODALITY_TITLES[m])
        cells.append(_cell(report["modalities"][m]))
    heads.append("All")
    cells.append(_cell(report["all"]))
    total = report["all"]
    row = "| " + " | ".join(cells) + " |"
    lines = ["# MMEB-v2 results", "", "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads), row, ""]
    if total["partial"]:
        lines += [
            f"**Partial:** {total['n_datasets']} of {total['n_expected']} datasets have a score. Values marked * are "
            "means over the datasets present only (counts below) and are not comparable with the paper's table.",
            "",
        ]
    lines += ["| group | score | datasets |", "|---|---|---|"]
    groups = {"All": total} | {MODALITY_TITLES[m]: g for m, g in report["modalities"].items()}
    groups |= {k: g for k, g in report["categories"].items()}
    lines += [f"| {k} | {_cell(g)} | {g['n_datasets']} / {g['n_expected']} |" for k, g in groups.items()]
    lines += ["", "## Datasets", "", "| dataset | modality | category | metric | score |", "|---|---|---|---|---|"]
    lines += [
        f"| {name} | {d['modality']} | {d['category']} | {d['metric']} | {d['score']:.2f} |"
        for name, d in report["datasets"].items()
    ]
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
