"""The cache's model id is a fingerprint of the weights; other ranks check rank 0's settings before encoding."""

from __future__ import annotations

import json
import threading
import time

import pytest
import torch

from plume_st.evaluation.encoding.fingerprint import FingerprintError, model_fingerprint
from plume_st.evaluation.runner import _check_settings, evaluate_mmeb


def _linear(value: float, size: int = 3, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    layer = torch.nn.Linear(size, size, dtype=dtype)
    torch.nn.init.constant_(layer.weight, value)
    torch.nn.init.zeros_(layer.bias)
    return layer


def test_fingerprint_follows_the_weights_not_the_name():
    assert model_fingerprint(_linear(0.5)) == model_fingerprint(_linear(0.5))  # the same weights, loaded again
    assert model_fingerprint(_linear(0.5)) != model_fingerprint(_linear(0.25))
    assert model_fingerprint(_linear(0.5), "a") != model_fingerprint(_linear(0.5), "b")
    half = model_fingerprint(_linear(0.5, dtype=torch.bfloat16))
    assert "[bfloat16;" in half and half != model_fingerprint(_linear(0.5))
    with pytest.raises(FingerprintError):
        model_fingerprint(object())


def test_large_models_are_sampled_yet_a_change_anywhere_shows(monkeypatch):
    monkeypatch.setattr("plume_st.evaluation.encoding.fingerprint.FULL_HASH_LIMIT", 10)
    model = _linear(0.5, size=100)
    before = model_fingerprint(model)
    with torch.no_grad():
        model.weight[57, 3] += 1.0  # outside the strided sample: caught by the sum
    assert model_fingerprint(model) != before


def test_checkpoint_retrained_in_place_does_not_reuse_the_cache(mini_mmeb, tmp_path, module_encoder):
    model = module_encoder(weight=1.0)
    evaluate_mmeb(model, mini_mmeb, tmp_path, datasets=["OK-VQA"], model_source="ckpt", show_progress_bar=False)
    again = module_encoder(weight=1.0)  # the same checkpoint loaded again resumes: nothing re-encoded
    evaluate_mmeb(again, mini_mmeb, tmp_path, datasets=["OK-VQA"], model_source="ckpt", show_progress_bar=False)
    assert again.fake.encoded == 0
    retrained = module_encoder(weight=2.0)  # same class, same path, other weights
    with pytest.raises(ValueError, match="cached embeddings do not apply"):
        evaluate_mmeb(retrained, mini_mmeb, tmp_path, datasets=["OK-VQA"], model_source="ckpt")
    assert retrained.fake.encoded == 0


def test_model_without_an_id_never_resumes(mini_mmeb, tmp_path, fake_encoder):
    evaluate_mmeb(fake_encoder(), mini_mmeb, tmp_path, datasets=["OK-VQA"], show_progress_bar=False)
    assert json.loads((tmp_path / "cache" / "settings.json").read_text())["model"] is None
    other = fake_encoder(constant=True)
    with pytest.raises(ValueError, match="written by a model without an id"):
        evaluate_mmeb(other, mini_mmeb, tmp_path, datasets=["OK-VQA"], show_progress_bar=False)
    assert other.encoded == 0


def test_other_ranks_wait_for_and_verify_rank_0_settings(tmp_path):
    path = tmp_path / "cache" / "settings.json"

    def rank0_writes_later() -> None:
        time.sleep(0.3)
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"model": "a", "encode_kwargs": {}}))

    writer = threading.Thread(target=rank0_writes_later)
    writer.start()
    try:
        with pytest.raises(ValueError, match="cached embeddings do not apply"):
            _check_settings(tmp_path, {"model": "b", "encode_kwargs": {}}, rank=1, timeout=10)
    finally:
        writer.join()
    _check_settings(tmp_path, {"model": "a", "encode_kwargs": {}}, rank=1, timeout=10)  # the same run: accepted
    with pytest.raises(TimeoutError, match="rank 0 wrote no"):
        _check_settings(tmp_path / "other", {"model": "a", "encode_kwargs": {}}, rank=2, timeout=0.2)
