"""Done-when c: the anchor-guided transition adapter equals its equations, computed by hand."""

from __future__ import annotations

import math

import torch

from plume_st.modules.transition_adapter import AnchorGuidedTransition, balance_loss


def _adapter(hidden: int = 4, experts: int = 4, top_k: int = 2, shared: bool = True) -> AnchorGuidedTransition:
    torch.manual_seed(0)
    adapter = AnchorGuidedTransition(hidden, experts, top_k, shared, num_step_embeddings=3, dropout=0.0)
    with torch.no_grad():
        for parameter in adapter.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.5)
    return adapter.eval()


def _expert(expert, x):
    hidden = x @ expert.fc1.weight.T + expert.fc1.bias
    gelu = 0.5 * hidden * (1 + torch.erf(hidden / math.sqrt(2)))
    return gelu @ expert.fc2.weight.T + expert.fc2.bias


def _layer_norm(x, ln):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + ln.eps) * ln.weight + ln.bias


def test_transition_equals_hand_computation():
    adapter = _adapter()
    z, anchor = torch.randn(3, 4), torch.randn(3, 4)
    out, probs = adapter(z, anchor, step=1)
    for row in range(3):
        router_in = torch.cat([z[row] + anchor[row], adapter.step_embed.weight[1]])
        logits = adapter.router.weight @ router_in + adapter.router.bias
        pi = torch.exp(logits) / torch.exp(logits).sum()
        torch.testing.assert_close(probs[row], pi)
        normed = _layer_norm(z[row], adapter.ln)
        top2 = sorted(range(4), key=lambda m: -pi[m])[:2]
        expected = z[row] + _expert(adapter.shared_expert, normed)
        for m in top2:  # raw softmax weights, not renormalised over the top 2
            expected = expected + pi[m] * _expert(adapter.experts[m], normed)
        torch.testing.assert_close(out[row], expected, atol=1e-5, rtol=1e-5)


def test_layer_norm_only_feeds_experts_and_residual_is_raw():
    adapter = _adapter()
    with torch.no_grad():  # all experts output zero -> the transition is the identity on the raw z
        for expert in [*adapter.experts, adapter.shared_expert]:
            expert.fc2.weight.zero_()
            expert.fc2.bias.zero_()
    z = torch.randn(2, 4) * 7 + 3
    out, _ = adapter(z, torch.randn(2, 4), step=0)
    torch.testing.assert_close(out, z)


def test_shared_expert_always_on_and_optional():
    with_shared, without = _adapter(shared=True), _adapter(shared=False)
    without.load_state_dict({k: v for k, v in with_shared.state_dict().items() if "shared" not in k})
    z, anchor = torch.randn(5, 4), torch.randn(5, 4)
    difference = with_shared(z, anchor, 0)[0] - without(z, anchor, 0)[0]
    torch.testing.assert_close(difference, _expert(with_shared.shared_expert, _layer_norm(z, with_shared.ln)))


def test_step_ids_clamped_to_table():
    adapter = _adapter()
    z, anchor = torch.randn(2, 4), torch.randn(2, 4)
    torch.testing.assert_close(adapter.route(z, anchor, 2), adapter.route(z, anchor, 50))
    assert not torch.allclose(adapter.route(z, anchor, 0), adapter.route(z, anchor, 1))


def test_router_sees_sum_of_state_and_anchor():
    adapter = _adapter()
    z, anchor = torch.randn(2, 4), torch.randn(2, 4)
    torch.testing.assert_close(adapter.route(z, anchor, 0), adapter.route(z + anchor, torch.zeros(2, 4), 0))


def test_batched_dispatch_equals_per_row_loop():
    adapter = _adapter(hidden=8, experts=4, top_k=2)
    z, anchor = torch.randn(16, 8), torch.randn(16, 8)
    batched, _ = adapter(z, anchor, 3)
    looped = torch.cat([adapter(z[i : i + 1], anchor[i : i + 1], 3)[0] for i in range(16)])
    torch.testing.assert_close(batched, looped, atol=1e-6, rtol=1e-6)


def test_top1_routing_uses_single_expert():
    adapter = _adapter(top_k=1, shared=False)
    z, anchor = torch.randn(4, 4), torch.randn(4, 4)
    out, probs = adapter(z, anchor, 0)
    normed = _layer_norm(z, adapter.ln)
    for row in range(4):
        m = int(probs[row].argmax())
        torch.testing.assert_close(out[row], z[row] + probs[row, m] * _expert(adapter.experts[m], normed[row]))


def test_balance_loss_formula():
    probs = torch.tensor(
        [[[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1]], [[0.25, 0.25, 0.25, 0.25], [0.1, 0.1, 0.1, 0.7]]]
    )
    mean = [(0.7 + 0.1 + 0.25 + 0.1) / 4, (0.1 + 0.7 + 0.25 + 0.1) / 4, (0.1 + 0.1 + 0.25 + 0.1) / 4]
    mean.append(1 - sum(mean))
    expected = sum((m - 0.25) ** 2 for m in mean) / 4
    assert math.isclose(balance_loss(probs).item(), expected, rel_tol=1e-6)
    assert balance_loss(torch.full((3, 2, 4), 0.25)).item() == 0.0
