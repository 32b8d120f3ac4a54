"""Pooling of a PLUME model: the state at ``<gen_emb>`` (or at ``<disc_emb>`` in single-pass mode), L2-normalised.

Reads ``gen_state`` written by :class:`~latent_rollout.LatentRollout` in the ``"latent"`` and ``"explicit"``
modes, and the anchor (``anchor_embedding``, the state at ``<disc_emb>``) in the ``"none"`` mode, and writes
``sentence_embedding`` in float32 whatever the model's dtype: a bfloat16 or float16 model hands its callers (and the
training losses) float32 embeddings, as a float32 model does.
"""

from __future__ import annotations

from typing import Any

import torch
from sentence_transformers.base.modules import Module
from torch.nn import functional as F

from .source_export import copy_module_sources


class PlumePooling(Module):
    """Selects the embedding token's state and L2-normalises it.

    Args:
        normalize: Whether to L2-normalise (PLUME embeddings are compared by cosine; keep it on).
    """

    config_keys: list[str] = ["normalize"]

    def __init__(self, normalize: bool = True) -> None:
        super().__init__()
        self.normalize = normalize

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        key = "anchor_embedding" if features.get("reasoning", "latent") == "none" else "gen_state"
        if key not in features:
            raise ValueError(f"PlumePooling needs {key!r} in the features; is a LatentRollout module before it?")
        # Upcast of one (B, D) state: the norm is taken in float32 (a bfloat16 norm is off by up to 0.4 %), and
        # the caller gets float32, which sentence-transformers' similarity functions, numpy and FAISS expect.
        embedding: torch.Tensor = features[key].float()
        features["sentence_embedding"] = F.normalize(embedding, p=2, dim=-1) if self.normalize else embedding
        return features

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        self.save_config(output_path)
        copy_module_sources(type(self), f"{output_path}/..")
