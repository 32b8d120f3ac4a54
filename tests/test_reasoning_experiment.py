"""The reasoning experiment shrunk to seconds, end to end: every arm trains, saves, reloads and is scored.

It asserts the pipeline (files, JSON fields, shapes, finite numbers, the compute each mode must cost), not the
margins between the arms: those need the full run (``training_scripts/reasoning_experiment.py``).
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
from PIL import Image
from sentence_transformers import SentenceTransformer

from plume_st.reasoning_task import ARMS, ExperimentSettings, candidate_texts, select_arms

ROOT = Path(__file__).resolve().parents[1]
MAX_NEW_TOKENS = 6


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "reasoning_experiment", ROOT / "training_scripts/reasoning_experiment.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    out = tmp_path_factory.mktemp("reasoning")
    config = out / "tiny.yaml"
    config.write_text(
        "max_steps: 3\nbatch_size: 6\nwarmup_steps: 1\nseeds: [0]\neval_batch_size: 8\n"
        f"max_new_tokens: {MAX_NEW_TOKENS}\n"
        "sizes: {train: 36, validation: 6, test: 9, control: 6}\n"
    )
    results = _load_script().main(
        ["--out", str(out / "run"), "--config", str(config), "--figure", str(out / "fig.png")]
    )
    return out, results


def test_every_arm_ran_and_wrote_its_scores(experiment):
    out, results = experiment
    saved = json.loads((out / "run" / "results.json").read_text())
    assert saved["summary"].keys() == ARMS.keys() == {run["arm"] for run in saved["runs"]}
    for run in saved["runs"]:
        assert run["seed"] == 0 and run["train_seconds"] > 0
        assert set(run["splits"]) == {"validation", "test", "control"}
        for split, size in (("validation", 6), ("test", 9), ("control", 6)):
            metrics = run["splits"][split]
            assert metrics["num_queries"] == size and len(metrics["predictions"]) == size
            assert all(0 <= p < 18 for p in metrics["predictions"])
            assert 0.0 <= metrics["hit_at_1"] <= 1.0 and math.isfinite(metrics["seconds_per_query"])
        assert set(run["splits"]["test"]["hit_at_1_by_steps"]) == {"2", "3", "4"}
        assert set(run["splits"]["control"]["hit_at_1_by_steps"]) == {"1"}
        assert all(math.isfinite(value) for stage in run["stage_losses"].values() for value in stage.values())
    assert saved["targets"].keys() >= {"plume_k8_over_single_pass", "plume_k4_vs_explicit_cot",
                                       "no_adapter_below_plume_k8"}  # fmt: skip
    for entry in saved["summary"].values():
        hit, standard_error = entry["splits"]["test"]["hit_at_1"][0], entry["splits"]["test"]["standard_error"]
        assert standard_error == pytest.approx(math.sqrt(hit * (1 - hit) / 9))  # binomial, 9 test queries, 1 seed
    assert saved == json.loads(json.dumps(results))


def test_each_mode_costs_what_it_should(experiment):
    _, results = experiment
    tokenizer = SentenceTransformer(results["runs"][0]["model_dir"], trust_remote_code=True)[0].tokenizer
    suffix = len(tokenizer("<eot></think>\n<gen_emb>", add_special_tokens=False).input_ids)
    for run in results["runs"]:
        positions = run["splits"]["test"]["positions_per_query"]
        arm = ARMS[run["arm"]]
        if arm.reasoning == "none":
            assert positions == 0
        elif arm.reasoning == "latent":
            assert positions == arm.latent_steps + suffix
        else:
            assert 2 <= positions <= MAX_NEW_TOKENS + 2  # <eot>, the generated tokens, the forced <gen_emb>


def test_saved_models_reload_and_keep_their_arm(experiment):
    _, results = experiment
    for run in results["runs"]:
        model = SentenceTransformer(run["model_dir"], trust_remote_code=True)
        arm = ARMS[run["arm"]]
        assert model[1].reasoning == arm.reasoning and model[1].latent_steps == arm.latent_steps
        assert model[1].transition == arm.rollout.get("transition", "adapter")
        assert model[1].anchor_guidance == arm.rollout.get("anchor_guidance", True)
        embeddings = model.encode(candidate_texts()[:3], convert_to_tensor=True)
        assert embeddings.shape == (3, 64) and torch.isfinite(embeddings).all()
        assert torch.allclose(embeddings.norm(dim=1), torch.ones(3), atol=1e-5)


def test_table_and_plot(experiment):
    out, _ = experiment
    table = (out / "run" / "table.md").read_text().splitlines()
    assert len(table) == 2 + len(ARMS)
    assert [line.split(" | ")[0].lstrip("| ") for line in table[2:]] == [arm.label for arm in ARMS.values()]
    for path in (out / "run" / "reasoning.png", out / "fig.png"):
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width > 500 and image.height > 300


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"batch_size must lie in \[2, 18\] \(one answer per row\), got 32"):
        ExperimentSettings(batch_size=32)
    with pytest.raises(ValueError, match=r"unknown arms \['plume'\]"):
        select_arms(["plume"])
    config = tmp_path / "bad.yaml"
    config.write_text("max_step: 3\n")
    with pytest.raises(ValueError, match=r"bad.yaml: unknown settings \['max_step'\]"):
        _load_script().main(["--out", str(tmp_path / "run"), "--config", str(config)])
