"""Running the reasoning experiment: every arm on the same tiny backbone with the same training budget, per seed.

For each seed one tiny random Qwen2-VL backbone is built; every arm starts from it, trains ``max_steps`` batches of
``batch_size`` pairs through :func:`~plume_st.training.run.train_from_config` (``PlumeTrainer``: the existing
collator, segmentation, curriculum and ``PlumeLoss``; batches without duplicate answers), is saved under
``{out}/models/{arm}/seed{seed}`` (``plume-st inspect`` reads it from there), and is scored on the task's evaluation
splits (grid: validation, test (multi-step) and control (one-step); pointer: validation and test) by
:func:`~plume_st.reasoning_task.evaluation.evaluate_split`.
``results.json`` is rewritten after every run, so an interrupted experiment keeps what it finished.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from plume_st.backbones.tiny import build_tiny_backbone
from plume_st.build import build_plume_model
from plume_st.model import PlumeSentenceTransformer
from plume_st.training.data.synthetic_data import CLASSES
from plume_st.training.demo_training import stage_losses
from plume_st.training.run import train_from_config

from .arms import Arm
from .evaluation import evaluate_split, load_split
from .pointer_task import write_pointer_task
from .task_files import TaskFiles, write_reasoning_task

TASKS = ("grid", "pointer")
EVAL_SPLITS = {"grid": ("validation", "test", "control"), "pointer": ("validation", "test")}
_GRID_SIZES = {"train": 4000, "validation": 150, "test": 300, "control": 150}
_POINTER_SIZES = {"train": 4000, "validation": 200, "test": 400}
DEPTH_STEPS = (0, 1, 2, 4, 8)
"""Latent steps the pointer task's latent arms are also read after (per-call K; the depth curve)."""


@dataclass
class ExperimentSettings:
    """The shared budget and set-up of every arm.

    Attributes:
        task: ``"grid"`` (the grid walk of :mod:`~plume_st.reasoning_task.task_files`) or ``"pointer"`` (pointer
            chasing in text, :mod:`~plume_st.reasoning_task.pointer_task`).
        max_steps: Optimizer steps per arm.
        batch_size: Pairs per batch (at most 18: a batch never holds one answer twice).
        learning_rate: AdamW learning rate (constant after ``warmup_steps``).
        warmup_steps: Linear warm-up steps.
        temperature: tau of both InfoNCE terms (the paper's 0.02 by default).
        reset_optimizer: Clear Adam's moments at each curriculum stage switch (the paper's recipe).
        freeze_vision: Freeze the vision tower except its merger.
        sizes: Records per split (``None``: the task's defaults; see the two task writers).
        one_step_share: Share of one-step questions in training (grid task).
        num_symbols: Symbols per table, the candidates (pointer task).
        max_hops: Hop counts 1..``max_hops`` in equal shares (pointer task).
        backbone: Language-model sizes of the tiny backbone (``hidden_size``, ``num_hidden_layers``, ...; see
            :func:`~plume_st.backbones.tiny.build_tiny_backbone`); empty: the tiny default (hidden 64, 2 layers).
        task_seed: Seed of the task's scenes and questions.
        seeds: Seeds of the backbone, the adapter and the trainer; every arm runs once per seed.
        eval_batch_size: Encoding batch size of the evaluation.
        max_new_tokens: Longest rationale the explicit arm may generate.
        num_threads: torch CPU threads per run (the tiny model runs fastest on one).
        jobs: Runs trained at the same time, each in its own process (2 on a 2-core machine).
    """

    task: str = "grid"
    max_steps: int = 1500
    batch_size: int = 16
    learning_rate: float = 1e-3
    warmup_steps: int = 10
    temperature: float = 0.02
    reset_optimizer: bool = False
    freeze_vision: bool = False
    sizes: dict[str, int] | None = None
    one_step_share: float = 0.25
    num_symbols: int = 12
    max_hops: int = 4
    backbone: dict[str, int] = field(default_factory=dict)
    task_seed: int = 0
    seeds: tuple[int, ...] = (0,)
    eval_batch_size: int = 32
    max_new_tokens: int = 160
    num_threads: int | None = 1
    jobs: int = 2

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.sizes is None:
            self.sizes = dict(_GRID_SIZES if self.task == "grid" else _POINTER_SIZES)
        candidates = len(CLASSES) if self.task == "grid" else self.num_symbols
        if not 2 <= self.batch_size <= candidates:
            raise ValueError(f"batch_size must lie in [2, {candidates}] (one answer per row), got {self.batch_size}")
        if not self.seeds:
            raise ValueError("seeds must name at least one seed")
        if self.jobs < 1 or self.max_steps < 1:
            raise ValueError(f"jobs and max_steps must be positive, got {self.jobs} and {self.max_steps}")


def write_task(out_dir: Path, settings: ExperimentSettings) -> TaskFiles:
    """Write the settings' task (its splits and candidates) into ``out_dir``."""
    if settings.task == "pointer":
        return write_pointer_task(out_dir, settings.sizes, settings.num_symbols, settings.max_hops,
                                  settings.task_seed)  # fmt: skip
    return write_reasoning_task(out_dir, settings.sizes, settings.one_step_share, settings.task_seed)


def build_arm_model(backbone: str | Path, arm: Arm, seed: int, max_new_tokens: int) -> PlumeSentenceTransformer:
    """A fresh PLUME model of the arm on the backbone folder (its rollout settings applied)."""
    return build_plume_model(str(backbone), latent_steps=arm.latent_steps, reasoning=arm.reasoning, seed=seed,
                             max_new_tokens=max_new_tokens, model_kwargs={"dtype": torch.float32},
                             **arm.rollout)  # fmt: skip


