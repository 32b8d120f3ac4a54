"""The greedy continuation of the official profile: its cost, its bound, and per-call overrides on converted models."""

from __future__ import annotations

import pytest
import torch
from sentence_transformers import SentenceTransformer

from convert.official_reference import OfficialReference
from convert.test_parity import ITEMS as MIXED
from convert.test_parity import as_input
from plume_st.convert import convert_official, write_tiny_official
from plume_st.modules import LatentRollout

ITEMS = ["a dog catching a frisbee in the park", "The chart shows sales growing every year.", "a red square"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("continuation")
    out = {}
    for layout in ("tied", "second_gen_emb"):
        source = write_tiny_official(root / layout, layout)
        model = SentenceTransformer(str(convert_official(source, root / f"{layout}_st")), trust_remote_code=True)
        out[layout] = (source, model.to("cpu").eval())
    return out


def backbone_passes(model, **kwargs) -> tuple[int, torch.Tensor]:
    """Encode ITEMS in one batch, counting the backbone passes (prefix, latent steps, suffix, decoded tokens)."""
    input_module = model[0]
    calls = []
    original = input_module.run_backbone
    input_module.run_backbone = lambda *args, **kw: calls.append(1) or original(*args, **kw)
    try:
        with torch.no_grad():
            embeddings = model.encode(ITEMS, batch_size=len(ITEMS), convert_to_tensor=True, **kwargs)
    finally:
        del input_module.run_backbone
    return len(calls), embeddings


def test_stopping_at_once_costs_no_backbone_pass(checkpoints):
    _, model = checkpoints["tied"]
    assert backbone_passes(model)[0] == 1 + 8  # prefix, 7 latent steps, [z~(8), suffix]; no decoded token
    assert backbone_passes(model, latent_steps=3)[0] == 1 + 3


def test_second_gen_emb_costs_two_passes_for_the_batch(checkpoints):
    _, model = checkpoints["second_gen_emb"]
    assert backbone_passes(model)[0] == 1 + 8 + 2  # " dog", then <gen_emb>: two decoding steps, all rows at once


@pytest.mark.parametrize("max_tokens", [1, 2])
def test_continuation_bound(checkpoints, max_tokens):
    source, model = checkpoints["second_gen_emb"]
    reference = OfficialReference(source, max_new_tokens=max_tokens)
    model[1].continuation_max_tokens = max_tokens
    try:
        passes, embeddings = backbone_passes(model)
    finally:
        model[1].continuation_max_tokens = 4096
    assert passes == 1 + 8 + max_tokens
    for row, text in enumerate(ITEMS):
        expected, decoded = reference(text)
        assert len(decoded) == max_tokens
        torch.testing.assert_close(embeddings[row], expected, atol=1e-4, rtol=0)
    if max_tokens == 1:  # stopped after " dog": the forced <gen_emb> is pooled
        torch.testing.assert_close(embeddings[0], OfficialReference(source, max_new_tokens=0)(ITEMS[0])[0],
                                   atol=1e-4, rtol=0)


def test_per_call_latent_steps_and_reasoning(checkpoints):
    source, model = checkpoints["second_gen_emb"]
    _, embeddings = backbone_passes(model, latent_steps=2)
    reference = OfficialReference(source, latent_steps=2)
    for row, text in enumerate(ITEMS):
        torch.testing.assert_close(embeddings[row], reference(text)[0], atol=1e-4, rtol=0)
    passes, single_pass = backbone_passes(model, reasoning="none")
    assert passes == 1 and not torch.allclose(single_pass, embeddings, atol=1e-3)


def test_negative_bound_is_rejected():
    with pytest.raises(ValueError, match="continuation_max_tokens must be a non-negative integer, got -1"):
        LatentRollout(hidden_size=8, continuation_max_tokens=-1)


def test_rows_that_stop_and_rows_that_continue_in_one_batch(tmp_path):
    """An ``<|im_end|>`` output row along (text item - image item) stops the text item at once while the others
    decode on: the batch's finished rows are masked out of the later steps."""
    source = write_tiny_official(tmp_path / "official", "second_gen_emb")
    model = SentenceTransformer(str(convert_official(source, tmp_path / "st")), trust_remote_code=True, device="cpu")
    forced = OfficialReference(source, max_new_tokens=0)
    direction = forced(*MIXED[0])[0] - forced(*MIXED[1])[0]
    reference = OfficialReference(source)
    im_end = reference.processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    with torch.no_grad():
        for lm_head in (reference.model.lm_head, model[0].causal_lm.lm_head):
            lm_head.weight[im_end] = 1e5 * direction
        embeddings = model.eval().encode([as_input(*item) for item in MIXED], batch_size=4, convert_to_tensor=True)
    results = [reference(*item) for item in MIXED]
    assert [len(decoded) for _, decoded in results] == [0, 1, 1, 1]
    for row, (expected, _) in enumerate(results):
        torch.testing.assert_close(embeddings[row], expected, atol=1e-4, rtol=0)
