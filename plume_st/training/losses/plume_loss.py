"""``PlumeLoss``: L = L_CE + lambda_gen InfoNCE(gen) + lambda_anc InfoNCE(anchor) + lambda_bal L_bal.

The loss runs the batched training forward (:func:`~plume_st.training.losses.training_forward.training_forward`)
for every column of the batch at the current curriculum stage, then combines

* ``ce``: next-token cross-entropy of the explicit suffix (remaining rationale, answer, ``\\n<gen_emb>``), the mean
  over every supervised token of every column;
* ``gen_infonce``: bidirectional InfoNCE between the queries' and the positives' ``<gen_emb>`` states (extra
  columns are hard negatives for the query -> document direction);
* ``anchor_infonce``: the same on the ``<disc_emb>`` anchors (with ``matryoshka_dims`` each InfoNCE term is the
  weighted sum of that loss on the full vectors and on every truncated, renormalised prefix, all from the one
  training forward: Matryoshka representation learning);
* ``balance``: the router balance loss over every row and latent step of every column.

It returns the weighted parts as a dict, so sentence-transformers' trainer logs each part and sums them.

Mixed precision: accelerate's autocast covers only the model's own forward (the prefix pass); the latent steps, the
suffix pass and the LM head run in the loss. With ``mixed_precision="bf16"`` (``PlumeTrainer`` sets it from
``args.bf16`` / ``args.fp16``) the whole training forward runs under ``torch.autocast``, so fp32 master weights
compute in bf16 everywhere, as in the prefix pass.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from plume_st.model import set_matryoshka_dims

from ..curriculum import CurriculumSchedule
from ..data.suffix import SuffixPieces
from .loss_functions import info_nce, router_balance, token_mean, world_size
from .training_forward import TrainingOutputs, training_forward, unwrap_model

_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_matryoshka(
    dims: Sequence[int], weights: Sequence[float] | None, full: int
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The trained sizes, largest first, with the full size ``full`` added (weight 1) when ``dims`` lacks it."""
    dims = [int(dim) for dim in dims]
    weights = [1.0] * len(dims) if weights is None else [float(weight) for weight in weights]
    if len(weights) != len(dims):
        raise ValueError(f"matryoshka_weights has {len(weights)} entries for matryoshka_dims {dims}; give one per dim")
    bad = [dim for dim in dims if not 0 < dim <= full]
    if bad:
        raise ValueError(f"matryoshka_dims {dims}: {bad} not in 1..{full}, the model's embedding size")
    if len(set(dims)) != len(dims):
        raise ValueError(f"matryoshka_dims {dims} repeats a size")
    if any(weight < 0 for weight in weights):
        raise ValueError(f"matryoshka_weights {weights} must not be negative")
    if full not in dims:
        dims, weights = [full, *dims], [1.0, *weights]
    ordered = sorted(zip(dims, weights), key=lambda pair: -pair[0])
    return tuple(dim for dim, _ in ordered), tuple(weight for _, weight in ordered)


