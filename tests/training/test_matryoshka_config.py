"""``loss.matryoshka_dims`` in a run configuration: it reaches the loss (plain and GradCache), and the saved model
(full or LoRA adapter-only) reloads with its dims."""

from __future__ import annotations

import pytest
from sentence_transformers import SentenceTransformer

from plume_st.model import matryoshka_dims
from plume_st.training.losses.cached_plume_loss import CachedPlumeLoss
from plume_st.training.run import train_from_config


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_a_configured_run_trains_and_saves_its_dims(tmp_path, mode):
    config = {
        "model": {"backbone": "tiny", "latent_steps": 2, "num_frames": 4, "dtype": "float32"},
        "data": {"synthetic": {"num_records": 12, "seed": 0}},
        "curriculum": {"ratios": [0.5, 1.0]},
        "finetune": {"mode": mode, "lora": {"r": 4, "alpha": 8}},
        "loss": {
            "matryoshka_dims": [16, 32],
            "matryoshka_weights": [0.5, 0.5],
            "grad_cache": True,
            "mini_batch_size": 3,
        },
        "training": {
            "output_dir": str(tmp_path),
            "max_steps": 2,
            "per_device_train_batch_size": 6,
            "logging_steps": 1,
            "save_strategy": "no",
            "seed": 0,
            "disable_tqdm": True,
            "dataloader_pin_memory": False,
        },
    }
    result = train_from_config(config)
    loss = result.trainer.loss
    assert isinstance(loss, CachedPlumeLoss)
    assert (loss.matryoshka_dims, loss.matryoshka_weights) == ((64, 32, 16), (1.0, 0.5, 0.5))
    assert all("gen_infonce" in entry for entry in result.trainer.state.log_history if "loss" in entry)
    reloaded = SentenceTransformer(str(result.output_dir), trust_remote_code=True)
    assert matryoshka_dims(reloaded) == [64, 32, 16]
