"""Matryoshka dimensions in the PLUME objective: the loss against a hand computation, one training forward per batch,
the GradCache variant and two ranks equal to the plain loss, the sizes validated and recorded on the model."""

from __future__ import annotations

import json
import math

import pytest
import torch

from plume_st.model import matryoshka_dims
from plume_st.training.curriculum import CurriculumSchedule
from plume_st.training.data.collator import PlumeDataCollator
from plume_st.training.data.ume_data import read_ume_sft
from plume_st.training.losses.cached_plume_loss import CachedPlumeLoss
from plume_st.training.losses.loss_functions import info_nce
from plume_st.training.losses.plume_loss import PlumeLoss

from .conftest import make_model, torchrun_two_ranks

DIMS, WEIGHTS = [32, 16, 8], [0.5, 0.25, 2.0]
"""Sizes and weights of the tests; the tiny model's full size 64 is added with weight 1."""


def hand_info_nce(queries: list[list[float]], documents: list[list[float]], tau: float) -> float:
    """Bidirectional InfoNCE in plain Python (doubles): rows renormalised, documents past the queries are negatives."""

    def unit(row):
        norm = math.sqrt(sum(x * x for x in row))
        return [x / norm for x in row]

    q, d = [unit(row) for row in queries], [unit(row) for row in documents]
    n = len(q)
    sim = [[sum(a * b for a, b in zip(qi, dj)) / tau for dj in d] for qi in q]
    forward = sum(math.log(sum(math.exp(s) for s in sim[i])) - sim[i][i] for i in range(n)) / n
    backward = sum(math.log(sum(math.exp(sim[i][j]) for i in range(n))) - sim[j][j] for j in range(n)) / n
    return (forward + backward) / 2


def hand_matryoshka(queries: torch.Tensor, documents: torch.Tensor, tau: float, dims, weights) -> float:
    """``sum_i w_i InfoNCE(first d_i dimensions)`` by hand."""
    q, d = queries.double().tolist(), documents.double().tolist()
    return sum(w * hand_info_nce([r[:dim] for r in q], [r[:dim] for r in d], tau) for dim, w in zip(dims, weights))


def test_info_nce_with_dims_equals_hand_computation():
    generator = torch.Generator().manual_seed(3)
    queries = torch.randn(4, 12, generator=generator)
    documents = torch.randn(6, 12, generator=generator)  # 4 positives, 2 hard negatives
    value = info_nce(queries, documents, 0.5, dims=[12, 6, 3], weights=[1.0, 0.5, 0.25]).item()
    assert value == pytest.approx(hand_matryoshka(queries, documents, 0.5, [12, 6, 3], [1.0, 0.5, 0.25]), abs=1e-6)
    full = info_nce(queries, documents, 0.5).item()
    assert info_nce(queries, documents, 0.5, dims=[12]).item() == pytest.approx(full, abs=1e-7)


@pytest.fixture(scope="module")
def setup(tiny_backbone, synthetic_dir):
    model = make_model(tiny_backbone).eval()  # dropout off: every forward sees the same experts
    collator = PlumeDataCollator(preprocess_fn=model[0].preprocess, tokenizer=model[0].tokenizer)
    rows = read_ume_sft(synthetic_dir / "train.jsonl", media_root=synthetic_dir).select(range(6)).to_list()
    batch = collator(rows)
    columns = [{k[len(p) :]: v for k, v in batch.items() if k.startswith(p)} for p in ("query_", "positive_")]
    curriculum = CurriculumSchedule()
    curriculum.stage = 2  # K = 4, half of the rationale still explicit
    return model, columns, curriculum


def test_plume_loss_with_dims_equals_hand_computation_in_one_forward(setup, monkeypatch):
    model, columns, curriculum = setup
    weights = {"gen_weight": 0.7, "anchor_weight": 0.3, "temperature": 0.05}
    loss = PlumeLoss(model, curriculum, matryoshka_dims=DIMS, matryoshka_weights=WEIGHTS, **weights)
    plain = PlumeLoss(model, curriculum, **weights)
    passes, outputs = [], []
    run_backbone, combine = model[0].run_backbone, loss.combine

    def counted(*args, **kwargs):
        passes.append(1)
        return run_backbone(*args, **kwargs)

    def kept(columns_outputs):
        outputs.extend(columns_outputs)
        return combine(columns_outputs)

    monkeypatch.setattr(model[0], "run_backbone", counted)
    monkeypatch.setattr(loss, "combine", kept)
    with torch.no_grad():
        parts = loss(columns)
        expected_once = plain.combine(outputs)
    assert len(passes) == 2 * (1 + 4)  # two sides, 1 + K passes each: the same forward as without dims
    query, positive = outputs
    dims, dim_weights = [64, *DIMS], [1.0, *WEIGHTS]
    gen = hand_matryoshka(query.gen_embedding, positive.gen_embedding, 0.05, dims, dim_weights)
    anchor = hand_matryoshka(query.anchor_embedding, positive.anchor_embedding, 0.05, dims, dim_weights)
    assert parts["gen_infonce"].item() == pytest.approx(0.7 * gen, abs=1e-6)
    assert parts["anchor_infonce"].item() == pytest.approx(0.3 * anchor, abs=1e-6)
    for name in ("ce", "balance"):  # counted once, whatever the sizes
        assert parts[name].item() == pytest.approx(expected_once[name].item(), abs=1e-7)
    assert loss.get_config_dict()["matryoshka_dims"] == [64, 32, 16, 8]
    assert loss.get_config_dict()["matryoshka_weights"] == [1.0, 0.5, 0.25, 2.0]


