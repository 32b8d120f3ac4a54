"""Image tasks (36 datasets): rows of ``ziyjiang/MMEB_Test_Instruct`` (or the older release) to an :class:`EvalTask`.

Two column conventions are read:

- current: ``qry_inst, qry_text, qry_img_path, tgt_inst, tgt_text (list), tgt_img_path (list)``;
- older: ``qry_text`` (or ``qry``), ``qry_img_path``, ``tgt_text``, ``tgt_img_path``, the instruction inside the text
  with an ``<|image_1|>`` placeholder.

The first target is the ground truth. Image paths are relative to ``image-tasks/``; an empty path means no image.
As in the public harness, the target instruction is used for candidates that have an image; text-only candidates
(class labels, answers, captions) are the bare target text.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from plume_st.evaluation.items import EvalItem
from plume_st.evaluation.protocol import Protocol
from plume_st.evaluation.registry import DatasetSpec
from plume_st.evaluation.task import EvalTask, TaskBuilder

IMAGE_PLACEHOLDER = "<|image_1|>"


def _clean(text: Any) -> str:
    return str(text or "").replace(IMAGE_PLACEHOLDER, "").strip()


def _as_list(value: Any) -> list[Any]:
    """A column as a list: a scalar string is one entry, an empty string (or ``None``) none."""
    if isinstance(value, str):
        return [value] if value else []
    return list(value or [])


def load_image_task(
    spec: DatasetSpec, rows: Iterable[dict[str, Any]], media_root: Path, protocol: Protocol = Protocol()
) -> EvalTask:
    """Build the task of one image dataset.

    Args:
        spec: The dataset.
        rows: Annotation rows in either column convention.
        media_root: The ``image-tasks/`` folder.
        protocol: Its prompt style joins instruction and text (a space for ``vlm2vec``).
    """
    builder = TaskBuilder(spec)
    for i, row in enumerate(rows):
        if "qry_text" not in row and "qry" not in row:
            raise ValueError(f"{spec.name} row {i}: no `qry_text`/`qry` column (columns: {sorted(row)}).")
        qry_img = str(row.get("qry_img_path") or "")
        query = EvalItem(
            instruction=_clean(row.get("qry_inst")),
            text=_clean(row.get("qry_text", row.get("qry"))),
            image=str(media_root / qry_img) if qry_img else None,
            separator=protocol.separator,
        )
        texts, paths = _as_list(row.get("tgt_text")), _as_list(row.get("tgt_img_path"))
        if paths and len(paths) != len(texts):
            texts = texts or [""] * len(paths)
            if len(paths) != len(texts):
                raise ValueError(f"{spec.name} row {i}: {len(texts)} target texts but {len(paths)} target images.")
        tgt_inst = _clean(row.get("tgt_inst"))
        candidates = []
        for j, text in enumerate(texts):
            path = str(paths[j] or "") if paths else ""
            cleaned = _clean(text)
            candidates.append(
                EvalItem(
                    instruction=tgt_inst if path else "",
                    text=cleaned,
                    image=str(media_root / path) if path else None,
                    name=f"{path}:{cleaned}" if path else cleaned,
                    separator=protocol.separator,
                )
            )
        builder.add_local(query, candidates, positives=(0,))
    return builder.build()
