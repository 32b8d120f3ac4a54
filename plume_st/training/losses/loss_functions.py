"""The parts of the PLUME loss as plain functions of tensors, exact under data parallelism.

Every function returns, on each rank, a value whose mean over the ranks equals the loss of the global batch, and
whose gradient (after DDP averages the ranks' gradients) is the global loss's gradient:

* :func:`info_nce`: bidirectional InfoNCE on cosine similarities / tau with in-batch negatives; the candidates are
  gathered from every rank (with gradient) when distributed; with Matryoshka ``dims`` the weighted sum of that loss
  on every renormalised prefix of the vectors;
* :func:`token_mean`: the summed token cross-entropy divided by the *global* number of supervised tokens;
* :func:`router_balance`: ``mean_m (pi_bar_m - 1/M)^2`` with ``pi_bar`` averaged over the global batch and the K steps
  (a differentiable all-reduce).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.distributed as dist
from torch.nn import functional as F


def world_size() -> int:
    """Number of data-parallel ranks (1 without an initialised process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_with_grad(tensor: torch.Tensor) -> tuple[torch.Tensor, int]:
    """All ranks' rows (local rows keep their gradient) and the offset of this rank's rows in them."""
    if world_size() == 1:
        return tensor, 0
    import torch.distributed.nn as dist_nn

    with warnings.catch_warnings():  # deprecated in favour of a private API; still the differentiable gather
        warnings.simplefilter("ignore", FutureWarning)
        gathered = dist_nn.all_gather(tensor)
    return torch.cat(gathered, dim=0), dist.get_rank() * tensor.shape[0]


def info_nce(
    queries: torch.Tensor,
    documents: torch.Tensor,
    temperature: float = 0.02,
    gather: bool = True,
    bidirectional: bool = True,
    dims: Sequence[int] | None = None,
    weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """InfoNCE of aligned (query i, document i) pairs with in-batch negatives, optionally Matryoshka-weighted.

    Args:
        queries: (B, D) query embeddings (normalised here).
        documents: (B + H, D) document embeddings; the first B are the positives, the rest extra negatives.
        temperature: tau; logits are cosine / tau.
        gather: Use the documents (and queries) of every rank as candidates when distributed.
        bidirectional: Average the query -> document loss with the document -> query loss (positives only).
        dims: Matryoshka prefix sizes: the loss is ``sum_i weights[i] * InfoNCE(first dims[i] dimensions)``, each
            prefix renormalised (``None``: the full vectors). The rows are gathered once, for every size.
        weights: One weight per size in ``dims`` (``None``: 1 each).

    Returns:
        The mean loss over this rank's queries (the global mean when averaged over ranks).
    """
    batch = queries.shape[0]
    queries, documents = queries.float(), documents.float()
    positives, negatives = documents[:batch], documents[batch:]
    if gather:
        all_positives, offset = gather_with_grad(positives)
        all_queries, _ = gather_with_grad(queries)
        all_negatives = gather_with_grad(negatives)[0] if negatives.shape[0] else negatives
    else:
        all_positives, all_queries, all_negatives, offset = positives, queries, negatives, 0
    targets = torch.arange(batch, device=queries.device) + offset
    candidates = torch.cat([all_positives, all_negatives], dim=0)
    dims = list(dims) if dims else [queries.shape[-1]]
    weights = list(weights) if weights is not None else [1.0] * len(dims)
    if len(weights) != len(dims):
        raise ValueError(f"got {len(weights)} Matryoshka weights for {len(dims)} dims {dims}; give one per dim")
    loss = queries.new_zeros(())
    for dim, weight in zip(dims, weights):
        prefix = [F.normalize(tensor[:, :dim], dim=-1) for tensor in (queries, candidates, positives, all_queries)]
        term = F.cross_entropy(prefix[0] @ prefix[1].T / temperature, targets)
        if bidirectional:
            term = (term + F.cross_entropy(prefix[2] @ prefix[3].T / temperature, targets)) / 2
        loss = loss + weight * term
    return loss


def token_mean(token_sum: torch.Tensor, num_tokens: int | torch.Tensor) -> torch.Tensor:
    """``token_sum`` over the global token count, scaled so the ranks' mean is the global token mean."""
    count = torch.as_tensor(num_tokens, dtype=torch.float32, device=token_sum.device)
    ranks = world_size()
    if ranks > 1:
        count = count.clone()
        dist.all_reduce(count)
    if count.item() == 0:
        return token_sum * 0.0
    return token_sum * ranks / count


def router_balance(router_probs: torch.Tensor) -> torch.Tensor:
    """``mean_m (pi_bar_m - 1/M)^2``, ``pi_bar`` over every row and step of the global batch.

    Args:
        router_probs: (..., M) router probabilities (an empty leading size, or M = 0 without an adapter, gives 0).
    """
    num_experts = router_probs.shape[-1]
    if num_experts == 0:
        return router_probs.float().sum() * 0.0
    flat = router_probs.reshape(-1, num_experts).float()
    total, count = flat.sum(dim=0), torch.tensor(float(flat.shape[0]), device=flat.device)
    if world_size() > 1:
        import torch.distributed.nn as dist_nn

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            total = dist_nn.all_reduce(total)
        dist.all_reduce(count)
    if count.item() == 0:
        return flat.sum() * 0.0
    return ((total / count - 1.0 / num_experts) ** 2).mean()
