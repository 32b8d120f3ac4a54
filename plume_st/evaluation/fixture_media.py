"""Writers of the miniature MMEB-v2 fixture: generated images, frame folders, document pages, annotation tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw


class MediaWriter:
    """Writes distinct generated media under a data root (every picture differs from every other one).

    Args:
        root: The data root.
        seed: Seed of the pixel noise.
    """

    def __init__(self, root: Path, seed: int = 0) -> None:
        self.root = Path(root)
        self.rng = np.random.default_rng(seed)

    def _picture(self, size: tuple[int, int]) -> Image.Image:
        w, h = size
        blocks = self.rng.integers(0, 256, size=(h // 8, w // 8, 3), dtype=np.uint8)
        return Image.fromarray(blocks).resize((w, h), Image.NEAREST)

    def image(self, relative: str, size: tuple[int, int] = (32, 32)) -> str:
        """Write one picture at ``root/relative``; return ``relative``."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        self._picture(size).save(path)
        return relative

    def frames(self, folder: str, count: int, size: tuple[int, int] = (32, 32)) -> str:
        """Write ``count`` frames ``frame_1.jpg`` ... into ``root/folder``; return ``folder``."""
        for i in range(1, count + 1):
            path = self.root / folder / f"frame_{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._picture(size).save(path, quality=95)
        return folder

    def page(self, relative: str, title: str) -> str:
        """Write a document page (white, a few text lines and a noisy figure) at ``root/relative``."""
        page = Image.new("RGB", (48, 64), "white")
        page.paste(self._picture((32, 24)), (8, 32))
        draw = ImageDraw.Draw(page)
        draw.text((2, 2), title[:8], fill="black")
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        page.save(path)
        return relative


def write_table(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write rows as ``.jsonl`` or ``.parquet`` (by the path's suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(list(rows)), path)
    else:
        with path.open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return path
