"""Reading UME-R1-style SFT annotations into a ``datasets`` dataset the trainer consumes, lazily.

Each JSONL record holds a query side ``qry`` and a positive side ``pos``::

    {"dataset_name": "...",
     "qry": {"conversations": [{"from": "human", "value": "<image>\\nInstruction ..."},
                               {"from": "gpt", "value": "<think>…</think><answer>…</answer>"}],
             "image": ["relative/path.jpg"], "video": []},
     "pos": {...}}

Every side becomes a struct ``{"text", "image", "video", "rationale", "answer"}`` of plain strings: the human turn
without its ``<image>`` / ``<video>`` placeholders (and without anything from ``<disc_emb>`` on, which the PLUME
prompt adds itself), the media paths joined with the media root, and the assistant turn split into rationale and
answer. Media files are opened only when the collator builds a batch (``check_media=True`` checks that they exist
up front). ``image`` is a path or a list of paths; ``video`` is one video: a list of frame image paths, a
one-element list holding a video file, or that path as a plain string. Every row also keeps ``source``
(``"file:line"``), which the collator names when a batch cannot be built.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, Features, List, Value

from .segmentation import parse_assistant_turn

SIDE_FEATURES = {
    "text": Value("string"),
    "image": List(Value("string")),
    "video": List(Value("string")),
    "rationale": Value("string"),
    "answer": Value("string"),
}
PAIR_FEATURES = Features({"query": SIDE_FEATURES, "positive": SIDE_FEATURES, "source": Value("string")})
_PLACEHOLDER = re.compile(r"<image>|<video>")


def _join(root: str | None, path: str) -> str:
    return path if root is None or os.path.isabs(path) else os.path.join(root, path)


def _paths(value: Any, key: str) -> list[str]:
    """A media field as a list of paths: a string is one path; anything but a list of strings is an error."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError(f"{key!r} must be a path or a list of paths, got {value!r}")


def convert_side(side: dict[str, Any], media_root: str | None = None) -> dict[str, Any]:
    """One UME-R1 side as a ``{"text", "image", "video", "rationale", "answer"}`` struct.

    Raises:
        ValueError: If the side has no human turn, neither text nor media, or a media field that is not a path or a
            list of paths.
    """
    turns = side.get("conversations") or []
    human = next((turn["value"] for turn in turns if turn.get("from") == "human"), None)
    gpt = next((turn["value"] for turn in turns if turn.get("from") == "gpt"), "")
    if human is None:
        raise ValueError("the side has no human turn")
    text = _PLACEHOLDER.sub("", human.split("<disc_emb>")[0]).strip()
    rationale, answer = parse_assistant_turn(gpt)
    images = [_join(media_root, path) for path in _paths(side.get("image"), "image")]
    videos = side.get("video")
    if isinstance(videos, list) and videos and isinstance(videos[0], list):
        if len(videos) > 1:
            raise ValueError(f"a side holds one video, got {len(videos)}")
        videos = videos[0]
    video = [_join(media_root, path) for path in _paths(videos, "video")]
    if not text and not images and not video:
        raise ValueError("the side has neither text nor media")
    return {"text": text, "image": images, "video": video, "rationale": rationale, "answer": answer}


def iter_ume_records(paths: str | Path | Iterable[str | Path]) -> Iterable[tuple[str, int, dict[str, Any]]]:
    """Yield ``(path, line number, record)`` for every non-empty line of the JSONL files.

    Raises:
        ValueError: For a line that is not valid JSON, naming its file and line.
    """
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        with open(path, encoding="utf8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}, line {number}: invalid JSON: {error}") from error
                yield str(path), number, record


def read_ume_sft(
    paths: str | Path | Iterable[str | Path],
    media_root: str | Path | None = None,
    by_dataset: bool = False,
    max_records: int | None = None,
    check_media: bool = False,
) -> Dataset | DatasetDict:
    """Read UME-R1 SFT JSONL files into ``query`` / ``positive`` columns.

    Args:
        paths: One JSONL file or several.
        media_root: Folder the media paths are relative to (``None``: as written).
        by_dataset: Return a ``DatasetDict`` keyed by ``dataset_name``, so the trainer draws every batch from one
            sub-dataset (``multi_dataset_batch_sampler``), as the paper does.
        max_records: Stop after this many records.
        check_media: Check that every media file exists now, instead of failing when its batch is built.

    Returns:
        A ``Dataset`` (or a ``DatasetDict``) of ``{"query": side, "positive": side, "source": "file:line"}`` rows.

    Raises:
        ValueError: For invalid JSON or a malformed record, naming its file, line and the record.
        FileNotFoundError: With ``check_media``, for a record whose media files are missing.
    """
    root = None if media_root is None else os.fspath(media_root)
    groups: dict[str, list[dict[str, Any]]] = {}
    for count, (path, number, record) in enumerate(iter_ume_records(paths)):
        if max_records is not None and count >= max_records:
            break
        try:
            row = {"query": convert_side(record["qry"], root), "positive": convert_side(record["pos"], root)}
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            raise ValueError(
                f"{path}, line {number}: malformed UME-R1 record: {error!r}; record: {_excerpt(record)}"
            ) from error
        row["source"] = f"{path}:{number}"
        if check_media:
            missing = [file for side in (row["query"], row["positive"]) for file in side["image"] + side["video"]
                       if not os.path.exists(file)]  # fmt: skip
            if missing:
                raise FileNotFoundError(f"{path}, line {number}: missing media file(s) {missing}")
        name = str(record.get("dataset_name", "default")) if by_dataset else "all"
        groups.setdefault(name, []).append(row)
    if not groups:
        raise ValueError(f"no records in {paths}")
    datasets = {name: Dataset.from_list(rows, features=PAIR_FEATURES) for name, rows in groups.items()}
    return DatasetDict(datasets) if by_dataset else datasets["all"]


def _excerpt(record: Any, limit: int = 300) -> str:
    text = json.dumps(record, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def side_input(side: dict[str, Any]) -> dict[str, Any]:
    """The ``encode`` input of a side: ``{"text", "image", "video"}`` with the media still as paths."""
    item: dict[str, Any] = {}
    if side.get("text"):
        item["text"] = side["text"]
    if side.get("image"):
        item["image"] = list(side["image"])
    video = side.get("video") or []
    if video:
        item["video"] = video[0] if len(video) == 1 and not video[0].lower().endswith(_IMAGE_SUFFIXES) else video
    return item


_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tiff", ".tif", ".webp")
