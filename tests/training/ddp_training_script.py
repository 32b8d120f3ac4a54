"""Run by ``torchrun --nproc_per_node 2``: a short DDP (gloo, CPU) PLUME run through every stage; each rank writes a
digest of its final weights and its logs to ``{out_dir}/rank{rank}.json``.

``plain`` mode: ``PlumeLoss``, 5 steps through the five default stages; ``cached`` mode: ``CachedPlumeLoss`` with
mini-batches of 2 rows, 3 steps through stages 0 (explicit) and 1 (fully latent), ``dataloader_drop_last`` left
to the trainer.
"""

from __future__ import annotations

import json
import os
import sys

import torch

from plume_st.training.run import train_from_config


def main(out_dir: str, mode: str = "plain") -> None:
    torch.set_num_threads(1)
    config = {
        "model": {"backbone": "tiny", "num_frames": 4, "dtype": "float32"},
        "data": {"synthetic": {"num_records": 48, "seed": 0, "folder": f"{out_dir}/synthetic"}},
        "training": {
            "output_dir": out_dir,
            "max_steps": 5,
            "per_device_train_batch_size": 4,
            "learning_rate": 1e-3,
            "logging_steps": 1,
            "save_strategy": "no",
            "seed": 0,
            "disable_tqdm": True,
            "ddp_backend": "gloo",
            "use_cpu": True,
            "dataloader_drop_last": True,
        },
    }
    if mode == "cached":
        config["loss"] = {"grad_cache": True, "mini_batch_size": 2}
        config["curriculum"] = {"ratios": [0.0, 1.0]}
        config["training"]["max_steps"] = 3
        del config["training"]["dataloader_drop_last"]  # PlumeTrainer sets it under DDP (equal batches to gather)
    result = train_from_config(config, save_final=False)
    digest = {name: float(value.double().sum()) for name, value in result.model.state_dict().items()}
    logs = [entry for entry in result.trainer.state.log_history if "loss" in entry]
    with open(f"{out_dir}/rank{os.environ['RANK']}.json", "w", encoding="utf8") as handle:
        world, drop_last = torch.distributed.get_world_size(), result.trainer.args.dataloader_drop_last
        json.dump({"digest": digest, "logs": logs, "world": world, "drop_last": drop_last}, handle)


if __name__ == "__main__":
    main(*sys.argv[1:])
