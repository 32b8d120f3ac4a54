"""The ``plume-st`` command line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from plume_st.precision import ATTN_HELP, DTYPE_HELP

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
    matryoshka_dims: str | None = typer.Option(
        None, help='Also train these prefixes of the 64-dim embedding, e.g. "32,16" (prints hit@1 per size).'
    ),
) -> None:
    """Train a tiny PLUME model through the curriculum offline, save, reload and encode text, image, video, PDF."""
    from plume_st.demo import parse_dims, run_demo

    try:
        dims = parse_dims(matryoshka_dims) if matryoshka_dims else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--matryoshka-dims") from error
    run_demo(out, family=family, max_steps=max_steps, matryoshka_dims=dims)


@app.command("inspect")
def inspect_trajectory(
    model: str = typer.Argument(..., help="A saved PLUME model folder or Hub id."),
    inputs: list[str] = typer.Argument(
        ..., help='Texts, image / video paths or URLs, or JSON objects such as \'{"image": "a.png", "text": "..."}\'.'
    ),
    out: Path = typer.Option(..., help="Folder for trajectory.png and trajectory.json."),
    latent_steps: int | None = typer.Option(None, help="Latent steps K (default: the model's)."),
    dtype: str = typer.Option("auto", help=DTYPE_HELP),
    attn_implementation: str | None = typer.Option(None, help=ATTN_HELP),
) -> None:
    """Per input and latent step: router probabilities, chosen experts, |z~(k)|, cosine to the K-step embedding."""
    from plume_st.inspect import inspect_model
    from plume_st.precision import model_kwargs_for

    try:
        model_kwargs = model_kwargs_for(dtype, attn_implementation)
        inspect_model(model, inputs, out, latent_steps=latent_steps, model_kwargs=model_kwargs)
    except (ValueError, TypeError, OSError, ImportError) as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(1) from error


@app.command("convert")
def convert(
    source: str = typer.Argument(..., help="The authors' checkpoint: a Hub id or a local folder in their layout."),
    out: Path = typer.Argument(..., help="Folder to write the plume-st model to."),
    dtype: str | None = typer.Option(None, help="Weight dtype (bfloat16, float32, ...; default: the checkpoint's)."),
    base_processor: str | None = typer.Option(
        None, help="Hub id or folder of the image/video processor, for a checkpoint without preprocessor_config.json."
    ),
) -> None:
    """Convert an authors' released PLUME checkpoint into a plume-st model with their inference profile."""
    import logging

    from plume_st.convert import OfficialCheckpointError, convert_official

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        typer.echo(convert_official(source, out, dtype=dtype, base_processor=base_processor))
    except OfficialCheckpointError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(1) from error


@app.command("push")
def push(
    model: Path = typer.Argument(..., help="A saved PLUME model folder."),
    repo: str = typer.Argument(..., help="Hub repository, org/name (created if needed)."),
    private: bool = typer.Option(False, help="Create the repository private."),
) -> None:
    """Upload a saved PLUME model folder to the Hugging Face Hub in one commit."""
    from plume_st.convert import push_folder

    typer.echo(push_folder(model, repo, private=private or None))


@app.command("tiny-official")
def tiny_official(
    out: Path = typer.Argument(..., help="Folder to write the checkpoint to."),
    layout: str = typer.Option("tied", help="Layout variant (see plume_st.convert.LAYOUTS)."),
    seed: int = typer.Option(0, help="Seed of the random weights."),
) -> None:
    """Write a tiny random checkpoint in the authors' released layout (offline, a few seconds)."""
    from plume_st.convert import LAYOUTS, write_tiny_official

    if layout not in LAYOUTS:
        raise typer.BadParameter(f"unknown layout {layout!r}; choose one of {sorted(LAYOUTS)}", param_hint="--layout")
    typer.echo(write_tiny_official(out, layout, seed=seed))


def requires_extra(extra: str, feature: str, command: Callable[..., None]) -> Callable[..., None]:
    """``command`` that first imports the packages of ``extra``; when one is missing it prints one line naming the
    extra and how to install it, and exits with status 1 (typer reads the wrapped signature)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        from plume_st._extras import MissingExtraError, require_extra

        try:
            require_extra(extra, feature)
        except MissingExtraError as error:
            typer.echo(f"Error: {error}", err=True)
            raise typer.Exit(1) from error
        command(*args, **kwargs)

    return run


def _register_subcommands() -> None:
    """Add the commands defined next to their code; none of these imports needs an extra or imports torch."""
    from plume_st.evaluation.cli import register as register_eval
    from plume_st.serving.cli import embed_corpus_command, serve_command
    from plume_st.training.cli import register as register_train

    register_eval(app)
    register_train(app)
    app.command("serve")(requires_extra("serve", "plume-st serve", serve_command))
    app.command("embed-corpus")(requires_extra("serve", "plume-st embed-corpus", embed_corpus_command))


_register_subcommands()

if __name__ == "__main__":
    app()
