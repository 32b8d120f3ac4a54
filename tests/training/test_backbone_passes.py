"""A latent encode makes 1 + K backbone passes, and equals the K + 1-pass procedure (every step its own pass, then
a separate suffix pass) in its embeddings and its training losses."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from plume_st.training.curriculum import CurriculumSchedule
from plume_st.training.data.collator import PlumeDataCollator
from plume_st.training.data.suffix import IGNORE_INDEX, assemble_suffix
from plume_st.training.data.ume_data import read_ume_sft
from plume_st.training.losses.plume_loss import PlumeLoss
from plume_st.training.losses.training_forward import TrainingOutputs, prefix_pass

from .conftest import make_model


@pytest.fixture(scope="module")
def setup(tiny_backbone, synthetic_dir):
    model = make_model(tiny_backbone).eval()  # dropout off: both procedures see the same experts
    collator = PlumeDataCollator(preprocess_fn=model[0].preprocess, tokenizer=model[0].tokenizer)
    rows = read_ume_sft(synthetic_dir / "train.jsonl", media_root=synthetic_dir).select(range(6)).to_list()
    return model, collator, rows


@pytest.fixture
def count_passes(setup, monkeypatch):
    """Counts the calls of ``PlumeInput.run_backbone``, the one door to the backbone (prefix included)."""
    input_module = setup[0][0]
    calls = []
    original = input_module.run_backbone

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(input_module, "run_backbone", counted)
    return calls


def separate_passes(rollout, state, z, anchor, num_steps, suffix_embeds, suffix_mask=None):
    """The K + 1-pass procedure: each z~(k) through the backbone on its own, then the suffix in a pass of its own."""
    for step in range(num_steps):
        z_tilde, _ = rollout.adapter(z, anchor, step)
        z = rollout.extend(state, z_tilde[:, None])[:, -1]
    return rollout.extend(state, suffix_embeds, suffix_mask)


def items(rows):
    """Text, image and video inputs of different lengths (padding inside the batch)."""
    media = [{k: row["query"][k] for k in ("text", "image", "video") if row["query"].get(k)} for row in rows[:2]]
    return ["a dog catching a frisbee", *media, "a longer text about three red boxes"]


@pytest.mark.parametrize("num_steps", [0, 1, 3, 8])
def test_latent_encode_makes_one_plus_k_passes(setup, count_passes, num_steps):
    model, _, rows = setup
    with torch.no_grad():
        model.encode(items(rows), latent_steps=num_steps, batch_size=4)
    assert len(count_passes) == 1 + max(num_steps, 1)  # K = 0: the prefix, then the suffix


@pytest.mark.parametrize("num_steps", [1, 4, 8])
def test_embeddings_equal_the_k_plus_one_pass_result(setup, num_steps):
    model, _, rows = setup
    input_module, rollout = model[0], model[1]
    with torch.no_grad():
        encoded = model.encode(items(rows), latent_steps=num_steps, batch_size=4, convert_to_tensor=True)
        features = input_module(input_module.preprocess(items(rows)))
        state = rollout.start(features)
        batch = features["bot_state"].shape[0]
        suffix = rollout.embed_tokens(rollout.suffix_ids(batch, features["bot_state"].device))
        hidden = separate_passes(
            rollout, state, features["bot_state"], features["anchor_embedding"], num_steps, suffix
        )
    torch.testing.assert_close(encoded, F.normalize(hidden[:, -1], dim=-1), atol=1e-5, rtol=0)


def reference_outputs(model, column, spec, pieces) -> TrainingOutputs:
    """The training forward of one side with K + 1 passes: the steps one by one, then the teacher-forced suffix."""
    input_module, rollout = model[0], model[1]
    suffix = assemble_suffix(
        column["think_ids"], column["think_mask"], column["answer_ids"], column["answer_mask"], spec, pieces
    )
    prefix = prefix_pass(model, {k: v for k, v in column.items() if not k.startswith(("think_", "answer_"))})
    state = rollout.start(prefix)
    probs, fed, z = [], [], prefix["bot_state"]
    for step in range(spec.num_latent):
        z_tilde, step_probs = rollout.adapter(z, prefix["anchor_embedding"], step)
        z = rollout.extend(state, z_tilde[:, None])[:, -1]
        fed.append(z_tilde)
        probs.append(step_probs)
    hidden = rollout.extend(state, rollout.embed_tokens(suffix.input_ids), suffix.attention_mask)
    supervised = suffix.labels != IGNORE_INDEX
    return TrainingOutputs(
        gen_embedding=hidden[torch.arange(hidden.shape[0]), suffix.lengths - 1],
        anchor_embedding=prefix["anchor_embedding"],
        logits=input_module.causal_lm.lm_head(hidden[supervised]),
        labels=suffix.labels[supervised],
        router_probs=torch.stack(probs, dim=1),
        latent_inputs=torch.stack(fed, dim=1),
        suffix=suffix,
    )


@pytest.mark.parametrize("stage", [1, 2, 4])
def test_training_losses_equal_the_k_plus_one_pass_result(setup, count_passes, stage):
    model, collator, rows = setup
    loss_fn = PlumeLoss(model, CurriculumSchedule())
    loss_fn.curriculum.stage = stage  # K = 2, 4, 8 latent steps
    spec = loss_fn.curriculum.spec()
    batch = collator(rows)
    columns = [{k[len(p) :]: v for k, v in batch.items() if k.startswith(p)} for p in ("query_", "positive_")]
    with torch.no_grad():
        losses = loss_fn(columns)
        assert len(count_passes) == 2 * (1 + spec.num_latent)  # two sides, each 1 + K passes
        query, positive = (reference_outputs(model, column, spec, loss_fn.pieces) for column in columns)
        expected = loss_fn.parts(
            query.gen_embedding,
            positive.gen_embedding,
            query.anchor_embedding,
            positive.anchor_embedding,
            query.cross_entropy_sum() + positive.cross_entropy_sum(),
            query.num_tokens + positive.num_tokens,
            torch.cat([query.router_probs, positive.router_probs]),
        )
    assert spec.num_latent == {1: 2, 2: 4, 4: 8}[stage]
    assert losses.keys() == expected.keys()
    for name in losses:
        torch.testing.assert_close(losses[name], expected[name], atol=1e-5, rtol=0)
