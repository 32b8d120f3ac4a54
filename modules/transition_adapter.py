"""The semantic-anchor-guided transition adapter: a small mixture of experts between latent steps.

Given the previous latent state ``z`` (last-layer hidden state), the anchor ``c`` (the hidden state at
``<disc_emb>``) and the step ``k``::

    pi  = softmax(W_r [z + c ; e(k)] + b_r)                    # router over M routed experts
    z_n = LayerNorm(z)
    z~  = z + E_0(z_n) + sum_{m in top_k(pi)} pi_m * E_m(z_n)  # raw softmax weights, not renormalised

Each expert is Linear(D, 2D) -> GELU -> Dropout -> Linear(2D, D). The routed experts run batched: the selected
rows are gathered per expert and scattered back (index_add), never a Python loop over samples.

Parameter names follow the authors' checkpoint (``ln``, ``step_embed``, ``router``, ``experts.{i}.fc1/fc2``,
``shared_expert.fc1/fc2``), so a converted checkpoint loads with ``load_state_dict``.

Everything runs in the adapter's dtype (the backbone's: bfloat16 for a bfloat16 model) except the router's softmax,
which is taken in float32: the only upcast, kept for numerical safety (see :meth:`AnchorGuidedTransition.route`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ExpertMLP(nn.Module):
    """One expert: Linear(D, 2D) -> GELU -> Dropout -> Linear(2D, D)."""

    def __init__(self, hidden_size: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.fc1 = nn.Linear(hidden_size, 2 * hidden_size)
        self.fc2 = nn.Linear(2 * hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(F.gelu(self.fc1(x))))


class AnchorGuidedTransition(nn.Module):
    """The adapter A(z, c, k) of PLUME.

    Args:
        hidden_size: The backbone's hidden size D.
        num_experts: Routed experts M.
        top_k: Experts used per row.
        shared_expert: Whether the always-on shared expert E_0 exists.
        num_step_embeddings: Size of the step-embedding table; larger step ids are clamped to the last row.
        dropout: Dropout inside the experts.
    """

    def __init__(
        self,
        hidden_size: int,
        num_experts: int = 4,
        top_k: int = 2,
        shared_expert: bool = True,
        num_step_embeddings: int = 32,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if not 1 <= top_k <= num_experts:
            raise ValueError(f"top_k must be in [1, num_experts={num_experts}], got {top_k}")
        self.num_experts = num_experts
        self.top_k = top_k
        self.ln = nn.LayerNorm(hidden_size)
        self.step_embed = nn.Embedding(num_step_embeddings, hidden_size)
        self.router = nn.Linear(2 * hidden_size, num_experts)
        self.experts = nn.ModuleList(ExpertMLP(hidden_size, dropout) for _ in range(num_experts))
        self.shared_expert = ExpertMLP(hidden_size, dropout) if shared_expert else None

    def route(self, z: torch.Tensor, anchor: torch.Tensor, step: int) -> torch.Tensor:
        """Router probabilities ``pi`` (B, M), in float32, for step ``step`` (0-based index of the transition)."""
        step_id = torch.full(z.shape[:1], step, dtype=torch.long, device=z.device)
        step_id = step_id.clamp(max=self.step_embed.num_embeddings - 1)
        router_input = torch.cat([z + anchor, self.step_embed(step_id)], dim=-1)
        # Upcast for numerical safety: the softmax and the top-k choice are taken in float32. In bfloat16 (8
        # significant bits) close logits round to equal probabilities, the top-k choice then falls to the expert
        # index, and the weights pi_m lose their third digit. M values per row: the upcast costs nothing.
        return torch.softmax(self.router(router_input).float(), dim=-1)

    def routed_experts(self, x: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        """``sum_{m in top_k} pi_m E_m(x)`` for every row, dispatched per expert with gather / scatter-add.

        Each expert runs once, on the batch of rows that selected it (a loop over the M experts, never over rows).
        """
        weights, chosen = probs.topk(self.top_k, dim=-1)  # (B, k), chosen on the float32 probabilities
        weights = weights.to(x.dtype)  # the experts' outputs are weighted in the model's dtype
        out = torch.zeros_like(x)
        for expert_id, expert in enumerate(self.experts):
            rows, slots = (chosen == expert_id).nonzero(as_tuple=True)
            if rows.numel() == 0:
                continue
            expert_out = expert(x[rows]) * weights[rows, slots].unsqueeze(-1)
            out = out.index_add(0, rows, expert_out.to(out.dtype))  # autocast may hand back another dtype than x's
        return out

    def forward(self, z: torch.Tensor, anchor: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One transition.

        Args:
            z: Previous latent state, (B, D).
            anchor: Anchor ``c(x)``, (B, D).
            step: 0-based index of this transition (step k of the paper uses ``k - 1``).

        Returns:
            The next backbone input ``z~`` (B, D), in ``z``'s dtype, and the router probabilities (B, M), in float32.
        """
        probs = self.route(z, anchor, step)
        normed = self.ln(z)
        update = self.routed_experts(normed, probs)
        if self.shared_expert is not None:
            update = update + self.shared_expert(normed)
        return z + update, probs


def balance_loss(router_probs: torch.Tensor) -> torch.Tensor:
    """``mean_m (pi_bar_m - 1/M)^2`` with ``pi_bar`` averaged over every leading axis (batch and steps).

    Args:
        router_probs: Router probabilities, (..., M).
    """
    num_experts = router_probs.shape[-1]
    mean_probs = router_probs.reshape(-1, num_experts).mean(dim=0)
    return ((mean_probs - 1.0 / num_experts) ** 2).mean()
