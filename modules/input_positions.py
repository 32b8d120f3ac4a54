"""Where each item of a sub-batch stood in the list the user passed to ``encode``, for error messages.

``SentenceTransformer.encode`` sorts the inputs by length and hands :meth:`PlumeInput.preprocess` sub-batches of the
sorted list, so a position inside ``preprocess``'s batch is not the user's position. Before sorting, ``encode`` asks
``model._input_length(item)`` of every input in the user's order; :class:`InputPositions` answers that call (it is
installed on the model instance, shadowing the static method, and returns the same value) and records the order.
``preprocess`` then finds each item of its batch by identity in that record.

Where that position cannot be known the error names the item by its description alone: in a model copied into
sentence-transformers' worker processes (which see chunks of the list) and in distributed inference (shards). When
``preprocess`` is called directly (no ``encode``), its own batch index is the caller's index and is named.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch
from sentence_transformers.base.model import BaseModel


class InputPositions:
    """Records the order in which ``encode`` measured its inputs and looks sub-batch items up in it."""

    def __init__(self) -> None:
        self.enabled = True
        self._pending: list[Any] = []
        self._current: list[Any] = []
        self._index: dict[int, list[int]] = {}
        self._remaining = 0

    def install(self, model: Any) -> None:
        """Answer ``model._input_length`` (called by ``encode`` for every input, in order, before sorting)."""
        model._input_length = self.record

    def record(self, sample: Any) -> int:
        """Remember ``sample``'s place and return sentence-transformers' own length estimate of it.

        ``preprocess`` takes the record first thing (:meth:`locate`), before it can fail; if measuring fails here,
        the call is over before ``preprocess`` and its partial record is dropped, so no record outlives its call.
        """
        try:
            length = BaseModel._input_length(sample)
        except Exception:
            self._pending = []
            raise
        self._pending.append(sample)
        return length

    def locate(self, batch: list[Any]) -> tuple[list[str], list[list[int] | None]]:
        """How an error names each item of ``batch``, and the item's position(s) in the user's list.

        The name is the position(s) in the user's list when known, else the index in ``batch`` when ``preprocess``
        was called directly, else nothing (``"An input"``); positions are ``None`` where unknown.
        """
        if self._pending:
            self._current, self._pending = self._pending, []
            self._index = defaultdict(list)
            for position, sample in enumerate(self._current):
                self._index[id(sample)].append(position)
            self._remaining = len(self._current)
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if not self.enabled or distributed:
            return ["An input"] * len(batch), [None] * len(batch)
        found = [self._index.get(id(item)) for item in batch]
        if not self._current or any(hit is None for hit in found):
            return [f"Input {index} of the batch given to preprocess" for index in range(len(batch))], [
                [index] for index in range(len(batch))
            ]
        names = [
            f"Input {hit[0]} of the inputs given to encode"
            if len(hit) == 1
            else f"Inputs {', '.join(map(str, hit))} (one object) of the inputs given to encode"
            for hit in found
        ]
        return names, found

    def done(self, batch_size: int) -> None:
        """A sub-batch was processed; forget the recorded inputs after the last one. (After a failed batch they are
        kept until the next ``encode``: sentence-transformers retries a batch whose ``preprocess`` raised
        ``TypeError``, and the retry must name the same positions.)"""
        self._remaining -= batch_size
        if self._remaining <= 0:
            self._current, self._index, self._remaining = [], {}, 0

    def __getstate__(self) -> dict[str, Any]:
        # A pickled copy lives in a worker process that sees chunks of the user's list: positions unknown there.
        return {"enabled": False, "_pending": [], "_current": [], "_index": {}, "_remaining": 0}
