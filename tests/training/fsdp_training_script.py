"""Run by ``torchrun --nproc_per_node 2``: short FSDP2 (gloo, CPU) PLUME runs through the curriculum stages.

On the tiny backbone folder ``backbone`` (written before the process group exists: transformers writes a folder's
config on rank 0 only once it does):

* ``full``: 5 SGD steps through the five stages, saved to ``full/final``; ``lora``: LoRA, 3 steps through stages
  (0, 0.5, 1); ``cached``: GradCache (``loss.grad_cache``, mini-batches of 2 rows), 3 steps; ``bf16``: bf16 autocast
  over fp32 weights, 3 steps; ``tied``: on ``tied_backbone`` (the input embedding shared with the LM head, as in
  Qwen2-VL-2B: one FSDP unit for both), 3 steps;
* ``adamw``: 4 AdamW steps (stages 0, 0, 1, 1) with a checkpoint at step 3; ``interrupted``: the same run stopped
  after that checkpoint; ``resumed``: resumed from it (its step 4 uses the restored Adam moments).

Each rank writes ``{out_dir}/rank{rank}.json``: its logs per run and its local shard sizes. The ranks meet at a
barrier, close the process group and leave with ``os._exit`` (gloo can abort at interpreter teardown on two busy
cores).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from transformers import TrainerCallback

from plume_st.training.fsdp import local_shard_numel
from plume_st.training.run import train_from_config


def fsdp_config(out_dir: str, backbone: str, lora: bool = False, optim: str = "sgd") -> dict[str, Any]:
    """A run's configuration; the single-process reference drops ``fsdp`` and ``split_batches``.

    SGD for the comparison with one process: after a moment reset AdamW moves every element by about
    ``lr * g / (|g| + eps)``, so an element whose gradient is float noise (the ranks sum in another order) moves by
    up to ``lr`` either way; SGD moves it by ``lr`` times that noise.
    """
    training = {
        "output_dir": out_dir,
        "max_steps": 5,
        "per_device_train_batch_size": 8,  # split over the ranks: the same global batch of 8 as one process
        "accelerator_config": {"split_batches": True},
        "fsdp": "full_shard",
        "optim": optim,
        "learning_rate": 0.1 if optim == "sgd" else 1e-3,
        "logging_steps": 1,
        "save_strategy": "no",
        "seed": 0,
        "disable_tqdm": True,
        "use_cpu": True,
        "ddp_backend": "gloo",
        "dataloader_drop_last": True,
    }
    return {
        "model": {"backbone": backbone, "latent_steps": 4, "num_frames": 4, "dtype": "float32", "expert_dropout": 0.0},
        "data": {"synthetic": {"num_records": 48, "seed": 0}},
        "finetune": {"mode": "lora", "lora": {"r": 4, "alpha": 8, "dropout": 0.0}} if lora else {"mode": "full"},
        "training": training,
    }


VARIANTS = ("full", "lora", "cached", "bf16", "tied")


def tie_embeddings(backbone: str, out_dir: str) -> str:
    """A copy of a tiny backbone folder whose LM head shares the input embedding's weight."""
    shutil.copytree(backbone, out_dir)
    path = Path(out_dir) / "config.json"
    config = json.loads(path.read_text(encoding="utf8"))
    config["tie_word_embeddings"] = config.setdefault("text_config", {})["tie_word_embeddings"] = True
    path.write_text(json.dumps(config), encoding="utf8")
    return out_dir


def variant_config(name: str, out_dir: str, backbone: str) -> dict[str, Any]:
    """The configuration of a variant (3 steps through stages 0, 0.5, 1; ``full``: 5 steps, 5 stages)."""
    config = fsdp_config(out_dir, backbone, lora=name == "lora")
    if name != "full":
        config["curriculum"] = {"ratios": [0.0, 0.5, 1.0]}
        config["training"]["max_steps"] = 3
    if name == "cached":
        config["loss"] = {"grad_cache": True, "mini_batch_size": 2}
    if name == "bf16":
        config["training"]["bf16"] = True
    return config


def adamw_config(out_dir: str, backbone: str) -> dict[str, Any]:
    """4 AdamW steps, stages (0, 0, 1, 1), a checkpoint at step 3."""
    config = fsdp_config(out_dir, backbone, optim="adamw_torch")
    config["curriculum"] = {"ratios": [0.0, 1.0]}
    config["training"].update(max_steps=4, save_strategy="steps", save_steps=3)
    return config


class ShardSizes(TrainerCallback):
    """Records (local, full) sharded elements when training begins, and stops after ``stop_at`` steps."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.sizes: tuple[int, int] | None = None
        self.stop_at = stop_at

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.sizes = local_shard_numel(model)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.stop_at is not None and state.global_step >= self.stop_at:
            control.should_training_stop = True


def run(config: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    callback = ShardSizes(kwargs.pop("stop_at", None))
    result = train_from_config(config, callbacks=[callback], **kwargs)
    logs = [entry for entry in result.trainer.state.log_history if "loss" in entry]
    return {"logs": logs, "shard_sizes": callback.sizes, "sharded": result.trainer.fsdp_sharded}


def main(out_dir: str, backbone: str, tied_backbone: str) -> None:
    torch.set_num_threads(1)
    report: dict[str, Any] = {"world": int(os.environ["WORLD_SIZE"])}
    for name in VARIANTS:
        variant_backbone = tied_backbone if name == "tied" else backbone
        report[name] = run(variant_config(name, f"{out_dir}/{name}", variant_backbone))
    checkpointing = variant_config("full", f"{out_dir}/checkpointing", backbone)
    checkpointing["training"]["gradient_checkpointing"] = True
    try:
        run(checkpointing)
    except ValueError as error:
        report["checkpointing_error"] = str(error)
    report["adamw"] = run(adamw_config(f"{out_dir}/adamw", backbone))
    report["interrupted"] = run(adamw_config(f"{out_dir}/interrupted", backbone), stop_at=3, save_final=False)
    resumed = adamw_config(f"{out_dir}/resumed", backbone)
    report["resumed"] = run(resumed, resume_from_checkpoint=f"{out_dir}/interrupted/checkpoint-3")
    with open(f"{out_dir}/rank{os.environ['RANK']}.json", "w", encoding="utf8") as handle:
        json.dump(report, handle)
    dist.barrier()
    dist.destroy_process_group()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:])
