"""Pre-extracted video frames: list a frame folder and take evenly spaced frames as the public harness does.

The public files hold up to 64 frames per video (uniform stride). At evaluation ``num_frames`` (8) frames are taken
at indices ``floor(linspace(0, n - 1, num_frames))``; when a folder has fewer frames, all are taken and the last one
is repeated up to ``num_frames``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png")
NUM_FRAMES = 8


def _natural_key(name: str) -> list[int | str]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_frames(folder: Path) -> list[Path]:
    """Image files of a frame folder in natural order (``frame_2`` before ``frame_10``); empty if absent."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.suffix.lower() in FRAME_EXTENSIONS and p.is_file()]
    return sorted(files, key=lambda p: _natural_key(p.name))


def frame_indices(n: int, num_frames: int = NUM_FRAMES) -> list[int]:
    """Indices of the frames to use among ``n`` saved ones (evenly spaced; last repeated when ``n < num_frames``)."""
    if n <= 0:
        raise ValueError("cannot sample frames from an empty folder")
    if n >= num_frames:
        return np.linspace(0, n - 1, num_frames).astype(int).tolist()
    return list(range(n)) + [n - 1] * (num_frames - n)


def sample_frames(folder: Path, num_frames: int = NUM_FRAMES) -> tuple[str, ...]:
    """Paths of ``num_frames`` frames of one video folder.

    Raises:
        FileNotFoundError: The folder is missing or holds no frame images.
    """
    frames = list_frames(folder)
    if not frames:
        raise FileNotFoundError(f"No frames (*.jpg, *.jpeg, *.png) in {folder}. Is the video frame archive unpacked?")
    return tuple(str(frames[i]) for i in frame_indices(len(frames), num_frames))
