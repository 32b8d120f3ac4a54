"""Fixture visual-document tasks: one dataset per category, BEIR tables, graded qrels, generated pages."""

from __future__ import annotations

from pathlib import Path

from plume_st.evaluation.fixture_media import MediaWriter, write_table
from plume_st.evaluation.loaders_visdoc import page_filename
from plume_st.evaluation.registry import get_dataset

# dataset -> (number of pages, qrels as (query index, page index, score))
LAYOUT: dict[str, tuple[int, list[tuple[int, int, int]]]] = {
    "ViDoRe_arxivqa": (6, [(0, 0, 1), (1, 2, 1), (2, 4, 1), (3, 5, 1)]),
    # graded (ViDoRe v2): query 0 has pages of grade 2 and 1, a zero-score pair is dropped, query 3 has no positive
    "ViDoRe_esg_reports_v2_multilingual": (6, [(0, 1, 2), (0, 3, 1), (1, 2, 2), (1, 0, 0), (2, 5, 1), (3, 4, 0)]),
    "VisRAG_ChartQA": (5, [(0, 0, 1), (1, 3, 1), (2, 4, 1)]),
    "ViDoSeek-page": (5, [(0, 1, 1), (1, 1, 1), (2, 3, 1), (2, 4, 2)]),
}


def _corpus_id(name: str, page: int) -> str:
    if name.startswith("VisRAG"):
        long = "a_very_long_chart_file_name_that_exceeds_fifty_characters_easily" if page == 0 else "chart"
        return f"{long}_{page:05d}.png"
    return str(100 + page) if name == "ViDoRe_arxivqa" else f"{name[:6]}_p{page}"


def write_visdoc_tasks(root: Path, media: MediaWriter) -> list[str]:
    """Write the visual-document datasets' BEIR tables and page images; return their names."""
    for name, (pages, qrels) in LAYOUT.items():
        spec = get_dataset(name)
        ids = [_corpus_id(name, p) for p in range(pages)]
        for cid in ids:
            media.page(f"{spec.media_dir}/{page_filename(spec, cid)}", cid)
        n_queries = max(q for q, _, _ in qrels) + 1
        queries = [{"query-id": f"q{q}", "query": f"{name} question {q}", "language": "english"}
                   for q in range(n_queries)]  # fmt: skip
        folder = root / "annotations" / name
        write_table(folder / "queries.jsonl", queries)
        write_table(folder / "corpus.jsonl", [{"corpus-id": cid} for cid in ids])
        qrels_rows = [{"query-id": f"q{q}", "corpus-id": ids[p], "score": s} for q, p, s in qrels]
        write_table(folder / ("qrels.parquet" if name.startswith("VisRAG") else "qrels.jsonl"), qrels_rows)
    return list(LAYOUT)
