"""Writing the reasoning task as UME-R1-style JSONL splits (train / validation / test / control) with PNG media.

Every record is a query/positive pair in the format :func:`~plume_st.training.data.ume_data.read_ume_sft` reads, so the
existing collator, segmentation and curriculum apply unchanged:

* query: ``<image>`` + the question (the grid in words, then the task), the image of the starting object, and
  ``<think>`` one sentence per step ``</think>`` + ``<answer>`` the class name ``</answer>``;
* positive: the class name ("a blue square") with a one-sentence rationale.

Records also carry ``steps`` (reasoning steps), ``label`` (index of the answer among the 18 candidates) and
``scene`` (the layout key). Splits never share a scene: layouts are drawn once from one seeded stream and every
repeated layout is skipped, so no test grid appears in training. ``train`` mixes multi-step questions
(2-4 steps, equal shares) with a share of one-step questions; ``validation`` and ``test`` hold multi-step questions
(equal shares of 2, 3 and 4 steps); ``control`` holds one-step questions only.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plume_st.training.data.synthetic_data import CLASSES

from .grid_scene import GridScene, class_name
from .queries import MAX_STEPS, MIN_STEPS, Query, multi_step_query, one_step_query

SPLITS = ("train", "validation", "test", "control")


@dataclass(frozen=True)
class TaskFiles:
    """Where a written task lives: one JSONL per split (media under ``root/media``) and ``candidates.json``."""

    root: Path

    def split(self, name: str) -> Path:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose from {SPLITS}")
        return self.root / f"{name}.jsonl"

    @property
    def candidates(self) -> Path:
        return self.root / "candidates.json"


def candidate_texts() -> list[str]:
    """The 18 candidate answers; candidate ``i`` is the answer of label ``i``."""
    return [class_name(index) for index in range(len(CLASSES))]


def _side(human: str, rationale: str, answer: str, images: list[str]) -> dict[str, Any]:
    gpt = f"<think>{rationale}</think><answer>{answer}</answer>"
    conversations = [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}]
    return {"conversations": conversations, "image": images, "video": []}


def query_record(query: Query, image_path: str, dataset_name: str) -> dict[str, Any]:
    """The UME-R1 record of a query (``image_path`` relative to the task folder)."""
    answer = class_name(query.answer)
    question = _side(f"<image>\n{query.text}", " ".join(query.rationale), answer, [image_path])
    positive = _side(answer, f"The text names {answer}.", answer, [])
    return {"dataset_name": dataset_name, "qry": question, "pos": positive, "steps": query.steps,
            "label": query.answer, "scene": query.scene.key, "start": query.start}  # fmt: skip


class _SceneStream:
    """Fresh scenes from one seeded stream; a layout is never handed out twice."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.seen = rng, set()

    def next(self) -> GridScene:
        while True:
            scene = GridScene.sample(self.rng)
            if scene.key not in self.seen:
                self.seen.add(scene.key)
                return scene


def _plan(split: str, size: int, one_step_share: float) -> list[int]:
    """Steps per record of a split: 1 for a one-step question, else 2-4 in turn."""
    multi = list(range(MIN_STEPS, MAX_STEPS + 1))
    if split == "control":
        return [1] * size
    if split != "train":
        return [multi[index % len(multi)] for index in range(size)]
    num_one = round(size * one_step_share)
    plan = [1] * num_one + [multi[index % len(multi)] for index in range(size - num_one)]
    random.Random(size).shuffle(plan)
    return plan


def write_reasoning_task(
    out_dir: str | Path,
    sizes: dict[str, int] | None = None,
    one_step_share: float = 0.25,
    seed: int = 0,
) -> TaskFiles:
    """Write the four splits, their images and the candidate list.

    Args:
        out_dir: The task folder (media root of the JSONL files).
        sizes: Records per split (default train 3000, validation 150, test 300, control 150).
        one_step_share: Share of one-step questions in ``train``.
        seed: Seed of the scenes, questions and drawings; the same seed writes the same bytes.

    Returns:
        The :class:`TaskFiles`.

    Raises:
        ValueError: For an unknown split name, a negative size or a share outside [0, 1].
    """
    sizes = {"train": 3000, "validation": 150, "test": 300, "control": 150, **(sizes or {})}
    unknown = set(sizes) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown splits {sorted(unknown)} in sizes; choose from {SPLITS}")
    if any(not isinstance(size, int) or size < 0 for size in sizes.values()):
        raise ValueError(f"split sizes must be non-negative integers, got {sizes}")
    if not 0.0 <= one_step_share <= 1.0:
        raise ValueError(f"one_step_share must lie in [0, 1], got {one_step_share}")
    files = TaskFiles(Path(out_dir))
    (files.root / "media").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    scenes = _SceneStream(rng)
    for split in ("test", "control", "validation", "train"):  # evaluation scenes first: train skips them
        with open(files.split(split), "w", encoding="utf8") as handle:
            for index, steps in enumerate(_plan(split, sizes[split], one_step_share)):
                scene = scenes.next()
                query = one_step_query(scene, rng) if steps == 1 else multi_step_query(scene, steps, rng)
                image_path = f"media/{split}_{index:06d}.png"
                scene.draw(query.start, rng).save(files.root / image_path)
                name = "one_step" if steps == 1 else "multi_step"
                handle.write(json.dumps(query_record(query, image_path, name)) + "\n")
    files.candidates.write_text(json.dumps(candidate_texts(), indent=1) + "\n", encoding="utf8")
    return files
