"""The pointer-chasing task: answers solved from the table alone, no shortcut, leak-free splits, determinism."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from plume_st.backbones.tiny import train_byte_level_tokenizer
from plume_st.reasoning_task.evaluation import load_split
from plume_st.reasoning_task.pointer_task import SYMBOLS, sample_query, solve, write_pointer_task
from plume_st.training.data.segmentation import split_rationale
from plume_st.training.data.ume_data import read_ume_sft

NUM_SYMBOLS, MAX_HOPS = 12, 4


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    sizes = {"train": 400, "validation": 40, "test": 80}
    return write_pointer_task(tmp_path_factory.mktemp("pointer"), sizes, NUM_SYMBOLS, MAX_HOPS, seed=3)


def _records(task, split):
    return [json.loads(line) for line in task.split(split).read_text(encoding="utf8").splitlines()]


def _walk_by_hand(text: str) -> list[str]:
    """The symbols a walk visits, parsed from the question with plain string operations (not :func:`solve`)."""
    table_part, start_part, hops_part = text.split(". ")[:3]
    arrows = table_part.removeprefix("table:").split(";")
    table = {arrow[0]: arrow[2] for arrow in arrows}
    symbol, path = start_part.removeprefix("start:"), []
    for _ in range(int(hops_part.split()[1])):
        symbol = table[symbol]
        path.append(symbol)
    return path


def test_answers_and_rationales_follow_the_table(task):
    candidates = json.loads(task.candidates.read_text(encoding="utf8"))
    assert candidates == list(SYMBOLS[:NUM_SYMBOLS])
    for split in ("train", "validation", "test"):
        for record in _records(task, split):
            text = record["qry"]["conversations"][0]["value"]
            path = _walk_by_hand(text)
            answer = candidates[record["label"]]
            assert solve(text) == answer == path[-1]
            assert len(path) == record["steps"]
            assert record["qry"]["conversations"][1]["value"] == (
                "<think>" + " ".join(f"{a}>{b}." for a, b in zip([record["start"], *path[:-1]], path))
                + f"</think><answer>{answer}</answer>"
            )  # fmt: skip
            assert record["pos"]["conversations"][0]["value"] == answer


def test_hop_counts_in_equal_shares(task):
    for split, size in (("train", 400), ("validation", 40), ("test", 80)):
        counts = Counter(record["steps"] for record in _records(task, split))
        assert counts == {hops: size // MAX_HOPS for hops in range(1, MAX_HOPS + 1)}


def test_every_symbol_is_one_token_of_the_tiny_tokenizer():
    tokenizer = train_byte_level_tokenizer()
    query = sample_query(NUM_SYMBOLS, 3, random.Random(0))
    tokens = tokenizer.tokenize(query.text)
    arrows = [token for source in query.order for token in (source, ">", query.table[source], ";")][:-1]
    # Each symbol is a token of its own (the words around them may be cut in any way).
    joined = " ".join(tokens)
    assert " ".join(arrows) in joined
    assert f": {query.start} . Ġf" in joined
    for segment in query.rationale:
        assert sum(token.lstrip("Ġ") in set(SYMBOLS) for token in tokenizer.tokenize(segment)) == 2


def test_no_shortcut_beats_chance():
    rng = random.Random(11)
    queries = [sample_query(NUM_SYMBOLS, 1 + index % MAX_HOPS, rng) for index in range(4000)]
    chance = 1 / NUM_SYMBOLS
    # Bag of symbols: every table lists each symbol once on each side, so a bag-based guess is a constant guess.
    bags = {tuple(sorted(Counter(query.text.split(".")[0].replace(";", "").replace(">", "")[6:]).items()))
            for query in queries}  # fmt: skip
    assert len(bags) == 1
    most_frequent_share = Counter(query.answer for query in queries).most_common(1)[0][1] / len(queries)
    assert most_frequent_share < chance + 0.03
    # The answer's place in the listing, per hop count.
    for hops in range(1, MAX_HOPS + 1):
        subset = [query for query in queries if query.hops == hops]
        positions = Counter(query.order.index(query.answer) for query in subset)
        assert max(positions.values()) / len(subset) < chance + 0.05
        # The first arrow's target (the one-hop answer) is never the answer after more hops; the start never is.
        if hops > 1:
            assert all(query.table[query.start] != query.answer for query in subset)
        assert all(query.start != query.answer for query in subset)


def test_no_table_in_two_splits(task):
    keys = {split: {record["scene"] for record in _records(task, split)} for split in ("train", "validation", "test")}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["validation"]
    assert not keys["validation"] & keys["test"]
    assert sum(len(value) for value in keys.values()) == 520  # no table twice within a split either


def test_same_seed_same_bytes_other_seed_other_task(task, tmp_path):
    sizes = {"train": 400, "validation": 40, "test": 80}
    again = write_pointer_task(tmp_path / "again", sizes, NUM_SYMBOLS, MAX_HOPS, seed=3)
    other = write_pointer_task(tmp_path / "other", sizes, NUM_SYMBOLS, MAX_HOPS, seed=4)
    for split in ("train", "validation", "test"):
        assert again.split(split).read_bytes() == task.split(split).read_bytes()
        assert other.split(split).read_bytes() != task.split(split).read_bytes()


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="hops must lie in"):
        sample_query(5, 5, random.Random(0))
    with pytest.raises(ValueError, match="num_symbols"):
        sample_query(40, 2, random.Random(0))
    with pytest.raises(ValueError, match="unknown splits"):
        write_pointer_task(tmp_path, {"control": 3})
    with pytest.raises(ValueError, match="max_hops"):
        write_pointer_task(tmp_path, num_symbols=4, max_hops=4)


def test_the_existing_reader_segmentation_and_split_loader_take_the_task(task):
    rows = read_ume_sft(task.split("test"))
    records = _records(task, "test")
    assert len(rows) == len(records)
    for row, record in zip(rows, records):
        assert row["query"]["image"] == [] and row["query"]["video"] == []
        segments = split_rationale(row["query"]["rationale"], record["steps"])
        assert [segment.strip() for segment in segments] == [
            f"{a}>{b}." for a, b in zip([record["start"], *_walk_by_hand(row["query"]["text"])[:-1]],
                                        _walk_by_hand(row["query"]["text"]))
        ]  # fmt: skip
    split = load_split(task.split("test"))
    assert split.labels.tolist() == [record["label"] for record in records]
    assert split.steps.tolist() == [record["steps"] for record in records]
