"""The MMEB-v2 report: per-dataset scores, per-category, per-modality and All means, as JSON and markdown.

Every mean is unweighted over datasets: a category over its datasets, a modality over its datasets (not over its
categories), All over the 78 datasets. A dataset without a score is listed as missing and left out of every mean;
each mean says over how many of its datasets it is computed and is marked partial when that is not all of them,
because a partial mean is not comparable with the paper's numbers. A run with ``max_queries`` is recorded as such,
and its markdown stars every value under a "subsampled" banner: those scores are not comparable with the paper's
either.

The report names its protocol (:mod:`plume_st.evaluation.protocol`); a ``plume`` report says it is not
leaderboard-comparable. Graded sets show both NDCG@5 values; the means use the one chosen by ``ndcg`` (default: the
protocol's, the reference value under ``vlm2vec``). Marks: † a dataset with queries whose positives have different
grades (where the two values can differ; on the real data ViDoRe_esg_reports_human_labeled_v2, ViDoSeek-doc and
MMLongBench-doc), ‡ its reference value depends on Python's hash order (string corpus ids), § a dataset whose data
changed after the paper (the OOD "-fixed" page sets, the de-duplicated MomentSeeker), its category and every mean
that contains it: not comparable with the paper's rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plume_st.evaluation.protocol import NDCG_VARIANTS, Protocol
from plume_st.evaluation.registry import CATEGORIES, DATASETS, MODALITIES

MODALITY_TITLES = {"image": "Image", "video": "Video", "visdoc": "VisDoc"}
CATEGORY_TITLES = {"image": "Img-", "video": "Vid-", "visdoc": ""}
# Categories whose public data changed after the paper: the OOD page sets are the "-fixed" releases and
# MomentSeeker is the de-duplicated 1,602-query set.
CHANGED_AFTER_PAPER = ("video/MRET", "visdoc/OOD")
CHANGED_DATASETS = ("MomentSeeker", "ViDoSeek-page", "MMLongBench-page")  # the datasets that changed in them
MIXED_GRADES, HASH_ORDER, NOT_PAPER = "†", "‡", "§"


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
    protocol: Protocol | None = None,
    graded: Mapping[str, Mapping[str, Any]] | None = None,
    ndcg: str | None = None,
) -> dict[str, Any]:
    """Aggregate dataset scores (0-100) into the report dictionary.

    Args:
        scores: Dataset name -> score (graded sets: replaced by their ``graded`` value named by ``ndcg``).
        missing: Dataset name -> why it has no score (datasets absent from both get "not evaluated").
        max_queries: The run's query limit (``None``: every query).
        skipped: Dataset name -> queries skipped for having no positive.
        protocol: The run's protocol (default ``vlm2vec``).
        graded: NDCG dataset name -> ``{"correct", "reference", "mixed_grade_queries", "hash_order_dependent"}``.
        ndcg: ``"reference"`` or ``"correct"``: the graded value the means use (default: the protocol's).

    Returns:
        ``{"protocol", "ndcg", "all", "modalities", "categories", "datasets", "missing", "max_queries"}``; groups
        hold ``score`` (``None`` when empty), ``n_datasets``, ``n_expected``, ``partial``, ``paper_comparable``;
        datasets hold ``skipped_queries``, ``marks`` and, graded, ``ndcg@5_correct`` and ``ndcg@5_reference``.

    Raises:
        ValueError: ``ndcg`` is not ``"reference"`` or ``"correct"``.
    """
    protocol = protocol or Protocol()
    ndcg = ndcg or protocol.default_ndcg
    if ndcg not in NDCG_VARIANTS:
        raise ValueError(f"ndcg must be one of {', '.join(NDCG_VARIANTS)}, not {ndcg!r}")
    missing, skipped, graded = dict(missing or {}), dict(skipped or {}), dict(graded or {})
    scores = dict(scores) | {name: g[ndcg] for name, g in graded.items() if name in scores}
    datasets, absent = {}, {}
    for spec in DATASETS:
        entry = {"modality": spec.modality, "category": spec.category, "metric": spec.metric}
        if spec.name in scores:
            g = graded.get(spec.name)
            marks = [NOT_PAPER] if spec.name in CHANGED_DATASETS else []
            entry |= {"score": scores[spec.name], "skipped_queries": skipped.get(spec.name, 0)}
            if g is not None:
                marks += [MIXED_GRADES] if g.get("mixed_grade_queries") else []
                marks += [HASH_ORDER] if g.get("mixed_grade_queries") and g.get("hash_order_dependent") else []
                entry |= {"ndcg@5_correct": g["correct"], "ndcg@5_reference": g["reference"]}
            datasets[spec.name] = entry | {"marks": marks}
        else:
            absent[spec.name] = missing.get(spec.name, "not evaluated")
    categories = {
        f"{m}/{c}": _group([s.name for s in DATASETS if s.modality == m and s.category == c], scores)
        | {"paper_comparable": f"{m}/{c}" not in CHANGED_AFTER_PAPER}
        for m in MODALITIES
        for c in CATEGORIES[m]
    }
    changed = {m for m, _ in (key.split("/") for key in CHANGED_AFTER_PAPER)}
    modalities = {
        m: _group([s.name for s in DATASETS if s.modality == m], scores) | {"paper_comparable": m not in changed}
        for m in MODALITIES
    }
    return {
        "protocol": protocol.to_json(),
        "ndcg": ndcg,
        "all": _group([s.name for s in DATASETS], scores) | {"paper_comparable": False},
        "modalities": modalities,
        "categories": categories,
        "datasets": datasets,
        "missing": absent,
        "max_queries": max_queries,
    }


def _cell(group: dict[str, Any], subsampled: bool = False) -> str:
    if group["score"] is None:
        return "–"
    paper = "" if group.get("paper_comparable", True) else NOT_PAPER
    return f"{group['score']:.1f}" + ("*" if group["partial"] or subsampled else "") + paper


def _protocol_lines(report: dict[str, Any]) -> list[str]:
    protocol = report.get("protocol") or Protocol().to_json()
    ndcg = report.get("ndcg") or "reference"
    other = "correct" if ndcg == "reference" else "reference"
    if protocol["leaderboard_comparable"]:
        head = (
            f"**Protocol: {protocol['protocol']}** — the public harness's conventions (VLM2Vec 6e1e1d4): "
            "comparable with the public MMEB-v2 leaderboard."
        )
    else:
        head = (
            f"**Protocol: {protocol['protocol']} — not leaderboard-comparable:** plume-st's own conventions (ties "
            "averaged, correct graded NDCG, rows' labels only, padded frames); compare only with other plume runs."
        )
    return [
        head,
        f"Prompt style: {protocol['prompt_style']}. Graded NDCG@5 in the means: the {ndcg} value "
        f"(`--ndcg {other}` for the other; both are listed per dataset).",
        "",
    ]


def _notes(report: dict[str, Any]) -> list[str]:
    marks = {m for d in report["datasets"].values() for m in d.get("marks", [])}
    ndcg = report.get("ndcg") or "reference"
    notes = {
        MIXED_GRADES: f"{MIXED_GRADES} queries with positives of different grades: the public harness attaches "
        f"grades in `set` order, so its NDCG@5 (reference) can differ from the correct one; the score column is the "
        f"{ndcg} value.",
        HASH_ORDER: f"{HASH_ORDER} string corpus ids: the reference value depends on Python's hash order "
        "(`PYTHONHASHSEED`); this run used its own, so another run of either harness can give another value.",
        NOT_PAPER: f'{NOT_PAPER} not comparable with the paper\'s rows: the OOD page sets ("-fixed") and '
        "MomentSeeker (1,602 de-duplicated queries) changed after the paper, and with them the Vid-MRET and OOD "
        "categories and the Video, VisDoc and All means.",
    }
    return [notes[m] for m in (MIXED_GRADES, HASH_ORDER, NOT_PAPER) if m in marks or m == NOT_PAPER]


def _value(d: dict[str, Any], key: str, star: str) -> str:
    return f"{d[key]:.2f}{star}" if d.get(key) is not None else ""


def report_markdown(report: dict[str, Any]) -> str:
    """Render the report: protocol, the paper's summary table, the group counts, every dataset, the missing ones."""
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
    lines = ["# MMEB-v2 results", "", *_protocol_lines(report)]
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
    lines += [
        "",
        "## Datasets",
        "",
        "| dataset | modality | category | metric | score | ndcg@5 correct | ndcg@5 reference | marks |",
        "|---|---|---|---|---|---|---|---|",
    ]
    star = "*" if sub else ""
    for name, d in report["datasets"].items():
        graded = f"{_value(d, 'ndcg@5_correct', star)} | {_value(d, 'ndcg@5_reference', star)}"
        lines.append(
            f"| {name} | {d['modality']} | {d['category']} | {d['metric']} | {d['score']:.2f}{star} | {graded} | "
            f"{' '.join(d.get('marks', []))} |"
        )
    lines.append("")
    for note in _notes(report):
        lines += [note, ""]
    skipped = {name: d["skipped_queries"] for name, d in report["datasets"].items() if d.get("skipped_queries")}
    if skipped:
        lines += ["Queries without a positive qrel, skipped: " + ", ".join(f"{k} {v}" for k, v in skipped.items()), ""]
    if report["missing"]:
        lines += [f"## Missing datasets ({len(report['missing'])}, excluded from every mean)", ""]
        lines += [f"- {name}: {why}" for name, why in report["missing"].items()]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_report(out_dir: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(report_markdown(report), encoding="utf-8")
    return json_path, md_path
