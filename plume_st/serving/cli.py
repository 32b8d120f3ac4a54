"""``plume-st serve MODEL`` (the Ray Serve embeddings server) and ``plume-st embed-corpus MODEL MANIFEST``."""

from __future__ import annotations

from pathlib import Path

import typer


def serve_command(
    model: str = typer.Argument(..., help="PLUME model folder or Hub id."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    max_batch_size: int = typer.Option(16, help="Most items per model batch (across requests)."),
    batch_wait_ms: float = typer.Option(10.0, help="How long a batch waits for more items."),
    replicas: int | None = typer.Option(None, help="Model replicas (default: one per GPU, else one)."),
    served_name: str = typer.Option("plume", help="The model id the API reports."),
    address: str | None = typer.Option(None, help="Ray cluster address (ray://head:10001); default: a local Ray."),
    max_items: int = typer.Option(256, help="Items per request."),
    max_image_pixels: int = typer.Option(4096 * 4096, help="Pixels per image or video frame."),
) -> None:
    """Serve POST /v1/embeddings (OpenAI / vLLM schema) with dynamic batching on Ray Serve, until interrupted."""
    from plume_st.serving.request import ServeLimits
    from plume_st.serving.server import serve_model

    typer.echo(f"serving {model} at http://{host}:{port}/v1/embeddings")
    serve_model(
        model,
        host=host,
        port=port,
        address=address,
        served_name=served_name,
        max_batch_size=max_batch_size,
        batch_wait_ms=batch_wait_ms,
        replicas=replicas,
        limits=ServeLimits(max_items=max_items, max_image_pixels=max_image_pixels),
    )


def embed_corpus_command(
    model: str = typer.Argument(..., help="PLUME model folder or Hub id."),
    manifest: Path = typer.Argument(..., exists=True, help="Parquet or JSONL manifest: id, text, image, video."),
    out: Path = typer.Option(..., help="Output folder (parquet: id, embedding, error)."),
    batch_size: int = typer.Option(32, help="Rows per encode call."),
    workers: int = typer.Option(1, help="Model workers (Ray actors)."),
    gpus_per_worker: float = typer.Option(0, help="GPUs per worker."),
    address: str | None = typer.Option(None, help="Ray cluster address; default: a local Ray."),
) -> None:
    """Embed a corpus manifest with Ray Data; bad rows get an error entry, and their count is printed."""
    from plume_st.serving.corpus import embed_corpus

    embed_corpus(
        model,
        str(manifest),
        str(out),
        batch_size=batch_size,
        concurrency=workers,
        num_gpus=gpus_per_worker,
        address=address,
    )


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``embed-corpus`` to the ``plume-st`` command line."""
    app.command("serve")(serve_command)
    app.command("embed-corpus")(embed_corpus_command)
