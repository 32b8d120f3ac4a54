"""Done-when b and d: batch invariance, and the three reasoning modes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from drawing import draw_frames, draw_image

from plume_st.modules.plume_prompt import DISC_EMB, EOT, GEN_EMB


def mixed_batch():
    return [
        "short text",
        "a much longer piece of text about a red square sitting next to a blue circle on a table",
        draw_image(3, (64, 40)),
        {"image": draw_image(4, (40, 80)), "text": "which colour is the square?"},
        {"video": draw_frames(5, count=4)},
        {"video": draw_frames(6, count=6), "text": "where does the square move?"},
    ]


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen3_vl"])
def test_mixed_batch_equals_items_alone(plume_model, family):
    model = plume_model(family)
    items = mixed_batch()
    with torch.no_grad():
        batched = model.encode(items, batch_size=len(items), convert_to_tensor=True)
        for row, item in enumerate(items):
            alone = model.encode([item], convert_to_tensor=True)[0]
            torch.testing.assert_close(batched[row], alone, atol=1e-4, rtol=0)


def _prefix_reference(model, item) -> tuple[torch.Tensor, torch.Tensor]:
    """One uncached pass over the prompt; returns (ids, last-layer states)."""
    input_module = model[0]
    lm = input_module.causal_lm
    features = input_module.preprocess([item])
    positions, _ = lm.model.get_rope_index(
        features["input_ids"],
        mm_token_type_ids=features["mm_token_type_ids"],
        image_grid_thw=features.get("image_grid_thw"),
        attention_mask=features["attention_mask"],
    )
    vision = {k: features[k] for k in ("pixel_values", "image_grid_thw") if k in features}
    out = lm.model(input_ids=features["input_ids"], position_ids=positions, use_cache=False, **vision)
    return features["input_ids"][0], out.last_hidden_state[0], positions


def test_none_mode_reads_disc_emb_in_one_pass(plume_model):
    model = plume_model("qwen2_vl")
    item = {"image": draw_image(7), "text": "a caption"}
    with torch.no_grad():
        encoded = model.encode([item], reasoning="none", convert_to_tensor=True)[0]
        ids, hidden, _ = _prefix_reference(model, item)
    disc = (ids == model[0].token_id(DISC_EMB)).nonzero().max()
    torch.testing.assert_close(encoded, F.normalize(hidden[disc], dim=-1), atol=1e-5, rtol=0)


def test_latent_steps_change_the_embedding_and_k0_has_no_rollout(plume_model):
    model = plume_model("qwen2_vl")
    with torch.no_grad():
        embeddings = [model.encode(["a dog"], latent_steps=k, convert_to_tensor=True)[0] for k in (0, 1, 4, 8)]
        features = model.preprocess(["a dog"])
        out = model(features, latent_steps=0)
    for a, b in zip(embeddings, embeddings[1:]):
        assert (a - b).abs().max() > 1e-3
    assert out["router_probs"].shape == (1, 0, 4) and out["latent_inputs"].shape[1] == 0


def test_mode_default_is_stored_and_validated(plume_model, tiny_backbone):
    import plume_st

    model = plume_st.build_plume_model(str(tiny_backbone("qwen2_vl")), reasoning="none", device="cpu").eval()
    with torch.no_grad():
        default = model.encode(["x y"], convert_to_tensor=True)[0]
        none = model.encode(["x y"], reasoning="none", convert_to_tensor=True)[0]
    torch.testing.assert_close(default, none)
    with pytest.raises(ValueError, match="reasoning must be one of"):
        model.encode(["x"], reasoning="implicit")
    with pytest.raises(ValueError, match="latent_steps must be"):
        model.encode(["x"], latent_steps=-1)


def _explicit_reference(model, item, generated: list[int]) -> torch.Tensor:
    """Uncached pass over prompt + <eot> + generated tokens; the state at the last one (the generated <gen_emb>)."""
    input_module = model[0]
    lm = input_module.causal_lm
    ids, _, positions = _prefix_reference(model, item)
    tail = torch.tensor([input_module.token_id(EOT), *generated])
    full = torch.cat([ids, tail])[None]
    start = positions.max() + 1
    pos = torch.cat([positions, (start + torch.arange(len(tail))).view(1, 1, -1).expand(3, 1, -1)], dim=2)
    return F.normalize(lm.model(input_ids=full, position_ids=pos, use_cache=False).last_hidden_state[0, -1], dim=-1)


def test_explicit_mode_reads_the_generated_gen_emb(tiny_backbone):
    import plume_st

    model = plume_st.build_plume_model(str(tiny_backbone("qwen2_vl")), max_new_tokens=6, device="cpu").eval()
    lm_head = model[0].causal_lm.lm_head
    gen_id = model[0].token_id(GEN_EMB)
    forced_word = 300  # an ordinary vocabulary entry
    # scripted greedy decoding: token 300 twice, then <gen_emb>. The prompt itself contains the literal text
    # <gen_emb>; the model must read the state of the generated one.
    calls = {"n": 0}
    original = lm_head.forward

    def scripted(hidden):
        calls["n"] += 1
        logits = original(hidden)
        token = forced_word if calls["n"] <= 2 else gen_id
        logits[..., token] = 1e4
        return logits

    lm_head.forward = scripted
    try:
        with torch.no_grad():
            encoded = model.encode(["a red square"], reasoning="explicit", convert_to_tensor=True)[0]
    finally:
        lm_head.forward = original
    with torch.no_grad():
        reference = _explicit_reference(model, "a red square", [forced_word, forced_word, gen_id])
        none = model.encode(["a red square"], reasoning="none", convert_to_tensor=True)[0]
    torch.testing.assert_close(encoded, reference, atol=1e-4, rtol=0)
    assert calls["n"] == 3
    assert (encoded - none).abs().max() > 1e-3


def test_explicit_mode_forces_gen_emb_after_max_new_tokens(tiny_backbone):
    import plume_st

    model = plume_st.build_plume_model(str(tiny_backbone("qwen2_vl")), max_new_tokens=3, device="cpu").eval()
    input_module = model[0]
    lm_head = input_module.causal_lm.lm_head
    gen_id = input_module.token_id(GEN_EMB)
    end_id = input_module.tokenizer.convert_tokens_to_ids("<|im_end|>")
    original = lm_head.forward

    def never_ends(hidden):  # greedy decoding never picks <gen_emb> or <|im_end|> on its own
        logits = original(hidden)
        logits[..., [gen_id, end_id]] = -1e4
        return logits

    lm_head.forward = never_ends
    try:
        with torch.no_grad():
            encoded = model.encode(["two words"], reasoning="explicit", convert_to_tensor=True)[0]
            # replay greedy decoding without a cache to get the 3 generated tokens
            ids, _, positions = _prefix_reference(model, "two words")
            generated = []
            for _ in range(3):
                tail = torch.tensor([input_module.token_id(EOT), *generated])
                full = torch.cat([ids, tail])[None]
                offsets = positions.max() + 1 + torch.arange(len(tail))
                pos = torch.cat([positions, offsets.view(1, 1, -1).expand(3, 1, -1)], dim=2)
                hidden = input_module.causal_lm.model(input_ids=full, position_ids=pos).last_hidden_state[0, -1]
                generated.append(int(lm_head(hidden).argmax()))
            reference = _explicit_reference(model, "two words", [*generated, gen_id])
    finally:
        lm_head.forward = original
    assert gen_id not in generated
    torch.testing.assert_close(encoded, reference, atol=1e-4, rtol=0)
