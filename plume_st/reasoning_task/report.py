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
            # Keys as JSON has them (strings), whether the results were just computed or read back.
            by_steps = {str(s): _mean_std([m["hit_at_1_by_steps"][s] for m in metrics]) for s in steps}
            per_step = {str(s): sum(m["num_queries_by_steps"][s] for m in metrics) for s in steps}
            splits[split] = {
                "hit_at_1": hit,
                "standard_error": math.sqrt(hit[0] * (1 - hit[0]) / count),
                "by_steps": by_steps,
                "standard_error_by_steps": {
                    s: math.sqrt(value[0] * (1 - value[0]) / per_step[s]) for s, value in by_steps.items()
                },
                "positions_per_query": statistics.fmean(m["positions_per_query"] for m in metrics),
                "seconds_per_query": statistics.fmean(m["seconds_per_query"] for m in metrics),
            }
        arm = ARMS[name]
        summary[name] = {"label": arm.label, "reasoning": arm.reasoning, "seeds": [run["seed"] for run in runs],
                         "train_seconds": statistics.fmean(run["train_seconds"] for run in runs),
                         "splits": splits}  # fmt: skip
        if all("depth_curve" in run for run in runs):
            summary[name]["depth_curve"] = {
                str(k): {str(s): statistics.fmean(run["depth_curve"][k][s] for run in runs)
                         for s in runs[0]["depth_curve"][k]}  # fmt: skip
                for k in runs[0]["depth_curve"]
            }
    return summary


def _cell(value: tuple[float, float]) -> str:
    mean, std = value
    return f"{100 * mean:.1f} ± {100 * std:.1f}" if std else f"{100 * mean:.1f}"


