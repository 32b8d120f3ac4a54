"""Moment retrieval (local): a query against its positive clip and negative clips.

QVHighlight and Charades-STA take 8 evenly spaced frames of each query and clip folder (a shorter folder is padded
with its last frame only under ``--protocol plume``). MomentSeeker uses every saved frame of a query or clip folder,
as the public harness does (its extraction saves at most 8); ``--protocol plume`` samples 8.

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
from plume_st.evaluation.loaders.frames import all_frames, sample_frames
from plume_st.evaluation.loaders.video import BAD_ROW_ERRORS, bad_row
from plume_st.evaluation.protocol import Protocol
from plume_st.evaluation.registry import DatasetSpec
from plume_st.evaluation.task import EvalTask, TaskBuilder

MOMENTSEEKER_VIDEO_INST = "Find the clip that corresponds to the given sentence and video segment:"
MOMENTSEEKER_IMAGE_INST = "Select the video clip that aligns with the given text and image:"


def _frames(spec: DatasetSpec, folder: Path, protocol: Protocol) -> tuple[str, ...]:
    if spec.loader == "momentseeker" and protocol.is_reference:
        return all_frames(folder)
    return sample_frames(folder, pad=not protocol.is_reference)


def _clip(spec: DatasetSpec, folder: Path, name: str, protocol: Protocol) -> EvalItem:
    frames = _frames(spec, folder, protocol)
    return EvalItem(instruction=spec.target_instruction, frames=frames, name=name, separator=protocol.separator)


def _clip_dir_name(path: str) -> str:
    return path.replace("/", "_").split(".mp4")[0]


def _load_clip_folders(
    spec: DatasetSpec, rows: Iterable[dict[str, Any]], media_root: Path, protocol: Protocol
) -> EvalTask:
    builder = TaskBuilder(spec)
    for i, row in enumerate(rows):
        try:
            video, text = Path(str(row["video_path"])).stem, str(row["query"])
        except BAD_ROW_ERRORS as err:
            raise bad_row(spec, i, err) from err
        folder = media_root / video
        query_frames = _frames(spec, folder / "query", protocol)
        query = EvalItem(spec.query_instruction, text, frames=query_frames, separator=protocol.separator)
        clips = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "query")
        positives = [i for i, name in enumerate(clips) if name.startswith("positive")]
        if not positives:
            raise FileNotFoundError(f"{spec.name}: no `positive*` clip folder in {folder}.")
        candidates = [_clip(spec, folder / name, f"{video}/{name}", protocol) for name in clips]
        builder.add_local(query, candidates, positives=positives)
    return builder.build()


def _momentseeker_query(spec: DatasetSpec, row: dict[str, Any], media_root: Path, protocol: Protocol) -> EvalItem:
    text, source, sep = str(row["query"]), str(row.get("input_frames") or ""), protocol.separator
    if source.endswith(".mp4"):
        frames = _frames(spec, media_root / "video_frames" / _clip_dir_name(source), protocol)
        return EvalItem(MOMENTSEEKER_VIDEO_INST, text, frames=frames, separator=sep)
    if source.endswith(".jpg"):
        return EvalItem(MOMENTSEEKER_IMAGE_INST, text, image=str(media_root / f"query_{source}"), separator=sep)
    if source:
        raise ValueError(f"input_frames {source!r} is neither a video (.mp4) nor an image (.jpg)")
    return EvalItem(instruction=spec.query_instruction, text=text, separator=sep)


def _load_momentseeker(
    spec: DatasetSpec, rows: Iterable[dict[str, Any]], media_root: Path, protocol: Protocol
) -> EvalTask:
    builder = TaskBuilder(spec)
    for i, row in enumerate(rows):
        try:
            pos = [_clip_dir_name(str(c["output_path"])) for c in row["positive_frames"]]
            neg = [_clip_dir_name(str(c["output_path"])) for c in row["negative_frames"]]
            query = _momentseeker_query(spec, row, media_root, protocol)
        except BAD_ROW_ERRORS as err:
            raise bad_row(spec, i, err) from err
        candidates = [_clip(spec, media_root / "video_frames" / n, n, protocol) for n in pos + neg]
        builder.add_local(query, candidates, positives=range(len(pos)))
    return builder.build()


def load_moment_task(
    spec: DatasetSpec, rows: Iterable[dict[str, Any]], media_root: Path, protocol: Protocol = Protocol()
) -> EvalTask:
    """Build the task of one moment-retrieval dataset."""
    if spec.loader == "momentseeker":
        return _load_momentseeker(spec, rows, media_root, protocol)
    return _load_clip_folders(spec, rows, media_root, protocol)
