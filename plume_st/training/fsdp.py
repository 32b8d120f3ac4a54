"""Fully sharded data parallelism (FSDP2, ``torch.distributed.fsdp.fully_shard``) for PLUME training.

A PLUME training step calls parts of the backbone *outside* the model's own forward: the loss runs the prefix pass
through the model, then the latent steps and the closing suffix pass call the language model again (1 + K passes
per side), embed the suffix tokens with the input embedding and project the supervised states with the LM head.
FSDP2 gathers a unit's parameters in that unit's forward pre-hook and frees them after its forward, so a parameter
read anywhere else is a shard. PLUME's plan therefore makes every module the training step calls a unit of its own:

* every decoder layer of the language model;
* the input embedding and the LM head (one unit together when they share their weight, as Qwen2-VL-2B does);
* the anchor-guided adapter of the latent rollout (called once per latent step);
* the backbone model (``causal_lm.model``: the vision tower, the final norm and whatever else the layers leave);
* the SentenceTransformer itself, the root (no parameters of its own remain).

The vision tower stays inside the backbone unit rather than one unit per vision block: a rank whose batch has no
image never runs the vision blocks, and a unit that runs on one rank but not on the other would wait forever in its
all-gather. The backbone unit is gathered on every backbone call instead (1 + K times per side). For the same
reason every unit with parameters a batch may leave unused (the experts no row chose, the vision tower on a text
batch) adds a zero that depends on each of its trainable parameters to its output: FSDP2 reduce-scatters only the
gradients a rank has, so all ranks must have the same ones.

``PlumeTrainer`` applies this plan itself when FSDP is asked for (an accelerate config with ``distributed_type:
FSDP``, or ``training.fsdp``) and hands sentence-transformers' trainer an already sharded model; accelerate's own
FSDP2 wrapping cannot express it (it wraps by class name), and on CPU accelerate ignores its FSDP plugin.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.fsdp import FSDPModule, fully_shard
from torch.distributed.tensor import DTensor


def fsdp_requested(args: Any) -> bool:
    """Whether the run asks for FSDP: ``accelerate launch`` with an FSDP config, or ``TrainingArguments.fsdp``."""
    return bool(getattr(args, "fsdp", None)) or os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true"


def shard_plume_model(model: Any, **fully_shard_kwargs: Any) -> Any:
    """Shard a PLUME SentenceTransformer in place with FSDP2 along the units of this module's docstring.

    Args:
        model: The PLUME SentenceTransformer (module 0 :class:`PlumeInput`, module 1 :class:`LatentRollout`).
        **fully_shard_kwargs: Passed to every ``fully_shard`` call (``mesh``, ``mp_policy``, ``offload_policy``).

    Returns:
        The same model, now an ``FSDPModule``.
    """
    if isinstance(model, FSDPModule):
        return model
    lm = model[0].causal_lm
    backbone = lm.model
    for layer in backbone.language_model.layers:
        fully_shard(layer, **fully_shard_kwargs)
    embed, head = lm.get_input_embeddings(), lm.get_output_embeddings()
    if head.weight is embed.weight:
        fully_shard([embed, head], **fully_shard_kwargs)
    else:
        fully_shard(embed, **fully_shard_kwargs)
        fully_shard(head, **fully_shard_kwargs)
    adapter = model[1].adapter
    if adapter is not None:
        fully_shard(adapter, **fully_shard_kwargs)
        _touch_own_parameters(adapter)
    fully_shard(backbone, **fully_shard_kwargs)
    _touch_own_parameters(backbone)
    fully_shard(model, **fully_shard_kwargs)
    return model


def _own_parameters(unit: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, name) of the trainable parameters that belong to ``unit``'s own group, not to a nested unit."""
    owned: list[tuple[nn.Module, str]] = []

    def visit(module: nn.Module) -> None:
        owned.extend((module, name) for name, param in module._parameters.items() if param is not None
                     and param.requires_grad)  # fmt: skip
        for child in module.children():
            if not isinstance(child, FSDPModule):
                visit(child)

    visit(unit)
    return owned


def _touch_own_parameters(unit: nn.Module) -> None:
    """Add ``0 * (one element of every trainable parameter of the unit's group)`` to the unit's first output.

    The hook runs before FSDP2's post-forward hook (``prepend``), while the parameters are gathered.
    """
    owned = _own_parameters(unit)
    if not owned:
        return

    def hook(module: nn.Module, args: Any, output: Any) -> Any:
        zero = torch.stack([getattr(owner, name).reshape(-1)[:1].sum().float() for owner, name in owned]).sum() * 0
        if isinstance(output, torch.Tensor):
            return output + zero.to(output.dtype)
        if isinstance(output, tuple) and not hasattr(output, "last_hidden_state"):
            return (output[0] + zero.to(output[0].dtype), *output[1:])
        output.last_hidden_state = output.last_hidden_state + zero.to(output.last_hidden_state.dtype)
        return output

    unit.register_forward_hook(hook, prepend=True)


def is_sharded(model: Any) -> bool:
    """Whether ``model`` holds FSDP2 (DTensor) parameters."""
    return any(isinstance(param, DTensor) for param in model.parameters())


def local_shard_numel(model: nn.Module) -> tuple[int, int]:
    """(elements this rank holds, elements of the full model) over the model's sharded parameters."""
    local = full = 0
    for param in model.parameters():
        if isinstance(param, DTensor):
            local += param.to_local().numel()
            full += param.numel()
    return local, full


@contextlib.contextmanager
def gathered_parameters(model: nn.Module, writer: bool) -> Iterator[None]:
    """Put the full (gathered, CPU) parameters into the modules of the writer rank for the block, then the shards.

    Every rank must enter (each parameter is all-gathered in turn); only the ``writer`` keeps the full tensors, so
    ``model.save(...)`` inside the block writes the full weights as any unsharded model does. No forward may run
    inside the block.
    """
    swapped: list[tuple[nn.Module, str, nn.Parameter]] = []
    full_by_id: dict[int, nn.Parameter] = {}
    for module in model.modules():
        for name, param in list(module._parameters.items()):
            if not isinstance(param, DTensor):
                continue
            if id(param) not in full_by_id:
                full = param.full_tensor().detach().cpu()
                full_by_id[id(param)] = nn.Parameter(full, requires_grad=param.requires_grad)
            if writer:
                swapped.append((module, name, param))
                module._parameters[name] = full_by_id[id(param)]
    try:
        yield
    finally:
        for module, name, param in swapped:
            module._parameters[name] = param
        if dist.is_initialized():
            dist.barrier()


def load_full_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> None:
    """Load full (unsharded) tensors into a sharded model, each rank keeping its shard."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    set_model_state_dict(model, state_dict, options=StateDictOptions(full_state_dict=True))


def full_optimizer_state_dict(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's state with full tensors (gathered on every rank's call; rank 0 gets them, on CPU)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_optimizer_state_dict(model, optimizer, options=options)


def load_full_optimizer_state_dict(model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Load a full optimizer state (from :func:`full_optimizer_state_dict`) into the sharded optimizer."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))
