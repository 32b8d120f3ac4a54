"""MMEB-v2 evaluation: the 78 datasets, loaders of the public layout, metrics, report, command and evaluator.

See ``docs/evaluation.md``. Main entry points: :func:`evaluate_mmeb` (and ``plume-st eval``), :class:`MMEBEvaluator`
for training, :func:`write_fixture` for an offline miniature, :func:`download_annotations` to fetch annotations.
The names are imported lazily, so ``plume_st.evaluation.cli`` (the command line) starts fast.
"""

from __future__ import annotations

from plume_st._lazy import lazy_exports

_EXPORTS = {
    "DATASETS": "plume_st.evaluation.registry",
    "DatasetSpec": "plume_st.evaluation.registry",
    "MMEBEvaluator": "plume_st.evaluation.evaluator",
    "build_report": "plume_st.evaluation.report",
    "download_annotations": "plume_st.evaluation.loaders.download",
    "evaluate_mmeb": "plume_st.evaluation.runner",
    "get_dataset": "plume_st.evaluation.registry",
    "load_task": "plume_st.evaluation.loaders",
    "report_markdown": "plume_st.evaluation.report",
    "select_datasets": "plume_st.evaluation.registry",
    "write_fixture": "plume_st.evaluation.fixture",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
