"""The ``plume-st`` command line."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="PLUME latent-reasoning multimodal embeddings for sentence-transformers.", no_args_is_help=True)


@app.command("tiny-backbone")
def tiny_backbone(
    out: Path = typer.Argument(..., help="Folder to write the backbone to."),
    family: str = typer.Option("qwen2_vl", help="qwen2_vl | qwen2_5_vl | qwen3_vl"),
    seed: int = typer.Option(0, help="Seed of the random weights."),
) -> None:
    """Write a tiny random Qwen-VL backbone (offline, ~2 s) that loads like a Hub backbone."""
    from plume_st.backbones.tiny import build_tiny_backbone

    typer.echo(build_tiny_backbone(out, family=family, seed=seed))


@app.command("build")
def build(
    backbone: str = typer.Option(..., help="Backbone folder or Hub id, e.g. Qwen/Qwen2-VL-2B-Instruct."),
    out: Path = typer.Option(..., help="Folder to save the PLUME model to."),
    latent_steps: int = typer.Option(8, help="Latent steps K."),
    num_experts: int = typer.Option(4, help="Routed experts M."),
    top_k: int = typer.Option(2, help="Experts per row."),
    shared_expert: bool = typer.Option(True, help="Use the always-on shared expert."),
    reasoning: str = typer.Option("latent", help="Default mode: latent | none | explicit."),
    position_scheme: str = typer.Option("default", help="default | official."),
) -> None:
    """Build an untrained PLUME model from a backbone and save it."""
    from plume_st.build import build_plume_model

    model = build_plume_model(
        backbone,
        latent_steps=latent_steps,
        num_experts=num_experts,
        top_k=top_k,
        shared_expert=shared_expert,
        reasoning=reasoning,
        position_scheme=position_scheme,
    )
    model.save_pretrained(str(out))
    typer.echo(out)


@app.command("demo")
def demo(
    out: Path | None = typer.Option(None, help="Working folder (default: a new temporary folder)."),
    family: str = typer.Option("qwen2_vl", help="Backbone family of the tiny model."),
    max_steps: int = typer.Option(72, help="Training steps through the five curriculum stages."),
) -> None:
    """Train a tiny PLUME model through the curriculum offline, save, reload and encode text, image, video, PDF."""
    from plume_st.demo import run_demo

    run_demo(out, family=family, max_steps=max_steps)


def _register_subcommands() -> None:
    from plume_st.evaluation.cli import register as register_eval
    from plume_st.training.cli import register as register_train

    register_eval(app)
    register_train(app)


_register_subcommands()

if __name__ == "__main__":
    app()
