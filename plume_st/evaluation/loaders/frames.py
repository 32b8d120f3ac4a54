"""Pre-extracted video frames: list a frame folder and take evenly spaced frames as the public harness does.

The public files hold up to 64 frames per video (uniform stride). At evaluation ``num_frames`` (8) frames are taken
at indices ``floor(linspace(0, n - 1, num_frames))``. A folder with fewer frames is used with the frames it has
(the public harness, ``--protocol vlm2vec``) or has its last frame repeated up to ``num_frames`` (``pad=True``,
``--protocol plume``). MomentSeeker uses every saved frame under the public harness (:func:`all_frames`).
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


def frame_indices(n: int, num_frames: int = NUM_FRAMES, pad: bool = False) -> list[int]:
    """Indices of the frames to use among ``n`` saved ones.

    Evenly spaced when ``n >= num_frames``; otherwise all ``n``, followed (``pad``) by the last one repeated up to
    ``num_frames``.

    Raises:
        ValueError: ``n`` is not positive.
    """
    if n <= 0:
        raise ValueError("cannot sample frames from an empty folder")
    if n >= num_frames:
        return np.linspace(0, n - 1, num_frames).astype(int).tolist()
    return list(range(n)) + ([n - 1] * (num_frames - n) if pad else [])


def _frames_or_fail(folder: Path) -> list[Path]:
    frames = list_frames(folder)
    if not frames:
        raise FileNotFoundError(f"No frames (*.jpg, *.jpeg, *.png) in {folder}. Is the video frame archive unpacked?")
    return frames


def sample_frames(folder: Path, num_frames: int = NUM_FRAMES, pad: bool = False) -> tuple[str, ...]:
    """Paths of the frames of one video folder to use (see :func:`frame_indices`).

    Raises:
        FileNotFoundError: The folder is missing or holds no frame images.
    """
    frames = _frames_or_fail(folder)
    return tuple(str(frames[i]) for i in frame_indices(len(frames), num_frames, pad))


def all_frames(folder: Path) -> tuple[str, ...]:
    """Paths of every frame of one folder, in natural order.

    Raises:
        FileNotFoundError: The folder is missing or holds no frame images.
    """
    return tuple(str(p) for p in _frames_or_fail(folder))