def train_config(arm: Arm, seed: int, task: TaskFiles, output_dir: Path, settings: ExperimentSettings) -> dict:
    """The ``train_from_config`` configuration of one arm and seed."""
    return {
        "data": {"train_files": [str(task.split("train"))], "media_root": str(task.root), "by_dataset": False},
        "curriculum": {**arm.curriculum, "reset_optimizer": settings.reset_optimizer},
        "loss": {**arm.loss, "temperature": settings.temperature},
        "finetune": {"mode": "full", "freeze_vision": settings.freeze_vision},
        "training": {
            "output_dir": str(output_dir),
            "max_steps": settings.max_steps,
            "per_device_train_batch_size": settings.batch_size,
            "learning_rate": settings.learning_rate,
            "warmup_steps": settings.warmup_steps,
            "lr_scheduler_type": "constant_with_warmup",
            "batch_sampler": "no_duplicates",
            "logging_steps": max(1, settings.max_steps // 30),
            "save_strategy": "no",
            "seed": seed,
            "log_level": "error",
        },
    }


def save_model(model: Any, path: Path) -> None:
    """Save without the model card's warning about examples it cannot render (dict inputs with images)."""
    card_logger = logging.getLogger("sentence_transformers.base.model_card")
    level = card_logger.level
    card_logger.setLevel(logging.ERROR)
    try:
        model.save(str(path))
    finally:
        card_logger.setLevel(level)


def run_arm(
    arm: Arm, seed: int, task: TaskFiles, backbone: Path, out_dir: Path, settings: ExperimentSettings
) -> dict[str, Any]:
    """Train, save and score one arm for one seed.

    Returns:
        ``{"arm", "seed", "train_seconds", "stage_losses", "splits": {split: metrics}, "model_dir"}``, and for a
        latent arm on the pointer task ``"depth_curve"``: ``{K: test hit@1 by hop count}`` for every K of
        :data:`DEPTH_STEPS` up to the arm's own.
    """
    model = build_arm_model(backbone, arm, seed, settings.max_new_tokens)
    start = time.perf_counter()
    trainer_dir = out_dir / "trainer" / arm.name / f"seed{seed}"
    result = train_from_config(train_config(arm, seed, task, trainer_dir, settings), model=model, save_final=False)
    train_seconds = time.perf_counter() - start
    model_dir = out_dir / "models" / arm.name / f"seed{seed}"
    save_model(result.model, model_dir)
    candidates = json.loads(task.candidates.read_text(encoding="utf8"))
    splits = {
        name: evaluate_split(
            result.model, load_split(task.split(name)), candidates, settings.eval_batch_size, reasoning=arm.reasoning
        )  # fmt: skip
        for name in EVAL_SPLITS[settings.task]
    }
    run = {
        "arm": arm.name,
        "seed": seed,
        "train_seconds": train_seconds,
        "stage_losses": stage_losses(result.trainer.state.log_history),
        "splits": splits,
        "model_dir": str(model_dir),
    }
    if settings.task == "pointer" and arm.reasoning == "latent":
        test = load_split(task.split("test"))
        run["depth_curve"] = {
            k: evaluate_split(result.model, test, candidates, settings.eval_batch_size, reasoning="latent",
                              latent_steps=k)["hit_at_1_by_steps"]  # fmt: skip
            for k in DEPTH_STEPS
            if k <= arm.latent_steps
        }
    return run


def _run_job(arm: Arm, seed: int, task: TaskFiles, out_dir: Path, settings: ExperimentSettings) -> dict[str, Any]:
    """One run in a worker process (its own thread count; the seed's backbone is built before the pool starts)."""
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    return run_arm(arm, seed, task, out_dir / "backbones" / f"seed{seed}", out_dir, settings)


def run_experiment(
    out_dir: str | Path,
    arms: list[Arm],
    settings: ExperimentSettings,
    print_fn: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Write the task, run every arm for every seed (``settings.jobs`` at a time), write ``results.json`` after each.

    Returns:
        ``{"settings", "task", "runs": [run_arm results in arm order, seed by seed], "seconds"}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    task = write_task(out_dir / "task", settings)
    for seed in settings.seeds:
        if not (out_dir / "backbones" / f"seed{seed}" / "config.json").exists():
            build_tiny_backbone(out_dir / "backbones" / f"seed{seed}", seed=seed, text_config=settings.backbone)
    results: dict[str, Any] = {"settings": asdict(settings), "task": str(task.root), "runs": []}
    jobs = [(seed, arm) for seed in settings.seeds for arm in arms]
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no torch state shared with the parent
    with ProcessPoolExecutor(max_workers=settings.jobs, mp_context=context) as pool:
        futures = {pool.submit(_run_job, arm, seed, task, out_dir, settings): index
                   for index, (seed, arm) in enumerate(jobs)}  # fmt: skip
        finished: dict[int, dict[str, Any]] = {}
        for future in tqdm(as_completed(futures), total=len(jobs), desc="arms x seeds", unit="run"):
            run = future.result()
            finished[futures[future]] = run
            results["runs"] = [finished[index] for index in sorted(finished)]
            results["seconds"] = time.perf_counter() - start
            (out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf8")
            test = run["splits"]["test"]
            by_steps = ", ".join(f"{steps}: {hit:.3f}" for steps, hit in test["hit_at_1_by_steps"].items())
            print_fn(f"{run['arm']} seed {run['seed']}: test hit@1 {test['hit_at_1']:.3f} (by steps {by_steps}), "
                     f"{test['positions_per_query']:.1f} positions/query, {run['train_seconds']:.0f} s training")
    return results
