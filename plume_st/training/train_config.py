"""The YAML configuration of a PLUME training run (``plume-st train CONFIG.yaml``).

Sections (every key optional unless noted)::

    model:       backbone (a folder, a Hub id, or "tiny" / "tiny:qwen2_5_vl" for an offline tiny backbone),
                 init_from (an existing PLUME model folder instead of a backbone), latent_steps, num_frames,
                 min_pixels, max_pixels, video_max_pixels, num_experts, top_k, expert_dropout, dtype
                 ("auto" = bf16 where the hardware has it), attn_implementation, seed
    data:        train_files + media_root (UME-R1 JSONL) or synthetic {num_records, seed, kinds};
                 by_dataset (one sub-dataset per batch), max_records
    curriculum:  ratios, stage_fractions, final_answer_first_half (S = model.latent_steps),
                 reset_optimizer (clear Adam's moments at each stage switch; default true)
    loss:        ce_weight, gen_weight, anchor_weight, balance_weight, temperature, gather_across_devices,
                 grad_cache, mini_batch_size, matryoshka_dims (e.g. [512, 256, 128, 64]: the InfoNCE terms also
                 train these prefixes of the embedding, at every curriculum stage), matryoshka_weights
    finetune:    mode ("full" | "lora"), freeze_vision, lora {r, alpha, dropout, target_modules}
    training:    SentenceTransformerTrainingArguments keyword arguments verbatim (output_dir is required)
    evaluation:  synthetic_hit_at_1 (print held-out hit@1 on the synthetic shapes before and after)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SECTIONS = ("model", "data", "curriculum", "loss", "finetune", "training", "evaluation")
DEFAULTS: dict[str, dict[str, Any]] = {
    "model": {"backbone": "tiny", "latent_steps": 8, "num_frames": 8, "dtype": "auto", "seed": 0},
    "data": {"by_dataset": True},
    "curriculum": {},
    "loss": {"grad_cache": False, "mini_batch_size": 8},
    "finetune": {"mode": "full", "freeze_vision": True},
    "training": {},
    "evaluation": {"synthetic_hit_at_1": False},
}


def load_config(config: str | Path | dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Read a YAML file (or take a dict) and fill in the defaults of every section.

    Raises:
        ValueError: For an unknown section, a missing ``training.output_dir`` or data source.
    """
    raw = config if isinstance(config, dict) else yaml.safe_load(Path(config).read_text(encoding="utf8")) or {}
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown config sections {sorted(unknown)}; expected some of {list(SECTIONS)}")
    merged = copy.deepcopy(DEFAULTS)
    for section in SECTIONS:
        value = raw.get(section) or {}
        if not isinstance(value, dict):
            raise ValueError(f"config section {section!r} must be a mapping, got {type(value).__name__}")
        merged[section].update(value)
    if "output_dir" not in merged["training"]:
        raise ValueError("config needs training.output_dir")
    data = merged["data"]
    if not data.get("train_files") and not data.get("synthetic"):
        raise ValueError("config needs data.train_files (UME-R1 JSONL) or data.synthetic")
    return merged
