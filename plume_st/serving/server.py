"""An OpenAI-style ``/v1/embeddings`` server for PLUME models on Ray Serve, with dynamic batching.

A request is checked and prepared in its own handler before any of its items joins a batch: the API key, the body
size (``Content-Length``, then while the body streams in), the settings (``dimensions``, ``reasoning``,
``latent_steps``, ``prompt``), the item and media counts, then every item is read and decoded under the media policy
and the limits (:mod:`plume_st.serving.prepare`), in a bounded worker pool when it has media. Only ready items reach
the ``@serve.batch`` method, which groups items of concurrent requests by settings and encodes each group in one
``model.encode`` call (:func:`~plume_st.serving.jobs.encode_jobs`: an item that still fails there fails only its own
request). Vectors equal ``model.encode``'s.

Routes: ``POST /v1/embeddings``, ``GET /v1/models``, ``GET /health`` (no key needed), ``GET /stats`` (batches and
items encoded, the replica's process id and resident memory).

(No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations at run time.)
"""

import asyncio
import base64
import hmac
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from pydantic import ValidationError
from ray import serve

from plume_st.modules.errors import PlumeInputError

from .jobs import Job, Outcome, encode_jobs, short_problem
from .media_policy import MediaPolicy
from .prepare import checked_text, media_count, prepare_item
from .request import EmbeddingRequest, ServeLimits

