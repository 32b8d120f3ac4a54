"""The pointer-chasing experiment shrunk to seconds, end to end: a resized backbone, four arms, the depth curve, the
per-hop table, the targets and both figures. It asserts the pipeline, not the margins (those need the full run)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
from PIL import Image
from sentence_transformers import SentenceTransformer

from plume_st.reasoning_task import ExperimentSettings

ROOT = Path(__file__).resolve().parents[1]
ARMS = ["single_pass", "explicit_cot", "plume_k8", "no_curriculum"]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    path = ROOT / "training_scripts/reasoning_experiment.py"
    spec = importlib.util.spec_from_file_location("reasoning_experiment", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path_factory.mktemp("pointer")
    config = out / "pointer.yaml"
    config.write_text(
        "task: pointer\nnum_symbols: 6\nmax_hops: 4\nmax_steps: 2\nbatch_size: 6\nwarmup_steps: 1\nseeds: [0]\n"
        "eval_batch_size: 8\nmax_new_tokens: 6\nsizes: {train: 24, validation: 4, test: 8}\njobs: 1\n"
        "backbone: {hidden_size: 32, intermediate_size: 64, num_hidden_layers: 3, num_attention_heads: 2}\n"
        f"arms: {json.dumps(ARMS)}\n"
    )
    results = script.main(["--out", str(out / "run"), "--config", str(config), "--figure", str(out / "fig.png")])
    return out, results


def test_runs_score_every_hop_count_and_latent_arms_have_a_depth_curve(experiment):
    out, results = experiment
    saved = json.loads((out / "run" / "results.json").read_text())
    assert [run["arm"] for run in saved["runs"]] == ARMS
    for run in saved["runs"]:
        assert set(run["splits"]) == {"validation", "test"}
        test = run["splits"]["test"]
        assert test["num_queries"] == 8 and all(0 <= p < 6 for p in test["predictions"])
        assert test["num_queries_by_steps"] == {str(h): 2 for h in range(1, 5)}
        assert set(test["hit_at_1_by_steps"]) == {"1", "2", "3", "4"}
        if run["arm"] in ("plume_k8", "no_curriculum"):
            assert set(run["depth_curve"]) == {"0", "1", "2", "4", "8"}
            assert all(set(by_hops) == {"1", "2", "3", "4"} for by_hops in run["depth_curve"].values())
        else:
            assert "depth_curve" not in run
    plume = saved["summary"]["plume_k8"]
    error = plume["splits"]["test"]["standard_error_by_steps"]["3"]
    hit = plume["splits"]["test"]["by_steps"]["3"][0]
    assert error == pytest.approx(math.sqrt(hit * (1 - hit) / 2))  # 2 queries of 3 hops, one seed
    assert saved["targets"].keys() == {"plume_k8_closes_half_the_gap", "depth_curve_rises_at_3_4_hops",
                                       "depth_curve_flat_at_1_hop", "no_curriculum_below_plume_k8",
                                       "no_curriculum_lowest"}  # fmt: skip


def test_the_backbone_has_the_configured_size(experiment):
    _, results = experiment
    model = SentenceTransformer(results["runs"][0]["model_dir"], trust_remote_code=True)
    config = model[0].causal_lm.config.text_config
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (32, 3, 2)
    assert model.encode(["table:b>c"]).shape == (1, 32)


def test_table_per_hop_and_both_figures(experiment):
    out, _ = experiment
    table = (out / "run" / "table.md").read_text().splitlines()
    assert table[0].startswith("| arm | reasoning | test hit@1 | 1 steps | 2 steps | 3 steps | 4 steps | positions")
    assert len(table) == 2 + len(ARMS)
    for path in (out / "run" / "reasoning.png", out / "run" / "reasoning-compute.png", out / "fig.png"):
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width > 500


def test_bad_pointer_settings_are_named():
    with pytest.raises(ValueError, match=r"batch_size must lie in \[2, 12\]"):
        ExperimentSettings(task="pointer", batch_size=16)
    with pytest.raises(ValueError, match="task must be one of"):
        ExperimentSettings(task="maze")
