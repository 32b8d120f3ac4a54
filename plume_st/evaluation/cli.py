"""``plume-st eval`` and ``plume-st eval-fixture``: MMEB-v2 from the command line.

``register(app)`` adds both commands to a typer app (the package's ``plume_st.cli.app``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from plume_st.evaluation.protocol import NDCG_VARIANTS, PROTOCOLS
from plume_st.evaluation.registry import MODALITIES, format_registry, select_datasets
from plume_st.precision import ATTN_HELP, DTYPE_HELP, model_kwargs_for

REASONING_MODES = ("latent", "none", "explicit")


def load_model(name: str, device: str | None = None, model_kwargs: dict[str, Any] | None = None) -> Any:
    """Load a sentence-transformers model (path or Hub id) with ``trust_remote_code=True``.

    Under ``torchrun`` on GPUs each rank takes ``cuda:<LOCAL_RANK>`` unless ``device`` is given. ``model_kwargs``
    (``dtype``, ``attn_implementation``: :func:`plume_st.precision.model_kwargs_for`) go to the backbone's
    ``from_pretrained``.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    if device is None and torch.cuda.is_available() and "LOCAL_RANK" in os.environ:
        device = f"cuda:{os.environ['LOCAL_RANK']}"
    return SentenceTransformer(name, trust_remote_code=True, device=device, model_kwargs=model_kwargs)


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def eval_command(
    model: str | None = typer.Argument(None, help="Model folder or Hub id (loaded with trust_remote_code=True)."),
    data: Path | None = typer.Option(None, "--data", help="Unpacked MMEB-V2 files (image-tasks/, video-tasks/, ...)."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (scores, predictions, report, cache)."),
    modalities: str | None = typer.Option(None, help="Comma-separated subset of image,video,visdoc."),
    datasets: list[str] | None = typer.Option(None, "--datasets", help="Dataset names (repeat or comma-separate)."),
    batch_size: int = typer.Option(16, help="encode() batch size."),
    reasoning: str | None = typer.Option(None, help="latent | none | explicit (passed to encode; default: model's)."),
    truncate_dim: int | None = typer.Option(
        None, "--truncate-dim", help="Keep the first N embedding dimensions (a Matryoshka size; default: all)."
    ),
    annotations: Path | None = typer.Option(None, help="Local annotations folder (default: DATA/annotations)."),
    from_hub: bool = typer.Option(False, "--from-hub", help="Load annotations missing locally from the HF Hub."),
    max_queries: int | None = typer.Option(
        None, help="Only the first N queries per dataset (quick check; marked as not comparable with the paper)."
    ),
    rank: int | None = typer.Option(None, help="This process's rank (default: $RANK or 0)."),
    world_size: int | None = typer.Option(None, help="Number of processes (default: $WORLD_SIZE or 1)."),
    device: str | None = typer.Option(None, help="Device for the model (default: sentence-transformers' choice)."),
    dtype: str = typer.Option("auto", help=DTYPE_HELP),
    attn_implementation: str | None = typer.Option(None, help=ATTN_HELP),
    list_datasets: bool = typer.Option(False, "--list", help="Print the 78 datasets and exit."),
    protocol: str = typer.Option(
        "vlm2vec", help="vlm2vec: the public harness's conventions (leaderboard-comparable) | plume: plume-st's own."
    ),
    ndcg: str | None = typer.Option(
        None,
        help="Graded NDCG@5 in the report's means: reference | correct (default: vlm2vec reference, plume "
        "correct; score files hold both).",
    ),
) -> None:
    """Evaluate a sentence-transformers model on MMEB-v2 (78 datasets) and write the report.

    Rerunning into the same --out resumes from its embedding cache. With several processes (torchrun, or
    --rank/--world-size) each encodes a shard and rank 0 scores.
    """
    mods = _split([modalities] if modalities else None)
    if list_datasets:
        typer.echo(format_registry(select_datasets(mods, _split(datasets))))
        return
    if model is None or data is None or out is None:
        raise typer.BadParameter("MODEL, --data and --out are required (or use --list).")
    if reasoning is not None and reasoning not in REASONING_MODES:
        raise typer.BadParameter(f"--reasoning must be one of {', '.join(REASONING_MODES)}, not {reasoning!r}.")
    if truncate_dim is not None and truncate_dim < 1:
        raise typer.BadParameter(f"--truncate-dim must be a positive number of dimensions, not {truncate_dim}.")
    if protocol not in PROTOCOLS:
        raise typer.BadParameter(f"--protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}.")
    if ndcg is not None and ndcg not in NDCG_VARIANTS:
        raise typer.BadParameter(f"--ndcg must be one of {', '.join(NDCG_VARIANTS)}, not {ndcg!r}.")
    if mods and set(mods) - set(MODALITIES):
        raise typer.BadParameter(f"--modalities takes {', '.join(MODALITIES)}, got {modalities!r}.")
    try:
        model_kwargs = model_kwargs_for(dtype, attn_implementation, device)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    from plume_st.evaluation.report import report_markdown
    from plume_st.evaluation.runner import evaluate_mmeb

    report = evaluate_mmeb(
        load_model(model, device, model_kwargs), data, out, modalities=mods, datasets=_split(datasets),
        batch_size=batch_size, reasoning=reasoning, annotations_root=annotations, from_hub=from_hub, rank=rank,
        world_size=world_size, max_queries=max_queries, model_source=model, protocol=protocol, ndcg=ndcg,
        truncate_dim=truncate_dim,
    )  # fmt: skip
    if report is not None:
        typer.echo(report_markdown(report).split("\n## Datasets")[0])
        typer.echo(f"Report: {out / 'report.md'}")


def eval_fixture_command(
    out: Path = typer.Argument(..., help="Folder to write the miniature MMEB-v2 to."),
    seed: int = typer.Option(0, help="Seed of the generated pixels."),
) -> None:
    """Write a miniature MMEB-v2 (24 datasets, all categories, public layout) to try `plume-st eval` offline."""
    from plume_st.evaluation.fixture import write_fixture

    names = write_fixture(out, seed=seed)
    typer.echo(f"Wrote {len(names)} datasets to {out}: {', '.join(names)}")


def register(app: typer.Typer) -> None:
    """Add ``eval`` and ``eval-fixture`` to ``app``."""
    app.command("eval")(eval_command)
    app.command("eval-fixture")(eval_fixture_command)
