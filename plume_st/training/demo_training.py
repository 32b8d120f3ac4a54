"""The training part of ``plume-st demo``: a tiny PLUME model trained through every curriculum stage on CPU.

:func:`run_training_demo` builds a tiny Qwen2-VL PLUME model, writes the synthetic multimodal set (images, frame-list
videos, text, rationales), prints held-out hit@1 before training, trains with ``SentenceTransformerTrainer`` through
the five stages (progress bar, then one line of losses per stage), prints hit@1 after training, saves the model,
reloads the folder with ``SentenceTransformer(..., trust_remote_code=True)`` and encodes an image, a video and a text.
With ``matryoshka_dims`` the InfoNCE terms also train those prefixes of the embedding, and the report adds held-out
hit@1 at every trained size (:func:`hit_at_1_by_dim`).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from plume_st.model import matryoshka_dims

from .data.synthetic_data import CLASSES, shape_retrieval_set
from .retrieval_metrics import hit_at_1
from .run import train_from_config

LOSS_PARTS = ("loss", "ce", "gen_infonce", "anchor_infonce", "balance")


def stage_losses(log_history: list[dict[str, Any]]) -> dict[int, dict[str, float]]:
    """Mean of every logged loss part per curriculum stage (plus its K as ``latent_steps``)."""
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for entry in log_history:
        if "loss" in entry and "stage" in entry:
            grouped[int(entry["stage"])].append(entry)
    return {
        stage: {
            "latent_steps": entries[0]["latent_steps"],
            **{part: sum(float(e[part]) for e in entries) / len(entries) for part in LOSS_PARTS if part in entries[0]},
        }
        for stage, entries in sorted(grouped.items())
    }


def hit_at_1_by_dim(model: Any, dims: list[int], draws: int = 4, seed: int = 1234) -> dict[int, float]:
    """Held-out image -> caption hit@1 of the embeddings truncated to each size (what ``truncate_dim`` returns).

    The queries are ``draws`` fresh images per class (``shape_retrieval_set`` with seeds ``seed``, ``seed + 1``, ...),
    the documents the 18 captions; every input is encoded once and each prefix compared by cosine similarity.

    Args:
        model: A PLUME SentenceTransformer.
        dims: The sizes to measure (each at most the embedding size).
        draws: Images per class.
        seed: Seed of the first draw.

    Returns:
        ``{dim: hit@1}``.
    """
    sets = [shape_retrieval_set(seed=seed + draw) for draw in range(draws)]
    queries = [query for queries, _ in sets for query in queries]
    labels = torch.arange(len(CLASSES)).repeat(draws)
    was_training = model.training
    try:
        query_embeddings = model.encode(queries, batch_size=16, convert_to_tensor=True).cpu()
        document_embeddings = model.encode(sets[0][1], batch_size=16, convert_to_tensor=True).cpu()
    finally:
        model.train(was_training)
    hits = {}
    for dim in dims:
        scores = model.similarity(query_embeddings[:, :dim], document_embeddings[:, :dim])
        hits[dim] = (scores.argmax(dim=1) == labels).float().mean().item()
    return hits


def run_training_demo(
    output_dir: str | Path,
    max_steps: int = 72,
    batch_size: int = 16,
    num_records: int = 384,
    learning_rate: float = 1e-3,
    seed: int = 0,
    family: str = "qwen2_vl",
    stage_fractions: tuple[float, ...] = (1, 1, 1, 1, 2),
    matryoshka_dims: list[int] | None = None,
    num_threads: int | None = 1,
    show_progress: bool = True,
    print_fn: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train a tiny PLUME model through every curriculum stage on the synthetic set, on CPU, in about a minute.

    Args:
        output_dir: Where the run writes its data, the checkpoint-free trainer output and ``final/`` (the model).
        max_steps: Optimizer steps (shared by the five stages as ``stage_fractions`` says).
        batch_size: Pairs per batch.
        num_records: Synthetic training pairs (images, frame-list videos, text; with rationales).
        learning_rate: AdamW learning rate (constant after a short warm-up).
        seed: Seed of the data, the model and the trainer.
        family: Backbone family of the tiny model (``"qwen2_vl"``, ``"qwen2_5_vl"``, ``"qwen3_vl"``).
        stage_fractions: Share of the steps per stage (the fully latent last stage gets two shares, keeping the
            answer text in its first half, as the authors' script does).
        matryoshka_dims: Train these prefixes of the 64-dimensional embedding as well (e.g. ``[32, 16]``); the
            report then lists hit@1 per size.
        num_threads: torch CPU threads during the demo (the tiny model runs fastest on one; ``None``: unchanged).
        show_progress: Show the trainer's progress bar.
        print_fn: Where the report lines go.

    Returns:
        ``{"hit_at_1_before", "hit_at_1_after", "stage_losses", "model_dir", "model", "embedding_shape",
        "seconds"}``, plus ``"hit_at_1_by_dim"`` with ``matryoshka_dims``.
    """
    start = time.perf_counter()
    threads = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(num_threads)
    try:
        settings = {"max_steps": max_steps, "batch_size": batch_size, "num_records": num_records, "seed": seed}
        settings.update(learning_rate=learning_rate, family=family, stage_fractions=stage_fractions)
        settings.update(matryoshka_dims=list(matryoshka_dims) if matryoshka_dims else None)
        return _run(Path(output_dir), settings, show_progress, print_fn, start)
    finally:
        torch.set_num_threads(threads)


