"""A miniature MMEB-v2 for tests and for trying ``plume-st eval`` offline.

``write_fixture(root)`` writes 24 small datasets covering all 12 categories and every loader: the media in the exact
public layout (``image-tasks/``, ``video-tasks/frames/...``, ``visdoc-tasks/...``) and the annotations in the local
layout read by :mod:`plume_st.evaluation.annotations` (``annotations/<dataset>/<split>.jsonl|parquet``). All
pictures, frames and pages are generated (distinct random pixels), so it needs no network and takes about a second.
"""

from __future__ import annotations

from pathlib import Path

from plume_st.evaluation.fixture_image import write_image_tasks
from plume_st.evaluation.fixture_media import MediaWriter
from plume_st.evaluation.fixture_video import write_video_tasks
from plume_st.evaluation.fixture_visdoc import write_visdoc_tasks


def write_fixture(root: Path, seed: int = 0) -> list[str]:
    """Write the miniature MMEB-v2 under ``root``.

    Args:
        root: Target folder (created; existing files are overwritten).
        seed: Seed of the generated pixels (the annotations do not depend on it).

    Returns:
        The names of the datasets written, in registry order of modality (image, video, visdoc).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    media = MediaWriter(root, seed)
    return write_image_tasks(root, media) + write_video_tasks(root, media) + write_visdoc_tasks(root, media)