MALFORMED_CHARS = 400


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) from ``Content-Length`` or as soon as the streamed bytes pass ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise HTTPException(413, f"the request body is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def malformed_detail(error: ValidationError) -> str:
    """A short 422 text: the first problems' fields and messages, never the input."""
    problems = []
    for entry in error.errors(include_url=False, include_input=False, include_context=False)[:3]:
        where = ".".join(str(part) for part in entry["loc"])
        problems.append(f"{where}: {entry['msg']}" if where else entry["msg"])
    return short_problem("malformed request: " + "; ".join(problems))[:MALFORMED_CHARS]


def embedding_response(
    request: EmbeddingRequest, outcomes: list[Outcome], model_name: str, normalize: bool
) -> dict[str, Any]:
    """OpenAI's response shape (``data``, ``model``, ``usage``); ``dimensions`` truncates (and renormalises when the
    model normalises), ``base64`` packs little-endian float32."""
    vectors = np.stack([outcome.embedding for outcome in outcomes]).astype("<f4")
    if request.dimensions:
        vectors = vectors[:, : request.dimensions]
        if normalize:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    vectors = vectors.astype("<f4")
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": base64.b64encode(vector.tobytes()).decode()
            if request.encoding_format == "base64"
            else vector.tolist(),
        }
        for index, vector in enumerate(vectors)
    ]
    tokens = sum(outcome.tokens for outcome in outcomes)
    return {
        "object": "list",
        "data": data,
        "model": model_name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as file:
            return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


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
        limits: Request limits and cost controls.
        policy: Where media may come from (default: ``data:`` URIs only).
        api_key: Key every route but ``/health`` requires as ``Authorization: Bearer KEY`` (``None``: no key).
        device: Device of the model (``None``: CUDA when the replica has a GPU).
        preparation_workers: Threads that read and decode the media of requests (a bounded pool).
        model_kwargs: Passed to the backbone's ``from_pretrained`` (``dtype``, ``attn_implementation``:
            :func:`plume_st.precision.model_kwargs_for`).
    """

    def __init__(
        self,
        model_name_or_path: str,
        served_name: str = "plume",
        max_batch_size: int = 16,
        batch_wait_ms: float = 10.0,
        limits: ServeLimits | None = None,
        policy: MediaPolicy | None = None,
        api_key: str | None = None,
        device: str | None = None,
        preparation_workers: int = 4,
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        from PIL import Image
        from sentence_transformers import SentenceTransformer

        from plume_st.model import matryoshka_dims

        from .ray_cluster import keep_replica_on_loopback

        keep_replica_on_loopback()
        self.model = SentenceTransformer(
            model_name_or_path, trust_remote_code=True, device=device, model_kwargs=model_kwargs
        )
        self.served_name = served_name
        self.limits = limits or ServeLimits()
        self.policy = policy or MediaPolicy()
        self.api_key = api_key
        self.dimension = self.model.get_embedding_dimension()
        self.matryoshka_dims = matryoshka_dims(self.model)  # the prefix sizes it was trained for, or None
        self.normalize = any(getattr(module, "normalize", False) is True for module in self.model)
        self.num_frames = getattr(self.model[0], "num_frames", 8)
        for module in self.model:  # cap the rationale of explicit reasoning
            if hasattr(module, "max_new_tokens"):
                module.max_new_tokens = min(module.max_new_tokens, self.limits.max_reasoning_tokens)
        Image.MAX_IMAGE_PIXELS = self.limits.max_image_pixels
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # over the limit is an error, not a warning
        self.pool = ThreadPoolExecutor(max_workers=preparation_workers, thread_name_prefix="prepare")
        self.batch.set_max_batch_size(max_batch_size)
        self.batch.set_batch_wait_timeout_s(batch_wait_ms / 1000)
        self.stats = {"batches": 0, "items": 0}

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def batch(self, jobs: list[Job]) -> list[Outcome]:
        self.stats["batches"] += 1
        self.stats["items"] += len(jobs)
        return await asyncio.to_thread(encode_jobs, self.model, jobs)

    def _authorize(self, http_request: Request) -> None:
        if self.api_key is None:
            return
        given = http_request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, f"Bearer {self.api_key}".encode()):
            raise HTTPException(401, "missing or wrong API key", headers={"WWW-Authenticate": "Bearer"})

    def _check_settings(self, request: EmbeddingRequest) -> None:
        """400 for a setting this server refuses, before any item is read."""
        if request.dimensions is not None and not 1 <= request.dimensions <= self.dimension:
            raise HTTPException(400, f"dimensions must be between 1 and {self.dimension}, got {request.dimensions}")
        if request.reasoning == "explicit" and not self.limits.allow_explicit_reasoning:
            raise HTTPException(400, "explicit reasoning is not allowed on this server (--allow-explicit-reasoning)")
        if request.latent_steps is not None and request.latent_steps > self.limits.max_latent_steps:
            raise HTTPException(
                400, f"latent_steps is over this server's limit of {self.limits.max_latent_steps} (--max-latent-steps)"
            )
        if request.prompt is not None:
            try:
                checked_text(request.prompt, "prompt")
            except PlumeInputError as error:
                raise HTTPException(400, error.problem) from None

    def _prepare(self, items: list[Any]) -> list[dict[str, Any]]:
        """Every item of one request, ready for a batch; the first bad item fails the request (400, naming it)."""
        deadline = time.monotonic() + self.policy.fetch_timeout_s
        prepared = []
        for index, item in enumerate(items):
            try:
                prepared.append(prepare_item(item, self.limits, self.policy, self.num_frames, deadline))
            except PlumeInputError as error:
                raise HTTPException(400, f"item {index}: {short_problem(error.problem)}") from None
            except (ValueError, TypeError, OSError):  # not foreseen: the item's fault, told without details
                raise HTTPException(400, f"item {index}: could not read this item") from None
        return prepared

    @app.post("/v1/embeddings")
    async def embeddings(self, http_request: Request) -> dict[str, Any]:
        self._authorize(http_request)
        body = await read_body(http_request, self.limits.max_request_bytes)
        try:
            request = EmbeddingRequest.model_validate_json(body)
        except ValidationError as error:
            raise HTTPException(422, malformed_detail(error)) from None
        del body
        self._check_settings(request)
        items = request.items()
        if not items:
            raise HTTPException(400, "the request has no items")
        if len(items) > self.limits.max_items:
            raise HTTPException(413, f"{len(items)} items is over the limit of {self.limits.max_items} per request")
        media = sum(media_count(item) for item in items)
        if media > self.limits.max_media_per_request:
            raise HTTPException(
                413, f"{media} images and videos is over the limit of {self.limits.max_media_per_request} per request"
            )
        if media:
            prepared = await asyncio.get_running_loop().run_in_executor(self.pool, self._prepare, items)
        else:
            prepared = self._prepare(items)
        settings = request.settings()
        outcomes = await asyncio.gather(*(self.batch(Job(item, settings)) for item in prepared))
        bad = [f"item {index}: {outcome.problem}" for index, outcome in enumerate(outcomes) if outcome.problem]
        if bad:
            raise HTTPException(400, short_problem("; ".join(bad)))
        return embedding_response(request, outcomes, self.served_name, self.normalize)

    @app.get("/v1/models")
    async def models(self, http_request: Request) -> dict[str, Any]:
        self._authorize(http_request)
        entry = {"id": self.served_name, "object": "model", "owned_by": "plume-st", "dimensions": self.dimension}
        return {"object": "list", "data": [{**entry, "matryoshka_dimensions": self.matryoshka_dims}]}

    @app.get("/health")
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/stats")
    async def statistics(self, http_request: Request) -> dict[str, int]:
        self._authorize(http_request)
        return {**self.stats, "pid": os.getpid(), "resident_bytes": _resident_bytes()}


def build_app(
    model_name_or_path: str,
    *,
    served_name: str = "plume",
    max_batch_size: int = 16,
    batch_wait_ms: float = 10.0,
    replicas: int | None = None,
    limits: ServeLimits | None = None,
    policy: MediaPolicy | None = None,
    api_key: str | None = None,
    model_kwargs: dict[str, Any] | None = None,
) -> Any:
    """The Ray Serve application: ``replicas`` replicas (default: one per GPU, else one), one GPU each when present.

    ``model_kwargs`` (``dtype``, ``attn_implementation``) go to every replica's ``from_pretrained``.
    """
    import ray
    import torch

    gpus = int(ray.cluster_resources().get("GPU", 0)) if ray.is_initialized() else torch.cuda.device_count()
    options = {"num_gpus": 1} if gpus else {}
    deployment = PlumeEmbeddingServer.options(
        num_replicas=replicas or max(gpus, 1),
        ray_actor_options=options,
        max_ongoing_requests=8 * max_batch_size,  # Ray's default (5) would cap a batch at 5 items
    )
    arguments = (model_name_or_path, served_name, max_batch_size, batch_wait_ms, limits, policy, api_key)
    return deployment.bind(*arguments, model_kwargs=model_kwargs)


def serve_model(
    model_name_or_path: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    address: str | None = None,
    blocking: bool = True,
    **app_kwargs: Any,
) -> Any:
    """Start the server: a local Ray (on loopback when ``host`` is) by default, the cluster at ``address`` else."""
    from .ray_cluster import start_ray

    start_ray(address, host)
    serve.start(http_options={"host": host, "port": port})
    return serve.run(build_app(model_name_or_path, **app_kwargs), name="plume", route_prefix="/", blocking=blocking)
