"""A retrieval task that needs reasoning, and the experiment that tests PLUME's latent reasoning on it.

* :mod:`grid_scene` / :mod:`queries`: 3 x 3 grids of coloured shapes and questions of 1-4 reasoning steps with one
  rationale sentence per step;
* :mod:`task_files`: the train / validation / test / control splits as UME-R1 JSONL (no scene in two splits);
* :mod:`pointer_task`: the second task, pointer chasing in text (1-4 hops over a one-cycle table, no shortcut);
* :mod:`evaluation`: hit@1 against the 18 candidate answers and the reasoning compute per query;
* :mod:`arms` / :mod:`experiment` / :mod:`report`: single pass, explicit CoT, PLUME (K = 4, 8) and the paper's
  ablations on one tiny backbone and one training budget; the table, the targets and the plot.

``training_scripts/reasoning_experiment.py`` runs it; ``docs/reasoning.md`` describes it and its results.
"""

from .arms import ARMS, Arm, select_arms
from .evaluation import ReasoningCostMeter, SplitData, evaluate_split, load_split
from .experiment import ExperimentSettings, run_arm, run_experiment
from .grid_scene import GridScene
from .pointer_task import PointerQuery, sample_query, solve, write_pointer_task
from .queries import Query, multi_step_query, one_step_query
from .report import (
    check_pointer_targets,
    check_targets,
    markdown_table,
    plot_accuracy_vs_compute,
    plot_by_steps,
    summarise,
)
from .task_files import SPLITS, TaskFiles, candidate_texts, write_reasoning_task

__all__ = [
    "ARMS",
    "SPLITS",
    "Arm",
    "ExperimentSettings",
    "GridScene",
    "Query",
    "ReasoningCostMeter",
    "SplitData",
    "TaskFiles",
    "PointerQuery",
    "candidate_texts",
    "check_pointer_targets",
    "check_targets",
    "evaluate_split",
    "load_split",
    "markdown_table",
    "multi_step_query",
    "one_step_query",
    "plot_accuracy_vs_compute",
    "plot_by_steps",
    "sample_query",
    "solve",
    "run_arm",
    "run_experiment",
    "select_arms",
    "summarise",
    "write_pointer_task",
    "write_reasoning_task",
]
