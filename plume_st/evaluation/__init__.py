"""MMEB-v2 evaluation: the 78 datasets, loaders of the public layout, metrics, report, command and evaluator.

See ``docs/evaluation.md``. Main entry points: :func:`evaluate_mmeb` (and ``plume-st eval``), :class:`MMEBEvaluator`
for training, :func:`write_fixture` for an offline miniature, :func:`download_annotations` to fetch annotations.
"""

from __future__ import annotations

from plume_st.evaluation.evaluator import MMEBEvaluator
from plume_st.evaluation.fixture import write_fixture
from plume_st.evaluation.loaders import load_task
from plume_st.evaluation.loaders.download import download_annotations
from plume_st.evaluation.registry import DATASETS, DatasetSpec, get_dataset, select_datasets
from plume_st.evaluation.report import build_report, report_markdown
from plume_st.evaluation.runner import evaluate_mmeb

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "MMEBEvaluator",
    "build_report",
    "download_annotations",
    "evaluate_mmeb",
    "get_dataset",
    "load_task",
    "report_markdown",
    "select_datasets",
    "write_fixture",
]
