"""The questions of the reasoning task and their rationales, one sentence per reasoning step.

* **multi-step** (2-4 steps): "Start at the red circle. Go right, then down. Which shape is there?" The rationale
  locates the named object (step 1), then follows each move (one step each); the last sentence names the object
  it reaches. Moves never leave the grid, never undo the previous move, and never end on the starting cell.
* **one-step** (the control): "Which shape is in the top row, left column?" The rationale is one sentence that
  reads the cell. Reasoning should not matter here.

The answer of every question is one of the 18 class names ("a blue square"); the candidates are all 18.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .grid_scene import GRID, MOVES, GridScene, cell_name, class_name, step

MIN_STEPS, MAX_STEPS = 2, 4
_OPPOSITE = {"right": "left", "left": "right", "up": "down", "down": "up"}


@dataclass(frozen=True)
class Query:
    """One question about a scene.

    Attributes:
        scene: The grid.
        text: The question.
        rationale: One sentence per reasoning step.
        answer: Class index of the answer.
        steps: Reasoning steps (``len(rationale)``).
    """

    scene: GridScene
    text: str
    rationale: tuple[str, ...]
    answer: int

    @property
    def steps(self) -> int:
        return len(self.rationale)


def _walk(start: int, num_moves: int, rng: random.Random) -> tuple[list[str], list[int]] | None:
    """A random walk of ``num_moves`` in-grid moves without immediate reversals; ``None`` if it ends at ``start``."""
    moves, cells, cell = [], [], start
    for _ in range(num_moves):
        back = _OPPOSITE[moves[-1]] if moves else None
        options = [move for move in MOVES if move != back and step(cell, move) is not None]
        move = rng.choice(options)
        cell = step(cell, move)
        moves.append(move)
        cells.append(cell)
    return None if cell == start else (moves, cells)


def _join_moves(moves: list[str]) -> str:
    words = [f"go {move}" for move in moves]
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + ", then " + words[-1]
    return text[0].upper() + text[1:]


def multi_step_query(scene: GridScene, num_steps: int, rng: random.Random) -> Query:
    """A question of ``num_steps`` reasoning steps (1 to locate the start, one per move) about ``scene``.

    Raises:
        ValueError: If ``num_steps`` lies outside [2, 4].
    """
    if not MIN_STEPS <= num_steps <= MAX_STEPS:
        raise ValueError(f"num_steps must lie in [{MIN_STEPS}, {MAX_STEPS}], got {num_steps}")
    while True:
        start = rng.randrange(GRID * GRID)
        walk = _walk(start, num_steps - 1, rng)
        if walk is not None:
            break
    moves, cells = walk
    name = class_name(scene.layout[start])
    text = f"Start at the {name[2:]}. {_join_moves(moves)}. Which shape is there?"
    rationale = [f"The {name[2:]} is in {cell_name(start)}."]
    for index, (move, cell) in enumerate(zip(moves, cells)):
        where = f"One cell {move} is {cell_name(cell)}"
        last = index == len(moves) - 1
        rationale.append(f"{where}, which holds {class_name(scene.layout[cell])}." if last else f"{where}.")
    return Query(scene, text, tuple(rationale), scene.layout[cells[-1]])


def one_step_query(scene: GridScene, rng: random.Random) -> Query:
    """The control question: the object at a named cell (one reasoning step)."""
    cell = rng.randrange(GRID * GRID)
    where = cell_name(cell)
    text = f"Which shape is in {where}?"
    rationale = (f"{where[0].upper()}{where[1:]} holds {class_name(scene.layout[cell])}.",)
    return Query(scene, text, rationale, scene.layout[cell])
