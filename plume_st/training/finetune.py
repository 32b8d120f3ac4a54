"""Which weights train: the paper's full fine-tune (language model + merger, vision tower frozen) or LoRA.

* ``"full"``: every parameter of the language model, the vision-language merger, the new token rows and the
  transition adapter trains; the vision encoder's blocks and patch embedding are frozen (the authors' default).
* ``"lora"``: LoRA adapters (peft, through ``model.add_adapter``) on the language model's projections; the base
  weights are frozen, the transition adapter trains fully, and the embedding rows of the five PLUME tokens train
  too (peft's ``trainable_token_indices``: a delta for those rows only, saved with the adapter). The PLUME token
  rows are new, so the PLUME-prepared backbone (tokens added) is written once to ``base_dir`` and recorded, as an
  absolute local path, as the adapter's ``base_model_name_or_path``: the saved folder holds only the LoRA weights,
  the token-row deltas, the transition adapter and the configuration, and reloads on this machine. To publish it,
  publish ``base_dir`` too (e.g. as its own Hub repository) and set ``base_model_name_or_path`` in the folder's
  ``adapter_config.json`` to where it lives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from plume_st.modules.plume_prompt import PLUME_TOKENS

DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def freeze_vision_tower(model: Any) -> int:
    """Freeze the vision encoder of the backbone except its merger(s); returns how many tensors were frozen."""
    visual = getattr(model[0].causal_lm.model, "visual", None)
    if visual is None:
        return 0
    frozen = 0
    for name, param in visual.named_parameters():
        if "merger" not in name:
            param.requires_grad_(False)
            frozen += 1
    return frozen


def add_lora(
    model: Any,
    base_dir: str | Path,
    r: int = 16,
    alpha: int = 32,
    dropout: float = 0.05,
    target_modules: tuple[str, ...] | list[str] = DEFAULT_LORA_TARGETS,
    train_plume_tokens: bool = True,
) -> None:
    """Add LoRA adapters to the language model (the vision tower gets none).

    Args:
        model: The PLUME SentenceTransformer.
        base_dir: Where the PLUME-prepared backbone is written; the adapter folder refers to it as its base.
        r: LoRA rank.
        alpha: LoRA alpha.
        dropout: LoRA dropout.
        target_modules: Projection names to adapt inside the language model.
        train_plume_tokens: Train the embedding rows of the PLUME tokens (peft ``trainable_token_indices``); they are
            copies of existing rows until trained.
    """
    from peft import LoraConfig

    input_module = model[0]
    causal_lm = input_module.causal_lm
    base_dir = Path(base_dir).resolve()
    causal_lm.save_pretrained(base_dir)
    input_module.processor.save_pretrained(base_dir)
    causal_lm.config._name_or_path = str(base_dir)
    causal_lm.name_or_path = str(base_dir)
    pattern = r".*language_model.*\.(" + "|".join(target_modules) + r")$"
    token_ids = {"embed_tokens": [input_module.token_id(token) for token in PLUME_TOKENS]}
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=pattern,
        trainable_token_indices=token_ids if train_plume_tokens else None,
    )
    model.add_adapter(config)


def prepare_finetuning(
    model: Any,
    mode: str = "full",
    freeze_vision: bool = True,
    lora: dict[str, Any] | None = None,
    base_dir: str | Path | None = None,
) -> dict[str, int]:
    """Set ``requires_grad`` for a fine-tuning mode.

    Args:
        model: The PLUME SentenceTransformer.
        mode: ``"full"`` or ``"lora"``.
        freeze_vision: Freeze the vision encoder (merger excluded) in ``"full"`` mode.
        lora: Keyword arguments of :func:`add_lora` (``r``, ``alpha``, ``dropout``, ``target_modules``,
            ``train_plume_tokens``).
        base_dir: Folder for the PLUME-prepared base backbone in ``"lora"`` mode.

    Returns:
        ``{"trainable": n, "total": n}`` parameter counts.
    """
    if mode == "full":
        for param in model.parameters():
            param.requires_grad_(True)
        if freeze_vision:
            freeze_vision_tower(model)
    elif mode == "lora":
        if base_dir is None:
            raise ValueError("LoRA fine-tuning needs base_dir for the PLUME-prepared backbone")
        add_lora(model, base_dir, **(lora or {}))
        for param in model[1].parameters():
            param.requires_grad_(True)
    else:
        raise ValueError(f"finetune mode must be 'full' or 'lora', got {mode!r}")
    return {
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total": sum(p.numel() for p in model.parameters()),
    }


def best_dtype() -> torch.dtype:
    """bf16 where the hardware has it (a CUDA device with bf16 support), float32 elsewhere."""
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32
