"""Deterministic generated images and frame-list videos for the tests."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def draw_image(seed: int, size: tuple[int, int] = (64, 48)) -> Image.Image:
    """A deterministic RGB image with a coloured shape."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(image)
    x0, y0 = int(rng.integers(0, size[0] // 2)), int(rng.integers(0, size[1] // 2))
    draw.rectangle([x0, y0, x0 + size[0] // 3, y0 + size[1] // 3], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    return image


def draw_frames(seed: int, count: int = 4, size: tuple[int, int] = (56, 56)) -> list[Image.Image]:
    """A short deterministic video as a frame list (a square moving right)."""
    frames = []
    for t in range(count):
        image = Image.new("RGB", size, (20, 20 + 10 * seed % 200, 60))
        ImageDraw.Draw(image).rectangle([4 + 8 * t, 10, 20 + 8 * t, 26], fill=(250, 200, 0))
        frames.append(image)
    return frames
