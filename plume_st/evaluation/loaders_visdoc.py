"""Visual-document retrieval (BEIR style, global): text queries against the page-image corpus, graded qrels.

Tables: ``queries`` (``query-id, query``), ``corpus`` (``corpus-id`` [, ``image``]), ``qrels``
(``query-id, corpus-id, score``). Page images are files in the media folder, named as the public harness saves them:
``<corpus-id>.png`` (ViDoRe, ViDoSeek, MMLongBench) or, for VisRAG, the id's stem cut to 50 characters, ``_``, the
first 8 hex digits of the id's MD5, and the id's extension. Qrels with score <= 0 are dropped; a repeated pair keeps
the highest score. Queries without a positive qrel are skipped (the count is logged).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from plume_st.evaluation.items import EvalItem
from plume_st.evaluation.registry import DatasetSpec
from plume_st.evaluation.task import EvalTask, TaskBuilder

logger = logging.getLogger(__name__)


def page_filename(spec: DatasetSpec, corpus_id: str) -> str:
    """File name of a corpus page inside the dataset's media folder."""
    if spec.loader == "visrag":
        stem, suffix = Path(corpus_id).stem, Path(corpus_id).suffix
        return f"{stem[:50]}_{hashlib.md5(corpus_id.encode('utf-8')).hexdigest()[:8]}{suffix}"
    return f"{corpus_id}.png"


def _qrels(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for row in rows:
        score = float(row["score"])
        if score > 0:
            doc = out.setdefault(str(row["query-id"]), {})
            cid = str(row["corpus-id"])
            doc[cid] = max(doc.get(cid, 0.0), score)
    return out


def load_visdoc_task(
    spec: DatasetSpec,
    queries: Iterable[dict[str, Any]],
    corpus: Iterable[dict[str, Any]],
    qrels: Iterable[dict[str, Any]],
    media_root: Path,
    max_queries: int | None = None,
) -> EvalTask:
    """Build the task of one visual-document dataset.

    Args:
        spec: The dataset.
        queries: ``queries`` rows.
        corpus: ``corpus`` rows; a PIL ``image`` column (Hub rows) is saved to the media folder when the page file is
            missing.
        qrels: ``qrels`` rows.
        media_root: The dataset's folder under ``visdoc-tasks/``.
        max_queries: Keep only the first queries that have a positive.
    """

    def page(cid: str) -> EvalItem:
        path = media_root / page_filename(spec, cid)
        return EvalItem(instruction=spec.target_instruction, image=str(path), name=cid)

    builder = TaskBuilder(spec)
    pages = []
    for row in corpus:
        cid = str(row["corpus-id"])
        path = media_root / page_filename(spec, cid)
        image = row.get("image")
        if not path.exists() and hasattr(image, "save"):
            path.parent.mkdir(parents=True, exist_ok=True)
            image.save(path)
        pages.append(page(cid))
    builder.add_corpus(pages)
    relevance, skipped, kept = _qrels(qrels), 0, 0
    for row in queries:
        if max_queries is not None and kept >= max_queries:
            break
        grades = relevance.get(str(row["query-id"]))
        if not grades:
            skipped += 1
            continue
        query = EvalItem(instruction=spec.query_instruction, text=str(row["query"]), name=str(row["query-id"]))
        builder.add_global(query, {page(cid): grade for cid, grade in grades.items()})
        kept += 1
    if skipped:
        logger.warning("%s: %d queries without a positive qrel were skipped.", spec.name, skipped)
    return builder.build()
