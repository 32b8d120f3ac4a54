"""sentence-transformers' own ``MatryoshkaLoss`` around (Cached)MultipleNegativesRankingLoss trains a PLUME model with
``SentenceTransformerTrainer``: the latent forward composes with it (one forward per column, shrunk per size)."""

from __future__ import annotations

import pytest
from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer import losses

from plume_st.model import matryoshka_dims, set_matryoshka_dims
from plume_st.training.data.synthetic_data import CLASSES

from .conftest import make_model

LATENT_STEPS = 2


def caption_pairs() -> Dataset:
    return Dataset.from_dict(
        {
            "anchor": [f"find the {colour} {shape}" for colour, shape in CLASSES],
            "positive": [f"a {colour} {shape}" for colour, shape in CLASSES],
        }
    )


@pytest.mark.parametrize("cached", [False, True], ids=["mnrl", "cached_mnrl"])
def test_matryoshka_loss_trains_a_plume_model(tiny_backbone, tmp_path, monkeypatch, cached):
    model = make_model(tiny_backbone, latent_steps=LATENT_STEPS)
    inner = (
        losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=3)
        if cached
        else losses.MultipleNegativesRankingLoss(model)
    )
    loss = losses.MatryoshkaLoss(model, inner, [64, 32, 16])
    passes = []
    run_backbone = model[0].run_backbone

    def counted(*args, **kwargs):
        passes.append(1)
        return run_backbone(*args, **kwargs)

    monkeypatch.setattr(model[0], "run_backbone", counted)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "trainer"),
        max_steps=6,
        per_device_train_batch_size=9,
        learning_rate=1e-3,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        dataloader_pin_memory=False,
        seed=0,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=caption_pairs(), loss=loss)
    trainer.train()
    logged = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(logged) == 6
    assert sum(logged[-2:]) / 2 < 0.6 * sum(logged[:2]) / 2, logged
    # per step and column one latent forward (1 + K passes), not one per size; GradCache runs each mini-batch twice
    assert len(passes) == 6 * 2 * (1 + LATENT_STEPS) * (2 * 3 if cached else 1)

    set_matryoshka_dims(model, loss.matryoshka_dims)
    model.save(str(tmp_path / "model"))
    reloaded = SentenceTransformer(str(tmp_path / "model"), trust_remote_code=True, truncate_dim=16)
    assert matryoshka_dims(reloaded) == [64, 32, 16]
    assert reloaded.encode(["a red circle"]).shape == (1, 16)
