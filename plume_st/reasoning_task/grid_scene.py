"""The scenes of the reasoning task: a 3 x 3 grid of nine different coloured shapes, written out in the query's text,
and one of them, the starting object, drawn in the query's image.

An object is one of 18 classes (6 colours x 3 shapes); a scene holds nine different classes, so a class names at
most one cell. The grid is given as text ("top left: a blue square. top middle: ...") and the image shows only the
starting object (a shape drawn with PIL, jittered in shade, size and position), so answering needs the image (which
object?) and the text (where is it, and what lies where the moves lead?).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image

from plume_st.training.data.synthetic_data import CLASSES, draw_shape

GRID = 3
ROWS = ("top", "middle", "bottom")
COLUMNS = ("left", "middle", "right")
MOVES = {"right": (0, 1), "left": (0, -1), "up": (-1, 0), "down": (1, 0)}


def class_name(index: int) -> str:
    """The answer text of a class: ``"a red circle"``."""
    colour, shape = CLASSES[index]
    return f"a {colour} {shape}"


def cell_name(cell: int) -> str:
    """The label of a cell: ``"top left"``."""
    row, column = divmod(cell, GRID)
    return f"{ROWS[row]} {COLUMNS[column]}"


def step(cell: int, move: str) -> int | None:
    """The cell one move away, or ``None`` when the move leaves the grid."""
    row, column = divmod(cell, GRID)
    d_row, d_column = MOVES[move]
    row, column = row + d_row, column + d_column
    return row * GRID + column if 0 <= row < GRID and 0 <= column < GRID else None


@dataclass(frozen=True)
class GridScene:
    """Nine different classes in reading order (``layout[cell]`` is the class index of that cell)."""

    layout: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.layout) != GRID * GRID or len(set(self.layout)) != len(self.layout):
            raise ValueError(f"a scene needs {GRID * GRID} different class indices, got {self.layout}")
        if not all(0 <= index < len(CLASSES) for index in self.layout):
            raise ValueError(f"class indices must lie in [0, {len(CLASSES)}), got {self.layout}")

    @classmethod
    def sample(cls, rng: random.Random) -> GridScene:
        """A scene of nine classes drawn without replacement."""
        return cls(tuple(rng.sample(range(len(CLASSES)), GRID * GRID)))

    @property
    def key(self) -> str:
        """A string identifying the layout (the leakage checks compare these)."""
        return "-".join(str(index) for index in self.layout)

    def describe(self) -> str:
        """The grid in words, cell by cell in reading order: ``"top left: a blue square. top middle: ..."``."""
        return " ".join(f"{cell_name(cell)}: {class_name(index)}." for cell, index in enumerate(self.layout))

    def draw(self, cell: int, rng: random.Random) -> Image.Image:
        """The 56 x 56 image of the object in ``cell`` (white background, jittered shade, size and position)."""
        colour, shape = CLASSES[self.layout[cell]]
        return draw_shape(colour, shape, rng)
