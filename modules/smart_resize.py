"""The authors' image resizing, for the official profile: qwen-vl-utils' ``fetch_image`` before the processor.

The authors' evaluation resizes every image with PIL before their processor sees it: both sides are rounded to the
nearest multiple of ``factor`` (28 for Qwen2-VL: patch 14 x merge 2), and if the pixel count then falls outside
``[min_pixels, max_pixels]`` the image is scaled, keeping its aspect ratio, to the largest grid below the maximum
(sides floored) or the smallest above the minimum (sides ceiled); the resampling is PIL's bicubic. The processor then
finds the size already on its grid and does not resize again. transformers 5's processor would otherwise resize with
torchvision's interpolation, which differs slightly from PIL's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class SmartResize:
    """Resize images as qwen-vl-utils' ``smart_resize`` + ``fetch_image`` do.

    Args:
        factor: Both sides become multiples of it (the processor's patch size x merge size).
        min_pixels: Fewest pixels of the resized image.
        max_pixels: Most pixels of the resized image.
    """

    factor: int
    min_pixels: int
    max_pixels: int

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The ``(width, height)`` an image of this size is resized to."""
        factor = self.factor
        new_width = max(factor, round(width / factor) * factor)
        new_height = max(factor, round(height / factor) * factor)
        if new_width * new_height > self.max_pixels:
            shrink = math.sqrt(width * height / self.max_pixels)
            new_width = max(factor, math.floor(width / shrink / factor) * factor)
            new_height = max(factor, math.floor(height / shrink / factor) * factor)
        elif new_width * new_height < self.min_pixels:
            grow = math.sqrt(self.min_pixels / (width * height))
            new_width = math.ceil(width * grow / factor) * factor
            new_height = math.ceil(height * grow / factor) * factor
        return new_width, new_height

    def __call__(self, image: Image.Image) -> Image.Image:
        """``image`` resized with PIL's bicubic filter (unchanged when it already has its size)."""
        size = self.size(*image.size)
        return image if size == image.size else image.resize(size, Image.Resampling.BICUBIC)
