"""Does latent reasoning help? PLUME against single pass and explicit CoT on a task that needs reasoning, on a CPU.

Trains every arm of :mod:`plume_st.reasoning_task.arms` on the same tiny backbone with the same budget, for each
seed, and writes under ``--out``: ``results.json`` (every run, the summary and the targets), ``table.md``,
``reasoning.png`` (hit@1 against reasoning compute) and the trained models (``models/{arm}/seed{seed}``, for
``plume-st inspect``). The full run takes about 27 minutes on 2 CPU cores (two runs at a time, one thread each)::

    python training_scripts/reasoning_experiment.py --config training_scripts/configs/reasoning-cpu.yaml \\
        --out runs/reasoning --figure docs/figures/reasoning.png

With ``task: pointer`` in the config (``configs/reasoning-pointer*.yaml``) it runs the pointer-chasing task instead
of the grid walk; its figure is hit@1 per hop count (``reasoning.png``) beside hit@1 against compute
(``reasoning-compute.png``), and latent arms are also read after 0, 1, 2, 4 and 8 steps (the depth curve).

``--config`` reads the settings from a YAML file (the defaults of ``ExperimentSettings`` are that file's values);
flags override it. ``--report-only`` rebuilds the table, the targets and the plot from an existing ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields
from pathlib import Path

import yaml

from plume_st.reasoning_task import (
    ExperimentSettings,
    check_targets,
    markdown_table,
    plot_accuracy_vs_compute,
    plot_by_steps,
    run_experiment,
    select_arms,
    summarise,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder (results, table, plot, models)")
    parser.add_argument("--config", type=Path, help="YAML file of ExperimentSettings fields (and 'arms')")
    parser.add_argument("--arms", nargs="+", help="arms to run (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds (default: the config's)")
    parser.add_argument("--max-steps", type=int, help="optimizer steps per arm")
    parser.add_argument("--jobs", type=int, help="runs trained at the same time, one process each")
    parser.add_argument("--figure", type=Path, help="also save the plot here (e.g. docs/figures/reasoning.png)")
    parser.add_argument("--report-only", action="store_true", help="rebuild table and plot from --out/results.json")
    return parser.parse_args(argv)


def load_settings(args: argparse.Namespace) -> tuple[ExperimentSettings, list[str] | None]:
    """Settings from the YAML file (if any) with the command-line flags on top, and the arm names."""
    raw = yaml.safe_load(args.config.read_text(encoding="utf8")) or {} if args.config else {}
    arms = raw.pop("arms", None)
    known = {field.name for field in fields(ExperimentSettings)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{args.config}: unknown settings {sorted(unknown)}; expected some of {sorted(known)}")
    if "seeds" in raw:
        raw["seeds"] = tuple(raw["seeds"])
    if args.seeds:
        raw["seeds"] = tuple(args.seeds)
    if args.max_steps:
        raw["max_steps"] = args.max_steps
    if args.jobs:
        raw["jobs"] = args.jobs
    return ExperimentSettings(**raw), args.arms or arms


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.report_only:
        results = json.loads((args.out / "results.json").read_text(encoding="utf8"))
    else:
        settings, arm_names = load_settings(args)
        start = time.perf_counter()
        results = run_experiment(args.out, select_arms(arm_names), settings)
        results["seconds"] = time.perf_counter() - start
    summary = summarise(results)
    settings = results["settings"]
    task = settings.get("task", "grid")
    results["summary"], results["targets"] = summary, check_targets(summary, task)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf8")
    table = markdown_table(summary)
    (args.out / "table.md").write_text(table + "\n", encoding="utf8")
    for figure in (args.out / "reasoning.png", args.figure):
        if figure is None:
            continue
        if task == "pointer":
            chance = 1 / settings["num_symbols"]
            plot_by_steps(summary, figure, chance)
            lines = ((100 * chance, f"chance (1/{settings['num_symbols']})"),)
            plot_accuracy_vs_compute(summary, figure.with_name(figure.stem + "-compute.png"), lines)
        else:
            plot_accuracy_vs_compute(summary, figure)
    print(table)
    for name, target in results["targets"].items():
        print(f"{name}: {target}")
    print(f"wall time {results['seconds'] / 60:.1f} min; results in {args.out}")
    return results


if __name__ == "__main__":
    main()
