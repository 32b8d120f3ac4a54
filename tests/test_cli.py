"""The command line: tiny backbones for every family, build, and the demo (done-when g, offline)."""

from __future__ import annotations

import json

import pytest
from transformers import AutoModelForImageTextToText, AutoProcessor
from typer.testing import CliRunner

from plume_st.cli import app

runner = CliRunner()


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl", "qwen3_vl"])
def test_tiny_backbone_loads_like_a_hub_backbone(tmp_path, family):
    result = runner.invoke(app, ["tiny-backbone", str(tmp_path / "b"), "--family", family])
    assert result.exit_code == 0, result.output
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "b")
    processor = AutoProcessor.from_pretrained(tmp_path / "b")
    assert model.config.model_type == family
    assert processor.video_processor is not None and processor.image_processor is not None
    assert model.config.get_text_config().hidden_size == 64
    assert processor.tokenizer.convert_tokens_to_ids("<|image_pad|>") == model.config.image_token_id


def test_unknown_family_is_refused(tmp_path):
    result = runner.invoke(app, ["tiny-backbone", str(tmp_path / "b"), "--family", "llava"])
    assert result.exit_code != 0
    assert "Unsupported backbone family 'llava'" in str(result.exception)


def test_build_adds_tokens_with_copy_init(tmp_path, tiny_backbone):
    from safetensors.torch import load_file

    result = runner.invoke(
        app, ["build", "--backbone", str(tiny_backbone()), "--out", str(tmp_path / "m"), "--latent-steps", "4"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "m" / "1_LatentRollout" / "config.json").read_text())["latent_steps"] == 4
    tokenizer = AutoProcessor.from_pretrained(tmp_path / "m").tokenizer
    weights = load_file(tmp_path / "m" / "model.safetensors")
    embed = weights["model.embed_tokens.weight"]  # saved in the Hub (pre-v5) layout
    head = weights["lm_head.weight"]
    ids = {
        t: tokenizer.convert_tokens_to_ids(t)
        for t in ["<disc_emb>", "<gen_emb>", "<bot>", "<eot>", "<ct>", "<|object_ref_start|>", "<|object_ref_end|>"]
    }
    assert len(set(ids.values())) == 7 and embed.shape[0] == len(tokenizer)
    for token, source in [
        ("<disc_emb>", "<|object_ref_start|>"),
        ("<bot>", "<|object_ref_start|>"),
        ("<gen_emb>", "<|object_ref_end|>"),
        ("<eot>", "<|object_ref_end|>"),
        ("<ct>", "<|object_ref_end|>"),
    ]:
        assert (embed[ids[token]] == embed[ids[source]]).all()
        assert (head[ids[token]] == head[ids[source]]).all()


def test_demo_runs_offline(tmp_path, capsys):
    from plume_st.demo import run_demo

    model_dir = run_demo(tmp_path / "demo", max_steps=10)  # the full demo trains 72 steps; same code path
    output = capsys.readouterr().out
    assert sum("hit@1" in line for line in output.splitlines()) >= 2
    assert "cosine similarities of the trained model, reasoning='latent'" in output
    table = output.split("reasoning='latent'")[1].splitlines()
    row = next(line for line in table if line.startswith("video"))
    assert [float(v) for v in row.split()[1:]][3] == pytest.approx(1.0, abs=1e-3)  # self-similarity
    assert (model_dir / "modules.json").exists()
