"""The GradCache variant gives the plain loss's value and gradients (mini-batches of 2 over a batch of 6)."""

from __future__ import annotations

import pytest
import torch

import plume_st
from plume_st.training.curriculum import CurriculumSchedule
from plume_st.training.data.collator import PlumeDataCollator
from plume_st.training.data.ume_data import read_ume_sft
from plume_st.training.losses.cached_plume_loss import CachedPlumeLoss
from plume_st.training.losses.plume_loss import PlumeLoss

from .conftest import make_model


def _grads(model):
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen3_vl"])
def test_grad_cache_equals_plain_loss(family, tiny_backbone, synthetic_dir, tmp_path):
    backbone = tiny_backbone if family == "qwen2_vl" else str(plume_st.build_tiny_backbone(tmp_path, family=family))
    model = make_model(backbone)
    model.eval()
    collator = PlumeDataCollator(preprocess_fn=model[0].preprocess, tokenizer=model[0].tokenizer)
    rows = read_ume_sft(synthetic_dir / "train.jsonl", media_root=synthetic_dir).select(range(6)).to_list()
    batch = collator(rows)
    columns = [{k[len(p) :]: v for k, v in batch.items() if k.startswith(p)} for p in ("query_", "positive_")]
    curriculum = CurriculumSchedule()
    curriculum.stage = 2

    model.zero_grad()
    plain = PlumeLoss(model, curriculum)(columns)
    sum(plain.values()).backward()
    plain_grads = _grads(model)

    model.zero_grad()
    cached = CachedPlumeLoss(model, curriculum, mini_batch_size=2)(columns)
    sum(cached.values()).backward()
    cached_grads = _grads(model)

    for name, value in plain.items():
        torch.testing.assert_close(cached[name], value, atol=1e-5, rtol=1e-5, msg=name)
    assert plain_grads.keys() == cached_grads.keys()
    assert any(name.startswith("1.adapter") for name in plain_grads)
    assert any("merger" in name for name in plain_grads)
    for name, grad in plain_grads.items():
        torch.testing.assert_close(cached_grads[name], grad, atol=1e-4, rtol=1e-4, msg=name)


def test_grad_cache_through_the_trainer_matches_plain_training(tmp_path):
    from plume_st.training.run import train_from_config

    def run(name, grad_cache):
        config = {
            "model": {"backbone": "tiny", "num_frames": 4, "dtype": "float32", "expert_dropout": 0.0},
            "data": {"synthetic": {"num_records": 24, "seed": 0}},
            "loss": {"grad_cache": grad_cache, "mini_batch_size": 3},
            "curriculum": {"ratios": [0.5, 1.0]},
            "training": {
                "output_dir": str(tmp_path / name),
                "max_steps": 2,
                "per_device_train_batch_size": 6,
                "learning_rate": 0.1,
                "optim": "sgd",  # Adam's first steps are ~lr * sign(g): they would amplify 1e-9 gradient noise
                "save_strategy": "no",
                "seed": 0,
                "disable_tqdm": True,
            },
        }
        return train_from_config(config, save_final=False).model.state_dict()

    plain, cached = run("plain", False), run("cached", True)
    for name, value in plain.items():
        torch.testing.assert_close(cached[name], value, atol=1e-5, rtol=1e-4, msg=name)


class _FakeZeroEngine(torch.nn.Module):
    """Stands in for a DeepSpeed engine (``module`` + ``zero_optimization_stage()``)."""

    def __init__(self, module, stage):
        super().__init__()
        self.module, self.stage = module, stage

    def zero_optimization_stage(self):
        return self.stage


def test_grad_cache_refuses_zero_2_and_3(tiny_backbone):
    model = make_model(tiny_backbone)
    with pytest.raises(ValueError, match="ZeRO-3 refuses.*ZeRO-1"):
        CachedPlumeLoss(_FakeZeroEngine(model, 3), CurriculumSchedule())([{}, {}])
