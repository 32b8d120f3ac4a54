"""A sentence-transformers evaluator over a chosen subset of MMEB-v2, for ``SentenceTransformerTrainer``.

The datasets are loaded once (annotations and media paths; media are opened when encoded) and scored after each
evaluation with the same loaders, candidates and metrics as ``plume-st eval``. Nothing is cached between calls, since
the model changes while it trains.

Example::

    evaluator = MMEBEvaluator("mmeb-v2", datasets=["MSCOCO_t2i", "MSR-VTT", "ViDoRe_arxivqa"], max_queries=200)
    trainer = SentenceTransformerTrainer(model=model, ..., evaluator=evaluator)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

from plume_st.evaluation.encoding.cache import EmbeddingCache
from plume_st.evaluation.encoding.encode import encode_items
from plume_st.evaluation.loaders import load_task
from plume_st.evaluation.protocol import Protocol, protocol_for
from plume_st.evaluation.registry import get_dataset
from plume_st.evaluation.scoring.score import score_task
from plume_st.evaluation.task import EvalTask


class MMEBEvaluator(SentenceEvaluator):
    """Scores a model on some MMEB-v2 datasets; the primary metric is their mean score (0-100).

    Args:
        data_root: The unpacked public MMEB-V2 files (with ``annotations/`` or see ``annotations_root``).
        datasets: Dataset names (``plume-st eval --list``).
        max_queries: Use only the first queries of each dataset (keeps evaluation short during training; global
            candidate pools stay whole).
        batch_size: ``encode`` batch size.
        reasoning: Passed to ``encode(reasoning=...)`` when given.
        annotations_root: Local annotations folder (default ``data_root/annotations``).
        name: Prefix of the metric names.
        show_progress_bar: Show encoding progress.
        protocol: ``"vlm2vec"`` (the public harness's conventions) or ``"plume"``; see
            :mod:`plume_st.evaluation.protocol`. The prompt style follows it, except for a model of the official
            profile, which always gets the authors' composition (its tasks are rebuilt once, on the first call).
    """

    def __init__(
        self,
        data_root: str | Path,
        datasets: Sequence[str],
        max_queries: int | None = None,
        batch_size: int = 16,
        reasoning: str | None = None,
        annotations_root: str | Path | None = None,
        name: str = "mmeb",
        show_progress_bar: bool = False,
        protocol: str = "vlm2vec",
    ) -> None:
        super().__init__()
        self.protocol = Protocol(protocol)
        if not datasets:
            raise ValueError("MMEBEvaluator needs at least one dataset name.")
        self.data_root, self.dataset_names, self.max_queries = Path(data_root), list(datasets), max_queries
        self.batch_size, self.reasoning, self.name = batch_size, reasoning, name
        self.show_progress_bar = show_progress_bar
        self.annotations_root = Path(annotations_root) if annotations_root else None
        self.tasks = self._load(self.protocol)
        self._tasks_by_protocol = {self.protocol: self.tasks}
        self.primary_metric = "mean"

    def _load(self, protocol: Protocol) -> list[EvalTask]:
        return [
            load_task(get_dataset(n), self.data_root, self.annotations_root, max_queries=self.max_queries,
                      protocol=protocol)
            for n in self.dataset_names
        ]  # fmt: skip

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Encode and score every dataset; return ``{name}_{dataset}`` scores and ``{name}_mean``."""
        encode_kwargs = {"reasoning": self.reasoning} if self.reasoning else {}
        metrics: dict[str, float] = {}
        protocol = protocol_for(self.protocol.name, model)
        if protocol not in self._tasks_by_protocol:
            self._tasks_by_protocol[protocol] = self._load(protocol)
        for task in self._tasks_by_protocol[protocol]:
            caches = {"q": EmbeddingCache(), "c": EmbeddingCache()}
            for side, items in (("q", task.queries), ("c", task.candidates)):
                encode_items(model, items, caches[side], self.batch_size, encode_kwargs=encode_kwargs,
                             show_progress_bar=self.show_progress_bar, desc=task.spec.name)  # fmt: skip
            query_emb = caches["q"].get([q.key for q in task.queries])
            cand_emb = caches["c"].get([c.key for c in task.candidates])
            metrics[task.spec.name] = score_task(task, query_emb, cand_emb, protocol=protocol).score
        metrics["mean"] = sum(metrics.values()) / len(metrics)
        if output_path is not None:
            out = Path(output_path) / f"{self.name}_results.jsonl"
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"epoch": epoch, "steps": steps, **protocol.to_json(), **metrics}) + "\n")
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        if hasattr(model, "model_card_data"):
            self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def get_config_dict(self) -> dict[str, Any]:
        """Configuration shown in model cards."""
        return {
            "datasets": self.dataset_names, "max_queries": self.max_queries, "reasoning": self.reasoning,
            "protocol": self.protocol.name,
        }  # fmt: skip
