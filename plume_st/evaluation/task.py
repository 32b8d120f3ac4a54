"""An evaluation task: queries, a de-duplicated candidate pool, each query's candidates and graded positives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from plume_st.evaluation.items import EvalItem
from plume_st.evaluation.registry import DatasetSpec


@dataclass
class EvalTask:
    """What the scorer needs for one dataset.

    Attributes:
        spec: The dataset.
        queries: One item per query, in annotation order.
        candidates: The candidate pool, unique by :attr:`EvalItem.key` (first occurrence kept).
        query_candidates: Local mode: each query's own candidates as pool indices (de-duplicated, in annotation
            order). ``None`` in global mode: every query is ranked against the whole pool.
        relevance: Per query, pool index -> relevance grade (> 0). Hit@1 uses grade > 0; NDCG uses the grade. Empty
            for a query whose list lacks its positive (SmthSmthV2 under ``--protocol vlm2vec``: it scores 0).
        skipped_queries: Annotated queries left out because they have no positive (visual-document qrels).
        reference_relevance: Graded sets only: per query, the grades as the public harness attaches them (in ``set``
            order of the corpus ids, :func:`~plume_st.evaluation.scoring.metrics.reference_grades`); ``None`` when
            the dataset is not graded.
        mixed_grade_queries: Queries whose positives have different grades (where the two NDCG values can differ).
        hash_order_dependent: Some mixed-grade query has string corpus ids, whose ``set`` order, and so the
            reference's value, depends on Python's hash seed (``PYTHONHASHSEED``); this run used its own.
    """

    spec: DatasetSpec
    queries: list[EvalItem]
    candidates: list[EvalItem]
    query_candidates: list[list[int]] | None
    relevance: list[dict[int, float]]
    skipped_queries: int = 0
    reference_relevance: list[dict[int, float]] | None = None
    mixed_grade_queries: int = 0
    hash_order_dependent: bool = False

    def first_queries(self, limit: int | None) -> EvalTask:
        """The task with only its first ``limit`` queries; the candidate pool stays whole (global pools unchanged)."""
        if limit is None or limit >= len(self.queries):
            return self
        lists = None if self.query_candidates is None else self.query_candidates[:limit]
        reference = None if self.reference_relevance is None else self.reference_relevance[:limit]
        return replace(
            self, queries=self.queries[:limit], query_candidates=lists, relevance=self.relevance[:limit],
            reference_relevance=reference,
        )  # fmt: skip

    def candidates_of(self, query_index: int) -> list[int]:
        """Pool indices query ``query_index`` is ranked against."""
        if self.query_candidates is None:
            return list(range(len(self.candidates)))
        return self.query_candidates[query_index]


class TaskBuilder:
    """Collects queries and candidates row by row and de-duplicates candidates by identity.

    In local mode use :meth:`add_local`; in global mode :meth:`add_global` (and :meth:`add_corpus` for candidates
    that no query names, e.g. a document corpus or a label set). A candidate that occurs several times (in one list or
    across queries) becomes one pool entry; a query's positives are mapped to that entry.
    """

    def __init__(self, spec: DatasetSpec) -> None:
        self.spec = spec
        self._pool: list[EvalItem] = []
        self._index: dict[str, int] = {}
        self._queries: list[EvalItem] = []
        self._lists: list[list[int]] = []
        self._relevance: list[dict[int, float]] = []

    def add_corpus(self, items: Sequence[EvalItem]) -> list[int]:
        """Add candidates to the pool; return their pool indices."""
        out = []
        for item in items:
            if item.key not in self._index:
                self._index[item.key] = len(self._pool)
                self._pool.append(item)
            out.append(self._index[item.key])
        return out

    def add_local(
        self,
        query: EvalItem,
        candidates: Sequence[EvalItem],
        positives: Sequence[int] = (0,),
        allow_no_positive: bool = False,
    ) -> None:
        """Add a query ranked against its own ``candidates``; ``positives`` are positions in that list.

        ``allow_no_positive`` accepts an empty ``positives`` (the query then scores 0), as the public harness does
        for a SmthSmthV2 list that lacks the query's label.
        """
        if not candidates:
            raise ValueError(f"{self.spec.name}: query {query.display_name!r} has no candidates.")
        bad = [p for p in positives if not 0 <= p < len(candidates)]
        if bad:
            raise ValueError(
                f"{self.spec.name}: query {query.display_name!r}: positive position(s) {bad} outside its "
                f"{len(candidates)} candidates."
            )
        indices = self.add_corpus(candidates)
        unique = list(dict.fromkeys(indices))
        self._append(query, unique, {indices[p]: 1.0 for p in positives}, allow_no_positive)

    def add_global(self, query: EvalItem, relevant: Mapping[EvalItem, float] | Sequence[EvalItem]) -> None:
        """Add a query ranked against the whole pool; ``relevant`` are its positives (with grades, or all 1)."""
        grades = relevant if isinstance(relevant, Mapping) else dict.fromkeys(relevant, 1.0)
        relevance: dict[int, float] = {}
        for item, grade in grades.items():
            if grade > 0:
                idx = self.add_corpus([item])[0]
                relevance[idx] = max(relevance.get(idx, 0.0), float(grade))
        self._append(query, [], relevance)

    def _append(
        self, query: EvalItem, candidates: list[int], relevance: dict[int, float], allow_no_positive: bool = False
    ) -> None:
        if not relevance and not allow_no_positive:
            raise ValueError(f"{self.spec.name}: query {query.display_name!r} has no positive candidate.")
        self._queries.append(query)
        self._lists.append(candidates)
        self._relevance.append(relevance)

    @property
    def num_queries(self) -> int:
        """Queries added so far."""
        return len(self._queries)

    def build(
        self,
        skipped_queries: int = 0,
        reference_relevance: list[dict[int, float]] | None = None,
        mixed_grade_queries: int = 0,
        hash_order_dependent: bool = False,
    ) -> EvalTask:
        """Return the task (global mode when the spec says so); the arguments are recorded in it (see
        :class:`EvalTask`)."""
        if not self._queries:
            raise ValueError(f"{self.spec.name}: no queries were loaded.")
        local = self.spec.candidates == "local"
        lists = self._lists if local else None
        return EvalTask(
            self.spec, self._queries, self._pool, lists, self._relevance, skipped_queries, reference_relevance,
            mixed_grade_queries, hash_order_dependent,
        )  # fmt: skip
