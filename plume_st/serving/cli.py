"""``plume-st serve MODEL`` (the Ray Serve embeddings server) and ``plume-st embed-corpus MODEL MANIFEST``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from plume_st.precision import ATTN_HELP, DTYPE_HELP

if TYPE_CHECKING:
    from plume_st.serving.media_policy import MediaPolicy


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
    max_media_per_item: int = typer.Option(16, help="Images and videos per item."),
    max_media_per_request: int = typer.Option(64, help="Images and videos per request."),
    max_media_bytes: int = typer.Option(32 * 1024 * 1024, help="Bytes of one image or video (inline, file, URL)."),
    max_video_frames: int = typer.Option(10_000, help="Frames per video (from its container, before decoding)."),
    max_request_bytes: int = typer.Option(64 * 1024 * 1024, help="Bytes of a request body."),
    allowed_local_media_path: Path | None = typer.Option(
        None,
        exists=True,
        file_okay=False,
        help="Folder whose files requests may name (default: no local file is read).",
    ),
    allowed_media_domains: str | None = typer.Option(
        None, help="Comma-separated hosts whose http(s) URLs may be fetched (default: no URL is fetched)."
    ),
    fetch_timeout: float = typer.Option(10.0, help="Seconds for all the URL fetches of one request together."),
    api_key: str | None = typer.Option(
        None, envvar="PLUME_API_KEY", help="Require 'Authorization: Bearer KEY' on every route but /health."
    ),
    allow_explicit_reasoning: bool = typer.Option(
        False, help="Let requests ask for reasoning 'explicit' (token-by-token decoding, costly)."
    ),
    max_reasoning_tokens: int = typer.Option(512, help="Longest rationale in explicit reasoning."),
    max_latent_steps: int = typer.Option(16, help="Largest latent_steps a request may ask for."),
    dtype: str = typer.Option("auto", help=DTYPE_HELP),
    attn_implementation: str | None = typer.Option(None, help=ATTN_HELP),
) -> None:
    """Serve POST /v1/embeddings (OpenAI / vLLM schema) with dynamic batching on Ray Serve, until interrupted.

    By default only inline (data:) media are read; see docs/serving.md, "Security", before exposing the server.
    """
    from plume_st.precision import model_kwargs_for
    from plume_st.serving.request import ServeLimits
    from plume_st.serving.server import serve_model

    try:
        model_kwargs = model_kwargs_for(dtype, attn_implementation)  # auto: decided for this machine's devices
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--dtype") from error
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
        limits=ServeLimits(
            max_items=max_items,
            max_request_bytes=max_request_bytes,
            max_image_pixels=max_image_pixels,
            max_media_per_item=max_media_per_item,
            max_media_per_request=max_media_per_request,
            max_video_frames=max_video_frames,
            max_latent_steps=max_latent_steps,
            max_reasoning_tokens=max_reasoning_tokens,
            allow_explicit_reasoning=allow_explicit_reasoning,
        ),
        policy=media_policy(allowed_local_media_path, allowed_media_domains, max_media_bytes, fetch_timeout),
        api_key=api_key or None,
        model_kwargs=model_kwargs,
    )


def media_policy(local: Path | None, domains: str | None, max_bytes: int, timeout: float) -> MediaPolicy:
    """The :class:`MediaPolicy` of the command-line flags."""
    from plume_st.serving.media_policy import MediaPolicy

    return MediaPolicy(str(local) if local else None, domain_list(domains), max_bytes, timeout)


def domain_list(domains: str | None) -> tuple[str, ...]:
    """``"a.com, B.org"`` as ``("a.com", "b.org")``."""
    return tuple(host.strip().lower() for host in (domains or "").split(",") if host.strip())


def embed_corpus_command(
    model: str = typer.Argument(..., help="PLUME model folder or Hub id."),
    manifest: Path = typer.Argument(..., exists=True, help="Parquet or JSONL manifest: id, text, image, video."),
    out: Path = typer.Option(..., help="Output folder (parquet: id, embedding, error)."),
    batch_size: int = typer.Option(32, help="Rows per encode call."),
    rows_per_file: int = typer.Option(1000, help="Rows per output file (the progress a resumed job keeps)."),
    workers: int = typer.Option(1, help="Model workers (Ray actors)."),
    gpus_per_worker: float = typer.Option(0, help="GPUs per worker."),
    address: str | None = typer.Option(None, help="Ray cluster address; default: a local Ray (on loopback)."),
    mode: str | None = typer.Option(
        None, help="When --out is not empty: 'error' (the default), 'overwrite' or 'resume' (embed missing ids only)."
    ),
    allowed_media_domains: str | None = typer.Option(
        None, help="Comma-separated hosts whose http(s) URLs the manifest may name (default: none)."
    ),
    dtype: str = typer.Option("auto", help=DTYPE_HELP),
    attn_implementation: str | None = typer.Option(None, help=ATTN_HELP),
) -> None:
    """Embed a corpus manifest with Ray Data; bad rows get an error entry, and their count is printed.

    The manifest's local paths are read (its owner wrote it); URLs only from --allowed-media-domains.
    """
    from plume_st.precision import model_kwargs_for
    from plume_st.serving.corpus import embed_corpus

    try:
        model_kwargs = model_kwargs_for(dtype, attn_implementation, "cuda" if gpus_per_worker else "cpu")
        embed_corpus(
            model,
            str(manifest),
            str(out),
            batch_size=batch_size,
            concurrency=workers,
            num_gpus=gpus_per_worker,
            address=address,
            mode=mode or "error",
            allowed_media_domains=domain_list(allowed_media_domains),
            model_kwargs=model_kwargs,
            rows_per_file=rows_per_file,
        )
    except (FileExistsError, ValueError) as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(1) from error


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``embed-corpus`` to the ``plume-st`` command line."""
    app.command("serve")(serve_command)
    app.command("embed-corpus")(embed_corpus_command)
