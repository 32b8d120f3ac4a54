"""`plume-st eval` and `plume-st eval-fixture` through a local typer app."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from plume_st.evaluation import cli


def _app() -> typer.Typer:
    app = typer.Typer()
    cli.register(app)
    return app


def test_list_prints_one_dataset_a_line():
    result = CliRunner().invoke(_app(), ["eval", "--list"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 78
    assert "MSR-VTT\tvideo\tRET\thit@1\tglobal" in lines
    assert "ViDoRe_arxivqa\tvisdoc\tVDRv1\tndcg@5\tglobal" in lines
    assert lines[0] == "ImageNet-1K\timage\tCLS\thit@1\tlocal"
    visdoc = CliRunner().invoke(_app(), ["eval", "--list", "--modalities", "visdoc"])
    assert len(visdoc.output.strip().splitlines()) == 24


def test_fixture_then_eval_writes_a_report(tmp_path, monkeypatch, module_encoder):
    runner = CliRunner()
    data, out = tmp_path / "mmeb", tmp_path / "out"
    made = runner.invoke(_app(), ["eval-fixture", str(data)])
    assert made.exit_code == 0 and "Wrote 24 datasets" in made.output
    encoder = module_encoder(constant=True)
    monkeypatch.setattr(cli, "load_model", lambda name, device=None, model_kwargs=None: encoder)
    (tmp_path / "my-model").mkdir()
    monkeypatch.chdir(tmp_path)  # MODEL is a relative folder: the cache records its absolute path
    args = ["eval", "my-model", "--data", str(data), "--out", str(out), "--datasets", "ImageNet-1K,HMDB51",
            "--datasets", "ActivityNetQA", "--reasoning", "none", "--batch-size", "4",
            "--protocol", "plume"]  # fmt: skip
    result = runner.invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert "Partial:" in result.output and "3 of 78" in result.output
    assert "Protocol: plume — not leaderboard-comparable" in result.output
    report = json.loads((out / "report.json").read_text())
    assert {n: d["score"] for n, d in report["datasets"].items()} == pytest.approx(
        {"ImageNet-1K": 25.0, "HMDB51": 100 / 3, "ActivityNetQA": 50.0}
    )
    model_id = json.loads((out / "cache" / "settings.json").read_text())["model"]
    assert model_id.startswith(f"ModuleEncoder {tmp_path / 'my-model'} [float32; plume-st ") and "sha256:" in model_id
    assert all(k == {"reasoning": "none"} for k in encoder.fake.kwargs)


def test_bad_arguments_are_refused(tmp_path):
    runner = CliRunner()
    assert runner.invoke(_app(), ["eval", "m", "--data", str(tmp_path), "--out", str(tmp_path), "--reasoning",
                                  "deep"]).exit_code != 0  # fmt: skip
    assert runner.invoke(_app(), ["eval", "m"]).exit_code != 0
    assert runner.invoke(_app(), ["eval", "--list", "--modalities", "audio"]).exit_code != 0
    for option, value in (("--protocol", "mteb"), ("--ndcg", "exponential")):
        refused = runner.invoke(_app(), ["eval", "m", "--data", str(tmp_path), "--out", str(tmp_path), option, value])
        assert refused.exit_code != 0 and option in refused.output
