"""The ``/v1/embeddings`` request (vLLM's multimodal schema plus PLUME's settings) and its validation.

A request carries either ``input`` (a string or a list of strings, always text) or ``messages`` (one conversation,
or a list of conversations, one per item; content parts ``text``, ``image_url``, ``video_url``, with ``data:`` URIs,
or URLs and paths where the server's media policy allows them).
``encoding_format`` is ``float`` or ``base64`` (little-endian float32, as OpenAI's), ``dimensions`` (1 .. the
embedding size) truncates the vectors and renormalises them when the model normalises (OpenAI's and vLLM's
semantics). PLUME's own fields: ``input_type`` (``query`` / ``document``:
the model's ``encode_query`` / ``encode_document`` prompts), ``prompt`` (an instruction), ``reasoning``,
``latent_steps``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator


@dataclass(frozen=True)
class ServeLimits:
    """What one request may ask for; every limit is checked before the work it guards.

    Args:
        max_items: Items per request.
        max_request_bytes: Size of the request body (from ``Content-Length``, and while the body streams in).
        max_image_pixels: Pixels of one image or video frame (read from the header, before decoding).
        max_media_per_item: Images and videos in one item.
        max_media_per_request: Images and videos in one request.
        max_video_frames: Frames of one video (from its container, before decoding).
        max_latent_steps: Largest ``latent_steps`` a request may ask for.
        max_reasoning_tokens: Longest rationale in ``"explicit"`` mode (the model's ``max_new_tokens`` is capped).
        allow_explicit_reasoning: Whether requests may ask for ``reasoning: "explicit"`` (token-by-token decoding).
    """

    max_items: int = 256
    max_request_bytes: int = 64 * 1024 * 1024
    max_image_pixels: int = 4096 * 4096
    max_media_per_item: int = 16
    max_media_per_request: int = 64
    max_video_frames: int = 10_000
    max_latent_steps: int = 16
    max_reasoning_tokens: int = 512
    allow_explicit_reasoning: bool = False


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``."""

    model: str | None = None
    input: str | list[str] | None = None
    messages: list[dict[str, Any]] | list[list[dict[str, Any]]] | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    input_type: Literal["query", "document"] | None = None
    prompt: str | None = None
    reasoning: Literal["latent", "none", "explicit"] | None = None
    latent_steps: int | None = Field(default=None, ge=0)
    user: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> EmbeddingRequest:
        if (self.input is None) == (self.messages is None):
            raise ValueError("give exactly one of 'input' and 'messages'")
        return self

    def items(self) -> list[Any]:
        """The request's items as ``encode`` inputs: strings, or one conversation per item."""
        if self.input is not None:
            return [self.input] if isinstance(self.input, str) else list(self.input)
        if self.messages and isinstance(self.messages[0], dict):
            return [self.messages]
        return list(self.messages or [])

    def settings(self) -> tuple[str | None, str | None, str | None, int | None]:
        """What must match for items to share a batch: side, prompt, reasoning, K."""
        return (self.input_type, self.prompt, self.reasoning, self.latent_steps)


def encode_kwargs(settings: tuple[str | None, str | None, str | None, int | None], prompts: dict) -> dict[str, Any]:
    """``encode`` keyword arguments for one group of settings (the side selects the model's stored prompt)."""
    side, prompt, reasoning, latent_steps = settings
    kwargs: dict[str, Any] = {}
    if prompt is not None:
        kwargs["prompt"] = prompt
    elif side is not None and prompts.get(side):
        kwargs["prompt_name"] = side
    if reasoning is not None:
        kwargs["reasoning"] = reasoning
    if latent_steps is not None:
        kwargs["latent_steps"] = latent_steps
    return kwargs
