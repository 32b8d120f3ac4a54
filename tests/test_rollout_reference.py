"""Done-when a: ``encode`` equals an independent uncached recomputation of the PLUME rollout."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import FAMILIES
from drawing import draw_image

from plume_st.modules.plume_prompt import DISC_EMB, LATENT_SUFFIX


def uncached_reference(model, item, num_steps: int, position_scheme: str = "default") -> torch.Tensor:
    """Rebuild the whole sequence (prefix, each latent as produced, suffix) and run the backbone without a cache.

    Every latent step re-runs the backbone from scratch over [prefix embeddings, z~_1 .. z~_k] with explicit
    3-axis positions; no KV cache, no code path of LatentRollout except the adapter itself.
    """
    input_module, rollout = model[0], model[1]
    lm = input_module.causal_lm
    features = input_module.preprocess([item])
    ids = features["input_ids"]
    vision = {
        k: features[k]
        for k in ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw")
        if k in features
    }
    positions, _ = lm.model.get_rope_index(
        ids,
        mm_token_type_ids=features["mm_token_type_ids"],
        image_grid_thw=features.get("image_grid_thw"),
        video_grid_thw=features.get("video_grid_thw"),
        attention_mask=features["attention_mask"],
    )
    embed = lm.get_input_embeddings()

    def full_pass(sequence: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        out = lm.model(inputs_embeds=sequence, position_ids=pos, use_cache=False, **vision)
        return out.last_hidden_state[0]

    sequence = embed(ids)
    hidden = full_pass(sequence, positions)
    disc_index = (ids[0] == input_module.token_id(DISC_EMB)).nonzero().max()
    anchor, z = hidden[disc_index], hidden[-1]
    start = positions.max() + 1 if position_scheme == "default" else torch.tensor(ids.shape[1])
    pos = positions
    for step in range(num_steps):
        z_tilde, _ = rollout.adapter(z[None], anchor[None], step)
        sequence = torch.cat([sequence, z_tilde[None]], dim=1)
        pos = torch.cat([pos, torch.full((3, 1, 1), int(start) + step)], dim=2)
        z = full_pass(sequence, pos)[-1]
    suffix = input_module.tokenizer(LATENT_SUFFIX, add_special_tokens=False, return_tensors="pt").input_ids
    sequence = torch.cat([sequence, embed(suffix)], dim=1)
    offsets = int(start) + num_steps + torch.arange(suffix.shape[1])
    pos = torch.cat([pos, offsets.view(1, 1, -1).expand(3, 1, -1)], dim=2)
    return F.normalize(full_pass(sequence, pos)[-1], dim=-1)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("num_steps", [0, 1, 8])
def test_encode_equals_uncached_reference(plume_model, family, num_steps):
    model = plume_model(family)
    items = ["a dog catching a frisbee in the park", {"image": draw_image(1), "text": "what is in the image?"}]
    with torch.no_grad():
        encoded = model.encode(items, latent_steps=num_steps, convert_to_tensor=True)
        for row, item in enumerate(items):
            reference = uncached_reference(model, item, num_steps)
            torch.testing.assert_close(encoded[row], reference, atol=1e-4, rtol=0)


def test_official_position_scheme_uses_cache_length(plume_model):
    model = plume_model("qwen2_vl", position_scheme="official")
    item = {"image": draw_image(2), "text": "count the squares"}
    with torch.no_grad():
        encoded = model.encode([item], latent_steps=3, convert_to_tensor=True)[0]
        reference = uncached_reference(model, item, 3, position_scheme="official")
        default = uncached_reference(model, item, 3, position_scheme="default")
    torch.testing.assert_close(encoded, reference, atol=1e-4, rtol=0)
    # the image makes the cache length exceed the largest M-RoPE position, so the two schemes differ
    assert (encoded - default).abs().max() > 2e-4


def test_positions_match_transformers_generation_continuation(plume_model):
    """Our latent positions equal what Qwen2-VL's own generation path derives from its rope deltas."""
    model = plume_model("qwen2_vl")
    input_module, rollout = model[0], model[1]
    lm = input_module.causal_lm
    features = input_module.preprocess(["short", {"image": draw_image(3, (96, 64)), "text": "longer text here"}])
    with torch.no_grad():
        out = input_module(dict(features))
    state = rollout.start(out)
    ours = state.positions(3)
    _, deltas = lm.model.get_rope_index(
        features["input_ids"],
        mm_token_type_ids=features["mm_token_type_ids"],
        image_grid_thw=features["image_grid_thw"],
        attention_mask=features["attention_mask"],
    )
    lm.model.rope_deltas = deltas
    mask = torch.cat([features["attention_mask"], torch.ones(2, 3, dtype=torch.long)], dim=1)
    theirs = lm.model.compute_3d_position_ids(
        input_ids=None,
        inputs_embeds=torch.zeros(2, mask.shape[1], 1),
        attention_mask=mask,
        past_key_values=out["past_key_values"],
    )
    lm.model.rope_deltas = None
    torch.testing.assert_close(ours, theirs[:, :, -3:])
