"""A model's identity for the embedding cache: a hash over its weights, so a resumed run never mixes two models.

The fingerprint covers every parameter's name, shape, dtype and sum (rounded, so the same weights on another device
give the same value) and, for large models, a strided sample of each parameter's values (all values when the model is
small), plus the model class, the resolved path or Hub id when known and the package versions. A checkpoint
retrained in place gets another fingerprint; the same weights loaded again get the same one.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

FULL_HASH_LIMIT = 4_000_000  # models with at most this many parameter values are hashed entirely
SAMPLE_PER_PARAMETER = 4096  # otherwise this many evenly strided values of each parameter


class FingerprintError(ValueError):
    """The model exposes no parameters to fingerprint."""


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def resolve_source(name: str) -> str:
    """An existing folder as its absolute path, anything else (a Hub id) unchanged."""
    path = Path(name)
    return str(path.resolve()) if path.exists() else name


def model_fingerprint(model: Any, source: str | None = None) -> str:
    """A stable id of ``model``'s weights (see the module docstring).

    Args:
        model: A ``torch.nn.Module`` (e.g. a ``SentenceTransformer``).
        source: Where it was loaded from (resolved with :func:`resolve_source`), when known.

    Raises:
        FingerprintError: ``model`` has no ``named_parameters`` or no parameters.
    """
    import torch

    if not callable(getattr(model, "named_parameters", None)):
        raise FingerprintError(f"{type(model).__name__} has no parameters to fingerprint.")
    params = [(name, p.detach()) for name, p in model.named_parameters()]
    if not params:
        raise FingerprintError(f"{type(model).__name__} has no parameters to fingerprint.")
    full = sum(p.numel() for _, p in params) <= FULL_HASH_LIMIT
    h = hashlib.sha256()
    for name, p in params:
        flat = p.reshape(-1)
        total = float(torch.sum(flat, dtype=torch.float64)) if flat.numel() else 0.0
        h.update(f"{name}|{tuple(p.shape)}|{p.dtype}|{total:.8g}|".encode())
        if not full:
            flat = flat[:: max(1, flat.numel() // SAMPLE_PER_PARAMETER)]
        h.update(flat.float().cpu().numpy().tobytes())
    dtypes = ",".join(sorted({str(p.dtype).removeprefix("torch.") for _, p in params}))
    versions = f"plume-st {_version('plume-st')}, sentence-transformers {_version('sentence-transformers')}"
    where = resolve_source(source) if source else "?"
    return f"{type(model).__name__} {where} [{dtypes}; {versions}] sha256:{h.hexdigest()[:32]}"
