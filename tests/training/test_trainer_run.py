"""Tiny CPU runs through SentenceTransformerTrainer: every stage, learning, and resuming from a checkpoint."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import TrainerCallback

from plume_st.training.data.synthetic_data import shape_retrieval_set
from plume_st.training.demo_training import stage_losses
from plume_st.training.retrieval_metrics import hit_at_1
from plume_st.training.run import train_from_config

from .conftest import make_model


def _config(output_dir, max_steps, **training):
    return {
        "model": {"backbone": "tiny", "num_frames": 4, "expert_dropout": 0.0, "dtype": "float32"},
        "data": {"synthetic": {"num_records": 256, "seed": 0, "kinds": ["shapes_i2t", "shapes_t2i"]}},
        "training": {
            "output_dir": str(output_dir),
            "max_steps": max_steps,
            "per_device_train_batch_size": 16,
            "learning_rate": 1e-3,
            "warmup_steps": 2,
            "lr_scheduler_type": "constant_with_warmup",
            "logging_steps": 5,
            "save_strategy": "no",
            "seed": 0,
            "disable_tqdm": True,
            "multi_dataset_batch_sampler": "proportional",
            **training,
        },
    }


def test_tiny_run_goes_through_every_stage_and_learns(tmp_path, tiny_backbone):
    # Five held-out sets (90 image -> caption queries) average out the 1/18 steps of one set's hit@1.
    held_out = [shape_retrieval_set(seed=seed) for seed in range(1234, 1239)]
    untrained = make_model(tiny_backbone)
    before = hit_at_1(untrained, *held_out[0])
    # No moment resets here: at lr 1e-3 with 8-step stages, the first bias-corrected Adam steps after each reset are
    # full-lr steps on every weight. Held-out hit@1, seeds 0-7: with resets 0.13-0.29, without 0.24-0.39.
    config = _config(tmp_path, 40)
    config["curriculum"] = {"reset_optimizer": False}
    result = train_from_config(config, model=untrained)
    after = sum(hit_at_1(result.model, *pair) for pair in held_out) / len(held_out)
    logs = [entry for entry in result.trainer.state.log_history if "loss" in entry]
    assert [entry["stage"] for entry in logs] == [0, 1, 1, 2, 3, 3, 4, 4]
    assert [entry["latent_steps"] for entry in logs] == [0, 2, 2, 4, 6, 6, 8, 8]
    assert {"ce", "gen_infonce", "anchor_infonce", "balance"} <= logs[0].keys()
    assert result.trainer.curriculum_callback.num_resets == 0
    per_stage = stage_losses(logs)
    # Seeds 0-7: stage-mean loss fell by >= 1.8 and the cross-entropy by >= 1.5 from stage 0 to stage 4.
    assert per_stage[4]["loss"] < per_stage[0]["loss"] - 1.0
    assert per_stage[4]["ce"] < per_stage[0]["ce"] - 1.0
    assert before <= 2 / 18  # chance is 1/18
    assert after >= 3 / 18  # seeds 0-7: >= 0.24
    assert (tmp_path / "final" / "modules.json").is_file()


class _StopAt(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True


def test_resumed_run_ends_with_the_uninterrupted_weights(tmp_path):
    save = {"save_strategy": "steps", "save_steps": 5}
    full = train_from_config(_config(tmp_path / "full", 10, **save))
    interrupted = train_from_config(_config(tmp_path / "cut", 10, **save), callbacks=[_StopAt(5)])
    assert interrupted.trainer.state.global_step == 5
    checkpoint = tmp_path / "cut" / "checkpoint-5"
    saved = json.loads((checkpoint / "trainer_state.json").read_text())["stateful_callbacks"]["CurriculumCallback"]
    assert saved["attributes"]["stage"] == 2  # progress 4/10 when step 5 began
    resumed = train_from_config(_config(tmp_path / "cut", 10, **save), resume_from_checkpoint=str(checkpoint))
    assert resumed.trainer.state.global_step == 10
    assert resumed.trainer.curriculum_callback.num_resets == 2  # stages 3 and 4; stage 2 was not reset again
    full_state, resumed_state = full.model.state_dict(), resumed.model.state_dict()
    assert full_state.keys() == resumed_state.keys()
    for name, value in full_state.items():
        torch.testing.assert_close(resumed_state[name], value, atol=1e-5, rtol=1e-4, msg=name)
    full_logs = [e["loss"] for e in full.trainer.state.log_history if "loss" in e]
    resumed_logs = [e["loss"] for e in resumed.trainer.state.log_history if "loss" in e]
    assert resumed_logs[-1] == pytest.approx(full_logs[-1], rel=1e-4)
