"""``plume-st train CONFIG.yaml``: one PLUME training run from a YAML configuration.

Single process: ``plume-st train training_scripts/configs/tiny-cpu.yaml``. Many GPUs: launch the same command
with ``accelerate launch --config_file training_scripts/accelerate/ddp.yaml -m plume_st.cli train CONFIG.yaml``
(or ``torchrun --nproc_per_node N -m plume_st.cli train ...``); every rank runs it and the trainer does the rest.
"""

from __future__ import annotations

from pathlib import Path

import typer


def train_command(
    config: Path = typer.Argument(..., exists=True, dir_okay=False, help="The run's YAML configuration."),
    output_dir: Path | None = typer.Option(None, help="Override training.output_dir."),
    max_steps: int | None = typer.Option(None, help="Override training.max_steps."),
    resume: str | None = typer.Option(
        None, help="Resume from this checkpoint folder ('latest': the newest checkpoint in the output folder)."
    ),
    dtype: str | None = typer.Option(
        None,
        help="Override model.dtype: auto | float32 | bfloat16 | float16 (auto in training: bfloat16 on a GPU that "
        "has it, else float32).",
    ),
    attn_implementation: str | None = typer.Option(None, help="Override model.attn_implementation."),
) -> None:
    """Train a PLUME model through the explicit-to-latent curriculum, as CONFIG.yaml says."""
    from plume_st.training.run import train_from_config
    from plume_st.training.train_config import load_config

    raw = _read(config)
    overrides = {
        ("training", "output_dir"): None if output_dir is None else str(output_dir),
        ("training", "max_steps"): max_steps,
        ("model", "dtype"): dtype,
        ("model", "attn_implementation"): attn_implementation,
    }
    for (section, key), value in overrides.items():
        if value is not None:
            raw.setdefault(section, {})[key] = value
    settings = load_config(raw)
    result = train_from_config(settings, resume_from_checkpoint=True if resume == "latest" else resume)
    if result.trainer.is_world_process_zero():
        typer.echo(f"Saved the trained model to {result.output_dir}")


def _read(config: Path) -> dict:
    import yaml

    return yaml.safe_load(config.read_text(encoding="utf8")) or {}


def register(app: typer.Typer) -> None:
    """Add ``train`` to ``app``."""
    app.command("train")(train_command)
