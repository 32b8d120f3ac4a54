"""bf16 mixed precision reaches the whole training forward: the latent steps, the suffix pass and the LM head run
under autocast (not only the prefix pass accelerate wraps), in the plain and the GradCache loss."""

from __future__ import annotations

import pytest
import torch
from sentence_transformers import SentenceTransformerTrainingArguments

from plume_st.training.curriculum import CurriculumSchedule
from plume_st.training.data.collator import PlumeDataCollator
from plume_st.training.data.ume_data import read_ume_sft
from plume_st.training.losses.cached_plume_loss import CachedPlumeLoss
from plume_st.training.losses.plume_loss import PlumeLoss
from plume_st.training.plume_trainer import PlumeTrainer

from .conftest import make_model


@pytest.fixture(scope="module")
def setup(tiny_backbone, synthetic_dir):
    model = make_model(tiny_backbone, latent_steps=4)
    model.eval()
    collator = PlumeDataCollator(preprocess_fn=model[0].preprocess, tokenizer=model[0].tokenizer, num_segments=4)
    rows = read_ume_sft(synthetic_dir / "train.jsonl", media_root=synthetic_dir).select(range(4)).to_list()
    batch = collator(rows)
    columns = [{k[len(p) :]: v for k, v in batch.items() if k.startswith(p)} for p in ("query_", "positive_")]
    return model, columns


def _record_dtypes(model, run):
    """Run ``run()`` and return (sequence length, output dtype) of every call of the first decoder layer's
    q_proj, and the LM head's output dtypes."""
    causal_lm = model[0].causal_lm
    layer, seen, heads = causal_lm.model.language_model.layers[0].self_attn.q_proj, [], []
    hooks = [
        layer.register_forward_hook(lambda module, args, out: seen.append((args[0].shape[1], out.dtype))),
        causal_lm.lm_head.register_forward_hook(lambda module, args, out: heads.append(out.dtype)),
    ]
    try:
        run()
    finally:
        for hook in hooks:
            hook.remove()
    return seen, heads


@pytest.mark.parametrize("loss_class", [PlumeLoss, CachedPlumeLoss])
@pytest.mark.parametrize(("precision", "dtype"), [("bf16", torch.bfloat16), (None, torch.float32)])
def test_suffix_pass_runs_in_the_autocast_dtype(setup, loss_class, precision, dtype):
    model, columns = setup
    assert {param.dtype for param in model.parameters()} == {torch.float32}
    curriculum = CurriculumSchedule(num_segments=4)
    curriculum.stage = 2  # K = 2 latent steps, half of the rationale as text
    kwargs = {"mini_batch_size": 2} if loss_class is CachedPlumeLoss else {}
    loss = loss_class(model, curriculum, mixed_precision=precision, **kwargs)
    model.zero_grad()
    seen, heads = _record_dtypes(model, lambda: sum(loss(columns).values()).backward())
    prefix_len = columns[0]["input_ids"].shape[1]
    suffix = [length for length, _ in seen if length > 1 and length != prefix_len]
    latent = [length for length, _ in seen if length == 1]
    passes = 2 if loss_class is CachedPlumeLoss else 1  # GradCache: a cached pass and the re-run with a graph
    chunks = 2 if loss_class is CachedPlumeLoss else 1
    # (passes) x (mini-batches) x 2 columns x (K - 1 = 1): z~(K) joins the suffix pass
    assert len(latent) == passes * chunks * 2 * 1
    assert len(suffix) >= passes * chunks * 2
    assert {out for _, out in seen} == {dtype}
    assert set(heads) == {dtype}
    assert all(param.grad is None or param.grad.dtype == torch.float32 for param in model.parameters())
    assert model[1].adapter.router.weight.grad is not None


def test_trainer_hands_bf16_to_the_loss(setup, tmp_path):
    model, _ = setup
    loss = PlumeLoss(model, CurriculumSchedule(num_segments=4))
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path), bf16=True, use_cpu=True, report_to=[])
    PlumeTrainer(model, args, loss=loss)
    assert loss.mixed_precision == "bf16"
    plain = PlumeLoss(model, CurriculumSchedule(num_segments=4))
    PlumeTrainer(model, SentenceTransformerTrainingArguments(output_dir=str(tmp_path), use_cpu=True), loss=plain)
    assert plain.mixed_precision is None
    with pytest.raises(ValueError, match="mixed_precision"):
        PlumeLoss(model, mixed_precision="bf8")


def test_pure_bf16_weights_without_deepspeed_warn(tmp_path, monkeypatch):
    from plume_st.training.run import warn_on_pure_bf16

    monkeypatch.delenv("ACCELERATE_USE_DEEPSPEED", raising=False)
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path), use_cpu=True)
    assert warn_on_pure_bf16(torch.nn.Linear(2, 2).to(torch.bfloat16), args) is True
    assert warn_on_pure_bf16(torch.nn.Linear(2, 2), args) is False
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    assert warn_on_pure_bf16(torch.nn.Linear(2, 2).to(torch.bfloat16), args) is False
