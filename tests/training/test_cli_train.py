"""``plume-st train CONFIG.yaml`` on the shipped tiny CPU configuration (shortened), and config validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from sentence_transformers import SentenceTransformerTrainingArguments
from typer.testing import CliRunner

from plume_st.training import cli
from plume_st.training.train_config import load_config

CONFIGS = Path(__file__).parents[2] / "training_scripts" / "configs"


def test_train_command_runs_the_tiny_config(tmp_path):
    app = typer.Typer()
    cli.register(app)
    app.command("noop")(lambda: None)  # a second command keeps typer from collapsing the app into `train`
    args = ["train", str(CONFIGS / "tiny-cpu.yaml"), "--output-dir", str(tmp_path), "--max-steps", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Saved the trained model to" in result.output
    assert (tmp_path / "final" / "modules.json").is_file()
    assert (tmp_path / "final" / "1_LatentRollout" / "config.json").is_file()


@pytest.mark.parametrize("name", ["tiny-cpu.yaml", "qwen2vl-2b-paper.yaml", "qwen2vl-7b.yaml"])
def test_shipped_configs_load(name):
    config = load_config(CONFIGS / name)
    assert config["model"]["latent_steps"] == 8
    assert config["curriculum"]["ratios"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert config["loss"]["temperature"] == 0.02 and config["loss"]["balance_weight"] == 0.1


# config -> the accelerate launch file its header names
PAPER_CONFIGS = {"qwen2vl-2b-paper.yaml": "ddp.yaml", "qwen2vl-7b.yaml": "deepspeed-zero1.yaml"}


@pytest.mark.parametrize("name", sorted(PAPER_CONFIGS))
def test_paper_configs_follow_the_paper(name, tmp_path):
    config = load_config(CONFIGS / name)
    launch = yaml.safe_load((CONFIGS.parent / "accelerate" / PAPER_CONFIGS[name]).read_text())
    assert f"accelerate/{PAPER_CONFIGS[name]}" in (CONFIGS / name).read_text()
    training, loss, model = config["training"], config["loss"], config["model"]
    assert training["learning_rate"] == 5e-5 and training["lr_scheduler_type"] == "cosine"
    assert training["warmup_steps"] == 0.03 and "warmup_ratio" not in training  # transformers 5: a float ratio
    # One global contrastive batch of 1024: every rank's rows gathered, no gradient accumulation.
    assert launch["num_processes"] * training["per_device_train_batch_size"] == 1024
    assert training["gradient_accumulation_steps"] == 1 and loss["gather_across_devices"] is True
    assert loss["grad_cache"] is True and 1 <= loss["mini_batch_size"] <= 16
    assert training["bf16"] is True
    if launch["distributed_type"] == "DEEPSPEED":  # DeepSpeed keeps fp32 masters itself; GradCache needs ZeRO-1
        ds_config = json.loads((CONFIGS.parents[1] / launch["deepspeed_config"]["deepspeed_config_file"]).read_text())
        assert ds_config["zero_optimization"]["stage"] == 1 and model["dtype"] == "bfloat16"
    else:  # plain DDP + AdamW: fp32 master weights, bf16 autocast
        assert model["dtype"] == "float32" and launch["mixed_precision"] == "bf16"
    assert model["max_pixels"] == 2_359_296 and model["latent_steps"] == 8
    assert config["finetune"] == {"mode": "full", "freeze_vision": True}
    assert (loss["ce_weight"], loss["gen_weight"], loss["anchor_weight"], loss["balance_weight"]) == (1, 1, 1, 0.1)
    assert loss["temperature"] == 0.02
    args = SentenceTransformerTrainingArguments(**{**training, "output_dir": str(tmp_path), "use_cpu": True})
    assert args.warmup_steps == 0.03 and args.get_warmup_steps(1000) == 30


def test_config_errors(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"modle": {}}))
    with pytest.raises(ValueError, match="unknown config sections"):
        load_config(path)
    with pytest.raises(ValueError, match="output_dir"):
        load_config({"data": {"synthetic": {}}})
    with pytest.raises(ValueError, match="train_files"):
        load_config({"training": {"output_dir": "x"}})
