"""Moment retrieval (local): a query against its positive clip and negative clips, 8 frames per clip.

- QVHighlight, Charades-STA (``query, video_path``): ``<media>/<video name>/query/`` holds the query video's frames,
  every other sub-folder of ``<media>/<video name>/`` is a candidate clip, positives are those whose folder name
  starts with ``positive``. The query is text plus the query video.
- MomentSeeker (``query, input_frames, positive_frames, negative_frames``): clips are
  ``<media>/video_frames/<output_path with "/" -> "_" and without ".mp4">/``; the query is text only, text plus a
  video (``input_frames`` ending in ``.mp4``: frames in ``video_frames/`` named the same way) or text plus an image
  (``.jpg``: ``<media>/query_<input_frames>``), each with its own instruction; any other ``input_frames`` is an error.

A row with a missing column raises a ``ValueError`` naming the dataset and the row.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from plume_st.evaluation.items import EvalItem
from plume_st.evaluation.loaders.frames import sample_frames
from plume_st.evaluation.loaders.video import BAD_ROW_ERRORS, bad_row
from plume_st.evaluation.registry import DatasetSpec
from plume_st.evaluation.task import EvalTask, TaskBuilder

MOMENTSEEKER_VIDEO_INST = "Find the clip that corresponds to the given sentence and video segment:"
MOMENTSEEKER_IMAGE_INST = "Select the video clip that aligns with the given text and image:"


def _clip(folder: Path, instruction: str, name: str) -> EvalItem:
    return EvalItem(instruction=instruction, frames=sample_frames(folder), name=name)


def _clip_dir_name(path: str) -> str:
    return path.replace("/", "_").split(".mp4")[0]


def _load_clip_folders(spec: DatasetSpec, rows: Iterable[dict[str, Any]], media_root: Path) -> EvalTask:
    builder = TaskBuilder(spec)
    for i, row in enumerate(rows):
        try:
            video, text = Path(str(row["video_path"])).stem, str(row["query"])
        except BAD_ROW_ERRORS as err:
            raise bad_row(spec, i, err) from err
        folder = media_root / video
        query_frames = sample_frames(folder / "query")
        query = EvalItem(instruction=spec.query_instruction, text=text, frames=query_frames)
        clips = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "query")
        positives = [i for i, name in enumerate(clips) if name.startswith("positive")]
        if not positives:
            raise FileNotFoundError(f"{spec.name}: no `positive*` clip folder in {folder}.")
        candidates = [_clip(folder / name, spec.target_instruction, f"{video}/{name}") for name in clips]
        builder.add_local(query, candidates, positives=positives)
    return builder.build()


def _momentseeker_query(spec: DatasetSpec, row: dict[str, Any], media_root: Path) -> EvalItem:
    text, source = str(row["query"]), str(row.get("input_frames") or "")
    if source.endswith(".mp4"):
        frames = sample_frames(media_root / "video_frames" / _clip_dir_name(source))
        return EvalItem(instruction=MOMENTSEEKER_VIDEO_INST, text=text, frames=frames)
    if source.endswith(".jpg"):
        return EvalItem(instruction=MOMENTSEEKER_IMAGE_INST, text=text, image=str(media_root / f"query_{source}"))
    if source:
        raise ValueError(f"input_frames {source!r} is neither a video (.mp4) nor an image (.jpg)")
    return EvalItem(instruction=spec.query_instruction, text=text)


def _load_momentseeker(spec: DatasetSpec, rows: Iterable[dict[str, Any]], media_root: Path) -> EvalTask:
    builder = TaskBuilder(spec)
    for i, row in enumerate(rows):
        try:
            pos = [_clip_dir_name(str(c["output_path"])) for c in row["positive_frames"]]
            neg = [_clip_dir_name(str(c["output_path"])) for c in row["negative_frames"]]
            query = _momentseeker_query(spec, row, media_root)
        except BAD_ROW_ERRORS as err:
            raise bad_row(spec, i, err) from err
        candidates = [_clip(media_root / "video_frames" / n, spec.target_instruction, n) for n in pos + neg]
        builder.add_local(query, candidates, positives=range(len(pos)))
    return builder.build()


def load_moment_task(spec: DatasetSpec, rows: Iterable[dict[str, Any]], media_root: Path) -> EvalTask:
    """Build the task of one moment-retrieval dataset."""
    if spec.loader == "momentseeker":
        return _load_momentseeker(spec, rows, media_root)
    return _load_clip_folders(spec, rows, media_root)
