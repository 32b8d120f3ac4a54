"""The reasoning task: scenes, questions, rationales, splits without leakage, determinism, and its scoring."""

from __future__ import annotations

import hashlib
import json
import random
import re

import pytest
import torch

from plume_st.reasoning_task import (
    SPLITS,
    GridScene,
    ReasoningCostMeter,
    candidate_texts,
    evaluate_split,
    load_split,
    multi_step_query,
    one_step_query,
    write_reasoning_task,
)
from plume_st.training.data.segmentation import split_rationale, split_sentences
from plume_st.training.data.synthetic_data import CLASSES, COLOURS
from plume_st.training.data.ume_data import read_ume_sft

SIZES = {"train": 60, "validation": 9, "test": 12, "control": 6}
ROW_WORDS, COLUMN_WORDS = ("top", "middle", "bottom"), ("left", "middle", "right")
DELTAS = {"right": (0, 1), "left": (0, -1), "up": (-1, 0), "down": (1, 0)}


def _name_to_class(name: str) -> int:
    colour, shape = name.removeprefix("a ").split()
    return CLASSES.index((colour, shape))


def _answer_from_text(text: str, pictured: int) -> tuple[int, list[tuple[int, int]]]:
    """Solve a question from its words and the pictured class alone: the answer and the visited (row, column)."""
    grid = dict(re.findall(r"(\w+ \w+): (a \w+ \w+)\.", text))
    assert len(grid) == 9
    where = {_name_to_class(name): label.split() for label, name in grid.items()}
    if text.endswith("Which shape is in the picture?"):
        return pictured, []
    row_word, column_word = where[pictured]
    row, column = ROW_WORDS.index(row_word), COLUMN_WORDS.index(column_word)
    path = [(row, column)]
    task = text[text.index("Start at the shape in the picture.") :]
    for move in re.findall(r"go (right|left|up|down)", task, flags=re.IGNORECASE):
        d_row, d_column = DELTAS[move.lower()]
        row, column = row + d_row, column + d_column
        path.append((row, column))
    return _name_to_class(grid[f"{ROW_WORDS[row]} {COLUMN_WORDS[column]}"]), path


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    return write_reasoning_task(tmp_path_factory.mktemp("task"), SIZES, seed=3)


def _records(task, split):
    return [json.loads(line) for line in task.split(split).read_text().splitlines()]


def test_scene_draws_the_object_of_a_cell_and_lists_the_grid():
    scene = GridScene.sample(random.Random(0))
    for cell, class_index in enumerate(scene.layout):
        image = scene.draw(cell, random.Random(cell))
        assert image.size == (56, 56)
        colours = dict((colour, count) for count, colour in image.getcolors())
        assert colours.pop((255, 255, 255)) > 0 and len(colours) == 1  # white and one shade of the class colour
        (shade, count), expected = colours.popitem(), COLOURS[CLASSES[class_index][0]]
        assert count > 100 and max(abs(a - b) for a, b in zip(shade, expected)) <= 20
    text = scene.describe()
    assert text.startswith(f"top left: a {' '.join(CLASSES[scene.layout[0]])}.")
    assert text.endswith(f"bottom right: a {' '.join(CLASSES[scene.layout[8]])}.")


def test_scene_rejects_repeated_or_unknown_classes():
    with pytest.raises(ValueError, match="9 different class indices"):
        GridScene((0, 0, 1, 2, 3, 4, 5, 6, 7))
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 18\)"):
        GridScene((0, 1, 2, 3, 4, 5, 6, 7, 18))


@pytest.mark.parametrize("num_steps", [2, 3, 4])
def test_multi_step_questions_solve_from_their_words(num_steps):
    rng = random.Random(num_steps)
    for _ in range(50):
        scene = GridScene.sample(rng)
        query = multi_step_query(scene, num_steps, rng)
        answer, path = _answer_from_text(query.text, scene.layout[query.start])
        assert query.answer == answer and query.steps == num_steps == len(path)
        assert all(0 <= row < 3 and 0 <= column < 3 for row, column in path)
        assert path[-1] != path[0]
        assert all(path[i] != path[i + 2] for i in range(len(path) - 2))  # no move undoes the one before
        assert len(split_sentences(" ".join(query.rationale))) == num_steps
        assert query.rationale[-1].endswith(f"{candidate_texts()[answer]}.")


def test_one_step_questions_read_one_cell():
    rng = random.Random(7)
    for _ in range(30):
        scene = GridScene.sample(rng)
        query = one_step_query(scene, rng)
        assert query.answer == scene.layout[query.start] == _answer_from_text(query.text, query.answer)[0]
        assert query.steps == 1


def test_multi_step_rejects_other_step_counts():
    with pytest.raises(ValueError, match=r"num_steps must lie in \[2, 4\], got 5"):
        multi_step_query(GridScene.sample(random.Random(0)), 5, random.Random(0))


