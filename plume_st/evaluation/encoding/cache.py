"""Embeddings already computed, keyed by :attr:`EvalItem.key`, on disk so an interrupted run resumes.

A cache folder (one per dataset and side, e.g. ``OUT/cache/MSR-VTT/candidate/``) holds ``.npz`` files, each with a
``keys`` array and a ``vectors`` matrix. Every write is a new file, moved into place atomically, so a run killed
mid-way leaves only complete files, and several ranks can write into one folder at the same time. A cache without a
folder lives in memory only (the in-training evaluator uses that).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class EmbeddingCache:
    """Vectors by item key, read from and written to ``folder`` (``None``: memory only).

    Args:
        folder: The cache folder, created on first write.
        rank: Written into file names, for reading logs; any rank may read any file.
    """

    def __init__(self, folder: Path | None = None, rank: int = 0) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.rank = rank
        self._vectors: dict[str, np.ndarray] = {}
        self._files_read: set[str] = set()
        self.refresh()

    def refresh(self) -> None:
        """Read the files other processes (or earlier runs) wrote since the last refresh."""
        if self.folder is None or not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("*.npz")):
            if path.name in self._files_read:
                continue
            with np.load(path, allow_pickle=False) as data:
                self._vectors.update(zip(data["keys"].tolist(), data["vectors"]))
            self._files_read.add(path.name)

    def __contains__(self, key: str) -> bool:
        return key in self._vectors

    def __len__(self) -> int:
        return len(self._vectors)

    def missing(self, keys: Sequence[str]) -> list[str]:
        """The keys (in order, without repeats) that have no vector yet."""
        return [k for k in dict.fromkeys(keys) if k not in self._vectors]

    def write(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Store vectors (one row per key); on disk as one new file."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys but {len(vectors)} vectors")
        self._vectors.update(zip(keys, vectors))
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"rank{self.rank}-{time.time_ns()}-{uuid.uuid4().hex[:8]}.npz"
        tmp = self.folder / f".{name}.tmp"
        with tmp.open("wb") as f:
            np.savez(f, keys=np.asarray(list(keys), dtype=str), vectors=vectors)
        os.replace(tmp, self.folder / name)
        self._files_read.add(name)

    def get(self, keys: Sequence[str]) -> np.ndarray:
        """Vectors of ``keys`` as a matrix (one row per key).

        Raises:
            KeyError: A key has no vector.
        """
        missing = self.missing(keys)
        if missing:
            raise KeyError(f"{len(missing)} items have no cached embedding (first: {missing[0]}).")
        return np.stack([self._vectors[k] for k in keys])

    def wait_for(self, keys: Sequence[str], timeout: float, poll: float = 0.2) -> None:
        """Re-read the folder until every key has a vector (other ranks encode their shards meanwhile).

        Raises:
            TimeoutError: After ``timeout`` seconds with keys still missing.
        """
        deadline = time.monotonic() + timeout
        while self.missing(keys):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(self.missing(keys))} embeddings still missing in {self.folder} after {timeout:.0f} s; "
                    "did every rank run?"
                )
            time.sleep(poll)
            self.refresh()
