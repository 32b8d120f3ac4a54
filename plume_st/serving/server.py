"""An OpenAI-style ``/v1/embeddings`` server for PLUME models on Ray Serve, with dynamic batching.

Every item of every request goes through one ``@serve.batch`` method, so items from concurrent requests are encoded
in one ``model.encode`` call per group of matching settings (side, prompt, reasoning, K). A bad item (unreadable
image, empty video, ...) is dropped from its batch by the position ``encode``'s error names, the rest are encoded
again, and only the bad item's own request fails (400, naming the item). Vectors equal ``model.encode``'s.

Routes: ``POST /v1/embeddings``, ``GET /v1/models``, ``GET /health``, ``GET /stats`` (batches and items encoded).

(No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations at run time.)
"""

import asyncio
import base64
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from pydantic import ValidationError
from ray import serve

from .request import EmbeddingRequest, ServeLimits, encode_kwargs


@dataclass(frozen=True)
class Job:
    """One item waiting for a batch: the item and the settings it must share a batch with."""

    item: Any
    settings: tuple


@dataclass
class Outcome:
    """One item's result: its embedding and prompt tokens, or the problem with it."""

    embedding: np.ndarray | None = None
    tokens: int = 0
    problem: str | None = None


def encode_jobs(model: Any, jobs: list[Job]) -> list[Outcome]:
    """Encode jobs grouped by settings, one ``encode`` call per group; a bad item is dropped and the rest re-encoded.

    The loop is bounded: every retry removes at least one item.
    """
    outcomes = [Outcome() for _ in jobs]
    groups: dict[tuple, list[int]] = {}
    for index, job in enumerate(jobs):
        groups.setdefault(job.settings, []).append(index)
    for settings, members in groups.items():
        pending = list(members)
        while pending:
            items = [jobs[index].item for index in pending]
            try:
                rows = model.encode(
                    items, output_value=None, batch_size=len(items), **encode_kwargs(settings, model.prompts)
                )
            except (ValueError, TypeError) as error:
                positions = getattr(error, "positions", None)
                if not positions:  # a problem of the whole group (e.g. a bad prompt)
                    for index in pending:
                        outcomes[index].problem = str(error)
                    break
                bad = set(positions)
                for position in bad:
                    outcomes[pending[position]].problem = getattr(error, "problem", str(error))
                pending = [index for offset, index in enumerate(pending) if offset not in bad]
                continue
            for index, row in zip(pending, rows):
                outcomes[index].embedding = row["sentence_embedding"].float().cpu().numpy()
                outcomes[index].tokens = int(row["attention_mask"].sum())
            break
    return outcomes


def embedding_response(request: EmbeddingRequest, outcomes: list[Outcome], model_name: str) -> dict[str, Any]:
    """OpenAI's response shape (``data``, ``model``, ``usage``); ``dimensions`` truncates, ``base64`` packs float32."""
    data = []
    for index, outcome in enumerate(outcomes):
        vector = outcome.embedding[: request.dimensions] if request.dimensions else outcome.embedding
        vector = vector.astype("<f4")
        value: Any = (
            base64.b64encode(vector.tobytes()).decode() if request.encoding_format == "base64" else vector.tolist()
        )
        data.append({"object": "embedding", "index": index, "embedding": value})
    tokens = sum(outcome.tokens for outcome in outcomes)
    return {
        "object": "list",
        "data": data,
        "model": model_name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


app = FastAPI(title="plume-st embeddings")


@serve.deployment
@serve.ingress(app)
class PlumeEmbeddingServer:
    """A Ray Serve replica holding one PLUME model.

    Args:
        model_name_or_path: The PLUME model (folder or Hub id), loaded with ``trust_remote_code=True``.
        served_name: The model id the API reports.
        max_batch_size: Most items per ``encode`` batch.
        batch_wait_ms: How long a batch waits for more items.
        limits: Request limits.
        device: Device of the model (``None``: CUDA when the replica has a GPU).
    """

    def __init__(
        self,
        model_name_or_path: str,
        served_name: str = "plume",
        max_batch_size: int = 16,
        batch_wait_ms: float = 10.0,
        limits: ServeLimits | None = None,
        device: str | None = None,
    ) -> None:
        from PIL import Image
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_name_or_path, trust_remote_code=True, device=device)
        self.served_name = served_name
        self.limits = limits or ServeLimits()
        Image.MAX_IMAGE_PIXELS = self.limits.max_image_pixels
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # over the limit is an error, not a warning
        self.batch.set_max_batch_size(max_batch_size)
        self.batch.set_batch_wait_timeout_s(batch_wait_ms / 1000)
        self.stats = {"batches": 0, "items": 0}

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def batch(self, jobs: list[Job]) -> list[Outcome]:
        self.stats["batches"] += 1
        self.stats["items"] += len(jobs)
        return await asyncio.to_thread(encode_jobs, self.model, jobs)

    @app.post("/v1/embeddings")
    async def embeddings(self, http_request: Request) -> dict[str, Any]:
        body = await http_request.body()
        if len(body) > self.limits.max_request_bytes:
            raise HTTPException(
                413, f"request of {len(body)} bytes is over the limit of {self.limits.max_request_bytes}"
            )
        try:
            request = EmbeddingRequest.model_validate_json(body)
        except ValidationError as error:
            raise HTTPException(422, f"malformed request: {error.errors(include_url=False)}") from error
        items = request.items()
        if not items:
            raise HTTPException(400, "the request has no items")
        if len(items) > self.limits.max_items:
            raise HTTPException(413, f"{len(items)} items is over the limit of {self.limits.max_items} per request")
        outcomes = await asyncio.gather(*(self.batch(Job(item, request.settings())) for item in items))
        bad = [f"item {index}: {outcome.problem}" for index, outcome in enumerate(outcomes) if outcome.problem]
        if bad:
            raise HTTPException(400, "; ".join(bad))
        return embedding_response(request, outcomes, self.served_name)

    @app.get("/v1/models")
    async def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": self.served_name, "object": "model", "owned_by": "plume-st"}]}

    @app.get("/health")
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/stats")
    async def statistics(self) -> dict[str, int]:
        return dict(self.stats)


def build_app(
    model_name_or_path: str,
    *,
    served_name: str = "plume",
    max_batch_size: int = 16,
    batch_wait_ms: float = 10.0,
    replicas: int | None = None,
    limits: ServeLimits | None = None,
) -> Any:
    """The Ray Serve application: ``replicas`` replicas (default: one per GPU, else one), one GPU each when present."""
    import ray
    import torch

    gpus = int(ray.cluster_resources().get("GPU", 0)) if ray.is_initialized() else torch.cuda.device_count()
    options = {"num_gpus": 1} if gpus else {}
    deployment = PlumeEmbeddingServer.options(
        num_replicas=replicas or max(gpus, 1),
        ray_actor_options=options,
        max_ongoing_requests=8 * max_batch_size,  # Ray's default (5) would cap a batch at 5 items
    )
    return deployment.bind(model_name_or_path, served_name, max_batch_size, batch_wait_ms, limits)


def serve_model(
    model_name_or_path: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    address: str | None = None,
    blocking: bool = True,
    **app_kwargs: Any,
) -> Any:
    """Start the server: a local Ray by default, the cluster at ``address`` (``ray://head:10001``) otherwise."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False)
    serve.start(http_options={"host": host, "port": port})
    handle = serve.run(build_app(model_name_or_path, **app_kwargs), name="plume", route_prefix="/", blocking=blocking)
    return handle
