"""Video classification and video retrieval tasks: annotation rows plus pre-extracted frames to an :class:`EvalTask`.

Frames live in ``video-tasks/frames/<video_cls|video_ret>/<dataset>/<video id>/``; 8 are sampled per video
(:func:`plume_st.evaluation.loaders.frames.sample_frames`; a shorter video is padded only under ``--protocol plume``).

- Classification (HMDB51, UCF101, K700, Breakfast): columns ``video_id, pos_text``; the video (with the
  instruction) is the query, the label text the candidate; global over the test rows' labels followed by the
  dataset's full label list (:mod:`plume_st.evaluation.loaders.labels`; ``--protocol plume``: the rows' labels only),
  de-duplicated by name.
- SmthSmthV2: ``video_id, pos_text, neg_text`` (the candidate labels); local; the first 1000 rows. The list is used
  as given (``--protocol plume`` inserts ``pos_text`` in front when the list lacks it).
- Retrieval: the caption (with the instruction) is the query, the video (with the target instruction) the
  candidate; global over the de-duplicated videos. Columns per dataset are in ``RETRIEVAL_COLUMNS``.

A row with a missing column or an unusable value raises a ``ValueError`` naming the dataset and the row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from plume_st.evaluation.items import EvalItem
from plume_st.evaluation.loaders.frames import sample_frames
from plume_st.evaluation.loaders.labels import full_label_list
from plume_st.evaluation.protocol import Protocol
from plume_st.evaluation.registry import DatasetSpec
from plume_st.evaluation.task import EvalTask, TaskBuilder


def _first(value: Any) -> str:
    return str(value[0] if isinstance(value, list | tuple) else value)


# dataset loader kind -> (video id of a row, caption of a row)
RETRIEVAL_COLUMNS: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    "msrvtt": lambda r: (str(r["video_id"]), str(r["caption"])),
    "msvd": lambda r: (str(r["video_id"]), _first(r["caption"])),
    "didemo": lambda r: (Path(str(r["video"])).stem, str(r["caption"])),
    "vatex": lambda r: (str(r["videoID"]), _first(r["enCap"])),
    "youcook2": lambda r: (str(r["id"]), str(r["sentence"])),
}


def _video(media_root: Path, video_id: str, instruction: str, protocol: Protocol) -> EvalItem:
    frames = sample_frames(media_root / video_id, pad=not protocol.is_reference)
    return EvalItem(instruction=instruction, frames=frames, name=video_id, separator=protocol.separator)


BAD_ROW_ERRORS = (KeyError, IndexError, TypeError, ValueError)


def bad_row(spec: DatasetSpec, i: int, err: Exception) -> ValueError:
    """The error raised for annotation row ``i`` of ``spec`` that cannot be read."""
    return ValueError(f"{spec.name} row {i}: {type(err).__name__}: {err}")


def _label(text: str) -> EvalItem:
    return EvalItem(text=text, name=text)


def load_video_cls_task(
    spec: DatasetSpec, rows: Iterable[dict[str, Any]], media_root: Path, protocol: Protocol = Protocol()
) -> EvalTask:
    """Video classification: SmthSmthV2 local (``neg_text`` candidates), the others global over the labels."""
    builder = TaskBuilder(spec)
    for i, row in enumerate(rows):
        try:
            video_id, label = str(row["video_id"]), str(row["pos_text"])
            labels = [str(x) for x in row["neg_text"]] if spec.loader == "ssv2" else []
        except BAD_ROW_ERRORS as err:
            raise bad_row(spec, i, err) from err
        query = _video(media_root, video_id, spec.query_instruction, protocol)
        if spec.loader == "ssv2":
            if label not in labels and not protocol.is_reference:
                labels.insert(0, label)
            positives = [j for j, x in enumerate(labels) if x == label]
            builder.add_local(query, [_label(x) for x in labels], positives, allow_no_positive=True)
        else:
            builder.add_global(query, [_label(label)])
    if spec.loader != "ssv2" and protocol.is_reference:
        builder.add_corpus([_label(x) for x in full_label_list(spec.name)])
    return builder.build()


def load_video_retrieval_task(
    spec: DatasetSpec, rows: Iterable[dict[str, Any]], media_root: Path, protocol: Protocol = Protocol()
) -> EvalTask:
    """Text-to-video retrieval: caption queries, global over the de-duplicated videos."""
    columns = RETRIEVAL_COLUMNS[spec.loader]
    builder = TaskBuilder(spec)
    for i, row in enumerate(rows):
        try:
            video_id, caption = columns(row)
        except BAD_ROW_ERRORS as err:
            raise bad_row(spec, i, err) from err
        query = EvalItem(instruction=spec.query_instruction, text=caption, separator=protocol.separator)
        builder.add_global(query, [_video(media_root, video_id, spec.target_instruction, protocol)])
    return builder.build()
