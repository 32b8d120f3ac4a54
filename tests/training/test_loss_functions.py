"""Each part of the PLUME loss against a hand computation; the two-rank loss against the one-process loss."""

from __future__ import annotations

import json
import math

import pytest
import torch

from plume_st.training.losses.loss_functions import info_nce, router_balance, token_mean
from plume_st.training.losses.plume_loss import PlumeLoss

from .conftest import torchrun_two_ranks
from .distributed_loss_script import columns, global_inputs, model_setup, parts_from

Q = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
P = [[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]]


def _unit(v):
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def _hand_info_nce(q, p, tau, bidirectional=True):
    q, p = [_unit(v) for v in q], [_unit(v) for v in p]
    sim = [[sum(a * b for a, b in zip(qi, pj)) / tau for pj in p] for qi in q]
    n = len(q)
    forward = sum(-sim[i][i] + math.log(sum(math.exp(sim[i][j]) for j in range(len(p)))) for i in range(n)) / n
    if not bidirectional:
        return forward
    backward = sum(-sim[j][j] + math.log(sum(math.exp(sim[i][j]) for i in range(n))) for j in range(n)) / n
    return (forward + backward) / 2


def test_info_nce_equals_hand_computation():
    q, p = torch.tensor(Q), torch.tensor(P)
    assert info_nce(q, p, 0.5).item() == pytest.approx(_hand_info_nce(Q, P, 0.5), abs=1e-5)
    assert info_nce(q, p, 0.02).item() == pytest.approx(_hand_info_nce(Q, P, 0.02), abs=1e-4)
    assert info_nce(q, p, 0.5, bidirectional=False).item() == pytest.approx(_hand_info_nce(Q, P, 0.5, False), abs=1e-5)


def test_info_nce_with_hard_negatives():
    negative = [[0.0, -1.0]]
    value = info_nce(torch.tensor(Q), torch.tensor(P + negative), 0.5).item()
    q, p = [_unit(v) for v in Q], [_unit(v) for v in P + negative]
    sim = [[sum(a * b for a, b in zip(qi, pj)) / 0.5 for pj in p] for qi in q]
    forward = sum(-sim[i][i] + math.log(sum(math.exp(s) for s in sim[i])) for i in range(3)) / 3
    backward = sum(-sim[j][j] + math.log(sum(math.exp(sim[i][j]) for i in range(3))) for j in range(3)) / 3
    assert value == pytest.approx((forward + backward) / 2, abs=1e-5)


def test_cross_entropy_token_mean_equals_hand_computation():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    labels = torch.tensor([0, 1])
    token_sum = torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
    hand = sum(-row[y] + math.log(sum(math.exp(v) for v in row)) for row, y in zip(logits.tolist(), [0, 1]))
    assert token_mean(token_sum, 2).item() == pytest.approx(hand / 2, abs=1e-6)
    assert token_mean(torch.tensor(6.0), 4).item() == 1.5


def test_router_balance_equals_hand_computation():
    probs = torch.tensor(
        [[[0.7, 0.1, 0.1, 0.1], [0.4, 0.4, 0.1, 0.1]], [[0.25, 0.25, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4]]]
    )
    mean = [(0.7 + 0.4 + 0.25 + 0.1) / 4, (0.1 + 0.4 + 0.25 + 0.2) / 4, (0.1 + 0.1 + 0.25 + 0.3) / 4]
    mean.append(1 - sum(mean))
    hand = sum((m - 0.25) ** 2 for m in mean) / 4
    assert router_balance(probs).item() == pytest.approx(hand, abs=1e-7)
    assert router_balance(torch.zeros(2, 0, 4)).item() == 0.0


