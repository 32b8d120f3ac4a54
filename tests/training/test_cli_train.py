"""``plume-st train CONFIG.yaml`` on the shipped tiny CPU configuration (shortened), and config validation."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import yaml
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


def test_config_errors(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"modle": {}}))
    with pytest.raises(ValueError, match="unknown config sections"):
        load_config(path)
    with pytest.raises(ValueError, match="output_dir"):
        load_config({"data": {"synthetic": {}}})
    with pytest.raises(ValueError, match="train_files"):
        load_config({"training": {"output_dir": "x"}})