def _run(output_dir: Path, settings: dict[str, Any], show_progress: bool, print_fn: Callable, start: float):
    from sentence_transformers import SentenceTransformer

    from .run import build_model

    max_steps, batch_size, seed = settings["max_steps"], settings["batch_size"], settings["seed"]
    output_dir.mkdir(parents=True, exist_ok=True)
    backbone = {"backbone": f"tiny:{settings['family']}", "num_frames": 4, "dtype": "float32", "seed": seed}
    model = build_model(backbone, output_dir)
    queries, documents = shape_retrieval_set(seed=seed + 1234)
    before = hit_at_1(model, queries, documents)
    print_fn(f"held-out hit@1 before training: {before:.3f} ({len(queries)} image -> caption queries, chance "
             f"{1 / len(CLASSES):.3f})")  # fmt: skip
    config = {
        "model": {"backbone": "tiny"},
        "curriculum": {"stage_fractions": list(settings["stage_fractions"]), "final_answer_first_half": True},
        "data": {
            "synthetic": {
                "num_records": settings["num_records"],
                "seed": seed,
                "folder": str(output_dir / "synthetic"),
            }
        },
        "loss": {"matryoshka_dims": settings["matryoshka_dims"]},
        "training": {
            "output_dir": str(output_dir / "trainer"),
            "max_steps": max_steps,
            "per_device_train_batch_size": batch_size,
            "learning_rate": settings["learning_rate"],
            "warmup_steps": max(1, max_steps // 30),
            "lr_scheduler_type": "constant_with_warmup",
            "logging_steps": max(1, max_steps // 15),
            "save_strategy": "no",
            "seed": seed,
            "disable_tqdm": not show_progress,
            "multi_dataset_batch_sampler": "proportional",
            "log_level": "error",
        },
    }
    mrl = f", Matryoshka sizes {settings['matryoshka_dims']}" if settings["matryoshka_dims"] else ""
    stages = "5 curriculum stages (K = 0, 2, 4, 6, 8)"
    print_fn(f"training {max_steps} steps x {batch_size} pairs through {stages}{mrl} ...")
    result = train_from_config(config, model=model, save_final=False)
    per_stage = stage_losses(result.trainer.state.log_history)
    for stage, parts in per_stage.items():
        values = "  ".join(f"{part} {parts[part]:.3f}" for part in LOSS_PARTS if part in parts)
        print_fn(f"stage {stage} (K={parts['latent_steps']}): {values}")
    after = hit_at_1(result.model, queries, documents)
    print_fn(f"held-out hit@1 after training: {after:.3f} (before: {before:.3f})")
    by_dim = None
    if settings["matryoshka_dims"]:
        by_dim = hit_at_1_by_dim(result.model, matryoshka_dims(result.model))  # the full size included
        print_fn("held-out hit@1 per Matryoshka size: " + ", ".join(f"{d}: {v:.3f}" for d, v in by_dim.items()))
    model_dir = output_dir / "final"
    card_logger = logging.getLogger("sentence_transformers.base.model_card")
    level = card_logger.level
    card_logger.setLevel(logging.ERROR)  # the card cannot render frame-list / dict examples; not worth a warning here
    try:
        result.model.save(str(model_dir))
    finally:
        card_logger.setLevel(level)
    reloaded = SentenceTransformer(str(model_dir), trust_remote_code=True)
    frames = [Image.new("RGB", (56, 56), (255, 255, 255)) for _ in range(4)]
    inputs = [queries[0], {"video": frames, "text": "Which way does the shape move?"}, documents[0]]
    embeddings = reloaded.encode(inputs, convert_to_tensor=True)
    agreement = hit_at_1(reloaded, queries, documents)
    print_fn(f"saved to {model_dir}; reloaded with SentenceTransformer(..., trust_remote_code=True): encoded an "
             f"image, a video and a text -> {tuple(embeddings.shape)}; reloaded hit@1 {agreement:.3f}")  # fmt: skip
    extra = {"hit_at_1_by_dim": by_dim} if by_dim else {}
    return {
        **extra,
        "hit_at_1_before": before,
        "hit_at_1_after": after,
        "stage_losses": per_stage,
        "model_dir": model_dir,
        "model": reloaded,
        "embedding_shape": tuple(embeddings.shape),
        "seconds": time.perf_counter() - start,
    }
