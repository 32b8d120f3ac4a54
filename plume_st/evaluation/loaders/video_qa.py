"""Video QA tasks (local): the video with the question (and its options) is the query, the options the candidates.

Frames: ``video-tasks/frames/video_qa/<dataset>/<video>/`` (MVBench: ``.../MVBench/<subset>/<video>/``,
ActivityNetQA: ``.../v_<video_name>/``). The query text follows the public harness per dataset:

- MVBench (``subset, question, video, candidates, answer``) and NExTQA (``video, question, answer, a0..a4``):
  ``question`` + ``"\\nOptions:\\n(A) ...\\n(B) ..."``; MVBench candidates are the lettered options, NExTQA's the bare
  options.
- Video-MME (``videoID, question, options ["A. ..."], answer "A"``): question and options one a line; candidates
  are the option texts without their letter.
- EgoSchema (``video_idx, question, option, answer``): ``question + " ".join(options)`` as the public harness writes it
  (no space before the first option; ``--protocol plume`` puts one there); candidates without letter.
- ActivityNetQA (``video_name, question, answer``): ``question + "? (A) yes; (B) no."``; candidates yes / no.

A row with a missing column, or an answer that is not one of its options (a negative index included), raises a
``ValueError`` naming the dataset and the row.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from plume_st.evaluation.items import EvalItem
from plume_st.evaluation.loaders.frames import sample_frames
from plume_st.evaluation.protocol import Protocol
from plume_st.evaluation.registry import DatasetSpec
from plume_st.evaluation.task import EvalTask, TaskBuilder

LETTERS = "ABCDEFGHIJ"


def _lettered(options: list[str]) -> list[str]:
    return [f"({LETTERS[i]}) {o}" for i, o in enumerate(options)]


def _with_options(question: str, options: list[str]) -> str:
    return "\n".join([question, "Options:", *_lettered(options)])


def _strip_letter(option: str) -> str:
    """``"B. a red car."`` -> ``"a red car"`` (text after the first ``". "``, dots and spaces trimmed)."""
    cut = option.find(". ")
    return (option[cut:] if cut >= 0 else option).strip(". ")


def _row(spec: DatasetSpec, row: dict[str, Any], protocol: Protocol) -> tuple[str, str, list[str], int]:
    """(frame folder relative to the media root, question text, candidate texts, index of the answer)."""
    kind = spec.loader
    if kind == "mvbench":
        options = [str(c) for c in row["candidates"]]
        video = f"{row['subset']}/{row['video']}"
        return video, _with_options(str(row["question"]), options), _lettered(options), options.index(row["answer"])
    if kind == "nextqa":
        options = [str(row[f"a{i}"]) for i in range(5)]
        return str(row["video"]), _with_options(str(row["question"]), options), options, int(row["answer"])
    if kind == "videomme":
        options = [str(o) for o in row["options"]]
        text = "\n".join([str(row["question"]), *options])
        answer = LETTERS.index(str(row["answer"]).strip())
        return str(row["videoID"]), text, [_strip_letter(o) for o in options], answer
    if kind == "egoschema":
        options = [str(o) for o in row["option"]]
        question = str(row["question"])
        text = question + " ".join(options) if protocol.prompt_style == "vlm2vec" else " ".join([question, *options])
        return str(row["video_idx"]), text, [_strip_letter(o) for o in options], int(row["answer"])
    if kind == "activitynetqa":
        options = ["yes", "no"]
        return f"v_{row['video_name']}", f"{row['question']}? (A) yes; (B) no.", options, options.index(row["answer"])
    raise ValueError(f"{spec.name}: unknown video QA loader {kind!r}")


def load_video_qa_task(
    spec: DatasetSpec, rows: Iterable[dict[str, Any]], media_root: Path, protocol: Protocol = Protocol()
) -> EvalTask:
    """Build the task of one video QA dataset (local candidates)."""
    builder = TaskBuilder(spec)
    for i, row in enumerate(rows):
        try:
            video, text, options, answer = _row(spec, row, protocol)
            if not 0 <= answer < len(options):
                raise IndexError(f"answer {answer} is not one of the {len(options)} options")
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise ValueError(f"{spec.name} row {i}: cannot read question/options/answer ({err!r}).") from err
        frames = sample_frames(media_root / video, pad=not protocol.is_reference)
        query = EvalItem(instruction=spec.query_instruction, text=text, frames=frames, separator=protocol.separator)
        builder.add_local(query, [EvalItem(text=o, name=o) for o in options], positives=(answer,))
    return builder.build()
