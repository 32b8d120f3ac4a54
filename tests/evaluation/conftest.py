"""Shared pieces of the evaluation tests: the miniature MMEB-v2 and a fake encoder (a test double for scoring).

The fake encoder derives each embedding from the identity of its input (text plus the pixels of its images and
frames), so tests can give chosen inputs chosen vectors (the oracle), make every vector equal (chance level), or get
deterministic pseudo-random vectors, and it counts what it encodes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from plume_st.evaluation.fixture import write_fixture


def input_identity(inp: Any) -> str:
    """Hash of an ``encode`` input: its text and the pixels of its image or frames."""
    h = hashlib.sha1()
    if isinstance(inp, str):
        inp = {"text": inp}
    elif isinstance(inp, Image.Image):
        inp = {"image": inp}
    h.update(inp.get("text", "").encode())
    for img in ([inp["image"]] if "image" in inp else []) + list(inp.get("video", [])):
        h.update(img.tobytes())
    return h.hexdigest()


class FakeEncoder:
    """Stands in for a sentence-transformers model in scoring tests.

    Args:
        table: Input identity -> vector (inputs not in it get their pseudo-random vector).
        constant: Return the same vector for every input.
        dim: Embedding size.
        fail_after: Raise ``RuntimeError`` when more than this many items would have been encoded (an interrupt).
    """

    def __init__(self, table=None, constant=False, dim=16, fail_after=None):
        self.table, self.constant, self.dim, self.fail_after = table or {}, constant, dim, fail_after
        self.encoded = 0
        self.kwargs: list[dict] = []

    def vector(self, identity: str) -> np.ndarray:
        if self.constant:
            return np.ones(self.dim, dtype=np.float32)
        if identity in self.table:
            return np.asarray(self.table[identity], dtype=np.float32)
        seed = int(identity[:12], 16)
        return np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)

    def encode(self, inputs, batch_size=32, show_progress_bar=None, convert_to_numpy=True, **kwargs):
        if self.fail_after is not None and self.encoded + len(inputs) > self.fail_after:
            raise RuntimeError("interrupted")
        self.kwargs.append(kwargs)
        self.encoded += len(inputs)
        return np.stack([self.vector(input_identity(x)) for x in inputs])


class ModuleEncoder(torch.nn.Module):
    """A :class:`FakeEncoder` inside a ``torch.nn.Module`` with one weight, so the runner can fingerprint it.

    Args:
        weight: The value of its single 2 x 2 parameter (changing it in place is "retraining").
        **kwargs: Passed to :class:`FakeEncoder`.
    """

    def __init__(self, weight: float = 1.0, **kwargs: Any) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 2, bias=False)
        torch.nn.init.constant_(self.layer.weight, weight)
        self.fake = FakeEncoder(**kwargs)

    def encode(self, inputs, **kwargs):
        return self.fake.encode(inputs, **kwargs)


@pytest.fixture(scope="session")
def mini_mmeb(tmp_path_factory) -> Path:
    """The miniature MMEB-v2, written once per session (read-only for tests)."""
    root = tmp_path_factory.mktemp("mini_mmeb")
    write_fixture(root)
    return root


@pytest.fixture
def fake_encoder():
    """The :class:`FakeEncoder` class."""
    return FakeEncoder


@pytest.fixture
def module_encoder():
    """The :class:`ModuleEncoder` class."""
    return ModuleEncoder


@pytest.fixture
def identity():
    """The :func:`input_identity` function."""
    return input_identity
