"""The scenes of the reasoning task: a 3 x 3 grid of coloured shapes, nine different objects, drawn with PIL.

Every cell is 28 x 28 pixels, so with Qwen-VL's 14-pixel patches merged 2 x 2 each cell becomes exactly one visual
token and the 84 x 84 image needs no resizing. An object is one of 18 classes (6 colours x 3 shapes); a scene holds
nine different classes, so "the red circle" names at most one cell.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

from plume_st.training.synthetic_data import CLASSES, COLOURS

GRID = 3
CELL = 28
IMAGE_SIZE = GRID * CELL
ROWS = ("top", "middle", "bottom")
COLUMNS = ("left", "middle", "right")
MOVES = {"right": (0, 1), "left": (0, -1), "up": (-1, 0), "down": (1, 0)}


def class_name(index: int) -> str:
    """The answer text of a class: ``"a red circle"``."""
    colour, shape = CLASSES[index]
    return f"a {colour} {shape}"


def cell_name(cell: int) -> str:
    """The position of a cell in words: ``"the top row, left column"``."""
    row, column = divmod(cell, GRID)
    return f"the {ROWS[row]} row, {COLUMNS[column]} column"


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

    def cell_of(self, class_index: int) -> int:
        return self.layout.index(class_index)

    def draw(self, rng: random.Random) -> Image.Image:
        """The scene on a white background; shade, size and position jittered per object."""
        image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        for cell, class_index in enumerate(self.layout):
            colour, shape = CLASSES[class_index]
            row, column = divmod(cell, GRID)
            shade = tuple(max(0, min(255, value + rng.randint(-20, 20))) for value in COLOURS[colour])
            radius = rng.uniform(9.0, 12.0)
            cx = column * CELL + CELL / 2 + rng.uniform(-1.5, 1.5)
            cy = row * CELL + CELL / 2 + rng.uniform(-1.5, 1.5)
            box = (cx - radius, cy - radius, cx + radius, cy + radius)
            if shape == "circle":
                draw.ellipse(box, fill=shade)
            elif shape == "square":
                draw.rectangle(box, fill=shade)
            else:
                draw.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)], fill=shade)
        return image
