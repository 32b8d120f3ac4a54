"""One training run from a configuration: model, data, curriculum, loss, trainer, final save.

Used by ``plume-st train CONFIG.yaml``, ``training_scripts/train_plume.py`` and the demo. Under ``torchrun`` /
``accelerate launch`` every rank runs this same function; sentence-transformers' trainer does the rest.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainingArguments

from plume_st.backbones.tiny import build_tiny_backbone
from plume_st.build import build_plume_model
from plume_st.precision import resolve_dtype

from .curriculum import CurriculumSchedule
from .data.synthetic_data import write_synthetic_ume
from .data.ume_data import read_ume_sft
from .finetune import best_dtype, prepare_finetuning
from .losses.cached_plume_loss import CachedPlumeLoss
from .losses.plume_loss import PlumeLoss
from .plume_trainer import PlumeTrainer
from .train_config import load_config

logger = logging.getLogger(__name__)

_MODEL_KEYS = (
    "latent_steps", "num_frames", "min_pixels", "max_pixels", "video_max_pixels", "num_experts", "top_k",
    "expert_dropout", "seed",
)  # fmt: skip


@dataclass
class TrainResult:
    """What a run leaves: the trainer (its ``state.log_history``), the trained model and the saved folder."""

    trainer: PlumeTrainer
    model: Any
    output_dir: Path


class _WorkDir:
    """A private scratch folder under the output folder, created on first use (``work / "name"``)."""

    def __init__(self, parent: Path) -> None:
        self.parent, self.path = parent, None

    def __truediv__(self, name: str) -> Path:
        if self.path is None:
            self.path = Path(tempfile.mkdtemp(prefix="work-", dir=self.parent))
        return self.path / name


def build_model(model_config: dict[str, Any], work_dir: Any) -> Any:
    """The PLUME model a config names (a fresh one on a backbone, or an existing PLUME folder)."""
    dtype = model_config.get("dtype", "auto")
    torch_dtype = best_dtype() if dtype == "auto" else resolve_dtype(dtype)  # checked against --dtype's choices
    model_kwargs = {"dtype": torch_dtype}
    if model_config.get("attn_implementation"):
        model_kwargs["attn_implementation"] = model_config["attn_implementation"]
    if model_config.get("init_from"):
        return SentenceTransformer(model_config["init_from"], trust_remote_code=True, model_kwargs=model_kwargs)
    backbone = str(model_config["backbone"])
    if backbone == "tiny" or backbone.startswith("tiny:"):
        family = backbone.partition(":")[2] or "qwen2_vl"
        backbone = str(build_tiny_backbone(work_dir / "tiny-backbone", family=family, seed=model_config["seed"]))
    kwargs = {key: model_config[key] for key in _MODEL_KEYS if model_config.get(key) is not None}
    return build_plume_model(backbone, model_kwargs=model_kwargs, **kwargs)


def warn_on_pure_bf16(model: Any, args: Any) -> bool:
    """Warn (and return True) when bf16 weights would be updated by the plain optimizer, without DeepSpeed's fp32
    master copy: AdamW's lr-5e-5 steps mostly round away in bf16. Use ``model.dtype: float32`` + ``bf16: true``."""
    deepspeed = bool(args.deepspeed) or os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true"
    pure = any(param.requires_grad and param.dtype == torch.bfloat16 for param in model.parameters())
    if pure and not deepspeed:
        logger.warning(
            "training bf16 weights without fp32 master weights (no DeepSpeed): small updates round away; set "
            "model.dtype: float32 and training.bf16: true for mixed precision"
        )
    return pure and not deepspeed


def build_dataset(data_config: dict[str, Any], work_dir: Any) -> Any:
    """The training dataset a config names (UME-R1 JSONL files, or a freshly written synthetic set)."""
    if data_config.get("synthetic"):
        synthetic = dict(data_config["synthetic"])
        folder = Path(synthetic.pop("folder", None) or work_dir / "synthetic")
        if "kinds" in synthetic:
            synthetic["kinds"] = tuple(synthetic["kinds"])
        path = write_synthetic_ume(folder, **synthetic)
        files, root = [path], folder
    else:
        files = data_config["train_files"]
        files, root = ([files] if isinstance(files, str) else files), data_config.get("media_root")
    return read_ume_sft(files, media_root=root, by_dataset=data_config.get("by_dataset", True),
                        max_records=data_config.get("max_records"))  # fmt: skip


def build_loss(model: Any, loss_config: dict[str, Any], curriculum: CurriculumSchedule) -> PlumeLoss:
    """``PlumeLoss`` or, with ``grad_cache``, its GradCache variant."""
    config = dict(loss_config)
    grad_cache, mini_batch_size = config.pop("grad_cache", False), config.pop("mini_batch_size", 8)
    if grad_cache:
        return CachedPlumeLoss(model, curriculum, mini_batch_size=mini_batch_size, **config)
    return PlumeLoss(model, curriculum, **config)


def train_from_config(
    config: str | Path | dict[str, Any],
    resume_from_checkpoint: str | bool | None = None,
    model: Any = None,
    callbacks: list | None = None,
    save_final: bool = True,
) -> TrainResult:
    """Train as the configuration says and save the final model to ``{output_dir}/final``.

    Args:
        config: A YAML path or an already-loaded dict (see :mod:`plume_st.training.train_config`).
        resume_from_checkpoint: A checkpoint folder (or ``True`` for the latest in ``output_dir``).
        model: Use this PLUME model instead of building the configured one.
        callbacks: Extra ``TrainerCallback`` objects.
        save_final: Save the trained model to ``{output_dir}/final``.

    Returns:
        The :class:`TrainResult`.
    """
    config = load_config(config)
    training = dict(config["training"])
    output_dir = Path(training["output_dir"])
    output_dir.mkdir(parents=True, exist_ok=True)
    work_dir = _WorkDir(output_dir)  # a tiny backbone, a synthetic set: written per process, only when asked for
    if model is None:
        model = build_model(config["model"], work_dir)
    curriculum_config = dict(config["curriculum"])
    # reset_optimizer: clear Adam's moments at each stage switch (the paper's recipe; default on).
    reset_optimizer = bool(curriculum_config.pop("reset_optimizer", True))
    curriculum = CurriculumSchedule(num_segments=model[1].latent_steps, **curriculum_config)
    # Before a LoRA run saves its base folder: the loss records its Matryoshka dims in the backbone's config.
    loss = build_loss(model, config["loss"], curriculum)
    finetune = config["finetune"]
    prepare_finetuning(model, finetune.get("mode", "full"), finetune.get("freeze_vision", True),
                       finetune.get("lora"), base_dir=output_dir / "plume-base")  # fmt: skip
    if training.get("bf16") == "auto":
        training["bf16"] = best_dtype() == torch.bfloat16
    training.setdefault("report_to", [])
    training.setdefault("dataloader_pin_memory", torch.cuda.is_available())
    args = SentenceTransformerTrainingArguments(**training)
    warn_on_pure_bf16(model, args)
    trainer = PlumeTrainer(
        model,
        args,
        train_dataset=build_dataset(config["data"], work_dir),
        curriculum=curriculum,
        loss=loss,
        reset_optimizer=reset_optimizer,
        callbacks=callbacks,
    )
    trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    final_dir = output_dir / "final"
    if save_final:
        trainer.save_model(str(final_dir))  # on the main process; DeepSpeed / FSDP gather the weights first
    return TrainResult(trainer, model, final_dir)
