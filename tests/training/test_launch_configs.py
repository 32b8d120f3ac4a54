"""Every shipped accelerate / DeepSpeed configuration loads, and the FSDP one asks for what PLUME's trainer expects."""

from __future__ import annotations

from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.utils import DistributedType
from accelerate.utils.deepspeed import HfDeepSpeedConfig
from sentence_transformers import SentenceTransformerTrainingArguments

from plume_st.training.train_config import load_config

SCRIPTS = Path(__file__).parents[2] / "training_scripts"
ACCELERATE = sorted((SCRIPTS / "accelerate").glob("*.yaml"))


def test_the_shipped_launch_configs_are_the_expected_ones():
    assert [path.name for path in ACCELERATE] == [
        "ddp.yaml", "deepspeed-zero1.yaml", "deepspeed-zero2.yaml", "deepspeed-zero3.yaml", "fsdp.yaml",
    ]  # fmt: skip


@pytest.mark.parametrize("path", ACCELERATE, ids=lambda path: path.name)
def test_accelerate_config_loads(path):
    config = load_config_from_file(str(path))
    assert config.num_processes == 8 and config.num_machines == 1
    if config.distributed_type == DistributedType.DEEPSPEED:
        deepspeed_file = SCRIPTS.parent / config.deepspeed_config["deepspeed_config_file"]
        stage = int(path.stem[-1])
        assert HfDeepSpeedConfig(str(deepspeed_file)).get_value("zero_optimization.stage") == stage


def test_fsdp_config_is_fsdp2_full_shard_without_activation_checkpointing():
    config = load_config_from_file(str(SCRIPTS / "accelerate" / "fsdp.yaml"))
    assert config.distributed_type == DistributedType.FSDP
    fsdp = config.fsdp_config
    assert fsdp["fsdp_version"] == 2 and fsdp["fsdp_reshard_after_forward"] is True
    assert fsdp["fsdp_activation_checkpointing"] is False  # PlumeTrainer refuses it (it recomputes the KV cache)
    assert fsdp["fsdp_auto_wrap_policy"] == "NO_WRAP"  # PlumeTrainer shards with PLUME's own plan


def test_fsdp_run_config_builds_its_training_arguments(tmp_path):
    config = load_config(SCRIPTS / "configs" / "qwen2vl-7b-fsdp.yaml")
    assert config["model"]["dtype"] == "float32" and config["training"]["bf16"] is True
    training = {**config["training"], "output_dir": str(tmp_path), "bf16": False}  # no bf16 hardware needed here
    args = SentenceTransformerTrainingArguments(**training)
    assert args.per_device_train_batch_size * 8 == 1024 and not args.gradient_checkpointing
