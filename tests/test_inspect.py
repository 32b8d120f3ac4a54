"""Trajectory inspection (issue 11, scope 3): ``plume_st.inspect`` against an independent recomputation, and the CLI.

The reference encodes every input alone (not in the inspected batch) once per k, and reads the states the adapter
is fed through a forward hook on ``model[1].adapter``; the router probabilities are recomputed by hand from the
router's weights, ``softmax(W [z + c ; e(k)] + b)``.
"""

from __future__ import annotations

import json
import re

import pytest
import torch
from drawing import draw_image
from PIL import Image
from torch.nn import functional as F
from typer.testing import CliRunner

from plume_st.cli import app
from plume_st.inspect import (
    find_latent_rollout,
    format_table,
    parse_input_argument,
    save_trajectory,
    table_rows,
    trajectory,
)
from plume_st.model import PlumeSentenceTransformer
from plume_st.modules import LatentRollout

K = 3
runner = CliRunner()


def inspected_inputs() -> list:
    return [
        "a red ball on a blue background",
        "three green squares in a row, the middle one larger than the others",
        draw_image(1, (64, 48)),
        {"image": draw_image(2, (48, 64)), "text": "what colour is the square?"},
    ]


@pytest.fixture(scope="module")
def model(plume_model):
    return plume_model()


@pytest.fixture(scope="module")
def result(model):
    return trajectory(model, inspected_inputs(), latent_steps=K, show_progress_bar=False)


def hand_router_probs(adapter, z: torch.Tensor, anchor: torch.Tensor, step: int) -> torch.Tensor:
    """``softmax(W_r [z + c ; e(step)] + b_r)`` from the router's weights."""
    step_row = adapter.step_embed.weight[min(step, adapter.step_embed.num_embeddings - 1)]
    router_input = torch.cat([z + anchor, step_row.expand_as(z)], dim=-1)
    return torch.softmax(router_input @ adapter.router.weight.T + adapter.router.bias, dim=-1)


def reference(model, item) -> dict[str, torch.Tensor]:
    """One input encoded alone: its embeddings after k = 0..K steps, the adapter's inputs and outputs per step."""
    adapter, calls = model[1].adapter, []
    hook = adapter.register_forward_hook(lambda module, args, output: calls.append((*args, output[0])))
    try:
        (final,) = model.encode([item], latent_steps=K, reasoning="latent", output_value=None)
    finally:
        hook.remove()
    assert [step for _, _, step, _ in calls] == list(range(K))
    fed = torch.cat([z for z, _, _, _ in calls])  # z(k-1), the state step k's transition reads
    assert torch.equal(fed[0], final["bot_state"])  # z(0) is the state at <bot>
    assert all(torch.equal(anchor[0], final["anchor_embedding"]) for _, anchor, _, _ in calls)
    earlier = [model.encode([item], latent_steps=k, reasoning="latent", convert_to_tensor=True)[0] for k in range(K)]
    return {
        "embeddings": F.normalize(torch.stack(earlier + [final["sentence_embedding"]]), dim=-1),
        "router_probs": torch.stack([hand_router_probs(adapter, z, c, step)[0] for z, c, step, _ in calls]),
        "latent_norms": torch.cat([out for _, _, _, out in calls]).norm(dim=-1),
    }


def test_trajectory_equals_an_independent_recomputation(model, result):
    assert result.router_probs.shape == (4, K, 4) and result.chosen_experts.shape == (4, K, 2)
    assert result.embeddings.shape == (K + 1, 4, 64) and result.latent_steps == K
    for row, item in enumerate(inspected_inputs()):
        expected = reference(model, item)
        torch.testing.assert_close(result.embeddings[:, row], expected["embeddings"], atol=1e-4, rtol=0)
        torch.testing.assert_close(result.router_probs[row], expected["router_probs"], atol=1e-4, rtol=0)
        torch.testing.assert_close(result.latent_norms[row], expected["latent_norms"], atol=1e-3, rtol=1e-4)
        chosen = expected["router_probs"].topk(2, dim=-1).indices
        assert torch.equal(result.chosen_experts[row].sort(dim=-1).values, chosen.sort(dim=-1).values)
        cosines = expected["embeddings"] @ expected["embeddings"][-1]
        torch.testing.assert_close(result.cosine_to_final[row], cosines, atol=1e-4, rtol=0)
    torch.testing.assert_close(result.router_probs.sum(dim=-1), torch.ones(4, K))
    torch.testing.assert_close(result.cosine_to_final[:, -1], torch.ones(4))
    assert not torch.allclose(result.cosine_to_final[:, 0], torch.ones(4), atol=1e-3)  # the steps move it


def test_chosen_experts_are_the_most_probable(result):
    chosen_probs = result.router_probs.gather(-1, result.chosen_experts)
    other = result.router_probs.scatter(-1, result.chosen_experts, -1.0).max(dim=-1).values
    assert (chosen_probs.min(dim=-1).values >= other).all()
    assert (chosen_probs[..., 0] >= chosen_probs[..., 1]).all()


def test_table_has_one_row_per_input_and_step(result):
    rows = table_rows(result)
    assert len(rows) == 4 * K
    assert [row[1] for row in rows] == [str(step) for step in range(1, K + 1)] * 4
    assert [row[0] for row in rows[::K]] == result.labels and all(row[0] == "" for row in rows if row[1] != "1")
    assert rows[0][2] == ",".join(map(str, result.chosen_experts[0, 0].tolist()))
    assert float(rows[-1][5]) == pytest.approx(1.0, abs=1e-4)
    lines = format_table(result).splitlines()
    assert len(lines) == 2 + 4 * K + 1 and lines[0].split()[:2] == ["input", "step"]


