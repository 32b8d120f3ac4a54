"""Encoding ready items of several requests together, so that an item's failure fails only that item.

Items are grouped by the settings that must match in one ``encode`` call (side, prompt, reasoning, K). When a call
raises, the items to blame are found and the others encoded again: a :class:`~plume_st.modules.errors.PlumeInputError`
that names positions blames those items; any other exception (an ``OverflowError``, a ``RuntimeError``, a bad
setting that names no item) splits the group in halves, down to single items. Every retry holds fewer items than the
call before it, so a group of n items takes at most 2n - 1 calls.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from plume_st.modules.errors import PlumeInputError

from .request import encode_kwargs

PROBLEM_CHARS = 300


@dataclass(frozen=True)
class Job:
    """One item waiting for a batch: the ready item and the settings it must share a batch with."""

    item: Any
    settings: tuple


@dataclass
class Outcome:
    """One item's result: its embedding and prompt tokens, or the problem with it."""

    embedding: np.ndarray | None = None
    tokens: int = 0
    problem: str | None = None


def short_problem(text: str) -> str:
    """``text`` without heap addresses, at most :data:`PROBLEM_CHARS` characters."""
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", text)
    return text if len(text) <= PROBLEM_CHARS else text[: PROBLEM_CHARS - 3] + "..."


def input_error_type(model: Any) -> type[Exception]:
    """The model's own :class:`PlumeInputError` (a model loaded from a folder has its own copy of the modules)."""
    module = sys.modules.get(type(model[0]).__module__)
    return getattr(module, "PlumeInputError", PlumeInputError)


def encode_jobs(model: Any, jobs: list[Job]) -> list[Outcome]:
    """Encode jobs grouped by settings, one ``encode`` call per group while no item fails.

    Args:
        model: The PLUME ``SentenceTransformer``.
        jobs: Ready items (every item check done before) and their settings.

    Returns:
        One outcome per job, in order: an embedding, or the problem of that item alone.
    """
    outcomes = [Outcome() for _ in jobs]
    groups: dict[tuple, list[int]] = {}
    for index, job in enumerate(jobs):
        groups.setdefault(job.settings, []).append(index)
    input_error = input_error_type(model)
    for settings, members in groups.items():
        kwargs = encode_kwargs(settings, model.prompts)
        queue = [members]
        while queue:
            pending = queue.pop()
            try:
                rows = model.encode(
                    [jobs[index].item for index in pending], output_value=None, batch_size=len(pending), **kwargs
                )
            except Exception as error:
                queue.extend(_blame(error, pending, outcomes, input_error))
                continue
            for index, row in zip(pending, rows):
                outcomes[index].embedding = row["sentence_embedding"].float().cpu().numpy()
                outcomes[index].tokens = int(row["attention_mask"].sum())
    return outcomes


def _blame(error: Exception, pending: list[int], outcomes: list[Outcome], input_error: type) -> list[list[int]]:
    """Record the problem of the items ``error`` names (or of the single item), and return what to encode again."""
    typed = isinstance(error, input_error)
    problem = short_problem(error.problem if typed else f"could not embed this item ({type(error).__name__})")
    named = {p for p in (error.positions or []) if 0 <= p < len(pending)} if typed else set()
    if named:
        for offset in named:
            outcomes[pending[offset]].problem = problem
        rest = [index for offset, index in enumerate(pending) if offset not in named]
        return [rest] if rest else []
    if len(pending) == 1:
        outcomes[pending[0]].problem = problem
        return []
    half = len(pending) // 2
    return [pending[:half], pending[half:]]
