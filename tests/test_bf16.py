"""Issue 22: bfloat16 end to end on the tiny model.

A bfloat16 model equals its float32 original to cosine >= 0.999 in every mode (``none``, ``latent`` with K = 0, 3, 8,
an explicit run whose rationale is forced), hands its caller float32, keeps per-call K, truncation and every input
form working, saves and reloads in bfloat16, and ``--dtype`` reaches the loaded model in every command.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from drawing import draw_frames, draw_image
from safetensors import safe_open
from sentence_transformers import SentenceTransformer
from typer.testing import CliRunner

import plume_st
from plume_st.modules.plume_prompt import render_prompt
from plume_st.precision import cpu_has_native_bf16, model_kwargs_for, resolve_dtype

MIN_COSINE = 0.999
RATIONALE_TOKENS = 4


def _chw(image) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous()


def mixed_inputs() -> list:
    """One batch of text, image, image + text, a frame-list video with text and a chat message."""
    chat = [{"role": "user", "content": [{"type": "image", "image": draw_image(3)}, {"type": "text", "text": "why"}]}]
    pair = {"image": draw_image(4), "text": "what colour?"}
    return ["a red ball on the grass", draw_image(1), pair, {"video": draw_frames(2)}, chat]


@pytest.fixture(scope="module")
def models(tiny_backbone) -> dict[str, SentenceTransformer]:
    """The same weights in float32 and in bfloat16 (the adapter seeded, then cast with the backbone)."""
    return {
        name: plume_st.build_plume_model(
            str(tiny_backbone()),
            max_new_tokens=RATIONALE_TOKENS,
            model_kwargs={"dtype": dtype},
            device="cpu",
        ).eval()
        for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16))
    }


@pytest.fixture(scope="module")
def bf16_folder(models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bf16") / "plume"
    models["bfloat16"].save_pretrained(str(folder))
    return folder


def _encode(model, items, **kwargs) -> torch.Tensor:
    return model.encode(items, convert_to_tensor=True, **kwargs)


def _cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=-1)


@contextmanager
def forced_rationale(model: SentenceTransformer) -> Iterator[None]:
    """Every explicit rationale token is ``<bot>`` (the argmax of ``lm_head`` forced): the same rationale at every
    dtype, ``RATIONALE_TOKENS`` long (then the rollout forces ``<gen_emb>``)."""
    token = torch.tensor([model[0].token_id("<bot>")])

    def force(module, args, logits):
        return torch.full_like(logits, float("-inf")).index_fill(-1, token, 0)

    handle = model[0].causal_lm.lm_head.register_forward_hook(force)
    try:
        yield
    finally:
        handle.remove()


def test_the_bf16_model_runs_in_bf16_and_returns_float32(models):
    model = models["bfloat16"]
    assert {param.dtype for param in model.parameters()} == {torch.bfloat16}  # the adapter too
    with torch.no_grad():
        features = model(model.preprocess(mixed_inputs()), reasoning="latent", latent_steps=3)
    assert features["prefix_hidden_states"].dtype == torch.bfloat16
    assert features["latent_inputs"].dtype == features["gen_state"].dtype == torch.bfloat16
    assert features["router_probs"].dtype == torch.float32  # the router's softmax: the one upcast
    assert features["sentence_embedding"].dtype == torch.float32
    torch.testing.assert_close(features["router_probs"].sum(-1), torch.ones(5, 3), atol=1e-6, rtol=0)


@pytest.mark.parametrize(("reasoning", "latent_steps"), [("none", None), ("latent", 0), ("latent", 3), ("latent", 8)])
def test_bf16_equals_float32(models, reasoning, latent_steps):
    items = mixed_inputs()
    kwargs = {"reasoning": reasoning} | ({} if latent_steps is None else {"latent_steps": latent_steps})
    full, half = (_encode(models[name], items, **kwargs) for name in ("float32", "bfloat16"))
    assert half.dtype == torch.float32 and half.shape == full.shape == (5, 64)
    torch.testing.assert_close(half.norm(dim=-1), torch.ones(5), atol=1e-6, rtol=0)
    assert _cosines(full, half).min() >= MIN_COSINE


def test_forced_explicit_run_in_bf16_equals_float32(models):
    items = mixed_inputs()
    with forced_rationale(models["float32"]), forced_rationale(models["bfloat16"]):
        full, half = (_encode(models[name], items, reasoning="explicit") for name in ("float32", "bfloat16"))
    assert _cosines(full, half).min() >= MIN_COSINE
    latent = _encode(models["float32"], items, reasoning="latent")
    assert ((full - latent).norm(dim=-1) > 5 * (full - half).norm(dim=-1)).all()  # another state than latent's


def test_per_call_latent_steps_in_bf16(models):
    items = mixed_inputs()
    half = {k: _encode(models["bfloat16"], items, latent_steps=k) for k in (2, 8)}
    full = _encode(models["float32"], items, latent_steps=2)
    rounding = (half[2] - full).norm(dim=-1)
    assert _cosines(half[2], full).min() >= MIN_COSINE
    assert ((half[2] - half[8]).norm(dim=-1) > 10 * rounding).all()  # K changes more than bf16 rounding does


def test_truncation_in_bf16(models):
    model, reference = models["bfloat16"], models["float32"]
    tokenizer = model[0].tokenizer
    text = " ".join(f"w{i}" for i in range(400))
    saved = model.max_seq_length, reference.max_seq_length
    model.max_seq_length = reference.max_seq_length = 120
    try:
        cut = _encode(model, [text], prompt="Find: ")
        skeleton = len(tokenizer(render_prompt("Find: "), add_special_tokens=False)["input_ids"])
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][: 120 - skeleton]
        by_hand = _encode(model, [tokenizer.decode(ids)], prompt="Find: ")
        full = _encode(reference, [text], prompt="Find: ")
    finally:
        model.max_seq_length, reference.max_seq_length = saved
    torch.testing.assert_close(cut, by_hand, atol=1e-6, rtol=0)
    assert _cosines(cut, full).min() >= MIN_COSINE


def test_every_input_form_in_bf16(models):
    model = models["bfloat16"]
    image, frames = draw_image(5), draw_frames(6, count=4)
    tchw = torch.stack([_chw(frame) for frame in frames])
    forms = [_chw(image), np.array(image), {"image": _chw(image), "text": "q"}, tchw, {"video": tchw, "text": "v"}]
    plain = [image, image, {"image": image, "text": "q"}, frames, {"video": frames, "text": "v"}]
    torch.testing.assert_close(_encode(model, forms), _encode(model, plain), atol=1e-6, rtol=0)
    assert _cosines(_encode(model, forms), _encode(models["float32"], plain)).min() >= MIN_COSINE


def test_a_bf16_model_saves_and_reloads_in_bf16(models, bf16_folder):
    config = json.loads((bf16_folder / "config.json").read_text())
    assert config["dtype"] == "bfloat16"
    with safe_open(str(bf16_folder / "1_LatentRollout" / "model.safetensors"), "pt") as adapter:
        assert {adapter.get_slice(key).get_dtype() for key in adapter.keys()} == {"BF16"}
    reloaded = SentenceTransformer(str(bf16_folder), trust_remote_code=True, device="cpu")
    assert {param.dtype for param in reloaded.parameters()} == {torch.bfloat16}
    items = mixed_inputs()
    torch.testing.assert_close(_encode(reloaded, items), _encode(models["bfloat16"], items), atol=1e-6, rtol=0)


def test_the_auto_rule():
    native = cpu_has_native_bf16()
    assert resolve_dtype("auto", "cpu") is (None if native else torch.float32)
    assert resolve_dtype("auto", "cuda") is None  # the checkpoint's dtype on a GPU
    assert resolve_dtype("bfloat16", "cpu") is torch.bfloat16
    assert model_kwargs_for("float16", "eager") == {"dtype": torch.float16, "attn_implementation": "eager"}
    assert model_kwargs_for("auto", device="cuda") == {}
    with pytest.raises(ValueError, match=r"dtype must be one of auto, float32, bfloat16, float16, got 'bf16'"):
        model_kwargs_for("bf16")


def test_auto_loads_a_bf16_checkpoint_in_float32_on_a_cpu_without_bf16(bf16_folder):
    model = SentenceTransformer(
        str(bf16_folder), trust_remote_code=True, device="cpu", model_kwargs=model_kwargs_for("auto", device="cpu")
    )
    expected = torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    assert {param.dtype for param in model.parameters()} == {expected}


def test_inspect_dtype_reaches_the_model(bf16_folder, tmp_path):
    from plume_st.cli import app

    arguments = ["inspect", str(bf16_folder), "a red ball", "--out", str(tmp_path), "--latent-steps", "2"]
    outcome = CliRunner().invoke(app, arguments + ["--dtype", "float32", "--attn-implementation", "eager"])
    assert outcome.exit_code == 0, outcome.output
    assert f"{bf16_folder}: float32 on cpu" in outcome.output  # the bfloat16 folder, loaded as asked
    bad = CliRunner().invoke(app, arguments + ["--dtype", "float8"])
    assert bad.exit_code == 1 and "dtype must be one of auto, float32, bfloat16, float16" in bad.output


def test_eval_dtype_reaches_the_model(bf16_folder, tmp_path):
    from plume_st.cli import app
    from plume_st.evaluation.fixture import write_fixture

    write_fixture(tmp_path / "mmeb")
    out = tmp_path / "out"
    arguments = ["eval", str(bf16_folder), "--data", str(tmp_path / "mmeb"), "--out", str(out)]
    arguments += ["--datasets", "ImageNet-1K", "--max-queries", "2", "--reasoning", "none", "--device", "cpu"]
    outcome = CliRunner().invoke(app, arguments + ["--dtype", "float32"])
    assert outcome.exit_code == 0, outcome.output
    model_id = json.loads((out / "cache" / "settings.json").read_text())["model"]
    assert "[float32; " in model_id  # the fingerprint names the loaded model's dtype
    bad = CliRunner().invoke(app, arguments + ["--dtype", "half"])
    assert bad.exit_code != 0 and "dtype must be one of" in bad.output


def test_train_dtype_reaches_the_model(tmp_path):
    import typer

    from plume_st.training import cli

    app = typer.Typer()
    cli.register(app)
    app.command("noop")(lambda: None)  # a second command keeps typer from collapsing the app into `train`
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "model: {backbone: tiny, latent_steps: 2, num_frames: 2, dtype: float32}\n"
        "data: {synthetic: {num_records: 8, seed: 0}}\n"
        "training: {output_dir: unused, per_device_train_batch_size: 4, save_strategy: 'no', report_to: []}\n"
    )
    arguments = ["train", str(config), "--output-dir", str(tmp_path / "run"), "--max-steps", "1"]
    outcome = CliRunner().invoke(app, arguments + ["--dtype", "bfloat16", "--attn-implementation", "eager"])
    assert outcome.exit_code == 0, outcome.output
    trained = SentenceTransformer(str(tmp_path / "run" / "final"), trust_remote_code=True, device="cpu")
    assert {param.dtype for param in trained.parameters()} == {torch.bfloat16}  # the config said float32
