"""Train a PLUME model from a YAML configuration (the script form of ``plume-st train``).

Examples::

    python training_scripts/train_plume.py training_scripts/configs/tiny-cpu.yaml
    accelerate launch --config_file training_scripts/accelerate/ddp.yaml \\
        training_scripts/train_plume.py training_scripts/configs/qwen2vl-2b-paper.yaml
    accelerate launch --config_file training_scripts/accelerate/fsdp.yaml \\
        training_scripts/train_plume.py training_scripts/configs/qwen2vl-7b-fsdp.yaml
    python training_scripts/train_plume.py CONFIG.yaml --resume latest
"""

from __future__ import annotations

import typer

from plume_st.training.cli import train_command


def close_process_group() -> None:
    """After a run that succeeded on every rank: meet the other ranks and close the process group, so no rank's
    interpreter tears gloo / NCCL down while another still talks to it."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    try:
        typer.run(train_command)
    except SystemExit as done:
        if done.code in (0, None):
            close_process_group()
        raise
