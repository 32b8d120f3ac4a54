"""The demo trains with Matryoshka sizes; the saved model keeps them; its card lists them with `truncate_dim` usage."""

from __future__ import annotations

import pytest
from sentence_transformers import SentenceTransformer
from typer.testing import CliRunner

from plume_st.cli import app
from plume_st.demo import parse_dims
from plume_st.model import matryoshka_dims
from plume_st.training import run_training_demo


def test_demo_with_matryoshka_dims_saves_and_cards_them(tmp_path):
    lines: list[str] = []
    result = run_training_demo(
        tmp_path, max_steps=6, batch_size=8, num_records=24, matryoshka_dims=[32, 16], show_progress=False,
        print_fn=lines.append,
    )  # fmt: skip
    assert any("Matryoshka sizes [32, 16]" in line for line in lines)
    per_size = [line for line in lines if line.startswith("held-out hit@1 per Matryoshka size: 64: ")]
    assert len(per_size) == 1 and ", 32: " in per_size[0] and ", 16: " in per_size[0]
    assert list(result["hit_at_1_by_dim"]) == [64, 32, 16]
    assert all(0.0 <= value <= 1.0 for value in result["hit_at_1_by_dim"].values())
    assert matryoshka_dims(result["model"]) == [64, 32, 16]  # reloaded from the saved folder
    card = (result["model_dir"] / "README.md").read_text(encoding="utf8")
    assert "### Matryoshka dimensions" in card
    assert "the first 64, 32 and 16 dimensions" in card
    assert "truncate_dim=16)" in card and "encode(inputs, truncate_dim=16)" in card
    truncated = SentenceTransformer(str(result["model_dir"]), trust_remote_code=True, truncate_dim=16)
    embeddings = truncated.encode(["a red circle", "a blue square"], convert_to_tensor=True)
    full = result["model"].encode(["a red circle", "a blue square"], convert_to_tensor=True)
    assert embeddings.shape == (2, 16)
    assert (embeddings - full[:, :16]).abs().max().item() < 1e-5  # a prefix of the full vector


def test_a_model_without_dims_has_no_matryoshka_section(plume_model_without_dims):
    model, folder = plume_model_without_dims
    assert matryoshka_dims(model) is None
    assert "### Matryoshka dimensions" not in (folder / "README.md").read_text(encoding="utf8")


@pytest.fixture
def plume_model_without_dims(tiny_backbone, tmp_path):
    from .conftest import make_model

    model = make_model(tiny_backbone, latent_steps=1)
    model.save(str(tmp_path / "model"))
    return SentenceTransformer(str(tmp_path / "model"), trust_remote_code=True), tmp_path / "model"


def test_parse_dims():
    assert parse_dims("64, 32,16") == [64, 32, 16]
    for bad in ("", "32,x", "0,16", "-8"):
        with pytest.raises(ValueError, match="comma-separated positive sizes"):
            parse_dims(bad)


def test_demo_refuses_bad_dims_before_training(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--matryoshka-dims", "32,abc"])
    assert result.exit_code == 2
    assert "--matryoshka-dims" in result.output and "'32,abc'" in result.output
    assert not any(tmp_path.iterdir())
