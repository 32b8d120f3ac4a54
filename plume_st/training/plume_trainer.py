"""``PlumeTrainer``: sentence-transformers' trainer with PLUME's collator, loss and curriculum callback by default.

Everything else (optimizer, schedule, mixed precision, DDP / DeepSpeed through accelerate, checkpoints, logging)
is ``SentenceTransformerTrainer``'s own. The logs gain ``stage`` and ``latent_steps``; the loss parts are logged
by the base trainer because :class:`~plume_st.training.losses.plume_loss.PlumeLoss` returns a dict.

Under DDP only the prefix pass runs inside the wrapped model's forward; the latent steps and the suffix follow it in
the loss. DDP therefore runs with ``ddp_find_unused_parameters=False`` (the default set here), and the loss adds a
zero that depends on every trainable parameter so each one reports a gradient every step.

For the same reason accelerate's autocast (``bf16`` / ``fp16`` arguments) covers only the prefix pass: the trainer
hands the arguments' precision to the loss (``loss.mixed_precision``), which autocasts the whole training forward.
Under DDP it also sets ``dataloader_drop_last``: the cross-rank InfoNCE gathers equal-sized batches from every rank.

FSDP (an accelerate config with ``distributed_type: FSDP``, or ``fsdp`` in the arguments) shards the model with
PLUME's own FSDP2 plan (:mod:`plume_st.training.fsdp`) and hands the trainer the sharded model, as for a model
sharded at load time: no DDP wrapper, each rank keeps its shard. Checkpoints gather the full weights into an
ordinary PLUME folder and the full optimizer state into ``optimizer.pt``; resuming scatters both back.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import torch
from accelerate import PartialState
from accelerate.utils import DistributedType
from sentence_transformers import SentenceTransformerTrainer
from sentence_transformers.base.modules import Module
from torch.distributed.fsdp import FSDPModule

from plume_st.modules.source_export import class_reference

from .curriculum import CurriculumSchedule
from .curriculum_callback import CurriculumCallback
from .data.collator import PlumeDataCollator
from .fsdp import (
    fsdp_requested,
    full_optimizer_state_dict,
    gathered_parameters,
    load_full_optimizer_state_dict,
    load_full_state_dict,
    shard_plume_model,
)
from .losses.plume_loss import PlumeLoss


class PlumeTrainer(SentenceTransformerTrainer):
    """Trains a PLUME model through the explicit-to-latent curriculum.

    Args:
        model: The PLUME SentenceTransformer.
        args: ``SentenceTransformerTrainingArguments``.
        train_dataset: ``query`` / ``positive`` side columns (a ``DatasetDict`` draws each batch from one part).
        curriculum: The stage schedule (default: ratios 0, .25, .5, .75, 1 over S = the model's ``latent_steps``).
        loss: Default ``PlumeLoss(model, curriculum)``; a loss with a ``curriculum`` attribute shares it.
        data_collator: Default :class:`PlumeDataCollator` for the model.
        reset_optimizer: Clear the optimizer's moments at each stage switch.
        **kwargs: Passed to ``SentenceTransformerTrainer``.
    """

    def __init__(
        self,
        model: Any,
        args: Any = None,
        train_dataset: Any = None,
        curriculum: CurriculumSchedule | None = None,
        loss: Any = None,
        data_collator: Any = None,
        reset_optimizer: bool = True,
        callbacks: list | None = None,
        **kwargs: Any,
    ) -> None:
        if loss is not None and getattr(loss, "curriculum", None) is not None:
            curriculum = loss.curriculum if curriculum is None else curriculum
        if curriculum is None:
            curriculum = CurriculumSchedule(num_segments=model[1].latent_steps)
        if loss is None:
            loss = PlumeLoss(model, curriculum)
        loss.curriculum = curriculum
        if args is not None and args.ddp_find_unused_parameters is None:
            # The latent steps and the suffix run after the DDP-wrapped prefix pass, so DDP cannot find the used
            # parameters by walking the forward outputs; PlumeLoss makes every trainable parameter take part instead.
            args.ddp_find_unused_parameters = False
        if args is not None and args.ddp_find_unused_parameters:
            raise ValueError("PLUME training needs ddp_find_unused_parameters=False (see PlumeTrainer's docstring)")
        if args is not None and getattr(loss, "mixed_precision", "absent") is None:
            loss.mixed_precision = "bf16" if args.bf16 else "fp16" if args.fp16 else None
        if args is not None and args.world_size > 1 and not args.dataloader_drop_last:
            # The InfoNCE all-gather needs the same number of rows on every rank, also in the last batch.
            args.dataloader_drop_last = True
        if data_collator is None:
            data_collator = PlumeDataCollator(
                preprocess_fn=model[0].preprocess, tokenizer=model[0].tokenizer, num_segments=curriculum.num_segments
            )
        # Training rows are structured sides (media paths, rationale, answer), not encode() inputs: the model card
        # cannot run them as widget / usage examples.
        if hasattr(model, "model_card_data"):
            model.model_card_data.generate_widget_examples = False
        self.curriculum = curriculum
        self.curriculum_callback = CurriculumCallback(curriculum, reset_optimizer=reset_optimizer)
        callbacks = [*(callbacks or []), self.curriculum_callback]
        super().__init__(
            model=model,
            args=args,
            train_dataset=train_dataset,
            loss=loss,
            data_collator=data_collator,
            callbacks=callbacks,
            **kwargs,
        )
        self.fsdp_sharded = False
        if args is not None and args.world_size > 1 and fsdp_requested(args):
            self._shard()

    def _shard(self) -> None:
        """Shard the model with PLUME's FSDP2 plan; the trainer then treats it as sharded at load time."""
        plugin = getattr(self.accelerator.state, "fsdp_plugin", None)
        if plugin is not None and plugin.activation_checkpointing:
            raise ValueError(
                "fsdp_activation_checkpointing recomputes the decoder layers, which write PLUME's KV cache a second "
                "time; set fsdp_activation_checkpointing: false"
            )
        if self.args.gradient_checkpointing:
            raise ValueError(
                "gradient_checkpointing drops the KV cache that PLUME's latent rollout continues, with FSDP as "
                "without it; set training.gradient_checkpointing: false"
            )
        shard_plume_model(self.model)
        self.fsdp_sharded = True
        # Sentence-transformers' trainer then neither wraps the model in DDP nor moves it.
        self.is_distributed_loading_by_transformers = True
        self.is_fsdp_enabled = False
        if self.accelerator.distributed_type == DistributedType.FSDP:
            # On GPUs accelerate's FSDP2 preparation would shard again and prepares the optimizer only together
            # with the model: over the model PLUME sharded, accelerate runs as multi-device data parallelism, the
            # path the CPU tests run (there accelerate never leaves MULTI_CPU).
            device = self.args.device.type
            multi = DistributedType.MULTI_GPU if device == "cuda" else DistributedType(f"MULTI_{device.upper()}")
            self.accelerator.state.distributed_type = PartialState._shared_state["distributed_type"] = multi

    @contextlib.contextmanager
    def _defer_fsdp_gradient_reduction(self):
        """Gradient accumulation: reduce-scatter only after the last micro-batch."""
        self.model.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            self.model.set_requires_gradient_sync(True)

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Save the model; a sharded model is gathered first (every rank takes part, the main one writes)."""
        if not self.fsdp_sharded:
            return super().save_model(output_dir, _internal_call=_internal_call)
        with gathered_parameters(self.model, writer=self.args.should_save):
            if self.args.should_save:
                self._save(output_dir if output_dir is not None else self.args.output_dir)

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        if not self.fsdp_sharded:
            return super()._save_optimizer_and_scheduler(output_dir)
        state = full_optimizer_state_dict(self.model, _inner_optimizer(self.optimizer))
        if self.args.should_save:
            torch.save(state, os.path.join(output_dir, _OPTIMIZER_NAME))
            torch.save(self.lr_scheduler.state_dict(), os.path.join(output_dir, _SCHEDULER_NAME))

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        if not self.fsdp_sharded or checkpoint is None:
            return super()._load_optimizer_and_scheduler(checkpoint)
        state = torch.load(os.path.join(checkpoint, _OPTIMIZER_NAME), map_location="cpu", weights_only=True)
        load_full_optimizer_state_dict(self.model, _inner_optimizer(self.optimizer), state)
        self.lr_scheduler.load_state_dict(torch.load(os.path.join(checkpoint, _SCHEDULER_NAME), weights_only=True))

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:
            spec = self.curriculum.spec()
            logs = {**logs, "stage": spec.stage, "latent_steps": spec.num_latent}
        super().log(logs, start_time)

    def _load_from_checkpoint(self, checkpoint_path: str) -> None:
        """Load a checkpoint's weights into the model being trained.

        A PLUME folder lists its modules as root source files (``plume_input.PlumeInput``); they are resolved to
        the classes already in memory, so resuming needs no ``trust_remote_code``.
        """
        model = getattr(self.model, "_orig_mod", self.model)
        classes = {}
        for module in model.modules():
            if isinstance(module, Module):
                classes[f"{type(module).__module__}.{type(module).__qualname__}"] = type(module)
                classes[class_reference(type(module))] = type(module)
        model_class = next(cls for cls in type(model).__mro__ if not issubclass(cls, FSDPModule))
        loaded = model_class._load_with_module_classes(
            checkpoint_path, classes, trust_remote_code=model.trust_remote_code
        )
        if self.fsdp_sharded:
            load_full_state_dict(model, loaded.state_dict())
        else:
            model.load_state_dict(loaded.state_dict())


_OPTIMIZER_NAME, _SCHEDULER_NAME = "optimizer.pt", "scheduler.pt"


def _inner_optimizer(optimizer: Any) -> torch.optim.Optimizer:
    """The torch optimizer inside accelerate's wrapper."""
    return getattr(optimizer, "optimizer", optimizer)
