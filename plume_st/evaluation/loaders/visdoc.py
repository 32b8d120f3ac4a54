"""Visual-document retrieval (BEIR style, global): text queries against the page-image corpus, graded qrels.

Tables: ``queries`` (``query-id, query``), ``corpus`` (``corpus-id`` [, ``image``]), ``qrels``
(``query-id, corpus-id, score``). Page images are files in the media folder, named as the public harness saves them:
``<corpus-id>.png`` (ViDoRe, ViDoSeek, MMLongBench) or, for VisRAG, the id's stem cut to 50 characters, ``_``, the
first 8 hex digits of the id's MD5, and the id's extension. Qrels with score <= 0 are dropped; a repeated pair keeps
the highest score. Queries without a positive qrel are skipped (the count is kept in the task, the score file and the
report); a positive qrel naming a corpus id that the corpus lacks is an error. A malformed row raises a ``ValueError``
naming the dataset, the table and the row.

Graded NDCG has two values. The correct one gives every page its own grade. The public harness de-duplicates a
query's corpus ids with ``set()`` and zips them with the grades in qrels order, so a query whose positives have
different grades may get them on the wrong pages; the task keeps those grades too (``reference_relevance``), in the
``set`` order of the ids as the table holds them (integers: a fixed order; strings: Python's hash order, which
depends on ``PYTHONHASHSEED``, so the task is marked ``hash_order_dependent``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from plume_st.evaluation.items import EvalItem
from plume_st.evaluation.protocol import Protocol
from plume_st.evaluation.registry import DatasetSpec
from plume_st.evaluation.scoring.metrics import reference_grades
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


def _qrels(spec: DatasetSpec, rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, tuple[Any, float]]]:
    """Query id -> corpus id -> (the id as the table holds it, grade), positives in their first qrels order."""
    out: dict[str, dict[str, tuple[Any, float]]] = {}
    for i, row in _table_rows(spec, "qrels", rows):
        try:
            score, qid, raw = float(row["score"]), str(row["query-id"]), row["corpus-id"]
        except (KeyError, TypeError, ValueError) as err:
            raise _bad_row(spec, "qrels", i, err) from err
        if score > 0:
            doc = out.setdefault(qid, {})
            cid = str(raw)
            doc[cid] = (doc[cid][0] if cid in doc else raw, max(doc[cid][1] if cid in doc else 0.0, score))
    return out


def load_visdoc_task(
    spec: DatasetSpec,
    queries: Iterable[dict[str, Any]],
    corpus: Iterable[dict[str, Any]],
    qrels: Iterable[dict[str, Any]],
    media_root: Path,
    max_queries: int | None = None,
    protocol: Protocol = Protocol(),
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
        protocol: ``vlm2vec`` orders the pool as the public harness does (the queries' positives, then the rest of
            the corpus), which decides ties; ``plume`` keeps the corpus order.
    """

    def page(cid: str) -> EvalItem:
        path = media_root / page_filename(spec, cid)
        return EvalItem(instruction=spec.target_instruction, image=str(path), name=cid, separator=protocol.separator)

    builder = TaskBuilder(spec)
    corpus_ids: list[str] = []
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
        corpus_ids.append(cid)
    if not protocol.is_reference:
        builder.add_corpus([page(cid) for cid in corpus_ids])
    relevance = _qrels(spec, qrels)
    unknown = sorted({cid for grades in relevance.values() for cid in grades} - set(corpus_ids))
    if unknown:
        raise ValueError(
            f"{spec.name}: {len(unknown)} corpus ids in qrels are missing from the corpus: {', '.join(unknown[:10])}"
            + (" ..." if len(unknown) > 10 else "")
        )
    skipped = mixed = 0
    hash_dependent = False
    reference: list[dict[int, float]] = []
    for i, row in _table_rows(spec, "queries", queries):
        try:
            qid, text = str(row["query-id"]), str(row["query"])
        except KeyError as err:
            raise _bad_row(spec, "queries", i, err) from err
        grades = relevance.get(qid)
        if not grades:
            skipped += 1
            continue
        if max_queries is not None and builder.num_queries >= max_queries:
            continue  # keep counting the queries without a positive
        query = EvalItem(instruction=spec.query_instruction, text=text, name=qid, separator=protocol.separator)
        builder.add_global(query, {page(cid): grade for cid, (_, grade) in grades.items()})
        by_raw = dict(grades.values())
        if len(set(by_raw.values())) > 1:
            mixed += 1
            hash_dependent |= not all(isinstance(raw, int) for raw in by_raw)
        index = {raw: builder.add_corpus([page(str(raw))])[0] for raw in by_raw}
        reference.append({index[raw]: grade for raw, grade in reference_grades(list(by_raw.items())).items()})
    builder.add_corpus([page(cid) for cid in corpus_ids])  # vlm2vec: the corpus after the positives; plume: no-op
    if skipped:
        logger.warning("%s: %d queries without a positive qrel were skipped.", spec.name, skipped)
    return builder.build(skipped, reference, mixed, hash_dependent)