def markdown_table(summary: dict[str, dict[str, Any]]) -> str:
    """One row per arm: hit@1 (in points) on the test split (all, then per step count), the one-step control where
    the task has one, the reasoning compute per query and the query encode time."""
    first = next(iter(summary.values()))["splits"]
    steps = list(first["test"]["by_steps"])
    control = "control" in first
    header = ["arm", "reasoning", "test hit@1", *(f"{s} steps" for s in steps),
              *(["control (1 step)"] if control else []), "positions / query", "ms / query", "train s"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in summary.values():
        test = entry["splits"]["test"]
        cells = [entry["label"], entry["reasoning"], _cell(test["hit_at_1"]),
                 *(_cell(test["by_steps"][s]) for s in steps),
                 *([_cell(entry["splits"]["control"]["hit_at_1"])] if control else []),
                 f"{test['positions_per_query']:.1f}", f"{1000 * test['seconds_per_query']:.1f}",
                 f"{entry['train_seconds']:.0f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check_targets(summary: dict[str, dict[str, Any]], task: str = "grid") -> dict[str, Any]:
    """The targets of the task's experiment for the arms present (values in hit@1 points): the grid walk's
    (issue 11) on its multi-step test split, or the pointer task's (:func:`check_pointer_targets`)."""
    if task == "pointer":
        return check_pointer_targets(summary)

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


DEEP_HOPS = ("3", "4")


def _hit_at(entry: dict[str, Any], hops: tuple[str, ...]) -> tuple[float, int]:
    """Mean test hit@1 (a share) over the given hop counts, and the number of queries behind it (all seeds)."""
    test = entry["splits"]["test"]
    hits = [test["by_steps"][h][0] for h in hops]
    errors = [test["standard_error_by_steps"][h] for h in hops]
    count = sum(round(hit * (1 - hit) / error**2) if error else 0 for hit, error in zip(hits, errors))
    return statistics.fmean(hits), count


def _difference_error(first: float, second: float, count: int) -> float:
    """Standard error of the difference of two hit rates measured on ``count`` queries each."""
    return math.sqrt((first * (1 - first) + second * (1 - second)) / max(count, 1))


def check_pointer_targets(summary: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Issue 20's targets at 3-4 hops: PLUME K=8 closes half the gap from the single pass to explicit CoT; its depth
    curve (hit@1 read after 0..8 latent steps) rises at 3-4 hops and is flat at 1 hop (each judged against two
    standard errors of the difference); every ablation falls below PLUME K=8, no curriculum lowest."""
    targets: dict[str, Any] = {}
    hit = {name: 100 * _hit_at(entry, DEEP_HOPS)[0] for name, entry in summary.items()}
    if {"single_pass", "explicit_cot", "plume_k8"} <= summary.keys():
        gap = hit["explicit_cot"] - hit["single_pass"]
        closed = (hit["plume_k8"] - hit["single_pass"]) / gap if gap > 0 else float("nan")
        targets["plume_k8_closes_half_the_gap"] = {"gap_points": gap, "share_closed": closed,
                                                   "met": gap > 0 and closed >= 0.5}  # fmt: skip
    curve = summary.get("plume_k8", {}).get("depth_curve")
    if curve:
        first, last = min(curve, key=int), max(curve, key=int)
        for name, hops, rises in (("rises_at_3_4_hops", DEEP_HOPS, True), ("flat_at_1_hop", ("1",), False)):
            start = statistics.fmean(curve[first][h] for h in hops)
            end = statistics.fmean(curve[last][h] for h in hops)
            count = _hit_at(summary["plume_k8"], hops)[1]
            error = _difference_error(start, end, count)
            change = end - start
            met = change > 2 * error if rises else abs(change) <= 2 * error
            targets[f"depth_curve_{name}"] = {"points": 100 * change, "two_standard_errors": 200 * error, "met": met}
    ablations = [name for name in ("no_adapter", "no_anchor", "no_curriculum") if name in summary]
    if "plume_k8" in summary and ablations:
        for name in ablations:
            targets[f"{name}_below_plume_k8"] = {"points": hit["plume_k8"] - hit[name],
                                                 "met": hit[name] < hit["plume_k8"]}  # fmt: skip
        if "no_curriculum" in ablations:
            lowest = min(ablations, key=lambda name: hit[name])
            targets["no_curriculum_lowest"] = {"lowest": lowest, "met": lowest == "no_curriculum"}
    return targets


GRID_REFERENCE_LINES = ((100 / 18, "chance (1/18)"), (100 / 8, "the grid's shapes but the pictured one (1/8)"))


def plot_accuracy_vs_compute(
    summary: dict[str, dict[str, Any]],
    path: str | Path,
    reference_lines: tuple[tuple[float, str], ...] = GRID_REFERENCE_LINES,
) -> Path:
    """hit@1 against reasoning compute (token positions per query, symmetric-log axis): one colour per arm, filled
    markers for the test split, hollow ones for the one-step control (where the task has one); error bars: the
    standard error; ``reference_lines``: ``(hit@1 in points, label)`` drawn as grey lines (chance and baselines)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    figure, axis = plt.subplots(figsize=(8, 4.8))
    handles = []
    has_control = all("control" in entry["splits"] for entry in summary.values())
    series = (("test", "o", True), ("control", "s", False)) if has_control else (("test", "o", True),)
    for index, entry in enumerate(summary.values()):
        colour = f"C{index}"
        for split, marker, filled in series:
            metrics = entry["splits"][split]
            axis.errorbar(metrics["positions_per_query"], 100 * metrics["hit_at_1"][0],
                          yerr=100 * metrics["standard_error"], fmt=marker, color=colour,
                          markerfacecolor=colour if filled else "none", markersize=7, capsize=3)  # fmt: skip
        handles.append(Line2D([], [], color=colour, marker="o", linestyle="", label=entry["label"]))
    if has_control:
        handles += [
            Line2D([], [], color="black", marker="o", linestyle="", label="multi-step test (2-4 steps)"),
            Line2D([], [], color="black", marker="s", markerfacecolor="none", linestyle="", label="one-step control"),
        ]
    for (level, label), style in zip(reference_lines, (":", "--", "-.")):
        axis.axhline(level, color="grey", linestyle=style)
        handles.append(Line2D([], [], color="grey", linestyle=style, label=label))
    axis.set_xscale("symlog", linthresh=1.0)
    largest = max(split["positions_per_query"] for entry in summary.values() for split in entry["splits"].values())
    axis.set_xlim(-0.3, 1.6 * max(largest, 1.0))
    axis.set_ylim(0, 100)
    axis.set_xlabel("reasoning compute: backbone token positions per query after the prefix")
    axis.set_ylabel("hit@1 (%)")
    axis.set_title("Reasoning-dependent retrieval, tiny model trained on a CPU")
    axis.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(figure, path)


def plot_by_steps(
    summary: dict[str, dict[str, Any]], path: str | Path, chance: float, xlabel: str = "reasoning steps (hops)"
) -> Path:
    """hit@1 on the test split per step count, one line per arm, error bars the binomial standard error of each
    point (over every seed's queries of that step count); ``chance`` (a share) as a grey line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.8))
    for index, entry in enumerate(summary.values()):
        test = entry["splits"]["test"]
        steps = [int(step) for step in test["by_steps"]]
        hits = [100 * test["by_steps"][step][0] for step in test["by_steps"]]
        errors = [100 * test["standard_error_by_steps"][step] for step in test["by_steps"]]
        axis.errorbar(steps, hits, yerr=errors, color=f"C{index}", marker="o", capsize=3, label=entry["label"])
    axis.axhline(100 * chance, color="grey", linestyle=":", label=f"chance (1/{round(1 / chance)})")
    axis.set_xticks(sorted({int(step) for entry in summary.values() for step in entry["splits"]["test"]["by_steps"]}))
    axis.set_ylim(0, 100)
    axis.set_xlabel(xlabel)
    axis.set_ylabel("test hit@1 (%)")
    axis.set_title("Pointer chasing in text, tiny model trained on a CPU")
    axis.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(figure, path)


def _save(figure: Any, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=130)
    plt.close(figure)
    return path
