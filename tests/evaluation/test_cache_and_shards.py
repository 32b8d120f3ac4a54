"""Resuming re-encodes nothing cached; two sharded processes give the single-process scores."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from plume_st.evaluation.encoding.cache import EmbeddingCache
from plume_st.evaluation.encoding.encode import shard
from plume_st.evaluation.items import EvalItem
from plume_st.evaluation.runner import distributed_rank, evaluate_mmeb


def _scores(report: dict) -> dict[str, float]:
    return {name: d["score"] for name, d in report["datasets"].items()}


def _cached_keys(out: Path, rank: int) -> set[str]:
    keys: set[str] = set()
    for path in out.glob(f"cache/*/*/rank{rank}-*.npz"):
        with np.load(path) as data:
            keys.update(data["keys"].tolist())
    return keys


def test_interrupted_run_resumes_without_re_encoding(mini_mmeb, tmp_path, fake_encoder):
    full = fake_encoder()
    expected = _scores(evaluate_mmeb(full, mini_mmeb, tmp_path / "full", batch_size=2, show_progress_bar=False))
    total = full.encoded
    assert total > 200

    out = tmp_path / "resumed"
    first = fake_encoder(fail_after=100)
    with pytest.raises(RuntimeError, match="interrupted"):
        evaluate_mmeb(first, mini_mmeb, out, batch_size=2, model_id="fake", show_progress_bar=False)
    assert 0 < first.encoded <= 100

    second = fake_encoder()
    resumed = evaluate_mmeb(second, mini_mmeb, out, batch_size=2, model_id="fake", show_progress_bar=False)
    assert second.encoded == total - first.encoded  # everything cached before the interrupt is reused
    assert _scores(resumed) == expected

    third = fake_encoder()
    assert _scores(evaluate_mmeb(third, mini_mmeb, out, batch_size=2, model_id="fake", show_progress_bar=False)) == (
        expected
    )
    assert third.encoded == 0


def test_cache_refuses_other_encode_settings(mini_mmeb, tmp_path, fake_encoder):
    model = fake_encoder()
    evaluate_mmeb(model, mini_mmeb, tmp_path, datasets=["OK-VQA"], model_id="m", show_progress_bar=False)
    assert model.kwargs and all(k == {} for k in model.kwargs)  # reasoning= only passed when given
    with pytest.raises(ValueError, match="cached embeddings do not apply"):
        evaluate_mmeb(model, mini_mmeb, tmp_path, datasets=["OK-VQA"], model_id="m", reasoning="latent")
    other = fake_encoder()
    evaluate_mmeb(other, mini_mmeb, tmp_path / "b", datasets=["OK-VQA"], reasoning="none", show_progress_bar=False)
    assert other.kwargs and all(k == {"reasoning": "none"} for k in other.kwargs)


def test_two_sharded_processes_match_one_process(mini_mmeb, tmp_path, fake_encoder):
    single = _scores(evaluate_mmeb(fake_encoder(), mini_mmeb, tmp_path / "single", show_progress_bar=False))

    out = tmp_path / "sharded"
    ctx = multiprocessing.get_context("fork")
    rank1 = ctx.Process(
        target=evaluate_mmeb,
        args=(fake_encoder(), mini_mmeb, out),
        kwargs={"rank": 1, "world_size": 2, "show_progress_bar": False},
    )
    rank1.start()
    try:
        report = evaluate_mmeb(
            fake_encoder(), mini_mmeb, out, rank=0, world_size=2, shard_timeout=60, show_progress_bar=False
        )
    finally:
        rank1.join(60)
    assert rank1.exitcode == 0
    assert _scores(report) == single
    keys0, keys1 = _cached_keys(out, 0), _cached_keys(out, 1)
    assert keys0 and keys1 and not keys0 & keys1  # each rank encoded its own share
    assert abs(len(keys0) - len(keys1)) <= 2 * 24 * 2  # shares are balanced (at most one apart per side and dataset)


def test_shards_partition_the_unique_items():
    items = [EvalItem(text=str(i % 7)) for i in range(20)]
    parts = [shard(items, r, 3) for r in range(3)]
    keys = [item.key for part in parts for item in part]
    assert sorted(keys) == sorted({item.key for item in items}) and len(keys) == 7
    assert [len(p) for p in parts] == [3, 2, 2]
    with pytest.raises(ValueError):
        shard(items, 3, 3)


def test_rank_from_torchrun_environment(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert distributed_rank() == (3, 4)
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert distributed_rank() == (0, 1)


def test_cache_files_are_shared_between_instances(tmp_path):
    writer, reader = EmbeddingCache(tmp_path, rank=1), EmbeddingCache(tmp_path)
    writer.write(["a", "b"], np.eye(2))
    assert reader.missing(["a", "b", "c"]) == ["a", "b", "c"]
    reader.refresh()
    assert reader.missing(["a", "b", "c"]) == ["c"]
    np.testing.assert_array_equal(reader.get(["b", "a"]), [[0, 1], [1, 0]])
    with pytest.raises(TimeoutError):
        reader.wait_for(["c"], timeout=0.05, poll=0.01)
