"""The experiment's results as a summary per arm, a Markdown table, the issue's targets and a plot.

Every figure is the mean over the seeds (± the standard deviation where there are several); ``standard_error`` is
the binomial standard error of that mean over all scored queries, the sampling noise of the split (the plot's error
bars). The reasoning compute of
a query is the number of token positions the backbone processes after the prefix pass: K latent steps plus the
closing suffix for PLUME, every token fed after ``<eot>`` for explicit CoT, none for the single pass.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from .arms import ARMS


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per arm (in run order): mean and std over seeds of hit@1 per split and per step count, and the compute."""
    by_arm: dict[str, list[dict[str, Any]]] = {}
    for run in results["runs"]:
        by_arm.setdefault(run["arm"], []).append(run)
    summary = {}
    for name, runs in by_arm.items():
        splits = {}
        for split in runs[0]["splits"]:
            metrics = [run["splits"][split] for run in runs]
            steps = sorted(metrics[0]["hit_at_1_by_steps"], key=int)
            hit, count = _mean_std([m["hit_at_1"] for m in metrics]), sum(m["num_queries"] for m in metrics)
            splits[split] = {
                "hit_at_1": hit,
                "standard_error": math.sqrt(hit[0] * (1 - hit[0]) / count),
                "by_steps": {s: _mean_std([m["hit_at_1_by_steps"][s] for m in metrics]) for s in steps},
                "positions_per_query": statistics.fmean(m["positions_per_query"] for m in metrics),
                "seconds_per_query": statistics.fmean(m["seconds_per_query"] for m in metrics),
            }
        arm = ARMS[name]
        summary[name] = {"label": arm.label, "reasoning": arm.reasoning, "seeds": [run["seed"] for run in runs],
                         "train_seconds": statistics.fmean(run["train_seconds"] for run in runs),
                         "splits": splits}  # fmt: skip
    return summary


def _cell(value: tuple[float, float]) -> str:
    mean, std = value
    return f"{100 * mean:.1f} ± {100 * std:.1f}" if std else f"{100 * mean:.1f}"


def markdown_table(summary: dict[str, dict[str, Any]]) -> str:
    """One row per arm: hit@1 (in points) on the multi-step test split (all, 2, 3, 4 steps) and the one-step
    control, the reasoning compute per query and the query encode time."""
    lines = [
        "| arm | reasoning | test hit@1 | 2 steps | 3 steps | 4 steps | control (1 step) | positions / query | "
        "ms / query | train s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in summary.values():
        test, control = entry["splits"]["test"], entry["splits"]["control"]
        steps = " | ".join(_cell(value) for value in test["by_steps"].values())
        lines.append(
            f"| {entry['label']} | {entry['reasoning']} | {_cell(test['hit_at_1'])} | {steps} | "
            f"{_cell(control['hit_at_1'])} | {test['positions_per_query']:.1f} | "
            f"{1000 * test['seconds_per_query']:.1f} | {entry['train_seconds']:.0f} |"
        )
    return "\n".join(lines)


def check_targets(summary: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets on the multi-step test split, for the arms present (values in hit@1 points)."""

    def hit(name: str) -> float:
        return 100 * summary[name]["splits"]["test"]["hit_at_1"][0]

    def positions(name: str) -> float:
        return summary[name]["splits"]["test"]["positions_per_query"]

    targets: dict[str, Any] = {}
    for plume in ("plume_k4", "plume_k8"):
        if plume not in summary:
            continue
        if "single_pass" in summary:
            gain = hit(plume) - hit("single_pass")
            targets[f"{plume}_over_single_pass"] = {"points": gain, "target": 10.0, "met": gain >= 10.0}
        if "explicit_cot" in summary:
            gap = hit("explicit_cot") - hit(plume)
            ratio = positions("explicit_cot") / max(positions(plume), 1e-9)
            targets[f"{plume}_vs_explicit_cot"] = {"gap_points": gap, "compute_ratio": ratio,
                                                   "met": gap <= 5.0 and ratio >= 20.0}  # fmt: skip
    if "plume_k8" in summary:
        for ablation in ("no_adapter", "no_anchor", "no_curriculum"):
            if ablation in summary:
                drop = hit("plume_k8") - hit(ablation)
                targets[f"{ablation}_below_plume_k8"] = {"points": drop, "met": drop > 0.0}
    return targets


def plot_accuracy_vs_compute(summary: dict[str, dict[str, Any]], path: str | Path) -> Path:
    """hit@1 against reasoning compute (token positions per query, symmetric-log axis): one colour per arm, filled
    markers for the multi-step test split, hollow ones for the one-step control; error bars: the standard error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    figure, axis = plt.subplots(figsize=(8, 4.8))
    handles = []
    for index, entry in enumerate(summary.values()):
        colour = f"C{index}"
        for split, marker, fill in (("test", "o", colour), ("control", "s", "none")):
            metrics = entry["splits"][split]
            axis.errorbar(metrics["positions_per_query"], 100 * metrics["hit_at_1"][0],
                          yerr=100 * metrics["standard_error"], fmt=marker, color=colour, markerfacecolor=fill,
                          markersize=7, capsize=3)  # fmt: skip
        handles.append(Line2D([], [], color=colour, marker="o", linestyle="", label=entry["label"]))
    handles += [
        Line2D([], [], color="black", marker="o", linestyle="", label="multi-step test (2-4 steps)"),
        Line2D([], [], color="black", marker="s", markerfacecolor="none", linestyle="", label="one-step control"),
    ]
    axis.axhline(100 / 18, color="grey", linestyle=":")
    axis.axhline(100 / 8, color="grey", linestyle="--")
    handles += [
        Line2D([], [], color="grey", linestyle=":", label="chance (1/18)"),
        Line2D([], [], color="grey", linestyle="--", label="the grid's shapes but the pictured one (1/8)"),
    ]
    axis.set_xscale("symlog", linthresh=1.0)
    largest = max(split["positions_per_query"] for entry in summary.values() for split in entry["splits"].values())
    axis.set_xlim(-0.3, 1.6 * max(largest, 1.0))
    axis.set_ylim(0, 100)
    axis.set_xlabel("reasoning compute: backbone token positions per query after the prefix")
    axis.set_ylabel("hit@1 (%)")
    axis.set_title("Reasoning-dependent retrieval, tiny model trained on a CPU")
    axis.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=130)
    plt.close(figure)
    return path