class PlumeLoss(nn.Module):
    """The PLUME training objective.

    Args:
        model: The PLUME SentenceTransformer.
        curriculum: The schedule whose current stage sets K and the kept text (``None``: always fully latent,
            with S = the model's ``latent_steps``).
        ce_weight: Weight of the cross-entropy term.
        gen_weight: lambda_gen.
        anchor_weight: lambda_anc.
        balance_weight: lambda_bal.
        temperature: tau of both InfoNCE terms.
        gather_across_devices: Use every rank's embeddings as in-batch negatives when distributed.
        mixed_precision: ``"bf16"`` / ``"fp16"``: run the training forward under ``torch.autocast`` of that dtype;
            ``None``: no autocast of its own.
        matryoshka_dims: Embedding sizes whose prefixes the InfoNCE terms also train, e.g. ``[512, 256, 128, 64]``
            (``None``: the full vectors only). The full size is always trained: it is added with weight 1 when the
            list lacks it. The model records the resulting sizes (:func:`plume_st.model.matryoshka_dims`), so its
            card and server list them.
        matryoshka_weights: One weight per entry of ``matryoshka_dims`` (``None``: 1 each).

    Raises:
        ValueError: For a size that is not positive, exceeds the embedding size or repeats, or weights that do not
            match the sizes.
    """

    matryoshka_dims: tuple[int, ...] | None = None
    """The trained sizes, largest (full) first; ``None``: the full vectors only."""
    matryoshka_weights: tuple[float, ...] | None = None

    def __init__(
        self,
        model: Any,
        curriculum: CurriculumSchedule | None = None,
        ce_weight: float = 1.0,
        gen_weight: float = 1.0,
        anchor_weight: float = 1.0,
        balance_weight: float = 0.1,
        temperature: float = 0.02,
        gather_across_devices: bool = True,
        mixed_precision: str | None = None,
        matryoshka_dims: Sequence[int] | None = None,
        matryoshka_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        if curriculum is None:
            curriculum = CurriculumSchedule.final(unwrap_model(model)[1].latent_steps)
        self.curriculum = curriculum
        self.ce_weight = ce_weight
        self.gen_weight = gen_weight
        self.anchor_weight = anchor_weight
        self.balance_weight = balance_weight
        self.temperature = temperature
        self.gather_across_devices = gather_across_devices
        if mixed_precision is not None and mixed_precision not in _AUTOCAST_DTYPES:
            raise ValueError(f"mixed_precision must be 'bf16', 'fp16' or None, got {mixed_precision!r}")
        self.mixed_precision = mixed_precision
        if matryoshka_dims is not None:
            full = unwrap_model(model)[1].hidden_size
            resolved = resolve_matryoshka(matryoshka_dims, matryoshka_weights, full)
            self.matryoshka_dims, self.matryoshka_weights = resolved
            set_matryoshka_dims(unwrap_model(model), self.matryoshka_dims)
        elif matryoshka_weights is not None:
            raise ValueError("matryoshka_weights needs matryoshka_dims (one weight per dim)")
        self._pieces: SuffixPieces | None = None

    @property
    def pieces(self) -> SuffixPieces:
        if self._pieces is None:
            self._pieces = SuffixPieces.from_tokenizer(unwrap_model(self.model)[0].tokenizer)
        return self._pieces

    def forward(self, sentence_features: list[dict[str, Any]], labels: torch.Tensor | None = None) -> dict:
        """The weighted loss parts for one batch (columns: query, positive, optional hard negatives)."""
        if len(sentence_features) < 2:
            raise ValueError(f"PlumeLoss needs a query and a positive column, got {len(sentence_features)} column(s)")
        spec = self.curriculum.spec()
        with self.autocast():
            outputs = [training_forward(self.model, features, spec, self.pieces) for features in sentence_features]
        parts = self.combine(outputs)
        if self.under_ddp():
            parts["ce"] = parts["ce"] + self._touch_trainable()
        return parts

    def autocast(self) -> contextlib.AbstractContextManager:
        """``torch.autocast`` of the ``mixed_precision`` dtype on the model's device type (a no-op without one)."""
        if self.mixed_precision is None:
            return contextlib.nullcontext()
        device_type = next(unwrap_model(self.model).parameters()).device.type
        return torch.autocast(device_type, dtype=_AUTOCAST_DTYPES[self.mixed_precision])

    def under_ddp(self) -> bool:
        """Whether the loss runs a DistributedDataParallel-wrapped model in a process group of several ranks."""
        return world_size() > 1 and isinstance(self.model, nn.parallel.DistributedDataParallel)

    def combine(self, outputs: list[TrainingOutputs]) -> dict[str, torch.Tensor]:
        """Combine the columns' training outputs into the weighted loss parts."""
        query, documents = outputs[0], outputs[1:]
        ce_sum = torch.stack([output.cross_entropy_sum() for output in outputs]).sum()
        num_tokens = sum(output.num_tokens for output in outputs)
        return self.parts(
            query.gen_embedding,
            torch.cat([output.gen_embedding for output in documents]),
            query.anchor_embedding,
            torch.cat([output.anchor_embedding for output in documents]),
            ce_sum,
            num_tokens,
            torch.cat([output.router_probs for output in outputs]),
        )

    def parts(
        self,
        gen_query: torch.Tensor,
        gen_documents: torch.Tensor,
        anchor_query: torch.Tensor,
        anchor_documents: torch.Tensor,
        ce_sum: torch.Tensor,
        num_tokens: int | torch.Tensor,
        router_probs: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """The weighted parts from the raw quantities (the GradCache variant calls this on cached tensors)."""
        infonce = functools.partial(
            info_nce,
            temperature=self.temperature,
            gather=self.gather_across_devices,
            dims=self.matryoshka_dims,
            weights=self.matryoshka_weights,
        )
        return {
            "ce": self.ce_weight * token_mean(ce_sum, num_tokens),
            "gen_infonce": self.gen_weight * infonce(gen_query, gen_documents),
            "anchor_infonce": self.anchor_weight * infonce(anchor_query, anchor_documents),
            "balance": self.balance_weight * router_balance(router_probs),
        }

    def _touch_trainable(self) -> torch.Tensor:
        """A zero that depends on every trainable parameter, so DDP's reducer hears from all of them every step
        (experts no row chose, the merger on a text-only batch, the adapter at stage 0)."""
        params = [param for param in self.model.parameters() if param.requires_grad]
        return torch.stack([param.reshape(-1)[:1].sum().float() for param in params]).sum() * 0.0

    def get_config_dict(self) -> dict[str, Any]:
        """What the model card lists for this loss."""
        curriculum = self.curriculum
        return {
            "ce_weight": self.ce_weight,
            "gen_weight": self.gen_weight,
            "anchor_weight": self.anchor_weight,
            "balance_weight": self.balance_weight,
            "temperature": self.temperature,
            "gather_across_devices": self.gather_across_devices,
            "curriculum_ratios": list(curriculum.ratios),
            "curriculum_stage_fractions": list(curriculum.stage_fractions),
            "num_segments": curriculum.num_segments,
            **(
                {"matryoshka_dims": list(self.matryoshka_dims), "matryoshka_weights": list(self.matryoshka_weights)}
                if self.matryoshka_dims
                else {}
            ),
        }

    @property
    def citation(self) -> str:
        return "PLUME: Latent Reasoning Based Universal Multimodal Embedding (arXiv 2604.02073)"
