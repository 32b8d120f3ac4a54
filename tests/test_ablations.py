"""The paper's ablations as LatentRollout settings: no latent transition (``transition="identity"``) and a router
without the anchor (``anchor_guidance=False``), each against the rollout recomputed by hand without a cache."""

from __future__ import annotations

import pytest
import torch
from drawing import draw_image
from sentence_transformers import SentenceTransformer
from test_rollout_reference import uncached_reference

from plume_st.modules import LatentRollout


def test_identity_feeds_the_last_state_back(plume_model, monkeypatch, tmp_path):
    model = plume_model("qwen2_vl", transition="identity")
    assert model[1].adapter is None and not list(model[1].parameters())
    item = {"image": draw_image(3), "text": "which shape is left of the circle?"}

    class Identity(torch.nn.Module):  # the reference's adapter call, for z~(k) = z(k-1)
        def forward(self, z, anchor, step):
            return z, None

    with torch.no_grad():
        encoded = model.encode([item], latent_steps=3, convert_to_tensor=True)[0]
        out = model(model.preprocess([item]), latent_steps=3)
        monkeypatch.setattr(model[1], "adapter", Identity())
        reference = uncached_reference(model, item, 3)
    torch.testing.assert_close(encoded, reference, atol=1e-4, rtol=0)
    assert out["router_probs"].shape == (1, 3, 0)
    monkeypatch.undo()
    model.save_pretrained(str(tmp_path))
    loaded = SentenceTransformer(str(tmp_path), trust_remote_code=True, device="cpu")
    assert loaded[1].transition == "identity" and loaded[1].adapter is None
    torch.testing.assert_close(loaded.encode([item], latent_steps=3, convert_to_tensor=True)[0], encoded)


def test_without_anchor_the_router_sees_only_z(plume_model):
    model = plume_model("qwen2_vl", anchor_guidance=False)
    guided = plume_model("qwen2_vl")
    items = ["a red circle two cells right of a blue square", {"image": draw_image(4), "text": "the colour?"}]
    with torch.no_grad():
        out = model(model.preprocess(items), latent_steps=4)
        z0, anchor = out["bot_state"], out["anchor_embedding"]
        expected = model[1].adapter.route(z0, torch.zeros_like(anchor), 0)
        with_anchor = model[1].adapter.route(z0, anchor, 0)
        unguided = model.encode(items, latent_steps=4, convert_to_tensor=True)
        default = guided.encode(items, latent_steps=4, convert_to_tensor=True)
    torch.testing.assert_close(out["router_probs"][:, 0], expected, atol=1e-6, rtol=0)
    assert (with_anchor - expected).abs().max() > 1e-4
    assert (unguided - default).abs().max() > 1e-4  # the same seeded weights, another rollout


def test_transition_is_validated(plume_model):
    with pytest.raises(ValueError, match="transition must be one of"):
        LatentRollout(hidden_size=8, transition="mlp")
