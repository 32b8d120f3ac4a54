"""``CachedPlumeLoss``: PLUME's loss with GradCache, for large batches on small memory.

1. Every mini-batch of every column runs the training forward without a graph; the gen and anchor embeddings,
   the router probabilities and the summed token cross-entropy are kept (with each mini-batch's RNG state).
2. The loss parts are computed on those cached tensors exactly as :class:`PlumeLoss` computes them on the whole
   batch: the InfoNCE terms see every in-batch negative, the balance loss averages over the whole batch, the
   cross-entropy divides by the whole batch's token count.
3. When the trainer calls ``backward``, the gradients of the loss with respect to the cached tensors arrive in a
   hook, and each mini-batch is run again with a graph and back-propagated with
   ``<gen, dL/dgen> + <anchor, dL/danchor> + <probs, dL/dprobs> + dL/dCE * CE``.

The gradients equal the plain loss's (the cross-entropy and balance terms are exact, not approximated per
mini-batch); only one mini-batch's activations are alive at a time.

Under DDP every mini-batch but the last is re-run inside ``model.no_sync()`` (its gradients accumulate locally),
and every surrogate adds a zero that depends on each trainable parameter, so the last backward all-reduces the
accumulated gradients of every parameter exactly once per step. Both passes run under the loss's autocast (the
re-run may happen in an autograd engine thread, which the trainer's autocast state does not reach).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from sentence_transformers.base.losses.gradcache import RandContext

from ..curriculum import CurriculumSchedule
from .plume_loss import PlumeLoss
from .row_slicing import slice_rows
from .training_forward import training_forward, unwrap_model


class CachedPlumeLoss(PlumeLoss):
    """GradCache variant of :class:`PlumeLoss`.

    Args:
        model: The PLUME SentenceTransformer.
        curriculum: As for :class:`PlumeLoss`.
        mini_batch_size: Rows per forward pass.
        **kwargs: The weights, temperature and gathering of :class:`PlumeLoss`.
    """

    def __init__(
        self, model: Any, curriculum: CurriculumSchedule | None = None, mini_batch_size: int = 8, **kwargs: Any
    ) -> None:
        super().__init__(model, curriculum, **kwargs)
        self.mini_batch_size = mini_batch_size

    def get_config_dict(self) -> dict[str, Any]:
        return {**super().get_config_dict(), "mini_batch_size": self.mini_batch_size}

    def _chunks(self, features: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        input_module = unwrap_model(self.model)[0]
        config = input_module.causal_lm.config
        merge = input_module.processor.image_processor.merge_size
        result = []
        for column in features:
            batch = column["input_ids"].shape[0]
            bounds = range(0, batch, self.mini_batch_size)
            result.append([slice_rows(column, s, min(s + self.mini_batch_size, batch), config, merge) for s in bounds])
        return result

    def forward(self, sentence_features: list[dict[str, Any]], labels: torch.Tensor | None = None) -> dict:
        if len(sentence_features) < 2:
            raise ValueError(f"PlumeLoss needs a query and a positive column, got {len(sentence_features)} column(s)")
        stage = getattr(self.model, "zero_optimization_stage", None)
        if callable(stage) and stage() >= 2:
            raise ValueError(
                f"CachedPlumeLoss re-runs the model several times per step, which DeepSpeed ZeRO-{stage()} refuses "
                "(gradient computed twice for a partition); use ZeRO-1 or DDP with grad_cache"
            )
        spec = self.curriculum.spec()
        chunks = self._chunks(list(sentence_features))
        states: list[list[RandContext]] = []
        cached: list[dict[str, list[torch.Tensor]]] = []
        ce_sum, num_tokens = torch.zeros(()), 0
        with torch.no_grad(), self.autocast():
            for column in chunks:
                states.append([])
                store: dict[str, list[torch.Tensor]] = {"gen": [], "anchor": [], "probs": []}
                for chunk in column:
                    states[-1].append(RandContext(*[v for v in chunk.values() if isinstance(v, torch.Tensor)]))
                    out = training_forward(self.model, chunk, spec, self.pieces)
                    store["gen"].append(out.gen_embedding.float())
                    store["anchor"].append(out.anchor_embedding.float())
                    store["probs"].append(out.router_probs.float())
                    ce_sum = ce_sum.to(out.logits.device) + out.cross_entropy_sum()
                    num_tokens += out.num_tokens
                cached.append({key: torch.cat(values) for key, values in store.items()})
        pieces = [c[key] for key in ("gen", "anchor", "probs") for c in cached] + [ce_sum.reshape(1)]
        flat = torch.cat([piece.reshape(-1) for piece in pieces]).requires_grad_(torch.is_grad_enabled())
        views = [view.reshape(piece.shape) for view, piece in zip(flat.split([p.numel() for p in pieces]), pieces)]
        columns = len(cached)
        gen, anchor, probs = views[:columns], views[columns : 2 * columns], views[2 * columns : 3 * columns]
        parts = self.parts(
            gen[0], torch.cat(gen[1:]), anchor[0], torch.cat(anchor[1:]), views[-1][0], num_tokens, torch.cat(probs)
        )
        if flat.requires_grad:
            flat.register_hook(lambda grad: self._backward_chunks(grad, pieces, chunks, states, spec))
        return parts

    def _backward_chunks(self, grad: torch.Tensor, pieces, chunks, states, spec) -> None:
        """Re-run every mini-batch with a graph and back-propagate the cached gradients into the model."""
        grads = [g.reshape(p.shape) for g, p in zip(grad.split([p.numel() for p in pieces]), pieces)]
        columns = len(chunks)
        ce_grad = grads[-1][0]
        ddp = self.under_ddp()
        last = (len(chunks) - 1, len(chunks[-1]) - 1)
        with torch.enable_grad():
            for index, (column, column_states) in enumerate(zip(chunks, states)):
                gen_grad, anchor_grad, probs_grad = grads[index], grads[columns + index], grads[2 * columns + index]
                start = 0
                for position, (chunk, state) in enumerate(zip(column, column_states)):
                    # DDP all-reduces once, in the last mini-batch's backward, what every mini-batch accumulated.
                    sync = not ddp or (index, position) == last
                    with state, self.autocast(), contextlib.nullcontext() if sync else self.model.no_sync():
                        out = training_forward(self.model, chunk, spec, self.pieces)
                        rows = slice(start, start + out.gen_embedding.shape[0])
                        start = rows.stop
                        surrogate = (out.gen_embedding.float() * gen_grad[rows]).sum()
                        surrogate = surrogate + (out.anchor_embedding.float() * anchor_grad[rows]).sum()
                        surrogate = surrogate + (out.router_probs.float() * probs_grad[rows]).sum()
                        surrogate = surrogate + ce_grad * out.cross_entropy_sum()
                        if ddp:
                            surrogate = surrogate + self._touch_trainable()
                        surrogate.backward()
