"""Reading a dataset's annotation rows: from a local copy, or (only when asked) from the Hugging Face Hub.

Local layout, one folder per dataset under the annotations root (default ``ROOT/annotations``)::

    annotations/<dataset name>/<split>.jsonl | <split>.parquet          one table (image and video datasets)
    annotations/<dataset name>/{queries,corpus,qrels}.jsonl | .parquet  BEIR-style visual-document datasets

``<split>`` is the dataset's Hub split (``test``; ``train`` for MVBench and VisRAG; ``val`` for YouCook2). Columns
are those of the Hub dataset; ``corpus`` needs only ``corpus-id`` (page images are read from the media folder).
Nothing touches the network unless ``from_hub=True``: then ``datasets.load_dataset(repo, subset, split=split)``
runs (it uses the local Hugging Face cache when the data is there). A Hub ``corpus`` is read lazily: its rows hold
the ``corpus-id`` and an image that is decoded only when saved, so pages are never all decoded at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from plume_st.evaluation.registry import DatasetSpec

BEIR_TABLES = ("queries", "corpus", "qrels")
# MVBench on the Hub is one configuration per task; the public harness concatenates them with a `subset` column.
MVBENCH_SUBSETS = (
    "episodic_reasoning", "action_sequence", "action_prediction", "action_antonym", "fine_grained_action",
    "unexpected_action", "object_existence", "object_interaction", "object_shuffle", "moving_direction",
    "action_localization", "scene_transition", "action_count", "moving_count", "moving_attribute", "state_change",
    "fine_grained_pose", "character_order", "egocentric_navigation", "counterfactual_inference",
)  # fmt: skip


class AnnotationsNotFound(FileNotFoundError):
    """A dataset has no local annotations and Hub loading was not requested."""


def is_beir(spec: DatasetSpec) -> bool:
    """Whether the dataset's annotations are BEIR tables (all visual-document datasets)."""
    return spec.modality == "visdoc"


def table_names(spec: DatasetSpec) -> tuple[str, ...]:
    """The tables a dataset needs: its split, or the three BEIR tables."""
    return BEIR_TABLES if is_beir(spec) else (spec.hf_split,)


def local_table(annotations_root: Path, spec: DatasetSpec, table: str) -> Path | None:
    """Path of a local table (``.jsonl`` preferred over ``.parquet``), or ``None``."""
    for suffix in (".jsonl", ".parquet"):
        path = annotations_root / spec.name / f"{table}{suffix}"
        if path.is_file():
            return path
    return None


def read_table(path: Path, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows of a ``.jsonl`` or ``.parquet`` file (``columns`` limits what parquet reads)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path, columns=columns).to_pylist()
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class LazyPage:
    """The ``image`` of one Hub corpus row, decoded only when :meth:`save` is called."""

    def __init__(self, data: Any, index: int) -> None:
        self.data, self.index = data, index

    def save(self, path: Path) -> None:
        """Decode the page and save it to ``path``."""
        self.data[self.index]["image"].save(path)


def _lazy_corpus(data: Any) -> Iterator[dict[str, Any]]:
    """Rows ``{"corpus-id", "image": LazyPage}`` of a Hub corpus, read one at a time, no image decoded."""
    ids = data.select_columns(["corpus-id"]) if hasattr(data, "select_columns") else data
    has_image = "image" in (getattr(data, "column_names", None) or ["image"])
    for i, row in enumerate(ids):
        yield {"corpus-id": row["corpus-id"], "image": LazyPage(data, i) if has_image else None}


def _hub_rows(spec: DatasetSpec, table: str) -> Iterable[dict[str, Any]]:
    import datasets

    if is_beir(spec):
        data = datasets.load_dataset(spec.hf_repo, table, split=spec.hf_split)
        return _lazy_corpus(data) if table == "corpus" else list(data)
    if spec.loader == "mvbench":
        rows = []
        for subset in MVBENCH_SUBSETS:
            part = datasets.load_dataset(spec.hf_repo, subset, split=spec.hf_split)
            rows.extend({**row, "subset": subset} for row in part)
        return rows
    return list(datasets.load_dataset(spec.hf_repo, spec.hf_subset, split=spec.hf_split))


def load_rows(
    spec: DatasetSpec, table: str, annotations_root: Path, from_hub: bool = False, columns: list[str] | None = None
) -> Iterable[dict[str, Any]]:
    """Rows of one table of a dataset (a list; a Hub ``corpus`` is a lazy iterator, to be read once).

    Args:
        spec: The dataset.
        table: Its split name, or ``"queries"`` / ``"corpus"`` / ``"qrels"``.
        annotations_root: Folder holding ``<dataset name>/<table>.jsonl|parquet``.
        from_hub: When no local copy exists, load from the Hugging Face Hub (network) instead of failing.
        columns: Columns to read from a local parquet file (all when ``None``).

    Raises:
        AnnotationsNotFound: No local copy and ``from_hub`` is false.
    """
    path = local_table(annotations_root, spec, table)
    if path is not None:
        return read_table(path, columns)
    if from_hub:
        return _hub_rows(spec, table)
    raise AnnotationsNotFound(f"no annotations at {annotations_root / spec.name}/{table}.jsonl|parquet")
