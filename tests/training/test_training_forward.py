"""The batched training forward: agreement with one-sample-at-a-time, gradient through every latent step,
label masks and the final-stage suffix on a real tokenizer."""

from __future__ import annotations

import pytest
import torch

from plume_st.training.curriculum import CurriculumSchedule, StageSpec
from plume_st.training.data.collator import PlumeDataCollator
from plume_st.training.data.suffix import IGNORE_INDEX, SuffixPieces, assemble_suffix
from plume_st.training.data.ume_data import read_ume_sft
from plume_st.training.losses.plume_loss import PlumeLoss
from plume_st.training.losses.training_forward import training_forward

from .conftest import make_model


@pytest.fixture(scope="module")
def setup(tiny_backbone, synthetic_dir):
    model = make_model(tiny_backbone)
    model.eval()
    collator = PlumeDataCollator(preprocess_fn=model[0].preprocess, tokenizer=model[0].tokenizer)
    rows = read_ume_sft(synthetic_dir / "train.jsonl", media_root=synthetic_dir).select(range(6)).to_list()
    return model, collator, rows


def _columns(batch):
    return [{k[len(p) :]: v for k, v in batch.items() if k.startswith(p)} for p in ("query_", "positive_")]


def _adapter_grads(model):
    return {name: param.grad.clone() for name, param in model[1].named_parameters() if param.grad is not None}


def test_batched_equals_one_sample_at_a_time(setup):
    model, collator, rows = setup
    loss_fn = PlumeLoss(model, CurriculumSchedule())
    loss_fn.curriculum.stage = 2  # K = 4 latent steps, then half the rationale and the answer as text
    assert {bool(row["query"]["video"]) for row in rows} == {True, False}  # images, videos and text in one batch

    model.zero_grad()
    batched = sum(loss_fn(_columns(collator(rows))).values())
    batched.backward()
    batched_grads = _adapter_grads(model)

    model.zero_grad()
    spec = loss_fn.curriculum.spec()
    per_row = [
        [training_forward(model, col, spec, loss_fn.pieces) for col in _columns(collator([row]))] for row in rows
    ]
    query, positive = [out[0] for out in per_row], [out[1] for out in per_row]
    outputs = query + positive
    single = sum(
        loss_fn.parts(
            torch.cat([o.gen_embedding for o in query]),
            torch.cat([o.gen_embedding for o in positive]),
            torch.cat([o.anchor_embedding for o in query]),
            torch.cat([o.anchor_embedding for o in positive]),
            torch.stack([o.cross_entropy_sum() for o in outputs]).sum(),
            sum(o.num_tokens for o in outputs),
            torch.cat([o.router_probs for o in outputs]),
        ).values()
    )
    single.backward()
    single_grads = _adapter_grads(model)

    torch.testing.assert_close(batched, single, atol=1e-4, rtol=1e-4)
    assert batched_grads.keys() == single_grads.keys() and len(batched_grads) >= 10
    for name, grad in batched_grads.items():
        torch.testing.assert_close(grad, single_grads[name], atol=1e-4, rtol=1e-4, msg=name)


def test_gradient_reaches_every_latent_step(setup):
    model, collator, rows = setup
    loss_fn = PlumeLoss(model, CurriculumSchedule())
    loss_fn.curriculum.stage = 4  # K = 8
    columns = _columns(collator(rows[:4]))
    adapter = model[1].adapter
    fed = []

    def keep_output(module, args, output):
        output[0].retain_grad()
        fed.append(output[0])

    handle = adapter.register_forward_hook(keep_output)
    model.zero_grad()
    try:
        loss = sum(loss_fn(columns).values())
        loss.backward()
    finally:
        handle.remove()
    assert len(fed) == 16  # 8 steps x 2 columns
    for step, z_tilde in enumerate(fed):
        assert z_tilde.grad is not None and z_tilde.grad.abs().sum() > 0, f"no gradient at step {step % 8}"
    step_grads = adapter.step_embed.weight.grad.abs().sum(dim=1)
    assert (step_grads[:8] > 0).all() and (step_grads[8:] == 0).all()

    def perturb_first_latent(module, args):
        z, anchor, step = args
        return (z + 0.05, anchor, step) if step == 1 else None  # z(1) feeds the transition of step 2

    with torch.no_grad():
        reference = sum(loss_fn(columns).values())
        handle = adapter.register_forward_pre_hook(perturb_first_latent)
        try:
            perturbed = sum(loss_fn(columns).values())
        finally:
            handle.remove()
    assert abs(perturbed.item() - reference.item()) > 1e-4
    torch.testing.assert_close(reference, loss.detach(), atol=1e-5, rtol=1e-5)


def test_labels_cover_exactly_the_suffix(setup):
    model, collator, rows = setup
    pieces = SuffixPieces.from_tokenizer(model[0].tokenizer)
    columns = _columns(collator(rows[:3]))
    spec = StageSpec(1, 2, True, True)
    with torch.no_grad():
        outputs = training_forward(model, columns[0], spec, pieces)
    suffix = outputs.suffix
    assert outputs.num_tokens == int(suffix.lengths.sum()) - 3  # every suffix token but <eot>, nothing else
    assert outputs.logits.shape == (outputs.num_tokens, model[0].causal_lm.config.get_text_config().vocab_size)
    expected = torch.cat([suffix.input_ids[row, 1 : suffix.lengths[row]] for row in range(3)])
    assert torch.equal(outputs.labels, expected)
    assert (suffix.labels[suffix.attention_mask == 0] == IGNORE_INDEX).all()


def test_suffix_text_on_the_real_tokenizer(setup):
    model, collator, rows = setup
    tokenizer = model[0].tokenizer
    pieces = SuffixPieces.from_tokenizer(tokenizer)
    batch = _columns(collator(rows[:2]))[0]
    args = (batch["think_ids"], batch["think_mask"], batch["answer_ids"], batch["answer_mask"])
    final = assemble_suffix(*args, StageSpec(4, 8, False, False), pieces)
    assert torch.equal(final.input_ids, model[1].suffix_ids(2, final.input_ids.device))  # what encode runs
    explicit = assemble_suffix(*args, StageSpec(0, 0, True, True), pieces)
    side = rows[0]["query"]
    text = tokenizer.decode(explicit.input_ids[0, : explicit.lengths[0]])
    assert text == f"<eot>{side['rationale']}</think><answer>{side['answer']}</answer>\n<gen_emb>"
    half = assemble_suffix(*args, StageSpec(2, 4, True, True), pieces)
    sentences = side["rationale"].split(". ")
    assert tokenizer.decode(half.input_ids[0, : half.lengths[0]]).startswith("<eot> " + sentences[4])