def test_splits_have_their_sizes_steps_and_labels(task):
    candidates = json.loads(task.candidates.read_text())
    assert candidates == candidate_texts() and len(set(candidates)) == 18
    for split in SPLITS:
        records = _records(task, split)
        assert len(records) == SIZES[split]
        for record in records:
            assert record["pos"]["conversations"][0]["value"] == candidates[record["label"]]
            layout = [int(index) for index in record["scene"].split("-")]
            question = record["qry"]["conversations"][0]["value"].removeprefix("<image>\n")
            assert _answer_from_text(question, layout[record["start"]])[0] == record["label"]
    assert [r["steps"] for r in _records(task, "test")] == [2, 3, 4] * 4
    assert {r["steps"] for r in _records(task, "control")} == {1}
    assert sum(r["steps"] == 1 for r in _records(task, "train")) == 15  # one_step_share 0.25 of 60


def test_no_grid_or_image_in_two_splits(task):
    seen_scenes, seen_images = {}, {}
    for split in SPLITS:
        for record in _records(task, split):
            image = (task.root / record["qry"]["image"][0]).read_bytes()
            digest = hashlib.sha256(image).hexdigest()
            assert seen_scenes.setdefault(record["scene"], split) == split
            assert seen_images.setdefault(digest, split) == split
    assert len(seen_scenes) == sum(SIZES.values())


def test_same_seed_same_bytes_other_seed_other_task(task, tmp_path):
    def digests(root):
        return {path.relative_to(root): hashlib.sha256(path.read_bytes()).hexdigest() for path in root.rglob("*.*")}

    again = write_reasoning_task(tmp_path / "again", SIZES, seed=3)
    other = write_reasoning_task(tmp_path / "other", SIZES, seed=4)
    assert digests(again.root) == digests(task.root)
    assert task.split("test").read_text() != other.split("test").read_text()


def test_bad_task_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"unknown splits \['dev'\]"):
        write_reasoning_task(tmp_path, {"dev": 3})
    with pytest.raises(ValueError, match="non-negative integers"):
        write_reasoning_task(tmp_path, {"test": -1})
    with pytest.raises(ValueError, match=r"one_step_share must lie in \[0, 1\], got 1.5"):
        write_reasoning_task(tmp_path, one_step_share=1.5)


def test_the_existing_reader_and_segmentation_take_the_task(task):
    rows = read_ume_sft(task.split("train"), media_root=task.root, check_media=True)
    assert len(rows) == SIZES["train"]
    record = next(r for r in _records(task, "train") if r["steps"] == 4)
    row = next(row for row in rows if row["positive"]["text"] == record["pos"]["conversations"][0]["value"]
               and row["query"]["text"] in record["qry"]["conversations"][0]["value"])  # fmt: skip
    segments = split_rationale(row["query"]["rationale"], 4)
    assert [len(split_sentences(segment)) for segment in segments] == [1, 1, 1, 1]  # one sentence per step at S = 4
    assert row["query"]["answer"] == record["pos"]["conversations"][0]["value"]


def test_evaluate_split_against_encode_by_hand(task, plume_model):
    model = plume_model(latent_steps=3)
    split = load_split(task.split("test"))
    candidates = candidate_texts()
    result = evaluate_split(model, split, candidates, batch_size=5, reasoning="latent")
    queries = model.encode(split.queries, batch_size=5, convert_to_tensor=True)
    documents = model.encode(candidates, convert_to_tensor=True)
    expected = torch.nn.functional.normalize(queries, dim=-1) @ torch.nn.functional.normalize(documents, dim=-1).T
    correct = (expected.argmax(dim=1) == split.labels).float()
    assert result["hit_at_1"] == pytest.approx(correct.mean().item())
    assert result["hit_at_1_by_steps"][4] == pytest.approx(correct[split.steps == 4].mean().item())
    suffix = len(model[0].tokenizer("<eot></think>\n<gen_emb>", add_special_tokens=False).input_ids)
    assert result["positions_per_query"] == 3 + suffix  # K latent inputs + the closing suffix, per query
    assert result["passes_per_batch"] == 3  # K - 1 single steps + one pass over [z~(K), suffix]
    assert evaluate_split(model, split, candidates, reasoning="none")["positions_per_query"] == 0


def test_cost_meter_counts_generated_tokens_per_row(task, plume_model):
    model = plume_model(max_new_tokens=5)
    split = load_split(task.split("control"))
    with ReasoningCostMeter(model) as meter:
        model.encode(split.queries[:4], batch_size=4, reasoning="explicit")
    # <eot>, then at most 5 generated tokens and a forced <gen_emb>, for each of the 4 rows
    assert 4 * 2 <= meter.positions <= 4 * 7 and 2 <= meter.passes <= 7
