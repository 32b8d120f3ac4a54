"""The questions of the reasoning task and their rationales, one sentence per reasoning step.

Every query shows one object of the scene in its image and lists the whole grid in its text.

* **multi-step** (2-4 steps): "... Start at the shape in the picture. Go right, then down. Which shape is there?"
  The rationale finds the pictured object in the grid (step 1), then follows each move (one step each); the last
  sentence names the object it reaches. Moves never leave the grid, never undo the previous move, and never end on
  the starting cell.
* **one-step** (the control): "... Which shape is in the picture?" The rationale is one sentence that names the
  pictured object. Reasoning should not matter here.

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
        start: The cell whose object the image shows.
        text: The question (the grid in words, then the task).
        rationale: One sentence per reasoning step.
        answer: Class index of the answer.
    """

    scene: GridScene
    start: int
    text: str
    rationale: tuple[str, ...]
    answer: int

    @property
    def steps(self) -> int:
        """Reasoning steps (``len(rationale)``)."""
        return len(self.rationale)


def _walk(start: int, num_moves: int, rng: random.Random) -> tuple[list[str], list[int]] | None:
    """A random walk of ``num_moves`` in-grid moves without immediate reversals; ``None`` if it ends at ``start``."""
    moves, cells, cell = [], [], start
    for _ in range(num_moves):
        back = _OPPOSITE[moves[-1]] if moves else None
        move = rng.choice([move for move in MOVES if move != back and step(cell, move) is not None])
        cell = step(cell, move)
        moves.append(move)
        cells.append(cell)
    return None if cell == start else (moves, cells)


def _join_moves(moves: list[str]) -> str:
    words = [f"go {move}" for move in moves]
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + ", then " + words[-1]
    return text[0].upper() + text[1:]


def multi_step_query(scene: GridScene, num_steps: int, rng: random.Random) -> Query:
    """A question of ``num_steps`` reasoning steps (1 to find the pictured object, one per move) about ``scene``.

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
    text = f"{scene.describe()} Start at the shape in the picture. {_join_moves(moves)}. Which shape is there?"
    rationale = [f"The picture shows {class_name(scene.layout[start])}, which is at {cell_name(start)}."]
    for index, (move, cell) in enumerate(zip(moves, cells)):
        where = f"One cell {move} is {cell_name(cell)}"
        last = index == len(moves) - 1
        rationale.append(f"{where}, which holds {class_name(scene.layout[cell])}." if last else f"{where}.")
    return Query(scene, start, text, tuple(rationale), scene.layout[cells[-1]])


def one_step_query(scene: GridScene, rng: random.Random) -> Query:
    """The control question: the pictured object itself (one reasoning step)."""
    start = rng.randrange(GRID * GRID)
    text = f"{scene.describe()} Which shape is in the picture?"
    rationale = (f"The picture shows {class_name(scene.layout[start])}.",)
    return Query(scene, start, text, rationale, scene.layout[start])
