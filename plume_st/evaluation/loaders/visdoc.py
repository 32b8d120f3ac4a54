"""Visual-document retrieval (BEIR style, global): text queries against the page-image corpus, graded qrels.

Tables: ``queries`` (``query-id, query``), ``corpus`` (``corpus-id`` [, ``image``]), ``qrels``
(``query-id, corpus-id, score``). Page images are files in the media folder, named as the public harness saves them:
``<corpus-id>.png`` (ViDoRe, ViDoSeek, MMLongBench) or, for VisRAG, the id's stem cut to 50 characters, ``_``, the
first 8 hex digits of the id's MD5, and the id's extension. Qrels with score <= 0 are dropped; a repeated pair keeps
the highest score. Queries without a positive qrel are skipped (the count is kept in the task, the score file and the
report); a positive qrel naming a corpus id that the corpus lacks is an error. A malformed row raises a ``ValueError``
naming the dataset, the table and the row.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
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


def _table_rows(spec: DatasetSpec, table: str, rows: Iterable[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"{spec.name} {table} row {i}: not a mapping ({type(row).__name__}).")
        yield i, row


def _bad_row(spec: DatasetSpec, table: str, i: int, err: Exception) -> ValueError:
    return ValueError(f"{spec.name} {table} row {i}: {type(err).__name__}: {err}")


def _qrels(spec: DatasetSpec, rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for i, row in _table_rows(spec, "qrels", rows):
        try:
            score, qid, cid = float(row["score"]), str(row["query-id"]), str(row["corpus-id"])
        except (KeyError, TypeError, ValueError) as err:
            raise _bad_row(spec, "qrels", i, err) from err
        if score > 0:
            doc = out.setdefault(qid, {})
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
    corpus_ids: set[str] = set()
    for i, row in _table_rows(spec, "corpus", corpus):
        try:
            cid = str(row["corpus-id"])
        except KeyError as err:
            raise _bad_row(spec, "corpus", i, err) from err
        path = media_root / page_filename(spec, cid)
        image = row.get("image")
        if not path.exists() and hasattr(image, "save"):
            path.parent.mkdir(parents=True, exist_ok=True)
            image.save(path)
        builder.add_corpus([page(cid)])
        corpus_ids.add(cid)
    relevance = _qrels(spec, qrels)
    unknown = sorted({cid for grades in relevance.values() for cid in grades} - corpus_ids)
    if unknown:
        raise ValueError(
            f"{spec.name}: {len(unknown)} corpus ids in qrels are missing from the corpus: {', '.join(unknown[:10])}"
            + (" ..." if len(unknown) > 10 else "")
        )
    skipped, kept = 0, 0
    for i, row in _table_rows(spec, "queries", queries):
        try:
            qid, text = str(row["query-id"]), str(row["query"])
        except KeyError as err:
            raise _bad_row(spec, "queries", i, err) from err
        grades = relevance.get(qid)
        if not grades:
            skipped += 1
            continue
        if max_queries is not None and kept >= max_queries:
            continue  # keep counting the queries without a positive
        query = EvalItem(instruction=spec.query_instruction, text=text, name=qid)
        builder.add_global(query, {page(cid): grade for cid, grade in grades.items()})
        kept += 1
    if skipped:
        logger.warning("%s: %d queries without a positive qrel were skipped.", spec.name, skipped)
    return builder.build(skipped_queries=skipped)
