"""Done-when b: a folder that lacks an adapter tensor, has a wrong hidden size or lacks the added tokens fails with an
error naming the problem and the file."""

from __future__ import annotations

import json
import re

import pytest
from safetensors.torch import load_file, save_file

from plume_st.convert import OfficialCheckpointError, convert_official, write_tiny_official


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return write_tiny_official(tmp_path_factory.mktemp("official") / "ckpt", "untied")


def copy(source, tmp_path):
    target = tmp_path / "ckpt"
    target.mkdir()
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


def rewrite_weights(folder, change):
    tensors = load_file(folder / "model.safetensors")
    change(tensors)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})


def convert_error(folder, tmp_path) -> str:
    with pytest.raises(OfficialCheckpointError) as error:
        convert_official(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    return str(error.value)


def test_missing_adapter_tensor(source, tmp_path):
    folder = copy(source, tmp_path)
    rewrite_weights(folder, lambda t: t.pop("latent_moe_transition.experts.2.fc1.bias"))
    message = convert_error(folder, tmp_path)
    assert message.startswith(f"{folder / 'model.safetensors'}: the transition adapter is incomplete")
    assert "missing latent_moe_transition.experts.2.fc1.bias" in message


def test_misshapen_adapter_tensor(source, tmp_path):
    folder = copy(source, tmp_path)
    rewrite_weights(folder, lambda t: t.update({"latent_moe_transition.router.weight": t[
        "latent_moe_transition.router.weight"][:, :64].clone()}))
    message = convert_error(folder, tmp_path)
    assert str(folder / "model.safetensors") in message
    assert "latent_moe_transition.router.weight has shape [4, 64], expected [4, 128] (hidden size 64)" in message


def test_missing_adapter_tensor_in_a_sharded_checkpoint(tmp_path):
    folder = write_tiny_official(tmp_path / "ckpt", "sharded")
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    file = index["weight_map"].pop("latent_moe_transition.ln.bias")
    tensors = load_file(folder / file)
    tensors.pop("latent_moe_transition.ln.bias")
    save_file(tensors, str(folder / file), metadata={"format": "pt"})
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    message = convert_error(folder, tmp_path)
    assert str(folder / file) in message and "missing latent_moe_transition.ln.bias" in message


def test_wrong_hidden_size(source, tmp_path):
    folder = copy(source, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["hidden_size"] = config["text_config"]["hidden_size"] = 48
    (folder / "config.json").write_text(json.dumps(config))
    message = convert_error(folder, tmp_path)
    assert message == (
        f"{folder / 'model.safetensors'}: model.language_model.embed_tokens.weight has shape [521, 64] but "
        f"{folder / 'config.json'} says vocab_size 521, hidden_size 48"
    )


def test_missing_added_tokens(source, tmp_path):
    folder = copy(source, tmp_path)
    plume = {"<gen_emb>", "<disc_emb>", "<bot>", "<eot>", "<ct>"}
    added = json.loads((folder / "added_tokens.json").read_text())
    (folder / "added_tokens.json").write_text(json.dumps({k: v for k, v in added.items() if k not in plume}))
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["added_tokens_decoder"] = {
        k: v for k, v in config["added_tokens_decoder"].items() if v["content"] not in plume
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    message = convert_error(folder, tmp_path)
    assert re.fullmatch(
        re.escape(f"{folder / 'added_tokens.json'}: the tokenizer lacks the PLUME tokens ")
        + r"\[.*\]; this is not a PLUME checkpoint",
        message,
    )
    assert all(token in message for token in plume)


def test_untied_without_lm_head(source, tmp_path):
    folder = copy(source, tmp_path)
    rewrite_weights(folder, lambda t: t.pop("lm_head.weight"))
    message = convert_error(folder, tmp_path)
    assert message == f"{folder / 'model.safetensors'}: untied checkpoint without lm_head.weight"


def test_not_a_qwen_vl_checkpoint(source, tmp_path):
    folder = copy(source, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "llava"}))
    message = convert_error(folder, tmp_path)
    assert message.startswith(f"{folder / 'config.json'}: model_type 'llava' is not a released PLUME backbone")


def test_cli_convert_prints_the_error(source, tmp_path):
    from typer.testing import CliRunner

    from plume_st.cli import app

    folder = copy(source, tmp_path)
    rewrite_weights(folder, lambda t: t.pop("latent_moe_transition.step_embed.weight"))
    result = CliRunner().invoke(app, ["convert", str(folder), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert f"Error: {folder / 'model.safetensors'}: the transition adapter is incomplete" in result.output
    assert "missing latent_moe_transition.step_embed.weight" in result.output
    result = CliRunner().invoke(app, ["tiny-official", str(tmp_path / "t"), "--layout", "nonsense"])
    assert result.exit_code == 2 and "unknown layout 'nonsense'" in result.output
