"""Run by ``torchrun --nproc_per_node 2``: a short DDP (gloo, CPU) PLUME run through every stage; each rank writes a
digest of its final weights and its logs to ``{out_dir}/rank{rank}.json``."""

from __future__ import annotations

import json
import os
import sys

import torch

from plume_st.training.run import train_from_config


def main(out_dir: str) -> None:
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
    result = train_from_config(config, save_final=False)
    digest = {name: float(value.double().sum()) for name, value in result.model.state_dict().items()}
    logs = [entry for entry in result.trainer.state.log_history if "loss" in entry]
    with open(f"{out_dir}/rank{os.environ['RANK']}.json", "w", encoding="utf8") as handle:
        json.dump({"digest": digest, "logs": logs, "world": torch.distributed.get_world_size()}, handle)


if __name__ == "__main__":
    main(sys.argv[1])