def _grads(model):
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_grad_cache_with_dims_equals_plain_loss(setup):
    model, columns, curriculum = setup
    model.zero_grad()
    plain = PlumeLoss(model, curriculum, matryoshka_dims=DIMS, matryoshka_weights=WEIGHTS)(columns)
    sum(plain.values()).backward()
    plain_grads = _grads(model)
    model.zero_grad()
    cached = CachedPlumeLoss(model, curriculum, mini_batch_size=2, matryoshka_dims=DIMS, matryoshka_weights=WEIGHTS)
    parts = cached(columns)
    sum(parts.values()).backward()
    cached_grads = _grads(model)
    model.zero_grad()
    for name, value in plain.items():
        torch.testing.assert_close(parts[name], value, atol=1e-5, rtol=1e-5, msg=name)
    assert plain_grads.keys() == cached_grads.keys() and any(name.startswith("1.adapter") for name in plain_grads)
    for name, grad in plain_grads.items():
        torch.testing.assert_close(cached_grads[name], grad, atol=1e-4, rtol=1e-4, msg=name)


def test_two_ranks_with_dims_equal_one_process(tmp_path):
    """``torchrun --nproc_per_node 2``: every rank's candidates are both ranks' rows at every size."""
    from .matryoshka_ranks_script import DIMS as SCRIPT_DIMS
    from .matryoshka_ranks_script import WEIGHTS as SCRIPT_WEIGHTS
    from .matryoshka_ranks_script import global_batch

    torchrun_two_ranks("matryoshka_ranks_script.py", str(tmp_path))
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(2)]
    queries, documents = global_batch()
    expected = info_nce(queries, documents, 0.1, gather=False, dims=SCRIPT_DIMS, weights=SCRIPT_WEIGHTS)
    expected.backward()
    hand = hand_matryoshka(queries.detach(), documents.detach(), 0.1, SCRIPT_DIMS, SCRIPT_WEIGHTS)
    assert expected.item() == pytest.approx(hand, abs=1e-6)
    assert (ranks[0]["loss"] + ranks[1]["loss"]) / 2 == pytest.approx(expected.item(), abs=1e-6)
    half = queries.shape[0] // 2
    for rank, result in enumerate(ranks):  # DDP averages the ranks' gradients of their own rows
        rows = slice(rank * half, (rank + 1) * half)
        torch.testing.assert_close(torch.tensor(result["query_grad"]) / 2, queries.grad[rows], atol=1e-6, rtol=0)
        torch.testing.assert_close(torch.tensor(result["document_grad"]) / 2, documents.grad[rows], atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("dims", "weights", "message"),
    [
        ([128, 32], None, r"\[128\] not in 1\.\.64"),
        ([0], None, r"\[0\] not in 1\.\.64"),
        ([32, 32], None, "repeats"),
        ([32, 16], [1.0], "2 entries|one per dim"),
        (None, [1.0], "needs matryoshka_dims"),
    ],
)
def test_bad_dims_are_refused(setup, dims, weights, message):
    with pytest.raises(ValueError, match=message):
        PlumeLoss(setup[0], matryoshka_dims=dims, matryoshka_weights=weights)


def test_the_model_records_its_dims(tiny_backbone):
    model = make_model(tiny_backbone, latent_steps=2)
    assert matryoshka_dims(model) is None
    PlumeLoss(model, matryoshka_dims=[16, 32])
    assert matryoshka_dims(model) == [64, 32, 16]


def train_linear_embedder(seed: int, dims: list[int] | None) -> dict[int, float]:
    """A 64 -> 64 linear embedder of noisy class centres trained with :func:`info_nce` (with or without Matryoshka
    ``dims``); held-out hit@1 against the 32 centres at 64, 16, 8 and 4 dimensions."""
    generator = torch.Generator().manual_seed(seed)
    classes, size, noise = 32, 64, 0.8
    centres = torch.randn(classes, size, generator=generator)
    torch.manual_seed(seed)
    layer = torch.nn.Linear(size, size)
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-2)
    for _ in range(120):
        labels = torch.randperm(classes, generator=generator)[:16]
        queries = centres[labels] + noise * torch.randn(16, size, generator=generator)
        documents = centres[labels] + noise * torch.randn(16, size, generator=generator)
        loss = info_nce(layer(queries), layer(documents), 0.05, dims=dims)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    labels = torch.arange(classes).repeat(4)
    with torch.no_grad():
        queries = layer(centres[labels] + noise * torch.randn(len(labels), size, generator=generator))
        documents = layer(centres)
    hits = {}
    for dim in (64, 16, 8, 4):
        scores = (
            torch.nn.functional.normalize(queries[:, :dim], dim=-1)
            @ torch.nn.functional.normalize(documents[:, :dim], dim=-1).T
        )
        hits[dim] = (scores.argmax(dim=1) == labels).float().mean().item()
    return hits


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_objective_moves_retrieval_into_the_prefixes(seed):
    """The Matryoshka InfoNCE makes short prefixes retrieve better than plain InfoNCE does, at no cost at full size
    (seeds 0-4: +15 to +24 points at 4 dimensions, +7 to +10 at 8, hit@1 1.0 at 64 for both)."""
    matryoshka, plain = train_linear_embedder(seed, [64, 16, 8, 4]), train_linear_embedder(seed, None)
    assert matryoshka[64] == plain[64] == 1.0
    assert matryoshka[4] >= plain[4] + 0.12, (matryoshka, plain)
    assert matryoshka[8] >= plain[8] + 0.05, (matryoshka, plain)