def test_plume_loss_weights_each_part():
    loss = PlumeLoss.__new__(PlumeLoss)
    torch.nn.Module.__init__(loss)
    loss.ce_weight, loss.gen_weight, loss.anchor_weight, loss.balance_weight = 2.0, 3.0, 4.0, 5.0
    loss.temperature, loss.gather_across_devices = 0.5, True
    probs = torch.full((3, 2, 4), 0.25)
    probs[0, 0] = torch.tensor([0.55, 0.15, 0.15, 0.15])
    parts = loss.parts(torch.tensor(Q), torch.tensor(P), torch.tensor(P), torch.tensor(Q), torch.tensor(9.0), 3, probs)
    assert parts["ce"].item() == pytest.approx(2.0 * 3.0)
    assert parts["gen_infonce"].item() == pytest.approx(3.0 * _hand_info_nce(Q, P, 0.5), abs=1e-5)
    assert parts["anchor_infonce"].item() == pytest.approx(4.0 * _hand_info_nce(P, Q, 0.5), abs=1e-5)
    mean0 = (0.55 + 5 * 0.25) / 6
    others = (0.15 + 5 * 0.25) / 6
    assert parts["balance"].item() == pytest.approx(
        5.0 * ((mean0 - 0.25) ** 2 + 3 * (others - 0.25) ** 2) / 4, abs=1e-7
    )


def _torchrun(out_dir, mode, read=True):
    torchrun_two_ranks("distributed_loss_script.py", str(out_dir), mode, timeout=300)
    return [json.loads((out_dir / f"rank{rank}.json").read_text()) for rank in range(2)] if read else None


def test_two_ranks_equal_one_process(tmp_path):
    """``torchrun --nproc_per_node 2`` (gloo, CPU): the ranks' mean loss and gradients equal one process's."""
    ranks = _torchrun(tmp_path, "tensors")

    inputs = global_inputs()
    parts = parts_from(inputs)
    total = sum(parts.values())
    total.backward()
    for name, value in parts.items():
        assert sum(rank["parts"][name] for rank in ranks) / 2 == pytest.approx(value.item(), abs=1e-5), name
    for name, tensor in inputs.items():
        if not tensor.requires_grad:
            continue
        # DDP averages the ranks' gradients: the local gradient over the world size is the global one.
        gathered = torch.cat([torch.tensor(rank["grads"][name]) for rank in ranks]) / 2
        torch.testing.assert_close(gathered, tensor.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_two_ranks_equal_one_process_on_the_model(tmp_path):
    """The whole PLUME loss on a tiny model: 2 ranks x 3 rows (gathered negatives, global token count, global
    balance) give the loss and the DDP-averaged adapter gradients of one process on the 6 rows."""
    ranks = _torchrun(tmp_path, "model")
    model, loss, rows, collator = model_setup(tmp_path / "single")
    parts = loss(columns(collator(rows)))
    sum(parts.values()).backward()
    for name, value in parts.items():
        assert sum(rank["parts"][name] for rank in ranks) / 2 == pytest.approx(value.item(), rel=1e-4, abs=1e-5), name
    assert ranks[0]["parts"] != ranks[1]["parts"]
    for name, param in model[1].named_parameters():
        expected = param.grad if param.grad is not None else torch.zeros_like(param)
        torch.testing.assert_close(torch.tensor(ranks[0]["grads"][name]), expected, atol=1e-4, rtol=1e-4, msg=name)


def test_cached_loss_under_ddp_equals_one_process(tmp_path):
    """``CachedPlumeLoss`` on a DDP-wrapped model (2 ranks x 3 rows, mini-batches of one row, two steps): no
    unfinished-reduction error, and every parameter's averaged gradient equals one process's plain-loss gradient."""
    _torchrun(tmp_path, "cached_ddp", read=False)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2)]
    model, loss, rows, collator = model_setup(tmp_path / "single")
    parts = loss(columns(collator(rows)))
    sum(parts.values()).backward()
    for name, value in parts.items():
        mean = sum(rank["parts"][name] for rank in ranks) / 2
        assert mean == pytest.approx(value.item(), rel=1e-4, abs=1e-5), name
    expected = {name: param.grad for name, param in model.named_parameters() if param.grad is not None}
    assert ranks[0]["grads"].keys() == ranks[1]["grads"].keys()
    assert expected.keys() <= ranks[0]["grads"].keys()
    assert any(name.startswith("1.adapter") for name in expected) and any("merger" in name for name in expected)
    for name, grad in ranks[0]["grads"].items():
        torch.testing.assert_close(ranks[1]["grads"][name], grad, atol=0, rtol=0, msg=name)  # DDP synchronised
        reference = expected.get(name, torch.zeros_like(grad))
        torch.testing.assert_close(grad, reference, atol=1e-4, rtol=1e-4, msg=name)
