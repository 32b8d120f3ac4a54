"""Training PLUME with sentence-transformers' trainer: data, curriculum, collator, batched forward, losses.

Typical use::

    from plume_st.training import PlumeTrainer, read_ume_sft
    trainer = PlumeTrainer(model, args, train_dataset=read_ume_sft("train.jsonl", media_root="data", by_dataset=True))
    trainer.train()

or from a YAML configuration: ``plume-st train CONFIG.yaml`` / :func:`train_from_config`. The names are imported
lazily, so ``plume_st.training.cli`` (the command line) starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CachedPlumeLoss": "cached_plume_loss",
    "CurriculumCallback": "curriculum_callback",
    "CurriculumSchedule": "curriculum",
    "PlumeDataCollator": "collator",
    "PlumeLoss": "plume_loss",
    "PlumeTrainer": "plume_trainer",
    "StageSpec": "curriculum",
    "TrainingOutputs": "training_forward",
    "hit_at_1": "retrieval_metrics",
    "prepare_finetuning": "finetune",
    "read_ume_sft": "ume_data",
    "run_training_demo": "demo_training",
    "split_rationale": "segmentation",
    "train_from_config": "run",
    "training_forward": "training_forward",
    "write_synthetic_ume": "synthetic_data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'plume_st.training' has no attribute {name!r}")
    return getattr(importlib.import_module(f"plume_st.training.{_EXPORTS[name]}"), name)