def test_saved_png_and_json(result, tmp_path):
    json_path, png_path = save_trajectory(result, tmp_path / "out")
    with Image.open(png_path) as image:
        assert image.format == "PNG" and image.width > 800 and image.height > 300
    saved = json.loads(json_path.read_text())
    assert saved["latent_steps"] == K and saved["num_experts"] == 4 and saved["top_k"] == 2
    assert [entry["label"] for entry in saved["inputs"]] == result.labels
    second = saved["inputs"][1]
    assert second["cosine_to_final"] == pytest.approx(result.cosine_to_final[1].tolist())
    assert [step["step"] for step in second["steps"]] == list(range(1, K + 1))
    assert second["steps"][2]["router_probs"] == pytest.approx(result.router_probs[1, 2].tolist())
    assert second["steps"][0]["latent_norm"] == pytest.approx(result.latent_norms[1, 0].item())


def test_model_without_an_adapter(model, tmp_path):
    identity = LatentRollout(hidden_size=64, latent_steps=2, transition="identity")
    ablation = PlumeSentenceTransformer(modules=[model[0], identity, model[2]], device="cpu")
    inputs = ["a red ball", "a blue square"]
    result = trajectory(ablation, inputs, show_progress_bar=False)
    assert result.router_probs.shape == (2, 2, 0) and result.chosen_experts.shape == (2, 2, 0)
    (final,) = ablation.encode(inputs[:1], reasoning="latent", output_value=None)
    torch.testing.assert_close(result.latent_norms[0, 0], final["bot_state"].norm())  # z~(1) = z(0)
    assert [row[2:4] for row in table_rows(result)] == [["-", "-"]] * 4
    _, png_path = save_trajectory(result, tmp_path)
    assert png_path.stat().st_size > 0


def test_bad_input_is_refused(model):
    with pytest.raises(ValueError, match=r"latent_steps must be a positive integer .* got 0"):
        trajectory(model, ["a"], latent_steps=0)
    with pytest.raises(ValueError, match="non-empty list"):
        trajectory(model, [], latent_steps=1)
    with pytest.raises(ValueError, match="2 labels for 1 inputs"):
        trajectory(model, ["a"], latent_steps=1, labels=["x", "y"])
    without_rollout = PlumeSentenceTransformer(modules=[model[0], model[2]], device="cpu")
    with pytest.raises(ValueError, match=r"no LatentRollout module \(its modules: PlumeInput, PlumePooling\)"):
        find_latent_rollout(without_rollout)
    with pytest.raises(ValueError, match=r"Input 1 .*does not exist"):
        trajectory(model, ["a", {"image": "/no/such/photo.png"}], latent_steps=1, show_progress_bar=False)
    for argument, problem in [
        ("photo.png", "names a media file that does not exist"),
        ("{not json", "is not valid JSON"),
        ('{"image": "a.png"', "is not valid JSON"),
    ]:
        with pytest.raises(ValueError, match=re.escape(f"input {argument!r}") + ".*" + problem):
            parse_input_argument(argument)
    assert parse_input_argument('{"text": "a"}') == {"text": "a"} and parse_input_argument("a.png b") == "a.png b"


@pytest.fixture(scope="module")
def saved_model(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("inspect") / "model"
    model.save_pretrained(str(folder))
    return folder


def test_cli_prints_one_row_per_latent_step_and_writes_the_files(saved_model, tmp_path):
    image_path = tmp_path / "ball.png"
    draw_image(7).save(image_path)
    pair = json.dumps({"image": str(image_path), "text": "what colour?"})
    arguments = ["inspect", str(saved_model), "a red ball", str(image_path), pair, "--out", str(tmp_path / "out")]
    outcome = runner.invoke(app, arguments + ["--latent-steps", str(K)])
    assert outcome.exit_code == 0, outcome.output
    rows = [line.split("│") for line in outcome.output.splitlines() if line.count("│") == 7]  # rich's table body
    steps = [cells[2].strip() for cells in rows if cells[2].strip()]  # a long label folds onto more lines
    assert steps == [str(step) for step in range(1, K + 1)] * 3
    with Image.open(tmp_path / "out" / "trajectory.png") as image:
        assert image.format == "PNG"
    saved = json.loads((tmp_path / "out" / "trajectory.json").read_text())
    labels = [text if len(text) <= 40 else text[:37] + "..." for text in ("a red ball", str(image_path), pair)]
    assert [entry["label"] for entry in saved["inputs"]] == labels


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["/no/such/photo.png"], "input '/no/such/photo.png' names a media file that does not exist"),
        (["photo.png"], "input 'photo.png' names a media file that does not exist"),
        (["--latent-steps", "0"], "latent_steps must be a positive integer"),
    ],
)
def test_cli_bad_input(saved_model, tmp_path, extra, message):
    outcome = runner.invoke(app, ["inspect", str(saved_model), "a red ball", "--out", str(tmp_path), *extra])
    assert outcome.exit_code == 1
    assert message in outcome.output
    assert not (tmp_path / "trajectory.png").exists()
