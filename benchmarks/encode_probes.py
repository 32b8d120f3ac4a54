"""Probes the benchmarks put on a PLUME model: a backbone-pass counter and a forced rationale length.

Both act from outside the modules, so they hold however the rollout is structured:

* :class:`BackbonePasses` wraps ``model[0].run_backbone``, through which every backbone pass goes (the prefix pass
  of :class:`PlumeInput`, every latent step, the suffix, every generated token).
* :func:`forced_rationale_length` makes ``reasoning="explicit"`` write exactly ``tokens`` rationale tokens per row
  on a random model: a forward hook on ``lm_head`` sets the ``<gen_emb>`` and ``<|im_end|>`` logits to ``-inf``, so
  greedy decoding can never end the rationale itself, and ``max_new_tokens = tokens`` makes the rollout force
  ``<gen_emb>`` after exactly that many tokens. With ``token`` every rationale token is that one, so two models
  (float32 and bfloat16) write the same rationale and their embeddings compare.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch


class BackbonePasses:
    """Counts the backbone passes of a PLUME model while active (``with BackbonePasses(model) as passes:``).

    Args:
        model: A PLUME SentenceTransformer.
    """

    def __init__(self, model: Any) -> None:
        self.input_module = model[0]
        self.count = 0

    def __enter__(self) -> BackbonePasses:
        run_backbone = type(self.input_module).run_backbone.__get__(self.input_module)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return run_backbone(*args, **kwargs)

        self.input_module.run_backbone = counted  # an instance attribute shadows the method
        return self

    def __exit__(self, *exc_info: Any) -> None:
        del self.input_module.run_backbone


@contextmanager
def forced_rationale_length(model: Any, tokens: int, token: int | None = None) -> Iterator[None]:
    """Within the block, every row of an explicit encode writes exactly ``tokens`` rationale tokens.

    Args:
        model: A PLUME SentenceTransformer.
        tokens: Rationale length N (at least 1).
        token: If given, the id every rationale token is (the argmax of ``lm_head`` is forced to it).

    Raises:
        ValueError: If ``tokens`` is below 1.
    """
    if tokens < 1:
        raise ValueError(f"tokens must be at least 1, got {tokens}")
    input_module, rollout = model[0], model[1]
    ended_by = torch.tensor([input_module.token_id("<gen_emb>"), input_module.token_id("<|im_end|>")])

    def never_end(module: torch.nn.Module, args: Any, logits: torch.Tensor) -> torch.Tensor:
        if token is not None:
            forced = torch.full_like(logits, float("-inf"))
            return forced.index_fill(-1, torch.tensor([token], device=logits.device), 0)
        return logits.index_fill(-1, ended_by.to(logits.device), float("-inf"))

    handle = input_module.causal_lm.lm_head.register_forward_hook(never_end)
    saved, rollout.max_new_tokens = rollout.max_new_tokens, tokens
    try:
        yield
    finally:
        rollout.max_new_tokens = saved
        handle.remove()


def explicit_passes(tokens: int) -> int:
    """Backbone passes of one explicit batch: the prefix, ``<eot>``, ``tokens`` rationale tokens, ``<gen_emb>``."""
    return 1 + 1 + tokens + 1
