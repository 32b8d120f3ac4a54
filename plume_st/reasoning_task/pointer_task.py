"""Pointer chasing in text: a retrieval task whose answer takes one lookup per hop, each depending on the last.

A query lists a table of arrows between ``N`` one-letter symbols and asks where a walk of ``h`` hops ends::

    table:m>d;b>k;q>x;k>q;x>m;d>b. start:b. follow 3 arrows. where do you end?
    rationale: b>k. k>q. q>x.
    answer:    x

* **No shortcut by design.** The table is one cycle through all ``N`` symbols, listed in a random order: every
  symbol appears exactly once on each side of an arrow, so the bag of symbols is the same for every query and a
  walk of ``h < N`` hops never returns to its start or revisits a symbol. The answer's place in the listing is
  uniform. Chance is ``1 / N`` (``1 / (N - 1)`` for a model that knows the answer is not the start).
* **One token per symbol.** Symbols are single letters written without a space in front of them in the question
  (``table:b>k;...``, ``start:b``), so the tiny byte-level tokenizer gives each one token (tested).
* **Rationale**: one sentence per hop (``b>k.``), so the curriculum has exactly ``h`` segments to replace.
* **Candidates**: the ``N`` symbols; the document of symbol ``s`` is ``s`` itself.

:func:`write_pointer_task` writes the splits as UME-R1 JSONL (``train``, ``validation``, ``test``; every split has
equal shares of each hop count, the evaluation splits per hop count in turn), read by the existing
``read_ume_sft``, collator and segmentation. Tables are drawn from one seeded stream and a repeated table is
skipped, so no table appears in two splits. The same seed writes the same bytes.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .task_files import TaskFiles

SYMBOLS = "bcdfghjkmnpqrstvwxz"
POINTER_SPLITS = ("train", "validation", "test")
_TABLE = re.compile(r"table:([^.]*)\. start:(\w)\. follow (\d+) arrows?\.")


@dataclass(frozen=True)
class PointerQuery:
    """One pointer-chasing question.

    Attributes:
        table: ``table[s]`` is the symbol ``s`` points to (one cycle through every symbol).
        order: The order the arrows are listed in (their source symbols).
        start: The symbol the walk starts at.
        hops: Arrows to follow.
    """

    table: dict[str, str]
    order: tuple[str, ...]
    start: str
    hops: int

    @property
    def path(self) -> list[str]:
        """The symbols visited after the start, one per hop."""
        path, symbol = [], self.start
        for _ in range(self.hops):
            symbol = self.table[symbol]
            path.append(symbol)
        return path

    @property
    def answer(self) -> str:
        return self.path[-1]

    @property
    def key(self) -> str:
        """The table as a string, the same for every listing order (splits never share one)."""
        return ";".join(f"{source}>{self.table[source]}" for source in sorted(self.table))

    @property
    def text(self) -> str:
        arrows = ";".join(f"{source}>{self.table[source]}" for source in self.order)
        noun = "arrow" if self.hops == 1 else "arrows"
        return f"table:{arrows}. start:{self.start}. follow {self.hops} {noun}. where do you end?"

    @property
    def rationale(self) -> tuple[str, ...]:
        """One sentence per hop, e.g. ``("b>k.", " k>q.")`` (a space starts every sentence after the first)."""
        sources = [self.start, *self.path[:-1]]
        return tuple(("" if index == 0 else " ") + f"{source}>{self.table[source]}."
                     for index, source in enumerate(sources))  # fmt: skip


def sample_query(num_symbols: int, hops: int, rng: random.Random) -> PointerQuery:
    """A random question: a random cycle through the first ``num_symbols`` symbols, listed in a random order.

    Raises:
        ValueError: If ``num_symbols`` is outside [3, len(SYMBOLS)] or ``hops`` outside [1, num_symbols - 1].
    """
    if not 3 <= num_symbols <= len(SYMBOLS):
        raise ValueError(f"num_symbols must lie in [3, {len(SYMBOLS)}], got {num_symbols}")
    if not 1 <= hops < num_symbols:
        raise ValueError(f"hops must lie in [1, {num_symbols - 1}] (a walk never returns to its start), got {hops}")
    cycle = list(SYMBOLS[:num_symbols])
    rng.shuffle(cycle)
    table = {cycle[index]: cycle[(index + 1) % num_symbols] for index in range(num_symbols)}
    order = list(table)
    rng.shuffle(order)
    return PointerQuery(table, tuple(order), rng.choice(cycle), hops)


def solve(text: str) -> str:
    """The answer of a question, read from its words alone (the table, the start and the hop count).

    Raises:
        ValueError: If ``text`` is not a pointer-chasing question.
    """
    match = _TABLE.search(text)
    if match is None:
        raise ValueError(f"not a pointer-chasing question: {text[:80]!r}")
    table = dict(arrow.split(">") for arrow in match.group(1).split(";"))
    symbol = match.group(2)
    for _ in range(int(match.group(3))):
        symbol = table[symbol]
    return symbol


def _side(human: str, rationale: str, answer: str) -> dict[str, Any]:
    gpt = f"<think>{rationale}</think><answer>{answer}</answer>"
    return {"conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}], "image": [],
            "video": []}  # fmt: skip


def query_record(query: PointerQuery, num_symbols: int) -> dict[str, Any]:
    """The UME-R1 record of a question (``label``: the answer's index among the candidates)."""
    answer = query.answer
    return {
        "dataset_name": f"pointer_{query.hops}hop",
        "qry": _side(query.text, "".join(query.rationale), answer),
        "pos": _side(answer, f"The symbol is {answer}.", answer),
        "steps": query.hops,
        "label": SYMBOLS[:num_symbols].index(answer),
        "scene": query.key,
        "start": query.start,
    }


def write_pointer_task(
    out_dir: str | Path,
    sizes: dict[str, int] | None = None,
    num_symbols: int = 12,
    max_hops: int = 4,
    seed: int = 0,
) -> TaskFiles:
    """Write the three splits and ``candidates.json`` (the symbols; candidate ``i`` is label ``i``).

    Args:
        out_dir: The task folder.
        sizes: Records per split (default train 4000, validation 200, test 400).
        num_symbols: Symbols per table (the candidates; chance is ``1 / num_symbols``).
        max_hops: Hop counts 1..``max_hops`` in equal shares in every split.
        seed: Seed of the tables and walks; the same seed writes the same bytes.

    Returns:
        The :class:`~plume_st.reasoning_task.task_files.TaskFiles` (its ``control`` split is not written).

    Raises:
        ValueError: For an unknown split, a negative size, or ``num_symbols`` / ``max_hops`` out of range.
    """
    sizes = {"train": 4000, "validation": 200, "test": 400, **(sizes or {})}
    unknown = set(sizes) - set(POINTER_SPLITS)
    if unknown:
        raise ValueError(f"unknown splits {sorted(unknown)} in sizes; choose from {POINTER_SPLITS}")
    if any(not isinstance(size, int) or size < 0 for size in sizes.values()):
        raise ValueError(f"split sizes must be non-negative integers, got {sizes}")
    if not 1 <= max_hops < num_symbols:
        raise ValueError(f"max_hops must lie in [1, num_symbols - 1], got {max_hops} with {num_symbols} symbols")
    files = TaskFiles(Path(out_dir))
    files.root.mkdir(parents=True, exist_ok=True)
    rng, seen = random.Random(seed), set()
    for split in ("test", "validation", "train"):  # evaluation tables first: train skips them
        with open(files.split(split), "w", encoding="utf8") as handle:
            for index in range(sizes[split]):
                while True:
                    query = sample_query(num_symbols, 1 + index % max_hops, rng)
                    if query.key not in seen:
                        seen.add(query.key)
                        break
                handle.write(json.dumps(query_record(query, num_symbols)) + "\n")
    files.candidates.write_text(json.dumps(list(SYMBOLS[:num_symbols]), indent=1) + "\n", encoding="utf8")
    return files
