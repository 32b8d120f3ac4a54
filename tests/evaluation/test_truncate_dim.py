"""`plume-st eval --truncate-dim`: a Matryoshka prefix of every embedding is scored, and a cache of another size
is refused."""

from __future__ import annotations

import json

import numpy as np
import typer
from typer.testing import CliRunner

import plume_st
from plume_st.backbones.tiny import build_tiny_backbone
from plume_st.evaluation import cli


def test_eval_scores_the_truncated_embeddings(tmp_path, mini_mmeb):
    backbone = build_tiny_backbone(tmp_path / "backbone")
    model = plume_st.build_plume_model(str(backbone), latent_steps=1, device="cpu")
    model.save_pretrained(str(tmp_path / "model"))
    app = typer.Typer()
    cli.register(app)
    out = tmp_path / "out"

    def run(*extra: str):
        args = ["eval", str(tmp_path / "model"), "--data", str(mini_mmeb), "--out", str(out), "--datasets",
                "ImageNet-1K", "--reasoning", "none", "--batch-size", "8", *extra]  # fmt: skip
        return CliRunner().invoke(app, args)

    result = run("--truncate-dim", "16")
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "cache" / "settings.json").read_text())
    assert settings["encode_kwargs"] == {"reasoning": "none", "truncate_dim": 16}
    cached = [np.load(path)["vectors"] for path in (out / "cache" / "ImageNet-1K").glob("*/*.npz")]
    assert cached and all(vectors.shape[1] == 16 for vectors in cached)

    refused = run("--truncate-dim", "32")  # the cache holds 16-dimensional vectors
    assert refused.exit_code != 0 and "cached embeddings do not apply" in str(refused.exception)
    too_large = run("--truncate-dim", "65")
    assert "between 1 and the embedding size 64, got 65" in str(too_large.exception)
    assert run("--truncate-dim", "0").exit_code == 2
