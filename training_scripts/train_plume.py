"""Train a PLUME model from a YAML configuration (the script form of ``plume-st train``).

Examples::

    python training_scripts/train_plume.py training_scripts/configs/tiny-cpu.yaml
    accelerate launch --config_file training_scripts/accelerate/ddp.yaml \\
        training_scripts/train_plume.py training_scripts/configs/qwen2vl-2b-paper.yaml
    python training_scripts/train_plume.py CONFIG.yaml --resume latest
"""

from __future__ import annotations

import typer

from plume_st.training.cli import train_command

if __name__ == "__main__":
    typer.run(train_command)
