"""Training PLUME with sentence-transformers' trainer: data, curriculum, collator, batched forward, losses.

Typical use::

    from plume_st.training import PlumeTrainer, read_ume_sft
    trainer = PlumeTrainer(model, args, train_dataset=read_ume_sft("train.jsonl", media_root="data", by_dataset=True))
    trainer.train()

or from a YAML configuration: ``plume-st train CONFIG.yaml`` / :func:`train_from_config`. The names are imported
lazily, so ``plume_st.training.cli`` (the command line) starts fast.
"""

from __future__ import annotations

from plume_st._lazy import lazy_exports

_EXPORTS = {
    "CachedPlumeLoss": "plume_st.training.losses.cached_plume_loss",
    "CurriculumCallback": "plume_st.training.curriculum_callback",
    "CurriculumSchedule": "plume_st.training.curriculum",
    "PlumeDataCollator": "plume_st.training.data.collator",
    "PlumeLoss": "plume_st.training.losses.plume_loss",
    "PlumeTrainer": "plume_st.training.plume_trainer",
    "StageSpec": "plume_st.training.curriculum",
    "TrainingOutputs": "plume_st.training.losses.training_forward",
    "hit_at_1": "plume_st.training.retrieval_metrics",
    "prepare_finetuning": "plume_st.training.finetune",
    "read_ume_sft": "plume_st.training.data.ume_data",
    "run_training_demo": "plume_st.training.demo_training",
    "split_rationale": "plume_st.training.data.segmentation",
    "train_from_config": "plume_st.training.run",
    "training_forward": "plume_st.training.losses.training_forward",
    "write_synthetic_ume": "plume_st.training.data.synthetic_data",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
